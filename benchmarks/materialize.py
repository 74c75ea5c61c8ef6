"""Materialization: recplat's bulk writer vs bare `FeatureStore.materialize`, one run.

The same published tables (every feature view: profile, item attributes, sequence
snapshots, user activity, item statistics) go into two fresh online stores, once
through Feast's `materialize` and once through `recplat.features.online_write`; both
on SQLite and on Redis (127.0.0.1:6379, skipped when it does not answer). Rows/s
counts the offline rows in the range (what each run has to read and reduce to the
newest row per entity); the online rows of both runs are then read back and compared.

    .venv/bin/python benchmarks/materialize.py [--impressions 300000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import scratch_settings
from online_features import _redis_up, _use_redis
from recplat.cli.context import PlatformContext
from recplat.events.ingest import ingest
from recplat.events.synthetic import GeneratorConfig, generate
from recplat.features.build import VIEWS, build_features
from recplat.features.online_write import parquet_loads, write_view, write_views
from recplat.features.repo import apply_repo, open_store
from recplat.io.parquet import read_parquet
from recplat.settings import Settings


def _published(settings: Settings, config: GeneratorConfig) -> None:
    ctx = PlatformContext(settings=settings)
    data = generate(config)
    ingest(events=data.events, users=data.users, items=data.items, settings=settings, gate=ctx.gate)
    build_features(settings=settings, gate=ctx.gate)
    ctx.metadata.dispose()


def _twin(settings: Settings, root: Path) -> Settings:
    """A second repo over copies of the same published tables, with its own online store."""
    shutil.copytree(
        settings.feature_repo,
        root / "feature_repo",
        ignore=shutil.ignore_patterns("online_store.db"),
    )
    twin = Settings(feature_repo=root / "feature_repo", home=root / "home")
    twin.ensure_dirs()
    return twin


def _sample(settings: Settings) -> dict[str, Any]:
    """Every view's features for 200 users and 200 items, read back through Feast."""
    store = open_store(settings.feature_repo)
    out: dict[str, Any] = {}
    for name in VIEWS:
        view = store.get_feature_view(name)
        key = view.entity_columns[0].name
        refs = [f"{name}:{f.name}" for f in view.features]
        rows = [{key: i} for i in range(1, 201)]
        out[name] = store.get_online_features(features=refs, entity_rows=rows).to_dict()
    return out


def _warm_up(warm: tuple[Settings, Settings], *, start: datetime, end: datetime) -> None:
    """Both paths once on the smallest view, into throwaway stores: the timed runs then
    find their modules imported and their code warm."""
    for s in warm:
        apply_repo(s.feature_repo)
    open_store(warm[0].feature_repo).materialize(
        start_date=start, end_date=end, feature_views=["item_attributes"]
    )
    table = read_parquet(warm[1].offline_dir / "item_attributes.parquet")
    write_view(
        store=open_store(warm[1].feature_repo), view_name="item_attributes", table=table,
        start=start, end=end,
    )  # fmt: skip


def measure(
    settings: Settings, twin: Settings, *, warm: tuple[Settings, Settings], end: datetime
) -> dict[str, Any]:
    tables = {v: read_parquet(settings.offline_dir / f"{v}.parquet") for v in VIEWS}
    rows = sum(len(t) for t in tables.values())
    start = datetime(1995, 1, 1, tzinfo=UTC)
    _warm_up(warm, start=start, end=end)
    for s in (settings, twin):
        apply_repo(s.feature_repo)

    store = open_store(settings.feature_repo)
    started = time.perf_counter()
    store.materialize(start_date=start, end_date=end)
    bare_s = time.perf_counter() - started

    store = open_store(twin.feature_repo)
    # Reading the Parquet tables is part of the run.
    loads = parquet_loads(twin.offline_dir, dict.fromkeys(VIEWS, (start, end)))
    started = time.perf_counter()
    entities = sum(write_views(store=store, loads=loads).values())
    ours_s = time.perf_counter() - started

    same = _sample(settings) == _sample(twin)
    ends = {
        v: open_store(twin.feature_repo).get_feature_view(v).most_recent_end_time for v in VIEWS
    }
    return {
        "offline_rows": rows,
        "entities_written": entities,
        "bare_feast_s": bare_s,
        "recplat_s": ours_s,
        "bare_rows_per_s": rows / bare_s,
        "recplat_rows_per_s": rows / ours_s,
        "speedup": bare_s / ours_s,
        "online_rows_equal": same,
        "registry_records_the_range": all(e is not None for e in ends.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=int, default=300_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    config = GeneratorConfig(users=5000, items=3000, impressions=args.impressions, seed=11)
    end = datetime.now(UTC) + timedelta(days=1)
    results: dict[str, Any] = {}
    with scratch_settings() as settings:
        _published(settings, config)
        backends = ["sqlite"] + (["redis"] if _redis_up() else [])
        for backend in backends:
            root = settings.home.parent / f"twins-{backend}"
            twins = [_twin(settings, root / name) for name in "abcd"]
            if backend == "redis":
                for twin in twins:
                    _use_redis(twin)
            try:
                results[backend] = measure(twins[0], twins[1], warm=(twins[2], twins[3]), end=end)
            finally:
                if backend == "redis":
                    for twin in twins:
                        open_store(twin.feature_repo).teardown()
            print(backend, results[backend], flush=True)

    print(
        f"\n{'store':8}{'offline rows':>14}{'bare Feast rows/s':>19}{'recplat rows/s':>16}{'speedup':>9}  equal"
    )
    for backend, r in results.items():
        print(
            f"{backend:8}{r['offline_rows']:>14,}{r['bare_rows_per_s']:>19,.0f}"
            f"{r['recplat_rows_per_s']:>16,.0f}{r['speedup']:>8.1f}x  {r['online_rows_equal']}"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
