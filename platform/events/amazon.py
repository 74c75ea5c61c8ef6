"""Amazon reviews importer (the DIEN paper's data): McAuley's 5-core files -> recplat's events.

Files (http://jmcauley.ucsd.edu/data/amazon/, e.g. the "Books" or "Electronics" category):

- `reviews_<Category>_5.json`: one JSON object per line, with `reviewerID`,
  `asin`, `overall` (1..5 stars) and `unixReviewTime` (seconds);
- `meta_<Category>.json`: one object per line, as McAuley ships it a Python
  literal (single quotes; read with `ast.literal_eval`, never `eval`) or JSON,
  with `asin`, `categories` (lists of paths) and optionally `price`.

Following the DIEN paper: every review is a clicked impression of the reviewed
item (so the reviews form the behaviour sequence, "next reviewed item
positive"), and each gets `negatives` sampled impressions of items the user
never reviewed, unclicked, at the same time. An item's category is the last
element of its first category path (as DIEN's preprocessing); items without
metadata get the category "unknown". Prices become deciles (price_bucket
0..9; -1 without a price); users carry no demographics (-1, "unknown"). The
star ratings are kept as explicit ratings for rating models.

Malformed input stops with the file, the line and the reason
(`ImportFormatError`); nothing is written by the importer itself.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from recplat.events.importing import ImportedData, ImportFormatError, price_buckets, text_lines
from recplat.events.schema import EVENT_COLUMNS

UNKNOWN_CATEGORY = "unknown"
REVIEW_FIELDS = ("reviewerID", "asin", "overall", "unixReviewTime")


def _record(path: Path, number: int, line: str, *, literal: bool) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        if not literal:
            raise ImportFormatError(path, number, f"not a JSON object ({exc.msg})") from None
        try:  # McAuley's metadata files are Python literals, not JSON
            value = ast.literal_eval(line)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ImportFormatError(path, number, "not a JSON object or Python literal") from None
    if not isinstance(value, dict):
        raise ImportFormatError(path, number, f"expected an object, got {type(value).__name__}")
    return value


def _reviews(path: Path) -> pd.DataFrame:
    rows = []
    for number, line in text_lines(path, "utf-8"):
        record = _record(path, number, line, literal=False)
        missing = [f for f in REVIEW_FIELDS if f not in record]
        if missing:
            raise ImportFormatError(path, number, f"missing field(s) {missing}")
        user, item = record["reviewerID"], record["asin"]
        if not isinstance(user, str) or not user or not isinstance(item, str) or not item:
            raise ImportFormatError(path, number, "reviewerID and asin must be non-empty strings")
        try:
            stars = float(record["overall"])
            seconds = int(record["unixReviewTime"])
        except (TypeError, ValueError):
            raise ImportFormatError(
                path,
                number,
                f"overall must be a number and unixReviewTime an integer, got "
                f"{record['overall']!r} and {record['unixReviewTime']!r}",
            ) from None
        if not 1.0 <= stars <= 5.0:
            raise ImportFormatError(path, number, f"overall must be 1..5 stars, got {stars}")
        rows.append((user, item, stars, seconds))
    if not rows:
        raise ImportFormatError(path, None, "no reviews")
    return pd.DataFrame(rows, columns=["reviewer", "asin", "rating", "unix"])


def _meta(path: Path) -> pd.DataFrame:
    rows = []
    for number, line in text_lines(path, "utf-8"):
        record = _record(path, number, line, literal=True)
        asin = record.get("asin")
        if not isinstance(asin, str) or not asin:
            raise ImportFormatError(path, number, "missing asin")
        paths = record.get("categories") or [[]]
        if not isinstance(paths, list) or not all(isinstance(p, list) for p in paths):
            raise ImportFormatError(path, number, "categories must be a list of lists")
        category = str(paths[0][-1]) if paths and paths[0] else UNKNOWN_CATEGORY
        price = record.get("price")
        try:
            price = float(price) if price is not None else np.nan
        except (TypeError, ValueError):
            raise ImportFormatError(
                path, number, f"price must be a number, got {price!r}"
            ) from None
        rows.append((asin, category, price))
    return pd.DataFrame(rows, columns=["asin", "category", "price"]).drop_duplicates("asin")


def load_amazon(*, reviews: Path, meta: Path, negatives: int = 1, seed: int = 0) -> ImportedData:
    """Read a reviews file and its metadata file into recplat's tables.

    Args:
        reviews: `reviews_<Category>_5.json`.
        meta: `meta_<Category>.json`.
        negatives: Unclicked impressions sampled per review (items the user never reviewed).
        seed: Seed of the negative sampling.

    Raises:
        ImportFormatError: A file is missing or malformed (file, line, reason).
    """
    if negatives < 0:
        raise ValueError("negatives must be >= 0")
    found = _reviews(reviews)
    described = _meta(meta)
    found = found.drop_duplicates(["reviewer", "asin", "unix"]).sort_values(
        ["unix", "reviewer", "asin"], kind="stable"
    )
    user_ids = {u: i for i, u in enumerate(sorted(found["reviewer"].unique()), start=1)}
    catalogue = pd.DataFrame({"asin": sorted(set(found["asin"]) | set(described["asin"]))})
    catalogue = catalogue.merge(described, on="asin", how="left")
    catalogue["category"] = catalogue["category"].fillna(UNKNOWN_CATEGORY)
    category_ids = {c: i for i, c in enumerate(sorted(catalogue["category"].unique()), start=1)}
    item_ids = {a: i for i, a in enumerate(catalogue["asin"], start=1)}

    start = pd.Timestamp(int(found["unix"].min()) - 86_400, unit="s", tz="UTC")
    users = pd.DataFrame(
        {
            "user_id": np.arange(1, len(user_ids) + 1, dtype=np.int64),
            "age_bucket": -1,
            "gender": -1,
            "event_timestamp": start,
        }
    )
    items = pd.DataFrame(
        {
            "item_id": catalogue["asin"].map(item_ids).to_numpy(np.int64),
            "category_id": catalogue["category"].map(category_ids).to_numpy(np.int64),
            "price_bucket": price_buckets(catalogue["price"]),
            "event_timestamp": start,
        }
    )
    positives = pd.DataFrame(
        {
            "user_id": found["reviewer"].map(user_ids).to_numpy(np.int64),
            "item_id": found["asin"].map(item_ids).to_numpy(np.int64),
            "event_timestamp": pd.to_datetime(found["unix"].to_numpy(), unit="s", utc=True),
            "clicked": 1,
        }
    )
    events = pd.concat(
        [positives, _negatives(positives, n_items=len(item_ids), per_review=negatives, seed=seed)],
        ignore_index=True,
    ).sort_values(
        ["event_timestamp", "user_id", "clicked"], ascending=[True, True, False], kind="stable"
    )
    ts = events["event_timestamp"]
    events = events.assign(
        event_id=np.arange(1, len(events) + 1, dtype=np.int64),
        event_type="impression",
        hour=ts.dt.hour.astype(np.int64),
        weekday=ts.dt.weekday.astype(np.int64),
        device="unknown",
    )[list(EVENT_COLUMNS)].reset_index(drop=True)
    ratings = positives[["user_id", "item_id", "event_timestamp"]].assign(
        rating=found["rating"].to_numpy(np.float64)
    )[["user_id", "item_id", "rating", "event_timestamp"]]
    return ImportedData(users=users, items=items, events=events, ratings=ratings)


def _negatives(
    positives: pd.DataFrame, *, n_items: int, per_review: int, seed: int
) -> pd.DataFrame:
    """`per_review` items per review that the user never reviewed, shown at the same time."""
    if per_review == 0 or n_items < 2:
        return positives.iloc[:0]
    rng = np.random.default_rng(seed)
    reviewed = positives.groupby("user_id")["item_id"].agg(set).to_dict()
    rows = []
    for user, stamp in zip(positives["user_id"], positives["event_timestamp"], strict=True):
        seen = reviewed[user]
        if len(seen) >= n_items:
            continue
        for _ in range(per_review):
            item = int(rng.integers(1, n_items + 1))
            while item in seen:
                item = int(rng.integers(1, n_items + 1))
            rows.append((user, item, stamp, 0))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "event_timestamp", "clicked"]).astype(
        {"user_id": np.int64, "item_id": np.int64, "clicked": np.int64}
    )


def write_amazon(
    *, users: pd.DataFrame, items: pd.DataFrame, events: pd.DataFrame, folder: Path, seed: int = 0
) -> tuple[Path, Path]:
    """Write recplat tables in the published Amazon format (for tests and benchmarks).

    Each user's first click on an item becomes a review (stars drawn 1..5); every
    item gets a metadata line, written as a Python literal like McAuley's files.
    Returns the reviews and meta paths.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    clicks = events[(events["event_type"] == "impression") & (events["clicked"] == 1)]
    clicks = clicks.drop_duplicates(["user_id", "item_id"])
    unix = pd.to_datetime(clicks["event_timestamp"], utc=True).astype("int64") // 1_000_000_000
    reviews = folder / "reviews_Synthetic_5.json"
    reviews.write_text(
        "".join(
            json.dumps(
                {
                    "reviewerID": f"A{u:08d}",
                    "asin": f"B{i:09d}",
                    "reviewerName": "Reviewer",
                    "helpful": [0, 0],
                    "reviewText": "Fine.",
                    "overall": float(rng.integers(1, 6)),
                    "summary": "ok",
                    "unixReviewTime": int(t),
                    "reviewTime": "",
                }
            )
            + "\n"
            for u, i, t in zip(clicks["user_id"], clicks["item_id"], unix, strict=True)
        ),
        encoding="utf-8",
    )
    meta = folder / "meta_Synthetic.json"
    meta.write_text(
        "".join(
            repr(
                {
                    "asin": f"B{i:09d}",
                    "title": f"Item {i}",
                    "price": round(float(5 + 10 * p), 2),
                    "categories": [["Synthetic", f"Category {c}"]],
                }
            )
            + "\n"
            for i, c, p in zip(
                items["item_id"], items["category_id"], items["price_bucket"], strict=True
            )
        ),
        encoding="utf-8",
    )
    return reviews, meta
