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
        width = 2 * dim + 4 + config.step_numbers
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
        mask = (items > 0) | (batch["seq_kind"] > 0)
        steps = torch.cat(
            [
                self.items(items),
                self.categories(self._ids(batch["seq_cat"], self.categories.num_embeddings)),
                self.behaviours(self._ids(batch["seq_kind"], BEHAVIOURS)),
                batch["seq_num"].float().view(items.shape[0], items.shape[1], -1),
            ],
            dim=-1,
        )
        if len(self.convs):
            x = steps.transpose(1, 2)
            steps = torch.cat([torch.relu(conv(x)) for conv in self.convs], dim=1).transpose(1, 2)
            steps = steps * mask.unsqueeze(-1)
        _, (hidden, _) = self.lstm(steps)  # front padding: the last step is the newest
        weights = mask.float().unsqueeze(-1)
        pooled = (steps * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        parts = [hidden[-1], pooled]
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
