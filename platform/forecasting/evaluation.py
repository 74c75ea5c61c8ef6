"""Rolling-origin evaluation: every model forecasts H steps from each origin of the test
part, seeing only the history before that origin, and is scored per horizon step
and overall."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from recplat.forecasting.baselines import fit_ets, fit_sarima, seasonal_naive
from recplat.forecasting.errors import ERRORS, point_errors


@dataclass(frozen=True)
class Evaluation:
    """Errors of each model at each horizon step (and overall), over the origins."""

    per_step: pd.DataFrame  # model, step (1..H), mape, smape, mae, rmse
    overall: pd.DataFrame  # model, mape, smape, mae, rmse (+ spec: the chosen orders)
    forecasts: dict[str, np.ndarray]  # model -> (origins, H), original units


def actuals(values: np.ndarray, origins: np.ndarray, *, horizon: int) -> np.ndarray:
    """(N, H) observed values after each origin."""
    return np.asarray(values, dtype=np.float64)[np.asarray(origins)[:, None] + np.arange(horizon)]


def baseline_forecasts(
    values: np.ndarray,
    origins: np.ndarray,
    *,
    fit_end: int,
    season: int,
    horizon: int,
    which: tuple[str, ...] = ("seasonal_naive", "sarima", "ets"),
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Forecasts of the baselines at each origin; SARIMA / ETS fitted on values[:fit_end].

    Returns:
        Forecasts per baseline and the orders each chose (for the table).
    """
    if len(origins) and int(np.min(origins)) < fit_end:
        raise ValueError(
            f"an origin ({int(np.min(origins))}) lies inside the part the baselines are "
            f"fitted on (before step {fit_end}): that would be look-ahead"
        )
    forecasts, specs = {}, {}
    if "seasonal_naive" in which:
        forecasts["seasonal_naive"] = seasonal_naive(
            values, origins, season=season, horizon=horizon
        )
        specs["seasonal_naive"] = f"last season ({season} steps) repeated"
    for name, fit in (("sarima", fit_sarima), ("ets", fit_ets)):
        if name in which:
            fitted = fit(np.asarray(values[:fit_end], dtype=np.float64), season=season)
            forecasts[name] = fitted.forecast(values, origins, horizon=horizon)
            specs[name] = f"{fitted.spec}, AIC {fitted.aic:.1f}"
    return forecasts, specs


def evaluate(
    observed: np.ndarray,
    forecasts: dict[str, np.ndarray],
    *,
    specs: dict[str, str] | None = None,
) -> Evaluation:
    """Score each model's (N, H) forecasts against what happened (`actuals`, (N, H))."""
    horizon = observed.shape[1]
    steps, overall = [], []
    for name, forecast in forecasts.items():
        per = point_errors(observed, forecast, axis=0)
        for h in range(horizon):
            steps.append({"model": name, "step": h + 1, **{k: float(per[k][h]) for k in ERRORS}})  # type: ignore[index]
        total = point_errors(observed, forecast)
        overall.append(
            {
                "model": name,
                **{k: float(total[k]) for k in ERRORS},
                "spec": (specs or {}).get(name, ""),
            }
        )
    return Evaluation(pd.DataFrame(steps), pd.DataFrame(overall), dict(forecasts))
