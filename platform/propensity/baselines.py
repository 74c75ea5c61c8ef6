"""Propensity baselines on the rows' recency / frequency / monetary and sequence-summary
features: a recency-frequency rule, logistic regression and LightGBM.

Each is fitted on training rows only; LightGBM stops adding trees on the
validation rows' log loss (validation chooses, as the neural models' epochs).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from recplat.propensity.rows import NEVER_DAYS, SUMMARY_FEATURES

BASELINES = ("rf_rule", "logistic_regression", "lightgbm")


def summary_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The summary features, log-scaled (counts and days are long-tailed)."""
    return np.log1p(frame[list(SUMMARY_FEATURES)].to_numpy(np.float64))


def rf_rule(frame: pd.DataFrame, *, window_days: int) -> np.ndarray:
    """Recency x frequency in the category: purchases there, discounted by the windows
    since the last one; users who only browsed it rank by their recent clicks, below
    any buyer; the rest score 0."""
    bought = frame["category_purchases"].to_numpy(np.float64)
    recency = frame["days_since_last_category_purchase"].to_numpy(np.float64)
    clicks = frame["category_clicks_7d"].to_numpy(np.float64)
    score = np.where(recency < NEVER_DAYS, bought / (1.0 + recency / window_days), 0.0)
    return score + 1e-3 * clicks / (1.0 + clicks)


def fit_logistic(train: pd.DataFrame, *, seed: int) -> Any:
    """Standardised logistic regression on the summary features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    return model.fit(summary_matrix(train), train["label"].to_numpy())


def fit_lightgbm(train: pd.DataFrame, validation: pd.DataFrame, *, seed: int) -> Any:
    """Gradient-boosted trees; the number of trees chosen on validation log loss."""
    import lightgbm

    model = lightgbm.LGBMClassifier(
        n_estimators=500,
        learning_rate=0.05,
        num_leaves=31,
        min_child_samples=20,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        n_jobs=2,
        verbose=-1,
    )
    model.fit(
        summary_matrix(train),
        train["label"].to_numpy(),
        eval_set=[(summary_matrix(validation), validation["label"].to_numpy())],
        callbacks=[lightgbm.early_stopping(30, verbose=False)],
    )
    return model


def baseline_scores(
    *,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    targets: dict[str, pd.DataFrame],
    window_days: int,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """Each baseline's scores on each frame of `targets` (validation, test, ...)."""
    logistic = fit_logistic(train, seed=seed)
    boosted = fit_lightgbm(train, validation, seed=seed)
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, frame in targets.items():
        features = summary_matrix(frame)
        out[name] = {
            "rf_rule": rf_rule(frame, window_days=window_days),
            "logistic_regression": logistic.predict_proba(features)[:, 1],
            "lightgbm": boosted.predict_proba(features)[:, 1],
        }
    return out
