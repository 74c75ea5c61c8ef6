"""Generated demand series with the structure forecasters must handle (deterministic per seed).

Each item's daily demand is

    level_i * (1 + trend_i * t / 365) * weekly_i(dow) * yearly_i(doy) * shift_i(t) + noise

- `level_i`: log-normal base demand (median 20 a day);
- `trend_i`: yearly growth, N(0.15, 0.2) (some items decline; `trend_mean`,
  `trend_sd`);
- `weekly_i`: a weekend lift, 1 + a_i * [Sat, Sun] with a_i ~ U(0, 0.6), and a
  mid-week dip of half that;
- `yearly_i`: 1 + b_i * sin(2 pi (doy - phase_i) / 365.25), b_i ~ U(0.1, 0.4);
- `shift_i`: with probability 0.5 a level shift at a random day, x U(0.6, 1.6)
  from then on (a promotion ending, a competitor, a relisting);
- noise: Gaussian with 8% of the mean, values clipped at 0.

`recplat data generate-series` writes them as a series file (docs/data.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

START = pd.Timestamp("2023-01-01", tz="UTC")


@dataclass(frozen=True)
class SeriesConfig:
    """Knobs of the series generator."""

    items: int = 20
    days: int = 3 * 365
    seed: int = 0
    noise: float = 0.08
    shift_probability: float = 0.5
    trend_mean: float = 0.15  # yearly growth, N(trend_mean, trend_sd) per item
    trend_sd: float = 0.2

    def __post_init__(self) -> None:
        if self.items < 1 or self.days < 1:
            raise ValueError(f"items and days must be >= 1, got {self.items} and {self.days}")
        if self.noise < 0 or not 0 <= self.shift_probability <= 1:
            raise ValueError("noise must be >= 0 and shift_probability in [0, 1]")


def generate_series(config: SeriesConfig) -> pd.DataFrame:
    """series_id (item_<i>), timestamp (daily, UTC), value: one row per item and day."""
    rng = np.random.default_rng(config.seed)
    n, t = config.items, np.arange(config.days)
    stamps = pd.date_range(START, periods=config.days, freq="D")
    dow = stamps.dayofweek.to_numpy()
    doy = stamps.dayofyear.to_numpy()
    level = rng.lognormal(np.log(20), 0.6, n)
    trend = rng.normal(config.trend_mean, config.trend_sd, n)
    weekend = rng.uniform(0, 0.6, n)
    amplitude, phase = rng.uniform(0.1, 0.4, n), rng.uniform(0, 365, n)
    shifted = rng.random(n) < config.shift_probability
    shift_day = rng.integers(config.days // 4, config.days, n)
    shift_size = rng.uniform(0.6, 1.6, n)
    weekly = 1 + np.where(dow[None, :] >= 5, weekend[:, None], 0.0)
    weekly -= np.where((dow[None, :] >= 1) & (dow[None, :] <= 3), weekend[:, None] / 2, 0.0)
    yearly = 1 + amplitude[:, None] * np.sin(2 * np.pi * (doy[None, :] - phase[:, None]) / 365.25)
    growth = np.clip(1 + trend[:, None] * t[None, :] / 365, 0.1, None)
    shift = np.where(
        shifted[:, None] & (t[None, :] >= shift_day[:, None]), shift_size[:, None], 1.0
    )
    mean = level[:, None] * growth * weekly * yearly * shift
    values = np.clip(mean + rng.normal(0, 1, mean.shape) * config.noise * mean, 0, None)
    return pd.DataFrame(
        {
            "series_id": np.repeat([f"item_{i + 1}" for i in range(n)], config.days),
            "timestamp": np.tile(stamps, n),
            "value": values.ravel().round(3),
        }
    )
