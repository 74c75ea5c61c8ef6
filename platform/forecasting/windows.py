"""Series -> model inputs: per-series scaling, per-step features, lookback windows.

A window for origin `o` (the index of its first forecast step) reads steps
[o - L, o) and is scored on [o, o + H). Every feature of a step is computed
from that step and the ones before it (rolling statistics are trailing), so a
window never sees a value at or after its origin. The MinMax scaling of a
series is fitted on its training part only (before the first validation
origin): the test values never shape the inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FREQS = ("D", "W", "M")
# value, rolling mean, rolling variance, then sin/cos of the position in the week and year.
FEATURES = ("value", "rolling_mean", "rolling_var", "week_sin", "week_cos", "year_sin", "year_cos")


@dataclass(frozen=True)
class Scaling:
    """MinMax scaling of one series, fitted on its training part."""

    low: float
    span: float

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaling:
        """Fit on `values` (the training part only); a flat part gets span 1."""
        if len(values) == 0:
            raise ValueError("cannot fit a scaling on no values")
        low, high = float(np.min(values)), float(np.max(values))
        return cls(low=low, span=high - low if high > low else 1.0)

    def apply(self, values: np.ndarray) -> np.ndarray:
        return (np.asarray(values, dtype=np.float64) - self.low) / self.span

    def invert(self, scaled: np.ndarray) -> np.ndarray:
        return np.asarray(scaled, dtype=np.float64) * self.span + self.low


def calendar(stamps: pd.DatetimeIndex, *, freq: str) -> np.ndarray:
    """(T, 4): sin/cos of the position in the week (daily series; 0 otherwise) and year."""
    if freq not in FREQS:
        raise ValueError(f"freq {freq!r}: choose one of {list(FREQS)}")
    n = len(stamps)
    week = np.zeros((n, 2))
    if freq == "D":
        angle = 2 * np.pi * stamps.dayofweek.to_numpy() / 7
        week = np.stack([np.sin(angle), np.cos(angle)], axis=1)
    if freq == "M":
        position = (stamps.month.to_numpy() - 1) / 12
    else:
        position = (stamps.dayofyear.to_numpy() - 1) / 365.25
    year = np.stack([np.sin(2 * np.pi * position), np.cos(2 * np.pi * position)], axis=1)
    return np.concatenate([week, year], axis=1)


def step_features(
    scaled: np.ndarray, stamps: pd.DatetimeIndex, *, freq: str, rolling: int
) -> np.ndarray:
    """(T, 7) features of every step, each from that step and earlier ones only."""
    frame = pd.Series(scaled)
    trailing = frame.rolling(rolling, min_periods=1)
    mean = trailing.mean().to_numpy()
    var = trailing.var(ddof=0).fillna(0.0).to_numpy()
    return np.column_stack([scaled, mean, var, calendar(stamps, freq=freq)]).astype(np.float32)


def windows(
    features: np.ndarray,
    scaled: np.ndarray,
    origins: np.ndarray,
    *,
    lookback: int,
    horizon: int,
) -> dict[str, np.ndarray]:
    """Inputs (N, L, F) and targets (N, H) of the windows at `origins`.

    Raises:
        ValueError: An origin whose lookback starts before the series or whose
            horizon runs past its end (named).
    """
    origins = np.asarray(origins, dtype=np.int64)
    if len(origins) and (origins.min() < lookback or origins.max() + horizon > len(scaled)):
        raise ValueError(
            f"origins must lie in [{lookback}, {len(scaled) - horizon}] for lookback "
            f"{lookback} and horizon {horizon} over {len(scaled)} steps; got "
            f"{int(origins.min())}..{int(origins.max())}"
        )
    back = origins[:, None] + np.arange(-lookback, 0)[None, :]
    ahead = origins[:, None] + np.arange(horizon)[None, :]
    return {
        "inputs": features[back],
        "target": scaled[ahead].astype(np.float32),
    }


@dataclass(frozen=True)
class SplitPoints:
    """Where a series' parts start: validation origins, then test origins (rolling)."""

    validation_start: int
    test_start: int

    def fit_end(self) -> int:
        """Steps the scaling and the SARIMA / ETS orders are fitted on."""
        return self.validation_start


def split_origins(
    n: int, *, lookback: int, horizon: int, points: SplitPoints, step: int = 1
) -> dict[str, np.ndarray]:
    """Window origins of each part; no training or validation target reaches past its part.

    train: targets inside [0, validation_start); validation: origins from
    validation_start, targets before test_start; test: origins from test_start
    every `step`, targets before n.
    """
    train = np.arange(lookback, points.validation_start - horizon + 1)
    validation = np.arange(max(points.validation_start, lookback), points.test_start - horizon + 1)
    test = np.arange(max(points.test_start, lookback), n - horizon + 1, step)
    return {"train": train, "validation": validation, "test": test}
