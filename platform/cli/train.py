"""`recplat train`: the point-in-time training set, Ray Train, the registry."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from recplat.cli.common import AllowFailures, FeatureRepo, Home, console, context_from, guard
from recplat.cli.tables import epoch_line, metrics_table
from rich.markup import escape

if TYPE_CHECKING:
    from recplat.cli.context import PlatformContext
    from recplat.training.options import TrainOptions


def train_command(
    model: Annotated[
        str | None,
        typer.Option(
            help="Model: din, dien, embedding_mlp, logistic_regression, rating_mlp "
            "(explicit ratings of a MovieLens import, RMSE/MAE), forecaster (daily "
            "item demand of the event log, one global LSTM) or propensity (CNN + LSTM: "
            "who buys in a category within a window); default din."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="YAML with the model, optimiser, schedule and job settings "
            "(see configs/); flags given here override it.",
        ),
    ] = None,
    resume: Annotated[
        int | None,
        typer.Option(
            "--resume",
            help="Continue an interrupted or failed run from its last checkpoint "
            "(its recorded settings; --epochs may extend it).",
        ),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option(help="Maximum epochs (early stopping on validation AUC) [3].")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Rows per step, per worker [512].")] = None,
    lr: Annotated[float | None, typer.Option(help="Learning rate [2e-3].")] = None,
    embed_dim: Annotated[int | None, typer.Option(help="Embedding size [16].")] = None,
    num_workers: Annotated[
        int | None, typer.Option(help="Ray Train workers, DDP when > 1 [1].")
    ] = None,
    gpu: Annotated[
        bool | None, typer.Option("--gpu/--cpu", help="One GPU per worker (bf16 autocast).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of init and shuffling [0].")] = None,
    placement: Annotated[
        str | None,
        typer.Option(help="Worker placement: pack, spread or strict_spread (one per node)."),
    ] = None,
    feature_service: Annotated[
        str | None,
        typer.Option(
            help="Train on this feature service instead of the model's own "
            "(e.g. ranking_v1, for an ablation); see `recplat features list`."
        ),
    ] = None,
    task: Annotated[
        Path | None,
        typer.Option(
            "--task",
            help="propensity: task YAML (category, window_days, train_cutoffs, "
            "validation_cutoff, test_cutoff, shift); see configs/propensity/task.yaml.",
        ),
    ] = None,
    category: Annotated[
        str | None,
        typer.Option(help="propensity: target category id or name (default: most bought)."),
    ] = None,
    window_days: Annotated[
        int, typer.Option(help="propensity: label window W after each cutoff, days.")
    ] = 7,
    cutoffs: Annotated[
        str | None,
        typer.Option(
            help="propensity: comma-separated dates, training..., validation, test "
            "(default: a window apart, ending with the log)."
        ),
    ] = None,
    shift: Annotated[
        int | None,
        typer.Option(help="propensity: shifting augmentation, extra positives per user (0)."),
    ] = None,
    balance: Annotated[
        str, typer.Option(help="propensity: training rows at natural balance or 1:1.")
    ] = "natural",
    inputs: Annotated[
        str,
        typer.Option(
            help="propensity: log (every step, with amounts) or sequence (what the online "
            "store's user_sequence holds, so `recplat score` reads the store)."
        ),
    ] = "log",
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Train a model on the point-in-time training set with Ray Train and register it.

    Runs on a local Ray, or on the cluster in RAY_ADDRESS (also under
    `ray job submit -- recplat train ...`). Ctrl-C leaves a resumable run.
    """
    from recplat.models.catalog import CATALOG
    from recplat.training.options import ConfigError, TrainOptions, load_options, with_flags
    from recplat.training.ratings import prepare_rating_data
    from recplat.training.ray_driver import resume_run, train_model
    from recplat.training.training_set import prepare_training_data

    try:
        base = load_options(config) if config else TrainOptions(model_name=model or "din")
        options = with_flags(
            base,
            model=model,
            lr=lr,
            epochs=epochs,
            batch_size=batch_size,
            embed_dim=embed_dim,
            num_workers=num_workers,
            use_gpu=gpu,
            seed=seed,
            placement=placement,
            feature_service=feature_service,
        )
    except ConfigError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    name = options.model_name
    ctx = context_from(feature_repo, home)
    if resume is not None:  # the data follow the resumed run's model and service, not the flags
        record = guard(lambda: ctx.metadata.run(run_id=resume))
        name = record.model_name
        if CATALOG[name].task != "regression":
            options = TrainOptions.from_record(record.config["options"])
    allow = tuple(allow_failures or ())
    if CATALOG[name].task == "forecast":
        if resume is not None:
            console.print("[red]a forecaster run is not resumed: train it again (minutes)[/]")
            raise typer.Exit(2)
        _train_forecaster(ctx, options, allow=allow)
        return
    if name == "propensity":
        from recplat.cli.propensity import train_propensity

        if resume is not None:
            console.print("[red]a propensity run is not resumed: train it again (minutes)[/]")
            raise typer.Exit(2)
        train_propensity(
            ctx, options, allow=allow, task_file=task, category=category,
            window_days=window_days, shift=shift, cutoffs=cutoffs, balance=balance, inputs=inputs,
        )  # fmt: skip
        return
    if CATALOG[name].task == "regression":
        with console.status("validating and splitting the ratings..."):
            data = guard(
                lambda: prepare_rating_data(settings=ctx.settings, gate=ctx.gate, allow=allow)
            )
    else:
        with console.status(f"building the point-in-time training set ({options.service})..."):
            data = guard(
                lambda: prepare_training_data(
                    settings=ctx.settings,
                    gate=ctx.gate,
                    feature_service=options.service,
                    allow=allow,
                    min_user_count=options.min_user_count,
                )
            )
    what = f"run {resume}" if resume is not None else name
    epochs_total = epochs if resume is not None and epochs else options.epochs
    try:
        with _epoch_progress(f"training {what}", epochs_total) as on_epoch:
            if resume is not None:
                outcome = guard(
                    lambda: resume_run(
                        settings=ctx.settings,
                        data=data,
                        metadata=ctx.metadata,
                        run_id=resume,
                        epochs=epochs,
                        on_epoch=on_epoch,
                    )
                )
            else:
                outcome = train_model(
                    settings=ctx.settings,
                    data=data,
                    options=options,
                    metadata=ctx.metadata,
                    on_epoch=on_epoch,
                )
    except KeyboardInterrupt:
        latest = ctx.metadata.runs(limit=1)
        hint = f" --resume {latest[0].id}" if latest else " --resume RUN"
        console.print(f"[yellow]interrupted; continue with: recplat train{hint}[/]")
        raise typer.Exit(130) from None
    console.print(metrics_table([outcome]))
    console.print(
        f"registered {outcome.model_name} version {outcome.version} (run {outcome.run_id}); "
        f"curves: {outcome.artifact_path / 'curves.png'}"
    )


def _train_forecaster(
    ctx: PlatformContext, options: TrainOptions, *, allow: tuple[str, ...]
) -> None:
    """The global forecaster over every item's daily demand (clicks), by the same driver."""
    from recplat.cli.forecast import overall_table, train_with_progress
    from recplat.forecasting.demand import item_demand
    from recplat.training.forecast_data import NO_IDS
    from recplat.training.forecast_job import rolling_origin, setup_from

    with console.status("counting daily item demand from the event log (GX)..."):
        demand = guard(lambda: item_demand(settings=ctx.settings, gate=ctx.gate, allow=allow))
    # Event logs are short: the validation and test parts are one horizon each.
    config = options.model_config(NO_IDS)
    setup = guard(
        lambda: setup_from(options, test_size=config.horizon, validation_size=config.horizon)
    )
    days = len(demand.series(demand.ids()[0]))
    needed = setup.min_length()
    if days < needed:
        console.print(
            f"[red]the event log holds {days} complete days; lookback {setup.lookback} + "
            f"3 x horizon {setup.horizon} need {needed}[/]: generate a longer log "
            f"(`recplat data generate --days {needed + 10}`) or lower the lookback"
        )
        raise typer.Exit(1)
    trained = train_with_progress(
        ctx, series=demand, options=options, setup=setup, source="item_demand",
        title=f"training forecaster on {len(demand.ids()):,} items",
    )  # fmt: skip
    with console.status("rolling-origin evaluation against seasonal naive..."):
        total, _ = rolling_origin(trained, baselines=("seasonal_naive",))
    console.print(metrics_table([trained.outcome]))
    console.print(overall_table(total))
    outcome = trained.outcome
    console.print(
        f"registered forecaster version {outcome.version} (run {outcome.run_id}); write "
        "its forecasts to Feast with `recplat forecast-demand`"
    )


@contextlib.contextmanager
def _epoch_progress(title: str, epochs: int) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A progress bar over epochs, with each epoch's metrics printed as it finishes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(title, total=epochs)

        def on_epoch(m: dict[str, Any]) -> None:
            bar.console.print(f"  {epoch_line(m)}")
            bar.update(task, completed=int(m["epoch"]) + 1)

        yield on_epoch
