"""Columns of integer lists held as Arrow lists (offsets + one flat array).

The vectorized point-in-time join (`recplat.features.point_in_time`) hands
sequences on in this form; checks and encoding read the offsets and values
directly instead of a Python list per row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def list_lengths(series: pd.Series) -> np.ndarray:
    """Length of each list of an Arrow list column (0 for null)."""
    lists = _arrow_lists(series)
    return np.nan_to_num(pc.list_value_length(lists).to_numpy(zero_copy_only=False)).astype(
        np.int64
    )


def is_arrow_list(series: pd.Series) -> bool:
    """Whether a column holds Arrow lists (the vectorized join's list features)."""
    dtype = series.dtype
    return isinstance(dtype, pd.ArrowDtype) and (
        pa.types.is_list(dtype.pyarrow_dtype) or pa.types.is_large_list(dtype.pyarrow_dtype)
    )


def _arrow_lists(series: pd.Series) -> pa.Array:
    array = pa.array(series)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def flat_lists(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, values) of an Arrow list column, nulls as empty lists."""
    return flat_arrays(_arrow_lists(series))


def flat_arrays(lists: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets from 0, values) of an Arrow list array, nulls as empty lists."""
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    if lists.null_count:
        lists = pc.if_else(
            pc.is_null(lists), pa.scalar([], type=lists.type), lists
        ).combine_chunks()
    # A slice keeps the whole child array; its offsets are absolute into it.
    offsets = lists.offsets.to_numpy().astype(np.int64)
    values = lists.values.to_numpy(zero_copy_only=False)
    return offsets - offsets[0], values[offsets[0] : offsets[-1]]


def pad_flat(offsets: np.ndarray, values: np.ndarray, max_len: int) -> np.ndarray:
    """Left-pad rows given as (offsets, values) to `max_len`, keeping the newest."""
    n = len(offsets) - 1
    lengths = np.minimum(np.diff(offsets), max_len)
    out = np.zeros((n, max_len), dtype=np.int64)
    if not n:
        return out
    ends = offsets[1:]
    cols = np.arange(max_len)
    # Column c of row r holds values[end - max_len + c] when that is inside the row.
    idx = ends[:, None] - max_len + cols[None, :]
    inside = cols[None, :] >= (max_len - lengths)[:, None]
    out[inside] = values[idx[inside]]
    return out


def arrow_table(arrays: dict[str, np.ndarray]) -> pa.Table:
    """Aligned arrays as an Arrow table, 2-D arrays as fixed-size lists (a row each), the
    form Ray Data carries them in and hands back as 2-D arrays."""
    columns = {}
    for name, values in arrays.items():
        if values.ndim == 2:
            flat = pa.array(np.ascontiguousarray(values).reshape(-1))
            columns[name] = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
        else:
            columns[name] = pa.array(values)
    return pa.table(columns)


def as_matrix(column: np.ndarray) -> np.ndarray:
    """A list column back as a 2-D array (Ray Data may leave it as arrays of arrays)."""
    return np.stack(list(column)) if column.dtype == object else column
