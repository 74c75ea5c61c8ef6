"""Suites of behaviour sequences: snapshots, the training set, the online read-back."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from recplat.events.schema import BEHAVIOUR_TYPES
from recplat.quality import lists
from recplat.quality.suites.spec import (
    FLOAT,
    INT,
    LIST,
    STR,
    TIMESTAMP,
    Derive,
    SuiteSpec,
    epoch_s,
    keyed_table_rules,
    last_seconds,
    now_s,
    per_list,
    stamped_between,
    timestamps,
    window_s,
)
from recplat.quality.thresholds import THRESHOLDS

# The history columns every sequence-bearing dataset has.
HISTORY = {
    "hist_item_ids": LIST,
    "hist_category_ids": LIST,
    "hist_timestamps": LIST,
    "hist_len": INT,
}


def _history_measures(known_items: Collection[int] | None) -> dict[str, Derive]:
    """Per-row measures of a history: lengths, padding inside, unknown ids, order."""
    return {
        "items_len": per_list("hist_item_ids", lists.length),
        "ts_len": per_list("hist_timestamps", lists.length),
        "inner_padding": per_list("hist_item_ids", lists.inner_padding),
        "unknown_items": per_list("hist_item_ids", lists.unknown_ids(known_items)),
        "unsorted_steps": per_list("hist_timestamps", lists.unsorted_steps),
    }


def user_sequence_suite(
    *,
    max_len: int,
    known_items: Collection[int] | None = None,
    window: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
) -> SuiteSpec:
    """Sequence snapshots: unique per (user, time), 1..N long, sorted, known ids, in time.

    Args:
        max_len: N, the longest sequence allowed.
        known_items: The item table's ids; an id outside it fails. None skips the check.
        window: (first, last) event time of the source log; snapshots outside it fail.
        now: The present, for the no-future rule.
    """
    import great_expectations.expectations as gxe

    start_s, end_s = window_s(window)
    end_s = min(end_s, now_s(now)) if end_s is not None else now_s(now)
    schema = {
        "user_id": INT,
        "event_timestamp": TIMESTAMP,
        **HISTORY,
        "hist_behaviour_types": LIST,
        "hist_event_ids": LIST,
    }

    def build() -> list[Any]:
        return [
            *keyed_table_rules(schema, keys=["user_id"]),
            gxe.ExpectColumnValuesToBeBetween(column="items_len", min_value=1, max_value=max_len),
            # hist_len and the other arrays must describe the item array they sit beside.
            gxe.ExpectColumnPairValuesToBeEqual(column_A="items_len", column_B="hist_len"),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="items_len", column_B="cats_len"),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="items_len", column_B="ts_len"),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="items_len", column_B="events_len"),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="items_len", column_B="types_len"),
            # Every step is a click or a purchase (no padding, no unknown code).
            gxe.ExpectColumnValuesToBeInSet(column="unknown_types", value_set=[0]),
            gxe.ExpectColumnValuesToBeInSet(column="inner_padding", value_set=[0]),
            gxe.ExpectColumnValuesToBeInSet(column="unknown_items", value_set=[0]),
            gxe.ExpectColumnValuesToBeInSet(column="unsorted_steps", value_set=[0]),
            # A snapshot is stamped when its newest behaviour happened: none may come later.
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="event_epoch_s", column_B="last_behaviour_s", or_equal=True
            ),
            stamped_between(start_s, end_s),
        ]

    return SuiteSpec(
        dataset="user_sequence",
        name="user_sequence",
        version=4,
        schema=schema,
        build=build,
        derived={
            **_history_measures(known_items),
            "cats_len": per_list("hist_category_ids", lists.length),
            "last_behaviour_s": per_list("hist_timestamps", last_seconds),
            "events_len": per_list("hist_event_ids", lists.length),
            "types_len": per_list("hist_behaviour_types", lists.length),
            "unknown_types": per_list(
                "hist_behaviour_types", lists.outside(BEHAVIOUR_TYPES.values())
            ),
            "event_epoch_s": epoch_s("event_timestamp"),
        },
        drift=THRESHOLDS.user_sequence.drift,
    )


def training_set_suite(
    *,
    max_len: int,
    known_items: Collection[int] | None = None,
    columns: Mapping[str, str] | None = None,
) -> SuiteSpec:
    """Training set from the point-in-time join: labels, keys, histories, and no leakage.

    Each row's `event_timestamp` is its lookup time (just before the impression);
    every behaviour in its history must be at or before it, i.e. strictly before
    the impression. `columns` names the feature service's columns ("list",
    "number" or "text"); the suite expects exactly those beside the keys.
    """
    import great_expectations.expectations as gxe

    t = THRESHOLDS.training_set
    kinds = {"list": LIST, "number": (*INT, *FLOAT), "text": STR}
    schema = {
        "event_id": INT,
        "user_id": INT,
        "item_id": INT,
        "event_timestamp": TIMESTAMP,
        "label": INT,
        "request_time_s": INT,
        "device": STR,
        "category_id": INT,
        **HISTORY,
    }
    if columns is None:  # the narrow service (ranking_v1)
        schema |= {"age_bucket": INT, "gender": INT, "price_bucket": INT}
    else:
        schema |= {n: kinds[k] for n, k in columns.items() if n not in schema}

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=t.min_rows),
            *[
                gxe.ExpectColumnValuesToNotBeNull(column=c)
                for c in ("event_id", "user_id", "item_id", "label", "event_timestamp")
            ],
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
            gxe.ExpectColumnMeanToBeBetween(
                column="label", min_value=t.label_rate[0], max_value=t.label_rate[1]
            ),
            gxe.ExpectColumnValuesToBeBetween(column="items_len", min_value=0, max_value=max_len),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="items_len", column_B="ts_len"),
            gxe.ExpectColumnValuesToBeInSet(column="inner_padding", value_set=[0]),
            gxe.ExpectColumnValuesToBeInSet(column="unknown_items", value_set=[0]),
            gxe.ExpectColumnValuesToBeInSet(column="unsorted_steps", value_set=[0]),
            # Leakage: no behaviour at or after the impression reaches its features.
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="lookup_us", column_B="last_behaviour_us", or_equal=True
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="category_id", min_value=1, mostly=t.known_category_mostly
            ),
        ]

    def lookup_us(df: pd.DataFrame) -> pd.Series:
        ts = timestamps(df, "event_timestamp")
        return (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)

    return SuiteSpec(
        dataset="training_set",
        name="training_set",
        version=2,
        schema=schema,
        build=build,
        derived={
            **_history_measures(known_items),
            "last_behaviour_us": per_list("hist_timestamps", lists.last),
            "lookup_us": lookup_us,
        },
        drift=t.drift,
    )


def online_features_suite(*, max_len: int, known_items: Collection[int] | None = None) -> SuiteSpec:
    """Features read back from the online store for a sample of users."""
    import great_expectations.expectations as gxe

    t = THRESHOLDS
    schema = {
        "user_id": INT,
        "age_bucket": INT,
        "gender": INT,
        **HISTORY,
    }

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column="user_id"),
            gxe.ExpectColumnValuesToBeBetween(
                column="age_bucket", min_value=0, max_value=t.user_profile.max_age_bucket
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="gender", value_set=list(t.user_profile.genders)
            ),
            gxe.ExpectColumnValuesToNotBeNull(
                column="hist_item_ids", mostly=t.online.sequence_present_mostly
            ),
            gxe.ExpectColumnValuesToBeBetween(column="items_len", min_value=1, max_value=max_len),
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A="items_len", column_B="ts_len", ignore_row_if="either_value_is_missing"
            ),
            gxe.ExpectColumnValuesToBeInSet(column="inner_padding", value_set=[0]),
            gxe.ExpectColumnValuesToBeInSet(
                column="unknown_items", value_set=[0], mostly=t.user_sequence.online_known_mostly
            ),
            gxe.ExpectColumnValuesToBeInSet(column="unsorted_steps", value_set=[0]),
        ]

    return SuiteSpec(
        dataset="online_features",
        name="online_features",
        version=1,
        schema=schema,
        build=build,
        derived=_history_measures(known_items),
    )
