"""The baselines people actually use: seasonal naive, SARIMA and ETS (statsmodels).

SARIMA and ETS choose their orders by AIC on the steps before the test part and keep the
parameters fitted there; at each rolling origin they are applied to the
history up to that origin (`results.apply`: the state is filtered through the
new observations, nothing refitted) and forecast H steps, as the LSTM does
with the weights it learned on the same training part.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# (p, d, q) x (P, D, Q): a compact grid around the orders that fit most seasonal series.
SARIMA_ORDERS = ((0, 1, 1), (1, 1, 0), (1, 1, 1), (2, 1, 1), (1, 0, 1))
SARIMA_SEASONAL = ((0, 1, 1), (1, 1, 0), (1, 1, 1))
# (trend, damped) of the additive-seasonal ETS models tried.
ETS_TRENDS = ((False, False), (True, False), (True, True))


def seasonal_naive(
    values: np.ndarray, origins: np.ndarray, *, season: int, horizon: int
) -> np.ndarray:
    """(N, H): each step takes the value one (or more) seasons before it, seen by the origin."""
    h = np.arange(horizon)
    back = season * (h // season + 1)  # the newest observed value of the same phase
    index = np.asarray(origins)[:, None] + h[None, :] - back[None, :]
    return np.asarray(values, dtype=np.float64)[index]


@contextmanager
def _quiet() -> Iterator[None]:
    # statsmodels warns on every non-converging or non-invertible start; the AIC decides.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@dataclass
class FittedBaseline:
    """A statsmodels model fitted on the training part, and what was chosen."""

    name: str
    results: Any
    spec: str
    aic: float

    def forecast(self, values: np.ndarray, origins: np.ndarray, *, horizon: int) -> np.ndarray:
        """(N, H) forecasts, each from the history before its origin only."""
        out = np.empty((len(origins), horizon))
        with _quiet():
            for row, origin in enumerate(origins):
                applied = self.results.apply(np.asarray(values[:origin], dtype=np.float64))
                out[row] = applied.forecast(horizon)
        return out


def fit_sarima(train: np.ndarray, *, season: int) -> FittedBaseline:
    """The SARIMA of the grid with the lowest AIC on `train`."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    best: FittedBaseline | None = None
    seasonal = SARIMA_SEASONAL if season > 1 else ((0, 0, 0),)
    for order in SARIMA_ORDERS:
        for p, d, q in seasonal:
            with _quiet():
                try:
                    results = SARIMAX(
                        train, order=order, seasonal_order=(p, d, q, season if season > 1 else 0)
                    ).fit(disp=False, maxiter=100)
                except (ValueError, np.linalg.LinAlgError) as error:
                    log.debug("SARIMA%s%s failed: %s", order, (p, d, q), error)
                    continue
            if np.isfinite(results.aic) and (best is None or results.aic < best.aic):
                spec = f"SARIMA{order}x{(p, d, q, season)}"
                best = FittedBaseline("sarima", results, spec, float(results.aic))
    if best is None:
        raise ValueError("no SARIMA of the grid could be fitted to the training part")
    return best


def fit_ets(train: np.ndarray, *, season: int) -> FittedBaseline:
    """The additive-seasonal ETS (no / linear / damped trend) with the lowest AIC on `train`."""
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    best: FittedBaseline | None = None
    for trend, damped in ETS_TRENDS:
        with _quiet():
            try:
                results = ExponentialSmoothing(
                    train,
                    trend=trend,
                    damped_trend=damped,
                    seasonal=season if season > 1 else None,
                ).fit(disp=False, maxiter=200)
            except (ValueError, np.linalg.LinAlgError) as error:
                log.debug("ETS trend=%s damped=%s failed: %s", trend, damped, error)
                continue
        if np.isfinite(results.aic) and (best is None or results.aic < best.aic):
            kind = "damped" if damped else ("additive" if trend else "none")
            best = FittedBaseline("ets", results, f"ETS(A,{kind},A{season})", float(results.aic))
    if best is None:
        raise ValueError("no ETS model could be fitted to the training part")
    return best
