"""DIN: Deep Interest Network (Zhou et al., 2018).

The behaviour sequence is pooled by target attention: an MLP scores each past
behaviour against the target item from [q, k, q - k, q * k]; padded steps get
weight 0. Weights are not softmax-normalised (as in the paper), so the pooled
vector keeps the intensity of the user's interest.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from recplat.models.layers import FieldEmbeddings, Vocab, mlp
from torch import nn


@dataclass(frozen=True)
class DINConfig:
    """DIN hyperparameters."""

    vocab: Vocab
    embed_dim: int = 16
    attention_hidden: tuple[int, ...] = (80, 40)
    hidden: tuple[int, ...] = (200, 80)
    dropout: float = 0.0


class TargetAttention(nn.Module):
    """DIN's local activation unit over a padded sequence.

    Args:
        dim: Width of query and keys.
        hidden: Widths of the scoring MLP.
    """

    def __init__(self, dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.score = mlp(4 * dim, hidden)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pool keys (B, L, E) by relevance to query (B, E); mask (B, L) is True on real steps."""
        B, L, E = keys.shape
        q = query.unsqueeze(1).expand_as(keys)  # (B, L, E)
        features = torch.cat([q, keys, q - keys, q * keys], dim=-1)  # (B, L, 4E)
        weights = self.score(features.reshape(B * L, 4 * E)).view(B, L)  # (B*L, 4E) -> (B, L)
        weights = weights.masked_fill(~mask, 0.0)  # (B, L)
        return torch.bmm(weights.unsqueeze(1), keys).squeeze(1)  # (B, 1, L) x (B, L, E) -> (B, E)


class DIN(nn.Module):
    """Click-through logit from profile, context, target and attended history.

    Inputs: those of `EmbeddingMLP` plus hist_item_ids and hist_category_ids,
    (B, L) int64, padded with 0 at the front. Output: logits (B,).
    """

    def __init__(self, config: DINConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = FieldEmbeddings(config.vocab, config.embed_dim)
        self.attention = TargetAttention(2 * config.embed_dim, config.attention_hidden)
        self.head = mlp(
            self.embeddings.out_dim + 2 * config.embed_dim, config.hidden, dropout=config.dropout
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        base = self.embeddings(batch)  # (B, (3 + F) * D)
        target = self.embeddings.target(batch)  # (B, 2D)
        history = self.embeddings.history(batch)  # (B, L, 2D)
        mask = batch["hist_item_ids"] > 0  # (B, L)
        interest = self.attention(target, history, mask)  # (B, 2D)
        x = torch.cat([base, interest], dim=-1)  # (B, (5 + F) * D)
        return self.head(x).squeeze(-1)  # (B,)
