"""Purchase propensity: `recplat train --model propensity`, `recplat score`, `recplat export
targets`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from recplat.cli.common import AllowFailures, FeatureRepo, Home, console, context_from, guard
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from recplat.cli.context import PlatformContext
    from recplat.propensity.dataset import AcceptedLog
    from recplat.propensity.rows import StepLog
    from recplat.propensity.task import PropensityTask
    from recplat.registry.store import ModelVersion
    from recplat.training.options import TrainOptions

MODEL = "propensity"
export_app = typer.Typer(help="Exports for other systems: marketing targets.", no_args_is_help=True)


def _task(
    log: AcceptedLog,
    *,
    task_file: Path | None,
    category: str | None,
    window_days: int,
    shift: int | None,
    cutoffs: list[datetime] | None,
    max_len: int,
    inputs: str,
    history: int,
) -> PropensityTask:
    """The task of a YAML file, or of the flags (defaults: the most-bought category,
    cutoffs a window apart ending with the log)."""
    import dataclasses

    from recplat.propensity.task import PropensityTask, resolve_category, task_from

    if task_file is not None:
        task = PropensityTask.from_yaml(task_file, categories=log.categories)
        if shift is not None:
            task = dataclasses.replace(task, shift=shift)
        if task.inputs == "sequence" and task.history is None:
            task = dataclasses.replace(task, history=history)
        return task
    return task_from(
        events=log.events,
        items=log.items,
        category=None if category is None else resolve_category(category, log.categories),
        window_days=window_days,
        max_len=max_len,
        shift=shift or 0,
        cutoffs=cutoffs,
        inputs=inputs,
        history=history if inputs == "sequence" else None,
    )


def train_propensity(
    ctx: PlatformContext,
    options: TrainOptions,
    *,
    allow: tuple[str, ...],
    task_file: Path | None,
    category: str | None,
    window_days: int,
    shift: int | None,
    cutoffs: str | None,
    balance: str,
    inputs: str = "log",
) -> None:
    """Build the task's rows (GX-gated), train with Ray Train, register, report the test
    metrics beside the baselines."""
    from recplat.cli.train import _epoch_progress
    from recplat.models.layers import Vocab
    from recplat.propensity.dataset import accepted_log, build_dataset
    from recplat.propensity.task import TaskError, as_cutoff
    from recplat.training.propensity_job import evaluate_models, train_propensity

    if balance not in ("natural", "1:1"):
        console.print(f"[red]--balance must be natural or 1:1, got {escape(balance)}[/]")
        raise typer.Exit(2)
    if inputs == "sequence" and ctx.settings.sequence_impressions:
        console.print(
            "[red]--inputs sequence reads the newest N behaviours of user_sequence; with "
            "RECPLAT_SEQUENCE_IMPRESSIONS=1 the store keeps impressions among them, which "
            "the log-built rows do not: train with --inputs log[/]"
        )
        raise typer.Exit(2)
    log = guard(lambda: accepted_log(ctx.settings))
    try:
        dates = (
            [as_cutoff(d.strip(), name="--cutoffs") for d in cutoffs.split(",")]
            if cutoffs
            else None
        )
        task = _task(
            log, task_file=task_file, category=category, window_days=window_days,
            shift=shift, cutoffs=dates, max_len=50, inputs=inputs,
            history=ctx.settings.sequence_length,
        )  # fmt: skip
    except TaskError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    with console.status(f"building the propensity rows of category {task.category} (GX)..."):
        steps = log.task_steps(task)
        data = guard(lambda: build_dataset(log=steps, task=task, gate=ctx.gate, allow=allow))
    console.print(_counts_table(data.counts(), task=task))
    vocab = Vocab(
        users=0, items=int(steps.item.max()) + 1, categories=int(steps.category.max()) + 1
    )
    with _epoch_progress(f"training propensity (category {task.category})", options.epochs) as cb:
        trained = guard(
            lambda: train_propensity(
                settings=ctx.settings, metadata=ctx.metadata, data=data, vocab=vocab,
                options=options, balance=balance,  # type: ignore[arg-type]
                on_epoch=cb,
            )
        )  # fmt: skip
    variant = "cnn_lstm" if trained.model.config.use_cnn else "lstm"  # type: ignore[union-attr]
    with console.status("scoring the test cutoff beside the baselines..."):
        results = evaluate_models(
            data=data, neural={variant: trained.model}, seed=options.seed,
            train_balance=balance,  # type: ignore[arg-type]
        )  # fmt: skip
    console.print(results_table(results))
    outcome = trained.outcome
    threshold = results[results["model"] == variant].set_index("protocol")["threshold"]
    console.print(
        f"registered propensity version {outcome.version} (run {outcome.run_id}); thresholds "
        f"(best validation F1): natural {threshold['natural']:.3f}, 1:1 "
        f"{threshold['1:1']:.3f}; score every user with `recplat score --model propensity`"
    )


def _counts_table(counts: pd.DataFrame, *, task: PropensityTask) -> Table:
    cutoffs = ", ".join(f"{c:%Y-%m-%d}" for c in task.train_cutoffs)
    table = Table(
        title=f"category {task.category}, {task.window_days}-day window; train {cutoffs}, "
        f"validation {task.validation_cutoff:%Y-%m-%d}, test {task.test_cutoff:%Y-%m-%d}"
        + (f", shift {task.shift}" if task.shift else "")
    )
    for column in ("split", "rows", "buyers", "rate"):
        table.add_column(column, justify="right")
    for _, row in counts.iterrows():
        table.add_row(
            row["split"], f"{row['rows']:,}", f"{row['positives']:,}", f"{row['rate']:.3f}"
        )
    return table


def results_table(results: pd.DataFrame) -> Table:
    """Test metrics per model and protocol, thresholds from validation."""
    table = Table(title="test cutoff (thresholds chosen on validation)")
    for column in ("model", "test balance", "PR-AUC", "ROC-AUC", "precision", "recall", "F1"):
        table.add_column(column, justify="right")
    for _, row in results.iterrows():
        table.add_row(
            row["model"], row["protocol"],
            *[f"{row[k]:.3f}" for k in ("pr_auc", "roc_auc", "precision", "recall", "f1")],
        )  # fmt: skip
    return table


def _resolve(ctx: PlatformContext, version: int | None) -> ModelVersion:
    try:
        return ctx.metadata.resolve(model_name=MODEL, version=version)
    except LookupError as exc:
        raise ValueError(
            f"{exc.args[0]}: `recplat train --config configs/train/propensity.yaml`"
        ) from None


def score_command(
    model: Annotated[str, typer.Option(help="What to score with: propensity.")] = MODEL,
    version: Annotated[
        int | None, typer.Option(help="Model version (default: production, else the newest).")
    ] = None,
    cutoff: Annotated[
        datetime | None,
        typer.Option(help="Score users as of this time, UTC (default: just after the log ends)."),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export",
            help="Instead of every user: score the (user_id, cutoff) rows of this CSV or "
            "Parquet file and write them to --output (nothing written to Feast).",
        ),
    ] = None,
    output: Annotated[Path, typer.Option(help="CSV the --export scores go to.")] = Path(
        "propensity_scores.csv"
    ),
    source: Annotated[
        str,
        typer.Option(
            help="Where users' behaviour is read: online (the online store's user_sequence; "
            "models trained with --inputs sequence), log (the accepted event log), or auto "
            "(online when the model reads sequences)."
        ),
    ] = "auto",
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Score every user at a cutoff with a propensity model (a Ray Data batch job), check
    the scores with GX and write the `user_propensity` feature view (offline + online).

    Read them with `recplat features get-online --service user_propensity_v1 --user-id U`
    or export the best targets with `recplat export targets`.
    """
    from recplat.propensity.dataset import accepted_log
    from recplat.propensity.rows import build_rows, epoch_seconds
    from recplat.propensity.scoring import (
        chosen_rows,
        default_cutoff,
        rows_at,
        score_frame,
        score_with_ray,
        task_of,
        write_scores,
    )
    from recplat.registry.artifacts import load_artifact
    from recplat.runtime.ray_session import ensure_ray

    if model != MODEL:
        console.print(f"[red]only the propensity model scores users; got {escape(model)}[/]")
        raise typer.Exit(2)
    ctx = context_from(feature_repo, home)
    allow = tuple(allow_failures or ())
    registered = guard(lambda: _resolve(ctx, version))
    artifact = load_artifact(Path(registered.artifact_path))
    task = guard(lambda: task_of(artifact))
    if source == "auto":
        source = "online" if task.inputs == "sequence" else "log"
    if source not in ("online", "log"):
        console.print(f"[red]--source must be online, log or auto, got {escape(source)}[/]")
        raise typer.Exit(2)
    if source == "online" and (task.inputs != "sequence" or export is not None):
        console.print(
            "[red]--source online needs a model trained on what the store holds "
            "(`recplat train --model propensity --inputs sequence`), and scores every user "
            "now (not --export rows)[/]"
        )
        raise typer.Exit(2)
    if source == "online":
        log = guard(lambda: _online_steps(ctx))
    else:
        log = guard(lambda: accepted_log(ctx.settings)).task_steps(task)
    if export is not None:
        pairs = guard(lambda: chosen_rows(export))
        rows = build_rows(
            log, users=pairs["user_id"].to_numpy(), cutoffs_s=epoch_seconds(pairs["cutoff"]),
            category=task.category, max_len=task.max_len, window_days=None, history=task.history,
        )  # fmt: skip
    else:
        at = cutoff.replace(tzinfo=cutoff.tzinfo or UTC) if cutoff else None
        if at is None and source == "online":
            at = datetime.now(UTC)  # the store holds behaviour up to now
        rows = guard(lambda: rows_at(log, task=task, cutoff=at or default_cutoff(log)))
    with console.status(f"scoring {len(rows.frame):,} rows with Ray Data..."):
        ensure_ray(ctx.settings)
        _quiet_ray_data()
        scores = score_with_ray(artifact_path=Path(registered.artifact_path), rows=rows)
    frame = score_frame(rows, scores, category=task.category, version=registered.version)
    if export is not None:
        out = frame.rename(columns={"event_timestamp": "cutoff"})[
            ["user_id", "cutoff", "propensity_score", "propensity_category",
             "propensity_model_version"]
        ]  # fmt: skip
        output.parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(output, index=False)
        console.print(f"wrote {len(out):,} scores (version {registered.version}) -> {output}")
        return
    with console.status("checking and writing user_propensity..."):
        written = guard(
            lambda: write_scores(settings=ctx.settings, gate=ctx.gate, scores=frame, allow=allow)
        )
    console.print(
        f"wrote {written.rows:,} propensity scores for category {task.category} at "
        f"{written.stamp:%Y-%m-%d %H:%M} (version {registered.version}; validation run "
        f"{written.validation_run_id}) -> {written.offline_path} and the online store; "
        f"targets: recplat export targets --category {task.category} --top 100"
    )


def _quiet_ray_data() -> None:
    """Ray Data's per-operator progress lines are for its developers, not for this table."""
    import logging

    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def _online_steps(ctx: PlatformContext) -> StepLog:
    """Every catalogued user's sequence from the online store."""
    from recplat.features.repo import open_store
    from recplat.io.parquet import read_parquet
    from recplat.propensity.online import online_steps

    users = read_parquet(ctx.settings.catalog_dir / "users.parquet")["user_id"].to_numpy()
    with console.status(f"reading {len(users):,} users' sequences from the online store..."):
        return online_steps(open_store(ctx.settings.feature_repo), users=users)


@export_app.command("targets")
def export_targets(
    category: Annotated[str, typer.Option(help="Category id (or name, for an imported log).")],
    top: Annotated[int, typer.Option(help="How many users, by score.")] = 100,
    output: Annotated[Path, typer.Option(help="CSV to write.")] = Path("targets.csv"),
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Write the users most likely to buy in a category (their latest propensity scores)
    as a CSV: user_id, score, cutoff, model version."""
    from recplat.propensity.dataset import accepted_log
    from recplat.propensity.scoring import top_targets
    from recplat.propensity.task import TaskError, resolve_category

    ctx = context_from(feature_repo, home)
    names = accepted_log(ctx.settings).categories if ctx.settings.events_path.exists() else None
    try:
        category_id = resolve_category(category, names)
    except TaskError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    best = guard(lambda: top_targets(ctx.settings, category=category_id, top=top))
    out = pd.DataFrame(
        {
            "user_id": best["user_id"],
            "score": best["propensity_score"].round(6),
            "cutoff": best["event_timestamp"],
            "model_version": best["propensity_model_version"],
        }
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(output, index=False)
    table = Table(title=f"top {min(top, len(out))} of category {category_id}")
    for column in ("user", "score"):
        table.add_column(column, justify="right")
    for _, row in out.head(10).iterrows():
        table.add_row(str(int(row["user_id"])), f"{row['score']:.4f}")
    console.print(table)
    console.print(f"wrote {len(out):,} targets -> {output}")
