"""Logistic regression on one-hot ids: a baseline for the ranking models.

One weight per value of every categorical field (user, item, category and the
service's fields), one per dense feature, plus a bias; no interactions, no sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from recplat.models.layers import DEFAULT_FIELDS, IdEmbedding, Vocab
from torch import nn


@dataclass(frozen=True)
class LogisticRegressionConfig:
    """Logistic regression has no hyperparameters beyond the id spaces.

    `embed_dim` is accepted (and ignored) so all ranking configs build alike.
    """

    vocab: Vocab
    embed_dim: int = 1
    # Inputs, from the feature service (`recplat.features.inputs.InputSpec`).
    fields: tuple[tuple[str, int], ...] = DEFAULT_FIELDS
    dense_features: int = 0


class LogisticRegression(nn.Module):
    """Logit = bias + sum of one weight per field value. Inputs as `EmbeddingMLP`."""

    def __init__(self, config: LogisticRegressionConfig) -> None:
        super().__init__()
        self.config = config
        sizes = {
            "user_id": config.vocab.users,
            "item_id": config.vocab.items,
            "category_id": config.vocab.categories,
            **dict(config.fields),
        }
        tables = {name: IdEmbedding(n, 1) for name, n in sizes.items()}
        for table in tables.values():
            nn.init.zeros_(table.weight)
        self.weights = nn.ModuleDict(tables)
        self.bias = nn.Parameter(torch.zeros(1))
        self.dense = (
            nn.Linear(config.dense_features, 1, bias=False) if config.dense_features else None
        )
        if self.dense is not None:
            nn.init.zeros_(self.dense.weight)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        terms = torch.cat(
            [table(batch[name]) for name, table in self.weights.items()], dim=-1
        )  # (B, F)
        logit = terms.sum(dim=-1) + self.bias  # (B,)
        if self.dense is not None:
            logit = logit + self.dense(batch["dense"].to(logit.dtype)).squeeze(-1)  # (B,)
        return logit
