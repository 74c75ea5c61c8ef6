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
from recplat.propensity.online import _read_sequences, _sqlite_sequences, online_steps
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
    # The SQLite scan (varints decoded in numpy) reads what the general row reader reads.
    store = open_store(settings.feature_repo)
    scanned = _sqlite_sequences(store, np.unique(users))
    general = _read_sequences(store, np.unique(users), chunk=40)
    assert scanned is not None
    order = np.lexsort((np.arange(len(scanned["user"])), scanned["user"]))
    for name, values in general.items():
        np.testing.assert_array_equal(scanned[name][order], values, err_msg=name)
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


def test_int64_lists_decode_in_bulk_as_protobuf_does() -> None:
    import pytest
    from feast.protos.feast.types.Value_pb2 import Value
    from recplat.propensity.online import varint_lists

    rng = np.random.default_rng(0)
    lists = [[], [0], [1, 127, 128, 300], list(rng.integers(0, 2**62, 40)), [1_767_225_600_000_000]]
    lists += [list(rng.integers(0, 10**6, int(rng.integers(0, 60)))) for _ in range(200)]
    blobs = []
    for values in lists:
        value = Value()
        value.int64_list_val.val.extend(int(v) for v in values)
        blobs.append(value.SerializeToString())
    counts, flat = varint_lists(blobs)
    assert counts.tolist() == [len(v) for v in lists]
    assert flat.tolist() == [int(v) for values in lists for v in values]
    text = Value(string_val="x").SerializeToString()
    with pytest.raises(ValueError, match="not an int64 list"):
        varint_lists([blobs[2], text])
