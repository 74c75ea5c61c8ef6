"""Build the offline feature tables, gate them, then publish them to the sources.

All tables are validated before any is written, so a failure leaves the last
good tables (and so the online store) exactly as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
from recplat.features import offline
from recplat.features.repo import open_store, quiet_library_warnings
from recplat.quality.gate import Gate
from recplat.quality.suites import item_attributes_suite, user_profile_suite, user_sequence_suite
from recplat.settings import Settings
from recplat.storage import read_parquet, write_parquet


@dataclass(frozen=True)
class BuildResult:
    """Row counts of the published tables and their validation runs."""

    rows: dict[str, int]
    validation_run_ids: dict[str, int]


def build_features(*, settings: Settings, gate: Gate) -> BuildResult:
    """Compute user, item and sequence tables from the accepted events.

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
    specs = {
        "user_profile": user_profile_suite(),
        "item_attributes": item_attributes_suite(),
        "user_sequence": user_sequence_suite(max_len=settings.sequence_length),
    }
    run_ids = {name: gate.check(df=tables[name], spec=specs[name]) for name in tables}
    for name, table in tables.items():
        write_parquet(table, settings.offline_dir / f"{name}.parquet")
    return BuildResult(rows={k: len(v) for k, v in tables.items()}, validation_run_ids=run_ids)


def materialize(
    *, settings: Settings, start: datetime | None = None, end: datetime | None = None
) -> tuple[datetime, datetime]:
    """Load the published tables into the online store.

    An explicit range is used (not `materialize_incremental`): the first
    incremental run starts at now - ttl and can skip historical rows.

    Returns:
        The range that was materialized.
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
    store = open_store(settings.feature_repo)
    with quiet_library_warnings():
        store.materialize(start_date=start, end_date=end)
    return start, end
