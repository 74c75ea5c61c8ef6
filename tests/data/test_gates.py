"""GX gates: bad data is rejected with the rule named, quarantined, and recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from recplat.cli.context import PlatformContext
from recplat.events.ingest import ingest
from recplat.events.synthetic import SyntheticData
from recplat.features.offline import sequence_snapshots, user_profile_table
from recplat.quality.gate import DataQualityError
from recplat.quality.suites import events_suite, user_profile_suite, user_sequence_suite

pytestmark = pytest.mark.data


def test_good_events_pass_and_are_recorded(
    context: PlatformContext, tiny_data: SyntheticData
) -> None:
    run_id = context.gate.check(df=tiny_data.events, spec=events_suite())
    (run,) = context.metadata.validations()
    assert run.id == run_id and run.success and run.rows == len(tiny_data.events)
    assert run.quarantine_path is None


def test_bad_events_name_each_rule_and_are_quarantined(
    context: PlatformContext, tiny_data: SyntheticData
) -> None:
    bad = tiny_data.events.head(200).copy()
    bad.loc[3, "user_id"] = None
    bad.loc[4, "event_type"] = "hover"
    bad.loc[5, "event_timestamp"] = pd.Timestamp(datetime.now(UTC) + timedelta(days=2))
    with pytest.raises(DataQualityError) as info:
        context.gate.check(df=bad, spec=events_suite())
    message = str(info.value)
    assert "'events'" in message
    assert "expect_column_values_to_not_be_null on column 'user_id': 1 unexpected" in message
    assert "expect_column_values_to_be_in_set on column 'event_type': 1 unexpected" in message
    assert "'hover'" in message
    assert "expect_column_values_to_be_between on column 'event_epoch_s': 1 unexpected" in message
    folder = info.value.quarantine_path
    assert folder is not None and folder.is_relative_to(context.settings.quarantine_dir)
    kept = pd.read_parquet(folder / "batch.parquet")
    assert len(kept) == 200 and kept["event_type"].iloc[4] == "hover"
    report = json.loads((folder / "report.json").read_text())
    # The null also turns user_id into floats: the type rule names that too.
    assert "expect_column_values_to_be_in_type_list on column 'user_id'" in message
    assert report["success"] is False and report["failed"] == 4
    (run,) = context.metadata.validations()
    assert not run.success and run.failed_expectations == 4 and run.quarantine_path == str(folder)


def test_missing_column_is_named_not_crashed(
    context: PlatformContext, tiny_data: SyntheticData
) -> None:
    with pytest.raises(DataQualityError, match="expect_column_to_exist on column 'device'"):
        context.gate.check(df=tiny_data.events.drop(columns=["device"]), spec=events_suite())


def test_all_clicks_label_rate_is_rejected(
    context: PlatformContext, tiny_data: SyntheticData
) -> None:
    bad = tiny_data.events.assign(clicked=1)
    with pytest.raises(
        DataQualityError, match="expect_column_mean_to_be_between on column 'clicked'"
    ):
        context.gate.check(df=bad, spec=events_suite())


def test_sequence_longer_than_n_is_rejected(
    context: PlatformContext, tiny_data: SyntheticData
) -> None:
    snaps = sequence_snapshots(events=tiny_data.events, items=tiny_data.items, max_len=30)
    context.gate.check(df=snaps, spec=user_sequence_suite(max_len=30))
    with pytest.raises(DataQualityError, match="column 'items_len'"):
        context.gate.check(df=snaps, spec=user_sequence_suite(max_len=5))


def test_failed_ingest_keeps_the_last_good_event_log(
    context: PlatformContext, tiny_data: SyntheticData
) -> None:
    settings = context.settings
    ingest(
        events=tiny_data.events,
        users=tiny_data.users,
        items=tiny_data.items,
        settings=settings,
        gate=context.gate,
    )
    before = {p: p.read_bytes() for p in settings.catalog_dir.glob("*.parquet")}
    bad = tiny_data.events.assign(hour=tiny_data.events["hour"] + 30)
    with pytest.raises(DataQualityError, match="column 'hour'"):
        ingest(
            events=bad,
            users=tiny_data.users.head(1),
            items=tiny_data.items.head(1),
            settings=settings,
            gate=context.gate,
        )
    after = {p: p.read_bytes() for p in settings.catalog_dir.glob("*.parquet")}
    assert after == before
    assert not list(Path(settings.catalog_dir).glob(".*.tmp"))


def test_tables_of_another_source_are_not_drift_from_this_one(
    context: PlatformContext, tiny_data: SyntheticData
) -> None:
    settings, gate = context.settings, context.gate

    def ingest_as(source: str) -> None:
        ingest(
            events=tiny_data.events,
            users=tiny_data.users,
            items=tiny_data.items,
            settings=settings,
            gate=gate,
            source=source,
        )

    ingest_as("events")
    assert gate.baseline_key("user_profile") == "user_profile"
    profile = user_profile_table(tiny_data.users)
    first = gate.check(df=profile, spec=user_profile_suite())
    # A MovieLens import: its tables get their own baselines.
    ingest_as("movielens")
    assert gate.baseline_key("user_profile") == "user_profile:movielens"
    skewed = profile.assign(gender=1)
    run = gate.check(df=skewed, spec=user_profile_suite())
    assert context.metadata.validation(run_id=run).summary["baseline_run_id"] is None
    # Back on the synthetic source, the same skew is drift from the first run.
    ingest_as("events")
    with pytest.raises(DataQualityError, match="drift:gender") as info:
        gate.check(df=skewed, spec=user_profile_suite())
    assert info.value.report.baseline_run_id == first
