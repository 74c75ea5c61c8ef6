"""An async HTTP load generator: closed-loop clients or a fixed arrival rate, bounded in
time and count, loopback only. Used by `load.py`; importable on its own."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

MAX_REQUESTS = 2_000_000  # a hard bound on any one phase


@dataclass
class Shot:
    """One request: when it started (monotonic s), how long it took, what came back."""

    started: float
    seconds: float
    status: int  # HTTP status; 0 = no answer (connection error, client timeout)
    retry_after: str | None = None


@dataclass
class Phase:
    """The shots of one phase and its wall time."""

    shots: list[Shot] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        ok = sorted(s.seconds for s in self.shots if s.status == 200)
        refused = sorted(s.seconds for s in self.shots if s.status == 503)
        failed = [s for s in self.shots if s.status not in (200, 503)]
        return {
            "requests": len(self.shots),
            "answered_per_s": len(ok) / self.seconds if self.seconds else 0.0,
            "p50_ms": _pct(ok, 0.50),
            "p99_ms": _pct(ok, 0.99),
            "refused": len(refused),
            "refused_p99_ms": _pct(refused, 0.99),
            "refused_with_retry_after": sum(
                1 for s in self.shots if s.status == 503 and s.retry_after
            ),
            "failed": len(failed),
            "failed_statuses": sorted({s.status for s in failed}),
        }


def _pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e3


Answered = Callable[[Any, "Shot", bytes], None]  # (request body, shot, reply) of each answer


async def _post(
    session: aiohttp.ClientSession,
    url: str,
    body: Any,
    timeout_s: float,
    shots: list[Shot],
    *,
    on_answer: Answered | None = None,
) -> Shot:
    started = time.monotonic()
    try:
        async with session.post(
            url, json=body, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as answer:
            reply = await answer.read()
            shot = Shot(
                started,
                time.monotonic() - started,
                answer.status,
                answer.headers.get("Retry-After"),
            )
    except (TimeoutError, aiohttp.ClientError):
        shot = Shot(started, time.monotonic() - started, 0)
        reply = b""
    shots.append(shot)
    if on_answer is not None:
        on_answer(body, shot, reply)
    return shot


async def closed_loop(
    *,
    url: str,
    body: Callable[[], Any],
    clients: int,
    seconds: float,
    timeout_s: float = 10.0,
    on_refusal_wait_s: float = 0.0,
    on_answer: Answered | None = None,
) -> Phase:
    """`clients` clients, each sending its next request when the last one came back (after
    `on_refusal_wait_s` when it was refused) for `seconds`."""
    phase = Phase()
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            while time.monotonic() < deadline and len(phase.shots) < MAX_REQUESTS:
                shot = await _post(
                    session, url, body(), timeout_s, phase.shots, on_answer=on_answer
                )
                if shot.status == 503 and on_refusal_wait_s:
                    await asyncio.sleep(on_refusal_wait_s)

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        phase.seconds = time.monotonic() - started
    return phase


async def open_loop(
    *,
    url: str,
    body: Callable[[], Any],
    rate: float,
    seconds: float,
    timeout_s: float = 10.0,
    on_answer: Answered | None = None,
) -> Phase:
    """Requests sent at a fixed rate (arrivals do not wait for answers) for `seconds`."""
    phase = Phase()
    count = min(int(rate * seconds), MAX_REQUESTS)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        tasks = []
        for i in range(count):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(
                asyncio.create_task(
                    _post(session, url, body(), timeout_s, phase.shots, on_answer=on_answer)
                )
            )
        await asyncio.gather(*tasks)
        phase.seconds = time.monotonic() - started
    return phase


def recovery_s(phase: Phase, *, after: float, normal_ms: float) -> float:
    """Seconds from `after` until answers are back to `normal_ms`: the start of the first
    run of 5 consecutive 200s no slower than that."""
    run = 0
    for shot in sorted(phase.shots, key=lambda s: s.started):
        if shot.started < after:
            continue
        if shot.status == 200 and shot.seconds * 1e3 <= normal_ms:
            run += 1
            if run == 5:
                return max(0.0, shot.started - after)
        else:
            run = 0
    return float("inf")


def median_ms(phase: Phase) -> float:
    ok = [s.seconds * 1e3 for s in phase.shots if s.status == 200]
    return statistics.median(ok) if ok else float("nan")
