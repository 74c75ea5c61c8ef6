"""Scores candidates for a user: features from the online store, then the model."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import torch
from recplat.registry.artifacts import Artifact
from recplat.serving.online_features import OnlineFeatureReader
from recplat.serving.schemas import RankRequest, RankResponse, ScoredItem, Timings
from recplat.training.datasets import encode_request
from recplat.training.engine import predict_logits


class Ranker:
    """Plain-Python ranking logic (the Serve deployment wraps it).

    Args:
        artifact: The loaded model version.
        reader: Online feature reader for the model's feature service.
        version: Registry version number, reported in responses.
    """

    def __init__(self, *, artifact: Artifact, reader: OnlineFeatureReader, version: int) -> None:
        self.artifact = artifact
        self.reader = reader
        self.version = version
        self.vocab = artifact.config.vocab

    def rank(self, request: RankRequest) -> RankResponse:
        """Sort the request's candidates by predicted click probability."""
        started = time.perf_counter()
        found = self.reader.read(user_id=request.user_id, item_ids=request.candidate_item_ids)
        fetched = time.perf_counter()
        now = datetime.now(UTC)
        context = request.context
        arrays = encode_request(
            user=found.user,
            items=found.items,
            user_id=request.user_id,
            item_ids=request.candidate_item_ids,
            hour=context.hour if context.hour is not None else now.hour,
            weekday=context.weekday if context.weekday is not None else now.weekday(),
            device=context.device or "unknown",
            vocab=self.vocab,
            max_len=self.artifact.max_len,
        )
        with torch.inference_mode():
            logits = predict_logits(self.artifact.model, arrays)
        scores = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
        order = np.argsort(-scores, kind="stable")
        done = time.perf_counter()
        return RankResponse(
            user_id=request.user_id,
            model=self.artifact.model_name,
            version=self.version,
            items=[
                ScoredItem(item_id=request.candidate_item_ids[i], score=float(scores[i]))
                for i in order
            ],
            unknown_user=found.unknown_user,
            unknown_items=found.unknown_items,
            history_length=found.history_length,
            timings=Timings(
                features_ms=(fetched - started) * 1e3,
                model_ms=(done - fetched) * 1e3,
                total_ms=(done - started) * 1e3,
            ),
        )
