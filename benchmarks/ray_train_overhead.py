"""Ray Train's cost: the same model and data in a plain PyTorch loop vs Ray Train 1 and 2 workers.

One run, one training set (~100k rows from the real pipeline). Three figures per setup:
training samples/s inside the loop in steady state (rows per epoch / seconds of
the epoch's training, validation excluded, median over the epochs after the
first: what the workers sustain), the first epoch's in-loop rate (warm-up: a
fresh worker process, Ray's own processes still starting beside it) and end to
end (rows x epochs / wall seconds of the whole job, including worker start-up,
checkpoints and validation). Ray is started and settled before the Ray runs, so
the cluster's own start-up is not charged to either. 2 workers share the machine's 2 cores here, one
thread each, so 2-worker scaling measures DDP's cost more than its gain.

    .venv/bin/python benchmarks/ray_train_overhead.py [--model din] [--epochs 2] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from common import scratch_settings, training_data
from recplat.cli.context import PlatformContext
from recplat.events.synthetic import GeneratorConfig
from recplat.training.in_process import train_local
from recplat.training.options import TrainOptions
from recplat.training.ray_driver import train_model


def _in_loop(history: list[dict[str, Any]], total_rows: int) -> dict[str, Any]:
    """Samples/s of the epochs' training steps (every worker trains its shard concurrently)."""
    rates = [total_rows / h["train_seconds"] for h in history]
    steady = rates[1:] or rates
    return {"in_loop": statistics.median(steady), "first_epoch": rates[0], "epochs": rates}


def _settle_ray(settings: Any) -> None:
    """Start Ray and wait until its worker processes are up, so none start mid-epoch."""
    import ray
    from recplat.runtime.ray_session import ensure_ray

    ensure_ray(settings)
    ray.get([ray.remote(num_cpus=0)(lambda: None).remote() for _ in range(4)])
    time.sleep(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="din")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--impressions", type=int, default=120_000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    with scratch_settings() as settings:
        data = training_data(
            settings, GeneratorConfig(users=2000, items=1000, impressions=args.impressions)
        )
        rows = len(data.frames["train"])
        base = TrainOptions(
            model_name=args.model, epochs=args.epochs, batch_size=512, threads=2, patience=99
        )
        results = []

        def run_plain() -> dict[str, Any]:
            started = time.perf_counter()
            local = train_local(data=data, options=base)
            wall = time.perf_counter() - started
            return {
                "setup": "plain PyTorch loop (2 threads)",
                **_in_loop(local.state.history, rows),
                "end_to_end": rows * args.epochs / wall,
                "test_auc": local.metrics["auc"],
            }

        # This 2-core machine is noisy: the plain loop runs before and after the Ray runs
        # and the figure is their mean.
        before = run_plain()
        ctx = PlatformContext(settings=settings)
        _settle_ray(settings)
        for workers, threads in ((1, 2), (2, 1)):
            options = dataclasses.replace(base, num_workers=workers, threads=threads)
            started = time.perf_counter()
            outcome = train_model(
                settings=settings, data=data, options=options, metadata=ctx.metadata
            )
            wall = time.perf_counter() - started
            results.append(
                {
                    "setup": f"Ray Train {workers} worker(s) x {threads} thread(s)",
                    **_in_loop(outcome.metrics["history"], rows),
                    "end_to_end": rows * args.epochs / wall,
                    "test_auc": outcome.metrics["test_auc"],
                }
            )
        import ray

        ray.shutdown()
        after = run_plain()
        results.insert(
            0,
            before
            | {
                "in_loop": (before["in_loop"] + after["in_loop"]) / 2,
                "first_epoch": (before["first_epoch"] + after["first_epoch"]) / 2,
                "end_to_end": (before["end_to_end"] + after["end_to_end"]) / 2,
                "in_loop_runs": [before["in_loop"], after["in_loop"]],
                "epochs": before["epochs"] + after["epochs"],
            },
        )

    plain = results[0]
    print(f"{args.model}, {rows:,} training rows, {args.epochs} epochs, batch 512")
    print(
        f"{'setup':<36}{'in-loop/s':>11}{'vs plain':>9}{'1st epoch/s':>13}{'vs plain':>9}"
        f"{'end-to-end/s':>14}{'vs plain':>9}{'AUC':>8}"
    )
    for r in results:
        for key in ("in_loop", "first_epoch", "end_to_end"):
            r[f"{key}_ratio"] = r[key] / plain[key]
        print(
            f"{r['setup']:<36}{r['in_loop']:>11,.0f}{r['in_loop_ratio']:>8.2f}x"
            f"{r['first_epoch']:>13,.0f}{r['first_epoch_ratio']:>8.2f}x"
            f"{r['end_to_end']:>14,.0f}{r['end_to_end_ratio']:>8.2f}x{r['test_auc']:>8.4f}"
        )
        print(f"{'':<36}epochs: " + ", ".join(f"{e:,.0f}" for e in r["epochs"]))
    two = results[2]["in_loop"] / results[1]["in_loop"]
    print(f"2-worker scaling efficiency (in loop): {two / 2:.0%} of linear ({two:.2f}x one worker)")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
