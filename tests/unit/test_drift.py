"""Drift statistics and bounds: what a batch is compared with, in numbers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from recplat.quality.drift import drift_expectations, statistics
from recplat.quality.thresholds import DriftTolerance

TOL = DriftTolerance(numeric=("x",), categorical=("device", "bucket"), mean_rel=0.25, mean_abs=0.02)


def _frame(n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(10, 2, n),
            "device": rng.choice(["mobile", "desktop"], n, p=[0.7, 0.3]),
            "bucket": rng.integers(0, 3, n),
        }
    )


def test_statistics_survive_json_with_their_types() -> None:
    stats = json.loads(json.dumps(statistics(_frame(), tolerance=TOL)))
    x = stats["numeric"]["x"]
    assert x["mean"] == pytest.approx(10, abs=0.2) and x["q05"] < x["median"] < x["q95"]
    assert x["count"] == 1000 and x["std"] == pytest.approx(2, abs=0.2)
    shares = dict(map(tuple, stats["categorical"]["device"]))
    assert shares["mobile"] == pytest.approx(0.7, abs=0.05)
    # Integer categories stay integers (a dict would have made them strings).
    assert {type(v) for v, _ in stats["categorical"]["bucket"]} == {int}


def test_missing_and_non_numeric_columns_are_skipped_not_crashed() -> None:
    frame = pd.DataFrame({"x": ["a", "b"], "device": [[1], [2]]})
    assert statistics(frame, tolerance=TOL) == {"numeric": {}, "categorical": {}}


def test_mean_bounds_use_the_larger_of_relative_absolute_and_sampling_slack() -> None:
    stats = statistics(_frame(), tolerance=TOL)
    big = drift_expectations(baseline=stats, baseline_run_id=7, tolerance=TOL, rows=100_000)
    mean = next(e for e in big if e.expectation_type == "expect_column_mean_to_be_between")
    m = stats["numeric"]["x"]["mean"]
    assert mean.min_value == pytest.approx(m * 0.75) and mean.max_value == pytest.approx(m * 1.25)
    assert mean.meta == {"drift_baseline_run": 7}
    # A 4-row batch wanders by chance alone: its slack is five standard errors.
    small = drift_expectations(baseline=stats, baseline_run_id=7, tolerance=TOL, rows=4)
    mean = next(e for e in small if e.expectation_type == "expect_column_mean_to_be_between")
    assert mean.max_value - m == pytest.approx(5 * stats["numeric"]["x"]["std"] / 2)


def test_shares_become_a_normalised_partition_with_a_floor() -> None:
    stats = {"numeric": {}, "categorical": {"device": [["mobile", 1.0], ["tablet", 0.0]]}}
    (kl,) = drift_expectations(baseline=stats, baseline_run_id=1, tolerance=TOL, rows=10)
    weights = kl.partition_object["weights"]
    assert sum(weights) == pytest.approx(1.0) and min(weights) > 0
    assert kl.partition_object["values"] == ["mobile", "tablet"] and kl.threshold == TOL.kl_max
