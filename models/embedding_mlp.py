"""Embedding MLP: the baseline ranker (no behaviour sequence).

User, target item and context embeddings are concatenated and fed to an MLP.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from recplat.models.layers import DEFAULT_FIELDS, Activation, FieldEmbeddings, Vocab, mlp
from torch import nn


@dataclass(frozen=True)
class EmbeddingMLPConfig:
    """Embedding MLP hyperparameters."""

    vocab: Vocab
    embed_dim: int = 16
    hidden: tuple[int, ...] = (200, 80)
    activation: Activation = "prelu"
    dropout: float = 0.0
    batch_norm: bool = False  # BatchNorm1d after each hidden Linear of the head
    # Inputs, from the feature service (`recplat.features.inputs.InputSpec`).
    fields: tuple[tuple[str, int], ...] = DEFAULT_FIELDS
    dense_features: int = 0


class EmbeddingMLP(nn.Module):
    """Click-through logit from user, item and context embeddings.

    Inputs (all int64): user_id, item_id, category_id, age_bucket, gender,
    price_bucket, hour, weekday, device, each (B,). Output: logits (B,).
    """

    def __init__(self, config: EmbeddingMLPConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = FieldEmbeddings.for_config(config)
        self.head = mlp(
            self.embeddings.out_dim,
            config.hidden,
            dropout=config.dropout,
            activation=config.activation,
            batch_norm=config.batch_norm,
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = self.embeddings(batch)  # (B, (3 + F) * D)
        return self.head(x).squeeze(-1)  # (B,)
