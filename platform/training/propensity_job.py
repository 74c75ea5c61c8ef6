"""The propensity job: the task's rows -> Ray Train (the rankers' driver, checkpoints,
registry and lineage) -> a threshold on validation -> test metrics beside the baselines.

`recplat train --model propensity` and `benchmarks/propensity.py` both train here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from recplat.models.layers import Vocab
from recplat.models.predict import predict_logits
from recplat.propensity.baselines import baseline_scores
from recplat.propensity.dataset import PropensityData, balanced
from recplat.propensity.evaluation import best_f1_threshold, score_at
from recplat.propensity.rows import STEP_FEATURES, Rows
from recplat.registry.artifacts import load_artifact
from recplat.registry.store import MetadataStore
from recplat.settings import Settings
from recplat.training.options import TrainOptions
from recplat.training.progress import EpochCallback
from recplat.training.registration import TrainOutcome
from recplat.training.training_set import TrainingData
from torch import nn

MODEL = "propensity"
Balance = Literal["natural", "1:1"]
PROTOCOLS = ("natural", "1:1")
SCORED = ("validation", "test")  # the splits a trained model is scored on


def propensity_training_data(
    data: PropensityData, *, vocab: Vocab, balance: Balance, seed: int, source: str
) -> TrainingData:
    """The rows as the driver's training data: training rows at natural balance or 1:1
    (`balanced`), validation and test at natural balance (what an export sees)."""
    train = data.splits["train"]
    if balance == "1:1":
        train = balanced(train, seed=seed)
    splits = {"train": train, "validation": data.splits["validation"], "test": data.splits["test"]}
    stamps = pd.concat([rows.frame["cutoff"] for rows in splits.values()])
    return TrainingData(
        frames={k: v.frame[["user_id", "cutoff", "label"]] for k, v in splits.items()},
        arrays={k: v.arrays for k, v in splits.items()},
        item_categories=np.zeros(1, dtype=np.int64),
        vocab=vocab,
        max_len=data.task.max_len,
        feature_service=source,
        validation_run_id=data.validation_run_ids["train"],
        features=tuple(f"{source}:{name}" for name in STEP_FEATURES),
        time_range=(stamps.min().isoformat(), stamps.max().isoformat()),
        description={"propensity_task": data.task.to_record(), "train_balance": balance},
    )


@dataclass(frozen=True)
class TrainedPropensity:
    """A registered propensity model, loaded (`evaluate_models` picks its thresholds)."""

    outcome: TrainOutcome
    model: nn.Module


def score_rows(model: nn.Module, rows: Rows) -> np.ndarray:
    """Probabilities of a purchase in the window, one per row."""
    logits = predict_logits(model, rows.arrays)
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def protocol_rows(data: PropensityData, split: str, protocol: str, *, seed: int) -> Rows:
    """A split at natural balance, or sampled 1:1 (the seed's protocol)."""
    rows = data.splits[split]
    return balanced(rows, seed=seed) if protocol == "1:1" else rows


def train_propensity(
    *,
    settings: Settings,
    metadata: MetadataStore,
    data: PropensityData,
    vocab: Vocab,
    options: TrainOptions,
    balance: Balance = "natural",
    source: str = "purchase_log",
    on_epoch: EpochCallback | None = None,
) -> TrainedPropensity:
    """Train with Ray Train, register, load the best weights back."""
    from recplat.training.ray_driver import train_model

    if options.model_name != MODEL:
        options = dataclasses.replace(options, model_name=MODEL)
    training = propensity_training_data(
        data, vocab=vocab, balance=balance, seed=options.seed, source=source
    )
    outcome = train_model(
        settings=settings, data=training, options=options, metadata=metadata, on_epoch=on_epoch
    )
    return TrainedPropensity(
        outcome=outcome, model=load_artifact(Path(outcome.artifact_path)).model
    )


def evaluate_models(
    *,
    data: PropensityData,
    neural: dict[str, nn.Module],
    seed: int = 0,
    baselines: bool = True,
    train_balance: Balance = "natural",
) -> pd.DataFrame:
    """Test metrics of each model under each protocol (natural balance, and 1:1), every
    threshold chosen on the same protocol's validation rows.

    Returns one row per (model, protocol): PR-AUC, ROC-AUC, precision, recall, F1,
    the threshold and the test rows' positive rate.
    """
    train = data.splits["train"]
    if train_balance == "1:1":
        train = balanced(train, seed=seed)
    parts = {
        protocol: {split: protocol_rows(data, split, protocol, seed=seed) for split in SCORED}
        for protocol in PROTOCOLS
    }
    fitted = (  # fitted once on the training rows, scored on every protocol's rows
        baseline_scores(
            train=train.frame,
            validation=data.splits["validation"].frame,
            targets={f"{p}:{s}": rows.frame for p, by in parts.items() for s, rows in by.items()},
            window_days=data.task.window_days,
            seed=seed,
        )
        if baselines
        else {}
    )
    results = []
    for protocol, rows in parts.items():
        scores: dict[str, dict[str, np.ndarray]] = {
            name: {split: score_rows(model, rows[split]) for split in SCORED}
            for name, model in neural.items()
        }
        for name in fitted.get(f"{protocol}:test", {}):
            scores[name] = {split: fitted[f"{protocol}:{split}"][name] for split in SCORED}
        labels = {split: rows[split].frame["label"].to_numpy() for split in SCORED}
        for name, by_split in scores.items():
            threshold = best_f1_threshold(labels["validation"], by_split["validation"])
            scored = score_at(labels["test"], by_split["test"], threshold=threshold)
            results.append({"model": name, "protocol": protocol, **scored.as_dict()})
    return pd.DataFrame(results)
