"""Expectation suites, one per dataset kind, defined in code.

A suite names its schema (column -> accepted types), the columns it derives
before GX sees the frame (GX measures a list column by its string form, so
sequence lengths, order and id membership are derived as numbers), the GX
expectations, and which statistics are compared with the last accepted run
(drift). Every number comes from `recplat.quality.thresholds`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from recplat.events.schema import BEHAVIOUR_TYPES, EVENT_COLUMNS, EVENT_DEVICES, EVENT_TYPES
from recplat.quality import lists
from recplat.quality.thresholds import THRESHOLDS, DriftTolerance

Derive = Callable[[pd.DataFrame], pd.Series]

# Accepted type names as GX reports them (dtype names for typed columns, Python
# type names for the values of object columns).
INT = ("int64", "int32", "int16", "int8", "Int64Dtype", "Int32Dtype")
FLOAT = ("float64", "float32", "Float64Dtype")
STR = ("str", "StringDtype")
# Checked by recplat while deriving (GX 1.24 rejects tz-aware dtypes and numpy arrays):
LIST = ("list",)
TIMESTAMP = ("timestamp",)
RECPLAT_TYPES = (LIST, TIMESTAMP)


class DeriveError(ValueError):
    """An input column has the wrong type for a derived column: reported as a failed rule."""

    def __init__(self, *, rule: str, column: str, count: int, examples: list[Any], detail: str):
        self.rule = rule
        self.column = column
        self.count = count
        self.examples = examples
        super().__init__(detail)


@dataclass(frozen=True)
class SuiteSpec:
    """A suite: schema, derived columns, GX expectations (built lazily: GX is slow to import)."""

    dataset: str
    name: str
    version: int
    schema: Mapping[str, tuple[str, ...]]
    build: Callable[[], list[Any]]
    derived: Mapping[str, Derive] = field(default_factory=dict)
    drift: DriftTolerance = field(default_factory=DriftTolerance)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns the data must have."""
        return tuple(self.schema)

    def schema_expectations(self) -> list[Any]:
        """Exact column set (extra columns are an error) and the type of each column."""
        import great_expectations.expectations as gxe

        expectations: list[Any] = [
            gxe.ExpectTableColumnsToMatchSet(
                column_set=[*self.schema, *self.derived], exact_match=True
            )
        ]
        for column, types in self.schema.items():
            if types not in RECPLAT_TYPES:
                expectations.append(
                    gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=list(types))
                )
        return expectations


def _timestamps(df: pd.DataFrame, column: str) -> pd.Series:
    series = df[column]
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        raise DeriveError(
            rule="expect_column_values_to_be_timestamps",
            column=column,
            count=len(series),
            examples=series.head(3).tolist(),
            detail=f"dtype is {series.dtype}, not a timestamp",
        )
    return pd.to_datetime(series, utc=True)


def _epoch_s(column: str) -> Derive:
    def derive(df: pd.DataFrame) -> pd.Series:
        ts = _timestamps(df, column)
        return (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)

    return derive


# One flattening per list column per validation, shared by all its measures.
LIST_CACHE = lists.FlatCache()


def _per_list(column: str, measure: lists.Measure) -> Derive:
    def derive(df: pd.DataFrame) -> pd.Series:
        try:
            flat = LIST_CACHE.get(df, column)
        except lists.ListTypeError as error:
            raise DeriveError(
                rule="expect_column_values_to_be_lists",
                column=column,
                count=error.count,
                examples=error.examples,
                detail=str(error),
            ) from error
        values = measure(flat)
        if flat.present.all():
            # Integers when nothing is null, so GX compares numbers with numbers.
            return pd.Series(values.astype(np.int64), index=df.index)
        return pd.Series(np.where(flat.present, values, np.nan), index=df.index)

    return derive


def _last_seconds(flat: lists.Flat) -> np.ndarray:
    return np.floor_divide(lists.last(flat), 1_000_000)


def _now_s(now: datetime | None) -> int:
    return int((now or datetime.now(UTC)).timestamp())


def _window_s(window: tuple[datetime, datetime] | None) -> tuple[int | None, int | None]:
    if window is None:
        return None, None
    return int(window[0].timestamp()), int(window[1].timestamp())


def events_suite(
    *, now: datetime | None = None, known_event_ids: Collection[int] | None = None
) -> SuiteSpec:
    """Raw events: schema, keys, enums, unique ids, times in the source window, label rate.

    Args:
        now: The present, for the no-future rule.
        known_event_ids: Ids already in the accepted log; a batch repeating one
            is a replay and fails.
    """
    import great_expectations.expectations as gxe

    t = THRESHOLDS.events
    now_s = _now_s(now)
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
                column="event_epoch_s", min_value=earliest_s, max_value=now_s
            ),
            gxe.ExpectColumnMeanToBeBetween(
                column="clicked", min_value=t.label_rate[0], max_value=t.label_rate[1]
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
        version=2,
        schema=schema,
        build=build,
        derived={
            "event_epoch_s": _epoch_s("event_timestamp"),
            "already_ingested": already_ingested,
        },
        drift=t.drift,
    )


def user_profile_suite(*, now: datetime | None = None) -> SuiteSpec:
    """User profile table: one row per (user, time), attributes in their ranges."""
    import great_expectations.expectations as gxe

    t = THRESHOLDS.user_profile
    now_s = _now_s(now)
    schema = {"user_id": INT, "age_bucket": INT, "gender": INT, "event_timestamp": TIMESTAMP}

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "event_timestamp"]),
            gxe.ExpectColumnValuesToBeBetween(column="user_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(
                column="age_bucket", min_value=t.min_age_bucket, max_value=t.max_age_bucket
            ),
            gxe.ExpectColumnValuesToBeInSet(column="gender", value_set=list(t.genders)),
            gxe.ExpectColumnValuesToBeBetween(
                column="event_epoch_s",
                min_value=int(THRESHOLDS.events.earliest.timestamp()),
                max_value=now_s,
            ),
        ]

    return SuiteSpec(
        dataset="user_profile",
        name="user_profile",
        version=2,
        schema=schema,
        build=build,
        derived={"event_epoch_s": _epoch_s("event_timestamp")},
        drift=t.drift,
    )


def item_attributes_suite(*, now: datetime | None = None) -> SuiteSpec:
    """Item table: one row per (item, time), a category for every item."""
    import great_expectations.expectations as gxe

    t = THRESHOLDS.item_attributes
    now_s = _now_s(now)
    schema = {"item_id": INT, "category_id": INT, "price_bucket": INT, "event_timestamp": TIMESTAMP}

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["item_id", "event_timestamp"]),
            gxe.ExpectColumnValuesToBeBetween(column="item_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="category_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(
                column="price_bucket", min_value=t.min_price_bucket, max_value=t.max_price_bucket
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="event_epoch_s",
                min_value=int(THRESHOLDS.events.earliest.timestamp()),
                max_value=now_s,
            ),
        ]

    return SuiteSpec(
        dataset="item_attributes",
        name="item_attributes",
        version=2,
        schema=schema,
        build=build,
        derived={"event_epoch_s": _epoch_s("event_timestamp")},
        drift=t.drift,
    )


def ratings_suite(*, now: datetime | None = None) -> SuiteSpec:
    """Explicit ratings (rating models): keys, the scale, one rating per (user, item, time)."""
    import great_expectations.expectations as gxe

    t = THRESHOLDS.ratings
    now_s = _now_s(now)
    schema = {
        "user_id": INT,
        "item_id": INT,
        "rating": (*INT, *FLOAT),
        "event_timestamp": TIMESTAMP,
    }

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=["user_id", "item_id", "event_timestamp"]
            ),
            gxe.ExpectColumnValuesToBeBetween(column="user_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="item_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(
                column="rating", min_value=t.scale[0], max_value=t.scale[1]
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="event_epoch_s",
                min_value=int(THRESHOLDS.events.earliest.timestamp()),
                max_value=now_s,
            ),
        ]

    return SuiteSpec(
        dataset="ratings",
        name="ratings",
        version=1,
        schema=schema,
        build=build,
        derived={"event_epoch_s": _epoch_s("event_timestamp")},
        drift=t.drift,
    )


def _sequence_derived(known_items: Collection[int] | None) -> dict[str, Derive]:
    return {
        "items_len": _per_list("hist_item_ids", lists.length),
        "cats_len": _per_list("hist_category_ids", lists.length),
        "ts_len": _per_list("hist_timestamps", lists.length),
        "inner_padding": _per_list("hist_item_ids", lists.inner_padding),
        "unknown_items": _per_list("hist_item_ids", lists.unknown_ids(known_items)),
        "unsorted_steps": _per_list("hist_timestamps", lists.unsorted_steps),
        "last_behaviour_s": _per_list("hist_timestamps", _last_seconds),
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

    start_s, end_s = _window_s(window)
    end_s = min(end_s, _now_s(now)) if end_s is not None else _now_s(now)
    schema = {
        "user_id": INT,
        "event_timestamp": TIMESTAMP,
        "hist_item_ids": LIST,
        "hist_category_ids": LIST,
        "hist_behaviour_types": LIST,
        "hist_timestamps": LIST,
        "hist_len": INT,
        "hist_event_ids": LIST,
    }

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["user_id", "event_timestamp"]),
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
            gxe.ExpectColumnValuesToBeBetween(
                column="event_epoch_s", min_value=start_s, max_value=end_s
            ),
        ]

    return SuiteSpec(
        dataset="user_sequence",
        name="user_sequence",
        version=4,
        schema=schema,
        build=build,
        derived={
            **_sequence_derived(known_items),
            "events_len": _per_list("hist_event_ids", lists.length),
            "types_len": _per_list("hist_behaviour_types", lists.length),
            "unknown_types": _per_list(
                "hist_behaviour_types", lists.outside(BEHAVIOUR_TYPES.values())
            ),
            "event_epoch_s": _epoch_s("event_timestamp"),
        },
        drift=THRESHOLDS.user_sequence.drift,
    )


def _second_of_day(column: str) -> Derive:
    def derive(df: pd.DataFrame) -> pd.Series:
        return _epoch_s(column)(df) % 86_400

    return derive


def _window_aggregates_suite(
    *,
    prefix: str,
    dataset: str,
    key: str,
    extra: Mapping[str, tuple[str, ...]],
    extra_rules: Callable[[], list[Any]],
    window: tuple[datetime, datetime] | None,
    now: datetime | None,
) -> SuiteSpec:
    """The suite of a 1/7/30-day snapshot table (users, items): shared rules + its own."""
    start_s, end_s = _window_s(window)
    # A snapshot counts events before its midnight: the last may be the day after the log.
    end_s = min(end_s, _now_s(now)) + 86_400 if end_s is not None else _now_s(now) + 86_400
    kinds = ("impressions", "clicks", "purchases")
    counts = [f"{prefix}{k}_{w}d" for k in kinds for w in (1, 7, 30)]
    ctrs = [f"{prefix}ctr_7d", f"{prefix}ctr_30d"]
    schema: dict[str, tuple[str, ...]] = {
        key: INT,
        "event_timestamp": TIMESTAMP,
        **dict.fromkeys(counts, INT),
        **dict.fromkeys(ctrs, FLOAT),
        **extra,
    }

    def build() -> list[Any]:
        import great_expectations.expectations as gxe

        def at_least(a: str, b: str) -> Any:
            return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=a, column_B=b, or_equal=True
            )

        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=[key, "event_timestamp"]),
            gxe.ExpectColumnValuesToBeBetween(column=key, min_value=1),
            # Stamped at midnight UTC: what a day's snapshot knows is the days before it.
            gxe.ExpectColumnValuesToBeInSet(column="stamp_second_of_day", value_set=[0]),
            gxe.ExpectColumnValuesToBeBetween(
                column="event_epoch_s", min_value=start_s, max_value=end_s
            ),
            *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in counts],
            *[
                gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0.0, max_value=1.0)
                for c in ctrs
            ],
            # A window holds the shorter ones; a click is a clicked impression.
            *[
                at_least(f"{prefix}{k}_{b}d", f"{prefix}{k}_{a}d")
                for k in kinds
                for a, b in ((1, 7), (7, 30))
            ],
            *[at_least(f"{prefix}impressions_{w}d", f"{prefix}clicks_{w}d") for w in (1, 7, 30)],
            *extra_rules(),
        ]

    return SuiteSpec(
        dataset=dataset,
        name=dataset,
        version=1,
        schema=schema,
        build=build,
        derived={
            "event_epoch_s": _epoch_s("event_timestamp"),
            "stamp_second_of_day": _second_of_day("event_timestamp"),
        },
    )


def user_activity_suite(
    *, window: tuple[datetime, datetime] | None = None, now: datetime | None = None
) -> SuiteSpec:
    """Users' 1/7/30-day activity snapshots: counts nested and consistent, CTRs and shares
    in [0, 1], stamped at midnight within a day of the source log.

    Windowed counts move with traffic by design, so no drift rule: drift is watched on
    the raw events they are computed from.
    """

    def top_category() -> list[Any]:
        import great_expectations.expectations as gxe

        return [
            gxe.ExpectColumnValuesToBeBetween(column="user_top_category_30d", min_value=0),
            gxe.ExpectColumnValuesToBeBetween(
                column="user_top_category_share_30d", min_value=0.0, max_value=1.0
            ),
        ]

    return _window_aggregates_suite(
        prefix="user_",
        dataset="user_activity",
        key="user_id",
        extra={"user_top_category_30d": INT, "user_top_category_share_30d": FLOAT},
        extra_rules=top_category,
        window=window,
        now=now,
    )


def item_stats_suite(
    *, window: tuple[datetime, datetime] | None = None, now: datetime | None = None
) -> SuiteSpec:
    """Items' 1/7/30-day statistics snapshots (rules as `user_activity_suite`)."""

    def smoothed() -> list[Any]:
        import great_expectations.expectations as gxe

        return [
            gxe.ExpectColumnValuesToBeBetween(
                column="item_ctr_smoothed_30d", min_value=0.0, max_value=1.0
            )
        ]

    return _window_aggregates_suite(
        prefix="item_",
        dataset="item_stats",
        key="item_id",
        extra={"item_ctr_smoothed_30d": FLOAT},
        extra_rules=smoothed,
        window=window,
        now=now,
    )


def training_set_suite(*, max_len: int, known_items: Collection[int] | None = None) -> SuiteSpec:
    """Training set from the point-in-time join: labels, keys, histories, and no leakage.

    Each row's `event_timestamp` is its lookup time (just before the impression);
    every behaviour in its history must be at or before it, i.e. strictly before
    the impression.
    """
    import great_expectations.expectations as gxe

    t = THRESHOLDS.training_set
    schema = {
        "event_id": INT,
        "user_id": INT,
        "item_id": INT,
        "event_timestamp": TIMESTAMP,
        "label": INT,
        "hour": INT,
        "weekday": INT,
        "device": STR,
        "age_bucket": INT,
        "gender": INT,
        "category_id": INT,
        "price_bucket": INT,
        "hist_item_ids": LIST,
        "hist_category_ids": LIST,
        "hist_timestamps": LIST,
        "hist_len": INT,
    }

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

    derived = _sequence_derived(known_items)
    del derived["last_behaviour_s"]
    del derived["cats_len"]

    def lookup_us(df: pd.DataFrame) -> pd.Series:
        ts = _timestamps(df, "event_timestamp")
        return (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(microseconds=1)

    return SuiteSpec(
        dataset="training_set",
        name="training_set",
        version=2,
        schema=schema,
        build=build,
        derived={
            **derived,
            "last_behaviour_us": _per_list("hist_timestamps", lists.last),
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
        "hist_item_ids": LIST,
        "hist_category_ids": LIST,
        "hist_timestamps": LIST,
        "hist_len": INT,
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

    derived = _sequence_derived(known_items)
    del derived["last_behaviour_s"]
    del derived["cats_len"]
    return SuiteSpec(
        dataset="online_features",
        name="online_features",
        version=1,
        schema=schema,
        build=build,
        derived=derived,
    )
