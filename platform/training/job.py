"""A training job: point-in-time training set -> Ray Train -> test metrics -> registry."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
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
from recplat.training.baselines import popularity_scores
from recplat.training.config import Placement, TrainConfig
from recplat.training.curves import plot_history
from recplat.training.datasets import (
    FEATURE_SERVICE,
    LOOKUP_OFFSET,
    encode,
    entity_frame,
    historical_features,
    temporal_split,
    vocab_from_catalog,
)
from recplat.training.engine import best_validation, split_metrics
from recplat.training.lineage import code_version, data_lineage
from recplat.training.loop import load_state, train_loop_per_worker
from recplat.training.optim import InitName, OptimizerConfig, ScheduleConfig
from recplat.training.progress import EpochCallback, make_sink, run_with_progress
from recplat.training.shards import to_dataset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    """What to train and how.

    Attributes:
        model_name: A catalogue name (`embedding_mlp`, `din`, `rating_mlp`).
        epochs: Maximum epochs (early stopping may end sooner).
        batch_size: Rows per optimizer step, per worker.
        embed_dim: Embedding size.
        num_workers: Ray Train workers (DDP when > 1).
        use_gpu: One GPU per worker.
        amp: bf16 autocast when on GPU (ignored on CPU).
        patience: Epochs without a validation gain (AUC; RMSE for rating
            models) before stopping.
        max_failures: Worker-group restarts allowed (resume from checkpoint).
        seed: Seed of weights init and shuffling.
        threads: Torch threads per worker (None: Ray's default).
        fail_at_epoch: Inject a worker failure at this epoch (fault-tolerance tests).
        optimizer: Optimiser and learning rate.
        schedule: Learning-rate schedule (warm-up, decay).
        init: Weight initialisation scheme.
        model_params: Model config fields other than vocab and embed_dim
            (e.g. hidden, activation, batch_norm, aux_weight).
        placement: pack, spread or strict_spread (Ray placement group strategy).
    """

    model_name: str
    epochs: int = 3
    batch_size: int = 512
    embed_dim: int = 16
    num_workers: int = 1
    use_gpu: bool = False
    amp: bool = True
    patience: int = 2
    max_failures: int = 1
    seed: int = 0
    threads: int | None = None
    fail_at_epoch: int | None = None
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    init: InitName = "default"
    model_params: dict[str, Any] = field(default_factory=dict)
    placement: Placement = "pack"

    @classmethod
    def from_config(cls, config: TrainConfig, **overrides: Any) -> TrainOptions:
        """Options from a YAML configuration; `overrides` (e.g. from the CLI) win."""
        params = dict(config.model_config)
        values: dict[str, Any] = {
            "model_name": config.model,
            "embed_dim": params.pop("embed_dim", 16),
            "model_params": params,
            "optimizer": config.optimizer,
            "schedule": config.schedule,
            "init": config.init,
            **dataclasses.asdict(config.train),
        }
        return cls(**(values | overrides))

    def model_config(self, vocab: Vocab) -> Any:
        """The model's config for `vocab`."""
        return entry(self.model_name).config(
            vocab=vocab, embed_dim=self.embed_dim, **self.model_params
        )


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
    features: tuple[str, ...] = ()  # view:feature names of the feature service
    time_range: tuple[str, str] = ("", "")  # first and last impression (UTC, ISO)


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
    """Join the service's features point-in-time, gate the result, split by time.

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
    features = tuple(
        f"{projection.name}:{feature.name}"
        for projection in store.get_feature_service(feature_service).feature_view_projections
        for feature in projection.features
    )
    stamps = pd.to_datetime(frame["event_timestamp"], utc=True) + LOOKUP_OFFSET
    return TrainingData(
        frames,
        arrays,
        item_categories,
        vocab,
        settings.sequence_length,
        feature_service,
        run_id,
        features=features,
        time_range=(stamps.min().isoformat(), stamps.max().isoformat()),
    )


def _item_popularity(data: TrainingData) -> torch.Tensor:
    """Smoothed training CTR of every item id (the serving fallback order)."""
    items = np.arange(data.vocab.items, dtype=np.int64)
    return torch.from_numpy(popularity_scores(train=data.arrays["train"], items=items))


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint under a run's Ray Train storage folder."""
    found = [p.parent for p in folder.glob("**/checkpoint_*/state.json")]
    return max(found, key=lambda p: (p / "state.json").stat().st_mtime) if found else None


def options_from_run(config: dict[str, Any]) -> TrainOptions:
    """The options a run was started with (its recorded config)."""
    values = dict(config["options"])
    values["optimizer"] = OptimizerConfig(**values["optimizer"])
    values["schedule"] = ScheduleConfig(**values["schedule"])
    values["model_params"] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in values["model_params"].items()
    }
    values.pop("resume_from", None)
    return TrainOptions(**values)


def resume_run(
    *,
    settings: Settings,
    data: TrainingData,
    metadata: MetadataStore,
    run_id: int,
    epochs: int | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainOutcome:
    """Continue an interrupted or failed run from its last checkpoint, as a new run.

    Raises:
        KeyError: No such run.
        ValueError: The run finished already, or left no checkpoint.
    """
    run = metadata.run(run_id=run_id)
    if run.status == "finished":
        raise ValueError(f"training run {run_id} finished already; nothing to resume")
    checkpoint = latest_checkpoint(settings.runs_dir / f"{run.model_name}-run{run.id}")
    if checkpoint is None:
        raise ValueError(f"training run {run_id} left no checkpoint to resume from")
    options = options_from_run(run.config)
    if epochs is not None:
        options = dataclasses.replace(options, epochs=epochs)
    return train_model(
        settings=settings,
        data=data,
        options=options,
        metadata=metadata,
        resume_from=checkpoint,
        resumed_run=run.id,
        on_epoch=on_epoch,
    )


def train_model(
    *,
    settings: Settings,
    data: TrainingData,
    options: TrainOptions,
    metadata: MetadataStore,
    resume_from: Path | None = None,
    resumed_run: int | None = None,
    on_epoch: EpochCallback | None = None,
) -> TrainOutcome:
    """Train one model with Ray Train, evaluate on the test split, register it.

    Args:
        resume_from: A checkpoint folder to start from (`recplat train --resume`).
        resumed_run: The run that checkpoint belongs to (recorded in the lineage).
        on_epoch: Called in this process with each epoch's metrics as it finishes.

    Raises:
        KeyboardInterrupt: Ctrl-C; the run is recorded as `interrupted` and can be
            resumed with `recplat train --resume RUN`.
    """
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    model_config = options.model_config(data.vocab)
    lineage = data_lineage(data) | code_version() | {"resumed_from_run": resumed_run}
    run = metadata.start_run(
        model_name=options.model_name,
        config={"options": asdict(options), "model": config_to_dict(model_config)},
        feature_service=data.feature_service,
        validation_run_id=data.validation_run_id,
        lineage=lineage,
    )
    ensure_ray(settings)
    lineage["ray_job_id"] = ray.get_runtime_context().get_job_id()
    lineage["ray_address"] = settings.ray_address or "local"
    metadata.update_lineage(
        run_id=run.id, ray_job_id=lineage["ray_job_id"], ray_address=lineage["ray_address"]
    )
    storage = settings.runs_dir.resolve()
    name = f"{options.model_name}-run{run.id}"
    sink = make_sink() if on_epoch is not None else None
    # Training rows go through Ray Data, split per worker; the validation set and the
    # item -> category table are small and every worker needs all of them.
    train_dataset = to_dataset(data.arrays["train"])
    data_ref = ray.put(
        {"validation": data.arrays["validation"], "item_categories": data.item_categories}
    )
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={
            "data": data_ref,
            "model_name": options.model_name,
            "model_config": config_to_dict(model_config),
            "resume_from": str(resume_from) if resume_from else None,
            "progress": sink,
            "train_dtypes": {k: v.dtype.str for k, v in data.arrays["train"].items()},
            **{k: v for k, v in asdict(options).items() if k != "model_name"},
        },
        datasets={"train": train_dataset},
        scaling_config=ScalingConfig(
            num_workers=options.num_workers,
            use_gpu=options.use_gpu,
            placement_strategy=options.placement.upper(),
        ),
        run_config=RunConfig(
            name=name,
            storage_path=str(storage),
            failure_config=FailureConfig(max_failures=options.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )
    try:
        result = run_with_progress(trainer.fit, sink=sink, on_epoch=on_epoch)
        if result.checkpoint is None:
            raise RuntimeError(f"training run {name} produced no checkpoint")
        with result.checkpoint.as_directory() as folder:
            best = torch.load(Path(folder) / "best.pt", weights_only=True)
            state = load_state(Path(folder))
    except KeyboardInterrupt:
        metadata.finish_run(
            run_id=run.id, status="interrupted", metrics={}, storage_path=str(storage / name)
        )
        log.warning("run %d interrupted; resume with: recplat train --resume %d", run.id, run.id)
        # Stop the workers now (the job's actors die with this driver's connection).
        ray.shutdown()
        raise
    except Exception:
        metadata.finish_run(
            run_id=run.id, status="failed", metrics={}, storage_path=str(storage / name)
        )
        raise

    model = build_model(options.model_name, model_config)
    model.load_state_dict(best)
    task = entry(options.model_name).task
    test_metrics = split_metrics(model, data.arrays["test"], task=task)
    metrics: dict[str, Any] = {
        **{f"test_{k}": v for k, v in test_metrics.items()},
        **best_validation(state.best_score, task=task),
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
        popularity=_item_popularity(data) if task == "binary" else None,
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
        lineage=lineage | {"run_id": run.id, "artifact_path": str(artifact.resolve())},
    )
    log.info(
        "%s: %s, registered as version %d",
        options.model_name,
        ", ".join(f"{k} {v:.4f}" for k, v in test_metrics.items()),
        version.version,
    )
    return TrainOutcome(run.id, options.model_name, version.version, artifact, metrics)
