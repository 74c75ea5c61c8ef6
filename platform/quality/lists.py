"""Vectorised per-row measures of list columns (behaviour sequences).

A list column is flattened once per validation (all values concatenated, plus
each row's length) and every measure is a numpy expression over the flat
array, so a million 50-long sequences are checked in seconds, not minutes of
per-row Python.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from recplat.io.arrow_lists import flat_lists, is_arrow_list


class ListTypeError(ValueError):
    """Some values of a list column are not lists (or hold non-integers)."""

    def __init__(self, *, column: str, count: int, examples: list[Any], detail: str) -> None:
        self.column, self.count, self.examples = column, count, examples
        super().__init__(detail)


@dataclass(frozen=True)
class Flat:
    """A list column as one flat int64 array.

    Attributes:
        values: Every element of every list, row after row.
        lengths: Each row's length (0 for null rows).
        present: Rows that hold a list (False for null rows).
        row: The row of each element of `values`.
    """

    values: np.ndarray
    lengths: np.ndarray
    present: np.ndarray
    row: np.ndarray

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.lengths)

    def per_row_sum(self, flags: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Sum of element flags per row (0 for empty or null rows)."""
        at = self.row if rows is None else rows
        return np.bincount(at, weights=flags, minlength=self.rows)


def _kind(value: Any) -> int:
    if isinstance(value, list | tuple | np.ndarray):
        return 1
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return 0
    return 2


def flatten(series: pd.Series, *, column: str) -> Flat:
    """Flatten a column of lists / tuples / arrays of integers; nulls allowed.

    Raises:
        ListTypeError: A value is neither null nor a list, or holds a non-integer.
    """
    if is_arrow_list(series):  # the vectorized join's columns: offsets and values as they are
        present = ~series.isna().to_numpy()
        offsets, flat = flat_lists(series)
        lengths = np.diff(offsets)
        return Flat(
            values=flat.astype(np.int64, copy=False),
            lengths=lengths,
            present=present,
            row=np.repeat(np.arange(len(lengths)), lengths),
        )
    values = series.to_numpy(dtype=object)
    fast = _flatten_clean(values)
    if fast is not None:
        return fast
    # The slow path finds what is wrong: 1 = a list, 0 = null (None/NaN/NA), 2 = anything else.
    codes = np.fromiter(map(_kind, values), dtype=np.int8, count=len(values))
    present = codes == 1
    bad = codes == 2
    if bad.any():
        examples = [values[i] for i in np.flatnonzero(bad)[:5]]
        raise ListTypeError(
            column=column,
            count=int(bad.sum()),
            examples=examples,
            detail=f"values must be lists of integers, got {type(examples[0]).__name__}",
        )
    lists = values[present]
    lengths = np.zeros(len(values), dtype=np.int64)
    lengths[present] = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = np.concatenate(list(lists)) if lengths.sum() else np.zeros(0, dtype=np.int64)
    if flat.dtype.kind not in "iu":
        # Python lists with an empty one concatenate as floats; anything else is a bad value.
        kinds = [np.asarray(v).dtype.kind for v in lists]
        wrong = [i for i, k in enumerate(kinds) if k not in "iu" and len(lists[i])]
        if wrong:
            raise ListTypeError(
                column=column,
                count=len(wrong),
                examples=[lists[i] for i in wrong[:5]],
                detail="lists must hold integers only",
            )
    flat = flat.astype(np.int64, copy=False)
    row = np.repeat(np.arange(len(values)), lengths)
    return Flat(values=flat, lengths=lengths, present=present, row=row)


def _flatten_clean(values: np.ndarray) -> Flat | None:
    """The common case in C loops: every row a list of integers. None when it is not."""
    try:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        flat = np.concatenate(list(values)) if lengths.sum() else np.zeros(0, dtype=np.int64)
    except (TypeError, ValueError):  # a null, a scalar, a string, ...
        return None
    if flat.ndim != 1 or len(flat) != lengths.sum() or flat.dtype.kind not in "iu":
        return None
    return Flat(
        values=flat.astype(np.int64, copy=False),
        lengths=lengths,
        present=np.ones(len(values), dtype=bool),
        row=np.repeat(np.arange(len(values)), lengths),
    )


class FlatCache:
    """Flattens each list column of one frame once, however many measures read it.

    Holds only a weak reference to the frame; `clear()` frees the arrays as soon
    as the derived columns are computed.
    """

    def __init__(self) -> None:
        self._frame: weakref.ReferenceType[pd.DataFrame] | None = None
        self._flats: dict[str, Flat] = {}

    def get(self, df: pd.DataFrame, column: str) -> Flat:
        """The flattened column of `df`."""
        if self._frame is None or self._frame() is not df:
            self._frame, self._flats = weakref.ref(df), {}
        if column not in self._flats:
            self._flats[column] = flatten(df[column], column=column)
        return self._flats[column]

    def clear(self) -> None:
        """Drop the cached arrays."""
        self._frame, self._flats = None, {}


Measure = Callable[[Flat], np.ndarray]


def length(flat: Flat) -> np.ndarray:
    """Length of each list."""
    return flat.lengths.astype(np.float64)


def inner_padding(flat: Flat) -> np.ndarray:
    """Padding ids (0) after the first real id of the row: padding belongs at the front."""
    real = flat.values != 0
    # Real ids seen so far within the row (cumulative count, restarted per row).
    seen = np.cumsum(real)
    starts = np.concatenate([[0], np.cumsum(flat.lengths)[:-1]])
    before_row = np.where(starts > 0, seen[np.maximum(starts - 1, 0)], 0)
    seen_in_row = seen - np.repeat(before_row, flat.lengths)
    return flat.per_row_sum((~real & (seen_in_row > 0)).astype(np.float64))


def unsorted_steps(flat: Flat) -> np.ndarray:
    """Neighbours out of order within each row (0 when sorted oldest -> newest)."""
    if len(flat.values) < 2:
        return np.zeros(flat.rows)
    same_row = flat.row[1:] == flat.row[:-1]
    down = (flat.values[1:] < flat.values[:-1]) & same_row
    return flat.per_row_sum(down.astype(np.float64), rows=flat.row[1:])


def last(flat: Flat) -> np.ndarray:
    """The newest (last) value of each row; 0 for empty rows."""
    out = np.zeros(flat.rows)
    ends = np.cumsum(flat.lengths) - 1
    nonempty = flat.lengths > 0
    out[nonempty] = flat.values[ends[nonempty]]
    return out


def outside(allowed: Collection[int]) -> Measure:
    """Values (padding 0 included) that are not in `allowed`: for codes, which are never 0."""
    codes = np.fromiter(allowed, dtype=np.int64)

    def measure(flat: Flat) -> np.ndarray:
        return flat.per_row_sum((~np.isin(flat.values, codes)).astype(np.float64))

    return measure


def unknown_ids(known: Collection[int] | None) -> Measure:
    """Ids (other than padding 0) that are not in `known`; None knows everything."""
    ids = None if known is None else np.fromiter(known, dtype=np.int64)

    def measure(flat: Flat) -> np.ndarray:
        if ids is None or not len(flat.values):
            return np.zeros(flat.rows)
        top = int(max(ids.max(initial=0), flat.values.max(initial=0)))
        if top < 50_000_000:  # a lookup table: O(n), no sort of the flat array
            table = np.zeros(top + 1, dtype=bool)
            table[ids[ids >= 0]] = True
            inside = flat.values >= 0
            is_known = np.zeros(len(flat.values), dtype=bool)
            is_known[inside] = table[flat.values[inside]]
        else:
            is_known = np.isin(flat.values, ids)
        unknown = (flat.values != 0) & ~is_known
        return flat.per_row_sum(unknown.astype(np.float64))

    return measure
