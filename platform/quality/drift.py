"""Key statistics of a dataset and drift expectations against an accepted baseline.

The statistics of every run are stored with it (JSON); the last accepted run
of the same dataset is the baseline the next batch is compared with, and the
statistics over recent runs are the trend lines of the HTML report.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from recplat.quality.thresholds import DriftTolerance

Statistics = dict[str, Any]

_SCALAR_KINDS = {"string", "integer", "floating", "boolean", "mixed-integer-float", "empty"}
# Shares below this are folded into the baseline as a floor, so a category that
# was merely rare (not absent) in the baseline does not make KL infinite.
_SHARE_FLOOR = 1e-4


def _plain(value: Any) -> Any:
    """Numpy scalars -> Python (JSON and GX's renderer accept only those)."""
    return value.item() if hasattr(value, "item") else value


def statistics(frame: pd.DataFrame, *, tolerance: DriftTolerance) -> Statistics:
    """Mean, median and tails of numeric columns; value shares of categorical ones.

    Columns that are missing or not numeric are skipped: the schema rules report them.
    """
    numeric: dict[str, dict[str, float]] = {}
    for column in tolerance.numeric:
        if column not in frame.columns:
            continue
        values = pd.to_numeric(frame[column], errors="coerce").dropna()
        if values.empty:
            continue
        q05, q50, q95 = values.quantile([0.05, 0.5, 0.95]).tolist()
        numeric[column] = {
            "mean": float(values.mean()),
            "median": float(q50),
            "q05": float(q05),
            "q95": float(q95),
            "std": float(values.std(ddof=0)),
            "count": len(values),
        }
    categorical: dict[str, list[list[Any]]] = {}
    for column in tolerance.categorical:
        if column not in frame.columns:
            continue
        values = frame[column].dropna()
        kind = pd.api.types.infer_dtype(values, skipna=True)
        if kind not in _SCALAR_KINDS:
            continue  # lists, mixtures: a type rule reports them
        shares = values.value_counts(normalize=True, sort=True)
        # Pairs, not a dict: JSON would turn integer categories into strings.
        categorical[column] = [[_plain(k), float(v)] for k, v in shares.items()]
    return {"numeric": numeric, "categorical": categorical}


def _bounds(value: float, std: float, rows: int, tolerance: DriftTolerance) -> tuple[float, float]:
    # A small batch's mean wanders by sampling alone: allow five standard errors too.
    noise = 5 * std / math.sqrt(max(rows, 1))
    slack = max(abs(value) * tolerance.mean_rel, tolerance.mean_abs, noise)
    return value - slack, value + slack


def drift_expectations(
    *, baseline: Statistics, baseline_run_id: int, tolerance: DriftTolerance, rows: int
) -> list[Any]:
    """GX expectations that hold when a batch of `rows` is close to the baseline's statistics."""
    import great_expectations.expectations as gxe

    meta = {"drift_baseline_run": baseline_run_id}
    expectations: list[Any] = []
    for column, stats in baseline.get("numeric", {}).items():
        if column not in tolerance.numeric:
            continue
        std = float(stats.get("std", 0.0))
        low, high = _bounds(stats["mean"], std, rows, tolerance)
        expectations.append(
            gxe.ExpectColumnMeanToBeBetween(column=column, min_value=low, max_value=high, meta=meta)
        )
        low, high = _bounds(stats["median"], std, rows, tolerance)
        expectations.append(
            gxe.ExpectColumnMedianToBeBetween(
                column=column, min_value=low, max_value=high, meta=meta
            )
        )
    for column, pairs in baseline.get("categorical", {}).items():
        if column not in tolerance.categorical or not pairs:
            continue
        values = [v for v, _ in pairs]
        weights = [max(float(w), _SHARE_FLOOR) for _, w in pairs]
        total = math.fsum(weights)
        expectations.append(
            gxe.ExpectColumnKLDivergenceToBeLessThan(
                column=column,
                partition_object={"values": values, "weights": [w / total for w in weights]},
                threshold=tolerance.kl_max,
                meta=meta,
            )
        )
    return expectations
