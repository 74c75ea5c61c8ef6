"""Sequence snapshots: oldest -> newest, capped at N, one per (user, time)."""

from __future__ import annotations

import pandas as pd
from recplat.features.offline import sequence_snapshots

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def _events(rows: list[tuple[int, int, int, int]]) -> pd.DataFrame:
    """rows: (user, item, minute, clicked) impressions."""
    return pd.DataFrame(
        {
            "event_id": range(1, len(rows) + 1),
            "user_id": [r[0] for r in rows],
            "item_id": [r[1] for r in rows],
            "event_timestamp": [T0 + pd.Timedelta(minutes=r[2]) for r in rows],
            "event_type": "impression",
            "clicked": [r[3] for r in rows],
        }
    )


ITEMS = pd.DataFrame({"item_id": range(1, 11), "category_id": [i % 3 + 1 for i in range(1, 11)]})


def test_snapshots_hold_behaviour_up_to_their_time() -> None:
    events = _events([(1, 5, 0, 1), (1, 6, 1, 0), (1, 7, 2, 1), (2, 9, 2, 1), (1, 8, 3, 1)])
    snaps = sequence_snapshots(events=events, items=ITEMS, max_len=10)
    user1 = snaps[snaps["user_id"] == 1]
    assert user1["hist_item_ids"].tolist() == [[5], [5, 7], [5, 7, 8]]
    assert user1["hist_category_ids"].tolist() == [[3], [3, 2], [3, 2, 3]]
    assert user1["hist_len"].tolist() == [1, 2, 3]
    assert user1["hist_behaviour_types"].tolist() == [[1], [1, 1], [1, 1, 1]]
    assert user1["hist_event_ids"].tolist() == [[1], [1, 3], [1, 3, 5]]
    t0_us = int(T0.timestamp() * 1_000_000)
    minute = 60_000_000
    assert user1["hist_timestamps"].tolist() == [
        [t0_us],
        [t0_us, t0_us + 2 * minute],
        [t0_us, t0_us + 2 * minute, t0_us + 3 * minute],
    ]
    assert list(user1["event_timestamp"]) == [
        T0,
        T0 + pd.Timedelta(minutes=2),
        T0 + pd.Timedelta(minutes=3),
    ]
    assert snaps[snaps["user_id"] == 2]["hist_item_ids"].tolist() == [[9]]


def test_sequences_are_capped_at_n_keeping_the_newest() -> None:
    events = _events([(1, i, i, 1) for i in range(1, 8)])
    snaps = sequence_snapshots(events=events, items=ITEMS, max_len=3)
    assert snaps["hist_item_ids"].iloc[-1] == [5, 6, 7]
    assert snaps["hist_len"].max() == 3


def test_clicks_of_one_request_share_one_snapshot() -> None:
    events = _events([(1, 1, 0, 1), (1, 2, 5, 1), (1, 3, 5, 1), (1, 4, 5, 0)])
    snaps = sequence_snapshots(events=events, items=ITEMS, max_len=10)
    assert not snaps.duplicated(["user_id", "event_timestamp"]).any()
    assert snaps["hist_item_ids"].tolist() == [[1], [1, 2, 3]]


def test_no_clicks_no_snapshots() -> None:
    snaps = sequence_snapshots(events=_events([(1, 1, 0, 0)]), items=ITEMS, max_len=5)
    assert snaps.empty
    assert list(snaps.columns) == [
        "user_id",
        "event_timestamp",
        "hist_item_ids",
        "hist_category_ids",
        "hist_behaviour_types",
        "hist_timestamps",
        "hist_len",
        "hist_event_ids",
    ]


def test_purchases_are_typed_behaviours_beside_clicks() -> None:
    events = _events([(1, 5, 0, 1), (1, 6, 1, 0), (1, 7, 2, 1)])
    # The click on item 5 turns into a purchase at minute 1; item 6 is only seen.
    purchase = events.iloc[[0]].assign(
        event_id=9, event_type="purchase", event_timestamp=T0 + pd.Timedelta(minutes=1)
    )
    snaps = sequence_snapshots(events=pd.concat([events, purchase]), items=ITEMS, max_len=10)
    assert snaps["hist_item_ids"].iloc[-1] == [5, 5, 7]
    assert snaps["hist_behaviour_types"].tolist() == [[1], [1, 2], [1, 2, 1]]
    assert snaps["hist_event_ids"].iloc[-1] == [1, 9, 3]


def test_with_impressions_every_impression_is_a_typed_behaviour() -> None:
    # Explicit feedback (e.g. ratings): what a user rated low is kept, typed 3.
    events = _events([(1, 5, 0, 1), (1, 6, 1, 0), (1, 7, 2, 1), (2, 9, 2, 0)])
    snaps = sequence_snapshots(events=events, items=ITEMS, max_len=10, impressions=True)
    last = snaps.groupby("user_id").tail(1).set_index("user_id")
    assert last.loc[1, "hist_item_ids"] == [5, 6, 7]
    assert last.loc[1, "hist_behaviour_types"] == [1, 3, 1]
    assert last.loc[2, "hist_behaviour_types"] == [3]
    # Off (logged exposures), the unclicked ones are no behaviour at all.
    plain = sequence_snapshots(events=events, items=ITEMS, max_len=10)
    assert plain["hist_item_ids"].iloc[-1] == [5, 7] and 2 not in set(plain["user_id"])
