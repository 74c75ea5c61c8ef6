"""Shared helpers of the benchmark scripts: build a data set through the real pipeline."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import run_feature_stages
from recplat.events.synthetic import GeneratorConfig
from recplat.models.catalog import config_to_dict
from recplat.registry.artifacts import save_artifact
from recplat.settings import Settings
from recplat.training.in_process import train_local
from recplat.training.options import TrainOptions
from recplat.training.registration import item_popularity
from recplat.training.training_set import TrainingData, prepare_training_data

REPO = Path(__file__).resolve().parents[1] / "feature_repo"


@contextmanager
def scratch_settings() -> Iterator[Settings]:
    """Settings over a throwaway copy of the feature repo."""
    root = Path(tempfile.mkdtemp(prefix="recplat-bench-"))
    try:
        shutil.copytree(
            REPO, root / "feature_repo", ignore=shutil.ignore_patterns("data", "__pycache__")
        )
        yield Settings(feature_repo=root / "feature_repo", home=root / "home")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def training_data(
    settings: Settings, config: GeneratorConfig, *, feature_service: str = "ranking_v1"
) -> TrainingData:
    """Generate -> gates -> Feast -> point-in-time training set (default: the narrow
    service, the inputs a peer library can take as they are)."""
    ctx = PlatformContext(settings=settings)
    run_feature_stages(ctx, config=config)
    return prepare_training_data(settings=settings, gate=ctx.gate, feature_service=feature_service)


def latency_ms(fn: Callable[[], Any], *, repeats: int = 200, warmup: int = 10) -> dict[str, float]:
    """p50 and p99 of `fn` in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1e3)
    samples.sort()
    return {
        "p50_ms": statistics.median(samples),
        "p99_ms": samples[min(len(samples) - 1, int(0.99 * len(samples)))],
    }


def post_padded(items: np.ndarray, categories: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Front-padded (B, L) histories left-aligned (padding at the end), as DeepCTR-Torch
    wants them; the items' real steps decide the order, so categories stay aligned."""
    order = np.argsort(items == 0, axis=1, kind="stable")  # real steps first
    return np.take_along_axis(items, order, axis=1), np.take_along_axis(categories, order, axis=1)


def register_quick(ctx: PlatformContext, name: str, service: str | None) -> int:
    """Train briefly in process and register (the benchmark measures serving, not training)."""
    options = TrainOptions(model_name=name, epochs=1, threads=2, feature_service=service)
    data = prepare_training_data(
        settings=ctx.settings, gate=ctx.gate, feature_service=options.service
    )
    result = train_local(data=data, options=options)
    artifact = ctx.settings.models_dir / name / f"bench-{options.service}"
    config = options.model_config(data.vocab, data.inputs)
    save_artifact(
        artifact,
        model_name=name,
        config=config,
        state_dict=result.model.state_dict(),
        max_len=data.max_len,
        feature_service=data.feature_service,
        popularity=item_popularity(data),
        extra={"inputs": data.inputs.to_dict() if data.inputs else None},
    )
    run = ctx.metadata.start_run(
        model_name=name, config={}, feature_service=data.feature_service, validation_run_id=None
    )
    version = ctx.metadata.register_model(
        model_name=name,
        run_id=run.id,
        artifact_path=str(artifact.resolve()),
        config=config_to_dict(config),
        metrics=result.metrics,
        feature_service=data.feature_service,
    )
    ctx.metadata.promote(model_name=name, version=version.version)
    return version.version
