"""Windowed activity aggregates: golden values, the point-in-time rule, bounded chunks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from recplat.features.aggregates import item_stats_table, user_activity_table, window_snapshots

DAY0 = pd.Timestamp("2026-01-01", tz="UTC")


def _events(rows: list[tuple[int, int, float, str, int]]) -> pd.DataFrame:
    """(user, item, day offset as a float, type, clicked) -> an event log."""
    return pd.DataFrame(
        {
            "event_id": range(len(rows)),
            "user_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "event_timestamp": [DAY0 + pd.Timedelta(days=r[2]) for r in rows],
            "event_type": [r[3] for r in rows],
            "clicked": [r[4] for r in rows],
        }
    )


ITEMS = pd.DataFrame({"item_id": [1, 2, 3], "category_id": [1, 2, 2]})


def test_user_windows_count_only_days_before_the_snapshot() -> None:
    events = _events(
        [
            (1, 1, 0.5, "impression", 1),  # day 0, clicked, category 1
            (1, 2, 0.6, "impression", 0),  # day 0
            (1, 2, 2.2, "impression", 1),  # day 2, category 2
            (1, 3, 2.3, "purchase", 1),  # day 2
            (1, 3, 9.1, "impression", 1),  # day 9, category 2
        ]
    )
    table = user_activity_table(events=events, items=ITEMS).set_index("event_timestamp")
    day = {d: table.loc[DAY0 + pd.Timedelta(days=d)] for d in (1, 3, 8, 10)}
    # Snapshot at day 1 counts day 0 only.
    assert (
        day[1]["user_impressions_1d"],
        day[1]["user_clicks_1d"],
        day[1]["user_purchases_1d"],
    ) == (2, 1, 0)
    assert day[1]["user_ctr_7d"] == pytest.approx(0.5)
    # Day 3: day 2 in the 1-day window, days 0-2 in the 7-day one.
    assert (day[3]["user_impressions_1d"], day[3]["user_purchases_1d"]) == (1, 1)
    assert (
        day[3]["user_impressions_7d"],
        day[3]["user_clicks_7d"],
        day[3]["user_purchases_7d"],
    ) == (3, 2, 1)
    # Day 8: the 7-day window is days 1..7 (day 0 aged out), the 30-day one keeps it.
    assert (day[8]["user_impressions_7d"], day[8]["user_clicks_7d"]) == (1, 1)
    assert (day[8]["user_impressions_30d"], day[8]["user_clicks_30d"]) == (3, 2)
    assert day[8]["user_impressions_1d"] == 0
    # Day 10 sees the day-9 click: category 2 has 2 of the 3 clicks in 30 days.
    assert day[10]["user_clicks_30d"] == 3
    assert day[10]["user_top_category_30d"] == 2
    assert day[10]["user_top_category_share_30d"] == pytest.approx(2 / 3)
    # No snapshot before the first full day, none for a day it could not know.
    assert table.index.min() == DAY0 + pd.Timedelta(days=1)
    assert table.index.max() == DAY0 + pd.Timedelta(days=10)


def test_stamps_are_right_whatever_the_timestamp_unit() -> None:
    events = _events([(1, 1, 0.5, "impression", 1), (1, 2, 3.5, "impression", 0)])
    micros = events.assign(event_timestamp=events["event_timestamp"].dt.as_unit("us"))
    for frame in (events, micros):
        stamps = user_activity_table(events=frame, items=ITEMS)["event_timestamp"]
        assert stamps.min() == DAY0 + pd.Timedelta(days=1)
        assert stamps.max() == DAY0 + pd.Timedelta(days=4)


def test_no_snapshot_counts_an_event_at_or_after_its_stamp() -> None:
    rng = np.random.default_rng(3)
    n = 400
    events = _events(
        [
            (int(u), int(i), float(d), t, int(c))
            for u, i, d, t, c in zip(
                rng.integers(1, 6, n),
                rng.integers(1, 4, n),
                rng.uniform(0, 40, n),
                rng.choice(["impression", "purchase"], n),
                rng.integers(0, 2, n),
                strict=True,
            )
        ]
    )
    table = user_activity_table(events=events, items=ITEMS)
    for row in table.sample(40, random_state=1).to_dict("records"):
        mine = events[events["user_id"] == row["user_id"]]
        stamps = mine["event_timestamp"]
        stamp = pd.Timestamp(row["event_timestamp"])
        for w in (1, 7, 30):
            window = mine[(stamps < stamp) & (stamps >= stamp - pd.Timedelta(days=w))]
            impressions = window["event_type"] == "impression"
            assert row[f"user_impressions_{w}d"] == impressions.sum()
            assert row[f"user_clicks_{w}d"] == (impressions & (window["clicked"] == 1)).sum()
            assert row[f"user_purchases_{w}d"] == (window["event_type"] == "purchase").sum()


def test_a_user_who_goes_quiet_gets_one_all_zero_snapshot() -> None:
    events = _events([(1, 1, 0.5, "impression", 1), (2, 1, 45.0, "impression", 0)])
    table = user_activity_table(events=events, items=ITEMS)
    quiet = table[table["user_id"] == 1]
    # Days 1..30 hold the day-0 event; day 31 is the zero row; nothing after it.
    assert len(quiet) == 31
    last = quiet.iloc[-1]
    assert last["event_timestamp"] == DAY0 + pd.Timedelta(days=31)
    windows = [c for c in table.columns if c.endswith(("_1d", "_7d", "_30d"))]
    assert len(windows) == 13 and last[windows].sum() == 0
    assert last["user_top_category_30d"] == 0


def test_item_ctr_is_smoothed_towards_the_log_mean() -> None:
    events = _events(
        [(1, 1, 0.1, "impression", 1)] + [(1, 2, 0.2, "impression", 0)] * 3
    )  # mean CTR 0.25
    table = item_stats_table(events=events)
    first_day = table[table["event_timestamp"] == DAY0 + pd.Timedelta(days=1)].set_index("item_id")
    one = first_day.loc[1]
    assert one["item_ctr_30d"] == 1.0
    assert one["item_ctr_smoothed_30d"] == pytest.approx((1 + 100 * 0.25) / (1 + 100))
    two = first_day.loc[2]
    assert (two["item_impressions_1d"], two["item_ctr_7d"]) == (3, 0.0)


def test_chunked_counting_equals_one_block() -> None:
    rng = np.random.default_rng(0)
    n = 2000
    keys = rng.integers(1, 300, n)
    days = rng.integers(0, 50, n)
    counters = {"a": rng.integers(0, 2, n), "b": np.ones(n, dtype=np.int64)}
    groups = rng.integers(1, 5, n)
    whole = window_snapshots(
        keys=keys, days=days, counters=counters, n_days=50, groups=groups, n_groups=4
    )
    tiny = window_snapshots(
        keys=keys, days=days, counters=counters, n_days=50, groups=groups, n_groups=4,
        max_cells=500,
    )  # fmt: skip
    for name in whole:
        assert np.array_equal(whole[name], tiny[name]), name
