"""DIN: Deep Interest Network (Zhou et al., 2018).

The behaviour sequence is pooled by target attention: an MLP scores each past
behaviour against the target item from [q, k, q - k, q * k]; padded steps get
weight 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from recplat.models.layers import (
    DEFAULT_FIELDS,
    Activation,
    FieldEmbeddings,
    TargetAttention,
    Vocab,
    mlp,
    trim_front_padding,
)
from torch import nn

SEQUENCE_KEYS = ("hist_item_ids", "hist_category_ids", "hist_behaviour_types")


@dataclass(frozen=True)
class DINConfig:
    """DIN hyperparameters."""

    vocab: Vocab
    embed_dim: int = 16
    attention_hidden: tuple[int, ...] = (80, 40)
    hidden: tuple[int, ...] = (200, 80)
    activation: Activation = "prelu"
    dropout: float = 0.0
    batch_norm: bool = False  # BatchNorm1d after each hidden Linear of the head
    # Inputs, from the feature service (`recplat.features.inputs.InputSpec`).
    fields: tuple[tuple[str, int], ...] = DEFAULT_FIELDS
    dense_features: int = 0
    behaviour_types: int = 0  # rows of the behaviour-type table; 0: no types


class DIN(nn.Module):
    """Click-through logit from profile, context, target and attended history.

    Inputs: those of `EmbeddingMLP` plus hist_item_ids and hist_category_ids,
    (B, L) int64, padded with 0 at the front. Output: logits (B,).
    """

    def __init__(self, config: DINConfig) -> None:
        super().__init__()
        self.config = config
        width = 2 * config.embed_dim  # an item is [item, category]
        self.embeddings = FieldEmbeddings.for_config(config)
        self.attention = TargetAttention(width, config.attention_hidden, config.activation)
        self.head = mlp(
            self.embeddings.out_dim + width,
            config.hidden,
            dropout=config.dropout,
            activation=config.activation,
            batch_norm=config.batch_norm,
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = trim_front_padding(
            batch, [k for k in SEQUENCE_KEYS if k in batch]
        )  # (B, L') steps someone has
        base = self.embeddings(batch)  # (B, (3 + F) * D)
        target = self.embeddings.target(batch)  # (B, 2D)
        history = self.embeddings.history(batch)  # (B, L', 2D)
        mask = batch["hist_item_ids"] > 0  # (B, L')
        interest = self.attention(target, history, mask)  # (B, 2D)
        x = torch.cat([base, interest], dim=-1)  # (B, (5 + F) * D)
        return self.head(x).squeeze(-1)  # (B,)
