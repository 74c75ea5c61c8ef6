"""Purchase propensity: 1-D convolutions over a user's behaviour steps, an LSTM, an MLP.

Per step (`recplat.propensity.rows` builds them, front-padded, oldest first):
item and category embeddings, a behaviour-type embedding (click, purchase) and
numbers (log amount, log quantity, log days since the previous step, the step
in the target category, log days before the cutoff). Convolutions with several
kernel widths pick up local patterns (a burst of browsing in the category, a
purchase right after it); the LSTM reads them in time order; its last state and
the mean of the convolved steps feed the head, with the row's recency /
frequency / monetary summary beside them (`use_summary`, log-scaled counts and
days over the whole history, which the last `max_len` steps may not reach); the
head outputs the logit of "buys in the category within the window".
`use_cnn: false` is the LSTM-only variant (the same model without the
convolutions), kept to measure what they add.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from recplat.models.layers import Vocab
from torch import nn

STEP_NUMBERS = 5  # recplat.propensity.rows.STEP_FEATURES
SUMMARY_NUMBERS = 15  # recplat.propensity.rows.SUMMARY_FEATURES
BEHAVIOURS = 3  # 0 padding, 1 click, 2 purchase


@dataclass(frozen=True)
class CNNLSTMConfig:
    """Hyperparameters (`vocab` comes from the data)."""

    vocab: Vocab
    embed_dim: int = 16
    step_numbers: int = STEP_NUMBERS
    summary_numbers: int = SUMMARY_NUMBERS
    use_summary: bool = True
    # Item-id embeddings: off, the steps are read by category, behaviour and numbers only
    # (fewer weights to overfit when a category has few buyers).
    use_items: bool = True
    use_cnn: bool = True
    kernels: tuple[int, ...] = (3, 5)
    channels: int = 32
    hidden: int = 64
    mlp: tuple[int, ...] = (64,)
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.use_cnn and (not self.kernels or min(self.kernels) < 1 or self.channels < 1):
            raise ValueError("cnn_lstm: kernels must be widths >= 1 and channels >= 1")
        if self.hidden < 1:
            raise ValueError("cnn_lstm: hidden must be >= 1")


class CNNLSTM(nn.Module):
    """Behaviour sequence -> logit of a purchase in the target category."""

    def __init__(self, config: CNNLSTMConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.embed_dim
        self.items = nn.Embedding(max(config.vocab.items, 1), dim, padding_idx=0)
        self.categories = nn.Embedding(max(config.vocab.categories, 1), dim, padding_idx=0)
        self.behaviours = nn.Embedding(BEHAVIOURS, 4, padding_idx=0)
        width = (2 if config.use_items else 1) * dim + 4 + config.step_numbers
        if config.use_cnn:
            # "same" padding (odd and even widths): every step keeps its place in time.
            self.convs = nn.ModuleList(
                nn.Conv1d(width, config.channels, k, padding="same") for k in config.kernels
            )
            width = config.channels * len(config.kernels)
        else:
            self.convs = nn.ModuleList()
        self.lstm = nn.LSTM(width, config.hidden, batch_first=True)
        layers: list[nn.Module] = []
        size = config.hidden + width
        if config.use_summary:
            self.summary_norm = nn.BatchNorm1d(config.summary_numbers)
            size += config.summary_numbers
        for out in config.mlp:
            layers += [nn.Linear(size, out), nn.ReLU(), nn.Dropout(config.dropout)]
            size = out
        layers.append(nn.Linear(size, 1))
        self.head = nn.Sequential(*layers)

    def _ids(self, values: torch.Tensor, size: int) -> torch.Tensor:
        values = values.long()
        return torch.where(values < size, values, torch.zeros_like(values))  # unseen -> 0

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        items = self._ids(batch["seq_item"], self.items.num_embeddings)
        mask = (batch["seq_item"] > 0) | (batch["seq_kind"] > 0)
        lengths = mask.sum(1)
        # Front padding is cut to the batch's longest history and the LSTM reads packed
        # sequences, so a row's logit does not depend on the padding around it: a short
        # history costs its own steps, wherever (and with whatever) it is batched.
        width = max(int(lengths.max()), 1) if lengths.numel() else 1
        keep = slice(items.shape[1] - width, None)
        items, mask = items[:, keep], mask[:, keep]
        numbers = batch["seq_num"].float().view(items.shape[0], -1, self.config.step_numbers)
        embedded = [self.items(items)] if self.config.use_items else []
        steps = torch.cat(
            [
                *embedded,
                self.categories(
                    self._ids(batch["seq_cat"][:, keep], self.categories.num_embeddings)
                ),
                self.behaviours(self._ids(batch["seq_kind"][:, keep], BEHAVIOURS)),
                numbers[:, keep],
            ],
            dim=-1,
        )
        if len(self.convs):
            # Padded steps are zero vectors, as the convolutions' own zero padding.
            x = steps.transpose(1, 2)
            steps = torch.cat([torch.relu(conv(x)) for conv in self.convs], dim=1).transpose(1, 2)
            steps = steps * mask.unsqueeze(-1)
        hidden = self._last_state(steps, lengths)
        weights = mask.float().unsqueeze(-1)
        pooled = (steps * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        parts = [hidden, pooled]
        if self.config.use_summary:
            summary = batch["summary"].float()
            norm = self.summary_norm
            # A one-row batch (an epoch's last) has no batch statistics: use the running ones.
            training = self.training and summary.shape[0] > 1
            parts.append(
                nn.functional.batch_norm(
                    summary, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                    training=training, momentum=0.1, eps=norm.eps,
                )
            )  # fmt: skip
        return self.head(torch.cat(parts, dim=-1)).squeeze(-1)

    def _last_state(self, steps: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The LSTM's state after each row's newest step, padding never read."""
        rows, width = steps.shape[0], steps.shape[1]
        real = lengths.clamp(min=1, max=width)
        # Front-padded -> real steps first (a roll per row), then packed.
        order = (
            torch.arange(width, device=steps.device)[None, :] + (width - real)[:, None]
        ) % width
        aligned = steps.gather(1, order.unsqueeze(-1).expand(-1, -1, steps.shape[2]))
        packed = nn.utils.rnn.pack_padded_sequence(
            aligned, real.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (hidden, _) = self.lstm(packed)
        return hidden[-1].reshape(rows, -1)
