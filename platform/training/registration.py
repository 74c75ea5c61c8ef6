"""Registry bookkeeping of a training job: the run record, test metrics, artifact, version.

The Ray driver (`ray_driver`) only trains; what a job records before and after
lives here, so the driver reads as the Ray Train call it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from recplat.models.catalog import build_model, config_to_dict, entry
from recplat.registry.artifacts import save_artifact
from recplat.registry.store import MetadataStore
from recplat.registry.tables import TrainingRun
from recplat.settings import Settings
from recplat.training.baselines import popularity_scores
from recplat.training.curves import plot_history
from recplat.training.fit import FitState, best_validation, split_metrics
from recplat.training.lineage import code_version, data_lineage
from recplat.training.options import TrainOptions
from recplat.training.training_set import TrainingData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOutcome:
    """A finished job."""

    run_id: int
    model_name: str
    version: int
    artifact_path: Path
    metrics: dict[str, Any]


def start_run(
    *,
    metadata: MetadataStore,
    data: TrainingData,
    options: TrainOptions,
    resumed_run: int | None = None,
) -> tuple[TrainingRun, dict[str, Any]]:
    """Record a new run (options, model config, data and code lineage); returns it and
    its lineage."""
    model_config = options.model_config(data.vocab, data.inputs)
    lineage = data_lineage(data) | code_version() | {"resumed_from_run": resumed_run}
    run = metadata.start_run(
        model_name=options.model_name,
        config={"options": options.to_record(), "model": config_to_dict(model_config)},
        feature_service=data.feature_service,
        validation_run_id=data.validation_run_id,
        lineage=lineage,
    )
    return run, lineage


def item_popularity(data: TrainingData) -> torch.Tensor:
    """Smoothed training CTR of every item id (the serving fallback order)."""
    items = np.arange(data.vocab.items, dtype=np.int64)
    return torch.from_numpy(popularity_scores(train=data.arrays["train"], items=items))


def register_trained(
    *,
    settings: Settings,
    metadata: MetadataStore,
    data: TrainingData,
    options: TrainOptions,
    run: TrainingRun,
    lineage: dict[str, Any],
    state: FitState,
    best: dict[str, torch.Tensor],
    storage_path: Path,
) -> TrainOutcome:
    """Test the best weights, save the artifact and its curves, finish the run, register
    a model version."""
    model_config = options.model_config(data.vocab, data.inputs)
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
    summary = {k: v for k, v in metrics.items() if k != "history"}
    artifact = settings.models_dir / options.model_name / f"run-{run.id}"
    save_artifact(
        artifact,
        model_name=options.model_name,
        config=model_config,
        state_dict=best,
        max_len=data.max_len,
        feature_service=data.feature_service,
        extra={
            "run_id": run.id,
            "metrics": summary,
            # The encoding fitted on the training split, applied unchanged by serving.
            "inputs": data.inputs.to_dict() if data.inputs is not None else None,
            **data.description,
        },
        # Rankers' fallback order; models without items per row (propensity) have none.
        popularity=(
            item_popularity(data)
            if task == "binary" and "item_id" in data.arrays["train"]
            else None
        ),
    )
    plot_history(state.history, artifact / "curves.png", title=f"{options.model_name} run {run.id}")
    metadata.finish_run(
        run_id=run.id, status="finished", metrics=metrics, storage_path=str(storage_path)
    )
    version = metadata.register_model(
        model_name=options.model_name,
        run_id=run.id,
        artifact_path=str(artifact.resolve()),
        config=config_to_dict(model_config),
        metrics=summary,
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
