"""The forecasting job: train the LSTM with Ray Train, evaluate it by rolling origin
against the baselines, forecast the future.

`recplat forecast FILE` and `recplat train --model forecaster` both train here,
through the same Ray Train driver, checkpoints and registry as the rankers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from recplat.forecasting.evaluation import Evaluation, actuals, baseline_forecasts, evaluate
from recplat.forecasting.series import SeriesSet, grid_alias
from recplat.forecasting.windows import Scaling, step_features
from recplat.models.predict import predict_logits
from recplat.registry.artifacts import load_artifact
from recplat.registry.store import MetadataStore
from recplat.settings import Settings
from recplat.training.forecast_data import (
    NO_IDS,
    ForecastSetup,
    SeriesWindows,
    forecast_training_data,
)
from recplat.training.options import TrainOptions
from recplat.training.progress import EpochCallback
from recplat.training.registration import TrainOutcome
from torch import nn

MODEL = "forecaster"


def setup_from(options: TrainOptions, **sizes: Any) -> ForecastSetup:
    """The windowing of the options' model config (lookback, horizon, rolling) and sizes."""
    config = options.model_config(NO_IDS)
    return ForecastSetup(
        lookback=config.lookback, horizon=config.horizon, rolling=config.rolling, **sizes
    )


@dataclass(frozen=True)
class TrainedForecaster:
    """A registered forecaster, loaded, with the windows it was trained and tested on."""

    outcome: TrainOutcome
    model: nn.Module
    prepared: list[SeriesWindows]
    setup: ForecastSetup
    season: int


def train_forecaster(
    *,
    settings: Settings,
    metadata: MetadataStore,
    series: SeriesSet,
    options: TrainOptions,
    setup: ForecastSetup,
    source: str,
    on_epoch: EpochCallback | None = None,
) -> TrainedForecaster:
    """Window the series, train with Ray Train, register, load the best weights back."""
    from recplat.training.ray_driver import train_model

    if options.model_name != MODEL:
        options = dataclasses.replace(options, model_name=MODEL)
    data, prepared = forecast_training_data(series, setup=setup, source=source)
    outcome = train_model(
        settings=settings, data=data, options=options, metadata=metadata, on_epoch=on_epoch
    )
    artifact = load_artifact(Path(outcome.artifact_path))
    return TrainedForecaster(
        outcome=outcome,
        model=artifact.model,
        prepared=prepared,
        setup=setup,
        season=int(artifact.config.season),
    )


def lstm_forecasts(
    model: nn.Module, item: SeriesWindows, origins: np.ndarray, *, setup: ForecastSetup
) -> np.ndarray:
    """(N, H) forecasts of `model` at `origins`, in the series' original units."""
    inputs = item.window_arrays(origins, setup=setup)["inputs"]
    return item.scaling.invert(predict_logits(model, {"inputs": inputs}))


def rolling_origin(
    trained: TrainedForecaster, *, baselines: tuple[str, ...] = ("seasonal_naive", "sarima", "ets")
) -> tuple[Evaluation, dict[str, Evaluation]]:
    """Each series' test origins forecast by the LSTM and the baselines; the errors over
    all series' origins together, and per series.

    The LSTM was fitted on the training part and chose its epoch on the
    validation part; SARIMA / ETS choose orders and parameters on the same
    history (training and validation parts). Nothing is fitted on the test part.
    """
    per_series: dict[str, Evaluation] = {}
    stacked: dict[str, list[np.ndarray]] = {}
    observed = []
    setup = trained.setup
    for item in trained.prepared:
        origins = item.origins["test"]
        forecasts, specs = baseline_forecasts(
            item.values,
            origins,
            fit_end=item.points.test_start,
            season=trained.season,
            horizon=setup.horizon,
            which=baselines,
        )
        forecasts = {"lstm": lstm_forecasts(trained.model, item, origins, setup=setup), **forecasts}
        seen = actuals(item.values, origins, horizon=setup.horizon)
        per_series[item.series_id] = evaluate(seen, forecasts, specs=specs)
        observed.append(seen)
        for name, forecast in forecasts.items():
            stacked.setdefault(name, []).append(forecast)
    only = next(iter(per_series.values())) if len(per_series) == 1 else None
    specs = dict(zip(only.overall["model"], only.overall["spec"], strict=True)) if only else {}
    total = evaluate(
        np.concatenate(observed),
        {name: np.concatenate(parts) for name, parts in stacked.items()},
        specs=specs,
    )
    return total, per_series


def future(
    model: nn.Module,
    series: SeriesSet,
    *,
    lookback: int,
    horizon: int,
    rolling: int,
    scalings: dict[str, Scaling] | None = None,
) -> pd.DataFrame:
    """The next `horizon` steps of every series from its last `lookback` steps:
    series_id, timestamp, forecast.

    Args:
        scalings: Each series' scaling (the training part's, from the job); a series
            without one is scaled on its whole history.

    Raises:
        ValueError: A series shorter than the lookback (named).
    """
    frames, inputs = [], []
    for series_id in series.ids():
        part = series.series(series_id)
        values = part["value"].to_numpy(np.float64)
        if len(values) < lookback:
            raise ValueError(
                f"series {series_id} has {len(values)} steps, fewer than the lookback {lookback}"
            )
        scaling = (scalings or {}).get(series_id) or Scaling.fit(values)
        stamps = pd.DatetimeIndex(part["timestamp"])
        features = step_features(scaling.apply(values), stamps, freq=series.freq, rolling=rolling)
        inputs.append(features[-lookback:].reshape(-1))
        grid = grid_alias(series.freq, stamps[-1])
        ahead = pd.date_range(stamps[-1], periods=horizon + 1, freq=grid)[1:]
        frames.append((series_id, ahead, scaling))
    scaled = predict_logits(model, {"inputs": np.stack(inputs)})
    return pd.concat(
        [
            pd.DataFrame(
                {"series_id": series_id, "timestamp": ahead, "forecast": scaling.invert(row)}
            )
            for (series_id, ahead, scaling), row in zip(frames, scaled, strict=True)
        ],
        ignore_index=True,
    )
