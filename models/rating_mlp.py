"""Rating MLP: the classic MovieLens regression model.

User and movie embeddings, concatenated -> 128 -> 32 -> 8 -> 1 (ReLU), trained
with mean squared error on the rating.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from recplat.models.layers import IdEmbedding, Vocab
from torch import nn


@dataclass(frozen=True)
class RatingMLPConfig:
    """Rating MLP hyperparameters."""

    vocab: Vocab
    embed_dim: int = 32
    hidden: tuple[int, ...] = (128, 32, 8)


class RatingMLP(nn.Module):
    """Predicted rating (B,) from user_id and item_id (B,) int64."""

    def __init__(self, config: RatingMLPConfig) -> None:
        super().__init__()
        self.config = config
        self.user = IdEmbedding(config.vocab.users, config.embed_dim)
        self.item = IdEmbedding(config.vocab.items, config.embed_dim)
        layers: list[nn.Module] = []
        width = 2 * config.embed_dim
        for size in config.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*layers)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        x = torch.cat([self.user(batch["user_id"]), self.item(batch["item_id"])], dim=-1)  # (B, 2D)
        return self.head(x).squeeze(-1)  # (B,)
