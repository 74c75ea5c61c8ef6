"""Training data of the forecaster: windows of one or many series, split by time.

Each series is cut the same way: the last `test_size` steps are the test part
(rolling origins every `step`), the `validation_size` steps before them choose
the epoch, the rest trains. The scaling of a series is fitted on its training
part only; a window's inputs end before its origin. The windows of every
series are stacked: one global model learns from all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from recplat.forecasting.evaluation import actuals
from recplat.forecasting.series import SeriesSet
from recplat.forecasting.windows import (
    FEATURES,
    Scaling,
    SplitPoints,
    split_origins,
    step_features,
    windows,
)
from recplat.models.layers import Vocab
from recplat.training.training_set import TrainingData

PARTS = ("train", "validation", "test")
# A forecaster has no user / item / category id spaces: no layer reads a vocabulary.
NO_IDS = Vocab(users=0, items=0, categories=0)


@dataclass(frozen=True)
class ForecastSetup:
    """How series become windows (the model config's lookback, horizon and rolling)."""

    lookback: int
    horizon: int
    rolling: int = 7
    test_size: int | None = None  # default: 2 horizons
    validation_size: int | None = None  # default: 2 horizons
    step: int = 1  # steps between test origins

    def __post_init__(self) -> None:
        if min(self.lookback, self.horizon, self.rolling, self.step) < 1:
            raise ValueError("lookback, horizon, rolling and step must be >= 1")
        test, validation = self.sizes()
        if self.horizon > test:
            raise ValueError(
                f"horizon {self.horizon} is longer than the test part ({test} steps): "
                "no origin could be scored; lower --horizon or raise --test-size"
            )
        if self.horizon > validation:
            raise ValueError(
                f"horizon {self.horizon} is longer than the validation part ({validation} "
                "steps): no epoch could be chosen; raise --validation-size"
            )

    def min_length(self) -> int:
        """Steps a series needs: a lookback and a horizon of training, then the parts."""
        test, validation = self.sizes()
        return self.lookback + self.horizon + validation + test

    def sizes(self) -> tuple[int, int]:
        test = self.test_size if self.test_size is not None else 2 * self.horizon
        validation = self.validation_size if self.validation_size is not None else 2 * self.horizon
        return test, validation


@dataclass
class SeriesWindows:
    """One series prepared: its values, scaling, features and split."""

    series_id: str
    stamps: pd.DatetimeIndex
    values: np.ndarray
    scaling: Scaling
    features: np.ndarray
    points: SplitPoints
    origins: dict[str, np.ndarray] = field(default_factory=dict)

    def window_arrays(self, origins: np.ndarray, *, setup: ForecastSetup) -> dict[str, np.ndarray]:
        """Inputs (N, L * F), as the model reads them flattened, and scaled targets (N, H)."""
        made = windows(
            self.features,
            self.scaling.apply(self.values),
            origins,
            lookback=setup.lookback,
            horizon=setup.horizon,
        )
        return {"inputs": made["inputs"].reshape(len(origins), -1), "target": made["target"]}


def check_lengths(n: int, *, setup: ForecastSetup, series_id: str) -> SplitPoints:
    """The split points of an n-step series.

    Raises:
        ValueError: The series is too short for the lookback, a horizon and the
            validation and test parts (named, with the steps each needs).
    """
    test, validation = setup.sizes()
    needed = setup.min_length()
    if n < needed:
        raise ValueError(
            f"series {series_id} has {n} steps; lookback {setup.lookback} + horizon "
            f"{setup.horizon} + validation {validation} + test {test} need at least {needed}"
        )
    return SplitPoints(validation_start=n - test - validation, test_start=n - test)


def prepare_series(series: SeriesSet, *, setup: ForecastSetup) -> list[SeriesWindows]:
    """Scale, featurise and split every series of `series`."""
    prepared = []
    for series_id in series.ids():
        part = series.series(series_id)
        values = part["value"].to_numpy(np.float64)
        points = check_lengths(len(values), setup=setup, series_id=series_id)
        scaling = Scaling.fit(values[: points.fit_end()])
        stamps = pd.DatetimeIndex(part["timestamp"])
        features = step_features(
            scaling.apply(values), stamps, freq=series.freq, rolling=setup.rolling
        )
        origins = split_origins(
            len(values),
            lookback=setup.lookback,
            horizon=setup.horizon,
            points=points,
            step=setup.step,
        )
        prepared.append(
            SeriesWindows(series_id, stamps, values, scaling, features, points, origins)
        )
    return prepared


def part_arrays(
    prepared: list[SeriesWindows], part: str, *, setup: ForecastSetup
) -> dict[str, np.ndarray]:
    """The stacked windows of one part: inputs (N, L * F), target (N, H, scaled), observed
    (N, H, original units), each row's scaling, series index and origin."""
    chunks = []
    for index, item in enumerate(prepared):
        origins = item.origins[part]
        made = item.window_arrays(origins, setup=setup)
        chunks.append(
            {
                **made,
                "observed": actuals(item.values, origins, horizon=setup.horizon),
                "scale_min": np.full(len(origins), item.scaling.low, np.float64),
                "scale_range": np.full(len(origins), item.scaling.span, np.float64),
                "series_index": np.full(len(origins), index, np.int64),
                "origin": origins.astype(np.int64),
            }
        )
    return {key: np.concatenate([c[key] for c in chunks]) for key in chunks[0]}


def forecast_training_data(
    series: SeriesSet, *, setup: ForecastSetup, source: str
) -> tuple[TrainingData, list[SeriesWindows]]:
    """Windows of every series of `series`, as the training job's data.

    Args:
        source: What the series are (a file, `item_demand`), recorded as the run's
            feature service.
    """
    prepared = prepare_series(series, setup=setup)
    arrays = {part: part_arrays(prepared, part, setup=setup) for part in PARTS}
    frames = {
        part: pd.DataFrame(
            {
                "series_id": [prepared[i].series_id for i in values["series_index"]],
                "origin": values["origin"],
            }
        )
        for part, values in arrays.items()
    }
    stamps = series.frame["timestamp"]
    data = TrainingData(
        frames=frames,
        arrays=arrays,
        item_categories=np.zeros(1, dtype=np.int64),
        vocab=NO_IDS,
        max_len=setup.lookback,
        feature_service=source,
        validation_run_id=series.validation_run_id or 0,
        features=tuple(f"{source}:{name}" for name in FEATURES),
        time_range=(stamps.min().isoformat(), stamps.max().isoformat()),
    )
    return data, prepared
