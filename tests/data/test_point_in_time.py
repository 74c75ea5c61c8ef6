"""Point-in-time rule, on real Feast: a row at time t sees only behaviour strictly before t."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from feast import FeatureStore
from recplat.events.synthetic import SyntheticData
from recplat.features.encoding import fill_missing
from recplat.features.offline import item_attributes_table, sequence_snapshots, user_profile_table
from recplat.features.point_in_time import asof_rows, historical_frame
from recplat.features.repo import apply_repo, open_store, quiet_library_warnings
from recplat.io.parquet import read_parquet, write_parquet
from recplat.settings import Settings
from recplat.training.training_set import entity_frame, historical_features

from tests.conftest import published_context

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
    ours = historical_features(
        store=store, entities=entity_frame(events), feature_service="ranking_v1"
    ).set_index("event_id")
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
    leaked = historical_features(
        store=store, entities=naive, feature_service="ranking_v1"
    ).set_index("event_id")
    # Looking up at t itself (Feast's `<=`) puts the target into its own history.
    history = leaked["hist_item_ids"].to_dict()
    assert 20 in history[2]
    assert 20 in history[3]


# The vectorized join (recplat.features.point_in_time) against Feast's own ----------


def _feast_join(store: FeatureStore, entities: pd.DataFrame, service: str) -> pd.DataFrame:
    features = store.get_feature_service(service)
    with quiet_library_warnings():
        frame = store.get_historical_features(entity_df=entities, features=features).to_df()
    return frame.sort_values("event_id", kind="stable").reset_index(drop=True)


def _comparable(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[Any]]:
    """Column values as plain Python (lists as lists, missing scalars as None)."""
    out: dict[str, list[Any]] = {}
    for column in columns:
        values = frame[column].tolist()
        out[column] = [
            None
            if v is None or (isinstance(v, float) and math.isnan(v))
            else [int(x) for x in v]
            if isinstance(v, list | tuple | np.ndarray)
            else v
            for v in values
        ]
    return out


@pytest.mark.parametrize("service", ["ranking_v1", "din_ranker_v1"])
def test_the_vectorized_join_equals_feasts_on_generated_data(
    tmp_path: Path, tiny_data: SyntheticData, service: str
) -> None:
    ctx = published_context(tmp_path, tiny_data)
    store = open_store(ctx.settings.feature_repo)
    # Lookups just before each impression, plus some at exact snapshot times (the join
    # is inclusive) and some before any data (no row: nulls and empty lists).
    entities = entity_frame(tiny_data.events)
    snaps = read_parquet(ctx.settings.offline_dir / "user_sequence.parquet").head(40)
    exact = pd.DataFrame(
        {
            "event_id": np.arange(40) + 10_000_000,
            "user_id": snaps["user_id"].to_numpy(),
            "item_id": 1,
            "event_timestamp": pd.to_datetime(snaps["event_timestamp"], utc=True),
            "request_time_s": 1767225600,
            "device": "tablet",
        }
    )
    early = entities.head(5).assign(
        event_id=lambda f: f["event_id"] + 20_000_000,
        event_timestamp=pd.Timestamp("2000-01-01", tz="UTC"),
    )
    entities = pd.concat([entities, exact, early], ignore_index=True)
    ours = historical_frame(store=store, entities=entities, feature_service=service)
    ours = ours.sort_values("event_id", kind="stable").reset_index(drop=True)
    feast = _feast_join(store, entities, service)
    features = [c for c in feast.columns if c not in entities.columns]
    assert set(features) <= set(ours.columns) and "hist_item_ids" in features
    want, got = _comparable(feast, features), _comparable(ours, features)
    for column in features:
        # Feast gives a null where a list feature had no row; ours an empty list.
        expected = [[] if v is None and column.startswith("hist_") and column != "hist_len"
                    else v for v in want[column]]  # fmt: skip
        assert got[column] == expected, column
    assert ours["event_id"].tolist() == feast["event_id"].tolist()
    # Both paths through the training frame end up identical.
    assert fill_missing(ours)["hist_len"].tolist() == fill_missing(feast)["hist_len"].tolist()


def test_asof_rows_ties_ttl_and_other_keys() -> None:
    # Feature rows: key 1 at 10 and 20 (two rows at 20: the later wins), key 2 at 5.
    rows = asof_rows(
        feature_keys=np.array([1, 1, 2, 1]),
        feature_us=np.array([10, 20, 5, 20]),
        entity_keys=np.array([1, 1, 1, 2, 3, 2, 1]),
        entity_us=np.array([9, 10, 25, 4, 50, 100, 40]),
        ttl_us=30,
    )
    # key 1 @9: nothing yet; @10: inclusive; @25: the later of the tied rows; key 2 @4:
    # before its row; key 3: none; key 2 @100: older than the TTL; key 1 @40: within it.
    assert rows.tolist() == [-1, 0, 3, -1, -1, -1, 3]
