"""The fault scenarios of `load.py`, each under a steady arrival rate: a replica killed,
a model version promoted, the online store (a Redis of our own) stopped and restarted,
and a long soak. Every answer is kept with its time, status and what it said."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from loadgen import Phase, Shot, open_loop


@dataclass
class Answer:
    sent: float  # monotonic
    at: float  # monotonic, when it came back
    status: int
    degraded: bool | None = None
    version: int | None = None


@dataclass
class Run:
    """A phase under load and the answers it got, in arrival order."""

    phase: Phase = field(default_factory=Phase)
    answers: list[Answer] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)  # event -> monotonic time

    def on_answer(self, body: Any, shot: Shot, reply: bytes) -> None:
        answer = Answer(shot.started, shot.started + shot.seconds, shot.status)
        if shot.status == 200:
            content = json.loads(reply)
            answer.degraded, answer.version = content["degraded"], content["version"]
        self.answers.append(answer)

    def between(self, start: str, end: str) -> list[Answer]:
        """The answers to requests sent between two marks."""
        return [a for a in self.answers if self.marks[start] <= a.sent < self.marks[end]]


Action = tuple[float, str, Callable[[], Any]]  # (seconds into the phase, mark, blocking call)


def under_load(
    *, url: str, body: Callable[[], Any], rate: float, seconds: float, actions: list[Action]
) -> Run:
    """An open-loop phase at `rate` requests/s, running each action at its offset (on a
    thread, so the load never pauses) and marking when it began and returned."""
    run = Run()

    async def main() -> None:
        async def act() -> None:
            started = time.monotonic()
            for offset, mark, call in actions:
                await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
                run.marks[f"{mark}:began"] = time.monotonic()
                await asyncio.to_thread(call)
                run.marks[mark] = time.monotonic()

        load = open_loop(url=url, body=body, rate=rate, seconds=seconds, on_answer=run.on_answer)
        run.phase, _ = await asyncio.gather(load, act())
        run.marks.setdefault("end", time.monotonic())

    asyncio.run(main())
    return run


def replica_names(app: str) -> list[str]:
    import ray

    return sorted(
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a["name"].startswith(f"SERVE_REPLICA::{app}#")
    )


def replica_pids(app: str) -> list[int]:
    """Process ids of the app's ranking replicas (their process title names the app)."""
    title = f"ServeReplica:{app}:RankingService"
    return sorted(
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if title in " ".join(p.info["cmdline"] or [])
    )


def running_replicas(app: str) -> int:
    from ray import serve

    status = serve.status().applications.get(app)
    if status is None or "RankingService" not in status.deployments:
        return 0
    states = status.deployments["RankingService"].replica_states
    return int(states.get("RUNNING", 0))  # type: ignore[call-overload]


def wait_running(app: str, count: int, timeout_s: float = 120) -> float:
    """Seconds until the app has `count` running replicas (inf past the timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if running_replicas(app) == count:
            return time.monotonic() - started
        time.sleep(0.1)
    return float("inf")


def _failed(answers: list[Answer]) -> int:
    return sum(1 for a in answers if a.status not in (200, 503))


def replica_killed(*, url: str, body: Callable[[], Any], rate: float, app: str) -> dict[str, Any]:
    """One of two replicas killed for real 5 s into 25 s of load; Serve replaces it."""
    import ray

    assert wait_running(app, 2) < float("inf"), f"{app}: two replicas never ran"
    replaced: dict[str, float] = {}

    def kill() -> None:
        started = time.monotonic()
        ray.kill(ray.get_actor(replica_names(app)[0], namespace="serve"), no_restart=True)
        while running_replicas(app) == 2 and time.monotonic() - started < 10:
            time.sleep(0.05)  # until the controller has noticed the death
        wait_running(app, 2)
        replaced["s"] = time.monotonic() - started

    run = under_load(url=url, body=body, rate=rate, seconds=25, actions=[(5.0, "killed", kill)])
    answers = run.answers
    return {
        **run.phase.summary(),
        "rate": rate,
        "failed_share": _failed(answers) / max(1, len(answers)),
        "replaced_in_s": replaced["s"],
        "running_after": running_replicas(app),
    }


def promotion(
    *, url: str, body: Callable[[], Any], rate: float, app: str, metadata: Any, model: str
) -> dict[str, Any]:
    """Another version registered and promoted 5 s into 25 s of load; the replicas poll the
    registry and swap it in. Then the first version is promoted back (not measured)."""
    original = metadata.resolve(model_name=model)
    copy = metadata.register_model(
        model_name=model,
        run_id=original.run_id,
        artifact_path=original.artifact_path,
        config=original.config,
        metrics=original.metrics,
        feature_service=original.feature_service,
    )
    pids = replica_pids(app)

    def promote() -> None:
        metadata.promote(model_name=model, version=copy.version)

    run = under_load(
        url=url, body=body, rate=rate, seconds=25, actions=[(5.0, "promoted", promote)]
    )
    metadata.promote(model_name=model, version=original.version)
    after = run.between("promoted", "end")
    first_new = next((a.at for a in after if a.version == copy.version), float("inf"))
    last_old = max((a.at for a in after if a.version == original.version), default=0.0)
    return {
        **run.phase.summary(),
        "rate": rate,
        "failed_or_refused": sum(1 for a in run.answers if a.status != 200),
        "new_version_first_s": first_new - run.marks["promoted"],
        "old_version_last_s": max(0.0, last_old - run.marks["promoted"]),
        "restarted": replica_pids(app) != pids,
    }


class OwnRedis:
    """A redis-server of the benchmark's own, on its own port, that can be stopped with
    SHUTDOWN SAVE and started again on the same data."""

    def __init__(self, *, port: int, folder: Path) -> None:
        self.port, self.folder = port, folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = ["redis-server", "--port", str(self.port), "--dir", str(self.folder)]
        command += ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        import redis

        for _ in range(100):
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        """SHUTDOWN SAVE: the data reach disk, then the server exits."""
        import redis

        # The server closes the connection as it exits.
        with contextlib.suppress(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            redis.Redis(port=self.port, socket_timeout=2).shutdown(save=True)
        if self.process is not None:
            self.process.wait(timeout=30)


def store_stopped(
    *, url: str, body: Callable[[], Any], rate: float, redis: OwnRedis
) -> dict[str, Any]:
    """The online store stopped 5 s into 30 s of load and started again 10 s later."""
    run = under_load(
        url=url,
        body=body,
        rate=rate,
        seconds=30,
        actions=[(5.0, "stopped", redis.stop), (15.0, "restarted", redis.start)],
    )
    # The outage: from SHUTDOWN sent until the server answers again. Its answers: requests
    # sent after the stop began and answered before the restart (their reads saw no store).
    during = [a for a in run.between("stopped:began", "restarted") if a.at < run.marks["restarted"]]
    after = run.between("restarted", "end")
    full = next((a.at for a in after if a.status == 200 and not a.degraded), float("inf"))
    return {
        **run.phase.summary(),
        "rate": rate,
        "outage_s": run.marks["restarted"] - run.marks["stopped:began"],
        "stop_took_s": run.marks["stopped"] - run.marks["stopped:began"],
        "outage_answers": len(during),
        "outage_degraded_200_share": sum(1 for a in during if a.status == 200 and a.degraded)
        / max(1, len(during)),
        "outage_refused": sum(1 for a in during if a.status == 503),
        "outage_failed": _failed(during),
        "full_after_restart_s": full - run.marks["restarted"],
    }


def soak(
    *, url: str, body: Callable[[], Any], rate: float, seconds: float, app: str
) -> dict[str, Any]:
    """A steady rate for `seconds`: errors, p99 of the first and the last tenth, and the
    replicas' resident memory after the first tenth and at the end."""
    tenth = seconds / 10
    rss: dict[str, int] = {}

    def memory(mark: str) -> Callable[[], None]:
        def read() -> None:
            rss[mark] = sum(psutil.Process(pid).memory_info().rss for pid in replica_pids(app))

        return read

    run = under_load(
        url=url,
        body=body,
        rate=rate,
        seconds=seconds,
        actions=[(tenth, "warm", memory("warm")), (seconds - 1, "last", memory("last"))],
    )
    shots = sorted(run.phase.shots, key=lambda s: s.started)
    start = shots[0].started if shots else 0.0

    def p99(low: float, high: float) -> float:
        ok = sorted(s.seconds for s in shots if s.status == 200 and low <= s.started - start < high)
        return ok[min(len(ok) - 1, int(0.99 * len(ok)))] * 1e3 if ok else float("nan")

    first, last = p99(0, tenth), p99(seconds - tenth, seconds + 1)
    return {
        **run.phase.summary(),
        "rate": rate,
        "seconds": seconds,
        "p99_first_tenth_ms": first,
        "p99_last_tenth_ms": last,
        "p99_drift": last / first - 1,
        "rss_warm_mb": rss["warm"] / 2**20,
        "rss_end_mb": rss["last"] / 2**20,
        "rss_growth": rss["last"] / rss["warm"] - 1,
    }
