"""Ranking metrics: AUC, GAUC (impression-weighted per-user AUC), logloss."""

from __future__ import annotations

import numpy as np
import pandas as pd
from recplat.forecasting.errors import point_errors


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half); NaN if one class is absent."""
    labels = np.asarray(labels, dtype=np.float64)
    positives = labels.sum()
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = pd.Series(np.asarray(scores, dtype=np.float64)).rank(method="average").to_numpy()
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def gauc(users: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> float:
    """Per-user AUC weighted by each user's impressions (users with one class skipped)."""
    frame = pd.DataFrame({"u": users, "y": labels, "s": scores})
    total, weight = 0.0, 0
    for _, group in frame.groupby("u", sort=False):
        value = auc(group["y"].to_numpy(), group["s"].to_numpy())
        if not np.isnan(value):
            total += value * len(group)
            weight += len(group)
    return total / weight if weight else float("nan")


def logloss(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy of probabilities."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), eps, 1 - eps)
    y = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def classification_metrics(
    users: np.ndarray, labels: np.ndarray, logits: np.ndarray
) -> dict[str, float]:
    """AUC, GAUC and logloss from logits."""
    probabilities = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))
    return {
        "auc": auc(labels, probabilities),
        "gauc": gauc(users, labels, probabilities),
        "logloss": logloss(labels, probabilities),
    }


def regression_metrics(targets: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """RMSE and MAE."""
    error = np.asarray(predictions, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}


def forecast_metrics(arrays: dict[str, np.ndarray], predictions: np.ndarray) -> dict[str, float]:
    """MAE and RMSE in the series' scaled units (every series weighs alike) and MAPE,
    sMAPE in original units: `observed` against `scale_min` + prediction * `scale_range`
    of each row (the float32 target would turn an observed 0 into a tiny MAPE divisor)."""
    scaled = regression_metrics(arrays["target"].ravel(), np.asarray(predictions).ravel())
    low, span = arrays["scale_min"][:, None], arrays["scale_range"][:, None]
    original = point_errors(arrays["observed"], np.asarray(predictions) * span + low)
    return scaled | {"mape": float(original["mape"]), "smape": float(original["smape"])}
