"""The CNN + LSTM propensity model: shapes, padding, unseen ids, the LSTM-only variant,
and that it learns the generated shoppers' signal (beats chance by far on validation)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from recplat.events.synthetic import GeneratorConfig, generate
from recplat.models.cnn_lstm import CNNLSTM, SUMMARY_NUMBERS, CNNLSTMConfig
from recplat.models.layers import Vocab
from recplat.propensity.dataset import PropensityData, split_rows
from recplat.propensity.evaluation import roc_auc
from recplat.propensity.rows import step_log
from recplat.propensity.task import task_from
from recplat.training.in_process import train_local
from recplat.training.options import TrainOptions
from recplat.training.propensity_job import propensity_training_data, score_rows

pytestmark = pytest.mark.model
VOCAB = Vocab(users=0, items=30, categories=6)


def _batch(n: int = 4, length: int = 12) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    items = torch.randint(1, 30, (n, length), generator=g)
    items[:, :5] = 0  # front padding
    return {
        "seq_item": items,
        "seq_cat": torch.where(items > 0, items % 5 + 1, 0),
        "seq_kind": torch.where(items > 0, 1 + (items % 2), 0),
        "seq_num": torch.rand(n, length * 5, generator=g),
        "summary": torch.rand(n, SUMMARY_NUMBERS, generator=g),
    }


@pytest.mark.parametrize(("use_cnn", "use_items"), [(True, True), (False, True), (True, False)])
def test_one_logit_per_row_with_and_without_convolutions(use_cnn: bool, use_items: bool) -> None:
    config = CNNLSTMConfig(vocab=VOCAB, use_cnn=use_cnn, kernels=(2, 3), use_items=use_items)
    model = CNNLSTM(config).eval()
    out = model(_batch())
    assert out.shape == (4,) and torch.isfinite(out).all()
    assert bool(model.convs) is use_cnn
    model.train()
    assert model(_batch(n=1)).shape == (1,)  # an epoch's last batch may hold one row


def test_padding_ids_beyond_the_vocabulary_and_order_matter_as_they_should() -> None:
    model = CNNLSTM(CNNLSTMConfig(vocab=VOCAB)).eval()
    batch = _batch()
    unseen = dict(batch, seq_item=torch.where(batch["seq_item"] > 0, batch["seq_item"] + 100, 0))
    assert torch.isfinite(model(unseen)).all()  # unseen items read as unknown, no IndexError
    reversed_steps = dict(batch)
    real = batch["seq_item"][:, 5:]
    reversed_steps["seq_item"] = torch.cat([batch["seq_item"][:, :5], real.flip(1)], dim=1)
    assert not torch.allclose(model(batch), model(reversed_steps))  # time order is read


@pytest.mark.parametrize("use_cnn", [True, False])
def test_a_rows_logit_does_not_depend_on_its_padding_or_batch(use_cnn: bool) -> None:
    model = CNNLSTM(CNNLSTMConfig(vocab=VOCAB, use_cnn=use_cnn)).eval()
    batch = _batch(n=3, length=12)
    batch["seq_item"][0, :9] = 0  # row 0: 3 steps; rows 1, 2: 7
    for name in ("seq_cat", "seq_kind"):
        batch[name] = torch.where(batch["seq_item"] > 0, batch[name], 0)
    numbers = batch["seq_num"].view(3, 12, 5)
    numbers[batch["seq_item"] == 0] = 0.0
    together = model(batch)
    alone = model({k: v[:1] for k, v in batch.items()})
    wider = {k: v[:1] for k, v in batch.items()}  # 20 more padding steps in front
    for name in ("seq_item", "seq_cat", "seq_kind"):
        wider[name] = torch.cat([torch.zeros(1, 20, dtype=wider[name].dtype), wider[name]], 1)
    wider["seq_num"] = torch.cat([torch.zeros(1, 100), wider["seq_num"]], 1)
    torch.testing.assert_close(alone, together[:1])
    torch.testing.assert_close(model(wider), together[:1])


def test_it_learns_who_buys_on_generated_shoppers() -> None:
    data = generate(GeneratorConfig(users=600, items=150, categories=6, impressions=9000,
                                    days=50, seed=4, shoppers=True))  # fmt: skip
    log = step_log(events=data.events, items=data.items, purchases=data.purchases)
    task = task_from(events=data.events, items=data.items, category=None, window_days=7,
                     max_len=20)  # fmt: skip
    rows = PropensityData(task=task, splits=split_rows(log, task), validation_run_ids={"train": 0})
    vocab = Vocab(users=0, items=int(log.item.max()) + 1, categories=int(log.category.max()) + 1)
    training = propensity_training_data(rows, vocab=vocab, balance="natural", seed=0, source="t")
    options = TrainOptions(model_name="propensity", epochs=4, batch_size=128, patience=2)
    result = train_local(data=training, options=dataclasses.replace(options, threads=2))
    validation = rows.splits["validation"]
    auc = roc_auc(validation.frame["label"].to_numpy(), score_rows(result.model, validation))
    assert auc > 0.85, auc
    assert result.metrics["auc"] > 0.8
    scores = score_rows(result.model, rows.splits["test"])
    assert (
        scores.shape == (len(rows.splits["test"].frame),) and ((scores >= 0) & (scores <= 1)).all()
    )
    assert np.isfinite(scores).all()
