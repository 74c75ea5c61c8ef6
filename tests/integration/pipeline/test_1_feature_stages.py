"""Feature stages: published, materialized, gated; the gates catch leaks and corruption."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from recplat.features.repo import open_store
from recplat.quality.gate import DataQualityError

from tests.conftest import get_cell, set_cell
from tests.integration.pipeline.conftest import CONFIG, Pipeline

pytestmark = pytest.mark.integration


def test_feature_stages_published_and_materialized(pipeline: Pipeline) -> None:
    rows = pipeline.features.build.rows
    assert rows["user_profile"] == CONFIG.users and rows["item_attributes"] == CONFIG.items
    assert rows["user_sequence"] > 0
    store = open_store(pipeline.ctx.settings.feature_repo)
    online = store.get_online_features(
        features=["user_sequence:hist_item_ids", "user_profile:age_bucket"],
        entity_rows=[{"user_id": 1}],
    ).to_dict()
    assert online["age_bucket"][0] is not None
    assert isinstance(online["hist_item_ids"][0], list) and len(online["hist_item_ids"][0]) > 0


def test_every_stage_was_gated_and_recorded(pipeline: Pipeline) -> None:
    runs = pipeline.ctx.metadata.validations(limit=100)
    stages = {(r.dataset, r.stage) for r in runs if r.success}
    assert {
        ("events", "ingest"),
        ("user_sequence", "build"),
        ("user_sequence", "materialize"),
        ("online_features", "online"),
        ("training_set", "training"),
    } <= stages
    assert all(r.report_path and Path(r.report_path).is_file() for r in runs)


def test_training_set_gate_catches_a_leaked_behaviour(pipeline: Pipeline) -> None:
    from recplat.io.parquet import read_parquet
    from recplat.quality.suites import training_set_suite
    from recplat.training.training_set import column_kinds

    frame = pd.concat(pipeline.data.frames.values(), ignore_index=True)
    spec = training_set_suite(
        max_len=pipeline.ctx.settings.sequence_length,
        columns=column_kinds(frame),
        known_items=set(
            read_parquet(pipeline.ctx.settings.catalog_dir / "items.parquet")["item_id"].tolist()
        ),
    )
    report = pipeline.ctx.gate.validator.validate(df=frame, spec=spec)
    assert report.success, [f.describe() for f in report.failures]
    # The row's own impression (lookup + 1us) sneaks into its history: leakage.
    row = int(frame["hist_len"].to_numpy().argmax())
    lookup = pd.Timestamp(get_cell(frame, row, "event_timestamp"))
    leaked_us = (lookup - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1) + 1
    set_cell(
        frame, row, "hist_timestamps", [*get_cell(frame, row, "hist_timestamps")[1:], leaked_us]
    )
    report = pipeline.ctx.gate.validator.validate(df=frame, spec=spec)
    assert [f.key for f in report.failures] == [
        "expect_column_pair_values_a_to_be_greater_than_b:lookup_us,last_behaviour_us"
    ]
    assert report.failures[0].unexpected_count == 1


def test_online_read_back_catches_a_corrupted_sequence(pipeline: Pipeline) -> None:
    from recplat.features.repo import quiet_library_warnings
    from recplat.quality.online import check_online

    settings = pipeline.ctx.settings
    store = open_store(settings.feature_repo)
    row = store.get_online_features(
        features=[
            "user_sequence:hist_item_ids",
            "user_sequence:hist_category_ids",
            "user_sequence:hist_behaviour_types",
            "user_sequence:hist_timestamps",
            "user_sequence:hist_len",
            "user_sequence:hist_event_ids",
        ],
        entity_rows=[{"user_id": u} for u in range(1, CONFIG.users + 1)],
    ).to_df()
    row = row[row["hist_len"].fillna(0) >= 2].head(1).reset_index(drop=True)
    good = row.copy()
    # Written straight to the online store (as a buggy writer could): newest first.
    set_cell(row, 0, "hist_timestamps", list(reversed(get_cell(row, 0, "hist_timestamps"))))
    row["event_timestamp"] = pd.Timestamp.now(tz="UTC")
    with quiet_library_warnings():
        store.write_to_online_store("user_sequence", row)
    try:
        with pytest.raises(DataQualityError, match="unsorted_steps"):
            # Every user, so the corrupted one is in the sample.
            check_online(settings=settings, gate=pipeline.ctx.gate, users=CONFIG.users)
    finally:
        good["event_timestamp"] = pd.Timestamp.now(tz="UTC")
        with quiet_library_warnings():
            store.write_to_online_store("user_sequence", good)
    check_online(settings=settings, gate=pipeline.ctx.gate, users=CONFIG.users)
