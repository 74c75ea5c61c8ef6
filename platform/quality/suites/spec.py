"""What a suite is: its schema, derived columns, GX expectations and drift rule, and the
helpers the suites share (derived measures, the rules of keyed tables)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
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


def timestamps(df: pd.DataFrame, column: str) -> pd.Series:
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


def epoch_s(column: str) -> Derive:
    def derive(df: pd.DataFrame) -> pd.Series:
        ts = timestamps(df, column)
        return (ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)

    return derive


# One flattening per list column per validation, shared by all its measures.
LIST_CACHE = lists.FlatCache()


def per_list(column: str, measure: lists.Measure) -> Derive:
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


def last_seconds(flat: lists.Flat) -> np.ndarray:
    return np.floor_divide(lists.last(flat), 1_000_000)


def now_s(now: datetime | None) -> int:
    return int((now or datetime.now(UTC)).timestamp())


def window_s(window: tuple[datetime, datetime] | None) -> tuple[int | None, int | None]:
    if window is None:
        return None, None
    return int(window[0].timestamp()), int(window[1].timestamp())


def second_of_day(column: str) -> Derive:
    def derive(df: pd.DataFrame) -> pd.Series:
        return epoch_s(column)(df) % 86_400

    return derive


def keyed_table_rules(
    schema: Mapping[str, tuple[str, ...]], *, keys: Sequence[str], ids: Sequence[str] = ()
) -> list[Any]:
    """The rules every keyed, timestamped table shares: some rows, no nulls, one row per
    (keys, event_timestamp), ids >= 1."""
    import great_expectations.expectations as gxe

    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
        gxe.ExpectCompoundColumnsToBeUnique(column_list=[*keys, "event_timestamp"]),
        *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=1) for c in ids],
    ]


def stamped_between(start_s: int | None, end_s: int | None) -> Any:
    """Rows stamped (`event_epoch_s`, derived) within [start_s, end_s] (None: open)."""
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnValuesToBeBetween(
        column="event_epoch_s", min_value=start_s, max_value=end_s
    )


def since_earliest(now: datetime | None) -> Any:
    """Rows stamped between the earliest accepted event time and now."""
    return stamped_between(int(THRESHOLDS.events.earliest.timestamp()), now_s(now))


def keyed_spec(
    *,
    dataset: str,
    version: int,
    schema: Mapping[str, tuple[str, ...]],
    build: Callable[[], list[Any]],
    drift: DriftTolerance,
) -> SuiteSpec:
    """The suite of a keyed table whose only derived column is its stamp in epoch seconds."""
    return SuiteSpec(
        dataset=dataset,
        name=dataset,
        version=version,
        schema=schema,
        build=build,
        derived={"event_epoch_s": epoch_s("event_timestamp")},
        drift=drift,
    )
