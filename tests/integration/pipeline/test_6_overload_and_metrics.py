"""Overload is refused at once with 503 + Retry-After (not timeouts); the app's Prometheus
metrics move with the requests, beside Ray Serve's own."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import httpx
import pytest
from recplat.serving.app import AppArgs

from tests.integration.pipeline.conftest import Pipeline

pytestmark = pytest.mark.integration

BODY = {"user_id": 3, "candidate_item_ids": list(range(1, 60))}


def _args(pipeline: Pipeline, **limits: object) -> AppArgs:
    s = pipeline.ctx.settings
    return AppArgs.model_validate(
        {
            "feature_repo": str(s.feature_repo.resolve()),
            "home": str(s.home.resolve()),
            "model_name": "din",
            "sequence_length": s.sequence_length,
            "model_poll_s": 0,
            **limits,
        }
    )


def test_overload_is_refused_at_once_with_retry_after(pipeline: Pipeline) -> None:
    """One replica taking 1 request with 1 waiting: a burst of 40 gets 200s and 503s
    with Retry-After, nothing else (no timeout, no 500); the next request answers."""
    import aiohttp
    from ray import serve
    from recplat.serving.app import build_app

    args = _args(pipeline, max_ongoing_requests=1, max_queued_requests=1, retry_after_s=2)
    serve.run(build_app(args), name="tight", route_prefix="/tight", blocking=False)
    url = f"{pipeline.url}/tight/rank"
    try:
        for _ in range(240):
            try:
                if httpx.post(url, json=BODY, timeout=10).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)

        async def burst() -> list[tuple[int, str | None, float]]:
            async with aiohttp.ClientSession() as session:

                async def one() -> tuple[int, str | None, float]:
                    started = time.monotonic()
                    timeout = aiohttp.ClientTimeout(total=30)
                    async with session.post(url, json=BODY, timeout=timeout) as answer:
                        await answer.read()
                        return (
                            answer.status,
                            answer.headers.get("Retry-After"),
                            (time.monotonic() - started),
                        )

                return await asyncio.gather(*(one() for _ in range(40)))

        answers = asyncio.run(burst())
        statuses = [status for status, _, _ in answers]
        assert set(statuses) == {200, 503}, statuses
        refused = [(after, took) for status, after, took in answers if status == 503]
        assert all(after == "2" for after, _ in refused), refused
        slowest_answer = max(took for status, _, took in answers if status == 200)
        # A refusal does not wait for a replica: every one is back before the slowest 200.
        assert max(took for _, took in refused) < slowest_answer, answers
        assert httpx.post(url, json=BODY, timeout=10).status_code == 200  # back at once
    finally:
        serve.delete("tight")


def _scrape() -> str:
    import ray

    node = ray._private.worker.global_worker.node
    assert node is not None
    port = node.metrics_export_port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def _value(text: str, name: str, **tags: str) -> float:
    """Sum of the samples of `name` carrying all `tags` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in tags.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_the_app_metrics_move_with_requests(pipeline: Pipeline) -> None:
    url = pipeline.url
    before = _scrape()
    ranked = _value(before, "ray_recplat_requests_total", route="/rank", status="200")
    refused = _value(before, "ray_recplat_requests_total", route="/rank", status="422")
    appended = _value(before, "ray_recplat_events_total", outcome="appended")
    with httpx.Client(timeout=30) as client:
        for _ in range(5):
            assert client.post(f"{url}/rank", json=BODY).status_code == 200
        assert client.post(f"{url}/rank", json={"user_id": -1}).status_code == 422
        event = {
            "event_id": 987_654_321_001, "user_id": 5, "item_id": 7,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }  # fmt: skip
        assert client.post(f"{url}/events", json={"events": [event]}).json()["appended"] == 1
    # Ray's metrics agent reports every few seconds.
    for _ in range(60):
        after = _scrape()
        if _value(after, "ray_recplat_events_total", outcome="appended") >= appended + 1:
            break
        time.sleep(0.5)
    assert _value(after, "ray_recplat_requests_total", route="/rank", status="200") >= ranked + 5
    assert _value(after, "ray_recplat_requests_total", route="/rank", status="422") >= refused + 1
    assert _value(after, "ray_recplat_events_total", outcome="appended") >= appended + 1
    assert _value(after, "ray_recplat_request_latency_ms_count", route="/rank") >= ranked + 6
    assert _value(after, "ray_recplat_feature_read_ms_count") >= 5
    # Beside Serve's own metrics, in the same scrape.
    assert "ray_serve_num_http_requests_total" in after
