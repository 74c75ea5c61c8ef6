"""Layers shared by more than one model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

# Small categorical fields every ranking model embeds: name -> cardinality.
# Index 0 of each table is "unknown".
CONTEXT_FIELDS: dict[str, int] = {
    "age_bucket": 7,
    "gender": 3,
    "price_bucket": 11,
    "hour": 24,
    "weekday": 7,
    "device": 4,
}


@dataclass(frozen=True)
class Vocab:
    """Sizes of the id spaces (max id + 1; id 0 is padding / unknown)."""

    users: int
    items: int
    categories: int


def mlp(in_dim: int, hidden: Sequence[int], *, dropout: float = 0.0) -> nn.Sequential:
    """Linear -> PReLU (-> Dropout) blocks, ending in a single logit."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_dim, width), nn.PReLU(width)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        in_dim = width
    layers.append(nn.Linear(in_dim, 1))
    return nn.Sequential(*layers)


class FieldEmbeddings(nn.Module):
    """Embeds user, target item, its category and the small context fields.

    Args:
        vocab: Id-space sizes.
        dim: Embedding size of every field.
    """

    def __init__(self, vocab: Vocab, dim: int) -> None:
        super().__init__()
        self.user = nn.Embedding(vocab.users, dim)
        self.item = nn.Embedding(vocab.items, dim, padding_idx=0)
        self.category = nn.Embedding(vocab.categories, dim, padding_idx=0)
        self.context = nn.ModuleDict(
            {name: nn.Embedding(n, dim) for name, n in CONTEXT_FIELDS.items()}
        )
        self.dim = dim

    @property
    def out_dim(self) -> int:
        """Width of `forward`'s output."""
        return self.dim * (3 + len(self.context))

    def target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Target item as [item, category]: (B, 2D)."""
        return torch.cat([self.item(batch["item_id"]), self.category(batch["category_id"])], dim=-1)

    def history(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Behaviour sequence as [item, category] per step: (B, L, 2D)."""
        items = self.item(batch["hist_item_ids"])  # (B, L, D)
        cats = self.category(batch["hist_category_ids"])  # (B, L, D)
        return torch.cat([items, cats], dim=-1)  # (B, L, 2D)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """User, target and context fields side by side: (B, out_dim)."""
        fields = [self.user(batch["user_id"]), self.target(batch)]  # (B, D), (B, 2D)
        fields += [emb(batch[name]) for name, emb in self.context.items()]  # each (B, D)
        return torch.cat(fields, dim=-1)  # (B, (3 + F) * D)
