"""Raw-event ingest: the first gate. Only accepted events reach the event store.

`ingest` replaces the accepted log with a generated or imported data set;
`ingest_file` appends a batch file of new events to it. Either way the batch
is validated first and nothing is written when it fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from recplat.io.parquet import read_parquet, write_parquet
from recplat.quality.gate import Gate
from recplat.quality.suites import events_suite, purchases_suite, ratings_suite
from recplat.settings import Settings


@dataclass(frozen=True)
class IngestResult:
    """What the ingest accepted."""

    events: int
    users: int
    items: int
    validation_run_id: int
    ratings: int = 0  # explicit ratings kept beside the log (MovieLens, Amazon)
    purchases: int = 0  # purchases with a quantity and amount (transaction logs, generator)


def ingest(
    *,
    events: pd.DataFrame,
    users: pd.DataFrame,
    items: pd.DataFrame,
    settings: Settings,
    gate: Gate,
    allow: Sequence[str] = (),
    source: str = "events",
    ratings: pd.DataFrame | None = None,
    purchases: pd.DataFrame | None = None,
    categories: pd.DataFrame | None = None,
) -> IngestResult:
    """Validate a batch of events and, if it passes, make it the accepted event log.

    Args:
        source: Names the data set's origin; drift is measured against the last
            accepted log of the same origin (a MovieLens import is not drift
            from a synthetic log).
        ratings: Explicit ratings that come with the events (MovieLens), kept for
            rating models; validated too. Without them, ratings of an earlier
            data set are removed (they would no longer match its users and items).
        purchases: Quantity and amount per purchase event (`purchases_suite`); each
            must name a purchase of `events`. Without them, earlier ones are removed.
        categories: Names of the category ids (a transaction log's), kept beside the
            items; without them, earlier names are removed.

    Raises:
        DataQualityError: The batch failed; the accepted log is untouched and
            the batch is quarantined.
    """
    origin = "" if source == "events" else f":{source}"
    has_impressions = bool((events["event_type"] == "impression").any())
    run_id = gate.check(
        df=events,
        spec=events_suite(impressions=has_impressions),
        allow=allow,
        stage="ingest",
        baseline_key=f"events{origin}",
    )
    # Every gate passes before anything is written.
    if ratings is not None:
        gate.check(
            df=ratings,
            spec=ratings_suite(),
            allow=allow,
            stage="ingest",
            baseline_key=f"ratings{origin}",
        )
    if purchases is not None:
        bought = events.loc[events["event_type"] == "purchase", "event_id"]
        gate.check(
            df=purchases.assign(names_a_purchase=purchases["event_id"].isin(bought)),
            spec=purchases_suite(),
            allow=allow,
            stage="ingest",
            baseline_key=f"purchases{origin}",
        )
    for table, path in (
        (ratings, settings.ratings_path),
        (purchases, settings.purchases_path),
        (categories, settings.categories_path),
    ):
        if table is not None:
            write_parquet(table, path)
        else:
            path.unlink(missing_ok=True)
    write_parquet(users, settings.catalog_dir / "users.parquet")
    write_parquet(items, settings.catalog_dir / "items.parquet")
    write_parquet(events, settings.events_path)
    return IngestResult(
        events=len(events),
        users=len(users),
        items=len(items),
        validation_run_id=run_id,
        ratings=0 if ratings is None else len(ratings),
        purchases=0 if purchases is None else len(purchases),
    )


def ingest_file(
    *, path: Path, settings: Settings, gate: Gate, allow: Sequence[str] = ()
) -> IngestResult:
    """Validate a Parquet file of new events and append it to the accepted log.

    Event ids already in the log are rejected (a replayed batch would count
    twice), as is anything the events suite rejects, or a file that is not
    Parquet. Drift is measured against the last accepted events run.

    Raises:
        DataQualityError: Nothing was appended; the file is quarantined.
        FileNotFoundError: There is no accepted log to append to yet.
    """
    if not settings.events_path.exists():
        raise FileNotFoundError(
            f"no accepted event log at {settings.events_path}: "
            "run `recplat data generate` or an import first"
        )
    log = read_parquet(settings.events_path)
    batch, run_id = gate.check_file(
        path=path,
        spec=events_suite(known_event_ids=log["event_id"].to_numpy()),
        allow=allow,
        stage="ingest",
    )
    merged = pd.concat([log, batch[log.columns]], ignore_index=True).sort_values(
        "event_timestamp", kind="stable"
    )
    write_parquet(merged.reset_index(drop=True), settings.events_path)
    users = read_parquet(settings.catalog_dir / "users.parquet")
    items = read_parquet(settings.catalog_dir / "items.parquet")
    return IngestResult(
        events=len(batch), users=len(users), items=len(items), validation_run_id=run_id
    )
