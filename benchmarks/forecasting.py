"""The LSTM forecaster against seasonal naive, SARIMA and ETS, by rolling origin, and the
global model's throughput over many item series.

Accuracy (in one run, every model on the same origins):

- generated daily demand (`recplat.forecasting.synthetic`: trend, weekly and
  yearly seasonality, level shifts, noise), 10 items x 2 years, one global LSTM;
- generated with a strong trend (demand doubling a year, no shifts): the level of
  the test part lies outside the training range; the plain LSTM
  (`normalization: none`, `seasonal_skip: false`) beside ours;
- real monthly series bundled with statsmodels (no download): Mauna Loa CO2
  (weekly readings 1958-2001, monthly means), euro-area electrical equipment
  orders (1995-2016, the 2008 collapse inside), El Nino sea-surface
  temperatures (1950-2010); one model per series.

Each series: the last `test` steps are scored from an origin every `step`
steps, H steps ahead; the LSTM trains before the `validation` part and takes
the epoch with the lowest validation MAE, once per skip baseline (profile,
last season), and the one with the lower validation MAE is kept, as
`recplat forecast --skip-baseline auto` does; SARIMA / ETS choose orders by AIC on
everything before the test part. MAPE per series averages over its origins
and steps; the table averages over series.

Throughput: `--items` (10,000) generated series of `--days` days written as a
Parquet file and run through the real job: GX check of the file
(`load_series`), windows, Ray Train (`train_forecaster`, `--epochs`), and the
future of every series (`future`).

    .venv/bin/python benchmarks/forecasting.py                  # accuracy + throughput
    .venv/bin/python benchmarks/forecasting.py --skip-throughput

Writes benchmarks/results/forecasting.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import scratch_settings
from recplat.forecasting.series import SeriesSet
from recplat.forecasting.synthetic import SeriesConfig, generate_series
from recplat.models.lstm_forecaster import SKIP_BASELINES
from recplat.training.forecast_data import ForecastSetup
from recplat.training.forecast_job import (
    TrainedForecaster,
    forecast_training_data,
    rolling_origin,
)
from recplat.training.in_process import train_local
from recplat.training.options import TrainOptions

RESULTS = Path(__file__).resolve().parent / "results"
PLAIN = {"normalization": "none", "seasonal_skip": False}
COLUMNS = (
    "LSTM",
    "LSTM, last-season skip",
    "LSTM, skip by validation",
    "plain LSTM",
    "seasonal_naive",
    "sarima",
    "ets",
)


@dataclasses.dataclass(frozen=True)
class Case:
    """A set of series and how it is windowed and scored."""

    name: str
    series: SeriesSet
    season: int
    setup: ForecastSetup
    hidden: int = 64
    plain: bool = False  # also train the plain LSTM


def _real(frame: pd.Series, name: str) -> SeriesSet:
    values = frame.dropna()
    return SeriesSet(
        frame=pd.DataFrame(
            {
                "series_id": name,
                "timestamp": pd.DatetimeIndex(values.index).tz_localize("UTC"),
                "value": values.to_numpy(np.float64),
            }
        ),
        freq="M",
    )


def real_series() -> dict[str, SeriesSet]:
    """Monthly series bundled with statsmodels."""
    import statsmodels.api as sm
    from statsmodels.datasets import elec_equip

    co2 = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    orders = elec_equip.load().data.iloc[:, 0]
    nino = sm.datasets.elnino.load_pandas().data
    months = pd.date_range(f"{int(nino['YEAR'].iloc[0])}-01-01", periods=12 * len(nino), freq="MS")
    sst = pd.Series(nino.drop(columns="YEAR").to_numpy().ravel(), index=months)
    return {
        "co2": _real(co2, "co2"),
        "elec_equip": _real(orders, "elec_equip"),
        "elnino": _real(sst, "elnino"),
    }


def cases() -> list[Case]:
    daily = ForecastSetup(
        lookback=56, horizon=14, rolling=7, test_size=112, validation_size=56, step=7
    )
    generated = SeriesSet(frame=generate_series(SeriesConfig(items=10, days=730, seed=1)), freq="D")
    trending = SeriesSet(
        frame=generate_series(
            SeriesConfig(
                items=10, days=730, seed=2, trend_mean=1.0, trend_sd=0.1, shift_probability=0.0
            )
        ),
        freq="D",
    )
    monthly = ForecastSetup(
        lookback=36, horizon=12, rolling=12, test_size=60, validation_size=36, step=3
    )
    real = real_series()
    return [
        Case("generated daily, 10 items", generated, 7, daily, plain=True),
        Case("generated daily, strong trend, 10 items", trending, 7, daily, plain=True),
        Case("co2 monthly (Mauna Loa)", real["co2"], 12, monthly, hidden=32, plain=True),
        Case(
            "elec_equip monthly (euro area)",
            real["elec_equip"],
            12,
            dataclasses.replace(monthly, test_size=48, validation_size=24),
            hidden=32,
            plain=True,
        ),
        Case("elnino monthly (SST)", real["elnino"], 12, monthly, hidden=32, plain=True),
    ]


def train(
    case: Case, *, epochs: int, seed: int, plain: bool, skip: str = "profile"
) -> tuple[TrainedForecaster, float, float]:
    """One in-process model; returns it, its training seconds and its best validation MAE."""
    setup = case.setup
    data, prepared = forecast_training_data(case.series, setup=setup, source=case.name)
    params = {
        "lookback": setup.lookback,
        "horizon": setup.horizon,
        "season": case.season,
        "rolling": setup.rolling,
        "hidden": case.hidden,
    } | (PLAIN if plain else {"skip_baseline": skip})
    options = TrainOptions(
        model_name="forecaster",
        epochs=epochs,
        batch_size=64,
        patience=6,
        seed=seed,
        threads=2,
        model_params=params,
    )
    result = train_local(data=data, options=options)
    trained = TrainedForecaster(
        outcome=None,  # type: ignore[arg-type]  # in process: nothing registered
        model=result.model,
        prepared=prepared,
        setup=setup,
        season=case.season,
    )
    return trained, result.train_seconds, -result.state.best_score


def accuracy(*, epochs: int, seeds: int) -> list[dict[str, Any]]:
    rows = []
    for case in cases():
        per_model: dict[str, list[pd.DataFrame]] = {}
        specs: dict[str, str] = {}
        seconds: dict[str, float] = {}
        chosen: dict[str, int] = {}  # skip baseline kept on validation, per seed
        for plain in (False, True) if case.plain else (False,):
            label = "plain LSTM" if plain else "LSTM"
            for seed in range(seeds):
                if plain:
                    trained, took, _ = train(case, epochs=epochs, seed=seed, plain=True)
                    models = {label: trained}
                else:  # both skip baselines; `--skip-baseline auto` keeps the lower val MAE
                    tried = {
                        skip: train(case, epochs=epochs, seed=seed, plain=False, skip=skip)
                        for skip in SKIP_BASELINES
                    }
                    kept = min(tried, key=lambda k: tried[k][2])
                    chosen[kept] = chosen.get(kept, 0) + 1
                    models = {
                        "LSTM": tried["profile"][0],
                        "LSTM, last-season skip": tried["last_season"][0],
                        "LSTM, skip by validation": tried[kept][0],
                    }
                    took = tried["profile"][1]
                seconds[label] = seconds.get(label, 0.0) + took / seeds
                for name, model in models.items():
                    first = name == "LSTM" and seed == 0
                    started = time.perf_counter()
                    baselines = ("seasonal_naive", "sarima", "ets") if first else ()
                    _, per_series = rolling_origin(model, baselines=baselines)
                    if baselines:
                        seconds["baselines"] = time.perf_counter() - started
                    for series_id, evaluation in per_series.items():
                        table = evaluation.overall.assign(series=series_id, seed=seed)
                        table["model"] = table["model"].replace({"lstm": name})
                        for model_name, part in table.groupby("model"):
                            per_model.setdefault(str(model_name), []).append(part)
                            if part["spec"].iloc[0]:
                                specs[f"{series_id}:{model_name}"] = str(part["spec"].iloc[0])
                trained = models[next(iter(models))]
        frames = {m: pd.concat(parts) for m, parts in per_model.items()}
        # Mean over series of each series' MAPE (LSTM: also averaged over seeds).
        mape = {m: float(f.groupby("series")["mape"].mean().mean()) for m, f in frames.items()}
        smape = {m: float(f.groupby("series")["smape"].mean().mean()) for m, f in frames.items()}
        by_series = {m: f.groupby("series")["mape"].mean() for m, f in frames.items()}
        naive = by_series["seasonal_naive"]
        rows.append(
            {
                "case": case.name,
                "series": int(case.series.frame["series_id"].nunique()),
                "origins_per_series": len(trained.prepared[0].origins["test"]),
                "horizon": case.setup.horizon,
                "mape": mape,
                "smape": smape,
                "lstm_beats_naive": f"{int((by_series['LSTM'] < naive).sum())}/{len(naive)}",
                "lstm_vs_sarima_points": mape["LSTM"] - mape["sarima"],
                "specs": specs,
                "skip_chosen_on_validation": chosen,
                "train_seconds": seconds,
            }
        )
        print(_case_line(rows[-1]), flush=True)
    return rows


def _case_line(row: dict[str, Any]) -> str:
    mape = row["mape"]
    cells = " | ".join(f"{mape[m]:.2f}" if m in mape else "" for m in COLUMNS)
    return (
        f"| {row['case']} | {row['series']} x {row['origins_per_series']} | {cells} | "
        f"{row['lstm_beats_naive']} | {row['lstm_vs_sarima_points']:+.2f} | "
        f"{row['skip_chosen_on_validation']} |"
    )


def throughput(*, items: int, days: int, epochs: int) -> dict[str, Any]:
    """The real job over `items` generated series: GX, Ray Train, the future of each."""
    from recplat.cli.context import PlatformContext
    from recplat.forecasting.series import load_series
    from recplat.training.forecast_job import future, train_forecaster

    setup = ForecastSetup(lookback=28, horizon=7, rolling=7, test_size=14, validation_size=14)
    frame = generate_series(SeriesConfig(items=items, days=days, seed=5))
    with scratch_settings() as settings, tempfile.TemporaryDirectory() as folder:
        settings.ensure_dirs()
        path = Path(folder) / "items.parquet"
        frame.to_parquet(path, index=False)
        ctx = PlatformContext(settings=settings)
        started = time.perf_counter()
        series = load_series(path, freq="D", gate=ctx.gate)
        checked = time.perf_counter() - started
        options = TrainOptions(
            model_name="forecaster",
            epochs=epochs,
            batch_size=1024,
            patience=epochs,
            model_params={"lookback": 28, "horizon": 7, "season": 7, "hidden": 32, "layers": 1},
        )
        job_started = time.perf_counter()
        ticks: list[float] = []  # when each epoch's metrics reached the driver
        trained = train_forecaster(
            settings=settings,
            metadata=ctx.metadata,
            series=series,
            options=options,
            setup=setup,
            source="items.parquet",
            on_epoch=lambda _: ticks.append(time.perf_counter()),
        )
        job = time.perf_counter() - job_started
        # Later epochs: training and validation only (the first also starts the workers).
        epoch_s = float(np.median(np.diff(ticks))) if len(ticks) > 1 else float("nan")
        started = time.perf_counter()
        ahead = future(
            trained.model, series, lookback=28, horizon=7, rolling=7,
            scalings={p.series_id: p.scaling for p in trained.prepared},
        )  # fmt: skip
        forecast_s = time.perf_counter() - started
        started = time.perf_counter()
        total, _ = rolling_origin(trained, baselines=("seasonal_naive",))
        scored = time.perf_counter() - started
        metrics = trained.outcome.metrics
        train_rows = int(metrics["rows"]["train"])
        mae = dict(zip(total.overall["model"], total.overall["mae"].astype(float), strict=True))
        return {
            "items": items,
            "days": days,
            "rows": len(frame),
            "train_windows": train_rows,
            "epochs_run": int(metrics["epochs_run"]),
            "gx_check_s": checked,
            "ray_train_job_s": job,
            # Windowing, Ray Data, the workers' start and the first epoch.
            "first_epoch_s_incl_start": ticks[0] - job_started if ticks else float("nan"),
            "epoch_s": epoch_s,
            "windows_per_s": train_rows / epoch_s,
            "future_s": forecast_s,
            "series_per_s_future": items / forecast_s,
            "rolling_origin_s": scored,
            "forecasts": len(ahead),
            "test_mae_lstm": mae["lstm"],
            "test_mae_naive": mae["seasonal_naive"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--throughput-epochs", type=int, default=3)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "args": vars(args)}
    if not args.skip_accuracy:
        print("| case | series x origins | LSTM | LSTM, last-season skip | LSTM, skip by "
              "validation | plain LSTM | seasonal naive | SARIMA | ETS | LSTM < naive "
              "| LSTM - SARIMA (MAPE points) | skip kept on validation |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        out["accuracy"] = accuracy(epochs=args.epochs, seeds=args.seeds)
    if not args.skip_throughput:
        out["throughput"] = throughput(
            items=args.items, days=args.days, epochs=args.throughput_epochs
        )
        print(json.dumps(out["throughput"], indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "forecasting.json").write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
