"""Model shapes, masking, golden values and a one-epoch smoke train."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from recplat.models.catalog import CATALOG, build_model, config_from_dict, config_to_dict, entry
from recplat.models.din import DIN
from recplat.models.layers import DEFAULT_FIELDS, Vocab
from recplat.models.logistic import LogisticRegression
from recplat.models.predict import predict_logits
from recplat.training.fit import train_epoch
from recplat.training.metrics import auc, regression_metrics

VOCAB = Vocab(users=30, items=50, categories=6)
B, L = 7, 5
pytestmark = pytest.mark.model
# Models that rank (user, item) rows. The forecaster reads windows of values
# (tests/model/test_lstm_forecaster.py), the propensity model a user's steps before a
# cutoff (tests/model/test_cnn_lstm.py).
ID_MODELS = sorted(
    name for name, spec in CATALOG.items() if spec.task != "forecast" and name != "propensity"
)


def _batch(seed: int = 0, batch: int = B) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {
        "user_id": torch.randint(0, VOCAB.users, (batch,), generator=g),
        "item_id": torch.randint(1, VOCAB.items, (batch,), generator=g),
        "category_id": torch.randint(1, VOCAB.categories, (batch,), generator=g),
        "hist_item_ids": torch.randint(1, VOCAB.items, (batch, L), generator=g),
        "hist_category_ids": torch.randint(1, VOCAB.categories, (batch, L), generator=g),
    }
    out |= {name: torch.randint(0, size, (batch,), generator=g) for name, size in DEFAULT_FIELDS}
    out["hist_item_ids"][0, :3] = 0  # front padding
    out["hist_category_ids"][0, :3] = 0
    out["hist_item_ids"][1] = 0  # empty history
    out["hist_category_ids"][1] = 0
    return out


def _model(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(name, entry(name).config(vocab=VOCAB, embed_dim=8))


@pytest.mark.parametrize("name", ID_MODELS)
def test_output_is_one_logit_per_row(name: str) -> None:
    logits = _model(name)(_batch())
    assert logits.shape == (B,)
    assert torch.isfinite(logits).all()


def test_din_ignores_padded_positions() -> None:
    model = _model("din").eval()
    assert isinstance(model, DIN)
    batch = _batch()
    before = model(batch)
    # Padded steps are masked: even a non-zero padding embedding changes nothing.
    model.embeddings.item.weight.data[0].normal_()
    model.embeddings.category.weight.data[0].normal_()
    torch.testing.assert_close(model(batch), before)


def test_din_uses_the_history() -> None:
    model = _model("din").eval()
    batch = _batch()
    other = {k: v.clone() for k, v in batch.items()}
    other["hist_item_ids"][2] = other["hist_item_ids"][2] % (VOCAB.items - 1) + 1  # other items
    assert not torch.allclose(model(other)[2], model(batch)[2])
    torch.testing.assert_close(model(other)[3:], model(batch)[3:])


# Seeded outputs of the first three rows; a change here means the model's maths changed.
GOLDEN = {
    "embedding_mlp": [0.088014, 0.058012, 0.173173],
    "din": [-0.059023, -0.251302, -0.096387],
    "dien": [-0.107369, 0.076984, 0.081552],
    "rating_mlp": [3.500237, 3.500156, 3.500053],  # mean 3.5 + small-normal rows, zero biases
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_seeded_golden_values(name: str) -> None:
    with torch.no_grad():
        logits = _model(name, seed=42).eval()(_batch(seed=1))[:3]
    torch.testing.assert_close(logits, torch.tensor(GOLDEN[name]), atol=1e-4, rtol=1e-4)


def test_logistic_regression_is_bias_plus_one_weight_per_field_value() -> None:
    model = _model("logistic_regression")  # zero-initialised: the golden value is its formula
    assert isinstance(model, LogisticRegression)
    with torch.no_grad():
        tables = {
            name: table
            for name, table in model.weights.items()
            if isinstance(table, torch.nn.Embedding)
        }
        tables["item_id"].weight[5] = 0.5
        tables["hour"].weight[3] = -0.25
        model.bias.fill_(0.1)
    batch = _batch()
    batch["item_id"][:] = torch.tensor([5, 5, 6, 6, 5, 6, 5])
    batch["hour"][:] = torch.tensor([3, 4, 3, 4, 3, 4, 3])
    expected = torch.tensor([0.35, 0.6, -0.15, 0.1, 0.35, 0.1, 0.35])
    torch.testing.assert_close(model(batch), expected)


@pytest.mark.parametrize("name", ID_MODELS)
def test_config_round_trips_through_json_form(name: str) -> None:
    config = entry(name).config(vocab=VOCAB, embed_dim=8)
    assert config_from_dict(name, config_to_dict(config)) == config
    with pytest.raises(TypeError, match="unknown key"):
        config_from_dict(name, {**config_to_dict(config), "embed_dimm": 3})


BINARY = sorted(n for n, spec in CATALOG.items() if spec.task == "binary" and n in ID_MODELS)


@pytest.mark.parametrize("name", BINARY)
def test_one_epoch_smoke_train_learns_a_planted_rule(name: str) -> None:
    # Label = target category 1; any working model learns it in one epoch.
    n = 2048
    g = np.random.default_rng(0)
    arrays = {k: v.numpy() for k, v in _batch(seed=3, batch=n).items()}
    arrays["label"] = (arrays["category_id"] == 1).astype(np.int64)
    model = _model(name)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    order = g.permutation(n)
    losses = []
    model.train()
    for start in range(0, n, 64):
        idx = order[start : start + 64]
        batch = {k: torch.from_numpy(v[idx]) for k, v in arrays.items() if k != "label"}
        loss = loss_fn(model(batch), torch.from_numpy(arrays["label"][idx]).float())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])
    assert auc(arrays["label"], predict_logits(model, arrays)) > 0.95


def test_rating_mlp_one_epoch_smoke_train_fits_a_planted_rating() -> None:
    n = 4096
    arrays = {k: v.numpy() for k, v in _batch(seed=4, batch=n).items()}
    # Rating = 1 + user bias + item bias, on a 1..5 scale.
    arrays["rating"] = (1 + (arrays["user_id"] % 3) + (arrays["item_id"] % 2) * 1.5).astype(
        np.float32
    )
    model = _model("rating_mlp")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    order = np.random.default_rng(0).permutation(n)
    before = regression_metrics(arrays["rating"], predict_logits(model, arrays))["rmse"]
    for _ in range(3):
        train_epoch(
            model,
            arrays,
            order,
            optimizer=optimizer,
            batch_size=128,
            device=torch.device("cpu"),
            task="regression",
        )
    after = regression_metrics(arrays["rating"], predict_logits(model, arrays))
    assert after["rmse"] < 0.25 * before and after["mae"] < 0.3


def test_models_keep_ctor_small() -> None:
    for spec in CATALOG.values():
        fields = [f.name for f in dataclasses.fields(spec.config)]
        assert ("vocab" in fields) == (spec.task != "forecast")
        assert spec.model.__init__.__code__.co_argcount <= 5


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros(40, dtype=np.int64), "40 rows, all with label 0: AUC is undefined"),
        (np.zeros(0, dtype=np.int64), "the validation split is empty"),
    ],
)
def test_fit_refuses_a_validation_split_that_cannot_choose_an_epoch(
    labels: np.ndarray, message: str
) -> None:
    # One class (or no rows) scores NaN every epoch: the untrained start would be kept.
    from recplat.training.fit import fit
    from recplat.training.options import TrainOptions

    train = {k: v.numpy() for k, v in _batch(seed=1, batch=64).items()}
    train["label"] = (train["category_id"] == 1).astype(np.int64)
    validation = {k: v.numpy()[: len(labels)] for k, v in _batch(seed=2, batch=64).items()}
    validation["label"] = labels
    model = _model("din")
    with pytest.raises(ValueError, match=message):
        fit(
            model,
            train=train,
            validation=validation,
            optimizer=torch.optim.Adam(model.parameters()),
            options=TrainOptions(model_name="din", epochs=1),
            device=torch.device("cpu"),
        )


@pytest.mark.parametrize("name", ID_MODELS)
def test_ids_without_a_row_score_as_unknown(name: str) -> None:
    # One rule everywhere: an id outside the vocabulary reads row 0, as the encoding maps it.
    model = _model(name).eval()
    batch = _batch(seed=4)
    outside, unknown = dict(batch), dict(batch)
    outside["user_id"] = batch["user_id"].clone()
    outside["user_id"][:3] = torch.tensor([VOCAB.users, VOCAB.users + 7, -2])
    unknown["user_id"] = outside["user_id"].masked_fill(torch.arange(B) < 3, 0)
    outside["item_id"] = batch["item_id"].clone()
    outside["item_id"][3] = VOCAB.items + 100
    unknown["item_id"] = outside["item_id"].masked_fill(torch.arange(B) == 3, 0)
    with torch.no_grad():
        torch.testing.assert_close(model(outside), model(unknown))


def test_batches_carry_every_input_array_and_no_target() -> None:
    from recplat.models.predict import to_batch

    arrays = {k: v.numpy() for k, v in _batch(seed=5).items()}
    arrays["occupation"] = np.arange(B, dtype=np.int64)  # a field only some service has
    arrays["label"] = np.ones(B, dtype=np.int64)
    arrays["rating"] = np.full(B, 4.0)
    batch = to_batch(arrays, np.array([2, 0]), torch.device("cpu"))
    assert set(batch) == set(arrays) - {"label", "rating"}
    assert batch["occupation"].tolist() == [2, 0]


@pytest.mark.parametrize("name", ["din", "dien"])
def test_a_history_not_front_padded_is_refused_naming_the_row(name: str) -> None:
    # Post-padded steps would be cut as padding: the model would score as if they were gone.
    batch = _batch(seed=6)
    for key in ("hist_item_ids", "hist_category_ids"):
        batch[key] = batch[key].clone()
        batch[key][0] = torch.roll(batch[key][0], -3)  # row 0: [x, y, 0, 0, 0]
    with pytest.raises(ValueError, match="hist_item_ids row 0 has padding"):
        _model(name).eval()(batch)


def test_the_rating_model_is_biased_mf_plus_its_mlp_with_an_l2_on_the_rows_read() -> None:
    from recplat.models.rating_mlp import RatingMLP, RatingMLPConfig

    model = RatingMLP(RatingMLPConfig(vocab=VOCAB, embed_dim=2, embedding_l2=0.5, mean=3.0))
    with torch.no_grad():
        model.user.weight[4] = torch.tensor([1.0, 2.0])
        model.item.weight[7] = torch.tensor([0.5, -1.0])
        model.user_bias.weight[4] = 0.25
        model.item_bias.weight[7] = -0.5
    batch = {"user_id": torch.tensor([4]), "item_id": torch.tensor([7])}
    with torch.no_grad():
        # 3.0 + 0.25 - 0.5 + (1 * 0.5 + 2 * -1) = 1.25
        assert model(batch).tolist() == pytest.approx([1.25])
        # 0.5 * (|u|^2 + |i|^2 + b_u^2 + b_i^2) = 0.5 * (5 + 1.25 + 0.0625 + 0.25)
        assert float(model.penalty(batch)) == pytest.approx(0.5 * 6.5625)
    with_mlp = RatingMLP(RatingMLPConfig(vocab=VOCAB, embed_dim=2, hidden=(4,)))
    assert with_mlp.head is not None and with_mlp(batch).shape == (1,)
