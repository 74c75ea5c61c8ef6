"""Ranking and rating models on a MovieLens-format data set.

With `--movielens PATH` (a GroupLens ml-100k or ml-1m folder) the real files
are used. Without it, a synthetic data set is written in ml-100k format
(943 users, 1,682 movies, 18 genres) and read back through the same importer.

Ranking (rating >= 4 is a click): popularity, logistic regression, embedding
MLP, DIN and DIEN through the real pipeline (ingest gate -> Feast ->
point-in-time set, split by time). Rating regression: the classic rating MLP
on a fixed random 90/10 split, RMSE/MAE, next to predicting the mean rating.

    .venv/bin/python benchmarks/movielens.py [--movielens PATH] [--epochs 6]

Writes benchmarks/results/movielens.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import scratch_settings
from recplat.cli.context import PlatformContext
from recplat.events.ingest import ingest
from recplat.events.movielens import ImportedData, load_movielens, write_ml100k
from recplat.events.synthetic import GeneratorConfig, generate
from recplat.features.build import build_features, materialize
from recplat.features.repo import apply_repo
from recplat.models.catalog import build_model, entry
from recplat.models.layers import Vocab
from recplat.models.predict import predict_logits
from recplat.training.baselines import popularity_scores
from recplat.training.fit import train_epoch
from recplat.training.in_process import train_local
from recplat.training.metrics import classification_metrics, regression_metrics
from recplat.training.options import TrainOptions
from recplat.training.training_set import prepare_training_data

RANKERS = ("logistic_regression", "embedding_mlp", "din", "dien")


def ranking(data: ImportedData, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with scratch_settings() as settings:
        ctx = PlatformContext(settings=settings)
        ingest(
            events=data.events, users=data.users, items=data.items, settings=settings, gate=ctx.gate
        )
        build_features(settings=settings, gate=ctx.gate)
        apply_repo(settings.feature_repo)
        materialize(settings=settings)
        training = prepare_training_data(settings=settings, gate=ctx.gate)
    test = training.arrays["test"]
    pop = popularity_scores(train=training.arrays["train"], items=test["item_id"])
    results["popularity"] = classification_metrics(
        test["user_id"], test["label"], np.log(pop) - np.log1p(-pop)
    )
    for name in RANKERS:
        options = TrainOptions(model_name=name, epochs=args.epochs, seed=args.seed, threads=2)
        results[name] = train_local(data=training, options=options).metrics
        print(f"ranking {name}: {results[name]}", flush=True)
    return results


def rating(data: ImportedData, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    ratings = data.ratings
    rng = np.random.default_rng(args.seed)
    test_rows = rng.random(len(ratings)) < 0.1  # the fixed 90/10 split
    arrays = {
        "user_id": ratings["user_id"].to_numpy(np.int64),
        "item_id": ratings["item_id"].to_numpy(np.int64),
        "rating": ratings["rating"].to_numpy(np.float32),
    }
    train = {k: v[~test_rows] for k, v in arrays.items()}
    test = {k: v[test_rows] for k, v in arrays.items()}
    vocab = Vocab(
        users=int(arrays["user_id"].max()) + 1, items=int(arrays["item_id"].max()) + 1, categories=1
    )
    torch.manual_seed(args.seed)
    model = build_model("rating_mlp", entry("rating_mlp").config(vocab=vocab))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        order = np.random.default_rng((args.seed, epoch)).permutation(len(train["rating"]))
        train_epoch(
            model,
            train,
            order,
            optimizer=optimizer,
            batch_size=256,
            device=torch.device("cpu"),
            task="regression",
        )
    mean = np.full(len(test["rating"]), train["rating"].mean())
    return {
        "mean rating": regression_metrics(test["rating"], mean),
        "rating_mlp": regression_metrics(
            test["rating"], np.clip(predict_logits(model, test), 1, 5)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Models on MovieLens-format data")
    parser.add_argument("--movielens", type=Path, default=None, help="ml-100k or ml-1m folder")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/movielens.json"))
    args = parser.parse_args()

    source = str(args.movielens) if args.movielens else "synthetic, written in ml-100k format"
    if args.movielens:
        data = load_movielens(args.movielens)
    else:
        synthetic = generate(
            GeneratorConfig(
                users=943, items=1682, categories=18, impressions=100_000, seed=args.seed
            )
        )
        with tempfile.TemporaryDirectory() as folder:
            data = load_movielens(
                write_ml100k(
                    users=synthetic.users,
                    items=synthetic.items,
                    events=synthetic.events,
                    folder=Path(folder),
                )
            )
    print(
        f"{source}: {len(data.ratings):,} ratings, {len(data.users):,} users, {len(data.items):,} movies"
    )

    results: dict[str, Any] = {
        "source": source,
        "ranking": ranking(data, args),
        "rating": rating(data, args),
    }
    print(f"\n{'ranking (rating >= 4)':22} {'test AUC':>9} {'test GAUC':>10} {'logloss':>8}")
    for name, m in results["ranking"].items():
        print(f"{name:22} {m['auc']:9.4f} {m['gauc']:10.4f} {m['logloss']:8.4f}")
    print(f"\n{'rating (90/10 split)':22} {'RMSE':>9} {'MAE':>10}")
    for name, m in results["rating"].items():
        print(f"{name:22} {m['rmse']:9.4f} {m['mae']:10.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            results | {"args": vars(args) | {"out": str(args.out), "movielens": source}}, indent=2
        )
    )


if __name__ == "__main__":
    main()
