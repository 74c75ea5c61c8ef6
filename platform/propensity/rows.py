"""Propensity rows: a user's behaviour before a cutoff as model inputs, and the label.

The accepted event log becomes a step log (clicks and purchases, with the item's
category and each purchase's quantity and amount), sorted by user and time. A
row for (user, cutoff) reads only the user's steps strictly before the cutoff:
the newest `max_len` as a sequence (front-padded, oldest first) and every
earlier step as summary counts (recency, frequency, monetary). All of it is
found by binary search on (user, time) keys, so any set of (user, cutoff)
pairs, one cutoff per user or a different one per row (shifting, `--export`),
builds at numpy speed: no per-user Python loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from recplat.events.schema import BEHAVIOUR_TYPES

# Per-step numbers (the model's `seq_num`, F per step): log amount and quantity (0 for
# clicks), log days since the previous step, the step in the target category, log days
# before the cutoff.
STEP_FEATURES = ("log_amount", "log_quantity", "log_gap_days", "in_category", "log_age_days")
# Recency / frequency / monetary and sequence-summary features (the baselines' inputs).
SUMMARY_FEATURES = (
    "days_since_last_step",
    "days_since_last_purchase",
    "days_since_last_category_purchase",
    "days_since_last_category_click",
    "purchases",
    "category_purchases",
    "purchases_30d",
    "category_purchases_30d",
    "category_clicks_7d",
    "category_clicks_30d",
    "clicks_7d",
    "amount_total",
    "category_amount_total",
    "category_purchase_interval_days",
    "category_share_recent",
)
NEVER_DAYS = 999.0  # "days since" when it never happened
DAY_S = 86_400
CLICK, PURCHASE = BEHAVIOUR_TYPES["click"], BEHAVIOUR_TYPES["purchase"]


@dataclass(frozen=True)
class StepLog:
    """Behaviour steps sorted by (user, time, event id)."""

    user: np.ndarray
    ts: np.ndarray  # epoch seconds
    item: np.ndarray
    category: np.ndarray
    kind: np.ndarray  # 1 click, 2 purchase
    amount: np.ndarray
    quantity: np.ndarray
    users: np.ndarray  # distinct users, sorted
    keys: np.ndarray  # user rank * 2**34 + (ts - t0): sorted
    t0: int

    @property
    def end_s(self) -> int:
        return int(self.ts.max()) if len(self.ts) else 0

    def key(self, rank: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        offset = np.clip(np.asarray(seconds, np.int64) - self.t0, 0, 2**34 - 1)
        return rank.astype(np.int64) * 2**34 + offset

    def position(self, rank: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Index of each user's first step at or after `seconds` (its steps before end there)."""
        return np.searchsorted(self.keys, self.key(rank, seconds))

    def spans(
        self, users: np.ndarray, cutoffs_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per (user, cutoff): the user's rank, whether the log knows the user, and the
        [start, end) of its steps before the cutoff (empty for unknown users)."""
        rank = np.searchsorted(self.users, users)
        known = (rank < len(self.users)) & (
            self.users[np.minimum(rank, len(self.users) - 1)] == users
        )
        rank = np.where(known, rank, 0)
        start = np.where(known, self.position(rank, np.full_like(cutoffs_s, self.t0)), 0)
        end = np.where(known, self.position(rank, cutoffs_s), 0)
        return rank, known, start, end


def epoch_seconds(stamps: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Epoch seconds of UTC timestamps."""
    values = pd.to_datetime(stamps, utc=True)
    return ((values - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(np.int64)


def step_log(
    *, events: pd.DataFrame, items: pd.DataFrame, purchases: pd.DataFrame | None
) -> StepLog:
    """The behaviour steps of an accepted log (unclicked impressions are exposures, not
    behaviour, and are left out, as in the sequence view)."""
    behaviour = events[(events["event_type"] == "purchase") | (events["clicked"] == 1)]
    kind = np.where(behaviour["event_type"].to_numpy() == "purchase", PURCHASE, CLICK)
    category = (
        items.set_index("item_id")["category_id"]
        .reindex(behaviour["item_id"].to_numpy())
        .fillna(0)
        .to_numpy(np.int64)
    )
    amount = np.zeros(len(behaviour))
    quantity = np.where(kind == PURCHASE, 1, 0).astype(np.int64)
    if purchases is not None and len(purchases):
        paid = purchases.set_index("event_id").reindex(behaviour["event_id"].to_numpy())
        known = paid["amount"].notna().to_numpy()
        amount = np.where(known, paid["amount"].fillna(0).to_numpy(np.float64), amount)
        quantity = np.where(known, paid["quantity"].fillna(1).to_numpy(np.int64), quantity)
    user = behaviour["user_id"].to_numpy(np.int64)
    ts = epoch_seconds(behaviour["event_timestamp"])
    order = np.lexsort((behaviour["event_id"].to_numpy(), ts, user))
    return steps_from_arrays(
        user=user[order],
        ts=ts[order],
        item=behaviour["item_id"].to_numpy(np.int64)[order],
        category=category[order],
        kind=kind[order],
        amount=amount[order],
        quantity=quantity[order],
    )


def steps_from_arrays(
    *,
    user: np.ndarray,
    ts: np.ndarray,
    item: np.ndarray,
    category: np.ndarray,
    kind: np.ndarray,
    amount: np.ndarray,
    quantity: np.ndarray,
) -> StepLog:
    """A step log from aligned arrays already in (user, time) order (the event log's, or
    sequences read from the online store)."""
    users, rank = np.unique(user, return_inverse=True)
    t0 = int(ts.min()) - DAY_S if len(ts) else 0
    log = StepLog(
        user=user,
        ts=ts,
        item=item,
        category=category,
        kind=kind,
        amount=amount,
        quantity=quantity,
        users=users,
        keys=np.zeros(0, np.int64),
        t0=t0,
    )
    return StepLog(**{**log.__dict__, "keys": log.key(rank, ts)})


@dataclass(frozen=True)
class Rows:
    """Rows for (user, cutoff) pairs: model arrays and a frame of scalars (labels,
    summaries, the latest input time the gate checks)."""

    arrays: dict[str, np.ndarray]
    frame: pd.DataFrame


def _ffill_index(flag: np.ndarray) -> np.ndarray:
    """For every position, the last index <= it where `flag` holds (-1: none)."""
    index = np.where(flag, np.arange(len(flag)), -1)
    return np.maximum.accumulate(index) if len(index) else index


def _bfill_index(flag: np.ndarray) -> np.ndarray:
    """For every position, the first index >= it where `flag` holds (len: none)."""
    n = len(flag)
    index = np.where(flag, np.arange(n), n)
    return np.minimum.accumulate(index[::-1])[::-1] if n else index


def _days(now_s: np.ndarray, then_s: np.ndarray, found: np.ndarray) -> np.ndarray:
    return np.where(found, (now_s - then_s) / DAY_S, NEVER_DAYS)


def build_rows(
    log: StepLog,
    *,
    users: np.ndarray,
    cutoffs_s: np.ndarray,
    category: int,
    max_len: int,
    window_days: int | None,
    history: int | None = None,
) -> Rows:
    """Inputs (steps strictly before each row's cutoff) and, with a window, labels
    (a purchase in `category` in [cutoff, cutoff + window)).

    Args:
        history: Only the newest `history` steps before each cutoff exist for the row,
            summaries included: what the online store's sequence view holds (its last
            N behaviours), so rows built from the log and from the store are equal.
    """
    users = np.asarray(users, np.int64)
    cutoffs_s = np.asarray(cutoffs_s, np.int64)
    n = len(users)
    rank, known, start, end = log.spans(users, cutoffs_s)
    if history is not None:
        start = np.maximum(start, end - history)
    steps = end - start

    in_cat = log.category == category
    bought = log.kind == PURCHASE
    cat_bought = bought & in_cat
    cat_click = (log.kind == CLICK) & in_cat

    # The newest max_len steps, front-padded: position j of a row holds step end - L + j.
    # Only the real steps are computed (a flat array), then placed front-padded: position
    # j of a row holds step end - L + j.
    taken = np.minimum(steps, max_len)
    total_steps = int(taken.sum())
    row = np.repeat(np.arange(n), taken)
    offset = np.arange(total_steps) - np.repeat(np.cumsum(taken) - taken, taken)
    src = np.repeat(end - taken, taken) + offset
    col = max_len - np.repeat(taken, taken) + offset
    prev = np.where(src - 1 >= np.repeat(start, taken), src - 1, src)
    step_ts = log.ts[src]
    gap_days = (step_ts - log.ts[prev]) / DAY_S
    age_days = (np.repeat(cutoffs_s, taken) - step_ts) / DAY_S
    numbers = np.zeros((n, max_len, len(STEP_FEATURES)), np.float32)
    for channel, values in enumerate(
        (
            np.log1p(log.amount[src]),
            np.log1p(log.quantity[src]),
            np.log1p(np.maximum(gap_days, 0.0)),
            in_cat[src],
            np.log1p(np.maximum(age_days, 0.0)),
        )
    ):
        numbers[row, col, channel] = values

    def placed(values: np.ndarray) -> np.ndarray:
        out = np.zeros((n, max_len), np.int64)
        out[row, col] = values[src]
        return out

    arrays = {
        "seq_item": placed(log.item),
        "seq_cat": placed(log.category),
        "seq_kind": placed(log.kind),
        "seq_num": numbers.reshape(n, -1),
        "user_id": users,
    }
    # The time of the newest step placed in each row (its last column), for the gate.
    latest_input = np.where(taken > 0, placed(log.ts)[:, -1], -1)

    # Summaries over every step before the cutoff (prefix sums and fill indexes).
    def count(flag: np.ndarray, lo: np.ndarray) -> np.ndarray:
        cum = np.concatenate([[0], np.cumsum(flag)])
        return (cum[end] - cum[np.maximum(lo, start)]).astype(np.float64)

    def total(values: np.ndarray, lo: np.ndarray) -> np.ndarray:
        cum = np.concatenate([[0.0], np.cumsum(values)])
        return cum[end] - cum[np.maximum(lo, start)]

    def since(days_back: int) -> np.ndarray:
        return np.where(known, log.position(rank, cutoffs_s - days_back * DAY_S), 0)

    def last_time(flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        latest = _ffill_index(flag)[np.maximum(end - 1, 0)] if len(flag) else np.zeros(n, int)
        found = (steps > 0) & (latest >= start)
        return np.where(found, log.ts[np.maximum(latest, 0)], 0), found

    d30, d7 = since(30), since(7)
    last_any = np.where(steps > 0, log.ts[np.maximum(end - 1, 0)], 0)
    last_buy, has_buy = last_time(bought)
    last_cat_buy, has_cat_buy = last_time(cat_bought)
    last_cat_click, has_cat_click = last_time(cat_click)
    first_cat = _bfill_index(cat_bought)[np.minimum(start, max(len(cat_bought) - 1, 0))]
    cat_purchases = count(cat_bought, start)
    interval = np.where(
        cat_purchases > 1,
        (last_cat_buy - log.ts[np.minimum(first_cat, len(log.ts) - 1)])
        / DAY_S
        / np.maximum(cat_purchases - 1, 1),
        NEVER_DAYS,
    )
    recent = np.maximum(end - max_len, start)
    summary = {
        "days_since_last_step": _days(cutoffs_s, last_any, steps > 0),
        "days_since_last_purchase": _days(cutoffs_s, last_buy, has_buy),
        "days_since_last_category_purchase": _days(cutoffs_s, last_cat_buy, has_cat_buy),
        "days_since_last_category_click": _days(cutoffs_s, last_cat_click, has_cat_click),
        "purchases": count(bought, start),
        "category_purchases": cat_purchases,
        "purchases_30d": count(bought, d30),
        "category_purchases_30d": count(cat_bought, d30),
        "category_clicks_7d": count(cat_click, d7),
        "category_clicks_30d": count(cat_click, d30),
        "clicks_7d": count(log.kind == CLICK, d7),
        "amount_total": total(log.amount, start),
        "category_amount_total": total(np.where(in_cat, log.amount, 0.0), start),
        "category_purchase_interval_days": interval,
        "category_share_recent": count(in_cat, recent) / np.maximum(end - recent, 1),
    }
    # The same summaries, log-scaled, as the model's side input (`summary`).
    arrays["summary"] = np.log1p(np.stack([summary[k] for k in SUMMARY_FEATURES], axis=1)).astype(
        np.float32
    )
    frame = pd.DataFrame(
        {
            "user_id": users,
            "cutoff": pd.to_datetime(cutoffs_s, unit="s", utc=True),
            "steps": steps.astype(np.int64),
            # The newest input step's time (-1: no history), from the arrays themselves:
            # the gate holds it before the cutoff.
            "last_input_s": latest_input,
            **summary,
        }
    )
    if window_days is not None:
        # A purchase in the category in [cutoff, cutoff + window): steps end..window_end.
        window_end = np.where(known, log.position(rank, cutoffs_s + window_days * DAY_S), 0)
        cum = np.concatenate([[0], np.cumsum(cat_bought)])
        frame["label"] = ((cum[window_end] - cum[end]) > 0).astype(np.int64)
        arrays["label"] = frame["label"].to_numpy(np.float32)
    return Rows(arrays=arrays, frame=frame)


def users_at(log: StepLog, cutoff_s: int) -> np.ndarray:
    """Users with at least one step before the cutoff (the ones a row can describe)."""
    first = np.full(len(log.users), np.iinfo(np.int64).max)
    rank = np.searchsorted(log.users, log.user)
    np.minimum.at(first, rank, log.ts)
    return log.users[first < cutoff_s]


def shifted_cutoffs(
    log: StepLog, *, users: np.ndarray, cutoffs_s: np.ndarray, category: int, shift: int
) -> tuple[np.ndarray, np.ndarray]:
    """Shifting augmentation: for each (user, cutoff), the user's `shift` most recent
    purchases in the category before the cutoff, each a new cutoff (just at the
    purchase, so it is the label and not an input): positive rows by construction."""
    if shift < 1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cat_bought = (log.kind == PURCHASE) & (log.category == category)
    positions = np.flatnonzero(cat_bought)
    _, known, start, end = log.spans(np.asarray(users, np.int64), np.asarray(cutoffs_s, np.int64))
    lo = np.searchsorted(positions, start)
    hi = np.searchsorted(positions, end)  # positions[lo:hi]: the user's category purchases
    out_users, out_cutoffs = [], []
    for k in range(1, shift + 1):
        has = known & (hi - lo >= k)
        chosen = positions[np.maximum(hi - k, 0)[has]]
        out_users.append(users[has])
        out_cutoffs.append(log.ts[chosen])
    shifted_users = np.concatenate(out_users)
    shifted = np.concatenate(out_cutoffs)
    # Several purchases at one second would give one row twice.
    pairs = pd.DataFrame({"u": shifted_users, "c": shifted}).drop_duplicates()
    return pairs["u"].to_numpy(np.int64), pairs["c"].to_numpy(np.int64)
