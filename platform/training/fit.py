"""The fit loop: epochs, early stopping on validation, the best weights kept.

Model-agnostic; run by the Ray Train worker (`ray_worker`) and, without Ray, by
`in_process`. The loss
lives here, not in the models: binary cross-entropy on the click logit, plus
DIEN's auxiliary loss (next behaviour vs a sampled negative) when the model
returns one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from recplat.models.dien import DIENOutput
from recplat.models.predict import predict_logits, row_count, to_batch
from recplat.training.metrics import (
    classification_metrics,
    forecast_metrics,
    regression_metrics,
)
from recplat.training.options import TrainOptions
from torch import nn
from torch.nn import functional as F

# What each task fits: the array a model's output is compared with.
TASK_TARGETS = {"binary": "label", "regression": "rating", "forecast": "target"}


def sample_negatives(
    history: np.ndarray, item_categories: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A uniformly sampled item (and its category) for every real history step.

    Args:
        history: Front-padded item ids (B, L); 0 is padding.
        item_categories: Category of each item id (index = item id).
        rng: Random generator.

    Returns:
        Negative item ids and their categories (B, L), 0 where history is padding.
    """
    negatives = rng.integers(1, len(item_categories), size=history.shape) * (history > 0)
    return negatives, item_categories[negatives] * (history > 0)


def length_buckets(
    order: np.ndarray,
    lengths: np.ndarray,
    *,
    batch_size: int,
    rng: np.random.Generator,
    window: int = 50,
) -> list[np.ndarray]:
    """Batches of rows with similar history lengths, in random order.

    Rows are taken in `order` in windows of `window` batches; each window is
    sorted by length and cut into batches; then all batches are shuffled.
    Sequence models run to the longest history in a batch (DIEN's recurrent
    loops step once per position), so mixing a 50-step history with 5-step
    ones wastes most of a batch's work. Each epoch still sees every row once.
    """
    span = batch_size * window
    batches: list[np.ndarray] = []
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def auxiliary_loss(output: DIENOutput) -> torch.Tensor:
    """DIEN's auxiliary loss: BCE of next behaviours (1) vs sampled ones (0)."""
    if output.aux_positive.numel() == 0:  # no history has two steps
        return output.logits.new_zeros(())
    positive = F.binary_cross_entropy_with_logits(
        output.aux_positive, torch.ones_like(output.aux_positive)
    )
    negative = F.binary_cross_entropy_with_logits(
        output.aux_negative, torch.zeros_like(output.aux_negative)
    )
    return positive + negative


def train_epoch(
    model: nn.Module,
    arrays: dict[str, np.ndarray],
    order: np.ndarray,
    *,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    device: torch.device,
    aux_weight: float = 0.0,
    item_categories: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    use_amp: bool = False,
    task: str = "binary",
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> float:
    """Train over the rows in `order`; returns the mean main loss.

    `task` "binary" fits the click logit to `label` with cross-entropy;
    "regression" fits the output to `rating` and "forecast" the (B, H) output
    to `target`, both with squared error. With
    `item_categories` set, each batch gets sampled negatives and the model is
    asked for its auxiliary output (DIEN).
    """
    model.train()
    squared = task in ("regression", "forecast")
    labels = torch.from_numpy(arrays[TASK_TARGETS[task]]).float()
    rng = rng or np.random.default_rng(0)
    history = arrays.get("hist_item_ids", arrays.get("seq_item"))  # rankers' / propensity's
    if history is not None:
        lengths = (history > 0).sum(axis=1)
        batches = length_buckets(order, lengths, batch_size=batch_size, rng=rng)
    else:
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    penalty = getattr(unwrap(model), "penalty", None)  # a model's own regulariser
    total, seen = 0.0, 0
    for index in batches:
        batch = to_batch(arrays, index, device)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_amp):
            if item_categories is not None:
                negatives, categories = sample_negatives(
                    arrays["hist_item_ids"][index], item_categories, rng
                )
                batch["neg_item_ids"] = torch.from_numpy(negatives).to(device)
                batch["neg_category_ids"] = torch.from_numpy(categories).to(device)
                output = model(batch, return_aux=True)
                logits, extra = output.logits, aux_weight * auxiliary_loss(output)
            else:
                logits, extra = model(batch), None
        target = labels[index].to(device)
        if squared:
            loss = F.mse_loss(logits.float(), target)
        else:
            loss = F.binary_cross_entropy_with_logits(logits.float(), target)
        if penalty is not None:
            extra = penalty(batch) if extra is None else extra + penalty(batch)
        optimizer.zero_grad(set_to_none=True)
        (loss + extra if extra is not None else loss).backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()  # per optimiser step: warm-up and decay count steps
        total += float(loss.detach()) * len(index)
        seen += len(index)
    return total / max(seen, 1)


def evaluate(
    model: nn.Module, arrays: dict[str, np.ndarray], *, device: torch.device | None = None
) -> dict[str, float]:
    """AUC, GAUC and logloss of `model` on labelled `arrays`."""
    return classification_metrics(
        arrays.get("user_key", arrays["user_id"]),  # GAUC groups by the user, not its row
        arrays["label"],
        predict_logits(model, arrays, device=device),
    )


def split_metrics(
    model: nn.Module,
    arrays: dict[str, np.ndarray],
    *,
    task: str = "binary",
    device: torch.device | None = None,
) -> dict[str, float]:
    """Metrics of `model` on one split: AUC, GAUC and logloss (binary), RMSE and
    MAE of predictions clipped to the 1..5 rating scale (regression), or MAE,
    RMSE (scaled units) and MAPE, sMAPE (original units) over every step (forecast)."""
    if task == "forecast":
        return forecast_metrics(arrays, predict_logits(model, arrays, device=device))
    if task == "regression":
        predicted = np.clip(predict_logits(model, arrays, device=device), 1.0, 5.0)
        return regression_metrics(arrays["rating"], predicted)
    return evaluate(model, arrays, device=device)


def check_validation(validation: dict[str, np.ndarray], *, task: str) -> None:
    """Refuse a validation split on which early stopping cannot rank epochs.

    An empty split, or (binary models) one whose labels are all one class, has
    no AUC: every epoch would score NaN, none would beat the start, and the
    untrained weights would be kept as "best".

    Raises:
        ValueError: Naming the split's size and label counts.
    """
    labels = validation[TASK_TARGETS[task]]
    if len(labels) == 0:
        raise ValueError(
            "the validation split is empty: early stopping needs rows to score each epoch "
            "(more data, or a longer time range)"
        )
    if task == "binary" and len(np.unique(labels)) < 2:
        raise ValueError(
            f"the validation split has {len(labels):,} rows, all with label {int(labels[0])}: "
            "AUC is undefined, so no epoch can be chosen (the split needs clicks and non-clicks)"
        )


def stopping_score(metrics: dict[str, float], *, task: str) -> float:
    """What early stopping maximises: AUC, minus the RMSE (ratings), minus the MAE (forecasts)."""
    if task == "forecast":
        return -metrics["mae"]
    return -metrics["rmse"] if task == "regression" else metrics["auc"]


def best_validation(score: float, *, task: str) -> dict[str, float]:
    """The best stopping score as the metric it stands for (`best_val_auc` / `best_val_rmse`
    / `best_val_mae`)."""
    if task == "forecast":
        return {"best_val_mae": -score}
    return {"best_val_rmse": -score} if task == "regression" else {"best_val_auc": score}


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the (unwrapped) model's weights."""
    return {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()}


@dataclass
class FitState:
    """Progress of a fit; saved in checkpoints so a restarted run resumes."""

    epoch: int = 0
    best_score: float = -np.inf  # validation AUC, or -RMSE for rating models
    best_epoch: int = -1
    bad_epochs: int = 0
    resumes: int = 0  # restarts from a checkpoint after a failure
    history: list[dict[str, float]] = field(default_factory=list)


EpochHook = Callable[[FitState, dict[str, torch.Tensor]], None]


def configure_torch(options: TrainOptions) -> None:
    """Threads, seed and determinism of a training process (Ray worker or in process)."""
    if options.threads:
        torch.set_num_threads(options.threads)
    torch.manual_seed(options.seed)
    # Bit-identical reruns with more than one thread (see TrainOptions.deterministic).
    torch.use_deterministic_algorithms(options.deterministic)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside a DDP wrapper (checkpoints and evaluation use it)."""
    inner = getattr(model, "module", model)
    assert isinstance(inner, nn.Module)
    return inner


def fit(
    model: nn.Module,
    *,
    train: dict[str, np.ndarray],
    validation: dict[str, np.ndarray],
    optimizer: torch.optim.Optimizer,
    options: TrainOptions,
    task: str = "binary",
    aux_weight: float = 0.0,
    use_amp: bool = False,
    device: torch.device,
    shard: np.ndarray | None = None,
    rank: int = 0,
    item_categories: np.ndarray | None = None,
    state: FitState | None = None,
    best: dict[str, torch.Tensor] | None = None,
    on_epoch: EpochHook | None = None,
    before_epoch: Callable[[int], None] | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> tuple[FitState, dict[str, torch.Tensor]]:
    """Train epoch by epoch with early stopping on validation, keeping the best weights.

    Binary models stop on validation AUC; rating models on validation RMSE.

    Args:
        model: The model (possibly DDP-wrapped).
        train: Training arrays (with `label`, or `rating` for rating models).
        validation: Validation arrays, evaluated in full after every epoch.
        optimizer: The optimizer.
        options: The job's options (epochs, batch size, patience, seed are read here).
        task: "binary" (click logit, AUC) or "regression" (rating, RMSE): the catalogue's.
        aux_weight: Weight of the model's auxiliary loss (DIEN's config), 0 for none.
        use_amp: bf16 autocast (only where the device is a GPU).
        device: Where batches go.
        shard: Training rows of this worker (default: all).
        rank: Worker rank (seeds the shuffle with it).
        item_categories: Item -> category table; set for models with an aux loss.
        state: Where a resumed run left off.
        best: Best weights so far (resumed runs).
        on_epoch: Called after each epoch with the state and best weights
            (the Ray loop checkpoints and reports here).
        before_epoch: Called with the epoch number before it starts.
        scheduler: Learning-rate schedule, stepped after every optimiser step.

    Returns:
        Final state and the best weights (on CPU).

    Raises:
        ValueError: The validation split cannot score an epoch (`check_validation`).
    """
    check_validation(validation, task=task)
    state = state or FitState()
    best = best or _cpu_state(model)
    rows = shard if shard is not None else np.arange(row_count(train))
    for epoch in range(state.epoch, options.epochs):
        if before_epoch is not None:
            before_epoch(epoch)
        # Seeded per (seed, rank, epoch): a resumed run shuffles as the original would.
        rng = np.random.default_rng((options.seed, rank, epoch))
        started = time.perf_counter()
        train_loss = train_epoch(
            model,
            train,
            rng.permutation(rows),
            optimizer=optimizer,
            batch_size=options.batch_size,
            device=device,
            aux_weight=aux_weight,
            item_categories=item_categories,
            rng=rng,
            use_amp=use_amp,
            task=task,
            scheduler=scheduler,
        )
        train_seconds = time.perf_counter() - started
        metrics = split_metrics(unwrap(model), validation, task=task, device=device)
        score = stopping_score(metrics, task=task)
        if score > state.best_score:
            best = _cpu_state(model)
            state.best_score, state.best_epoch, state.bad_epochs = score, epoch, 0
        else:
            state.bad_epochs += 1
        state.epoch = epoch + 1
        state.history.append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                # This worker's rows and seconds (throughput; excludes validation).
                "train_rows": len(rows),
                "train_seconds": train_seconds,
                **{f"val_{k}": v for k, v in metrics.items()},
                **best_validation(state.best_score, task=task),
            }
        )
        if on_epoch is not None:
            on_epoch(state, best)
        if state.bad_epochs >= options.patience:
            break
    return state, best
