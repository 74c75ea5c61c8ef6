"""`recplat forecast FILE` and `recplat forecast-demand`: the LSTM forecaster on any regular
series, scored by rolling origin against seasonal naive, SARIMA and ETS; item demand
forecasts written back to Feast."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from recplat.cli.common import AllowFailures, FeatureRepo, Home, console, context_from, guard
from rich import box
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd
    from recplat.cli.context import PlatformContext
    from recplat.forecasting.evaluation import Evaluation
    from recplat.forecasting.series import SeriesSet
    from recplat.registry.store import MetadataStore
    from recplat.registry.tables import ModelVersion
    from recplat.training.forecast_data import ForecastSetup
    from recplat.training.forecast_job import TrainedForecaster
    from recplat.training.options import TrainOptions

BASELINES = ("seasonal_naive", "sarima", "ets")
SHOWN_METRICS = (("mape", "MAPE %"), ("smape", "sMAPE %"), ("mae", "MAE"))
SHORT = {"seasonal_naive": "naive"}  # column titles


def forecast_command(
    path: Annotated[
        Path,
        typer.Argument(
            help="Series file, CSV or Parquet: timestamp, value and optionally series_id "
            "(one model over all series).",
            show_default=False,
        ),
    ],
    freq: Annotated[str, typer.Option(help="Step of the grid: D (day), W (week), M (month).")],
    season: Annotated[int, typer.Option(help="Steps per season (7 daily, 52 weekly, 12 monthly).")],
    horizon: Annotated[int, typer.Option(help="Steps forecast at once from each origin.")],
    lookback: Annotated[
        int | None,
        typer.Option(
            help="Steps the model reads before an origin "
            "(default: 3 seasons or 2 horizons, the longer)."
        ),
    ] = None,
    test_size: Annotated[
        int | None,
        typer.Option(help="Last steps scored by rolling origin [2 horizons]."),
    ] = None,
    validation_size: Annotated[
        int | None,
        typer.Option(help="Steps before the test part that choose the epoch [2 horizons]."),
    ] = None,
    step: Annotated[int, typer.Option(help="Steps between test origins.")] = 1,
    epochs: Annotated[int, typer.Option(help="Maximum epochs (early stopping on val MAE).")] = 40,
    hidden: Annotated[int, typer.Option(help="LSTM hidden size.")] = 64,
    rolling: Annotated[
        int | None,
        typer.Option(help="Window of the rolling mean and variance (default: one season)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Windows per step.")] = 128,
    seed: Annotated[int, typer.Option(help="Seed of init and shuffling.")] = 0,
    skip_baseline: Annotated[
        str,
        typer.Option(
            help="What the LSTM's residual is over: profile (the window's average season), "
            "last_season, or auto (train both, keep the lower validation MAE; measured "
            "worse on average than profile: docs/benchmarks.md)."
        ),
    ] = "profile",
    baselines: Annotated[
        str, typer.Option(help="Comma-separated baselines: seasonal_naive, sarima, ets.")
    ] = ",".join(BASELINES),
    fill_gaps: Annotated[
        str | None,
        typer.Option(
            "--fill-gaps", help="Fill missing steps: interpolate or zero (default: refuse gaps)."
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(help="PNG of the history, forecasts and baselines [HOME/forecasts/...]."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="CSV of the future forecasts [HOME/forecasts/..._forecast.csv]."),
    ] = None,
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Train the LSTM forecaster on a series file (Ray Train), score it by rolling origin
    against seasonal naive, SARIMA and ETS, and forecast the next HORIZON steps.

    The file is checked with GX first: a regular grid, no duplicates, numeric values;
    gaps are named with their dates and filled only with --fill-gaps. The last
    --test-size steps are the test part: from each origin there every model sees
    only the history before it. SARIMA / ETS orders are chosen by AIC on the steps
    before the test part; the LSTM trains before the validation part and chooses
    its epoch on it.
    """
    from recplat.forecasting.series import SeriesError, load_series
    from recplat.models.lstm_forecaster import SKIP_BASELINES
    from recplat.training.forecast_data import NO_IDS, ForecastSetup
    from recplat.training.forecast_job import rolling_origin
    from recplat.training.options import TrainOptions

    if skip_baseline not in (*SKIP_BASELINES, "auto"):
        console.print(f"[red]--skip-baseline {skip_baseline!r}: profile, last_season or auto[/]")
        raise typer.Exit(2)
    chosen = tuple(b.strip() for b in baselines.split(",") if b.strip())
    unknown = sorted(set(chosen) - set(BASELINES))
    if unknown:
        console.print(f"[red]unknown baseline(s) {unknown}; choose from {list(BASELINES)}[/]")
        raise typer.Exit(2)
    window = lookback if lookback is not None else max(3 * season, 2 * horizon)
    try:
        setup = ForecastSetup(
            lookback=window,
            horizon=horizon,
            rolling=rolling or season,
            test_size=test_size,
            validation_size=validation_size,
            step=step,
        )
        options = TrainOptions(
            model_name="forecaster",
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            patience=5,
            model_params={
                "lookback": window,
                "horizon": horizon,
                "season": season,
                "hidden": hidden,
                "rolling": setup.rolling,
            },
        )
        options.model_config(NO_IDS)  # bad sizes fail here
    except ValueError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    ctx = context_from(feature_repo, home)
    with console.status(f"checking {path} (GX)..."):
        try:
            series = load_series(
                path, freq=freq, gate=ctx.gate, fill=fill_gaps, allow=tuple(allow_failures or ())
            )
        except SeriesError as exc:
            console.print(f"[red]{escape(str(exc))}[/]")
            raise typer.Exit(1) from None
    ids = series.ids()
    filled = f", {series.filled} gap step(s) filled ({fill_gaps})" if series.filled else ""
    console.print(
        f"{path}: {len(ids)} series, {len(series.frame):,} steps ({freq}){filled}; "
        f"validation run {series.validation_run_id}"
    )
    skips = SKIP_BASELINES if skip_baseline == "auto" else (skip_baseline,)
    candidates = []
    for skip in skips:
        params = options.model_params | {"skip_baseline": skip}
        candidates.append(
            train_with_progress(
                ctx, series=series, setup=setup, source=f"file:{path.name}",
                options=dataclasses.replace(options, model_params=params),
                title=f"training the forecaster (skip over {skip})",
            )
        )  # fmt: skip
    best = min(
        range(len(skips)), key=lambda i: float(candidates[i].outcome.metrics["best_val_mae"])
    )
    trained = candidates[best]
    if len(candidates) > 1:
        scores = ", ".join(
            f"{skip} {float(c.outcome.metrics['best_val_mae']):.4f} (version {c.outcome.version})"
            for skip, c in zip(skips, candidates, strict=True)
        )
        console.print(f"skip baseline chosen on validation MAE: {skips[best]} ({scores})")
    outcome = trained.outcome
    with console.status(f"rolling-origin evaluation ({', '.join(('lstm', *chosen))})..."):
        total, per_series = rolling_origin(trained, baselines=chosen)
    first = trained.prepared[0]
    origins = len(first.origins["test"])
    console.print(
        f"test part: last {setup.sizes()[0]} steps from "
        f"{first.stamps[first.points.test_start]:%Y-%m-%d}, {origins} origin(s) per series "
        f"every {step} step(s), horizon {horizon}"
    )
    console.print(step_table(total, horizon=horizon))
    console.print(overall_table(total))
    if len(per_series) > 1:
        console.print(series_wins(per_series))
    future_frame = _future(trained, series)
    stem = path.stem
    out_dir = ctx.settings.home / "forecasts"
    csv = output or out_dir / f"{stem}_forecast.csv"
    csv.parent.mkdir(parents=True, exist_ok=True)
    future_frame.to_csv(csv, index=False)
    png = _plot(trained, per_series, future_frame, path=plot or out_dir / f"{stem}.png", name=stem)
    console.print(
        f"registered forecaster version {outcome.version} (run {outcome.run_id}); "
        f"future: {csv} ({len(future_frame):,} rows); plot: {png}"
    )


def train_with_progress(
    ctx: PlatformContext,
    *,
    series: SeriesSet,
    options: TrainOptions,
    setup: ForecastSetup,
    source: str,
    title: str,
) -> TrainedForecaster:
    """Train and register a forecaster through Ray Train, an epoch bar on the console."""
    from recplat.cli.train import _epoch_progress
    from recplat.training.forecast_job import train_forecaster

    with _epoch_progress(title, options.epochs) as on_epoch:
        return guard(
            lambda: train_forecaster(
                settings=ctx.settings,
                metadata=ctx.metadata,
                series=series,
                options=options,
                setup=setup,
                source=source,
                on_epoch=on_epoch,
            )
        )


def _future(trained: TrainedForecaster, series: SeriesSet) -> pd.DataFrame:
    from recplat.training.forecast_job import future

    setup = trained.setup
    return future(
        trained.model,
        series,
        lookback=setup.lookback,
        horizon=setup.horizon,
        rolling=setup.rolling,
        scalings={item.series_id: item.scaling for item in trained.prepared},
    )


def _plot(
    trained: TrainedForecaster,
    per_series: dict[str, Evaluation],
    future_frame: pd.DataFrame,
    *,
    path: Path,
    name: str,
) -> Path:
    """The first series (the one a single-series file has): history, test forecasts, future."""
    import pandas as pd
    from recplat.forecasting.plot import plot_forecasts

    item = trained.prepared[0]
    ahead = future_frame[future_frame["series_id"] == item.series_id]
    return plot_forecasts(
        stamps=item.stamps,
        values=item.values,
        origins=item.origins["test"],
        forecasts=per_series[item.series_id].forecasts,
        future_stamps=pd.DatetimeIndex(ahead["timestamp"]),
        future=ahead["forecast"].to_numpy(),
        test_start=item.points.test_start,
        title=f"{name}: {item.series_id}, rolling-origin forecasts and the next "
        f"{trained.setup.horizon} steps",
        path=path,
    )


def step_table(evaluation: Evaluation, *, horizon: int) -> Table:
    """Per horizon step: each model's MAPE, sMAPE and MAE over the origins (a section each)."""
    table = Table(title="per horizon step, over the test origins", box=box.SIMPLE_HEAD)
    models = list(evaluation.overall["model"])
    table.add_column("metric")
    table.add_column("step", justify="right")
    for model in models:
        table.add_column(SHORT.get(model, model), justify="right")
    steps = evaluation.per_step.set_index(["model", "step"])
    for key, title in SHOWN_METRICS:
        for h in range(1, horizon + 1):
            table.add_row(
                title if h == 1 else "",
                str(h),
                *(_number(steps.loc[(m, h), key]) for m in models),
            )
        table.add_section()
    return table


def overall_table(evaluation: Evaluation) -> Table:
    """Each model over every origin and step, with its MAPE against seasonal naive; the
    orders SARIMA / ETS chose as the caption."""
    table = Table(title="overall (every origin and step)", box=box.SIMPLE_HEAD)
    table.add_column("model")
    for _, title in (*SHOWN_METRICS, ("rmse", "RMSE")):
        table.add_column(title, justify="right")
    table.add_column("MAPE / naive", justify="right")
    rows = evaluation.overall.set_index("model")
    naive = rows["mape"].get("seasonal_naive")
    for model, row in rows.iterrows():
        ratio = f"{row['mape'] / naive:.2f}x" if naive else ""
        table.add_row(
            str(model), *(_number(row[key]) for key in ("mape", "smape", "mae", "rmse")), ratio
        )
    specs = [f"{m}: {spec}" for m, spec in rows["spec"].items() if spec and m != "seasonal_naive"]
    if specs:
        table.caption = escape("chosen by AIC: " + "; ".join(specs))
    return table


def series_wins(per_series: dict[str, Evaluation]) -> Table:
    """How many series each model forecasts best (lowest MAPE)."""
    import pandas as pd

    frame = pd.concat(
        [e.overall.assign(series=s) for s, e in per_series.items()], ignore_index=True
    )
    best = frame.loc[frame.groupby("series")["mape"].idxmin(), "model"].value_counts()
    table = Table(title=f"best MAPE, of {len(per_series)} series", box=box.SIMPLE_HEAD)
    table.add_column("model")
    table.add_column("series", justify="right")
    for model in frame["model"].unique():
        table.add_row(str(model), str(int(best.get(model, 0))))
    return table


def _number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"  # NaN: no nonzero actual (MAPE)


def forecast_demand_command(
    version: Annotated[
        int | None, typer.Option(help="Forecaster version (default: production, else the newest).")
    ] = None,
    top: Annotated[int, typer.Option(help="Items shown, by forecast 7-day demand.")] = 10,
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Forecast every item's demand (daily clicks) with the registered forecaster and write
    the `item_demand_forecast` view (offline source + online store), GX-checked.

    Train the forecaster on item demand first: `recplat train --config
    configs/train/forecaster.yaml`. Read the view with `recplat features get-online
    --service item_demand_v1 --user-id U --item-id I`.
    """
    from recplat.forecasting.demand import forecast_rows, item_demand, write_demand_forecasts
    from recplat.registry.artifacts import load_artifact
    from recplat.training.forecast_job import future

    ctx = context_from(feature_repo, home)
    allow = tuple(allow_failures or ())
    model = guard(lambda: _resolve(ctx.metadata, version))
    artifact = load_artifact(Path(model.artifact_path))
    config = artifact.config
    with console.status("counting daily item demand from the event log (GX)..."):
        demand = guard(lambda: item_demand(settings=ctx.settings, gate=ctx.gate, allow=allow))
    with console.status(f"forecasting {len(demand.ids()):,} items..."):
        forecasts = guard(
            lambda: future(
                artifact.model,
                demand,
                lookback=config.lookback,
                horizon=config.horizon,
                rolling=config.rolling,
            )
        )
        rows = guard(lambda: forecast_rows(forecasts, model_version=model.version))
    with console.status("checking and writing item_demand_forecast..."):
        written = guard(
            lambda: write_demand_forecasts(
                settings=ctx.settings, gate=ctx.gate, rows=rows, allow=allow
            )
        )
    table = Table(title=f"highest forecast demand from {written.origin:%Y-%m-%d}")
    for column in ("item", "next day", "next 7 days"):
        table.add_column(column, justify="right")
    for _, row in rows.nlargest(top, "demand_next_7d").iterrows():
        table.add_row(
            str(int(row["item_id"])),
            f"{row['demand_next_1d']:.1f}",
            f"{row['demand_next_7d']:.1f}",
        )
    console.print(table)
    console.print(
        f"wrote {written.rows:,} rows of item_demand_forecast (forecaster version "
        f"{model.version}; validation run {written.validation_run_id}) -> "
        f"{written.offline_path} and the online store"
    )


def _resolve(metadata: MetadataStore, version: int | None) -> ModelVersion:
    try:
        return metadata.resolve(model_name="forecaster", version=version)
    except LookupError as exc:
        raise ValueError(
            f"{exc.args[0]}: `recplat train --config configs/train/forecaster.yaml`"
        ) from None
