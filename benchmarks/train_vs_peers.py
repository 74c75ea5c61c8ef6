"""recplat DIN / DIEN vs DeepCTR-Torch 0.3.0, same data, sizes, batch, epochs and threads.

    .venv/bin/pip install -e '.[bench]' --config-settings editable_mode=strict
    .venv/bin/python benchmarks/train_vs_peers.py [--epochs 2] [--batch-size 256] [--threads 2]

Prints training samples/s and test AUC side by side, the ratios the targets
are about, and forward latency at batch 100 (one user, 100 candidates).
recplat's models train epoch by epoch in turn (order alternating), so a
noisy spell on a shared machine hits each of them.
Writes benchmarks/results/train_vs_peers.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_ms, post_padded, scratch_settings, training_data
from recplat.events.synthetic import GeneratorConfig
from recplat.models.catalog import build_model, entry
from recplat.models.layers import DEFAULT_FIELDS
from recplat.models.predict import predict_logits, to_batch
from recplat.training.fit import train_epoch
from recplat.training.metrics import auc
from recplat.training.training_set import TrainingData

SIZES = {"hidden": (256, 128), "attention_hidden": (64, 16)}  # DeepCTR-Torch's defaults


def ours(
    names: list[str], data: TrainingData, args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Train recplat's models epoch by epoch in turn, so a slow spell on a shared
    machine lands on every model instead of skewing their ratio."""
    models, optimizers, seconds = {}, {}, dict.fromkeys(names, 0.0)
    for name in names:
        torch.manual_seed(args.seed)
        models[name] = build_model(
            name,
            entry(name).config(
                vocab=data.vocab,
                embed_dim=args.embed_dim,
                fields=data.inputs.fields if data.inputs else DEFAULT_FIELDS,
                **SIZES,
            ),
        )
        optimizers[name] = torch.optim.Adam(models[name].parameters(), lr=1e-3)
    train = data.arrays["train"]
    for epoch in range(args.epochs):
        for name in names if epoch % 2 == 0 else names[::-1]:
            rng = np.random.default_rng((args.seed, epoch))
            started = time.perf_counter()
            train_epoch(
                models[name], train, rng.permutation(len(train["label"])), optimizer=optimizers[name],
                batch_size=args.batch_size, device=torch.device("cpu"),
                aux_weight=1.0 if entry(name).needs_negatives else 0.0,
                item_categories=data.item_categories if entry(name).needs_negatives else None, rng=rng,
            )  # fmt: skip
            seconds[name] += time.perf_counter() - started
    test = data.arrays["test"]
    batch = to_batch(_candidates(test), np.arange(100), torch.device("cpu"))
    results = {}
    for name, model in models.items():
        model.eval()
        with torch.no_grad():
            latency = latency_ms(functools.partial(model, batch))
        results[name] = {
            "samples_per_s": args.epochs * len(train["label"]) / seconds[name],
            "test_auc": auc(test["label"], predict_logits(model, test)),
            "forward_b100": latency,
        }
    return results


def _candidates(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One user's row (the one with the longest history) against 100 candidate items."""
    row = int(np.argmax((arrays["hist_item_ids"] > 0).sum(1)))
    out = {k: np.repeat(v[row : row + 1], 100, axis=0) for k, v in arrays.items()}
    out["item_id"] = arrays["item_id"][:100].copy()
    out["category_id"] = arrays["category_id"][:100].copy()
    return out


def deepctr(name: str, data: TrainingData, args: argparse.Namespace) -> dict[str, Any]:
    from deepctr_torch.inputs import SparseFeat, VarLenSparseFeat
    from deepctr_torch.models import DIEN, DIN

    dim, L, vocab = args.embed_dim, data.max_len, data.vocab
    fields = data.inputs.fields if data.inputs else DEFAULT_FIELDS

    def inputs(arrays: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
        x = {k: arrays[k] for k in ("user_id", "item_id", "category_id", *dict(fields))}
        x["hist_item_id"], x["hist_category_id"] = post_padded(
            arrays["hist_item_ids"], arrays["hist_category_ids"]
        )
        x["seq_length"] = (arrays["hist_item_ids"] > 0).sum(1)
        negatives = rng.integers(1, vocab.items, size=x["hist_item_id"].shape) * (
            x["hist_item_id"] > 0
        )
        x["neg_hist_item_id"] = negatives
        x["neg_hist_category_id"] = data.item_categories[negatives] * (negatives > 0)
        return x

    columns = [
        SparseFeat("user_id", vocab.users, embedding_dim=dim),
        SparseFeat("item_id", vocab.items, embedding_dim=dim),
        SparseFeat("category_id", vocab.categories, embedding_dim=dim),
        *[SparseFeat(k, n, embedding_dim=dim) for k, n in fields],
        VarLenSparseFeat(SparseFeat("hist_item_id", vocab.items, embedding_dim=dim, embedding_name="item_id"), maxlen=L, length_name="seq_length"),
        VarLenSparseFeat(SparseFeat("hist_category_id", vocab.categories, embedding_dim=dim, embedding_name="category_id"), maxlen=L, length_name="seq_length"),
    ]  # fmt: skip
    behaviour = ["item_id", "category_id"]
    torch.manual_seed(args.seed)
    if name == "din":
        model = DIN(columns, behaviour, device="cpu", seed=args.seed)
    else:
        columns += [
            VarLenSparseFeat(SparseFeat("neg_hist_item_id", vocab.items, embedding_dim=dim, embedding_name="item_id"), maxlen=L, length_name="seq_length"),
            VarLenSparseFeat(SparseFeat("neg_hist_category_id", vocab.categories, embedding_dim=dim, embedding_name="category_id"), maxlen=L, length_name="seq_length"),
        ]  # fmt: skip
        model = DIEN(
            columns, behaviour, gru_type="AUGRU", use_negsampling=True, device="cpu", seed=args.seed
        )
    model.compile("adam", "binary_crossentropy")
    rng = np.random.default_rng(args.seed)
    train, test = inputs(data.arrays["train"], rng), inputs(data.arrays["test"], rng)
    started = time.perf_counter()
    model.fit(
        train,
        data.arrays["train"]["label"],
        batch_size=args.batch_size,
        epochs=args.epochs,
        verbose=0,
        shuffle=True,
    )
    seconds = time.perf_counter() - started
    scores = model.predict(test, batch_size=4096).ravel()
    candidates = inputs(_candidates(data.arrays["test"]), rng)
    x = torch.from_numpy(
        np.concatenate(
            [np.asarray(candidates[f]).reshape(100, -1) for f in model.feature_index], axis=-1
        )
    ).float()
    model.eval()
    with torch.no_grad():
        latency = latency_ms(lambda: model(x))
    return {
        "samples_per_s": args.epochs * len(data.arrays["train"]["label"]) / seconds,
        "test_auc": auc(data.arrays["test"]["label"], scores),
        "forward_b100": latency,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="recplat vs DeepCTR-Torch training speed and AUC")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--embed-dim", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--impressions", type=int, default=120_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--models", nargs="+", default=["din", "dien"])
    parser.add_argument(
        "--long-history", action="store_true", help="400 users: histories near the 50-step cap"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/train_vs_peers.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    # Long histories: a fifth of the users with the same impressions, so most
    # histories fill the 50 steps (as real MovieLens ones do) instead of ~11.
    users = 400 if args.long_history else GeneratorConfig().users
    with scratch_settings() as settings:
        data = training_data(
            settings, GeneratorConfig(users=users, impressions=args.impressions, seed=args.seed)
        )
    lengths = (data.arrays["train"]["hist_item_ids"] > 0).sum(1)
    print(f"history length: mean {lengths.mean():.1f}, median {np.median(lengths):.0f}", flush=True)
    results: dict[str, dict[str, Any]] = {}
    for name, result in ours(args.models, data, args).items():
        results[f"recplat {name}"] = result
        print(f"recplat {name}: {result}", flush=True)
    for name in args.models:
        results[f"DeepCTR-Torch {name}"] = deepctr(name, data, args)
        print(f"DeepCTR-Torch {name}: {results[f'DeepCTR-Torch {name}']}", flush=True)

    rows = len(data.arrays["train"]["label"])
    print(f"\n{rows:,} training rows, L={data.max_len}, embed {args.embed_dim}, batch {args.batch_size}, "
          f"{args.epochs} epochs, {args.threads} threads")  # fmt: skip
    print(f"{'model':24} {'samples/s':>10} {'test AUC':>9} {'fwd b100 p50 ms':>16}")
    for key, r in results.items():
        print(
            f"{key:24} {r['samples_per_s']:10.0f} {r['test_auc']:9.4f} {r['forward_b100']['p50_ms']:16.2f}"
        )
    ratios = {}
    for name in args.models:
        ratios[f"{name} speed vs DeepCTR"] = (
            results[f"recplat {name}"]["samples_per_s"]
            / results[f"DeepCTR-Torch {name}"]["samples_per_s"]
        )
    if {"din", "dien"} <= set(args.models):
        ratios["recplat DIEN vs recplat DIN speed"] = (
            results["recplat dien"]["samples_per_s"] / results["recplat din"]["samples_per_s"]
        )
    for key, value in ratios.items():
        print(f"{key}: {value:.2f}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"args": vars(args) | {"out": str(args.out)}, "results": results, "ratios": ratios},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
