"""Scores candidates for a user: features from the online store, then the model."""

from __future__ import annotations

import time

import numpy as np
import torch
from recplat.features.encoding import encode_request
from recplat.features.inputs import InputSpec
from recplat.features.online_read import OnlineFeatureReader, RequestFeatures
from recplat.models.predict import predict_logits
from recplat.registry.artifacts import Artifact
from recplat.serving.guard import FeatureGuard
from recplat.serving.schemas import RankRequest, RankResponse


class Ranker:
    """Plain-Python ranking logic (the Serve deployment wraps it).

    Args:
        artifact: The loaded model version.
        reader: Online feature reader for the model's feature service.
        version: Registry version number, reported in responses.
        guard: Deadline and breaker around the feature read (default: 100 ms, 1 s).
    """

    def __init__(
        self,
        *,
        artifact: Artifact,
        reader: OnlineFeatureReader,
        version: int,
        guard: FeatureGuard | None = None,
    ) -> None:
        self.artifact = artifact
        self.reader = reader
        self.version = version
        self.vocab = artifact.config.vocab
        self.guard = guard or FeatureGuard(reader)
        self.inputs = artifact_inputs(artifact)

    def rank(self, request: RankRequest) -> RankResponse:
        """Sort the request's candidates by predicted click probability.

        When the feature store fails or is slow, the candidates come back in
        popularity order (the model version's item statistics) with
        `degraded: true` and the reason.
        """
        started = time.perf_counter()
        found, reason = self.guard.read(
            user_id=request.user_id,
            item_ids=request.candidate_item_ids,
            request={
                "request_time_s": request.context.request_time_s or int(time.time()),
                "device": request.context.device or "unknown",
            },
        )
        fetched = time.perf_counter()
        if found is None:
            scores = self._popularity(request.candidate_item_ids)
        else:
            scores = self._score(found, request)
        order = np.argsort(-scores, kind="stable")
        done = time.perf_counter()
        ids = request.candidate_item_ids
        # Validated in pydantic-core from plain values: 3x faster than model_construct
        # of 100 items in Python, and the same JSON.
        return RankResponse.model_validate(
            {
                "user_id": request.user_id,
                "model": self.artifact.model_name,
                "version": self.version,
                "items": [
                    {"item_id": ids[i], "score": s}
                    for i, s in zip(order.tolist(), scores[order].tolist(), strict=True)
                ],
                "unknown_user": found.unknown_user if found else False,
                "unknown_items": found.unknown_items if found else [],
                "history_length": found.history_length if found else 0,
                "degraded": found is None,
                "degraded_reason": reason,
                "missing_features": found.missing_features(self.inputs.scalars) if found else {},
                "timings": {
                    "features_ms": (fetched - started) * 1e3,
                    "model_ms": (done - fetched) * 1e3,
                    "total_ms": (done - started) * 1e3,
                },
            }
        )

    def _score(self, found: RequestFeatures, request: RankRequest) -> np.ndarray:
        context = request.context
        items = found.items
        given = {"hour": context.hour, "weekday": context.weekday}
        if any(v is not None and k in items for k, v in given.items()):
            n = len(request.candidate_item_ids)
            items = {**items, **{k: [v] * n for k, v in given.items() if v is not None}}
        arrays = encode_request(
            user=found.user,
            items=items,
            user_id=request.user_id,
            item_ids=request.candidate_item_ids,
            spec=self.inputs,
            vocab=self.vocab,
            max_len=self.artifact.max_len,
        )
        with torch.inference_mode():
            logits = predict_logits(self.artifact.model, arrays)
        return np.asarray(1.0 / (1.0 + np.exp(-logits.astype(np.float64))))

    def _popularity(self, item_ids: list[int]) -> np.ndarray:
        """Smoothed training CTR per candidate; unknown items get the mean (request order
        is kept for ties, and entirely when the artifact has no item statistics)."""
        table = self.artifact.popularity
        if table is None:
            return np.zeros(len(item_ids))
        values = table.numpy().astype(np.float64)
        ids = np.asarray(item_ids, dtype=np.int64)
        known = (ids >= 0) & (ids < len(values))
        return np.where(known, values[np.clip(ids, 0, len(values) - 1)], values.mean())


def artifact_inputs(artifact: Artifact) -> InputSpec:
    """The encoding the model was trained with (saved in its artifact).

    Raises:
        ValueError: An artifact written before encodings were saved (retrain it).
    """
    inputs = artifact.description.get("inputs")
    if not inputs:
        raise ValueError(
            f"{artifact.model_name} artifact has no saved input encoding "
            "(written before feature services drove the inputs); retrain the model"
        )
    return InputSpec.from_dict(inputs)
