"""A propensity model trained on `inputs: sequence` reads from the online store exactly the
rows its training built from the accepted log: the newest N behaviours, no amounts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import run_feature_stages
from recplat.events.synthetic import GeneratorConfig
from recplat.features.repo import open_store
from recplat.propensity.dataset import accepted_log
from recplat.propensity.online import online_steps
from recplat.propensity.rows import SUMMARY_FEATURES
from recplat.propensity.scoring import default_cutoff, rows_at
from recplat.propensity.task import TaskError, task_from

from tests.conftest import make_settings


def test_rows_from_the_online_store_equal_rows_from_the_log(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sequence_length=12)
    ctx = PlatformContext(settings=settings)
    config = GeneratorConfig(users=150, items=60, categories=5, impressions=3000, days=45,
                             seed=9, shoppers=True)  # fmt: skip
    run_feature_stages(ctx, config=config)
    log = accepted_log(settings)
    task = task_from(events=log.events, items=log.items, category=None, window_days=7,
                     max_len=16, inputs="sequence", history=12)  # fmt: skip
    offline = log.task_steps(task)
    users = log.events["user_id"].unique()
    online = online_steps(open_store(settings.feature_repo), users=users, chunk=40)
    assert len(online.users) > 100
    assert (np.bincount(np.searchsorted(online.users, online.user)) <= 12).all()
    cutoff = default_cutoff(offline)
    from_log = rows_at(offline, task=task, cutoff=cutoff)
    from_store = rows_at(online, task=task, cutoff=cutoff)
    for name in ("user_id", "seq_item", "seq_cat", "seq_kind", "seq_num", "summary"):
        np.testing.assert_array_equal(from_store.arrays[name], from_log.arrays[name], err_msg=name)
    columns = ["steps", *SUMMARY_FEATURES]
    pd.testing.assert_frame_equal(from_store.frame[columns], from_log.frame[columns])
    # With every step of the log (inputs: log) the rows differ: the store holds only N.
    full = rows_at(log.steps(), task=dataclasses.replace(task, inputs="log", history=None),
                   cutoff=cutoff)  # fmt: skip
    assert (full.frame["steps"] > 12).any()


def test_sequence_inputs_need_the_views_length() -> None:
    import pytest

    with pytest.raises(TaskError, match="needs history"):
        task_from(events=pd.DataFrame(), items=pd.DataFrame(), category=1, window_days=7,
                  cutoffs=[pd.Timestamp("2026-01-10", tz="UTC").to_pydatetime(),
                           pd.Timestamp("2026-01-20", tz="UTC").to_pydatetime(),
                           pd.Timestamp("2026-01-30", tz="UTC").to_pydatetime()],
                  inputs="sequence")  # fmt: skip
