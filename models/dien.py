"""DIEN: Deep Interest Evolution Network (Zhou et al., 2019).

embeddings -> GRU interest extractor (auxiliary head: does the state at t
predict behaviour t + 1 better than a sampled negative?) -> attention of each
interest state to the target item -> AUGRU interest evolution -> final
interest + profile + target + context -> MLP -> logit.

Sequences arrive front-padded (B, L). Inside, they are left-aligned (real
steps first) and cut to the longest real history in the batch, so the GRU
runs on packed sequences and the AUGRU loop runs only over steps someone has.
The AUGRU keeps its state on a padded step by construction (attention 0 there
means update gate 0), so empty histories end in the zero state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, overload

import torch
from recplat.models.layers import Activation, FieldEmbeddings, TargetAttention, Vocab, mlp
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


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


class DIENOutput(NamedTuple):
    """Logits plus the auxiliary head's logits on next vs sampled behaviours."""

    logits: torch.Tensor  # (B,)
    aux_positive: torch.Tensor  # (B, T - 1)
    aux_negative: torch.Tensor  # (B, T - 1)
    aux_mask: torch.Tensor  # (B, T - 1) True where step t + 1 is real


class AUGRUCell(nn.Module):
    """GRU cell whose update gate is scaled by an attention score.

    u' = a * u;  h' = (1 - u') * h + u' * h~. Input and hidden paths have
    separate biases (as in `nn.GRUCell`). Gates are ordered (reset, update, new).
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(3 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(3 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(3 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(3 * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def project_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Input path for all steps at once: (..., I) -> (..., 3H)."""
        return x @ self.weight_ih.T + self.bias_ih

    def step(self, x_proj: torch.Tensor, h: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        """One step from projected input (B, 3H), state (B, H), attention (B, 1)."""
        x_r, x_u, x_n = x_proj.chunk(3, dim=-1)  # each (B, H)
        h_r, h_u, h_n = (h @ self.weight_hh.T + self.bias_hh).chunk(3, dim=-1)  # each (B, H)
        reset = torch.sigmoid(x_r + h_r)
        update = att * torch.sigmoid(x_u + h_u)  # (B, H)
        candidate = torch.tanh(x_n + reset * h_n)
        return (1 - update) * h + update * candidate

    def forward(self, x: torch.Tensor, h: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
        """One step from raw input x (B, I)."""
        return self.step(self.project_inputs(x), h, att)


def augru_reference(cell: AUGRUCell, x: torch.Tensor, att: torch.Tensor) -> torch.Tensor:
    """Plain loop over every step: the specification the fast path is tested against.

    Args:
        cell: The AUGRU cell.
        x: Inputs (B, T, I).
        att: Attention scores (B, T), 0 on padded steps.

    Returns:
        Final state (B, H).
    """
    h = x.new_zeros(x.shape[0], cell.hidden_size)
    for t in range(x.shape[1]):
        h = cell(x[:, t], h, att[:, t : t + 1])
    return h


def augru(
    cell: AUGRUCell, x: torch.Tensor, att: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """Fast AUGRU over left-aligned sequences: one input projection, loop to the longest.

    Args:
        cell: The AUGRU cell.
        x: Left-aligned inputs (B, T, I).
        att: Attention (B, T), 0 past each row's length.
        lengths: Real steps per row (B,).

    Returns:
        Final state (B, H): the state after each row's last real step.
    """
    steps = int(lengths.max()) if lengths.numel() else 0
    projected = cell.project_inputs(x[:, :steps])  # (B, T', 3H)
    h = x.new_zeros(x.shape[0], cell.hidden_size)
    for t in range(steps):
        h = cell.step(projected[:, t], h, att[:, t : t + 1])
    return h


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
        self.extractor = nn.GRU(width, width, batch_first=True)
        self.aux_head = mlp(2 * width, config.aux_hidden, activation="prelu")
        self.attention = TargetAttention(width, config.attention_hidden, config.activation)
        self.evolution = AUGRUCell(width, width)
        self.head = mlp(
            self.embeddings.out_dim + width,
            config.hidden,
            dropout=config.dropout,
            activation=config.activation,
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

        # Interest extraction on packed sequences (empty rows run one masked step).
        packed = pack_padded_sequence(
            history, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
        )
        states, _ = self.extractor(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=T)  # (B, T, 2D)
        states = states * mask.unsqueeze(-1)  # (B, T, 2D)

        # Interest evolution: attention-weighted update gates.
        scores = self.attention.scores(target, states).masked_fill(~mask, -1e9)  # (B, T)
        att = torch.softmax(scores, dim=1) * mask  # (B, T), rows of empty histories are 0
        interest = augru(self.evolution, states, att, lengths)  # (B, 2D)

        x = torch.cat([base, interest], dim=-1)  # (B, (5 + F) * D)
        logits = self.head(x).squeeze(-1)  # (B,)
        if not return_aux:
            return logits

        negatives = self.embeddings.behaviours(batch["neg_item_ids"], batch["neg_category_ids"])
        negatives = left_align(negatives, lengths)[:, :T]  # (B, T, 2D)
        now = states[:, :-1]  # (B, T-1, 2D): state after step t
        positive = self.aux_head(
            torch.cat([now, history[:, 1:]], dim=-1).reshape(-1, 2 * now.shape[-1])
        )
        negative = self.aux_head(
            torch.cat([now, negatives[:, 1:]], dim=-1).reshape(-1, 2 * now.shape[-1])
        )
        shape = now.shape[:2]  # (B, T-1)
        return DIENOutput(logits, positive.view(shape), negative.view(shape), mask[:, 1:])
