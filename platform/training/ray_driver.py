"""The Ray Train driver: one training job on a local Ray or the cluster in RAY_ADDRESS.

`train_model` records the run (`registration`), hands the training rows to Ray
Data and the options to every worker (`ray_worker`), waits with progress, and
registers the best weights. `resume_run` continues an interrupted run from its
last checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import torch
from recplat.models.catalog import config_to_dict, entry
from recplat.registry.store import MetadataStore
from recplat.runtime.ray_session import ensure_ray
from recplat.settings import Settings
from recplat.training.fit import check_validation
from recplat.training.options import TrainOptions
from recplat.training.progress import EpochCallback, make_sink, run_with_progress
from recplat.training.ray_worker import WorkerJob, load_state, train_loop_per_worker
from recplat.training.registration import TrainOutcome, register_trained, start_run
from recplat.training.shards import to_dataset
from recplat.training.training_set import TrainingData

log = logging.getLogger(__name__)


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint under a run's Ray Train storage folder."""
    found = [p.parent for p in folder.glob("**/checkpoint_*/state.json")]
    return max(found, key=lambda p: (p / "state.json").stat().st_mtime) if found else None


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
    options = TrainOptions.from_record(run.config["options"])
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

    # Before any run is recorded or Ray starts: a split that cannot choose an epoch fails here.
    check_validation(data.arrays["validation"], task=entry(options.model_name).task)
    run, lineage = start_run(metadata=metadata, data=data, options=options, resumed_run=resumed_run)
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
    job = WorkerJob(
        options=options,
        model_config=config_to_dict(options.model_config(data.vocab, data.inputs)),
        data=ray.put(
            {"validation": data.arrays["validation"], "item_categories": data.item_categories}
        ),
        train_dtypes={k: v.dtype.str for k, v in data.arrays["train"].items()},
        resume_from=str(resume_from) if resume_from else None,
        progress=sink,
    )
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config={"job": job},
        datasets={"train": to_dataset(data.arrays["train"])},
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
    return register_trained(
        settings=settings,
        metadata=metadata,
        data=data,
        options=options,
        run=run,
        lineage=lineage,
        state=state,
        best=best,
        storage_path=storage / name,
    )
