"""`recplat`: the command line (typer). Run `recplat --help`."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from recplat.cli_common import (
    AllowFailures,
    FeatureRepo,
    Home,
    console,
    context_from,
    guard,
    headline_metric,
)
from recplat.features_cli import features_app
from recplat.quality_cli import quality_app
from recplat.runs_cli import runs_app
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from recplat.context import PlatformContext
    from recplat.events.importing import ImportedData
    from recplat.events.ingest import IngestResult
    from recplat.training.job import TrainOutcome


app = typer.Typer(
    help="recplat: feature-store-backed recommendation platform.", no_args_is_help=True
)
data_app = typer.Typer(help="Event data: generate and ingest.", no_args_is_help=True)
models_app = typer.Typer(
    help="Model registry: list, show and promote versions.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(quality_app, name="quality")
app.add_typer(models_app, name="models")
app.add_typer(runs_app, name="runs")


def _quiet_logs(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("great_expectations", "feast", "ray", "matplotlib", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
    if not verbose:
        # Library deprecation chatter (ibis, Ray Data, Serve's pydantic) is not for users.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        # Some libraries route warnings through logging (captureWarnings) with their own filters.
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show library logs.")] = False,
) -> None:
    """recplat: Feast features, Great Expectations gates, Ray Train models, Ray Serve ranking."""
    _quiet_logs(verbose)


@data_app.command("generate")
def data_generate(
    users: Annotated[int, typer.Option(help="Number of users.")] = 2000,
    items: Annotated[int, typer.Option(help="Number of items.")] = 1000,
    categories: Annotated[int, typer.Option(help="Item categories (on an interest ring).")] = 20,
    impressions: Annotated[
        int, typer.Option(help="Target number of impressions (training rows).")
    ] = 120_000,
    days: Annotated[int, typer.Option(help="Days of simulated traffic from 2026-01-01 UTC.")] = 30,
    drift: Annotated[
        float, typer.Option(help="Per-session probability that an interest drifts.")
    ] = 0.15,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Generate a synthetic event log and ingest it through the events gate."""
    from recplat.events.synthetic import GeneratorConfig
    from recplat.pipeline import generate_events

    ctx = context_from(feature_repo, home)
    config = GeneratorConfig(
        users=users,
        items=items,
        categories=categories,
        impressions=impressions,
        days=days,
        drift=drift,
        seed=seed,
    )
    with console.status("generating events and validating them..."):
        result = guard(
            lambda: generate_events(ctx, config=config, allow=tuple(allow_failures or ()))
        )
    console.print(
        f"accepted {result.events:,} events, {result.users:,} users, {result.items:,} items"
        f" -> {ctx.settings.events_path}"
    )


def _ingest_imported(
    ctx: PlatformContext,
    load: Callable[[], ImportedData],
    *,
    source: str,
    allow: list[str] | None,
) -> IngestResult:
    """Read a published data set (format errors: file, line, reason) and ingest it, gated."""
    from recplat.events.importing import ImportFormatError
    from recplat.events.ingest import ingest

    try:
        with console.status("reading the files..."):
            data = load()
    except ImportFormatError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from None
    with console.status("validating and ingesting..."):
        return guard(
            lambda: ingest(
                events=data.events,
                users=data.users,
                items=data.items,
                settings=ctx.settings,
                gate=ctx.gate,
                allow=tuple(allow or ()),
                source=source,
                ratings=data.ratings,
            )
        )


@data_app.command("import-movielens")
def data_import_movielens(
    folder: Annotated[Path, typer.Argument(help="A GroupLens ml-100k or ml-1m folder.")],
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Import MovieLens ratings (rating >= 4 is a click) through the events gate."""
    from recplat.events.movielens import load_movielens

    ctx = context_from(feature_repo, home)
    result = _ingest_imported(
        ctx, lambda: load_movielens(folder), source="movielens", allow=allow_failures
    )
    console.print(
        f"accepted {result.events:,} ratings as events, {result.users:,} users, "
        f"{result.items:,} movies -> {ctx.settings.events_path}; the ratings themselves "
        f"(for `recplat train --model rating_mlp`) -> {ctx.settings.ratings_path}"
    )


@data_app.command("import-amazon")
def data_import_amazon(
    reviews: Annotated[Path, typer.Argument(help="reviews_<Category>_5.json (one JSON per line).")],
    meta: Annotated[Path, typer.Argument(help="meta_<Category>.json (one object per line).")],
    negatives: Annotated[
        int, typer.Option(help="Unclicked impressions sampled per review (DIEN's setup).")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the negative sampling.")] = 0,
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Import Amazon reviews as in the DIEN paper (reviews are clicks, sampled negatives)."""
    from recplat.events.amazon import load_amazon

    ctx = context_from(feature_repo, home)
    result = _ingest_imported(
        ctx,
        lambda: load_amazon(reviews=reviews, meta=meta, negatives=negatives, seed=seed),
        source="amazon",
        allow=allow_failures,
    )
    sampled = result.events - result.ratings
    console.print(
        f"accepted {result.ratings:,} reviews as clicks and {sampled:,} sampled negatives, "
        f"{result.users:,} users, {result.items:,} items -> {ctx.settings.events_path}"
    )


@data_app.command("ingest")
def data_ingest(
    path: Annotated[Path, typer.Argument(help="A Parquet file of new events (event schema).")],
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Validate a batch file of new events and append it to the accepted log.

    A failing batch (or a file that is not Parquet) is quarantined with its
    report and nothing is appended. Columns: event_id, user_id, item_id,
    event_timestamp (UTC), event_type, clicked, hour, weekday, device.
    """
    from recplat.events.ingest import ingest_file

    ctx = context_from(feature_repo, home)
    with console.status(f"validating {path}..."):
        result = guard(
            lambda: ingest_file(
                path=path, settings=ctx.settings, gate=ctx.gate, allow=tuple(allow_failures or ())
            )
        )
    console.print(
        f"appended {result.events:,} events to {ctx.settings.events_path} "
        f"(validation run #{result.validation_run_id}); "
        "next: recplat features build && recplat features materialize"
    )


@app.command("train")
def train_command(
    model: Annotated[
        str | None,
        typer.Option(
            help="Model: din, dien, embedding_mlp, logistic_regression, or rating_mlp "
            "(explicit ratings of a MovieLens import, RMSE/MAE) [din]."
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
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Train a model on the point-in-time training set with Ray Train and register it.

    Runs on a local Ray, or on the cluster in RAY_ADDRESS (also under
    `ray job submit -- recplat train ...`). Ctrl-C leaves a resumable run.
    """
    import dataclasses

    from recplat.models.catalog import CATALOG
    from recplat.training.config import ConfigError, TrainConfig, load_config
    from recplat.training.job import (
        TrainOptions,
        prepare_training_data,
        resume_run,
        train_model,
    )
    from recplat.training.ratings import prepare_rating_data

    try:
        base = load_config(config) if config else TrainConfig(model=model or "din")
    except ConfigError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    name = model or base.model
    if name not in CATALOG:
        console.print(f"[red]unknown model {name!r}; choose one of {sorted(CATALOG)}[/]")
        raise typer.Exit(2)
    if name != base.model:
        base = dataclasses.replace(base, model=name, model_config={})
    overrides: dict[str, object] = {
        key: value
        for key, value in {
            "epochs": epochs,
            "batch_size": batch_size,
            "embed_dim": embed_dim,
            "num_workers": num_workers,
            "use_gpu": gpu,
            "seed": seed,
            "placement": placement,
        }.items()
        if value is not None
    }
    if lr is not None:
        overrides["optimizer"] = dataclasses.replace(base.optimizer, lr=lr)
    if placement is not None and placement not in ("pack", "spread", "strict_spread"):
        console.print(f"[red]--placement {placement!r}: choose pack, spread or strict_spread[/]")
        raise typer.Exit(2)
    options = TrainOptions.from_config(base, **overrides)
    ctx = context_from(feature_repo, home)
    if resume is not None:  # the data follow the resumed run's model, not the flags
        name = guard(lambda: ctx.metadata.run(run_id=resume)).model_name
    allow = tuple(allow_failures or ())
    if CATALOG[name].task == "regression":
        with console.status("validating and splitting the ratings..."):
            data = guard(
                lambda: prepare_rating_data(settings=ctx.settings, gate=ctx.gate, allow=allow)
            )
    else:
        with console.status("building the point-in-time training set..."):
            data = guard(
                lambda: prepare_training_data(settings=ctx.settings, gate=ctx.gate, allow=allow)
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


@contextlib.contextmanager
def _epoch_progress(title: str, epochs: int) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A progress bar over epochs, with each epoch's metrics printed as it finishes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(title, total=epochs)

        def on_epoch(m: dict[str, Any]) -> None:
            scores = ", ".join(
                f"{label} {m[key]:.4f}" for key, label in EPOCH_METRICS.items() if key in m
            )
            bar.console.print(f"  epoch {m['epoch']}: train loss {m['train_loss']:.4f}, {scores}")
            bar.update(task, completed=int(m["epoch"]) + 1)

        yield on_epoch


# Per-epoch validation metrics as printed (rating models report RMSE and MAE).
EPOCH_METRICS = {
    "val_auc": "val AUC",
    "val_gauc": "GAUC",
    "val_logloss": "logloss",
    "val_rmse": "val RMSE",
    "val_mae": "MAE",
}
TEST_METRICS = {
    "test_auc": "test AUC",
    "test_gauc": "test GAUC",
    "test_logloss": "test logloss",
    "test_rmse": "test RMSE",
    "test_mae": "test MAE",
}


def metrics_table(outcomes: list[TrainOutcome]) -> Table:
    """Test metrics of trained models side by side (only the columns some model has)."""
    table = Table(title="test metrics")
    table.add_column("model", no_wrap=True)
    shown = [k for k in TEST_METRICS if any(k in o.metrics for o in outcomes)]
    for name in ("version", *(TEST_METRICS[k] for k in shown), "epochs", "train rows"):
        table.add_column(name, justify="right")
    for o in outcomes:
        m = o.metrics
        table.add_row(
            o.model_name,
            str(o.version),
            *(f"{m[k]:.4f}" if k in m else "" for k in shown),
            str(m["epochs_run"]),
            f"{m['rows']['train']:,}",
        )
    return table


@models_app.command("list")
def models_list(
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """List registered model versions."""
    ctx = context_from(feature_repo, home)
    table = Table(
        "model",
        "version",
        "stage",
        "test metric",
        "run",
        "feature service",
        "created (UTC)",
        title="model registry",
    )
    for v in ctx.metadata.models(model_name=model):
        table.add_row(
            v.model_name,
            str(v.version),
            v.stage,
            headline_metric(v.metrics, ("test_auc", "test_rmse"), digits=4),
            str(v.run_id),
            v.feature_service,
            f"{v.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@models_app.command("promote")
def models_promote(
    model: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int, typer.Argument(help="Version to promote.")],
    stage: Annotated[str, typer.Option(help="Target stage.")] = "production",
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Move a model version to a stage (production archives the previous one)."""
    ctx = context_from(feature_repo, home)
    try:
        ctx.metadata.promote(model_name=model, version=version, stage=stage)
    except (LookupError, ValueError) as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from None
    console.print(f"{model} version {version} -> {stage}")


@models_app.command("show")
def models_show(
    model: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[
        int | None, typer.Argument(help="Version (default: production, else newest).")
    ] = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """One model version: stage, metrics, config, lineage (data, features, code, run)."""
    from recplat.runs_cli import kv_table

    ctx = context_from(feature_repo, home)
    try:
        v = ctx.metadata.resolve(model_name=model, version=version)
    except LookupError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from None
    console.print(
        f"[bold]{v.model_name} version {v.version}[/] ({v.stage}) from run {v.run_id}, "
        f"registered {v.created_at:%Y-%m-%d %H:%M:%S} UTC; artifact {v.artifact_path}"
    )
    console.print(kv_table("metrics", v.metrics))
    console.print(kv_table("lineage", v.lineage or {}))
    console.print(kv_table("model config", {k: val for k, val in v.config.items()}))


cluster_app = typer.Typer(
    help="A two-node Ray cluster on this machine (multi-node jobs without a second host).",
    no_args_is_help=True,
)
app.add_typer(cluster_app, name="cluster")


@cluster_app.command("up")
def cluster_up(
    port: Annotated[int, typer.Option(help="GCS port of the head node.")] = 6390,
    dashboard_port: Annotated[int, typer.Option(help="Dashboard / job submission port.")] = 8270,
    cpus_per_node: Annotated[int, typer.Option(help="CPUs each node offers.")] = 1,
) -> None:
    """Start a head node (resource node_a) and a second node (node_b) with their own ports."""
    from recplat.local_cluster import LocalCluster, start

    cluster = LocalCluster(port=port, dashboard_port=dashboard_port, cpus_per_node=cpus_per_node)
    with console.status("starting two Ray nodes..."):
        start(cluster)
    console.print(f"RAY_ADDRESS={cluster.address}   jobs: {cluster.jobs_url}")
    console.print(
        f"try: .venv/bin/ray job submit --address {cluster.jobs_url} -- "
        ".venv/bin/recplat train --model embedding_mlp --num-workers 2 --placement strict_spread"
    )


@cluster_app.command("down")
def cluster_down(
    port: Annotated[int, typer.Option(help="GCS port of the head node.")] = 6390,
) -> None:
    """Stop the nodes `recplat cluster up` started (and nothing else)."""
    from recplat.local_cluster import LocalCluster, stop

    console.print(f"stopped {stop(LocalCluster(port=port))} Ray processes")


@app.command("serve")
def serve_command(
    model: Annotated[str, typer.Option(help="Registered model to serve.")] = "din",
    version: Annotated[
        int | None, typer.Option(help="Version (default: production, else newest).")
    ] = None,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    replicas: Annotated[int, typer.Option(help="Serve replicas.")] = 1,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Serve POST /rank, GET /healthz, GET /model (OpenAPI at /docs) until Ctrl-C."""
    import ray
    from recplat.serving.launch import start_serving, stop_serving

    ctx = context_from(feature_repo, home)
    ctx.metadata.resolve(model_name=model, version=version)  # fail fast, before Ray starts
    with console.status("starting Ray Serve..."):
        url = start_serving(
            ctx.settings,
            model_name=model,
            model_version=version,
            host=host,
            port=port,
            num_replicas=replicas,
        )
    console.print(f"ranking API at {url}  (docs: {url}/docs; Ctrl-C to stop)")
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        while not stop["now"]:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("shutting down...")
        stop_serving()
        ray.shutdown()


@app.command("demo")
def demo_command(
    users: Annotated[int, typer.Option(help="Users to generate.")] = 2000,
    items: Annotated[int, typer.Option(help="Items to generate.")] = 1000,
    impressions: Annotated[
        int, typer.Option(help="Impressions to generate (training rows).")
    ] = 120_000,
    epochs: Annotated[int, typer.Option(help="Maximum training epochs per model.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the data and of training.")] = 7,
    port: Annotated[int, typer.Option(help="HTTP port of the ranking API during the demo.")] = 8000,
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Run everything end to end on the embedded default.

    generate -> GX gates -> Feast -> Ray Train -> registry -> Ray Serve -> HTTP.
    """
    from recplat.demo import DemoOptions, run_demo

    ctx = context_from(feature_repo, home)
    options = DemoOptions(
        users=users,
        items=items,
        impressions=impressions,
        epochs=epochs,
        seed=seed,
        port=port,
        allow_failures=tuple(allow_failures or ()),
    )
    guard(lambda: run_demo(ctx, options=options, console=console))
