"""Layers shared by more than one model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

# Categorical fields a model embeds when its config names none: (name, table size).
# A trained model's fields come from its feature service (`recplat.features.inputs`);
# index 0 of each table is "unknown".
DEFAULT_FIELDS: tuple[tuple[str, int], ...] = (
    ("age_bucket", 7),
    ("gender", 3),
    ("price_bucket", 11),
    ("hour", 24),
    ("weekday", 7),
    ("device", 4),
)

Activation = Literal["prelu", "dice", "sigmoid"]


@dataclass(frozen=True)
class Vocab:
    """Sizes of the id spaces (max id + 1; id 0 is padding / unknown)."""

    users: int
    items: int
    categories: int


class Dice(nn.Module):
    """Data-adaptive activation from the DIN paper.

    p = sigmoid(batch-normalised x); out = p * x + (1 - p) * alpha * x.
    Works on (N, C) or (N, L, C) inputs (statistics over all but the last dim).
    """

    def __init__(self, width: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(width, eps=eps, affine=False)
        self.alpha = nn.Parameter(torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])  # (N, C)
        p = torch.sigmoid(self.norm(flat)).view_as(x)
        return p * x + (1 - p) * self.alpha * x


def activation_layer(kind: Activation, width: int) -> nn.Module:
    """PReLU (one slope per unit), Dice or sigmoid."""
    if kind == "prelu":
        return nn.PReLU(width)
    if kind == "dice":
        return Dice(width)
    if kind == "sigmoid":
        return nn.Sigmoid()
    raise ValueError(f"unknown activation {kind!r}; use 'prelu', 'dice' or 'sigmoid'")


def mlp(
    in_dim: int,
    hidden: Sequence[int],
    *,
    dropout: float = 0.0,
    activation: Activation = "prelu",
    out_dim: int = 1,
    batch_norm: bool = False,
) -> nn.Sequential:
    """Linear (-> BatchNorm) -> activation (-> Dropout) blocks, ending in `out_dim` outputs.

    Input (N, in_dim).
    """
    layers: list[nn.Module] = []
    for width in hidden:
        layers.append(nn.Linear(in_dim, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation_layer(activation, width))
        if dropout:
            layers.append(nn.Dropout(dropout))
        in_dim = width
    layers.append(nn.Linear(in_dim, out_dim))
    return nn.Sequential(*layers)


class IdEmbedding(nn.Embedding):
    """An embedding table whose ids outside [0, num_embeddings) read row 0, "unknown".

    The one rule for an id a model has no row for, the same the encoding applies
    (`recplat.features.encoding` maps such ids to 0 before they get here): a new
    user or item scores as unknown instead of raising an IndexError.
    """

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.device.type == "cpu" and ids.numel():  # one reduction when all are known
            low, high = torch.aminmax(ids)
            if low >= 0 and high < self.num_embeddings:
                return super().forward(ids)
        outside = (ids < 0) | (ids >= self.num_embeddings)  # no host sync on a GPU
        return super().forward(ids.masked_fill(outside, 0))


class FieldEmbeddings(nn.Module):
    """Embeds user, target item, its category, the categorical fields and passes the
    dense features through.

    Args:
        vocab: Id-space sizes.
        dim: Embedding size of every field.
        fields: (name, table size) of each categorical input, read from the batch.
        dense: Width of the batch's `dense` (B, F) float input; 0 for none.
        behaviour_types: Rows of the behaviour-type table (0: the sequence has no
            types); a step's type embedding is added to its [item, category].
    """

    def __init__(
        self,
        vocab: Vocab,
        dim: int,
        *,
        fields: Sequence[tuple[str, int]] = DEFAULT_FIELDS,
        dense: int = 0,
        behaviour_types: int = 0,
    ) -> None:
        super().__init__()
        self.user = IdEmbedding(vocab.users, dim)
        self.item = IdEmbedding(vocab.items, dim, padding_idx=0)
        self.category = IdEmbedding(vocab.categories, dim, padding_idx=0)
        self.context = nn.ModuleDict({name: IdEmbedding(n, dim) for name, n in fields})
        self.kinds = (
            IdEmbedding(behaviour_types, 2 * dim, padding_idx=0) if behaviour_types else None
        )
        self.dim = dim
        self.dense = dense

    @classmethod
    def for_config(cls, config: Any) -> FieldEmbeddings:
        """The embeddings a model config names: its vocab, embed_dim, fields and
        dense_features, and behaviour_types where the model reads a sequence."""
        return cls(
            config.vocab,
            config.embed_dim,
            fields=config.fields,
            dense=config.dense_features,
            behaviour_types=getattr(config, "behaviour_types", 0),
        )

    @property
    def out_dim(self) -> int:
        """Width of `forward`'s output."""
        return self.dim * (3 + len(self.context)) + self.dense

    def target(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Target item as [item, category]: (B, 2D)."""
        return torch.cat([self.item(batch["item_id"]), self.category(batch["category_id"])], dim=-1)

    def behaviours(
        self, items: torch.Tensor, categories: torch.Tensor, kinds: torch.Tensor | None = None
    ) -> torch.Tensor:
        """A sequence of (item, category[, type]) ids (B, L) as (B, L, 2D)."""
        steps = torch.cat([self.item(items), self.category(categories)], dim=-1)  # (B, L, 2D)
        if self.kinds is not None and kinds is not None:
            steps = steps + self.kinds(kinds)  # (B, L, 2D)
        return steps

    def history(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Behaviour sequence as [item, category] (+ type) per step: (B, L, 2D)."""
        return self.behaviours(
            batch["hist_item_ids"], batch["hist_category_ids"], batch.get("hist_behaviour_types")
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """User, target, categorical and dense fields side by side: (B, out_dim)."""
        fields = [self.user(batch["user_id"]), self.target(batch)]  # (B, D), (B, 2D)
        fields += [emb(batch[name]) for name, emb in self.context.items()]  # each (B, D)
        if self.dense:
            fields.append(batch["dense"].to(fields[0].dtype))  # (B, F)
        return torch.cat(fields, dim=-1)  # (B, (3 + C) * D + F)


def history_lengths(ids: torch.Tensor) -> torch.Tensor:
    """Real steps per row of front-padded history ids (B, L): (B,).

    The sequence models read a row's real steps as its trailing ones (0s first,
    oldest to newest after), as `recplat.features.encoding` builds them.

    Raises:
        ValueError: A row with padding after a real step (post-padded, or a gap),
            which would silently lose steps.
    """
    real = ids > 0  # (B, L)
    lengths = real.sum(dim=1)  # (B,)
    positions = torch.arange(ids.shape[1], device=ids.device)  # (L,)
    expected = positions.unsqueeze(0) >= (ids.shape[1] - lengths).unsqueeze(1)  # (B, L)
    if not torch.equal(real, expected):
        row = int((real != expected).any(dim=1).nonzero()[0, 0])
        raise ValueError(
            f"hist_item_ids row {row} has padding (0) after a real step: {ids[row].tolist()}; "
            "histories are front-padded (0s first, oldest to newest after)"
        )
    return lengths


def trim_front_padding(
    batch: dict[str, torch.Tensor], keys: Sequence[str]
) -> dict[str, torch.Tensor]:
    """Drop leading steps that are padding in every row (sequences are front-padded).

    Exact for models that mask padding; saves the work on steps nobody has.

    Raises:
        ValueError: A history that is not front-padded (`history_lengths`).
    """
    ids = batch["hist_item_ids"]  # (B, L)
    steps = int(history_lengths(ids).max()) if ids.numel() else 0
    start = ids.shape[1] - max(steps, 1)
    if start == 0:
        return batch
    return {**batch, **{k: batch[k][:, start:] for k in keys}}  # each (B, L') with L' <= L


class TargetAttention(nn.Module):
    """DIN's local activation unit: scores each step of a sequence against a query.

    The score MLP reads [q, k, q - k, q * k]. Two things make it cheap with
    the same result: it runs on real steps only (padding is never scored),
    and its first layer is applied in parts,
    W [q, k, q-k, q*k] = (Wq + Wd) q + (Wk - Wd) k + Wp (q * k),
    so the query term is computed once per row instead of once per step.

    Args:
        dim: Width of query and keys.
        hidden: Widths of the scoring MLP.
        activation: Activation of the scoring MLP.
    """

    def __init__(self, dim: int, hidden: tuple[int, ...], activation: Activation = "prelu") -> None:
        super().__init__()
        if not hidden:
            raise ValueError("TargetAttention needs at least one hidden layer")
        self.first = nn.Linear(4 * dim, hidden[0])
        self.first_activation = activation_layer(activation, hidden[0])
        self.rest = mlp(hidden[0], hidden[1:], activation=activation)
        self.dim = dim

    def scores(
        self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor, *, fill: float = 0.0
    ) -> torch.Tensor:
        """Scores (B, L) of keys (B, L, E) against query (B, E); `fill` where mask is False."""
        B, L, E = keys.shape
        rows, steps = mask.nonzero(as_tuple=True)  # (N,), (N,): the real steps
        real = keys[rows, steps]  # (N, E)
        w_q, w_k, w_d, w_p = self.first.weight.split(E, dim=1)  # each (H1, E)
        on_query = query @ (w_q + w_d).T + self.first.bias  # (B, H1)
        hidden = on_query[rows] + real @ (w_k - w_d).T + (query[rows] * real) @ w_p.T  # (N, H1)
        scored = self.rest(self.first_activation(hidden)).squeeze(-1)  # (N,)
        out = keys.new_full((B, L), fill)
        return out.index_put((rows, steps), scored)  # (B, L)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pool keys (B, L, E) by their scores; mask (B, L) is True on real steps.

        Weights are not softmax-normalised (as in the DIN paper), so the pooled
        vector keeps the intensity of the user's interest.
        """
        weights = self.scores(query, keys, mask)  # (B, L), 0 on padding
        return torch.bmm(weights.unsqueeze(1), keys).squeeze(1)  # (B, 1, L) x (B, L, E) -> (B, E)
