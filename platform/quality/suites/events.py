"""Suites of what arrives: raw events and explicit ratings."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from recplat.events.schema import EVENT_COLUMNS, EVENT_DEVICES, EVENT_TYPES
from recplat.quality.suites.spec import (
    FLOAT,
    INT,
    STR,
    TIMESTAMP,
    SuiteSpec,
    epoch_s,
    keyed_spec,
    keyed_table_rules,
    now_s,
    since_earliest,
)
from recplat.quality.thresholds import THRESHOLDS


def events_suite(
    *,
    now: datetime | None = None,
    known_event_ids: Collection[int] | None = None,
    impressions: bool = True,
) -> SuiteSpec:
    """Raw events: schema, keys, enums, unique ids, times in the source window, the
    impressions' click rate.

    Args:
        now: The present, for the no-future rule.
        known_event_ids: Ids already in the accepted log; a batch repeating one
            is a replay and fails.
        impressions: The batch holds impressions; False for a purchase-only log (an
            imported transaction log), which has no click rate to check.
    """
    import great_expectations.expectations as gxe

    t = THRESHOLDS.events
    present_s = now_s(now)
    earliest_s = int(t.earliest.timestamp())
    schema = {
        "event_id": INT,
        "user_id": INT,
        "item_id": INT,
        "event_timestamp": TIMESTAMP,
        "event_type": STR,
        "clicked": INT,
        "hour": INT,
        "weekday": INT,
        "device": STR,
    }

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in EVENT_COLUMNS],
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToBeBetween(column="event_id", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(column="user_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="item_id", min_value=1),
            gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(EVENT_TYPES)),
            gxe.ExpectColumnValuesToBeInSet(column="clicked", value_set=[0, 1]),
            gxe.ExpectColumnValuesToBeBetween(column="hour", min_value=0, max_value=t.max_hour),
            gxe.ExpectColumnValuesToBeBetween(
                column="weekday", min_value=0, max_value=t.max_weekday
            ),
            gxe.ExpectColumnValuesToBeInSet(column="device", value_set=list(EVENT_DEVICES)),
            gxe.ExpectColumnValuesToBeBetween(
                column="event_epoch_s", min_value=earliest_s, max_value=present_s
            ),
            *(
                # The click rate is the impressions' (purchase rows are clicked by definition).
                [
                    gxe.ExpectColumnMeanToBeBetween(
                        column="clicked",
                        min_value=t.label_rate[0],
                        max_value=t.label_rate[1],
                        row_condition='event_type=="impression"',
                        condition_parser="pandas",
                    )
                ]
                if impressions
                else []
            ),
            gxe.ExpectColumnValuesToBeInSet(column="already_ingested", value_set=[False]),
        ]

    seen = None if known_event_ids is None else np.asarray(list(known_event_ids), dtype=np.int64)

    def already_ingested(df: pd.DataFrame) -> pd.Series:
        if seen is None or not len(seen):
            return pd.Series(False, index=df.index)
        ids = pd.to_numeric(df["event_id"], errors="coerce")
        return ids.isin(seen)

    return SuiteSpec(
        dataset="events",
        name="events",
        version=3,
        schema=schema,
        build=build,
        derived={
            "event_epoch_s": epoch_s("event_timestamp"),
            "already_ingested": already_ingested,
        },
        drift=t.drift,
    )


def ratings_suite(*, now: datetime | None = None) -> SuiteSpec:
    """Explicit ratings (rating models): keys, the scale, one rating per (user, item, time)."""
    import great_expectations.expectations as gxe

    t = THRESHOLDS.ratings
    schema = {
        "user_id": INT,
        "item_id": INT,
        "rating": (*INT, *FLOAT),
        "event_timestamp": TIMESTAMP,
    }

    def build() -> list[Any]:
        return [
            *keyed_table_rules(schema, keys=["user_id", "item_id"], ids=["user_id", "item_id"]),
            gxe.ExpectColumnValuesToBeBetween(
                column="rating", min_value=t.scale[0], max_value=t.scale[1]
            ),
            since_earliest(now),
        ]

    return keyed_spec(dataset="ratings", version=1, schema=schema, build=build, drift=t.drift)


def purchases_suite() -> SuiteSpec:
    """What purchases cost (one row per purchase event): quantities >= 1, amounts >= 0."""
    import great_expectations.expectations as gxe

    schema = {
        "event_id": INT,
        "quantity": INT,
        "amount": (*FLOAT, *INT),
        # Derived by the ingest: the event id is a purchase row of the same batch.
        "names_a_purchase": ("bool",),
    }

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToBeInSet(column="names_a_purchase", value_set=[True]),
            gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=0.0),
        ]

    return SuiteSpec(dataset="purchases", name="purchases", version=1, schema=schema, build=build)
