"""The Ray Train worker loop (runs once per worker, DDP across workers).

Each worker trains on its own shard of the training set (split by Ray Data),
evaluates the full validation set, and reports every epoch. Rank 0 writes a checkpoint each
epoch with the current weights, optimizer, fit state, RNG state and the best
weights so far; a restarted worker group resumes from it.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from recplat.models.catalog import build_model, config_from_dict, entry
from recplat.training.fit import FitState, configure_torch, fit, unwrap
from recplat.training.optim import build_optimizer, build_scheduler, initialise
from recplat.training.options import TrainOptions
from recplat.training.shards import collect


def _save_checkpoint(
    folder: Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: FitState,
    best: dict[str, torch.Tensor],
) -> None:
    torch.save(model.state_dict(), folder / "model.pt")
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    torch.save(scheduler.state_dict(), folder / "scheduler.pt")
    torch.save(best, folder / "best.pt")
    torch.save(torch.get_rng_state(), folder / "rng.pt")
    (folder / "state.json").write_text(json.dumps(dataclasses.asdict(state)))


def load_state(folder: Path) -> FitState:
    """The fit state stored in a checkpoint folder."""
    values = json.loads((folder / "state.json").read_text())
    if "best_auc" in values:  # checkpoints written before rating models had a score
        values["best_score"] = values.pop("best_auc")
    return FitState(**values)


@dataclass(frozen=True)
class WorkerJob:
    """What every worker receives (`TorchTrainer(train_loop_config={"job": WorkerJob})`).

    Attributes:
        options: The job's options.
        model_config: The model's config as plain values (`config_to_dict`).
        data: Object ref of {"validation": arrays, "item_categories": table}.
        train_dtypes: dtype string of each training array (Ray Data shards lose them).
        resume_from: A checkpoint folder to start from (`recplat train --resume`).
        progress: The driver's progress sink actor, or None.
    """

    options: TrainOptions
    model_config: dict[str, Any]
    data: Any
    train_dtypes: dict[str, str]
    resume_from: str | None = None
    progress: Any = None


def train_loop_per_worker(config: dict[str, WorkerJob]) -> None:
    """Ray Train entry point; `config["job"]` is the `WorkerJob`."""
    import ray
    import ray.train
    import ray.train.torch

    job = config["job"]
    options = job.options
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    configure_torch(options)
    data = ray.get(job.data)
    # Only this worker's rows: Ray Train split the training dataset across workers.
    train = collect(
        ray.train.get_dataset_shard("train"),
        dtypes={k: np.dtype(v) for k, v in job.train_dtypes.items()},
    )

    model_config = config_from_dict(options.model_name, job.model_config)
    model = build_model(options.model_name, model_config)
    initialise(model, options.init, seed=options.seed)
    optimizer = build_optimizer(model.parameters(), options.optimizer)
    scheduler = build_scheduler(optimizer, options.schedule)
    state, best = FitState(), None

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None and job.resume_from:
        # `recplat train --resume RUN`: a new job continuing an interrupted one.
        checkpoint = ray.train.Checkpoint(path=job.resume_from)
    if checkpoint is not None:  # resuming after a failure or an interruption
        with checkpoint.as_directory() as folder:
            path = Path(folder)
            model.load_state_dict(torch.load(path / "model.pt", weights_only=True))
            optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
            if (path / "scheduler.pt").exists():
                scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
            best = torch.load(path / "best.pt", weights_only=True)
            state = load_state(path)
            state.resumes += 1
            torch.set_rng_state(torch.load(path / "rng.pt", weights_only=True))

    model = ray.train.torch.prepare_model(model)
    device = ray.train.torch.get_device()
    fail_at = options.fail_at_epoch

    def before_epoch(epoch: int) -> None:
        if fail_at is not None and epoch == fail_at and checkpoint is None and rank == world - 1:
            raise RuntimeError(f"injected failure at epoch {epoch} (fail_at_epoch)")

    def on_epoch(state: FitState, best: dict[str, torch.Tensor]) -> None:
        report = state.history[-1]
        with tempfile.TemporaryDirectory() as folder:
            if rank == 0 and job.progress is not None:
                job.progress.put.remote(report)
            if rank == 0:
                _save_checkpoint(
                    Path(folder),
                    model=unwrap(model),
                    optimizer=optimizer,
                    scheduler=scheduler,
                    state=state,
                    best=best,
                )
                ray.train.report(report, checkpoint=ray.train.Checkpoint.from_directory(folder))
            else:
                ray.train.report(report)

    # Sequence models with an auxiliary loss (DIEN) train with sampled negatives.
    spec = entry(options.model_name)
    fit(
        model,
        train=train,
        validation=data["validation"],
        optimizer=optimizer,
        options=options,
        task=spec.task,
        aux_weight=float(getattr(model_config, "aux_weight", 0.0)),
        use_amp=options.amp and device.type == "cuda",
        device=device,
        rank=rank,
        item_categories=data["item_categories"] if spec.needs_negatives else None,
        state=state,
        best=best,
        on_epoch=on_epoch,
        before_epoch=before_epoch,
        scheduler=scheduler,
    )
