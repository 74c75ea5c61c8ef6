"""Offline feature tables computed from the accepted event log.

Every table carries `event_timestamp`, the moment its values became known.
Sequence snapshots are stamped with the click time, so a lookup "as of just
before t" (see `recplat.training.training_set`) sees only behaviour strictly
before t.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from recplat.events.schema import BEHAVIOUR_TYPES, ITEM_COLUMNS, USER_COLUMNS


def utc_times(timestamps: pd.Series) -> pd.Series:
    """Timestamps as tz-aware UTC (naive ones are taken as UTC).

    A column that already holds times is converted directly: `pd.to_datetime` would
    still walk its first values in Python to decide on caching (0.2 s over one
    materialization here).
    """
    if isinstance(timestamps.dtype, pd.DatetimeTZDtype):
        return timestamps.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(timestamps.dtype):
        return timestamps.dt.tz_localize("UTC")
    return pd.to_datetime(timestamps, utc=True)


def epoch_micros(timestamps: pd.Series) -> np.ndarray:
    """Timestamps as integer microseconds since the Unix epoch (UTC), whatever their unit."""
    since = utc_times(timestamps) - pd.Timestamp(0, tz="UTC")
    return (since // pd.Timedelta(microseconds=1)).to_numpy(dtype=np.int64)


def user_profile_table(users: pd.DataFrame) -> pd.DataFrame:
    """Static user attributes, one row per user."""
    return users[list(USER_COLUMNS)].copy()


def item_attributes_table(items: pd.DataFrame) -> pd.DataFrame:
    """Item attributes, one row per item."""
    return items[list(ITEM_COLUMNS)].copy()


def behaviours(events: pd.DataFrame, *, impressions: bool = False) -> pd.DataFrame:
    """The behaviour stream that feeds sequences, per user in (time, event id) order.

    Clicked impressions are clicks, purchase rows purchases; the code of each
    (`BEHAVIOUR_TYPES`) is in `behaviour_type`. Unclicked impressions are behaviours
    (code 3) only with `impressions` (explicit feedback, where what a user rated
    low says as much as what they liked); otherwise they are none.
    """
    shown = events["event_type"] == "impression"
    clicks = shown & (events["clicked"] == 1)
    purchases = events["event_type"] == "purchase"
    keep = (shown if impressions else clicks) | purchases
    kind = np.where(
        purchases,
        BEHAVIOUR_TYPES["purchase"],
        np.where(clicks, BEHAVIOUR_TYPES["click"], BEHAVIOUR_TYPES["impression"]),
    )
    kept = events[keep].assign(behaviour_type=kind[keep.to_numpy()].astype(np.int64))
    return kept.sort_values(["user_id", "event_timestamp", "event_id"], kind="stable")


def sequence_snapshots(
    *, events: pd.DataFrame, items: pd.DataFrame, max_len: int, impressions: bool = False
) -> pd.DataFrame:
    """One snapshot of each user's last `max_len` behaviours per behaviour time.

    Behaviours that share a timestamp (one request) land in one snapshot, so
    (user_id, event_timestamp) is unique. Arrays run oldest -> newest.

    Args:
        events: The accepted event log.
        items: Item attributes (for the category of each behaviour).
        max_len: N, the longest sequence kept.
        impressions: Keep unclicked impressions too (`behaviours`).

    Returns:
        Frame with user_id, event_timestamp, hist_item_ids, hist_category_ids,
        hist_behaviour_types (`BEHAVIOUR_TYPES` codes), hist_timestamps (epoch
        microseconds, UTC), hist_len and hist_event_ids.
    """
    if max_len < 1:
        raise ValueError("max_len must be >= 1")
    steps = behaviours(events, impressions=impressions)
    category = pd.Series(items["category_id"].to_numpy(), index=items["item_id"].to_numpy())
    user = steps["user_id"].to_numpy()
    item = steps["item_id"].to_numpy(dtype=np.int64)
    cat = category.reindex(item).fillna(0).to_numpy(dtype=np.int64)
    ts = steps["event_timestamp"].to_numpy()
    micros = epoch_micros(steps["event_timestamp"])
    event_ids = steps["event_id"].to_numpy(dtype=np.int64)
    kinds = steps["behaviour_type"].to_numpy(dtype=np.int64)

    # A snapshot closes at the last behaviour of each (user, timestamp) group.
    n = len(steps)
    closes = np.ones(n, dtype=bool)
    if n > 1:
        closes[:-1] = (user[1:] != user[:-1]) | (ts[1:] != ts[:-1])
    # Start of each user's run, to cap sequences at the user's own history.
    starts = np.zeros(n, dtype=np.int64)
    if n:
        first = np.ones(n, dtype=bool)
        first[1:] = user[1:] != user[:-1]
        starts = np.maximum.accumulate(np.where(first, np.arange(n), 0))

    ends = np.flatnonzero(closes)
    lows = np.maximum(starts[ends], ends + 1 - max_len)
    hist_items = [item[lo : hi + 1].tolist() for lo, hi in zip(lows, ends, strict=True)]
    hist_cats = [cat[lo : hi + 1].tolist() for lo, hi in zip(lows, ends, strict=True)]
    hist_kinds = [kinds[lo : hi + 1].tolist() for lo, hi in zip(lows, ends, strict=True)]
    hist_ts = [micros[lo : hi + 1].tolist() for lo, hi in zip(lows, ends, strict=True)]
    hist_events = [event_ids[lo : hi + 1].tolist() for lo, hi in zip(lows, ends, strict=True)]
    return pd.DataFrame(
        {
            "user_id": user[ends].astype(np.int64),
            "event_timestamp": steps["event_timestamp"].to_numpy()[ends],
            "hist_item_ids": hist_items,
            "hist_category_ids": hist_cats,
            "hist_behaviour_types": hist_kinds,
            "hist_timestamps": hist_ts,
            "hist_len": (ends + 1 - lows).astype(np.int64),
            "hist_event_ids": hist_events,
        }
    ).assign(event_timestamp=lambda f: pd.to_datetime(f["event_timestamp"], utc=True))
