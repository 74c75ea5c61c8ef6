"""Metrics against hand-computed values and a brute-force AUC."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from recplat.training.metrics import auc, classification_metrics, gauc, logloss


def _brute_auc(y: np.ndarray, s: np.ndarray) -> float:
    pairs = [(a, b) for a, b in itertools.product(np.flatnonzero(y == 1), np.flatnonzero(y == 0))]
    return sum(1.0 if s[a] > s[b] else 0.5 if s[a] == s[b] else 0.0 for a, b in pairs) / len(pairs)


def test_auc_golden_values() -> None:
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auc(np.array([0, 0, 1, 1]), np.array([0.4, 0.3, 0.2, 0.1])) == 0.0
    assert auc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert auc(np.array([0, 1, 1, 0]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.5
    assert math.isnan(auc(np.array([1, 1]), np.array([0.1, 0.2])))


def test_auc_matches_brute_force_with_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = rng.integers(0, 10, 200).astype(float)
    assert auc(y, s) == pytest.approx(_brute_auc(y, s))


def test_gauc_weights_users_by_impressions_and_skips_single_class_users() -> None:
    users = np.array([1, 1, 1, 1, 2, 2, 3, 3])
    labels = np.array([0, 1, 0, 1, 0, 1, 1, 1])
    scores = np.array([0.1, 0.9, 0.2, 0.8, 0.9, 0.1, 0.5, 0.5])
    # user 1: AUC 1 (4 impressions), user 2: AUC 0 (2), user 3 skipped.
    assert gauc(users, labels, scores) == pytest.approx((1.0 * 4 + 0.0 * 2) / 6)


def test_logloss_golden_value() -> None:
    assert logloss(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx(
        -(math.log(0.8) + math.log(0.6)) / 2
    )


def test_classification_metrics_from_logits() -> None:
    m = classification_metrics(
        np.array([1, 1, 2, 2]), np.array([0, 1, 0, 1]), np.array([-2.0, 2.0, -1.0, 1.0])
    )
    assert m["auc"] == 1.0 and m["gauc"] == 1.0
    expected = -np.mean(
        np.log(
            [
                1 - 1 / (1 + math.e**2),
                1 / (1 + math.e**-2),
                1 - 1 / (1 + math.e),
                1 / (1 + math.e**-1),
            ]
        )
    )
    assert m["logloss"] == pytest.approx(expected)
