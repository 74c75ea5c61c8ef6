"""Point-in-time rule, on real Feast: a row at time t sees only behaviour strictly before t."""

from __future__ import annotations

import pandas as pd
import pytest
from feast import FeatureStore
from recplat.features.offline import item_attributes_table, sequence_snapshots, user_profile_table
from recplat.features.repo import apply_repo, open_store
from recplat.settings import Settings
from recplat.storage import write_parquet
from recplat.training.datasets import entity_frame, historical_features

pytestmark = pytest.mark.data
T0 = pd.Timestamp("2026-01-05 10:00", tz="UTC")


def _events() -> pd.DataFrame:
    # user 1: clicks item 10 at T0; at T0+1h one request shows 20 (clicked) and 30 (clicked).
    rows = [
        (1, 1, 10, T0, 1),
        (2, 1, 20, T0 + pd.Timedelta(hours=1), 1),
        (3, 1, 30, T0 + pd.Timedelta(hours=1), 1),
        (4, 1, 40, T0 + pd.Timedelta(hours=2), 0),
    ]
    return pd.DataFrame(
        {
            "event_id": [r[0] for r in rows],
            "user_id": [r[1] for r in rows],
            "item_id": [r[2] for r in rows],
            "event_timestamp": [r[3] for r in rows],
            "event_type": "impression",
            "clicked": [r[4] for r in rows],
            "hour": 10,
            "weekday": 0,
            "device": "mobile",
        }
    )


@pytest.fixture
def store_with_history(settings: Settings) -> tuple[FeatureStore, pd.DataFrame]:
    events = _events()
    stamp = T0 - pd.Timedelta(days=1)
    users = pd.DataFrame(
        {"user_id": [1], "age_bucket": [2], "gender": [0], "event_timestamp": [stamp]}
    )
    items = pd.DataFrame(
        {
            "item_id": [10, 20, 30, 40],
            "category_id": [1, 2, 3, 4],
            "price_bucket": 0,
            "event_timestamp": stamp,
        }
    )
    write_parquet(user_profile_table(users), settings.offline_dir / "user_profile.parquet")
    write_parquet(item_attributes_table(items), settings.offline_dir / "item_attributes.parquet")
    write_parquet(
        sequence_snapshots(events=events, items=items, max_len=10),
        settings.offline_dir / "user_sequence.parquet",
    )
    apply_repo(settings.feature_repo)
    return open_store(settings.feature_repo), events


def test_target_and_same_request_clicks_never_leak(
    store_with_history: tuple[FeatureStore, pd.DataFrame],
) -> None:
    store, events = store_with_history
    ours = historical_features(store=store, entities=entity_frame(events)).set_index("event_id")
    assert ours.loc[1, "hist_item_ids"] == []  # first behaviour: empty history
    assert ours.loc[2, "hist_item_ids"] == [10]  # not 20 itself
    assert ours.loc[3, "hist_item_ids"] == [10]  # not its sibling 20 from the same request
    assert ours.loc[4, "hist_item_ids"] == [10, 20, 30]  # an hour later, both are history
    assert ours.loc[2, "category_id"] == 2 and ours.loc[2, "age_bucket"] == 2


def test_a_naive_inclusive_join_would_leak(
    store_with_history: tuple[FeatureStore, pd.DataFrame],
) -> None:
    store, events = store_with_history
    naive = entity_frame(events).assign(
        event_timestamp=pd.to_datetime(events["event_timestamp"], utc=True).to_numpy()
    )
    leaked = historical_features(store=store, entities=naive).set_index("event_id")
    # Looking up at t itself (Feast's `<=`) puts the target into its own history.
    history = leaked["hist_item_ids"].to_dict()
    assert 20 in history[2]
    assert 20 in history[3]
