"""Events reach ranking; a locked store degrades; promotion and API keys on the live app."""

from __future__ import annotations

import time

import httpx
import pytest
from recplat.features.repo import open_store

from tests.integration.pipeline.conftest import Pipeline

pytestmark = pytest.mark.integration


def test_events_reach_the_sequence_that_rank_reads(pipeline: Pipeline) -> None:
    from datetime import UTC, datetime, timedelta

    user, items = 11, [3, 4, 5]

    def history() -> int:
        body = {"user_id": user, "candidate_item_ids": [1]}
        answer = httpx.post(f"{pipeline.url}/rank", json=body, timeout=30).json()
        return int(answer["history_length"])

    before = history()
    now = datetime.now(UTC)
    events = [
        {
            "event_id": 77_000_000 + k,
            "user_id": user,
            "item_id": item,
            "timestamp": (now - timedelta(seconds=5 - k)).isoformat(),
        }
        for k, item in enumerate(items)
    ]
    events.append({**events[0], "event_id": 77_000_100, "clicked": False})  # not a behaviour
    response = httpx.post(f"{pipeline.url}/events", json={"events": events}, timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["received"], answer["appended"], answer["not_behaviour"]) == (4, 3, 1)
    max_len = pipeline.ctx.settings.sequence_length
    assert history() == min(before + 3, max_len)
    read = (
        open_store(pipeline.ctx.settings.feature_repo)
        .get_online_features(
            features=["user_sequence:hist_item_ids"], entity_rows=[{"user_id": user}]
        )
        .to_dict()
    )
    assert read["hist_item_ids"][0][-3:] == items  # newest last, as offline

    replay = httpx.post(f"{pipeline.url}/events", json={"events": events}, timeout=30).json()
    assert (replay["appended"], replay["duplicates"]) == (0, 3)
    assert history() == min(before + 3, max_len)

    naive = {**events[0], "event_id": 1, "timestamp": "2026-01-01T00:00:00"}
    future = {**events[0], "event_id": 2, "timestamp": (now + timedelta(days=1)).isoformat()}
    ancient = {**events[0], "event_id": 3, "timestamp": "0581-11-17T05:29:00+08:04"}
    for bad, words in ((naive, "timezone"), (future, "future"), (ancient, "before 1995")):
        refused = httpx.post(f"{pipeline.url}/events", json={"events": [bad]}, timeout=30)
        assert refused.status_code == 422 and "timestamp" in refused.text
        assert words in refused.text
    empty = httpx.post(f"{pipeline.url}/events", json={"events": []}, timeout=30)
    assert empty.status_code == 422 and "events" in empty.text


def test_a_locked_store_degrades_to_popularity_and_recovers(pipeline: Pipeline) -> None:
    """The online store stops answering (another writer holds an exclusive lock): /rank
    answers within the feature deadline in popularity order, then recovers by itself."""
    import sqlite3

    import torch

    candidates = [5, 17, 33, 2, 71, 48]
    body = {"user_id": 7, "candidate_item_ids": candidates}
    assert not httpx.post(f"{pipeline.url}/rank", json=body, timeout=30).json()["degraded"]
    popularity = torch.load(
        pipeline.outcomes["din"].artifact_path / "popularity.pt", weights_only=True
    ).tolist()
    blocker = sqlite3.connect(pipeline.ctx.settings.data_dir / "online_store.db", timeout=10)
    blocker.execute("BEGIN EXCLUSIVE")  # readers now wait for the lock (5 s busy timeout)
    try:
        for _ in range(3):
            started = time.perf_counter()
            response = httpx.post(f"{pipeline.url}/rank", json=body, timeout=30)
            took = time.perf_counter() - started
            assert response.status_code == 200
            answer = response.json()
            assert answer["degraded"] is True and "feature store" in answer["degraded_reason"]
            assert took < 1.0  # the deadline (100 ms), not the store's 5 s lock wait
            ranked = [i["item_id"] for i in answer["items"]]
            assert sorted(ranked) == sorted(candidates)
            assert ranked == sorted(ranked, key=lambda i: -popularity[i])
            assert [i["score"] for i in answer["items"]] == pytest.approx(
                [popularity[i] for i in ranked]
            )
    finally:
        blocker.rollback()
        blocker.close()
    for _ in range(50):  # the breaker lets a request through after 1 s
        answer = httpx.post(f"{pipeline.url}/rank", json=body, timeout=30).json()
        if not answer["degraded"]:
            break
        time.sleep(0.2)
    assert answer["degraded"] is False and answer["degraded_reason"] is None
    assert answer["history_length"] > 0


def test_promotion_reaches_the_running_app_without_failed_requests(pipeline: Pipeline) -> None:
    """`models promote` of another version: replicas swap it in; no request fails meanwhile."""
    import threading

    metadata = pipeline.ctx.metadata
    original = metadata.resolve(model_name="din")
    copy = metadata.register_model(
        model_name="din",
        run_id=original.run_id,
        artifact_path=original.artifact_path,
        config=original.config,
        metrics=original.metrics,
        feature_service=original.feature_service,
    )
    statuses: list[int] = []
    versions: list[int] = []
    stop = threading.Event()

    def load() -> None:
        body = {"user_id": 3, "candidate_item_ids": [1, 2, 3]}
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                response = client.post(f"{pipeline.url}/rank", json=body)
                statuses.append(response.status_code)
                if response.status_code == 200:
                    versions.append(response.json()["version"])

    def wait_for(version: int) -> None:
        for _ in range(120):
            if httpx.get(f"{pipeline.url}/model", timeout=30).json()["version"] == version:
                return
            time.sleep(0.25)
        raise AssertionError(f"version {version} never reached the app")

    thread = threading.Thread(target=load)
    thread.start()
    try:
        metadata.promote(model_name="din", version=copy.version)
        wait_for(copy.version)
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=60)
        metadata.promote(model_name="din", version=original.version)
    assert statuses and set(statuses) == {200}, sorted(set(statuses))
    assert versions[0] == original.version and versions[-1] == copy.version
    switch = versions.index(copy.version)
    assert set(versions[switch:]) == {copy.version}  # swapped once, never back
    wait_for(original.version)
    assert httpx.get(f"{pipeline.url}/model", timeout=30).json()["stage"] == "production"


def test_api_key_guards_rank_and_model(pipeline: Pipeline) -> None:
    """A second app with an API key, beside the open one: 401 without, 403 wrong, 200 right."""
    from ray import serve
    from recplat.serving.app import AppArgs, build_app

    s = pipeline.ctx.settings
    args = AppArgs(
        feature_repo=str(s.feature_repo.resolve()),
        home=str(s.home.resolve()),
        model_name="din",
        api_key="s3cret",
    )
    serve.run(build_app(args), name="secured", route_prefix="/secured", blocking=False)
    base = f"{pipeline.url}/secured"
    try:
        for _ in range(120):  # wait until the replica answers
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        body = {"user_id": 1, "candidate_item_ids": [1, 2, 3]}
        missing = httpx.post(f"{base}/rank", json=body, timeout=30)
        assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]
        wrong = httpx.post(f"{base}/rank", json=body, headers={"X-API-Key": "nope"}, timeout=30)
        assert wrong.status_code == 403 and "Traceback" not in wrong.text
        right = httpx.post(f"{base}/rank", json=body, headers={"X-API-Key": "s3cret"}, timeout=30)
        assert right.status_code == 200 and len(right.json()["items"]) == 3
        assert httpx.get(f"{base}/model", timeout=30).status_code == 401
        event = {"event_id": 1, "user_id": 1, "item_id": 1, "timestamp": "2026-01-01T00:00:00Z"}
        posted = httpx.post(f"{base}/events", json={"events": [event]}, timeout=30)
        assert posted.status_code == 401
        # The open app is unaffected, and the spec declares the key.
        assert httpx.post(f"{pipeline.url}/rank", json=body, timeout=30).status_code == 200
        spec = httpx.get(f"{base}/openapi.json", timeout=30).json()
        assert "APIKeyHeader" in spec["components"]["securitySchemes"]
    finally:
        serve.delete("secured")
