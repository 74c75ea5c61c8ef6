"""Test AUC / GAUC of the ranking models over several seeds, with spread.

Each seed generates its own data set (drifting interests), builds the
point-in-time training sets through Feast, and trains every model in process
with the same loop as the Ray Train workers, with its options from
`configs/train/<model>.yaml`, on its own feature service and (the ablation)
on the narrow `ranking_v1`.

    .venv/bin/python benchmarks/model_quality.py [--seeds 7 8 9] [--epochs 5] [--no-ablation]
    .venv/bin/python benchmarks/model_quality.py --users 1000 --impressions 200000   # longer histories

Writes benchmarks/results/model_quality.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import scratch_settings
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import run_feature_stages
from recplat.events.synthetic import GeneratorConfig
from recplat.models.catalog import entry
from recplat.training.baselines import popularity_scores
from recplat.training.in_process import train_local
from recplat.training.metrics import classification_metrics
from recplat.training.options import load_options
from recplat.training.training_set import TrainingData, prepare_training_data

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "train"
MODELS = ("logistic_regression", "embedding_mlp", "din", "dien")


def main() -> None:
    parser = argparse.ArgumentParser(description="Ranking-model quality over seeds")
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument(
        "--epochs", type=int, default=None, help="most epochs (default: the YAML's)"
    )
    parser.add_argument("--impressions", type=int, default=120_000)
    parser.add_argument(
        "--users", type=int, default=2000, help="fewer users, more impressions: longer histories"
    )
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--no-ablation", action="store_true", help="own services only")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/model_quality.json"))
    args = parser.parse_args()

    runs: dict[str, list[dict[str, float]]] = {"popularity": []}
    history_lengths: list[float] = []
    for seed in args.seeds:
        config = GeneratorConfig(impressions=args.impressions, users=args.users, seed=seed)
        with scratch_settings() as settings:
            ctx = PlatformContext(settings=settings)
            run_feature_stages(ctx, config=config)
            services = {entry(m).feature_service or "" for m in args.models}
            if not args.no_ablation:
                services.add("ranking_v1")
            sets: dict[str, TrainingData] = {
                s: prepare_training_data(settings=settings, gate=ctx.gate, feature_service=s)
                for s in sorted(services)
            }
        data = sets["ranking_v1"] if "ranking_v1" in sets else next(iter(sets.values()))
        test = data.arrays["test"]
        history_lengths.append(float((test["hist_item_ids"] > 0).sum(axis=1).mean()))
        pop = popularity_scores(train=data.arrays["train"], items=test["item_id"])
        pop_logits = np.log(pop) - np.log1p(-pop)
        runs["popularity"].append(
            classification_metrics(test["user_key"], test["label"], pop_logits)
        )
        for name in args.models:
            options = load_options(CONFIGS / f"{name}.yaml")
            options = dataclasses.replace(
                options, epochs=args.epochs or options.epochs, seed=seed, threads=2
            )
            own = entry(name).feature_service or ""
            for service in (own,) if args.no_ablation else (own, "ranking_v1"):
                result = train_local(data=sets[service], options=options)
                key = f"{name} ({service})"
                runs.setdefault(key, []).append(
                    result.metrics | {"epochs": result.state.best_epoch + 1}
                )
                print(f"seed {seed} {key}: {result.metrics}", flush=True)

    summary: dict[str, dict[str, Any]] = {}
    print(
        f"\n{len(args.seeds)} seeds {args.seeds}, {args.users} users, {args.impressions} impressions, "
        f"test histories {statistics.mean(history_lengths):.1f} long on average (L = {data.max_len}), "
        f"up to {args.epochs or 'the YAML'} epochs (early stopping on validation AUC)"
    )
    print(f"{'model':36} {'test AUC':>17} {'test GAUC':>17} {'logloss':>8}")
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
            f"{name:36} {s['auc_mean']:.4f} ± {s['auc_std']:.4f}   {s['gauc_mean']:.4f} ± {s['gauc_std']:.4f} {s['logloss_mean']:8.4f}"
        )
    gaps = {}
    pairs = [
        ("dien (dien_ranker_v1)", "din (din_ranker_v1)"),
        ("din (din_ranker_v1)", "embedding_mlp (embedding_mlp_v1)"),
        ("din (din_ranker_v1)", "din (ranking_v1)"),
        ("dien (dien_ranker_v1)", "dien (ranking_v1)"),
    ]
    for better, worse in pairs:
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
