"""The ranking API over HTTP next to its physical floor, measured in one run.

For 1 user + 100 candidates with DIN and DIEN, on the SQLite and the Redis
online store:

- floor = Ray Serve no-op HTTP request (same body, FastAPI ingress, one
  replica) + raw online-store read (`online_features.py`'s raw SQLite query /
  Redis pipeline) + the model's forward at batch 100, each measured here;
- `/rank` p50 and p99 at low load (one client, keep-alive);
- sustained requests/s: closed-loop clients (1, 2, 4, 8), the best rate whose
  p99 stays at or under 50 ms.

    .venv/bin/python benchmarks/serving.py [--requests 400] [--out FILE.json]

Loopback, bounded request counts; client threads share the 2 cores with Serve.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import torch
from fastapi import FastAPI, Request

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_ms, register_quick, scratch_settings
from online_features import DATA, _raw_redis, _raw_sqlite, _redis_up, _use_redis
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import run_feature_stages
from recplat.features.encoding import encode_request
from recplat.features.online_read import OnlineFeatureReader
from recplat.features.repo import open_store
from recplat.io.parquet import read_parquet
from recplat.models.predict import predict_logits
from recplat.registry.artifacts import load_artifact
from recplat.serving.ranker import artifact_inputs
from recplat.settings import Settings

PORT = 8799
MODELS = ("din", "dien")
# Each model on the narrow service and on its own (richer inputs: the serving cost of them).
SERVICES: tuple[str | None, ...] = ("ranking_v1", None)
P99_BUDGET_MS = 50.0
CLIENTS = (1, 2, 4, 8)


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def _http(url: str, body: dict[str, Any], repeats: int) -> dict[str, float]:
    with httpx.Client(timeout=30) as client:
        for _ in range(20):
            client.post(url, json=body).raise_for_status()
        samples = []
        for _ in range(repeats):
            started = time.perf_counter()
            client.post(url, json=body).raise_for_status()
            samples.append((time.perf_counter() - started) * 1e3)
    return _percentiles(samples)


def _load(url: str, body: dict[str, Any], clients: int, per_client: int) -> dict[str, float]:
    samples: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def run() -> None:
        mine = []
        with httpx.Client(timeout=30) as client:
            for _ in range(per_client):
                started = time.perf_counter()
                if client.post(url, json=body).status_code != 200:
                    errors[0] += 1
                mine.append((time.perf_counter() - started) * 1e3)
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {
        "clients": clients,
        "rps": len(samples) / seconds,
        "errors": errors[0],
        **_percentiles(samples),
    }


def _forward(
    settings: Settings, name: str, user: int, items: list[int], repeats: int
) -> dict[str, float]:
    version = PlatformContext(settings=settings).metadata.resolve(model_name=name)
    artifact = load_artifact(Path(version.artifact_path))
    found = OnlineFeatureReader(
        store=open_store(settings.feature_repo), feature_service=artifact.feature_service
    ).read(user_id=user, item_ids=items, request={"device": "mobile"})
    arrays = encode_request(
        user=found.user, items=found.items, user_id=user, item_ids=items,
        spec=artifact_inputs(artifact), vocab=artifact.config.vocab, max_len=artifact.max_len,
    )  # fmt: skip

    def forward() -> None:
        with torch.inference_mode():
            predict_logits(artifact.model, arrays)

    return latency_ms(forward, repeats=repeats)


def measure(
    settings: Settings, *, backend: str, redis_project: str | None, requests: int
) -> dict[str, Any]:
    from ray import serve
    from recplat.serving.app import AppArgs, build_app

    ctx = PlatformContext(settings=settings)
    run_feature_stages(ctx, config=DATA)
    snaps = read_parquet(settings.offline_dir / "user_sequence.parquet")
    user = int(snaps[snaps["hist_len"] == settings.sequence_length]["user_id"].iloc[0])
    items = list(range(1, 101))
    body = {
        "user_id": user,
        "candidate_item_ids": items,
        "context": {"device": "mobile", "hour": 20},
    }
    raw = (
        _raw_redis(redis_project, user, items)
        if redis_project
        else _raw_sqlite(settings, user, items)
    )
    raw_read = latency_ms(raw, repeats=requests)
    noop = _http(f"http://127.0.0.1:{PORT}/noop/", body, requests)
    out: dict[str, Any] = {"raw_read": raw_read, "serve_noop_http": noop, "models": {}}
    for name, service in [(m, s) for m in MODELS for s in SERVICES]:
        register_quick(ctx, name, service)
        label = f"{name} ({service or 'own service'})"
        args = AppArgs(
            feature_repo=str(settings.feature_repo), home=str(settings.home), model_name=name,
            sequence_length=settings.sequence_length,
        )  # fmt: skip
        serve.run(build_app(args), name=f"rank-{name}", route_prefix=f"/{name}", blocking=False)
        url = f"http://127.0.0.1:{PORT}/{name}/rank"
        for _ in range(600):
            try:
                if httpx.post(url, json=body, timeout=10).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        answer = httpx.post(url, json=body, timeout=10).json()
        assert not answer["degraded"] and answer["history_length"] == settings.sequence_length, (
            answer
        )
        forward = _forward(settings, name, user, items, requests)
        floor = {k: noop[k] + raw_read[k] + forward[k] for k in ("p50_ms", "p99_ms")}
        low = _http(url, body, requests)
        with httpx.Client(timeout=30) as client:  # where the replica spent its time
            timings = [client.post(url, json=body).json()["timings"] for _ in range(100)]
        inside = {k: statistics.median(t[k] for t in timings) for k in timings[0]}
        loads = [_load(url, body, c, max(50, requests // c)) for c in CLIENTS]
        within = [r for r in loads if r["p99_ms"] <= P99_BUDGET_MS and not r["errors"]]
        out["models"][label] = {
            "forward": forward,
            "floor": floor,
            "rank_low_load": low,
            "inside_rank_p50_ms": inside,
            "load": loads,
            "sustained_rps_p99_le_50ms": max((r["rps"] for r in within), default=0.0),
        }
        serve.delete(f"rank-{name}")
        print(f"{backend} {label}: {out['models'][label]}", flush=True)
    return out


def _noop_app() -> Any:
    from ray import serve

    api = FastAPI()

    @serve.deployment(ray_actor_options={"num_cpus": 0.5})
    @serve.ingress(api)
    class Noop:
        @api.post("/")
        async def noop(self, request: Request) -> dict[str, bool]:
            await request.body()  # read the body, as a real endpoint must
            return {"ok": True}

    return Noop.bind()  # type: ignore[attr-defined]


def main() -> None:
    import ray
    from ray import serve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/serving.json"))
    args = parser.parse_args()

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": PORT})
    serve.run(_noop_app(), name="noop", route_prefix="/noop", blocking=False)
    results: dict[str, Any] = {}
    try:
        with scratch_settings() as settings:
            results["sqlite"] = measure(
                settings, backend="sqlite", redis_project=None, requests=args.requests
            )
        if _redis_up():
            with scratch_settings() as settings:
                project = _use_redis(settings)
                try:
                    results["redis"] = measure(
                        settings, backend="redis", redis_project=project, requests=args.requests
                    )
                finally:
                    open_store(settings.feature_repo).teardown()
    finally:
        serve.shutdown()
        ray.shutdown()

    print(
        f"{'store':7} {'model':28} {'noop HTTP':>10} {'raw read':>9} {'forward':>8} {'floor':>8} "
        f"{'/rank':>8} {'ratio':>6} | {'p99 floor':>9} {'/rank':>8} {'ratio':>6} | {'rps@p99<=50ms':>13}"
    )
    for backend, r in results.items():
        for name, m in r["models"].items():
            low, floor = m["rank_low_load"], m["floor"]
            print(
                f"{backend:7} {name:28} {r['serve_noop_http']['p50_ms']:10.2f} {r['raw_read']['p50_ms']:9.2f} "
                f"{m['forward']['p50_ms']:8.2f} {floor['p50_ms']:8.2f} {low['p50_ms']:8.2f} "
                f"{low['p50_ms'] / floor['p50_ms']:5.2f}x | {floor['p99_ms']:9.2f} {low['p99_ms']:8.2f} "
                f"{low['p99_ms'] / floor['p99_ms']:5.2f}x | {m['sustained_rps_p99_le_50ms']:13.0f}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
