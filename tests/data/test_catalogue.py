"""The feature catalogue on real Feast: 1/7/30-day aggregates correct in time, the
request-time context view, per-consumer services, and a gate on the new tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recplat.cli.context import PlatformContext
from recplat.events.synthetic import SyntheticData
from recplat.features.build import materialize, publish_tables
from recplat.features.repo import open_store
from recplat.io.parquet import read_parquet
from recplat.models.catalog import CATALOG
from recplat.quality.gate import DataQualityError
from recplat.settings import Settings

from tests.conftest import published_context

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, tiny_data: SyntheticData) -> Iterator[Settings]:
    ctx = published_context(tmp_path_factory.mktemp("catalogue"), tiny_data)
    materialize(settings=ctx.settings, gate=ctx.gate)
    yield ctx.settings
    ctx.metadata.dispose()


def _counts(events: pd.DataFrame, user: int, before: pd.Timestamp, days: int) -> tuple[int, int]:
    """(impressions, clicks) of a user in the `days` days before `before`, from raw events."""
    stamps = pd.to_datetime(events["event_timestamp"], utc=True)
    mine = events[
        (events["user_id"] == user)
        & (stamps < before)
        & (stamps >= before - pd.Timedelta(days=days))
    ]
    impressions = mine["event_type"] == "impression"
    return int(impressions.sum()), int((impressions & (mine["clicked"] == 1)).sum())


def test_historical_aggregates_count_only_the_days_before_the_lookup(live: Settings) -> None:
    """Through Feast's point-in-time join: a row at t gets the snapshot of t's day, which
    counts events before that midnight, never the ones of t's own day up to t."""
    events = read_parquet(live.events_path)
    rng = np.random.default_rng(5)
    sample = events.iloc[rng.choice(len(events), 25, replace=False)]
    entity = pd.DataFrame(
        {
            "user_id": sample["user_id"].to_numpy(),
            "item_id": sample["item_id"].to_numpy(),
            "event_timestamp": pd.to_datetime(sample["event_timestamp"], utc=True).to_numpy(),
        }
    )
    store = open_store(live.feature_repo)
    got = store.get_historical_features(
        entity_df=entity,
        features=[
            f"user_activity:user_{k}_{w}d" for k in ("impressions", "clicks") for w in (1, 7, 30)
        ],
    ).to_df()
    checked = 0
    for row in got.to_dict("records"):
        t = pd.Timestamp(row["event_timestamp"])
        midnight = t.floor("D")
        for w in (1, 7, 30):
            expected = _counts(events, int(row["user_id"]), midnight, w)
            found = row[f"user_impressions_{w}d"], row[f"user_clicks_{w}d"]
            if pd.isna(found[0]):  # no snapshot: the user had no events in 30 days
                assert expected == (0, 0)
                continue
            assert tuple(int(v) for v in found) == expected, (row["user_id"], t, w)
            checked += 1
    assert checked > 20


def test_online_catalogue_and_request_context(live: Settings) -> None:
    store = open_store(live.feature_repo)
    activity = read_parquet(live.offline_dir / "user_activity.parquet")
    snaps = read_parquet(live.offline_dir / "user_sequence.parquet")
    items = read_parquet(live.catalog_dir / "items.parquet")
    user = int(snaps["user_id"].iloc[0])
    last = snaps[snaps["user_id"] == user].iloc[-1]
    last_ts = int(last["hist_timestamps"][-1]) // 1_000_000
    last_category = int(last["hist_category_ids"][-1])
    same = int(items[items["category_id"] == last_category]["item_id"].iloc[0])
    other = int(items[items["category_id"] != last_category]["item_id"].iloc[0])
    now = pd.Timestamp("2026-11-24 21:30", tz="UTC")  # a Tuesday
    rows = [
        {
            "user_id": user,
            "item_id": same,
            "request_time_s": int(now.timestamp()),
            "device": "tablet",
        },
        {"user_id": user, "item_id": other, "request_time_s": int(now.timestamp()), "device": "tv"},
    ]
    got = store.get_online_features(
        features=store.get_feature_service("din_ranker_v1"), entity_rows=rows
    ).to_dict()

    latest = activity[activity["user_id"] == user].iloc[-1]
    assert got["user_clicks_30d"] == [int(latest["user_clicks_30d"])] * 2
    assert got["user_ctr_7d"][0] == pytest.approx(float(latest["user_ctr_7d"]))
    assert got["hour"] == [21, 21] and got["weekday"] == [1, 1]
    assert got["device_index"] == [3, 0]  # tablet; an unknown device is 0
    assert got["seconds_since_last_event"] == [int(now.timestamp()) - last_ts] * 2
    assert got["target_matches_last_category"] == [1, 0]
    stats = read_parquet(live.offline_dir / "item_stats.parquet")
    newest = stats[stats["item_id"] == same].iloc[-1]
    assert got["item_impressions_30d"][0] == int(newest["item_impressions_30d"])


def test_services_name_each_consumers_inputs(live: Settings) -> None:
    store = open_store(live.feature_repo)

    def views(service: str) -> set[str]:
        return {p.name for p in store.get_feature_service(service).feature_view_projections}

    sequence = {"user_profile", "item_attributes", "user_sequence"}
    assert views("ranking_v1") == sequence
    full = sequence | {"user_activity", "item_stats", "context_features"}
    assert views("din_ranker_v1") == views("dien_ranker_v1") == full
    assert views("embedding_mlp_v1") == views("logistic_regression_v1") == full
    # Only the sequence models read behaviour types.
    types = {
        name: "hist_behaviour_types" in [
            f.name for p in store.get_feature_service(name).feature_view_projections
            for f in p.features
        ]
        for name in ("din_ranker_v1", "dien_ranker_v1", "embedding_mlp_v1", "ranking_v1")
    }  # fmt: skip
    assert types == {
        "din_ranker_v1": True,
        "dien_ranker_v1": True,
        "embedding_mlp_v1": False,
        "ranking_v1": False,
    }
    # Each ranking model in the catalogue names a service that exists.
    for spec in CATALOG.values():
        if spec.feature_service is not None:
            store.get_feature_service(spec.feature_service)


def test_an_inconsistent_aggregate_table_is_stopped_and_nothing_is_written(
    live: Settings, tmp_path: Path
) -> None:
    ctx = PlatformContext(settings=live)
    before = (live.offline_dir / "user_activity.parquet").read_bytes()
    table = read_parquet(live.offline_dir / "user_activity.parquet")
    table.loc[table.index[3], "user_clicks_7d"] = int(table["user_impressions_7d"].iloc[3]) + 5
    with pytest.raises(DataQualityError) as caught:
        publish_tables(settings=live, gate=ctx.gate, tables={"user_activity": table})
    assert "user_clicks_7d" in str(caught.value) and "user_impressions_7d" in str(caught.value)
    assert (live.offline_dir / "user_activity.parquet").read_bytes() == before


def test_a_services_inputs_come_from_the_registry(live: Settings) -> None:
    from recplat.features.inputs import service_fields

    store = open_store(live.feature_repo)
    din = service_fields(store=store, feature_service="din_ranker_v1")
    # Categorical: what the views tag; the ids and hist_len are never scalar inputs.
    assert set(din.categorical) == {
        "age_bucket", "gender", "user_top_category_30d", "price_bucket",
        "hour", "weekday", "device_index", "target_matches_last_category",
    }  # fmt: skip
    dense = dict(din.dense)
    assert dense["user_clicks_7d"] is True and dense["seconds_since_last_event"] is True  # log1p
    assert dense["item_ctr_30d"] is False and "category_id" not in dense and "hist_len" not in dense
    assert din.sequence == ("hist_item_ids", "hist_category_ids", "hist_behaviour_types")
    narrow = service_fields(store=store, feature_service="ranking_v1")
    assert narrow.categorical == ("age_bucket", "gender", "price_bucket") and not narrow.dense
    with pytest.raises(KeyError, match="'nope_v1' is not in the registry"):
        service_fields(store=store, feature_service="nope_v1")
