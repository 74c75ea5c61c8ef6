"""Rating model: biased matrix factorisation with an MLP on top, for explicit ratings.

rating = mean + b_user + b_item + <u, i> + MLP([u, i, u * i]) (ReLU layers), fit
with squared error. The biases and the inner product are the classic biased MF
(Koren et al., 2009), which carries most of the signal on MovieLens; the MLP
adds interactions the inner product misses (`hidden: []` turns it off). The
looked-up embeddings and biases get an L2 penalty (`embedding_l2`, per batch,
on the rows the batch reads), the regularisation MF needs: weight decay on the
whole table shrinks rows a batch never touched.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from recplat.models.layers import IdEmbedding, Vocab
from torch import nn


@dataclass(frozen=True)
class RatingMLPConfig:
    """Rating model hyperparameters."""

    vocab: Vocab
    embed_dim: int = 64
    hidden: tuple[int, ...] = ()
    dropout: float = 0.0
    embedding_l2: float = 0.1  # per-batch L2 on the embeddings and biases read
    mean: float = 3.5  # the ratings' mean, the start of the global bias


class RatingMLP(nn.Module):
    """Predicted rating (B,) from user_id and item_id (B,) int64."""

    def __init__(self, config: RatingMLPConfig) -> None:
        super().__init__()
        self.config = config
        self.user = IdEmbedding(config.vocab.users, config.embed_dim)
        self.item = IdEmbedding(config.vocab.items, config.embed_dim)
        self.user_bias = IdEmbedding(config.vocab.users, 1)
        self.item_bias = IdEmbedding(config.vocab.items, 1)
        for table in (self.user, self.item):
            nn.init.normal_(table.weight, std=0.01)
        for table in (self.user_bias, self.item_bias):
            nn.init.zeros_(table.weight)
        self.bias = nn.Parameter(torch.tensor([config.mean]))
        layers: list[nn.Module] = []
        width = 3 * config.embed_dim
        for size in config.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if config.dropout:
                layers.append(nn.Dropout(config.dropout))
            width = size
        self.head = nn.Sequential(*layers, nn.Linear(width, 1)) if config.hidden else None

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        u, i = self.user(batch["user_id"]), self.item(batch["item_id"])  # (B, D) each
        out = (
            self.bias
            + self.user_bias(batch["user_id"]).squeeze(-1)
            + self.item_bias(batch["item_id"]).squeeze(-1)
            + (u * i).sum(-1)
        )  # (B,)
        if self.head is not None:
            out = out + self.head(torch.cat([u, i, u * i], dim=-1)).squeeze(-1)  # (B,)
        return out

    def penalty(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """`embedding_l2` times the mean squared norm of the rows this batch reads."""
        users, items = batch["user_id"], batch["item_id"]
        norms = (
            self.user(users).pow(2).sum(-1)
            + self.item(items).pow(2).sum(-1)
            + self.user_bias(users).squeeze(-1).pow(2)
            + self.item_bias(items).squeeze(-1).pow(2)
        )  # (B,)
        return self.config.embedding_l2 * norms.mean()
