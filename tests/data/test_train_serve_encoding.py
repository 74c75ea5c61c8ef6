"""One encoding offline and online: for the same (user, item, time) the training row
and the ranking request encode to the same tensors, through real Feast (SQLite, Redis)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from feast.types import Float64
from recplat.cli.context import PlatformContext
from recplat.events.ingest import ingest
from recplat.events.synthetic import SyntheticData
from recplat.features.build import build_features, materialize
from recplat.features.encoding import encode, encode_request
from recplat.features.online_read import OnlineFeatureReader
from recplat.features.repo import apply_repo, open_store
from recplat.training.training_set import historical_features, prepare_training_data

from tests.conftest import make_settings

REDIS = "127.0.0.1:6379"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "redis"])
def ctx(
    request: pytest.FixtureRequest, tmp_path: Path, tiny_data: SyntheticData
) -> Iterator[PlatformContext]:
    """Data ingested, features built, the repo applied and materialized."""
    settings = make_settings(tmp_path)
    if request.param == "redis":
        if not _redis_up():
            pytest.skip(f"no Redis at {REDIS}")
        path = settings.feature_repo / "feature_store.yaml"
        text = path.read_text().replace(
            "project: recplat", f"project: recplat_test_{uuid.uuid4().hex[:10]}"
        )
        text = text.replace(
            "  type: sqlite\n  path: data/online_store.db",
            f"  type: redis\n  connection_string: {REDIS},db=0",
        )
        path.write_text(text)
    context = PlatformContext(settings=settings)
    data = tiny_data
    ingest(
        events=data.events, users=data.users, items=data.items, settings=settings, gate=context.gate
    )
    build_features(settings=settings, gate=context.gate)
    apply_repo(settings.feature_repo)
    materialize(settings=settings)
    yield context
    open_store(settings.feature_repo).teardown()


@pytest.mark.parametrize("service", ["din_ranker_v1", "embedding_mlp_v1"])
def test_a_training_row_and_a_ranking_request_encode_alike(
    ctx: PlatformContext, tiny_data: SyntheticData, service: str
) -> None:
    settings = ctx.settings
    data = prepare_training_data(
        settings=settings, gate=ctx.gate, feature_service=service, min_user_count=3
    )
    spec = data.inputs
    assert spec is not None and spec.dense and spec.categorical
    assert spec.known_users is not None  # min_user_count > 1: rare users share row 0
    store = open_store(settings.feature_repo)
    reader = OnlineFeatureReader(store=store, feature_service=service)
    # After the last event, the online store holds what the point-in-time join gives.
    now = pd.to_datetime(tiny_data.events["event_timestamp"], utc=True).max() + pd.Timedelta("3h")
    request = {"request_time_s": int(now.timestamp()), "device": "tablet"}
    users = [*tiny_data.users["user_id"].tolist()[:3], 10**6]  # and a user the store lacks
    items = [*tiny_data.items["item_id"].tolist()[:4], 10**6]  # and an item it lacks
    real_values = real_steps = 0
    for user in users:
        entities = pd.DataFrame(
            {
                "event_id": np.arange(len(items)),
                "user_id": user,
                "item_id": items,
                "event_timestamp": now,
                **{k: [v] * len(items) for k, v in request.items()},
            }
        )
        frame = historical_features(store=store, entities=entities, feature_service=service)
        offline = encode(frame, spec=spec, vocab=data.vocab, max_len=data.max_len)
        found = reader.read(user_id=user, item_ids=items, request=request)
        online = encode_request(
            user=found.user,
            items=found.items,
            user_id=user,
            item_ids=items,
            spec=spec,
            vocab=data.vocab,
            max_len=data.max_len,
        )
        assert set(online) == set(offline) - {"label", "user_key"}
        for name, values in online.items():
            assert values.dtype == offline[name].dtype, name
            assert np.array_equal(values, offline[name]), (user, name)
        if user == 10**6:
            assert (online["user_id"] == 0).all()  # a new user reads the unknown row
        real_values += int((online["dense"] != 0).sum())
        real_steps += int((online["hist_item_ids"] > 0).sum())
    # Not equal by being empty: the store gave real aggregates and histories.
    assert real_values > 0 and real_steps > 0


def test_missing_online_features_are_counted_and_a_lost_service_is_named(
    ctx: PlatformContext, tiny_data: SyntheticData
) -> None:
    store = open_store(ctx.settings.feature_repo)
    reader = OnlineFeatureReader(store=store, feature_service="din_ranker_v1")
    known = int(tiny_data.items["item_id"].iloc[0])
    found = reader.read(user_id=10**6, item_ids=[known, 10**6], request={"device": "mobile"})
    missing = found.missing_features(["age_bucket", "user_clicks_7d", "item_ctr_7d", "hour"])
    # The unknown user lacks every user feature (on both candidates), the unknown item its
    # statistics; the request context is computed, never missing.
    assert missing == {"age_bucket": 2, "user_clicks_7d": 2, "item_ctr_7d": 1}
    with pytest.raises(KeyError, match="'din_ranker_v9' is not in the registry"):
        OnlineFeatureReader(store=store, feature_service="din_ranker_v9")


def test_a_serving_reader_sees_an_item_row_written_after_its_last_read(
    ctx: PlatformContext, tiny_data: SyntheticData
) -> None:
    # Serving's reader (its own connection, a deadline) keeps decoded item rows on SQLite
    # while the database is unchanged; a write by anyone else must show on the next read.
    store = open_store(ctx.settings.feature_repo)
    plain = OnlineFeatureReader(store=store, feature_service="din_ranker_v1")
    serving = OnlineFeatureReader(store=store, feature_service="din_ranker_v1", timeout_s=1.0)
    items = [int(i) for i in tiny_data.items["item_id"].iloc[:3]]
    user = int(tiny_data.users["user_id"].iloc[0])
    for _ in range(2):  # the second read comes from the kept rows on SQLite
        assert serving.read(user_id=user, item_ids=items) == plain.read(
            user_id=user, item_ids=items
        )
    before = plain.read(user_id=user, item_ids=items).items["item_clicks_7d"]
    stats = store.get_feature_view("item_stats")
    row = pd.DataFrame(
        {
            "item_id": [items[1]],
            "event_timestamp": [pd.Timestamp.now(tz="UTC")],
            **{f.name: [1.0 if f.dtype == Float64 else 1] for f in stats.features},
        }
    )
    row["item_clicks_7d"] = 4321
    open_store(ctx.settings.feature_repo).write_to_online_store("item_stats", row)
    after = serving.read(user_id=user, item_ids=items).items["item_clicks_7d"]
    assert after == [before[0], 4321, before[2]]
