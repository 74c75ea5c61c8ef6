"""Optimisers, learning-rate schedules and weight initialisation, chosen by config.

Each choice is a frozen dataclass validated on construction, so a typo in a
YAML file fails before any worker starts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from torch import nn

OptimizerName = Literal["sgd", "momentum", "rmsprop", "adam", "adamw"]
ScheduleName = Literal["constant", "inverse_time", "exponential"]
InitName = Literal["default", "xavier", "normal", "uniform"]


def _one_of(value: str, allowed: Any, what: str) -> None:
    choices = get_args(allowed)
    if value not in choices:
        raise ValueError(f"{what}: {value!r} is not one of {list(choices)}")


@dataclass(frozen=True)
class OptimizerConfig:
    """Optimiser and its settings.

    Attributes:
        name: sgd, momentum (SGD with momentum), rmsprop, adam or adamw.
        lr: Base learning rate.
        momentum: Momentum of `momentum` and `rmsprop`.
        weight_decay: L2 penalty (decoupled for adamw).
    """

    name: OptimizerName = "adam"
    lr: float = 2e-3
    momentum: float = 0.9
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        _one_of(self.name, OptimizerName, "optimizer.name")
        if not self.lr > 0:
            raise ValueError(f"optimizer.lr must be > 0, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"optimizer.momentum must be in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"optimizer.weight_decay must be >= 0, got {self.weight_decay}")


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule over optimiser steps.

    lr(step) = lr * warmup(step) * decay(step), where warmup rises linearly
    from 1/warmup_steps to 1 over the first `warmup_steps` steps, and decay is
    1 (constant), 1 / (1 + decay_rate * step / decay_steps) (inverse_time) or
    decay_rate ** (step / decay_steps) (exponential).
    """

    name: ScheduleName = "constant"
    decay_rate: float = 0.5
    decay_steps: int = 1000
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        _one_of(self.name, ScheduleName, "schedule.name")
        if self.decay_steps < 1:
            raise ValueError(f"schedule.decay_steps must be >= 1, got {self.decay_steps}")
        if self.warmup_steps < 0:
            raise ValueError(f"schedule.warmup_steps must be >= 0, got {self.warmup_steps}")
        if self.name == "exponential" and not 0 < self.decay_rate <= 1:
            raise ValueError(f"schedule.decay_rate must be in (0, 1], got {self.decay_rate}")
        if self.name == "inverse_time" and self.decay_rate < 0:
            raise ValueError(f"schedule.decay_rate must be >= 0, got {self.decay_rate}")

    def factor(self, step: int) -> float:
        """Multiplier of the base learning rate at optimiser step `step` (0-based)."""
        warm = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        if self.name == "inverse_time":
            decay = 1.0 / (1.0 + self.decay_rate * step / self.decay_steps)
        elif self.name == "exponential":
            decay = math.pow(self.decay_rate, step / self.decay_steps)
        else:
            decay = 1.0
        return warm * decay


def build_optimizer(
    params: Iterable[nn.Parameter], config: OptimizerConfig
) -> torch.optim.Optimizer:
    """The configured optimiser over `params`."""
    wd = config.weight_decay
    if config.name == "sgd":
        return torch.optim.SGD(params, lr=config.lr, weight_decay=wd)
    if config.name == "momentum":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=wd)
    if config.name == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, momentum=config.momentum, weight_decay=wd)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, weight_decay=wd)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=wd)


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: ScheduleConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step scheduler (call `.step()` after each optimiser step)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=config.factor)


def initialise(model: nn.Module, scheme: InitName, *, seed: int | None = None) -> None:
    """Re-initialise Linear and Embedding weights (biases to 0); `default` keeps torch's.

    Padding rows of embeddings stay zero.
    """
    _one_of(scheme, InitName, "init")
    if scheme == "default":
        return
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, nn.Linear | nn.Embedding):
                continue
            weight = module.weight
            if scheme == "xavier":
                nn.init.xavier_uniform_(weight, generator=generator)
            elif scheme == "normal":
                nn.init.normal_(weight, mean=0.0, std=0.01, generator=generator)
            else:
                nn.init.uniform_(weight, -0.05, 0.05, generator=generator)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                weight[module.padding_idx].zero_()
