"""Test AUC / GAUC of the ranking models over several seeds, with spread.

Each seed generates its own data set (drifting interests), builds the
point-in-time training set through Feast, and trains every model in process
with the same loop as the Ray Train workers.

    .venv/bin/python benchmarks/model_quality.py [--seeds 7 8 9] [--epochs 6]
    .venv/bin/python benchmarks/model_quality.py --users 1000 --impressions 200000   # longer histories

Writes benchmarks/results/model_quality.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import scratch_settings, training_data
from recplat.events.synthetic import GeneratorConfig
from recplat.training.baselines import popularity_scores
from recplat.training.in_process import train_local
from recplat.training.metrics import classification_metrics
from recplat.training.options import TrainOptions

MODELS = ("logistic_regression", "embedding_mlp", "din", "dien")


def main() -> None:
    parser = argparse.ArgumentParser(description="Ranking-model quality over seeds")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--impressions", type=int, default=120_000)
    parser.add_argument(
        "--users", type=int, default=2000, help="fewer users, more impressions: longer histories"
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/model_quality.json"))
    args = parser.parse_args()

    runs: dict[str, list[dict[str, float]]] = {"popularity": []}
    history_lengths: list[float] = []
    for seed in args.seeds:
        config = GeneratorConfig(impressions=args.impressions, users=args.users, seed=seed)
        with scratch_settings() as settings:
            data = training_data(settings, config)
        test = data.arrays["test"]
        history_lengths.append(float((test["hist_item_ids"] > 0).sum(axis=1).mean()))
        pop = popularity_scores(train=data.arrays["train"], items=test["item_id"])
        pop_logits = np.log(pop) - np.log1p(-pop)
        runs["popularity"].append(
            classification_metrics(test["user_id"], test["label"], pop_logits)
        )
        for name in args.models:
            options = TrainOptions(
                model_name=name, epochs=args.epochs, seed=seed, threads=2, patience=2
            )
            result = train_local(data=data, options=options)
            runs.setdefault(name, []).append(result.metrics | {"epochs": result.state.epoch})
            print(f"seed {seed} {name}: {result.metrics}", flush=True)

    summary: dict[str, dict[str, Any]] = {}
    print(
        f"\n{len(args.seeds)} seeds {args.seeds}, {args.users} users, {args.impressions} impressions, "
        f"test histories {statistics.mean(history_lengths):.1f} long on average (L = {data.max_len}), "
        f"up to {args.epochs} epochs (early stopping on validation AUC)"
    )
    print(f"{'model':22} {'test AUC':>17} {'test GAUC':>17} {'logloss':>8}")
    for name, metrics in runs.items():
        aucs = [m["auc"] for m in metrics]
        gaucs = [m["gauc"] for m in metrics]
        summary[name] = {
            "auc_mean": statistics.mean(aucs),
            "auc_std": statistics.stdev(aucs) if len(aucs) > 1 else 0.0,
            "gauc_mean": statistics.mean(gaucs),
            "gauc_std": statistics.stdev(gaucs) if len(gaucs) > 1 else 0.0,
            "logloss_mean": float(np.mean([m["logloss"] for m in metrics])),
            "runs": metrics,
        }
        s = summary[name]
        print(
            f"{name:22} {s['auc_mean']:.4f} ± {s['auc_std']:.4f}   {s['gauc_mean']:.4f} ± {s['gauc_std']:.4f} {s['logloss_mean']:8.4f}"
        )
    gaps = {}
    for better, worse in (("dien", "din"), ("din", "embedding_mlp")):
        if better not in summary or worse not in summary:
            continue
        for metric in ("auc", "gauc"):
            diffs = [a[metric] - b[metric] for a, b in zip(runs[better], runs[worse], strict=True)]
            spread = max(summary[better][f"{metric}_std"], summary[worse][f"{metric}_std"])
            gaps[f"{better} - {worse} {metric}"] = {
                "mean": statistics.mean(diffs), "min": min(diffs), "spread": spread,
            }  # fmt: skip
            print(
                f"{metric.upper()} gap {better} - {worse}: mean {statistics.mean(diffs):+.4f}, "
                f"smallest {min(diffs):+.4f} (seed spread {spread:.4f})"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "args": vars(args) | {"out": str(args.out)},
                "mean_history_length": statistics.mean(history_lengths),
                "summary": summary,
                "gaps": gaps,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
