"""A training job: point-in-time training set -> Ray Train -> test metrics -> registry."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from recplat.features.repo import open_store
from recplat.models.catalog import build_model, config_to_dict, entry
from recplat.models.layers import Vocab
from recplat.quality.gate import Gate
from recplat.quality.suites import training_set_suite
from recplat.ray_runtime import ensure_ray
from recplat.registry.artifacts import save_artifact
from recplat.registry.store import MetadataStore
from recplat.settings import Settings
from recplat.storage import read_parquet
from recplat.training.curves import plot_history
from recplat.training.datasets import (
    FEATURE_SERVICE,
    encode,
    entity_frame,
    historical_features,
    temporal_split,
    vocab_from_catalog,
)
from recplat.training.engine import evaluate
from recplat.training.loop import load_state, train_loop_per_worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    """What to train and how.

    Attributes:
        model_name: A catalogue name (`embedding_mlp`, `din`).
        epochs: Maximum epochs (early stopping may end sooner).
        batch_size: Rows per optimizer step, per worker.
        lr: Adam learning rate.
        embed_dim: Embedding size.
        num_workers: Ray Train workers (DDP when > 1).
        use_gpu: One GPU per worker.
        amp: bf16 autocast when on GPU (ignored on CPU).
        patience: Epochs without validation-AUC gain before stopping.
        max_failures: Worker-group restarts allowed (resume from checkpoint).
        seed: Seed of weights init and shuffling.
        threads: Torch threads per worker (None: Ray's default).
        fail_at_epoch: Inject a worker failure at this epoch (fault-tolerance tests).
    """

    model_name: str
    epochs: int = 3
    batch_size: int = 512
    lr: float = 2e-3
    embed_dim: int = 16
    num_workers: int = 1
    use_gpu: bool = False
    amp: bool = True
    patience: int = 2
    max_failures: int = 1
    seed: int = 0
    threads: int | None = None
    fail_at_epoch: int | None = None


@dataclass(frozen=True)
class TrainingData:
    """An encoded, validated, time-split training set (built once, shared by models)."""

    frames: dict[str, pd.DataFrame]
    arrays: dict[str, dict[str, np.ndarray]]
    item_categories: np.ndarray
    vocab: Vocab
    max_len: int
    feature_service: str
    validation_run_id: int


@dataclass(frozen=True)
class TrainOutcome:
    """A finished job."""

    run_id: int
    model_name: str
    version: int
    artifact_path: Path
    metrics: dict[str, Any]


def prepare_training_data(
    *,
    settings: Settings,
    gate: Gate,
    feature_service: str = FEATURE_SERVICE,
    allow: Sequence[str] = (),
) -> TrainingData:
    """Join features point-in-time through Feast, gate the result, split by time.

    Raises:
        DataQualityError: The training set failed its suite; nothing trains.
    """
    events = read_parquet(settings.events_path)
    users = read_parquet(settings.catalog_dir / "users.parquet")
    items = read_parquet(settings.catalog_dir / "items.parquet")
    store = open_store(settings.feature_repo)
    frame = historical_features(
        store=store, entities=entity_frame(events), feature_service=feature_service
    )
    spec = training_set_suite(
        max_len=settings.sequence_length, known_items=set(items["item_id"].tolist())
    )
    run_id = gate.check(df=frame, spec=spec, allow=allow, stage="training")
    splits = temporal_split(frame)
    vocab = vocab_from_catalog(users=users, items=items)
    frames = {"train": splits.train, "validation": splits.validation, "test": splits.test}
    arrays = {
        k: encode(v, vocab=vocab, max_len=settings.sequence_length) for k, v in frames.items()
    }
    item_categories = np.zeros(vocab.items, dtype=np.int64)
    item_categories[items["item_id"].to_numpy()] = items["category_id"].to_numpy()
    return TrainingData(
        frames, arrays, item_categories, vocab, settings.sequence_length, feature_service, run_id
    )


def train_model(
    *, settings: Settings, data: TrainingData, options: TrainOptions, metadata: MetadataStore
) -> TrainOutcome:
    """Train one model with Ray Train, evaluate on the test split, register it."""
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    spec = entry(options.model_name)
    model_config = spec.config(vocab=data.vocab, embed_dim=options.embed_dim)
    run = metadata.start_run(
        model_name=options.model_name,
        config={"options": asdict(options), "model": config_to_dict(model_config)},
        feature_service=data.feature_service,
        validation_run_id=data.validation_run_id,
    )
    ensure_ray(settings)
    storage = settings.runs_dir.resolve()
    name = f"{options.model_name}-run{run.id}"
    data_ref = ray.put(
        {
            "train": data.arrays["train"],
            "validation": data.arrays["validation"],
            "item_categories": data.item_categories,
        }
    )
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "data": data_ref,
            "model_name": options.model_name,
            "model_config": config_to_dict(model_config),
            **{k: v for k, v in asdict(options).items() if k != "model_name"},
        },
        scaling_config=ScalingConfig(num_workers=options.num_workers, use_gpu=options.use_gpu),
        run_config=RunConfig(
            name=name,
            storage_path=str(storage),
            failure_config=FailureConfig(max_failures=options.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )
    try:
        result = trainer.fit()
        if result.checkpoint is None:
            raise RuntimeError(f"training run {name} produced no checkpoint")
        with result.checkpoint.as_directory() as folder:
            best = torch.load(Path(folder) / "best.pt", weights_only=True)
            state = load_state(Path(folder))
    except Exception:
        metadata.finish_run(
            run_id=run.id, status="failed", metrics={}, storage_path=str(storage / name)
        )
        raise

    model = build_model(options.model_name, model_config)
    model.load_state_dict(best)
    test_metrics = evaluate(model, data.arrays["test"])
    metrics: dict[str, Any] = {
        "test_auc": test_metrics["auc"],
        "test_gauc": test_metrics["gauc"],
        "test_logloss": test_metrics["logloss"],
        "best_val_auc": state.best_auc,
        "best_epoch": state.best_epoch,
        "epochs_run": state.epoch,
        "resumes": state.resumes,
        "history": state.history,
        "rows": {k: len(v) for k, v in data.frames.items()},
    }
    artifact = settings.models_dir / options.model_name / f"run-{run.id}"
    save_artifact(
        artifact,
        model_name=options.model_name,
        config=model_config,
        state_dict=best,
        max_len=data.max_len,
        feature_service=data.feature_service,
        extra={"run_id": run.id, "metrics": {k: v for k, v in metrics.items() if k != "history"}},
    )
    plot_history(state.history, artifact / "curves.png", title=f"{options.model_name} run {run.id}")
    metadata.finish_run(
        run_id=run.id, status="finished", metrics=metrics, storage_path=str(storage / name)
    )
    version = metadata.register_model(
        model_name=options.model_name,
        run_id=run.id,
        artifact_path=str(artifact.resolve()),
        config=config_to_dict(model_config),
        metrics={k: v for k, v in metrics.items() if k != "history"},
        feature_service=data.feature_service,
    )
    log.info(
        "%s: test AUC %.4f, registered as version %d",
        options.model_name,
        metrics["test_auc"],
        version.version,
    )
    return TrainOutcome(run.id, options.model_name, version.version, artifact, metrics)
