"""Forecast errors: MAE, RMSE, MAPE and sMAPE, overall and per horizon step.

MAPE divides by the actual value, so steps whose actual is zero are left out
of it (sMAPE keeps them: its denominator is zero only where both are zero, and
those steps count as no error). Percentages are in percent.
"""

from __future__ import annotations

import warnings

import numpy as np

ERRORS = ("mape", "smape", "mae", "rmse")


def point_errors(
    actual: np.ndarray, forecast: np.ndarray, *, axis: int | None = None
) -> dict[str, np.ndarray | float]:
    """MAPE, sMAPE, MAE and RMSE of `forecast` against `actual` (same shape).

    Args:
        axis: Reduce over this axis only (e.g. 0 of (origins, H): one value per
            horizon step); None reduces over everything.
    """
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    if a.shape != f.shape:
        raise ValueError(f"actual {a.shape} and forecast {f.shape} differ in shape")
    error = f - a
    nonzero = a != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.where(nonzero, np.abs(error) / np.abs(np.where(nonzero, a, 1.0)), np.nan)
        denominator = np.abs(a) + np.abs(f)
        sape = np.where(
            denominator > 0, 2 * np.abs(error) / np.where(denominator > 0, denominator, 1.0), 0.0
        )
    with warnings.catch_warnings():  # a step with no nonzero actual has no MAPE (NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        mape = np.nanmean(ape, axis=axis) * 100
    return {
        "mape": mape,
        "smape": np.mean(sape, axis=axis) * 100,
        "mae": np.mean(np.abs(error), axis=axis),
        "rmse": np.sqrt(np.mean(error**2, axis=axis)),
    }
