"""Parquet I/O that never leaves a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write a frame atomically with microsecond timestamps.

    The file appears under `path` only once it is complete (write to a temp
    file in the same folder, then rename). Timestamps are coerced to
    microseconds: duckdb (Feast's offline store) cannot materialize
    nanosecond timestamps.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, coerce_timestamps="us", allow_truncated_timestamps=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_parquet(path: Path) -> pd.DataFrame:
    """Read a Parquet file, naming the file when it is missing or not Parquet."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file (run the step that writes it first)")
    try:
        return pd.read_parquet(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{path}: not a readable Parquet file ({exc})") from exc
