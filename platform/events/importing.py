"""What every importer of a published data set shares: its result, its error, its line reader."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd


class ImportFormatError(ValueError):
    """A source file does not match its format; says which file, line and why."""

    def __init__(self, path: Path, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class ImportedData:
    """Tables in recplat's schema, plus explicit ratings for regression tasks."""

    users: pd.DataFrame
    items: pd.DataFrame
    events: pd.DataFrame
    ratings: pd.DataFrame  # user_id, item_id, rating, event_timestamp (empty: none)
    purchases: pd.DataFrame | None = None  # event_id, quantity, amount (transaction logs)
    categories: pd.DataFrame | None = None  # category_id, category (names of a log's ids)


def text_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers; a bad byte names its line."""
    if not path.exists():
        raise ImportFormatError(path, None, "file not found")
    try:
        text = path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        bad_line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ImportFormatError(
            path, bad_line, f"not valid {encoding} text ({exc.reason})"
        ) from None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def price_buckets(prices: pd.Series) -> np.ndarray:
    """Price deciles 0..9 (edges from the known prices); -1 where the price is unknown."""
    known = prices.dropna()
    if known.empty:
        return np.full(len(prices), -1, dtype=np.int64)
    edges = np.quantile(known.to_numpy(), np.linspace(0.1, 0.9, 9))
    buckets = np.searchsorted(edges, prices.fillna(0).to_numpy(), side="right")
    return np.where(prices.isna(), -1, buckets).astype(np.int64)
