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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from recplat.events.schema import DEVICES, EVENT_COLUMNS

START: datetime = datetime(2026, 1, 1, tzinfo=UTC)
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
        seed: Seed of the only random generator used.
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


@dataclass(frozen=True)
class SyntheticData:
    """The generated tables (schemas in `recplat.events.schema`)."""

    users: pd.DataFrame
    items: pd.DataFrame
    events: pd.DataFrame


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

    rows: list[tuple[int, int, int, int, str, int, int, int, str]] = []
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
    return SyntheticData(users=users, items=items, events=events)
