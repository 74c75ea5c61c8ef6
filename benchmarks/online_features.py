"""Online feature fetch for one ranking request: recplat vs bare Feast vs the raw store read.

One user + 100 candidate items + the user's 50-long behaviour sequence, on a
store built through the real pipeline, once with the SQLite online store and
once with Redis (127.0.0.1:6379, skipped when it does not answer). The raw
read is the floor: one SQLite `IN` query per table on Feast's tables, or one
Redis pipeline of HMGETs on Feast's keys, plus parsing the protobuf values.

    .venv/bin/python benchmarks/online_features.py [--repeats 300] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_ms, scratch_settings
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import run_feature_stages
from recplat.events.synthetic import GeneratorConfig
from recplat.features.online_read import OnlineFeatureReader
from recplat.features.repo import open_store
from recplat.io.parquet import read_parquet
from recplat.settings import Settings

# ~70 clicks per user: most sequences reach N = 50.
DATA = GeneratorConfig(users=500, items=1000, impressions=100_000, seed=5)
REDIS = "127.0.0.1:6379"
SERVICE_FEATURES = {
    "item_attributes": ("category_id", "price_bucket"),
    "user_profile": ("age_bucket", "gender"),
    "user_sequence": ("hist_item_ids", "hist_category_ids", "hist_timestamps", "hist_len"),
}


def _key(name: str, value: int) -> EntityKey:
    return EntityKey(join_keys=[name], entity_values=[Value(int64_val=value)])


def _use_redis(settings: Settings, *, address: str = REDIS) -> str:
    """Point the repo at Redis (default: the shared one) under its own project; returns
    the project."""
    project = f"recplat_bench_{uuid.uuid4().hex[:8]}"
    path = settings.feature_repo / "feature_store.yaml"
    text = path.read_text().replace("project: recplat", f"project: {project}")
    text = text.replace(
        "  type: sqlite\n  path: data/online_store.db",
        f"  type: redis\n  connection_string: {address},db=0",
    )
    path.write_text(text)
    return project


def _raw_sqlite(settings: Settings, user: int, items: list[int]) -> Callable[[], Any]:
    db = sqlite3.connect(settings.data_dir / "online_store.db", check_same_thread=False)
    item_keys = [
        serialize_entity_key(_key("item_id", i), entity_key_serialization_version=3) for i in items
    ]
    user_key = [serialize_entity_key(_key("user_id", user), entity_key_serialization_version=3)]

    def read() -> list[Any]:
        out = []
        for view, names in SERVICE_FEATURES.items():
            keys = item_keys if view == "item_attributes" else user_key
            query = (
                f"SELECT entity_key, feature_name, value FROM recplat_{view} "
                f"WHERE entity_key IN ({','.join('?' * len(keys))}) "
                f"AND feature_name IN ({','.join('?' * len(names))})"
            )
            out += [(k, f, Value.FromString(v)) for k, f, v in db.execute(query, [*keys, *names])]
        assert len(out) == 100 * 2 + 2 + 4, len(out)
        return out

    return read


def _raw_redis(project: str, user: int, items: list[int]) -> Callable[[], Any]:
    import redis
    from feast.infra.online_stores.helpers import _mmh3, _redis_key

    client = redis.Redis(host="127.0.0.1", port=6379)
    plan = []
    for view, names in SERVICE_FEATURES.items():
        fields = [_mmh3(f"{view}:{n}") for n in names]
        for entity in (
            [_key("item_id", i) for i in items]
            if view == "item_attributes"
            else [_key("user_id", user)]
        ):
            plan.append((_redis_key(project, entity, entity_key_serialization_version=3), fields))

    def read() -> list[Any]:
        with client.pipeline(transaction=False) as pipe:
            for key, fields in plan:
                pipe.hmget(key, fields)  # type: ignore[arg-type]  # redis-py takes bytes keys
            rows = pipe.execute()
        out = [Value.FromString(v) for row in rows for v in row if v is not None]
        assert len(out) == 100 * 2 + 2 + 4, len(out)
        return out

    return read


def measure(
    settings: Settings, *, redis_project: str | None, repeats: int
) -> dict[str, dict[str, float]]:
    ctx = PlatformContext(settings=settings)
    run_feature_stages(ctx, config=DATA)
    snaps = read_parquet(settings.offline_dir / "user_sequence.parquet")
    user = int(snaps[snaps["hist_len"] == settings.sequence_length]["user_id"].iloc[0])
    items = list(range(1, 101))
    store = open_store(settings.feature_repo)
    service = store.get_feature_service("ranking_v1")
    reader = OnlineFeatureReader(store=store, feature_service="ranking_v1")
    assert reader.read(user_id=user, item_ids=items).history_length == settings.sequence_length
    rows = [{"user_id": user, "item_id": i} for i in items]
    raw = (
        _raw_redis(redis_project, user, items)
        if redis_project
        else _raw_sqlite(settings, user, items)
    )
    return {
        "raw store read + proto parse": latency_ms(raw, repeats=repeats),
        "bare Feast get_online_features": latency_ms(
            lambda: store.get_online_features(features=service, entity_rows=rows).to_dict(),
            repeats=repeats,
        ),
        "recplat reader.read (ranking path)": latency_ms(
            lambda: reader.read(user_id=user, item_ids=items), repeats=repeats
        ),
        "recplat reader.fetch (+ DataFrame)": latency_ms(
            lambda: reader.fetch(user_id=user, item_ids=items), repeats=repeats
        ),
    }


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping())
    except redis.exceptions.ConnectionError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/online_features.json"))
    args = parser.parse_args()

    results: dict[str, dict[str, dict[str, float]]] = {}
    with scratch_settings() as settings:
        results["sqlite"] = measure(settings, redis_project=None, repeats=args.repeats)
    if _redis_up():
        with scratch_settings() as settings:
            project = _use_redis(settings)
            try:
                results["redis"] = measure(settings, redis_project=project, repeats=args.repeats)
            finally:
                open_store(settings.feature_repo).teardown()
    else:
        print(f"no Redis at {REDIS}: Redis rows skipped")

    print(
        f"{'store':7} {'path (1 user + 100 items + 50-long sequence)':40} {'p50 ms':>8} {'p99 ms':>8} {'p50/raw':>8} {'p99/raw':>8}"
    )
    for backend, rows in results.items():
        floor = rows["raw store read + proto parse"]
        for name, r in rows.items():
            print(
                f"{backend:7} {name:40} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{r['p50_ms'] / floor['p50_ms']:7.2f}x {r['p99_ms'] / floor['p99_ms']:7.2f}x"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"repeats": args.repeats, "results": results}, indent=2))


if __name__ == "__main__":
    main()
