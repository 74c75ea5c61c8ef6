"""Expectation suites, one per dataset kind, defined in code.

Thresholds for a dataset live in its function. A suite names the columns it
needs (`required_columns`) and the columns it derives before GX sees the
frame (`derived`): GX measures a list column by its string form, so sequence
lengths are derived and checked as numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from recplat.events.schema import EVENT_COLUMNS, EVENT_DEVICES, EVENT_TYPES

Derive = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class SuiteSpec:
    """A suite: what to derive, and the expectations to build (lazily: GX is slow to import)."""

    dataset: str
    name: str
    version: int
    required_columns: tuple[str, ...]
    build: Callable[[], list[Any]]
    derived: Mapping[str, Derive] = field(default_factory=dict)


def _epoch_s(column: str) -> Derive:
    return lambda df: (
        pd.to_datetime(df[column], utc=True).astype("int64") // 1_000_000_000
        if len(df)
        else pd.Series([], dtype="int64")
    )


def _lengths(column: str) -> Derive:
    return lambda df: df[column].map(lambda v: -1 if v is None else len(v)).astype("int64")


def events_suite(*, now: datetime | None = None) -> SuiteSpec:
    """Raw events: keys present, enums in range, ids unique, nothing in the future."""
    import great_expectations.expectations as gxe

    now_s = int((now or datetime.now(UTC)).timestamp())
    columns = EVENT_COLUMNS

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns],
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToBeBetween(column="user_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="item_id", min_value=1),
            gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(EVENT_TYPES)),
            gxe.ExpectColumnValuesToBeInSet(column="clicked", value_set=[0, 1]),
            gxe.ExpectColumnValuesToBeBetween(column="hour", min_value=0, max_value=23),
            gxe.ExpectColumnValuesToBeBetween(column="weekday", min_value=0, max_value=6),
            gxe.ExpectColumnValuesToBeInSet(column="device", value_set=list(EVENT_DEVICES)),
            gxe.ExpectColumnValuesToBeBetween(column="event_epoch_s", max_value=now_s),
            # A click rate of 0 or 1 means a broken label pipeline, not users.
            gxe.ExpectColumnMeanToBeBetween(column="clicked", min_value=0.005, max_value=0.95),
        ]

    return SuiteSpec(
        dataset="events",
        name="events",
        version=1,
        required_columns=columns,
        build=build,
        derived={"event_epoch_s": _epoch_s("event_timestamp")},
    )


def user_profile_suite() -> SuiteSpec:
    """User profile table: one row per user, attributes in their ranges."""
    import great_expectations.expectations as gxe

    columns = ("user_id", "age_bucket", "gender", "event_timestamp")

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns],
            gxe.ExpectColumnValuesToBeUnique(column="user_id"),
            gxe.ExpectColumnValuesToBeBetween(column="user_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="age_bucket", min_value=0, max_value=5),
            gxe.ExpectColumnValuesToBeInSet(column="gender", value_set=[0, 1]),
        ]

    return SuiteSpec(
        dataset="user_profile",
        name="user_profile",
        version=1,
        required_columns=columns,
        build=build,
    )


def item_attributes_suite() -> SuiteSpec:
    """Item table: one row per item, a category for every item."""
    import great_expectations.expectations as gxe

    columns = ("item_id", "category_id", "price_bucket", "event_timestamp")

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns],
            gxe.ExpectColumnValuesToBeUnique(column="item_id"),
            gxe.ExpectColumnValuesToBeBetween(column="item_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="category_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="price_bucket", min_value=0, max_value=9),
        ]

    return SuiteSpec(
        dataset="item_attributes",
        name="item_attributes",
        version=1,
        required_columns=columns,
        build=build,
    )


def user_sequence_suite(*, max_len: int, now: datetime | None = None) -> SuiteSpec:
    """Sequence snapshots: unique per (user, time), 1..N long, sorted by nothing but time."""
    import great_expectations.expectations as gxe

    now_s = int((now or datetime.now(UTC)).timestamp())
    columns = ("user_id", "event_timestamp", "hist_item_ids", "hist_category_ids", "hist_len")

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "event_timestamp"]),
            gxe.ExpectColumnValuesToBeBetween(column="items_len", min_value=1, max_value=max_len),
            # hist_len must describe the arrays it sits beside.
            gxe.ExpectColumnPairValuesToBeEqual(column_A="items_len", column_B="hist_len"),
            gxe.ExpectColumnPairValuesToBeEqual(column_A="items_len", column_B="cats_len"),
            gxe.ExpectColumnValuesToBeBetween(column="min_item_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="event_epoch_s", max_value=now_s),
        ]

    return SuiteSpec(
        dataset="user_sequence",
        name="user_sequence",
        version=1,
        required_columns=columns,
        build=build,
        derived={
            "items_len": _lengths("hist_item_ids"),
            "cats_len": _lengths("hist_category_ids"),
            "min_item_id": lambda df: df["hist_item_ids"].map(
                lambda v: min(v) if v is not None and len(v) else 0
            ),
            "event_epoch_s": _epoch_s("event_timestamp"),
        },
    )


def training_set_suite(*, max_len: int) -> SuiteSpec:
    """Training set from the point-in-time join: labels, keys, histories in range."""
    import great_expectations.expectations as gxe

    columns = ("event_id", "user_id", "item_id", "label", "hist_item_ids", "category_id")

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=10),
            *[
                gxe.ExpectColumnValuesToNotBeNull(column=c)
                for c in ("event_id", "user_id", "item_id", "label")
            ],
            gxe.ExpectColumnValuesToBeUnique(column="event_id"),
            gxe.ExpectColumnValuesToBeInSet(column="label", value_set=[0, 1]),
            gxe.ExpectColumnMeanToBeBetween(column="label", min_value=0.005, max_value=0.95),
            gxe.ExpectColumnValuesToBeBetween(column="items_len", min_value=0, max_value=max_len),
            # Items the catalogue does not know get category 0; a few are fine.
            gxe.ExpectColumnValuesToBeBetween(column="category_id", min_value=1, mostly=0.99),
        ]

    return SuiteSpec(
        dataset="training_set",
        name="training_set",
        version=1,
        required_columns=columns,
        build=build,
        derived={"items_len": _lengths("hist_item_ids")},
    )
