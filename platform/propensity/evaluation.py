"""Propensity metrics: PR-AUC and ROC-AUC, and precision / recall / F1 at a threshold
chosen on validation (best F1), never on test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def pr_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (the area under the precision-recall curve); NaN without positives."""
    from sklearn.metrics import average_precision_score

    labels = np.asarray(labels)
    if labels.sum() == 0:
        return float("nan")
    return float(average_precision_score(labels, scores))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve; NaN with one class."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the best F1 on these (validation) rows."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5


@dataclass(frozen=True)
class Scored:
    """A model's metrics on one set of rows at a fixed threshold."""

    pr_auc: float
    roc_auc: float
    precision: float
    recall: float
    f1: float
    positive_rate: float
    threshold: float

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def score_at(labels: np.ndarray, scores: np.ndarray, *, threshold: float) -> Scored:
    """PR-AUC, ROC-AUC and precision / recall / F1 of `scores >= threshold`."""
    labels = np.asarray(labels).astype(bool)
    chosen = np.asarray(scores) >= threshold
    hits = float((chosen & labels).sum())
    precision = hits / chosen.sum() if chosen.sum() else 0.0
    recall = hits / labels.sum() if labels.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scored(
        pr_auc=pr_auc(labels, scores),
        roc_auc=roc_auc(labels, scores),
        precision=precision,
        recall=recall,
        f1=f1,
        positive_rate=float(labels.mean()) if len(labels) else float("nan"),
        threshold=threshold,
    )
