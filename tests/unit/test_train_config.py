"""Training options: every shipped YAML loads; flags and recorded runs build the same type;
mistakes are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from recplat.models.catalog import build_model
from recplat.models.layers import Vocab
from recplat.training.options import (
    ConfigError,
    TrainOptions,
    load_options,
    parse_options,
    with_flags,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"
VOCAB = Vocab(users=10, items=20, categories=5)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_load_and_build_their_model(path: Path) -> None:
    options = load_options(path)
    # A file per model, or per variant of one (propensity_lstm: propensity without the CNN).
    assert path.stem == options.model_name or path.stem.startswith(f"{options.model_name}_")
    model_config = options.model_config(VOCAB)
    written = yaml.safe_load(path.read_text())["model_config"]
    for key, value in written.items():  # every value reaches the model's config
        # YAML lists become the tuples the frozen model configs hold (MLP sizes).
        expected = tuple(value) if isinstance(value, list) else value
        assert getattr(model_config, key) == expected, key
    if hasattr(model_config, "vocab"):  # id-space models (the forecaster has none)
        assert model_config.vocab == VOCAB
    build_model(options.model_name, model_config)


def test_values_reach_the_options() -> None:
    options = with_flags(load_options(CONFIGS / "embedding_mlp.yaml"), epochs=7)
    assert options.epochs == 7 and options.batch_size == 512
    assert options.optimizer.name == "adamw" and options.optimizer.weight_decay == 1e-4
    assert options.schedule.name == "inverse_time" and options.schedule.warmup_steps == 100
    assert options.init == "xavier" and options.model_params["batch_norm"] is True


def _error(data: object) -> str:
    with pytest.raises(ConfigError) as info:
        parse_options(data, source="x.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"model": "din", "optimiser": {}}, "x.yaml: optimiser: unknown key"),
        ({"model": "din", "optimizer": {"lrr": 1}}, "x.yaml: optimizer.lrr: unknown key"),
        ({"model": "din", "optimizer": {"lr": "fast"}}, "optimizer.lr: expected float, got str"),
        ({"model": "din", "optimizer": {"name": "adagrad"}}, "optimizer.name: expected one of"),
        ({"model": "din", "optimizer": {"lr": -1}}, "optimizer.lr must be > 0"),
        ({"model": "din", "train": {"epochs": 2.5}}, "train.epochs: expected int, got float"),
        ({"model": "din", "train": {"epochs": True}}, "train.epochs: expected int, got bool"),
        ({"model": "din", "train": {"num_workers": 0}}, "train.num_workers must be >= 1"),
        ({"model": "din", "model_config": {"hiden": [8]}}, "model_config.hiden: unknown key"),
        ({"model": "din", "model_config": {"hidden": [8, "x"]}}, "model_config.hidden[1]"),
        ({"model": "din", "model_config": {"vocab": {}}}, "model_config.vocab: unknown key"),
        ({"model": "dien", "schedule": {"name": "exponential", "decay_rate": 2}}, "decay_rate"),
        ({"model": "gbdt"}, "model: expected one of"),
        ({"model": "din", "init": "zeros"}, "init: expected one of"),
        (["din"], "expected a mapping at the top level"),
    ],
)
def test_mistakes_are_named(data: object, message: str) -> None:
    assert message in _error(data)


def test_missing_and_broken_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_options(tmp_path / "none.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: din\n  optimizer: [\n")
    with pytest.raises(ConfigError, match=f"{broken}: not valid YAML"):
        load_options(broken)


def test_ints_are_accepted_for_floats_and_nulls_where_optional() -> None:
    data = yaml.safe_load("model: din\noptimizer: {lr: 1}\ntrain: {threads: null}\n")
    options = parse_options(data)
    assert options.optimizer.lr == 1.0 and isinstance(options.optimizer.lr, float)
    assert options.threads is None


def test_flags_override_and_a_new_model_starts_from_its_defaults() -> None:
    base = load_options(CONFIGS / "din.yaml")
    same = with_flags(base, model="din", lr=0.01, batch_size=None, use_gpu=True)
    assert same.optimizer.lr == 0.01 and same.optimizer.name == base.optimizer.name
    assert same.batch_size == base.batch_size and same.use_gpu is True
    assert same.model_params == base.model_params
    other = with_flags(base, model="embedding_mlp")
    assert other.model_name == "embedding_mlp" and other.model_params == {}
    with pytest.raises(ConfigError, match="unknown model 'gbdt'"):
        with_flags(base, model="gbdt")
    with pytest.raises(ConfigError, match="placement 'everywhere'"):
        with_flags(base, placement="everywhere")
    with pytest.raises(ConfigError, match=r"train\.epochs must be >= 1"):
        with_flags(base, epochs=0)


def test_a_recorded_run_rebuilds_the_same_options() -> None:
    options = with_flags(load_options(CONFIGS / "dien.yaml"), epochs=5, placement="spread")
    # The registry stores JSON: tuples come back as lists.
    record = json.loads(json.dumps(options.to_record()))
    assert TrainOptions.from_record(record) == options
