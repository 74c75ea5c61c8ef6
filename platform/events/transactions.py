"""Transaction-log importer: one purchase per row -> recplat's events, items and purchases.

A plain log, CSV (with a header) or Parquet, with the columns

- `user_id` (required): a positive integer;
- `timestamp` (required): ISO 8601 (UTC unless it says otherwise) or epoch seconds;
- `item_id` (optional): a positive integer; without it each category is one item;
- `category` (optional): any label; without it every row is category "all";
- `quantity` (optional): a positive integer, default 1;
- `amount` (optional): what the row cost, >= 0; unknown amounts are recorded as 0.

Other columns are ignored. Every row becomes a `purchase` event (clicked = 1,
device "unknown"); categories get ids 1..K in sorted order (names kept in
`categories`); an item's price bucket is the decile of its median unit price
(-1 where no amount is known). A malformed row stops the import with the file,
the row (the CSV's line, or the Parquet row) and the field (`ImportFormatError`);
nothing is written by the importer itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from recplat.events.importing import ImportedData, ImportFormatError, price_buckets
from recplat.events.schema import EVENT_COLUMNS

REQUIRED = ("user_id", "timestamp")
OPTIONAL = ("item_id", "category", "quantity", "amount")
ALL_CATEGORY = "all"


def _read(path: Path) -> tuple[pd.DataFrame, int]:
    """The file's rows as text and the number of the first data row (CSV line or row 1)."""
    if not path.exists():
        raise ImportFormatError(path, None, "file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False), 2
        if suffix == ".parquet":
            return pd.read_parquet(path), 1
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise ImportFormatError(path, None, f"not a readable {suffix[1:]} file ({exc})") from None
    raise ImportFormatError(path, None, "expected a .csv or .parquet transaction log")


def _bad(
    path: Path, first: int, frame: pd.DataFrame, mask: np.ndarray, *, field: str, rule: str
) -> ImportFormatError:
    """The first offending row (`path:N` is the CSV's line or the Parquet's row)."""
    row = int(np.flatnonzero(mask)[0])
    value = frame[field].iloc[row]
    count = int(mask.sum())
    more = f" ({count:,} rows in all)" if count > 1 else ""
    return ImportFormatError(path, first + row, f"field {field}: {rule}, got {value!r}{more}")


def _integers(path: Path, first: int, frame: pd.DataFrame, field: str, *, low: int) -> np.ndarray:
    values = pd.to_numeric(frame[field].replace("", np.nan), errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < low)
    if bad.any():
        raise _bad(path, first, frame, bad, field=field, rule=f"must be an integer >= {low}")
    return values.astype(np.int64)


def _timestamps(path: Path, first: int, frame: pd.DataFrame) -> pd.Series:
    raw = frame["timestamp"]
    numeric = pd.to_numeric(raw, errors="coerce")
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        stamps = pd.to_datetime(raw, utc=True)
    elif numeric.notna().all():
        stamps = pd.to_datetime(numeric, unit="s", utc=True, errors="coerce")
    else:
        stamps = pd.to_datetime(raw.astype(str), utc=True, errors="coerce", format="ISO8601")
    bad = stamps.isna().to_numpy()
    if bad.any():
        raise _bad(
            path, first, frame, bad, field="timestamp", rule="must be ISO 8601 or epoch seconds"
        )
    return stamps.reset_index(drop=True)


def load_transactions(path: Path) -> ImportedData:
    """Read a transaction log into recplat's tables (events, users, items, purchases).

    Raises:
        ImportFormatError: The file is missing, unreadable, lacks a required column,
            or a row's field breaks its rule (file, row, field, value).
    """
    frame, first = _read(path)
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ImportFormatError(
            path, None, f"missing column(s) {missing}; found {list(frame.columns)}"
        )
    if frame.empty:
        raise ImportFormatError(path, None, "no transactions")
    frame = frame.reset_index(drop=True)
    users = _integers(path, first, frame, "user_id", low=1)
    stamps = _timestamps(path, first, frame)
    if "category" in frame.columns:
        labels = frame["category"].astype(str).str.strip()
        empty = (labels == "").to_numpy()
        if empty.any():
            raise _bad(path, first, frame, empty, field="category", rule="must not be empty")
    else:
        labels = pd.Series(ALL_CATEGORY, index=frame.index)
    names = sorted(labels.unique())
    category_ids = {name: i for i, name in enumerate(names, start=1)}
    category = labels.map(category_ids).to_numpy(np.int64)
    if "item_id" in frame.columns:
        items = _integers(path, first, frame, "item_id", low=1)
    else:
        items = category.copy()  # one item per category
    quantity = (
        _integers(path, first, frame, "quantity", low=1)
        if "quantity" in frame.columns
        else np.ones(len(frame), dtype=np.int64)
    )
    if "amount" in frame.columns:
        text = frame["amount"].replace("", np.nan)
        amount = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
        bad = (text.notna().to_numpy() & ~np.isfinite(amount)) | (amount < 0)
        if bad.any():
            raise _bad(path, first, frame, bad, field="amount", rule="must be a number >= 0")
    else:
        amount = np.full(len(frame), np.nan)

    log = pd.DataFrame(
        {"user_id": users, "item_id": items, "event_timestamp": stamps, "category_id": category}
    ).assign(quantity=quantity, amount=amount)
    item_category = log.groupby("item_id")["category_id"].nunique()
    split = item_category[item_category > 1]
    if len(split):
        item = int(split.index[0])
        rows = np.flatnonzero(log["item_id"].to_numpy() == item)
        raise ImportFormatError(
            path,
            first + int(rows[0]),
            f"field category: item {item} is listed under {int(split.iloc[0])} categories "
            "(an item has one category)",
        )
    log = log.sort_values(["event_timestamp", "user_id", "item_id"], kind="stable")
    log = log.reset_index(drop=True)
    ts = log["event_timestamp"]
    events = pd.DataFrame(
        {
            "event_id": np.arange(1, len(log) + 1, dtype=np.int64),
            "user_id": log["user_id"],
            "item_id": log["item_id"],
            "event_timestamp": ts,
            "event_type": "purchase",
            "clicked": np.ones(len(log), dtype=np.int64),
            "hour": ts.dt.hour.astype(np.int64),
            "weekday": ts.dt.weekday.astype(np.int64),
            "device": "unknown",
        }
    )[list(EVENT_COLUMNS)]
    start = ts.min() - pd.Timedelta(days=1)
    catalogue = log.assign(unit=log["amount"] / log["quantity"]).groupby("item_id")
    item_table = pd.DataFrame(
        {
            "item_id": catalogue.size().index.to_numpy(np.int64),
            "category_id": catalogue["category_id"].first().to_numpy(np.int64),
            "price_bucket": price_buckets(catalogue["unit"].median()),
            "event_timestamp": start,
        }
    )
    user_ids = np.unique(users)
    user_table = pd.DataFrame(
        {"user_id": user_ids, "age_bucket": -1, "gender": -1, "event_timestamp": start}
    )
    purchases = pd.DataFrame(
        {
            "event_id": events["event_id"],
            "quantity": log["quantity"].astype(np.int64),
            "amount": log["amount"].fillna(0.0).astype(np.float64),
        }
    )
    ratings = pd.DataFrame(
        {
            "user_id": pd.Series(dtype=np.int64),
            "item_id": pd.Series(dtype=np.int64),
            "rating": pd.Series(dtype=np.float64),
            "event_timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )
    categories = pd.DataFrame(
        {"category_id": np.arange(1, len(names) + 1, dtype=np.int64), "category": names}
    )
    return ImportedData(
        users=user_table,
        items=item_table,
        events=events,
        ratings=ratings,
        purchases=purchases,
        categories=categories,
    )
