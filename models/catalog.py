"""Model catalogue: name -> model class and config class."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from recplat.models.cnn_lstm import CNNLSTM, CNNLSTMConfig
from recplat.models.dien import DIEN, DIENConfig
from recplat.models.din import DIN, DINConfig
from recplat.models.embedding_mlp import EmbeddingMLP, EmbeddingMLPConfig
from recplat.models.layers import Vocab
from recplat.models.logistic import LogisticRegression, LogisticRegressionConfig
from recplat.models.lstm_forecaster import LSTMForecaster, LSTMForecasterConfig
from recplat.models.rating_mlp import RatingMLP, RatingMLPConfig
from torch import nn


@dataclass(frozen=True)
class CatalogEntry:
    """How to build one model."""

    model: type[nn.Module]
    config: type[Any]
    uses_sequence: bool
    needs_negatives: bool = False  # trained with sampled negative behaviours (aux loss)
    # "binary": click (or purchase) logit, BCE; "regression": rating, MSE; "forecast": next
    # H values, MSE
    task: str = "binary"
    # The feature service the model reads (ranking models); None: trains on ratings.
    feature_service: str | None = None


CATALOG: dict[str, CatalogEntry] = {
    "embedding_mlp": CatalogEntry(
        EmbeddingMLP, EmbeddingMLPConfig, uses_sequence=False, feature_service="embedding_mlp_v1"
    ),
    "din": CatalogEntry(DIN, DINConfig, uses_sequence=True, feature_service="din_ranker_v1"),
    "dien": CatalogEntry(
        DIEN,
        DIENConfig,
        uses_sequence=True,
        needs_negatives=True,
        feature_service="dien_ranker_v1",
    ),
    "logistic_regression": CatalogEntry(
        LogisticRegression,
        LogisticRegressionConfig,
        uses_sequence=False,
        feature_service="logistic_regression_v1",
    ),
    "rating_mlp": CatalogEntry(RatingMLP, RatingMLPConfig, uses_sequence=False, task="regression"),
    "forecaster": CatalogEntry(
        LSTMForecaster, LSTMForecasterConfig, uses_sequence=False, task="forecast"
    ),
    # Purchase propensity (CNN + LSTM over a user's behaviour before a cutoff); trains on
    # the propensity task's rows of the accepted log (`recplat.propensity`), not a service.
    "propensity": CatalogEntry(CNNLSTM, CNNLSTMConfig, uses_sequence=True),
}


def entry(name: str) -> CatalogEntry:
    """The catalogue entry for `name`, with a clear error for unknown names."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; choose one of {sorted(CATALOG)}") from None


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-ready form of a model config (tuples become lists)."""
    return dataclasses.asdict(config)


def config_from_dict(name: str, data: dict[str, Any]) -> Any:
    """Rebuild a model config from `config_to_dict` output.

    Raises:
        TypeError: On an unknown key (named).
    """
    cls = entry(name).config
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise TypeError(f"{name} config: unknown key(s) {unknown}; known: {sorted(known)}")
    values = dict(data)
    if "vocab" in values:  # id-space models; the forecaster has none
        values["vocab"] = Vocab(**values["vocab"])
    for key, value in values.items():
        if isinstance(value, list):  # JSON lists back to tuples (fields: of pairs)
            values[key] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return cls(**values)


def build_model(name: str, config: Any) -> nn.Module:
    """Instantiate model `name` from its config."""
    return entry(name).model(config)
