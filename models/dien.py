"""DIEN: Deep Interest Evolution Network (Zhou et al., 2019).

embeddings -> GRU interest extractor (auxiliary loss: the state at t scores
behaviour t + 1 above a sampled negative, by inner product as in the paper)
-> attention of each interest state to the target item -> AUGRU interest
evolution -> head -> logit.

The head reads the profile, target and context, the evolved interest (the
AUGRU's final state), and two more views of the same recurrence, because on
data with drifting interests *when* a behaviour happened matters:
- the extractor's final state (the user's interest now) and its elementwise
  product with the target (the head need not learn that interaction);
- the behaviours pooled by the attention weights the AUGRU uses (the
  authors' reference code also feeds pooled behaviours to the head).

Sequences arrive front-padded (B, L). Inside, they are left-aligned (real
steps first) and cut to the longest real history in the batch. Both
recurrences step only the rows whose history is still running (as packed
RNNs do); attention and the auxiliary loss see real steps only. Padding
therefore costs nothing and changes nothing; empty histories end in the zero
interest state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, overload

import torch
from recplat.models.augru import AUGRUCell, augru, run_cell
from recplat.models.layers import (
    DEFAULT_FIELDS,
    Activation,
    FieldEmbeddings,
    TargetAttention,
    Vocab,
    history_lengths,
    mlp,
)
from torch import nn


@dataclass(frozen=True)
class DIENConfig:
    """DIEN hyperparameters. `aux_weight` scales the auxiliary loss in training."""

    vocab: Vocab
    embed_dim: int = 16
    attention_hidden: tuple[int, ...] = (80, 40)
    hidden: tuple[int, ...] = (200, 80)
    activation: Activation = "prelu"
    aux_weight: float = 1.0
    dropout: float = 0.0
    batch_norm: bool = False  # BatchNorm1d after each hidden Linear of the head
    # Inputs, from the feature service (`recplat.features.inputs.InputSpec`).
    fields: tuple[tuple[str, int], ...] = DEFAULT_FIELDS
    dense_features: int = 0
    behaviour_types: int = 0  # rows of the behaviour-type table; 0: no types


class DIENOutput(NamedTuple):
    """Logits plus the auxiliary logits on next vs sampled behaviours.

    The auxiliary logits cover every (row, t) whose step t + 1 is real: N of
    them, N = sum over rows of max(length - 1, 0).
    """

    logits: torch.Tensor  # (B,)
    aux_positive: torch.Tensor  # (N,) state at t vs the real behaviour t + 1
    aux_negative: torch.Tensor  # (N,) state at t vs a sampled behaviour


def alignment(lengths: torch.Tensor, width: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """How to left-align front-padded (B, width) rows, cut to `steps` positions.

    Returns the gather index (B, steps) that moves each row's real (trailing)
    steps first, and the mask (B, steps) of real steps. Aligning ids, not
    embeddings, keeps the gather (and its backward) off (B, L, E) tensors.
    """
    positions = torch.arange(steps, device=lengths.device).unsqueeze(0)  # (1, steps)
    index = (positions + (width - lengths).unsqueeze(1)).clamp(max=width - 1)  # (B, steps)
    return index, positions < lengths.unsqueeze(1)


def left_align(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Front-padded ids (B, L) with the real (trailing) steps moved first, 0 after."""
    index, real = alignment(lengths, ids.shape[1], ids.shape[1])
    return ids.gather(1, index) * real


def _one_history(items: torch.Tensor, categories: torch.Tensor) -> bool:
    """Whether every row of (B, T) ids holds the first row's history (and B > 1)."""
    if len(items) < 2:
        return False
    return bool((items == items[:1]).all() & (categories == categories[:1]).all())


class DIEN(nn.Module):
    """Click-through logit with interest extraction and evolution.

    Inputs: those of `DIN`. For the auxiliary loss, also neg_item_ids and
    neg_category_ids (B, L): a sampled negative behaviour per step, aligned
    with the history, with `return_aux=True`.
    """

    def __init__(self, config: DIENConfig) -> None:
        super().__init__()
        self.config = config
        width = 2 * config.embed_dim  # a behaviour is [item, category]
        self.embeddings = FieldEmbeddings.for_config(config)
        self.extractor = AUGRUCell(width, width)  # run without attention: a GRU
        self.attention = TargetAttention(width, config.attention_hidden, config.activation)
        self.evolution = AUGRUCell(width, width)
        self.head = mlp(
            self.embeddings.out_dim + 4 * width,
            config.hidden,
            dropout=config.dropout,
            activation=config.activation,
            batch_norm=config.batch_norm,
        )

    @overload
    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...
    @overload
    def forward(
        self, batch: dict[str, torch.Tensor], return_aux: bool
    ) -> torch.Tensor | DIENOutput: ...

    def forward(
        self, batch: dict[str, torch.Tensor], return_aux: bool = False
    ) -> torch.Tensor | DIENOutput:
        base = self.embeddings(batch)  # (B, (3 + F) * D)
        target = self.embeddings.target(batch)  # (B, 2D)
        lengths = history_lengths(batch["hist_item_ids"])  # (B,); raises unless front-padded
        T = max(int(lengths.max()), 1) if lengths.numel() else 1
        index, mask = alignment(lengths, batch["hist_item_ids"].shape[1], T)  # (B, T) each

        def aligned(key: str) -> torch.Tensor:  # (B, T) ids, real steps first, 0 after
            return batch[key].gather(1, index) * mask

        items, categories = aligned("hist_item_ids"), aligned("hist_category_ids")
        kinds = aligned("hist_behaviour_types") if "hist_behaviour_types" in batch else None
        history = self.embeddings.behaviours(items, categories, kinds)  # (B, T, 2D)

        # Interest extraction: a GRU over the real steps. It does not see the target,
        # so when every row holds the same history (a ranking request: one user,
        # many candidates) it runs once; the rows share its states.
        if not self.training and _one_history(items, categories):
            states, now = run_cell(self.extractor, history[:1], lengths[:1])  # (1, T', 2D), (1, 2D)
            states, now = states.expand(len(lengths), -1, -1), now.expand(len(lengths), -1)
        else:
            states, now = run_cell(self.extractor, history, lengths)  # (B, T', 2D), (B, 2D)
        if states.shape[1] < T:  # every history empty
            states = torch.nn.functional.pad(states, (0, 0, 0, T - states.shape[1]))  # (B, T, 2D)

        # Interest evolution: attention-weighted update gates.
        scores = self.attention.scores(target, states, mask, fill=-1e9)  # (B, T)
        att = torch.softmax(scores, dim=1) * mask  # (B, T), rows of empty histories are 0
        evolved = augru(self.evolution, states, att, lengths)  # (B, 2D)
        # Behaviours pooled by the same weights: (B, 1, T) x (B, T, 2D) -> (B, 2D).
        attended = torch.bmm(att.unsqueeze(1), history).squeeze(1)

        x = torch.cat([base, evolved, now, target * now, attended], dim=-1)  # (B, (11 + F) * D)
        logits = self.head(x).squeeze(-1)  # (B,)
        if not return_aux:
            return logits

        # A sampled negative takes the type of the real step it stands in for: were
        # only real steps typed, the auxiliary loss could tell them apart by the type
        # embedding alone and the extractor would learn nothing about the next item.
        negatives = self.embeddings.behaviours(
            aligned("neg_item_ids"), aligned("neg_category_ids"), kinds
        )  # (B, T, 2D)
        # Dense over (B, T - 1) (cheaper than gathering pairs), then the real pairs.
        pairs = mask[:, 1:]  # (B, T - 1): step t + 1 is real
        before = states[:, :-1]  # (B, T - 1, 2D): interest state after step t
        positive = (before * history[:, 1:]).sum(-1)[pairs]  # (N,)
        negative = (before * negatives[:, 1:]).sum(-1)[pairs]  # (N,)
        return DIENOutput(logits, positive, negative)
