"""Optimisers, schedules, initialisation and batch norm chosen by config."""

from __future__ import annotations

import math

import pytest
import torch
from recplat.models.catalog import build_model, entry
from recplat.models.layers import Vocab
from recplat.training.optim import (
    OptimizerConfig,
    ScheduleConfig,
    build_optimizer,
    build_scheduler,
    initialise,
)
from torch import nn

VOCAB = Vocab(users=10, items=20, categories=5)


def test_schedule_factors() -> None:
    constant = ScheduleConfig()
    assert [constant.factor(s) for s in (0, 10, 1000)] == [1.0, 1.0, 1.0]
    warm = ScheduleConfig(warmup_steps=4)
    assert [warm.factor(s) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    inverse = ScheduleConfig(name="inverse_time", decay_rate=0.5, decay_steps=100)
    assert inverse.factor(200) == pytest.approx(1 / (1 + 0.5 * 2))
    expo = ScheduleConfig(name="exponential", decay_rate=0.5, decay_steps=100)
    assert expo.factor(300) == pytest.approx(0.125) and expo.factor(50) == pytest.approx(
        math.sqrt(0.5)
    )


def test_scheduler_moves_the_learning_rate_per_step() -> None:
    layer = nn.Linear(2, 1)
    optimizer = build_optimizer(layer.parameters(), OptimizerConfig(name="sgd", lr=1.0))
    scheduler = build_scheduler(
        optimizer, ScheduleConfig(name="exponential", decay_rate=0.5, decay_steps=1)
    )
    seen = []
    for _ in range(3):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == [1.0, 0.5, 0.25]


@pytest.mark.parametrize(
    ("name", "cls", "momentum"),
    [
        ("sgd", torch.optim.SGD, 0),
        ("momentum", torch.optim.SGD, 0.9),
        ("rmsprop", torch.optim.RMSprop, 0.9),
        ("adam", torch.optim.Adam, None),
        ("adamw", torch.optim.AdamW, None),
    ],
)
def test_optimisers(name: str, cls: type, momentum: float | None) -> None:
    optimizer = build_optimizer(
        nn.Linear(2, 1).parameters(),
        OptimizerConfig(name=name, lr=0.1, weight_decay=0.01),  # type: ignore[arg-type]
    )
    assert type(optimizer) is cls
    group = optimizer.param_groups[0]
    assert group["lr"] == 0.1 and group["weight_decay"] == 0.01
    if momentum is not None:
        assert group["momentum"] == momentum


@pytest.mark.parametrize("scheme", ["xavier", "normal", "uniform"])
def test_initialisation_keeps_padding_zero_and_zeroes_biases(scheme: str) -> None:
    model = build_model("din", entry("din").config(vocab=VOCAB, embed_dim=8))
    item: nn.Embedding = model.get_submodule("embeddings.item")  # type: ignore[assignment]
    before = item.weight.detach().clone()
    initialise(model, scheme, seed=1)  # type: ignore[arg-type]
    weight = item.weight
    assert not torch.equal(weight, before)
    assert torch.count_nonzero(weight[0]) == 0  # padding id 0 stays zero
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert all(torch.count_nonzero(m.bias) == 0 for m in linears if m.bias is not None)
    if scheme == "normal":
        assert float(weight[1:].std()) == pytest.approx(0.01, rel=0.3)
    if scheme == "uniform":
        assert float(weight.abs().max()) <= 0.05


def test_default_init_changes_nothing() -> None:
    model = build_model("din", entry("din").config(vocab=VOCAB, embed_dim=8))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    initialise(model, "default")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("name", ["embedding_mlp", "din", "dien"])
def test_batch_norm_in_the_head(name: str) -> None:
    config = entry(name).config(vocab=VOCAB, embed_dim=8, batch_norm=True)
    plain = build_model(name, entry(name).config(vocab=VOCAB, embed_dim=8))
    normed = build_model(name, config)
    count = sum(isinstance(m, nn.BatchNorm1d) for m in normed.get_submodule("head").modules())
    assert count == len(config.hidden)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in plain.modules())
