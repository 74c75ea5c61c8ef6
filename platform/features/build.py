"""Build the offline feature tables, gate them, then publish them to the sources.

All tables are validated before any is written, so a failure leaves the last
good tables (and so the online store) exactly as they were.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from recplat.features import offline
from recplat.features.repo import open_store, quiet_library_warnings
from recplat.quality.gate import Gate
from recplat.quality.suites import (
    SuiteSpec,
    item_attributes_suite,
    user_profile_suite,
    user_sequence_suite,
)
from recplat.settings import Settings
from recplat.storage import read_parquet, write_parquet


@dataclass(frozen=True)
class BuildResult:
    """Row counts of the published tables and their validation runs."""

    rows: dict[str, int]
    validation_run_ids: dict[str, int]


def table_specs(
    *, settings: Settings, events: pd.DataFrame, items: pd.DataFrame
) -> dict[str, SuiteSpec]:
    """The suite of each published table, bound to the source log's window and catalogue."""
    stamps = pd.to_datetime(events["event_timestamp"], utc=True)
    window = (stamps.min().to_pydatetime(), stamps.max().to_pydatetime())
    return {
        "user_profile": user_profile_suite(),
        "item_attributes": item_attributes_suite(),
        "user_sequence": user_sequence_suite(
            max_len=settings.sequence_length,
            known_items=set(items["item_id"].tolist()),
            window=window,
        ),
    }


def build_features(*, settings: Settings, gate: Gate, allow: Sequence[str] = ()) -> BuildResult:
    """Compute user, item and sequence tables from the accepted events, gate and publish them.

    Raises:
        DataQualityError: A table failed its suite; nothing was published.
    """
    events = read_parquet(settings.events_path)
    users = read_parquet(settings.catalog_dir / "users.parquet")
    items = read_parquet(settings.catalog_dir / "items.parquet")
    tables: dict[str, pd.DataFrame] = {
        "user_profile": offline.user_profile_table(users),
        "item_attributes": offline.item_attributes_table(items),
        "user_sequence": offline.sequence_snapshots(
            events=events, items=items, max_len=settings.sequence_length
        ),
    }
    return publish_tables(settings=settings, gate=gate, tables=tables, allow=allow)


def publish_tables(
    *,
    settings: Settings,
    gate: Gate,
    tables: Mapping[str, pd.DataFrame],
    allow: Sequence[str] = (),
) -> BuildResult:
    """Gate every table, then (only if all pass) make them the feature views' sources.

    Raises:
        DataQualityError: A table failed; no table was written.
    """
    events = read_parquet(settings.events_path)
    items = read_parquet(settings.catalog_dir / "items.parquet")
    specs = table_specs(settings=settings, events=events, items=items)
    unknown = sorted(set(tables) - set(specs))
    if unknown:
        raise ValueError(f"unknown feature tables {unknown}; known: {sorted(specs)}")
    run_ids = {
        name: gate.check(df=table, spec=specs[name], allow=allow, stage="build")
        for name, table in tables.items()
    }
    for name, table in tables.items():
        write_parquet(table, settings.offline_dir / f"{name}.parquet")
    return BuildResult(rows={k: len(v) for k, v in tables.items()}, validation_run_ids=run_ids)


def materialize(
    *,
    settings: Settings,
    gate: Gate | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    allow: Sequence[str] = (),
) -> tuple[datetime, datetime]:
    """Gate the published tables' rows in the range, then load them into the online store.

    An explicit range is used (not `materialize_incremental`): the first
    incremental run starts at now - ttl and can skip historical rows.

    Args:
        gate: Re-validates what is about to go online (a table edited or
            replaced by hand since it was built is caught here). None skips it.

    Returns:
        The range that was materialized.

    Raises:
        DataQualityError: A table failed; the online store was not touched.
    """
    end = end or datetime.now(UTC)
    if start is None:
        first = min(
            pd.read_parquet(settings.offline_dir / f"{name}.parquet", columns=["event_timestamp"])[
                "event_timestamp"
            ].min()
            for name in ("user_profile", "item_attributes", "user_sequence")
        )
        start = pd.Timestamp(first).to_pydatetime() - timedelta(seconds=1)
    if gate is not None:
        events = read_parquet(settings.events_path)
        items = read_parquet(settings.catalog_dir / "items.parquet")
        for name, spec in table_specs(settings=settings, events=events, items=items).items():
            table = read_parquet(settings.offline_dir / f"{name}.parquet")
            stamps = pd.to_datetime(table["event_timestamp"], utc=True)
            in_range = table[(stamps >= pd.Timestamp(start)) & (stamps <= pd.Timestamp(end))]
            if in_range.empty:
                continue
            gate.check(df=in_range, spec=spec, allow=allow, stage="materialize")
    store = open_store(settings.feature_repo)
    # Feast prints its own progress lines (with colour codes) to stdout; ours say it better.
    with quiet_library_warnings(), contextlib.redirect_stdout(io.StringIO()):
        store.materialize(start_date=start, end_date=end)
    return start, end
