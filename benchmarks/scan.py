"""DIEN's recurrence: the C loops vs the TorchScript loops, forward + backward.

One `run_cell` (the AUGRU with attention, as DIEN's evolution layer runs it)
per configuration, input projection included, in one process: first on the C
loops (`recplat.models.native_scan`, the CPU default), then with them
switched off (the TorchScript path GPUs and compiler-less machines use).

    .venv/bin/python benchmarks/scan.py [--threads 2]

Writes benchmarks/results/scan.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from recplat.models import native_scan
from recplat.models.augru import AUGRUCell, run_cell

SHAPES = ((256, 12), (256, 50), (100, 50))  # (rows, steps): training batches, one ranking request


def _ms(cell: AUGRUCell, x: torch.Tensor, lengths: torch.Tensor, att: torch.Tensor) -> float:
    def step() -> None:
        states, final = run_cell(cell, x, lengths, att)
        (states.sum() + final.sum()).backward()

    for _ in range(10):
        step()
    best = float("inf")
    for _ in range(5):  # best of 5 rounds of 40: the machine's quietest moment
        started = time.perf_counter()
        for _ in range(40):
            step()
        best = min(best, (time.perf_counter() - started) / 40 * 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description="DIEN scan: C vs TorchScript loops")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=16, help="state width (2 x embedding)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scan.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if native_scan.load() is None:
        raise SystemExit("the C loops could not be built here (no C compiler?): nothing to compare")

    rows = []
    print(f"{'rows':>5} {'steps':>5} {'C ms':>8} {'TorchScript ms':>15} {'speed-up':>9}")
    for batch, steps in SHAPES:
        torch.manual_seed(0)
        cell = AUGRUCell(args.hidden, args.hidden)
        lengths = torch.randint(1, steps + 1, (batch,))
        lengths[0] = steps
        x = torch.randn(batch, steps, args.hidden, requires_grad=True)
        att = torch.rand(batch, steps) * (torch.arange(steps) < lengths.unsqueeze(1))
        native_scan.choose()
        native = _ms(cell, x, lengths, att)
        native_scan.choose(enabled=False)  # the TorchScript path
        script = _ms(cell, x, lengths, att)
        rows.append({"rows": batch, "steps": steps, "c_ms": native, "torchscript_ms": script})
        print(f"{batch:5d} {steps:5d} {native:8.2f} {script:15.2f} {script / native:8.1f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"args": vars(args) | {"out": str(args.out)}, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
