"""The ranking API under load: saturation beside an empty Serve endpoint, overload, events.

One run, one machine, one client (`loadgen.py`, async, loopback, bounded in time):

- ramp: closed-loop clients 1, 2, 4, ... on an empty Serve endpoint (FastAPI ingress,
  same body) and on `/rank` (1 user x 100 candidates); max answered/s of each;
- overload: 3x the concurrency that saturated `/rank`, for `--overload-s`; clients that
  wait the Retry-After on a 503 (well-behaved) and clients that do not (worst case);
  then one client: how long until answers are back to normal;
- events: one event per request at 50 requests/s (p99), batches of 100 (events/s), and
  8 clients x `--events` single-event requests: nothing lost or duplicated, the online
  sequences equal the offline rebuild of the same events;
- faults at half the saturation rate (`load_faults.py`): the online store stopped for 10 s
  and restarted (Redis: a redis-server of the benchmark's own, on its own port), one of
  two replicas killed, a model version promoted; with `--soak`, a long run at 80%.

    .venv/bin/python benchmarks/load.py [--store sqlite|redis|both] [--phase-s 8]
        [--overload-s 60] [--events 10000] [--soak 1800]

Builds its own data (generator -> gates -> Feast) and a briefly trained DIEN.
"""

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi import FastAPI, Request

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import register_quick, scratch_settings
from load_faults import OwnRedis, promotion, replica_killed, soak, store_stopped, wait_running
from loadgen import Phase, Shot, closed_loop, open_loop, recovery_s
from online_features import _use_redis
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import run_feature_stages
from recplat.events.synthetic import GeneratorConfig
from recplat.features.append import SEQUENCE_FIELDS, _stored
from recplat.features.offline import sequence_snapshots
from recplat.features.repo import open_store
from recplat.io.parquet import read_parquet

PORT = 8797
DATA = GeneratorConfig(users=2000, items=1000, impressions=60_000, seed=3)
CLIENTS = (1, 2, 4, 8, 16, 32)
# Idle after a deployment: Serve's controller is busy for a while after one (measured:
# up to half a core), which would count against whichever ramp came first.
SETTLE_S = 15.0
_IDS = itertools.count(10**12)  # event ids, unique across phases


def _empty_app() -> Any:
    from ray import serve

    api = FastAPI()

    @serve.deployment(ray_actor_options={"num_cpus": 0.5}, max_ongoing_requests=24)
    @serve.ingress(api)
    class Empty:
        @api.post("/")
        async def empty(self, request: Request) -> dict[str, bool]:
            await request.body()  # read the body, as a real endpoint must
            return {"ok": True}

    return Empty.bind()  # type: ignore[attr-defined]


def _ramp(url: str, body: Any, seconds: float) -> list[dict[str, Any]]:
    rows = []
    for clients in CLIENTS:
        phase = asyncio.run(closed_loop(url=url, body=body, clients=clients, seconds=seconds))
        rows.append({"clients": clients, **phase.summary()})
        print(f"  {url} clients={clients}: {rows[-1]}", flush=True)
    return rows


def _saturation(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The max answered/s, and the fewest clients that reach 95% of it."""
    best = max(r["answered_per_s"] for r in rows)
    first = next(r for r in rows if r["answered_per_s"] >= 0.95 * best)
    return {"max_answered_per_s": best, "clients": first["clients"], "p99_ms": first["p99_ms"]}


def _overload(
    url: str, body: Any, *, clients: int, seconds: float, wait_s: float, normal_ms: float
) -> dict[str, Any]:
    async def run() -> tuple[Phase, Phase, float]:
        load = asyncio.create_task(
            closed_loop(
                url=url, body=body, clients=clients, seconds=seconds, on_refusal_wait_s=wait_s
            )
        )
        overloaded = await load
        end = time.monotonic()
        after = await closed_loop(url=url, body=body, clients=1, seconds=3)
        return overloaded, after, end

    overloaded, after, end = asyncio.run(run())
    return {
        **overloaded.summary(),
        "clients": clients,
        "wait_on_503_s": wait_s,
        "recovery_s": recovery_s(after, after=end, normal_ms=normal_ms),
    }


def _event(event_id: int, user: int, item: int, at: pd.Timestamp) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_id": user,
        "item_id": item,
        "timestamp": at.isoformat(),
        "event_type": "impression",
        "clicked": True,
    }


def _events(
    url: str,
    users: int,
    items: int,
    *,
    per_client: int,
    seconds: float,
    posted: list[dict[str, Any]],
) -> dict[str, Any]:
    """Single events at 50/s, batches of 100, then (per_client > 0) 8 clients x per_client;
    the events of every 200 answer go to `posted`."""
    ids = _IDS

    def answered(body: Any, shot: Shot, reply: bytes = b"") -> None:
        if shot.status == 200:
            posted.extend(body["events"])

    def batch(n: int) -> dict[str, Any]:
        return {
            "events": [
                _event(next(ids), random.randrange(1, users), random.randrange(1, items), _now())
                for _ in range(n)
            ]
        }

    single = asyncio.run(
        open_loop(url=url, body=lambda: batch(1), rate=50, seconds=seconds, on_answer=answered)
    ).summary()
    batches = asyncio.run(
        closed_loop(
            url=url, body=lambda: batch(100), clients=4, seconds=seconds, on_answer=answered
        )
    ).summary()
    out = {
        "single_at_50_rps": single,
        "batches_of_100": {**batches, "events_per_s": batches["answered_per_s"] * 100},
    }

    # 8 clients x per_client single-event requests; a refused one is sent again after its
    # Retry-After, as a client must.
    async def many() -> Phase:
        import aiohttp

        phase = Phase()
        async with aiohttp.ClientSession() as session:

            async def client(c: int) -> None:
                for _ in range(per_client):
                    user = 1 + c * 7 + random.randrange(7)
                    body = {"events": [_event(next(ids), user, random.randrange(1, items), _now())]}
                    while True:
                        started = time.monotonic()
                        async with session.post(url, json=body) as answer:
                            await answer.read()
                            shot = Shot(
                                started,
                                time.monotonic() - started,
                                answer.status,
                                answer.headers.get("Retry-After"),
                            )
                            phase.shots.append(shot)
                            answered(body, shot)
                            if answer.status != 503:
                                break
                            wait = float(answer.headers.get("Retry-After", "1"))
                        await asyncio.sleep(wait)

            started = time.monotonic()
            await asyncio.gather(*(client(c) for c in range(8)))
            phase.seconds = time.monotonic() - started
        return phase

    if per_client:
        out["eight_clients"] = {**asyncio.run(many()).summary(), "events": 8 * per_client}
    return out


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _check_sequences(settings: Any, posted: list[dict[str, Any]]) -> dict[str, Any]:
    """Online sequences vs the offline rebuild of the built log plus every posted event."""
    built = read_parquet(settings.events_path)
    extra = pd.DataFrame(posted).rename(columns={"timestamp": "event_timestamp"})
    extra["event_timestamp"] = pd.to_datetime(extra["event_timestamp"], utc=True)
    extra["clicked"] = extra["clicked"].astype(int)
    events = pd.concat([built, extra], ignore_index=True)
    items = read_parquet(settings.catalog_dir / "items.parquet")
    snaps = sequence_snapshots(events=events, items=items, max_len=settings.sequence_length)
    expected = snaps.groupby("user_id").tail(1).set_index("user_id")
    users = sorted({int(e["user_id"]) for e in posted})
    online = _stored(open_store(settings.feature_repo), users)
    fields = [f for f in SEQUENCE_FIELDS if f != "hist_len"]
    differ = [u for u in users if any(_cell(expected, u, f) != online[u][1][f] for f in fields)]
    ids = [e["event_id"] for e in posted]
    return {
        "users_checked": len(users),
        "users_differing": len(differ),
        "posted": len(ids),
        "posted_unique": len(set(ids)),
    }


def _cell(frame: pd.DataFrame, user: int, field: str) -> list[int]:
    return [int(v) for v in frame.at[user, field]]  # type: ignore[union-attr]


def measure(
    settings: Any,
    *,
    replicas: list[int],
    phase_s: float,
    overload_s: float,
    events: int,
    soak_s: float,
    soak_only: bool = False,
    redis: OwnRedis | None,
) -> dict[str, Any]:
    from ray import serve
    from recplat.serving.app import AppArgs, build_app

    ctx = PlatformContext(settings=settings)
    run_feature_stages(ctx, config=DATA)
    register_quick(ctx, "dien", None)
    args = AppArgs(
        feature_repo=str(settings.feature_repo), home=str(settings.home), model_name="dien",
        sequence_length=settings.sequence_length, model_poll_s=0,
    )  # fmt: skip
    base = f"http://127.0.0.1:{PORT}"
    users = DATA.users

    def body() -> dict[str, Any]:
        return {
            "user_id": random.randrange(1, users),
            "candidate_item_ids": random.sample(range(1, DATA.items), 100),
        }

    def deploy(name: str, prefix: str, **update: Any) -> None:
        """(Re)deploy the app with `update` on its args; wait for all its replicas."""
        app_args = args.model_copy(update=update)
        serve.run(build_app(app_args), name=name, route_prefix=prefix, blocking=False)
        wait_running(name, app_args.num_replicas)

    def run_soak() -> dict[str, Any]:
        rate = 0.8 * sat["max_answered_per_s"]
        found = soak(url=f"{base}/r/rank", body=body, rate=rate, seconds=soak_s, app="rank")
        print(f"  soak: {found}", flush=True)
        return found

    # Replicas chosen by measurement: a ramp per count, the best one kept for the rest.
    out: dict[str, Any] = {"rank_by_replicas": {}, "events_by_replicas": {}}
    posted: list[dict[str, Any]] = []  # every event stored by a 200 answer
    for n in replicas:
        deploy("rank", "/r", num_replicas=n)
        asyncio.run(closed_loop(url=f"{base}/r/rank", body=body, clients=2, seconds=3))  # warm
        time.sleep(SETTLE_S)
        out["rank_by_replicas"][n] = _ramp(f"{base}/r/rank", body, phase_s)
        # Events too: on SQLite, replicas are writer processes that wait on each other.
        out["events_by_replicas"][n] = _events(
            f"{base}/r/events", users, DATA.items, per_client=0, seconds=phase_s, posted=posted
        )
    best = max(
        replicas, key=lambda n: _saturation(out["rank_by_replicas"][n])["max_answered_per_s"]
    )
    if best != replicas[-1]:
        deploy("rank", "/r", num_replicas=best)
    asyncio.run(closed_loop(url=f"{base}/empty/", body=body, clients=2, seconds=2))
    out["empty"] = _ramp(f"{base}/empty/", body, phase_s)
    out["replicas"] = best
    out["rank"] = out["rank_by_replicas"][best]
    out["saturation"] = {k: _saturation(out[k]) for k in ("empty", "rank")}
    sat = out["saturation"]["rank"]
    if soak_only:
        out["faults"] = {"soak": run_soak()}
        serve.delete("rank")
        return out
    single = out["rank"][0]["p50_ms"]
    out["overload"] = [
        _overload(
            f"{base}/r/rank",
            body,
            clients=3 * sat["clients"],
            seconds=overload_s,
            wait_s=wait,
            normal_ms=2 * single,
        )
        for wait in (1.0, 0.0)
    ]
    for row in out["overload"]:
        print(f"  overload: {row}", flush=True)
    out["events"] = _events(
        f"{base}/r/events", users, DATA.items, per_client=events, seconds=phase_s, posted=posted
    )
    out["events"]["sequences"] = _check_sequences(settings, posted)
    print(f"  events: {out['events']}", flush=True)

    # Faults at half the saturation rate: what they cost, not what overload costs.
    half = sat["max_answered_per_s"] / 2
    faults: dict[str, Any] = {}
    if redis is not None:
        faults["store_stopped"] = store_stopped(
            url=f"{base}/r/rank", body=body, rate=half, redis=redis
        )
        print(f"  store stopped: {faults['store_stopped']}", flush=True)
    deploy("ha", "/ha", num_replicas=2, model_poll_s=1.0)
    ha = f"{base}/ha/rank"
    asyncio.run(closed_loop(url=ha, body=body, clients=2, seconds=3))  # warm up
    faults["replica_killed"] = replica_killed(url=ha, body=body, rate=half, app="ha")
    print(f"  replica killed: {faults['replica_killed']}", flush=True)
    faults["promotion"] = promotion(
        url=ha, body=body, rate=half, app="ha", metadata=ctx.metadata, model="dien"
    )
    print(f"  promotion: {faults['promotion']}", flush=True)
    serve.delete("ha")
    if soak_s:
        faults["soak"] = run_soak()
    out["faults"] = faults
    serve.delete("rank")
    return out


def _print(store: str, r: dict[str, Any]) -> None:
    empty, rank = r["saturation"]["empty"], r["saturation"]["rank"]
    ratio = rank["max_answered_per_s"] / empty["max_answered_per_s"]
    print(f"\n{store}: scenario | measured | goal")
    for n, rows in r["rank_by_replicas"].items():
        found, ev = _saturation(rows), r["events_by_replicas"][n]
        print(
            f"ramp, {n} replica(s) | /rank {found['max_answered_per_s']:.0f}/s at "
            f"{found['clients']} clients, p99 {found['p99_ms']:.0f} ms; events: single "
            f"p99 {ev['single_at_50_rps']['p99_ms']:.1f} ms, batches "
            f"{ev['batches_of_100']['events_per_s']:.0f}/s |"
        )
    print(
        f"ramp | /rank {rank['max_answered_per_s']:.0f}/s at {rank['clients']} clients, empty "
        f"{empty['max_answered_per_s']:.0f}/s: {ratio:.2f}x | >= 0.6x"
    )
    for o in r.get("overload", []):
        share = o["answered_per_s"] / rank["max_answered_per_s"]
        print(
            f"overload {o['clients']} clients, wait {o['wait_on_503_s']:.0f} s on 503 | "
            f"{o['answered_per_s']:.0f}/s ({share:.0%} of max), {o['refused']} refused "
            f"(p99 {o['refused_p99_ms']:.0f} ms, {o['refused_with_retry_after']} with "
            f"Retry-After), {o['failed']} failed, p99 {o['p99_ms']:.0f} ms vs "
            f"{rank['p99_ms']:.0f} ms at saturation, recovery {o['recovery_s']:.2f} s | "
            ">= 90%, 503 <= 50 ms, p99 <= 2x, <= 1 s"
        )
    f = r["faults"]
    if "store_stopped" in f:
        o = f["store_stopped"]
        print(
            f"online store stopped {o['outage_s']:.0f} s at {o['rate']:.0f}/s | "
            f"{o['outage_degraded_200_share']:.1%} of {o['outage_answers']} answers in the outage "
            f"200 degraded, {o['outage_failed']} failed; full answers "
            f"{o['full_after_restart_s']:.2f} s after the restart | >= 99%, <= 5 s"
        )
    if "replica_killed" in f:
        o = f["replica_killed"]
        print(
            f"replica killed at {o['rate']:.0f}/s | {o['failed_share']:.2%} failed "
            f"({o['failed']} of {o['requests']}; {o['refused']} refused), replaced in "
            f"{o['replaced_in_s']:.1f} s, {o['running_after']} running | < 0.5%, replaced"
        )
    if "promotion" in f:
        o = f["promotion"]
        print(
            f"promotion at {o['rate']:.0f}/s | {o['failed_or_refused']} failed or refused, new "
            f"version from {o['new_version_first_s']:.1f} s (old until "
            f"{o['old_version_last_s']:.1f} s), restarted: {o['restarted']} | 0, <= 10 s, no"
        )
    if "soak" in f:
        o = f["soak"]
        print(
            f"soak {o['seconds'] / 60:.0f} min at {o['rate']:.0f}/s | {o['failed']} failed, "
            f"{o['refused']} refused, p99 {o['p99_first_tenth_ms']:.0f} -> "
            f"{o['p99_last_tenth_ms']:.0f} ms ({o['p99_drift']:+.0%}), replica RSS "
            f"{o['rss_warm_mb']:.0f} -> {o['rss_end_mb']:.0f} MB ({o['rss_growth']:+.1%}) | "
            "0 errors, < 20%, < 5%"
        )
    if "events" not in r:  # --soak-only
        return
    e = r["events"]
    one, hundred, eight = e["single_at_50_rps"], e["batches_of_100"], e["eight_clients"]
    print(f"events single @50/s | p99 {one['p99_ms']:.1f} ms, {one['failed']} failed | <= 20 ms")
    print(f"events batches of 100 | {hundred['events_per_s']:.0f} events/s | >= 5,000")
    seq = e["sequences"]
    print(
        f"8 clients x {eight['events'] // 8} events | {eight['failed']} failed, "
        f"{seq['posted'] - seq['posted_unique']} duplicated ids, {seq['users_differing']} of "
        f"{seq['users_checked']} users differ from the offline rebuild | 0, 0, 0"
    )


def main() -> None:
    import ray
    from ray import serve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "redis", "both"], default="both")
    parser.add_argument("--phase-s", type=float, default=8.0)
    parser.add_argument("--overload-s", type=float, default=60.0)
    parser.add_argument("--events", type=int, default=10_000, help="per client, 8 clients")
    parser.add_argument(
        "--soak", type=float, default=0.0, metavar="SECONDS", help="soak at 80%% of max (0: none)"
    )
    parser.add_argument(
        "--replicas", default="1,2", help="ranking replica counts to ramp (the best is kept)"
    )
    parser.add_argument(
        "--soak-only", action="store_true", help="only the ramps, then the soak (first store)"
    )
    parser.add_argument("--redis-port", type=int, default=6390, help="the Redis of our own")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/load.json"))
    args = parser.parse_args()

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    # Logical CPUs for placement only (replicas take 0.5 each; up to 6 run at once here).
    ray.init(address="local", num_cpus=4, include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": PORT})
    serve.run(_empty_app(), name="empty", route_prefix="/empty", blocking=False)
    results: dict[str, Any] = {}
    stores = ["sqlite", "redis"] if args.store == "both" else [args.store]
    try:
        for store in stores:
            with scratch_settings() as settings:
                redis = None
                if store == "redis":  # stopped in a scenario: never the shared one
                    redis = OwnRedis(port=args.redis_port, folder=settings.home / "redis")
                    redis.start()
                    _use_redis(settings, address=redis.address)
                try:
                    results[store] = measure(
                        settings,
                        replicas=[int(n) for n in args.replicas.split(",")],
                        phase_s=args.phase_s,
                        overload_s=args.overload_s,
                        events=args.events,
                        soak_s=args.soak if store == stores[0] else 0.0,
                        soak_only=args.soak_only,
                        redis=redis,
                    )
                    args.out.parent.mkdir(parents=True, exist_ok=True)  # kept as it comes
                    args.out.write_text(json.dumps(results, indent=2, default=str))
                finally:
                    if redis is not None and redis.process is not None:
                        redis.process.terminate()
                        redis.process.wait(timeout=30)
    finally:
        serve.shutdown()
        ray.shutdown()
    for store, r in results.items():
        _print(store, r)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
