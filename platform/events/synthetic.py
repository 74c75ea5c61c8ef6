"""Synthetic event log with drifting interests (deterministic for a seed).

Generative process (docs/data.md has the long form):

1. Categories 1..C sit on a ring, so "neighbouring interests" is defined.
2. Items get a category (uniform), a popularity weight (Zipf, exponent 0.8),
   a latent quality q ~ N(0, 0.5) and a price bucket 0..9.
3. Users get a profile (age bucket, gender), a preferred device, an activity
   level (log-normal) and two interest categories.
4. Each user has sessions spread over `days`; at every session each interest
   moves to a neighbouring category with probability `drift`. Interests
   therefore drift over time, and only recent behaviour reveals them.
5. A session is one ranking request at one timestamp showing
   `impressions_per_request` items: half from the user's current interests,
   half from global popularity.
6. Click probability is a logistic function of
   - the target's match with the current interests (1 in, 0.5 neighbour),
   - the share of the user's last `recent_window` clicks in the target's category
     (affinity to *recent* behaviour),
   - item quality,
   - context: a device x category effect and an evening (18-23h) lift.
7. A click turns into a purchase with probability sigmoid(q - 1.5), a
   `purchase` row 1-600 s later.
8. Every purchase gets a quantity (1 + Poisson(0.3)) and an amount (its unit
   price, 5 x (price bucket + 1) +-10%, times the quantity): the `purchases` table.
9. With `shoppers` on (`recplat data generate --shoppers`), a shopping process
   is added (its own random stream, so the rest stays as it was): a share
   `never_buyers` of users never buy (their purchases are dropped) but browse
   now and then; every other user has one or two needs (categories) bought in
   cycles of 5-25 days (each cycle +-25%), and browses the category (1-3
   sessions of clicks) in the 3 days before each purchase.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from recplat.events.schema import DEVICES, EVENT_COLUMNS

START: datetime = datetime(2026, 1, 1, tzinfo=UTC)
# One event as the generator builds it: user, item, offset (s), kind (0 impression,
# 1 purchase), event type, clicked, hour, weekday, device.
Row = tuple[int, int, int, int, str, int, int, int, str]
# Evening-heavy hour-of-day profile for sessions.
_HOUR_WEIGHTS = np.array(
    [1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 5, 4, 4, 4, 4, 5, 7, 8, 8, 7, 5, 3], float
)


@dataclass(frozen=True)
class GeneratorConfig:
    """Knobs of the synthetic generator.

    Attributes:
        users: Number of users (ids 1..users).
        items: Number of items (ids 1..items).
        categories: Number of item categories on the interest ring.
        impressions: Target number of impression rows (the training examples).
        impressions_per_request: Items shown per ranking request.
        days: Length of the simulated period, starting 2026-01-01 UTC.
        drift: Per-session probability that an interest moves to a neighbour.
        recent_window: How many of the user's last clicks define "recent behaviour".
        seed: Seed of the random generators (the events' and, derived, the purchases').
        shoppers: Add the shopping process (purchase cycles, browsing before buying,
            never-buyers), the signal a purchase-propensity model looks for.
        never_buyers: Share of users who never buy (with `shoppers`).
    """

    users: int = 2000
    items: int = 1000
    categories: int = 20
    impressions: int = 120_000
    impressions_per_request: int = 8
    days: int = 30
    drift: float = 0.15
    recent_window: int = 5
    seed: int = 7
    shoppers: bool = False
    never_buyers: float = 0.3

    def __post_init__(self) -> None:
        for name in ("users", "items", "categories", "impressions", "days"):
            if getattr(self, name) < 1:
                raise ValueError(f"GeneratorConfig.{name} must be >= 1")
        if self.categories < 3:
            raise ValueError("GeneratorConfig.categories must be >= 3 (a ring)")
        if not 1 <= self.impressions_per_request <= self.items:
            raise ValueError("impressions_per_request must be in 1..items")
        if self.recent_window < 1:
            raise ValueError("GeneratorConfig.recent_window must be >= 1")
        if not 0.0 <= self.drift <= 1.0:
            raise ValueError("GeneratorConfig.drift must be in [0, 1]")
        if not 0.0 <= self.never_buyers <= 1.0:
            raise ValueError("GeneratorConfig.never_buyers must be in [0, 1]")


@dataclass(frozen=True)
class SyntheticData:
    """The generated tables (schemas in `recplat.events.schema`)."""

    users: pd.DataFrame
    items: pd.DataFrame
    events: pd.DataFrame
    purchases: pd.DataFrame  # event_id, quantity, amount of every purchase event


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _ring_distance(a: int, b: int, n: int) -> int:
    d = abs(a - b) % n
    return min(d, n - d)


def generate(config: GeneratorConfig) -> SyntheticData:
    """Generate users, items and an event log.

    Args:
        config: Generator knobs; the same config always gives the same data.

    Returns:
        Users, items and events frames.
    """
    rng = np.random.default_rng(config.seed)
    n_cat, n_items = config.categories, config.items

    # Items (ids are 1-based: 0 means unknown / padding downstream).
    item_cat = rng.integers(1, n_cat + 1, size=n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity = rng.permutation(popularity)
    quality = rng.normal(0.0, 0.5, size=n_items)
    items = pd.DataFrame(
        {
            "item_id": np.arange(1, n_items + 1, dtype=np.int64),
            "category_id": item_cat.astype(np.int64),
            "price_bucket": rng.integers(0, 10, size=n_items).astype(np.int64),
            "event_timestamp": pd.Timestamp(START) - pd.Timedelta(days=1),
        }
    )
    global_p = popularity / popularity.sum()
    by_cat = {c: np.flatnonzero(item_cat == c) for c in range(1, n_cat + 1)}
    cat_p = {c: global_p[idx] / global_p[idx].sum() for c, idx in by_cat.items() if len(idx)}

    # Users.
    n_users = config.users
    users = pd.DataFrame(
        {
            "user_id": np.arange(1, n_users + 1, dtype=np.int64),
            "age_bucket": rng.integers(0, 6, size=n_users).astype(np.int64),
            "gender": rng.integers(0, 2, size=n_users).astype(np.int64),
            "event_timestamp": pd.Timestamp(START) - pd.Timedelta(days=1),
        }
    )
    activity = rng.lognormal(0.0, 0.6, size=n_users)
    requests_total = max(1, config.impressions // config.impressions_per_request)
    sessions = rng.multinomial(requests_total, activity / activity.sum())
    preferred_device = rng.integers(0, len(DEVICES), size=n_users)

    rows: list[Row] = []
    span_s = config.days * 86_400
    hour_p = _HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()
    k = config.impressions_per_request
    for u in range(n_users):
        n_sess = int(sessions[u])
        if n_sess == 0:
            continue
        user_id = u + 1
        interests = list(rng.choice(np.arange(1, n_cat + 1), size=2, replace=False))
        days = np.sort(rng.integers(0, config.days, size=n_sess))
        hours = rng.choice(24, size=n_sess, p=hour_p)
        secs = rng.integers(0, 3600, size=n_sess)
        offsets = np.minimum(days * 86_400 + hours * 3600 + secs, span_s - 1)
        order = np.argsort(offsets, kind="stable")
        recent: list[int] = []  # categories of the last clicks, newest last
        for s in order:
            for i in range(len(interests)):
                if rng.random() < config.drift:
                    step = 1 if rng.random() < 0.5 else -1
                    interests[i] = (interests[i] - 1 + step) % n_cat + 1
            ts_s = int(offsets[s])
            hour = int(hours[s])
            weekday = (START.weekday() + ts_s // 86_400) % 7
            dev = preferred_device[u] if rng.random() < 0.7 else rng.integers(0, 3)
            device = DEVICES[int(dev)]
            n_interest = k // 2
            picks = [
                int(rng.choice(by_cat[c], p=cat_p[c]))
                for c in rng.choice(interests, size=n_interest)
                if len(by_cat[c])
            ]
            picks += list(rng.choice(n_items, size=k - len(picks), p=global_p))
            clicked_cats: list[int] = []
            for idx in picks:
                cat = int(item_cat[idx])
                dist = min(_ring_distance(cat, c, n_cat) for c in interests)
                match = 1.0 if dist == 0 else (0.5 if dist == 1 else 0.0)
                window = recent[-config.recent_window :]
                affinity = window.count(cat) / len(window) if window else 0.0
                context = 0.6 if (cat + int(dev)) % 3 == 0 else -0.2
                context += 0.3 if 18 <= hour <= 23 else 0.0
                logit = -2.6 + 1.6 * match + 1.8 * affinity + 0.8 * quality[idx] + context
                click = int(rng.random() < _sigmoid(logit))
                rows.append((user_id, idx + 1, ts_s, 0, "impression", click, hour, weekday, device))
                if click:
                    clicked_cats.append(cat)
                    if rng.random() < _sigmoid(quality[idx] - 1.5):
                        p_ts = min(ts_s + int(rng.integers(1, 600)), span_s - 1)
                        rows.append(
                            (user_id, idx + 1, p_ts, 1, "purchase", 1, hour, weekday, device)
                        )
            # Clicks of this request become "recent behaviour" only afterwards.
            recent.extend(clicked_cats)

    if config.shoppers:
        shopping = np.random.default_rng((config.seed, 1))
        buyers = shopping.random(n_users) >= config.never_buyers
        # Never-buyers keep their clicks, lose their purchases.
        rows = [r for r in rows if r[3] == 0 or buyers[r[0] - 1]]
        rows += _shopping_rows(
            config, shopping, buyers=buyers, by_cat=by_cat, preferred=preferred_device
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "user_id",
            "item_id",
            "offset_s",
            "kind",
            "event_type",
            "clicked",
            "hour",
            "weekday",
            "device",
        ],
    )
    frame = frame.sort_values(["offset_s", "user_id", "kind"], kind="stable").reset_index(drop=True)
    events = pd.DataFrame(
        {
            "event_id": np.arange(1, len(frame) + 1, dtype=np.int64),
            "user_id": frame["user_id"].astype(np.int64),
            "item_id": frame["item_id"].astype(np.int64),
            "event_timestamp": pd.Timestamp(START) + pd.to_timedelta(frame["offset_s"], unit="s"),
            "event_type": frame["event_type"].astype(str),
            "clicked": frame["clicked"].astype(np.int64),
            "hour": frame["hour"].astype(np.int64),
            "weekday": frame["weekday"].astype(np.int64),
            "device": frame["device"].astype(str),
        }
    )[list(EVENT_COLUMNS)]
    purchases = _purchase_amounts(events, items, np.random.default_rng((config.seed, 2)))
    return SyntheticData(users=users, items=items, events=events, purchases=purchases)


def _shopping_rows(
    config: GeneratorConfig,
    rng: np.random.Generator,
    *,
    buyers: np.ndarray,
    by_cat: dict[int, np.ndarray],
    preferred: np.ndarray,
) -> list[Row]:
    """Purchase cycles with browsing before each purchase; never-buyers only browse."""
    span_s = config.days * 86_400
    cats = [c for c, idx in by_cat.items() if len(idx)]
    rows: list[Row] = []

    def event(user: int, idx: int, ts_s: int, kind: int, clicked: int) -> Row:
        ts_s = int(min(max(ts_s, 0), span_s - 1))
        device = DEVICES[int(preferred[user - 1]) if rng.random() < 0.7 else int(rng.integers(3))]
        weekday = (START.weekday() + ts_s // 86_400) % 7
        kind_name = "purchase" if kind else "impression"
        return (user, idx + 1, ts_s, kind, kind_name, clicked, (ts_s // 3600) % 24, weekday, device)

    def browse(user: int, cat: int, before_s: int) -> None:
        for _ in range(int(rng.integers(1, 4))):
            at = before_s - int(rng.uniform(0.1, 3.0) * 86_400)
            for _ in range(int(rng.integers(1, 4))):  # clicks, and an item passed over
                rows.append(event(user, int(rng.choice(by_cat[cat])), at, 0, 1))
            rows.append(event(user, int(rng.choice(by_cat[cat])), at, 0, 0))

    for u in range(len(buyers)):
        user = u + 1
        if not buyers[u]:  # window shopping: browsing that leads nowhere
            for _ in range(int(rng.poisson(config.days / 10))):
                browse(user, int(rng.choice(cats)), int(rng.integers(0, span_s)))
            continue
        for cat in rng.choice(cats, size=int(rng.integers(1, 3)), replace=False):
            cycle_s = rng.uniform(5, 25) * 86_400
            at = rng.uniform(0, cycle_s)
            while at < span_s:
                browse(user, int(cat), int(at))
                rows.append(event(user, int(rng.choice(by_cat[int(cat)])), int(at), 1, 1))
                at += cycle_s * rng.uniform(0.75, 1.25)
    return rows


def _purchase_amounts(
    events: pd.DataFrame, items: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Quantity (1 + Poisson(0.3)) and amount (unit price x quantity) of every purchase."""
    bought = events[events["event_type"] == "purchase"]
    bucket = items.set_index("item_id")["price_bucket"].reindex(bought["item_id"]).to_numpy()
    quantity = 1 + rng.poisson(0.3, size=len(bought))
    unit = 5.0 * (bucket + 1) * rng.uniform(0.9, 1.1, size=len(bought))
    return pd.DataFrame(
        {
            "event_id": bought["event_id"].to_numpy(np.int64),
            "quantity": quantity.astype(np.int64),
            "amount": np.round(unit * quantity, 2),
        }
    )
