"""Windowed activity aggregates: users' and items' last 1/7/30 days, as daily snapshots.

A snapshot stamped D 00:00 UTC counts the events strictly before D, over the
window's days before it, so a point-in-time lookup at any t in day D sees
only events before t: the same rule as the sequence snapshots. A key gets a
snapshot on every day its longest window holds an event, plus one all-zero
snapshot on the day that window empties, so the latest snapshot (the one
Feast materializes online) never keeps counts that have aged out.

Counting is dense over (key, day) per chunk of keys, with prefix sums along
the days: memory is bounded by `max_cells`, whatever the log's size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from recplat.features.offline import utc_times

WINDOWS = (1, 7, 30)  # days
DAY_NS = 86_400 * 10**9
# Cells (keys x days x counters) counted at once: ~40 bytes each with the window sums.
MAX_CELLS = 5_000_000


def _day_index(stamps: pd.Series) -> tuple[np.ndarray, pd.Timestamp]:
    """Whole days since the first event's midnight (UTC), and that midnight."""
    # In nanoseconds whatever the column's unit (Parquet gives microseconds).
    ns = utc_times(stamps).dt.as_unit("ns").astype("int64").to_numpy()
    first = int(ns.min()) // DAY_NS * DAY_NS
    return (ns - first) // DAY_NS, pd.Timestamp(first, unit="ns", tz="UTC")


def window_snapshots(
    *,
    keys: np.ndarray,
    days: np.ndarray,
    counters: Mapping[str, np.ndarray],
    n_days: int,
    windows: Sequence[int] = WINDOWS,
    groups: np.ndarray | None = None,
    n_groups: int = 0,
    max_cells: int = MAX_CELLS,
) -> dict[str, np.ndarray]:
    """Window sums of per-event counters, one row per (key, snapshot day) kept.

    Args:
        keys: Entity id of each event (int64).
        days: Day index of each event (0 = the first day).
        counters: Per-event weights to sum (e.g. 1 for a click, else 0).
        n_days: Days in the log; snapshots run from day 1 to day `n_days`.
        windows: Window lengths in days.
        groups: Optional group (e.g. category id, 1..n_groups) of each event: the
            longest window's top group by the first counter and its share are added.
        max_cells: Bound on the dense block counted at once.

    Returns:
        Columns `key`, `day` (the snapshot day: it counts days < day), and
        `<counter>_<w>d` for each counter and window; with groups also
        `top_group` (0 when none) and `top_group_share`.
    """
    longest = max(windows)
    names = list(counters)
    values = np.stack([np.asarray(counters[n], dtype=np.int32) for n in names])  # (C, E)
    unique, inverse = np.unique(keys, return_inverse=True)
    width = n_days + 1  # snapshot days 0..n_days; day 0 counts nothing
    per_key = width * (len(names) + (n_groups if groups is not None else 0))
    chunk = max(1, max_cells // max(per_key, 1))
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(0, len(unique) + chunk, chunk))
    out: dict[str, list[np.ndarray]] = {}
    for n, lo_key in enumerate(range(0, len(unique), chunk)):
        lo, hi = bounds[n], bounds[n + 1]
        idx = order[lo:hi]
        local = inverse[idx] - lo_key
        n_keys = min(chunk, len(unique) - lo_key)
        daily = np.zeros((len(names), n_keys, width), dtype=np.int32)  # events on each day
        for c in range(len(names)):
            np.add.at(daily[c], (local, days[idx]), values[c, idx])
        # prefix[:, :, s] = events on days < s: a snapshot at s over w days is
        # prefix[s] - prefix[s - w].
        prefix = np.zeros((len(names), n_keys, width + 1), dtype=np.int64)
        np.cumsum(daily, axis=2, out=prefix[:, :, 1:])
        snap = np.arange(width)  # snapshot days
        sums = {
            w: prefix[:, :, snap] - prefix[:, :, np.maximum(snap - w, 0)] for w in windows
        }  # each (C, K, width)
        # (K, width): the longest window holds events
        active = np.asarray((sums[longest] > 0).any(axis=0))
        emptied = np.zeros_like(active)
        emptied[:, 1:] = ~active[:, 1:] & active[:, :-1]  # the first day it is empty again
        k_idx, s_idx = np.nonzero(active | emptied)
        out.setdefault("key", []).append(unique[lo_key + k_idx])
        out.setdefault("day", []).append(s_idx)
        for c, name in enumerate(names):
            for w in windows:
                out.setdefault(f"{name}_{w}d", []).append(sums[w][c, k_idx, s_idx])
        if groups is not None:
            by_group = np.zeros((n_keys, width, n_groups + 1), dtype=np.int32)
            np.add.at(by_group, (local, days[idx], groups[idx]), values[0, idx])
            cum = np.zeros((n_keys, width + 1, n_groups + 1), dtype=np.int64)
            np.cumsum(by_group, axis=1, out=cum[:, 1:])
            window = cum[:, snap] - cum[:, np.maximum(snap - longest, 0)]  # (K, width, G+1)
            picked = window[k_idx, s_idx]  # (N, G+1)
            top = picked.argmax(axis=1)
            total = picked.sum(axis=1)
            out.setdefault("top_group", []).append(np.where(total > 0, top, 0))
            share = np.divide(picked.max(axis=1), total, out=np.zeros(len(top)), where=total > 0)
            out.setdefault("top_group_share", []).append(share)
    return {
        name: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        for name, parts in out.items()
    }


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.divide(num, den, out=np.zeros(len(num)), where=den > 0)


def user_activity_table(*, events: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Per user and day: impressions, clicks, purchases over 1/7/30 days, CTR over 7/30
    days, and the category with most clicks over 30 days with its share of them.

    Columns are prefixed `user_` (`user_clicks_7d`): one request reads them beside
    the item statistics, and Feast wants feature names unique within a request."""
    counts = [f"{c}_{w}d" for c in ("impressions", "clicks", "purchases") for w in WINDOWS]
    columns = [f"user_{c}" for c in counts]
    columns += ["user_ctr_7d", "user_ctr_30d", "user_top_category_30d"]
    columns += ["user_top_category_share_30d"]
    if events.empty:
        return pd.DataFrame(columns=["user_id", "event_timestamp", *columns])
    days, first = _day_index(events["event_timestamp"])
    impression = (events["event_type"] == "impression").to_numpy()
    category = pd.Series(items["category_id"].to_numpy(), index=items["item_id"].to_numpy())
    cats = category.reindex(events["item_id"].to_numpy()).fillna(0).to_numpy(dtype=np.int64)
    found = window_snapshots(
        keys=events["user_id"].to_numpy(dtype=np.int64),
        days=days,
        counters={
            "clicks": impression & (events["clicked"] == 1).to_numpy(),
            "impressions": impression,
            "purchases": (events["event_type"] == "purchase").to_numpy(),
        },
        n_days=int(days.max()) + 1,
        groups=cats,
        n_groups=int(cats.max()),
    )
    table = pd.DataFrame(
        {
            "user_id": found["key"],
            "event_timestamp": first + pd.to_timedelta(found["day"], unit="D"),
            **{f"user_{c}": found[c].astype(np.int64) for c in counts},
            "user_ctr_7d": _ratio(found["clicks_7d"], found["impressions_7d"]),
            "user_ctr_30d": _ratio(found["clicks_30d"], found["impressions_30d"]),
            "user_top_category_30d": found["top_group"].astype(np.int64),
            "user_top_category_share_30d": found["top_group_share"],
        }
    )
    return table.sort_values(["user_id", "event_timestamp"], ignore_index=True)


def item_stats_table(*, events: pd.DataFrame, prior_ctr: float | None = None) -> pd.DataFrame:
    """Per item and day: impressions, clicks, purchases over 1/7/30 days, raw CTR over
    7/30 days and a smoothed 30-day CTR (100 prior impressions at the log's mean CTR).
    Columns are prefixed `item_`."""
    counts = [f"{c}_{w}d" for c in ("impressions", "clicks", "purchases") for w in WINDOWS]
    columns = [f"item_{c}" for c in counts]
    columns += ["item_ctr_7d", "item_ctr_30d", "item_ctr_smoothed_30d"]
    if events.empty:
        return pd.DataFrame(columns=["item_id", "event_timestamp", *columns])
    days, first = _day_index(events["event_timestamp"])
    impression = (events["event_type"] == "impression").to_numpy()
    clicked = impression & (events["clicked"] == 1).to_numpy()
    if prior_ctr is None:
        prior_ctr = float(clicked.sum() / max(impression.sum(), 1))
    found = window_snapshots(
        keys=events["item_id"].to_numpy(dtype=np.int64),
        days=days,
        counters={
            "clicks": clicked,
            "impressions": impression,
            "purchases": (events["event_type"] == "purchase").to_numpy(),
        },
        n_days=int(days.max()) + 1,
    )
    prior = 100.0
    table = pd.DataFrame(
        {
            "item_id": found["key"],
            "event_timestamp": first + pd.to_timedelta(found["day"], unit="D"),
            **{f"item_{c}": found[c].astype(np.int64) for c in counts},
            "item_ctr_7d": _ratio(found["clicks_7d"], found["impressions_7d"]),
            "item_ctr_30d": _ratio(found["clicks_30d"], found["impressions_30d"]),
            "item_ctr_smoothed_30d": (found["clicks_30d"] + prior * prior_ctr)
            / (found["impressions_30d"] + prior),
        }
    )
    return table.sort_values(["item_id", "event_timestamp"], ignore_index=True)
