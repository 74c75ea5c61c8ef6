"""The bad-data zoo: each kind of bad input is stopped with its rule named, quarantined,
and leaves the online store, the event log and the published tables byte-for-byte as they were.

Event batches go through `ingest_file` (what `recplat data ingest FILE` runs); sequence
tables through `publish_tables` (what `recplat features build` publishes with).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recplat.cli.context import PlatformContext
from recplat.events.ingest import ingest, ingest_file
from recplat.events.synthetic import SyntheticData
from recplat.features.build import build_features, materialize, publish_tables
from recplat.features.repo import apply_repo
from recplat.io.parquet import read_parquet
from recplat.quality.gate import DataQualityError
from recplat.settings import Settings

from tests.conftest import get_cell, make_settings, set_cell

pytestmark = pytest.mark.data
_BATCHES = itertools.count(1)  # each batch gets event ids no other batch has


@dataclass
class Store:
    """A materialized platform and the files that must never change on a rejection."""

    ctx: PlatformContext
    events: SyntheticData

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def guarded_files(self) -> dict[Path, bytes]:
        data = self.settings.data_dir
        files = [data / "online_store.db", data / "registry.db", self.settings.events_path]
        files += sorted(self.settings.offline_dir.glob("*.parquet"))
        return {p: p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, tiny_data: SyntheticData) -> Iterator[Store]:
    settings = make_settings(tmp_path_factory.mktemp("zoo"))
    ctx = PlatformContext(settings=settings)
    ingest(
        events=tiny_data.events,
        users=tiny_data.users,
        items=tiny_data.items,
        settings=settings,
        gate=ctx.gate,
    )
    build_features(settings=settings, gate=ctx.gate)
    apply_repo(settings.feature_repo)
    materialize(settings=settings, gate=ctx.gate)
    yield Store(ctx=ctx, events=tiny_data)
    ctx.metadata.dispose()


def _batch(store: Store, tmp_path: Path, edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Path:
    """A fresh batch resembling the log (new event ids), edited, written as Parquet."""
    log = read_parquet(store.settings.events_path)
    batch = log.sample(300, random_state=1).sort_values("event_timestamp").reset_index(drop=True)
    batch["event_id"] = 10_000_000 * next(_BATCHES) + np.arange(len(batch))
    path = tmp_path / "batch.parquet"
    edit(batch).to_parquet(path)
    return path


def _rejected(store: Store, run: Callable[[], object], *keys: str) -> DataQualityError:
    """Run a rejected write; check the message, quarantine, record and untouched files."""
    before = store.guarded_files()
    with pytest.raises(DataQualityError) as info:
        run()
    error = info.value
    message = str(error)
    for key in keys:
        assert key in message, f"{key!r} not named in:\n{message}"
    assert f"--allow-failures {keys[0]}" in message
    folder = error.quarantine_path
    assert folder is not None and folder.is_dir()
    assert folder.is_relative_to(store.settings.quarantine_dir)
    report = json.loads((folder / "report.json").read_text())
    assert report["success"] is False
    assert set(keys) <= {f["key"] for f in report["failures"]}
    assert any(p.name != "report.json" for p in folder.iterdir()), "the batch itself is kept"
    recorded = store.ctx.metadata.validation(run_id=error.run_id or -1)
    assert not recorded.success and recorded.quarantine_path == str(folder)
    assert store.guarded_files() == before, "a rejected batch changed stored data"
    return error


def test_a_clean_batch_is_accepted(store: Store, tmp_path: Path) -> None:
    before = len(read_parquet(store.settings.events_path))
    result = ingest_file(
        path=_batch(store, tmp_path, lambda b: b), settings=store.settings, gate=store.ctx.gate
    )
    assert result.events == 300
    assert len(read_parquet(store.settings.events_path)) == before + 300


def test_null_keys(store: Store, tmp_path: Path) -> None:
    def edit(b: pd.DataFrame) -> pd.DataFrame:
        b["item_id"] = b["item_id"].astype("Int64")
        b.loc[[3, 7], "item_id"] = pd.NA
        return b

    path = _batch(store, tmp_path, edit)
    error = _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "expect_column_values_to_not_be_null:item_id",
    )
    (failure,) = error.report.failures
    assert failure.unexpected_count == 2


def test_duplicate_events(store: Store, tmp_path: Path) -> None:
    # Within the batch: the same event twice.
    path = _batch(store, tmp_path, lambda b: pd.concat([b, b.head(5)], ignore_index=True))
    _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "expect_column_values_to_be_unique:event_id",
    )
    # A replay: events the accepted log already holds.
    log = read_parquet(store.settings.events_path)
    replay = tmp_path / "replay.parquet"
    log.head(300).to_parquet(replay)
    error = _rejected(
        store,
        lambda: ingest_file(path=replay, settings=store.settings, gate=store.ctx.gate),
        "expect_column_values_to_be_in_set:already_ingested",
    )
    assert error.report.failures[0].unexpected_count == 300


def test_out_of_range_and_negative_values(store: Store, tmp_path: Path) -> None:
    def edit(b: pd.DataFrame) -> pd.DataFrame:
        b.loc[0, "hour"] = 30
        b.loc[1, "item_id"] = -5
        return b

    path = _batch(store, tmp_path, edit)
    error = _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "expect_column_values_to_be_between:hour",
        "expect_column_values_to_be_between:item_id",
    )
    assert "30" in str(error) and "-5" in str(error)


def test_future_timestamps(store: Store, tmp_path: Path) -> None:
    def edit(b: pd.DataFrame) -> pd.DataFrame:
        b.loc[2, "event_timestamp"] = pd.Timestamp(datetime.now(UTC) + timedelta(days=3))
        return b

    path = _batch(store, tmp_path, edit)
    _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "expect_column_values_to_be_between:event_epoch_s",
    )


def test_wrong_dtype(store: Store, tmp_path: Path) -> None:
    path = _batch(store, tmp_path, lambda b: b.assign(user_id=b["user_id"].astype(str)))
    _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "expect_column_values_to_be_in_type_list:user_id",
    )


def test_timestamps_as_text(store: Store, tmp_path: Path) -> None:
    path = _batch(
        store, tmp_path, lambda b: b.assign(event_timestamp=b["event_timestamp"].astype(str))
    )
    _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "expect_column_values_to_be_timestamps:event_timestamp",
    )


def test_missing_column(store: Store, tmp_path: Path) -> None:
    path = _batch(store, tmp_path, lambda b: b.drop(columns=["device"]))
    _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "expect_column_to_exist:device",
    )


def test_extra_column(store: Store, tmp_path: Path) -> None:
    path = _batch(store, tmp_path, lambda b: b.assign(coupon_code="X1"))
    error = _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "expect_table_columns_to_match_set",
    )
    assert "coupon_code" in str(error)


def test_empty_batch(store: Store, tmp_path: Path) -> None:
    path = _batch(store, tmp_path, lambda b: b.head(0))
    _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "expect_table_row_count_to_be_between",
    )


@pytest.mark.parametrize("rate", [0, 1])
def test_label_rate_of_zero_or_one(store: Store, tmp_path: Path, rate: int) -> None:
    path = _batch(store, tmp_path, lambda b: b.assign(clicked=rate))
    _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "expect_column_mean_to_be_between:clicked",
    )


def test_drifted_distribution(store: Store, tmp_path: Path) -> None:
    # Every event from one device: valid values, but not the traffic we accepted before.
    path = _batch(store, tmp_path, lambda b: b.assign(device="tablet"))
    error = _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "drift:device",
    )
    (failure,) = error.report.failures
    assert failure.rule == "expect_column_kl_divergence_to_be_less_than"
    assert failure.drift_baseline_run is not None
    assert "drift vs accepted run" in str(error)


def test_a_file_that_is_not_parquet(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    path.write_text("event_id,user_id,item_id\n1,2,3\n")
    error = _rejected(
        store,
        lambda: ingest_file(path=path, settings=store.settings, gate=store.ctx.gate),
        "file_is_parquet",
    )
    assert str(path) in str(error)
    assert error.quarantine_path is not None
    assert (error.quarantine_path / "events.parquet").read_bytes() == path.read_bytes()


# Sequence tables -------------------------------------------------------------------


def _sequences(store: Store) -> pd.DataFrame:
    table = read_parquet(store.settings.offline_dir / "user_sequence.parquet")
    for column in ("hist_item_ids", "hist_category_ids", "hist_behaviour_types", "hist_timestamps"):
        table[column] = table[column].map(list)
    return table


def _longest(table: pd.DataFrame) -> int:
    return int(np.argmax(table["hist_len"].to_numpy()))


@pytest.mark.parametrize(
    ("column", "bad", "measure"),
    [
        ("hist_item_ids", 999_999, "unknown_items"),  # no such item
        ("hist_behaviour_types", 7, "unknown_types"),  # neither click nor purchase
    ],
    ids=["unknown-item-id", "unknown-behaviour-type"],
)
def test_unknown_codes_inside_sequences(store: Store, column: str, bad: int, measure: str) -> None:
    table = _sequences(store)
    row = _longest(table)
    set_cell(table, row, column, [*get_cell(table, row, column)[:-1], bad])
    error = _rejected(
        store,
        lambda: publish_tables(
            settings=store.settings, gate=store.ctx.gate, tables={"user_sequence": table}
        ),
        f"expect_column_values_to_be_in_set:{measure}",
    )
    assert error.report.failures[0].unexpected_count == 1


def test_unsorted_sequences(store: Store) -> None:
    table = _sequences(store)
    row = _longest(table)
    stamps = get_cell(table, row, "hist_timestamps")
    set_cell(table, row, "hist_timestamps", [stamps[-1], *stamps[1:-1], stamps[0]])
    _rejected(
        store,
        lambda: publish_tables(
            settings=store.settings, gate=store.ctx.gate, tables={"user_sequence": table}
        ),
        "expect_column_values_to_be_in_set:unsorted_steps",
    )


def test_sequence_longer_than_n(store: Store) -> None:
    table = _sequences(store)
    n = store.settings.sequence_length
    row = _longest(table)
    items = get_cell(table, row, "hist_item_ids")
    longer = (items * (n // len(items) + 2))[: n + 1]
    set_cell(table, row, "hist_item_ids", longer)
    set_cell(table, row, "hist_category_ids", [1] * (n + 1))
    set_cell(table, row, "hist_timestamps", [get_cell(table, row, "hist_timestamps")[0]] * (n + 1))
    set_cell(table, row, "hist_len", n + 1)
    _rejected(
        store,
        lambda: publish_tables(
            settings=store.settings, gate=store.ctx.gate, tables={"user_sequence": table}
        ),
        "expect_column_values_to_be_between:items_len",
    )


def test_padding_inside_a_sequence(store: Store) -> None:
    table = _sequences(store)
    row = _longest(table)
    items = get_cell(table, row, "hist_item_ids")
    set_cell(table, row, "hist_item_ids", [items[0], 0, *items[2:]])
    _rejected(
        store,
        lambda: publish_tables(
            settings=store.settings, gate=store.ctx.gate, tables={"user_sequence": table}
        ),
        "expect_column_values_to_be_in_set:inner_padding",
    )


def test_allow_failures_accepts_and_records(store: Store, tmp_path: Path) -> None:
    path = _batch(store, tmp_path, lambda b: b.assign(device="tablet"))
    before = len(read_parquet(store.settings.events_path))
    result = ingest_file(
        path=path, settings=store.settings, gate=store.ctx.gate, allow=["drift:device"]
    )
    assert len(read_parquet(store.settings.events_path)) == before + 300
    run = store.ctx.metadata.validation(run_id=result.validation_run_id)
    assert run.success and run.quarantine_path is None
    assert [f["key"] for f in run.accepted_failures or []] == ["drift:device"]
    # Accepting one rule accepts nothing else.
    other = _batch(store, tmp_path, lambda b: b.assign(hour=40))
    _rejected(
        store,
        lambda: ingest_file(
            path=other, settings=store.settings, gate=store.ctx.gate, allow=["drift:device"]
        ),
        "expect_column_values_to_be_between:hour",
    )
