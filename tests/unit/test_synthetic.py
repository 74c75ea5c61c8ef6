"""The synthetic generator: schema, determinism, and the signal models must find."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from recplat.events.schema import DEVICES, EVENT_COLUMNS
from recplat.events.synthetic import START, GeneratorConfig, SyntheticData, generate

from tests.conftest import TINY


def test_schema_and_ranges(tiny_data: SyntheticData) -> None:
    events = tiny_data.events
    assert tuple(events.columns) == EVENT_COLUMNS
    assert events["event_id"].is_unique
    assert set(events["event_type"]) == {"impression", "purchase"}
    assert set(events["device"]) <= set(DEVICES)
    assert events["hour"].between(0, 23).all()
    assert events["user_id"].between(1, TINY.users).all()
    assert events["item_id"].between(1, TINY.items).all()
    assert events["event_timestamp"].min() >= pd.Timestamp(START)
    assert events["event_timestamp"].max() < pd.Timestamp(START) + pd.Timedelta(days=TINY.days)
    impressions = (events["event_type"] == "impression").sum()
    assert abs(impressions - TINY.impressions) <= TINY.impressions_per_request
    assert events["event_timestamp"].is_monotonic_increasing
    # Every purchase follows a click on the same item by the same user.
    clicks = events[(events["event_type"] == "impression") & (events["clicked"] == 1)]
    purchases = events[events["event_type"] == "purchase"]
    assert len(purchases) > 0
    clicked_pairs = set(zip(clicks["user_id"], clicks["item_id"], strict=True))
    assert set(zip(purchases["user_id"], purchases["item_id"], strict=True)) <= clicked_pairs


def test_same_seed_same_data_other_seed_other_data(tiny_data: SyntheticData) -> None:
    again = generate(TINY)
    pd.testing.assert_frame_equal(tiny_data.events, again.events)
    pd.testing.assert_frame_equal(tiny_data.items, again.items)
    other = generate(GeneratorConfig(**{**TINY.__dict__, "seed": TINY.seed + 1}))
    assert not other.events["item_id"].equals(tiny_data.events["item_id"])


def test_recent_category_affinity_raises_click_rate() -> None:
    data = generate(
        GeneratorConfig(users=300, items=200, categories=10, impressions=30_000, seed=5)
    )
    events = data.events.merge(data.items[["item_id", "category_id"]], on="item_id")
    imp = events[events["event_type"] == "impression"].sort_values(["user_id", "event_timestamp"])
    matched: list[bool] = []
    for _, group in imp.groupby("user_id", sort=False):
        recent: list[int] = []
        for _, request in group.groupby("event_timestamp", sort=True):
            window = recent[-5:]
            matched += [cat in window for cat in request["category_id"]]
            recent += request.loc[request["clicked"] == 1, "category_id"].tolist()
    imp = imp.assign(matched=matched)
    rates = imp.groupby("matched")["clicked"].mean()
    # Clicks follow recent behaviour: a large, not a marginal, lift.
    assert rates[True] > 2 * rates[False]


def test_context_changes_click_rate(tiny_data: SyntheticData) -> None:
    imp = tiny_data.events[tiny_data.events["event_type"] == "impression"]
    evening = imp["hour"].between(18, 23)
    assert imp.loc[evening, "clicked"].mean() > imp.loc[~evening, "clicked"].mean()


def test_interests_drift_over_time() -> None:
    data = generate(
        GeneratorConfig(users=100, items=200, categories=12, impressions=20_000, seed=9)
    )
    clicks = data.events[
        (data.events["event_type"] == "impression") & (data.events["clicked"] == 1)
    ]
    clicks = clicks.merge(data.items[["item_id", "category_id"]], on="item_id")
    mid = (
        clicks["event_timestamp"].min()
        + (clicks["event_timestamp"].max() - clicks["event_timestamp"].min()) / 2
    )
    top_early = (
        clicks[clicks["event_timestamp"] < mid]
        .groupby("user_id")["category_id"]
        .agg(lambda s: s.mode().iloc[0])
    )
    top_late = (
        clicks[clicks["event_timestamp"] >= mid]
        .groupby("user_id")["category_id"]
        .agg(lambda s: s.mode().iloc[0])
    )
    both = top_early.index.intersection(top_late.index)
    # Most users' favourite category moves between the halves of the period.
    assert np.mean(top_early[both] != top_late[both]) > 0.4


@pytest.mark.parametrize(
    ("field", "value"), [("users", 0), ("categories", 2), ("drift", 1.5), ("recent_window", 0)]
)
def test_bad_knobs_are_rejected(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        GeneratorConfig(**{field: value})  # type: ignore[arg-type]


def test_shoppers_buy_in_cycles_after_browsing_and_never_buyers_never_buy() -> None:
    from recplat.events.synthetic import GeneratorConfig, generate

    plain = generate(GeneratorConfig(users=200, items=100, impressions=4000, days=40, seed=2))
    shop = generate(
        GeneratorConfig(users=200, items=100, impressions=4000, days=40, seed=2, shoppers=True)
    )
    events = shop.events
    buys = events[events["event_type"] == "purchase"]
    buyers = set(buys["user_id"])
    assert 0.5 < len(buyers) / 200 < 0.85  # never_buyers 0.3 (plus users without a cycle hit)
    # The rest of the process is untouched: every plain impression is still there.
    columns = ["user_id", "item_id", "event_timestamp", "clicked"]
    shown = plain.events[plain.events["event_type"] == "impression"][columns]
    found = shown.merge(events[columns].drop_duplicates(), how="left", indicator=True)
    assert (found["_merge"] == "both").all()
    # Browsing precedes buying: most purchases have a click in their category in the 3
    # days before.
    category = shop.items.set_index("item_id")["category_id"]
    clicks = events[(events["event_type"] == "impression") & (events["clicked"] == 1)]
    clicks = clicks.assign(category=category.reindex(clicks["item_id"]).to_numpy())
    bought = buys.assign(category=category.reindex(buys["item_id"]).to_numpy())
    joined = bought.merge(clicks, on=["user_id", "category"], suffixes=("", "_click"))
    gap = joined["event_timestamp"] - joined["event_timestamp_click"]
    browsed = joined[(gap > pd.Timedelta(0)) & (gap <= pd.Timedelta(days=3))]
    assert browsed["event_id"].nunique() / len(bought) > 0.8
    # Repeat cycles: buyers of a category buy it again.
    repeat = bought.groupby(["user_id", "category"]).size()
    assert (repeat >= 2).mean() > 0.5
    # Every purchase has a quantity and an amount.
    assert set(shop.purchases["event_id"]) == set(buys["event_id"])
    assert (shop.purchases["quantity"] >= 1).all() and (shop.purchases["amount"] > 0).all()
