"""Raw-event ingest: the first gate. Only accepted events reach the event store."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from recplat.quality.gate import Gate
from recplat.quality.suites import events_suite
from recplat.settings import Settings
from recplat.storage import write_parquet


@dataclass(frozen=True)
class IngestResult:
    """What the ingest accepted."""

    events: int
    users: int
    items: int
    validation_run_id: int


def ingest(
    *,
    events: pd.DataFrame,
    users: pd.DataFrame,
    items: pd.DataFrame,
    settings: Settings,
    gate: Gate,
) -> IngestResult:
    """Validate a batch of events and, if it passes, make it the accepted event log.

    Raises:
        DataQualityError: The batch failed; the accepted log is untouched and
            the batch is quarantined.
    """
    run_id = gate.check(df=events, spec=events_suite())
    write_parquet(users, settings.catalog_dir / "users.parquet")
    write_parquet(items, settings.catalog_dir / "items.parquet")
    write_parquet(events, settings.events_path)
    return IngestResult(
        events=len(events), users=len(users), items=len(items), validation_run_id=run_id
    )
