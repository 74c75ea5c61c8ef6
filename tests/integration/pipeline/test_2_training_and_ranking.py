"""Training runs and versions; /rank over HTTP: order, offline parity, defaults, bad input."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from recplat.features.repo import open_store

from tests.integration.pipeline.conftest import Pipeline

pytestmark = pytest.mark.integration


def test_training_recorded_runs_versions_and_metrics(pipeline: Pipeline) -> None:
    for name, outcome in pipeline.outcomes.items():
        m = outcome.metrics
        assert 0.5 < m["test_auc"] <= 1.0, name
        assert 0.0 < m["test_logloss"] < 1.0
        assert m["epochs_run"] == 2 and len(m["history"]) == 2
        assert m["resumes"] == 0
        assert (outcome.artifact_path / "weights.pt").exists()
        assert (outcome.artifact_path / "curves.png").stat().st_size > 1000
    versions = {v.model_name: v for v in pipeline.ctx.metadata.models()}
    assert versions["din"].stage == "production" and versions["embedding_mlp"].stage == "staging"
    # Each model trained on the service its catalogue entry names.
    assert {name: versions[name].feature_service for name in ("din", "dien", "embedding_mlp")} == {
        "din": "din_ranker_v1",
        "dien": "dien_ranker_v1",
        "embedding_mlp": "embedding_mlp_v1",
    }
    run = next(r for r in pipeline.ctx.metadata.runs() if r.model_name == "din")
    assert run.status == "finished" and run.validation_run_id == pipeline.data.validation_run_id
    checkpoints = list(Path(run.storage_path or "").rglob("best.pt"))
    assert checkpoints, "Ray Train wrote no checkpoint"


def test_rank_over_http_sorts_all_candidates(pipeline: Pipeline) -> None:
    candidates = [5, 17, 33, 2, 71, 48]
    body = {
        "user_id": 7,
        "candidate_item_ids": candidates,
        "context": {"device": "mobile", "hour": 20},
    }
    response = httpx.post(f"{pipeline.url}/rank", json=body, timeout=30)
    assert response.status_code == 200
    answer = response.json()
    assert answer["model"] == "din" and answer["version"] == pipeline.outcomes["din"].version
    scores = [item["score"] for item in answer["items"]]
    assert sorted(item["item_id"] for item in answer["items"]) == sorted(candidates)
    assert scores == sorted(scores, reverse=True) and all(0 < s < 1 for s in scores)
    assert answer["unknown_user"] is False and answer["unknown_items"] == []
    assert answer["history_length"] > 0
    health = httpx.get(f"{pipeline.url}/healthz", timeout=10).json()
    assert health == {"status": "ok", "model": "din", "version": answer["version"]}


def test_served_scores_match_offline_scoring(pipeline: Pipeline) -> None:
    """The online path (Feast online store + encode) scores like the registered model offline."""
    import torch
    from recplat.features.encoding import encode
    from recplat.features.online_read import OnlineFeatureReader
    from recplat.models.predict import predict_logits
    from recplat.registry.artifacts import load_artifact
    from recplat.serving.ranker import artifact_inputs

    body = {
        "user_id": 3,
        "candidate_item_ids": [1, 2, 3],
        "context": {"device": "desktop", "hour": 9, "weekday": 2, "request_time_s": 1767225600},
    }
    served = {
        i["item_id"]: i["score"]
        for i in httpx.post(f"{pipeline.url}/rank", json=body, timeout=30).json()["items"]
    }
    artifact = load_artifact(pipeline.outcomes["din"].artifact_path)
    assert artifact.feature_service == "din_ranker_v1"  # the model's own service
    reader = OnlineFeatureReader(
        store=open_store(pipeline.ctx.settings.feature_repo),
        feature_service=artifact.feature_service,
    )
    request = {"request_time_s": 1767225600, "device": "desktop"}
    # The given hour and weekday replace the ones the context view computes.
    frame = reader.fetch(user_id=3, item_ids=[1, 2, 3], request=request).assign(hour=9, weekday=2)
    spec = artifact_inputs(artifact)
    logits = predict_logits(
        artifact.model,
        encode(frame, spec=spec, vocab=artifact.config.vocab, max_len=artifact.max_len),
    )
    expected = torch.sigmoid(torch.from_numpy(logits)).tolist()
    assert [served[i] for i in (1, 2, 3)] == pytest.approx(expected, abs=1e-6)


def test_unknown_user_and_items_get_defaults(pipeline: Pipeline) -> None:
    body = {"user_id": 999_999, "candidate_item_ids": [1, 123_456]}
    answer = httpx.post(f"{pipeline.url}/rank", json=body, timeout=30).json()
    assert answer["unknown_user"] is True and answer["unknown_items"] == [123_456]
    assert answer["history_length"] == 0 and len(answer["items"]) == 2
    # What the store lacked is counted (per candidate); the model read training defaults.
    missing = answer["missing_features"]
    assert missing["age_bucket"] == 2 and missing["user_clicks_7d"] == 2
    assert missing["item_ctr_30d"] == 1 and "hour" not in missing


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user_id": 1, "candidate_item_ids": []}, "candidate_item_ids"),
        ({"user_id": "abc", "candidate_item_ids": [1]}, "user_id"),
        ({"user_id": 1, "candidate_item_ids": list(range(1001))}, "candidate_item_ids"),
        ({"user_id": 1, "candidate_item_ids": [1], "context": {"hour": 25}}, "hour"),
        ({"user_id": 1, "candidate_item_ids": [1], "colour": "red"}, "colour"),
    ],
)
def test_bad_requests_get_a_4xx_naming_the_field(
    pipeline: Pipeline, body: dict, field: str
) -> None:
    response = httpx.post(f"{pipeline.url}/rank", json=body, timeout=30)
    assert response.status_code == 422
    assert field in response.text


def test_oversized_body_is_refused_with_413(pipeline: Pipeline) -> None:
    from recplat.serving.schemas import MAX_BODY_BYTES

    padding = " " * (MAX_BODY_BYTES + 1)
    response = httpx.post(
        f"{pipeline.url}/rank",
        content='{"user_id": 1, "candidate_item_ids": [1]}' + padding,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413 and str(MAX_BODY_BYTES) in response.json()["detail"]
