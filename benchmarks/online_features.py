"""Online feature fetch for one ranking request: recplat vs bare Feast vs raw SQLite.

One user + 100 candidate items + the user's behaviour sequence, on the SQLite
online store of a freshly built store. Prints a table and writes JSON.

    .venv/bin/python benchmarks/online_features.py [--repeats 300] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from recplat.context import PlatformContext
from recplat.events.synthetic import GeneratorConfig
from recplat.features.repo import open_store
from recplat.pipeline import run_feature_stages
from recplat.serving.online_features import OnlineFeatureReader
from recplat.settings import Settings

REPO = Path(__file__).resolve().parents[1] / "feature_repo"


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1e3,
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1e3,
    }


def _time(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    for _ in range(10):  # warm-up: the first Feast read in a process is slow
        fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return _percentiles(samples)


def _key(name: str, value: int) -> bytes:
    proto = EntityKey(join_keys=[name], entity_values=[Value(int64_val=value)])
    return serialize_entity_key(proto, entity_key_serialization_version=3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/online_features.json"))
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="recplat-bench-"))
    try:
        shutil.copytree(
            REPO, root / "feature_repo", ignore=shutil.ignore_patterns("data", "__pycache__")
        )
        settings = Settings(feature_repo=root / "feature_repo", home=root / "home")
        ctx = PlatformContext(settings=settings)
        run_feature_stages(ctx, config=GeneratorConfig(users=2000, items=1000, impressions=60_000))
        store = open_store(settings.feature_repo)
        service = store.get_feature_service("ranking_v1")
        reader = OnlineFeatureReader(store=store, feature_service="ranking_v1")
        user, items = 42, list(range(1, 101))
        rows = [{"user_id": user, "item_id": i} for i in items]

        db = sqlite3.connect(settings.data_dir / "online_store.db")
        item_keys = [_key("item_id", i) for i in items]
        user_key = _key("user_id", user)
        marks = ",".join("?" * len(item_keys))

        def raw_sqlite() -> None:
            out = []
            for table, keys in (
                ("recplat_item_attributes", item_keys),
                ("recplat_user_profile", [user_key]),
                ("recplat_user_sequence", [user_key]),
            ):
                where = marks if len(keys) > 1 else "?"
                query = f"SELECT entity_key, feature_name, value FROM {table} "
                query += f"WHERE entity_key IN ({where})"
                out += [(k, f, Value.FromString(v)) for k, f, v in db.execute(query, keys)]
            assert len(out) == 100 * 2 + 2 + 3

        results = {
            "raw SQLite IN query + proto parse": _time(raw_sqlite, args.repeats),
            "bare Feast get_online_features": _time(
                lambda: store.get_online_features(features=service, entity_rows=rows).to_dict(),
                args.repeats,
            ),
            "recplat OnlineFeatureReader.fetch": _time(
                lambda: reader.fetch(user_id=user, item_ids=items), args.repeats
            ),
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)

    floor = results["raw SQLite IN query + proto parse"]["p50_ms"]
    print(
        f"{'path (1 user + 100 items + sequence, SQLite)':48} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'p50 / raw':>10}"
    )
    for name, r in results.items():
        print(f"{name:48} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['p50_ms'] / floor:10.1f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"repeats": args.repeats, "results": results}, indent=2))


if __name__ == "__main__":
    main()
