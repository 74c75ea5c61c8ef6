"""DIEN: Deep Interest Evolution Network (Zhou et al., 2019).

embeddings -> GRU interest extractor (auxiliary head: does the state at t
predict behaviour t + 1 better than a sampled negative?) -> attention of each
interest state to the target item -> AUGRU interest evolution -> final
interest + profile + target + context -> MLP -> logit.

Sequences arrive front-padded (B, L). Inside, they are left-aligned (real
steps first) and cut to the longest real history in the batch. The GRU runs
on packed sequences; the AUGRU loop, like packing, steps only the rows whose
history is still running; attention and the auxiliary head see real steps
only. Padding therefore costs nothing and changes nothing; empty histories
end in the zero interest state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, overload

import torch
from recplat.models.augru import AUGRUCell, augru, run_cell
from recplat.models.layers import Activation, FieldEmbeddings, TargetAttention, Vocab, mlp
from torch import nn


@dataclass(frozen=True)
class DIENConfig:
    """DIEN hyperparameters. `aux_weight` scales the auxiliary loss in training."""

    vocab: Vocab
    embed_dim: int = 16
    attention_hidden: tuple[int, ...] = (80, 40)
    aux_hidden: tuple[int, ...] = (100, 50)
    hidden: tuple[int, ...] = (200, 80)
    activation: Activation = "prelu"
    aux_weight: float = 1.0
    dropout: float = 0.0
    batch_norm: bool = False  # BatchNorm1d after each hidden Linear of the head


class DIENOutput(NamedTuple):
    """Logits plus the auxiliary head's logits on next vs sampled behaviours.

    The auxiliary logits cover every (row, t) whose step t + 1 is real: N of
    them, N = sum over rows of max(length - 1, 0).
    """

    logits: torch.Tensor  # (B,)
    aux_positive: torch.Tensor  # (N,) state at t vs the real behaviour t + 1
    aux_negative: torch.Tensor  # (N,) state at t vs a sampled behaviour


def left_align(seq: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Move the real (trailing) steps of front-padded (B, L, ...) to the front."""
    L = seq.shape[1]
    index = torch.arange(L, device=seq.device).unsqueeze(0) + (L - lengths).unsqueeze(1)  # (B, L)
    index = index.clamp(max=L - 1)
    if seq.dim() == 3:
        index = index.unsqueeze(-1).expand(-1, -1, seq.shape[2])  # (B, L, E)
    return seq.gather(1, index)


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
        self.embeddings = FieldEmbeddings(config.vocab, config.embed_dim)
        self.extractor = AUGRUCell(width, width)  # run without attention: a GRU
        # PReLU, not the paper's sigmoid units: those barely move in a few epochs.
        self.aux_head = mlp(2 * width, config.aux_hidden, activation="prelu")
        self.attention = TargetAttention(width, config.attention_hidden, config.activation)
        self.evolution = AUGRUCell(width, width)
        self.head = mlp(
            self.embeddings.out_dim + width,
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
        lengths = (batch["hist_item_ids"] > 0).sum(dim=1)  # (B,)
        T = max(int(lengths.max()), 1) if lengths.numel() else 1
        history = left_align(self.embeddings.history(batch), lengths)[:, :T]  # (B, T, 2D)
        mask = torch.arange(T, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)

        # Interest extraction: a GRU over the real steps.
        states, _ = run_cell(self.extractor, history, lengths)  # (B, T', 2D)
        if states.shape[1] < T:  # every history empty
            states = torch.nn.functional.pad(states, (0, 0, 0, T - states.shape[1]))  # (B, T, 2D)

        # Interest evolution: attention-weighted update gates.
        scores = self.attention.scores(target, states, mask, fill=-1e9)  # (B, T)
        att = torch.softmax(scores, dim=1) * mask  # (B, T), rows of empty histories are 0
        interest = augru(self.evolution, states, att, lengths)  # (B, 2D)

        x = torch.cat([base, interest], dim=-1)  # (B, (5 + F) * D)
        logits = self.head(x).squeeze(-1)  # (B,)
        if not return_aux:
            return logits

        negatives = self.embeddings.behaviours(batch["neg_item_ids"], batch["neg_category_ids"])
        negatives = left_align(negatives, lengths)[:, :T]  # (B, T, 2D)
        rows, steps = mask[:, 1:].nonzero(as_tuple=True)  # (N,): pairs whose t + 1 is real
        now = states[rows, steps]  # (N, 2D): interest state after step t
        positive = self.aux_head(torch.cat([now, history[rows, steps + 1]], dim=-1))  # (N, 1)
        negative = self.aux_head(torch.cat([now, negatives[rows, steps + 1]], dim=-1))  # (N, 1)
        return DIENOutput(logits, positive.squeeze(-1), negative.squeeze(-1))
