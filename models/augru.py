"""DIEN's recurrent layer: the AUGRU cell and a fast scan over sequences.

`AUGRUCell` is a GRU cell whose update gate can be scaled by an attention
score: u' = a * u; h' = (1 - u') * h + u' * h~. With a = 1 it is a plain GRU
cell. `augru_reference` is the specification: a plain loop of cell calls.

`run_cell` is the fast path used in training and serving:
- the input path is projected for all steps in one matmul;
- rows are sorted by length, so step t updates only the rows still running
  (as packed RNNs do);
- the loop runs inside one autograd Function with a hand-written backward
  (BPTT), so each step costs a handful of kernels instead of an autograd
  graph of ~25 nodes;
- on CPU both loops are C calls (`native_scan`, compiled on first use),
  batch-major with one row at a time; elsewhere (GPU, or no C compiler) they
  run under TorchScript, time-major, on contiguous rows.
Tests check both paths' outputs and gradients against the reference loop.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from recplat.models import native_scan
from torch import nn


class AUGRUCell(nn.Module):
    """GRU cell with an attention-scaled update gate; gates ordered (reset, update, new).

    Input and hidden paths have separate biases (as in `nn.GRUCell`).

    Args:
        input_size: Width of the inputs.
        hidden_size: Width of the state.
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
        return torch.nn.functional.linear(x, self.weight_ih, self.bias_ih)

    def forward(self, x: torch.Tensor, h: torch.Tensor, att: torch.Tensor | None) -> torch.Tensor:
        """One step from input x (B, I), state h (B, H), attention (B, 1) or None."""
        H = self.hidden_size
        xp = self.project_inputs(x)  # (B, 3H)
        gh = torch.addmm(self.bias_hh, h, self.weight_hh.T)  # (B, 3H)
        reset = torch.sigmoid(xp[:, :H] + gh[:, :H])
        update = torch.sigmoid(xp[:, H : 2 * H] + gh[:, H : 2 * H])
        candidate = torch.tanh(xp[:, 2 * H :] + reset * gh[:, 2 * H :])
        if att is not None:
            update = att * update
        return h + update * (candidate - h)


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


def _scan_forward(
    xp: torch.Tensor,
    att: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_hh: torch.Tensor,
    running: list[int],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward recurrence, time-major: xp (T, B, 3H), att (T, B); rows sorted by length.

    The rows running at step t are a prefix [:n] of those running at t - 1, so
    a running row's previous state is `states[t - 1, :n]`.
    """
    T, B, H3 = xp.shape
    H = H3 // 3
    states = xp.new_zeros(T, B, H)
    gates_all = xp.new_zeros(T, B, 2 * H)  # reset | update (sigmoid outputs, before attention)
    candidates = xp.new_zeros(T, B, H)
    gh_new = xp.new_zeros(T, B, H)  # hidden path of the candidate (before the reset gate)
    zero = xp.new_zeros(B, H)
    for t in range(len(running)):
        n = running[t]
        prev = zero[:n] if t == 0 else states[t - 1, :n]  # (n, H)
        gh = torch.addmm(bias_hh, prev, weight_hh.t())  # (n, 3H)
        x = xp[t, :n]
        gates = torch.sigmoid(x[:, : 2 * H] + gh[:, : 2 * H])  # (n, 2H)
        candidate = torch.tanh(torch.addcmul(x[:, 2 * H :], gates[:, :H], gh[:, 2 * H :]))
        update = gates[:, H:] * att[t, :n].unsqueeze(1)  # attention scales the update gate
        states[t, :n] = torch.addcmul(prev, update, candidate - prev)
        gates_all[t, :n] = gates
        candidates[t, :n] = candidate
        gh_new[t, :n] = gh[:, 2 * H :]
    return states, gates_all, candidates, gh_new


def _scan_backward(  # noqa: PLR0917 - TorchScript-compiled: positional only
    grad_states: torch.Tensor,
    att: torch.Tensor,
    weight_hh: torch.Tensor,
    states: torch.Tensor,
    gates_all: torch.Tensor,
    candidates: torch.Tensor,
    gh_new: torch.Tensor,
    running: list[int],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Backpropagation through time for `_scan_forward` (same layout)."""
    T, B, H = states.shape
    grad_xp = states.new_zeros(T, B, 3 * H)
    grad_gh = states.new_zeros(T, B, 3 * H)  # gradient of the hidden path
    grad_att = torch.zeros_like(att)
    carry = states.new_zeros(B, H)  # gradient flowing back through the state
    zero = states.new_zeros(B, H)
    for t in range(len(running) - 1, -1, -1):
        n = running[t]
        prev = zero[:n] if t == 0 else states[t - 1, :n]
        reset, raw_update = gates_all[t, :n, :H], gates_all[t, :n, H:]
        candidate = candidates[t, :n]
        a = att[t, :n].unsqueeze(1)
        update = raw_update * a
        g = carry[:n] + grad_states[t, :n]  # (n, H): gradient w.r.t. the state after step t
        diff = candidate - prev
        grad_att[t, :n] = (g * raw_update * diff).sum(1)
        d_n = g * update * (1 - candidate * candidate)  # through tanh
        d_r = d_n * gh_new[t, :n] * reset * (1 - reset)
        d_u = g * diff * update * (1 - raw_update)
        grad_xp[t, :n] = torch.cat([d_r, d_u, d_n], dim=1)
        d_gh = torch.cat([d_r, d_u, d_n * reset], dim=1)  # (n, 3H)
        grad_gh[t, :n] = d_gh
        carry[:n] = torch.addmm(g * (1 - update), d_gh, weight_hh)
    previous = torch.cat([states.new_zeros(1, B, H), states[:-1]], dim=0)  # state before each step
    grad_weight = grad_gh.reshape(-1, 3 * H).t() @ previous.reshape(-1, H)  # (3H, H)
    return grad_xp, grad_att, grad_weight, grad_gh.sum(dim=(0, 1))


class _Scan(torch.autograd.Function):
    """The recurrence as one autograd node; TorchScript runs its loops."""

    _forward: Any = None
    _backward: Any = None

    @classmethod
    def compiled(cls) -> tuple[Any, Any]:
        # Scripted on first use (not at import): the interpreter trims per-op overhead.
        if cls._forward is None:
            cls._forward = torch.jit.script(_scan_forward)
            cls._backward = torch.jit.script(_scan_backward)
        return cls._forward, cls._backward

    @staticmethod
    def forward(  # noqa: PLR0917
        ctx: Any,
        xp: torch.Tensor,  # (T, B, 3H) projected inputs, rows sorted by length (desc)
        att: torch.Tensor,  # (T, B) attention, ones for a plain GRU
        weight_hh: torch.Tensor,  # (3H, H)
        bias_hh: torch.Tensor,  # (3H,)
        running: list[int],  # rows still running at each step
    ) -> torch.Tensor:
        forward, _ = _Scan.compiled()
        states, gates, candidates, gh_new = forward(xp, att, weight_hh, bias_hh, running)
        ctx.running = running
        ctx.save_for_backward(att, weight_hh, states, gates, candidates, gh_new)
        return states

    @staticmethod
    def backward(
        ctx: Any, grad_states: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, None]:
        _, backward = _Scan.compiled()
        grads = backward(grad_states.contiguous(), *ctx.saved_tensors, ctx.running)
        return (*grads, None)


def run_cell(
    cell: AUGRUCell, x: torch.Tensor, lengths: torch.Tensor, att: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fast loop of `cell` over left-aligned sequences.

    Args:
        cell: The cell.
        x: Left-aligned inputs (B, T, I).
        lengths: Real steps per row (B,).
        att: Attention (B, T), 0 past each row's length; None for a plain GRU.

    Returns:
        States after every step (B, T', H), zero past each row's length
        (T' = longest length), and the final state (B, H).
    """
    B, H = x.shape[0], cell.hidden_size
    steps = int(lengths.max()) if lengths.numel() else 0
    if steps == 0:
        return x.new_zeros(B, 0, H), x.new_zeros(B, H)
    library = native_scan.load() if native_scan.supports(x) else None
    if library is not None:
        xp = cell.project_inputs(x[:, :steps])  # (B, T', 3H)
        weights = att[:, :steps] if att is not None else xp.new_ones(B, steps)  # (B, T')
        states = native_scan.NativeScan.apply(
            xp, weights, cell.weight_hh, cell.bias_hh, lengths, library
        )  # (B, T', H)
    else:
        states = _sorted_scan(cell, x, lengths, att, steps)
    final = states[torch.arange(B, device=x.device), (lengths - 1).clamp(min=0)]  # (B, H)
    return states, final * (lengths > 0).unsqueeze(1)


def _sorted_scan(
    cell: AUGRUCell, x: torch.Tensor, lengths: torch.Tensor, att: torch.Tensor | None, steps: int
) -> torch.Tensor:
    """TorchScript path of `run_cell`: rows sorted by length, time-major; states (B, T', H)."""
    B = x.shape[0]
    order = torch.argsort(lengths, descending=True, stable=True)  # (B,)
    running = (lengths[order].unsqueeze(0) > torch.arange(steps, device=x.device).unsqueeze(1)).sum(
        1
    )
    # Time-major inside the scan, so each step reads contiguous rows.
    xp = cell.project_inputs(x[order, :steps].transpose(0, 1))  # (T', B, 3H)
    weights = att[order, :steps].T if att is not None else xp.new_ones(steps, B)  # (T', B)
    states = _Scan.apply(
        xp.contiguous(), weights.contiguous(), cell.weight_hh, cell.bias_hh, running.tolist()
    )
    restore = torch.argsort(order)  # back to the input order
    return states.transpose(0, 1)[restore]  # (B, T', H)


def augru(
    cell: AUGRUCell, x: torch.Tensor, att: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """Fast AUGRU: final state (B, H) of `run_cell` with attention."""
    return run_cell(cell, x, lengths, att)[1]
