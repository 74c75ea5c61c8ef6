"""Train a catalogue model in this process, without Ray (benchmarks, quick experiments).

The same `fit` loop as the Ray Train workers; only the distribution is missing.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import torch
from recplat.models.catalog import build_model, entry
from recplat.training.fit import FitState, configure_torch, fit, split_metrics
from recplat.training.optim import build_optimizer, build_scheduler, initialise
from recplat.training.options import TrainOptions
from recplat.training.training_set import TrainingData
from torch import nn


@dataclass(frozen=True)
class LocalResult:
    """A model trained in process, its test metrics and training time."""

    model: nn.Module
    state: FitState
    metrics: dict[str, float]
    train_seconds: float


def train_local(
    *, data: TrainingData, options: TrainOptions, **config_overrides: Any
) -> LocalResult:
    """Train and test one model on `data` in this process.

    Args:
        data: The encoded training set.
        options: Same options as a Ray Train job (workers and GPU are ignored).
        **config_overrides: Model config fields other than vocab / embed_dim.
    """
    configure_torch(options)
    spec = entry(options.model_name)
    params = dict(options.model_params) | config_overrides
    config = dataclasses.replace(options, model_params=params).model_config(data.vocab, data.inputs)
    model = build_model(options.model_name, config)
    initialise(model, options.init, seed=options.seed)
    optimizer = build_optimizer(model.parameters(), options.optimizer)
    scheduler = build_scheduler(optimizer, options.schedule)
    started = time.perf_counter()
    state, best = fit(
        model,
        train=data.arrays["train"],
        validation=data.arrays["validation"],
        optimizer=optimizer,
        options=options,
        task=spec.task,
        aux_weight=float(getattr(config, "aux_weight", 0.0)),
        device=torch.device("cpu"),
        item_categories=data.item_categories if spec.needs_negatives else None,
        scheduler=scheduler,
    )
    seconds = time.perf_counter() - started
    model.load_state_dict(best)
    metrics = split_metrics(model, data.arrays["test"], task=spec.task)
    return LocalResult(model=model, state=state, metrics=metrics, train_seconds=seconds)
