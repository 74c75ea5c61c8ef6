"""`recplat runs ...`: training runs, their metrics per epoch and their lineage."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from recplat.cli_common import FeatureRepo, Home, console, context_from, headline_metric
from rich import box
from rich.markup import escape
from rich.table import Table

runs_app = typer.Typer(
    help="Training runs: status, metrics per epoch, lineage.", no_args_is_help=True
)

STATUS = {"finished": "green", "running": "cyan", "failed": "red", "interrupted": "yellow"}


# Per-epoch columns of `runs show`, as present (rating models report RMSE and MAE).
EPOCH_COLUMNS = {
    "train_loss": "train loss",
    "val_auc": "val AUC",
    "val_gauc": "val GAUC",
    "val_logloss": "val logloss",
    "val_rmse": "val RMSE",
    "val_mae": "val MAE",
}


@runs_app.command("list")
def runs_list(
    model: Annotated[str | None, typer.Option(help="Only runs of this model.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Recent training runs, newest first."""
    ctx = context_from(feature_repo, home)
    table = Table(title="training runs", box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    table.add_column("run", justify="right", min_width=3, no_wrap=True)
    table.add_column("model", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("started", no_wrap=True)
    for name in ("epochs", "best val", "test"):
        table.add_column(name, justify="right", no_wrap=True)
    runs = [r for r in ctx.metadata.runs(limit=limit * 5) if model in (None, r.model_name)]
    for run in runs[:limit]:
        colour = STATUS.get(run.status, "white")
        table.add_row(
            str(run.id),
            run.model_name,
            f"[{colour}]{run.status}[/]",
            f"{run.started_at:%m-%d %H:%M}",
            str((run.metrics or {}).get("epochs_run", "")),
            headline_metric(run.metrics, ("best_val_auc", "best_val_rmse"), digits=3),
            headline_metric(run.metrics, ("test_auc", "test_rmse"), digits=3),
        )
    console.print(table)


def kv_table(title: str, values: dict[str, Any]) -> Table:
    table = Table("key", "value", title=title, box=box.SIMPLE_HEAD, show_header=False)
    for key, value in values.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        table.add_row(key, escape(shown))
    return table


@runs_app.command("show")
def runs_show(
    run_id: Annotated[int, typer.Argument(help="Run id (see `recplat runs list`).")],
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """One run: status, per-epoch metrics, test metrics, config and lineage."""
    ctx = context_from(feature_repo, home)
    try:
        run = ctx.metadata.run(run_id=run_id)
    except KeyError as exc:
        console.print(f"[red]{escape(str(exc.args[0]))}[/]")
        raise typer.Exit(1) from None
    colour = STATUS.get(run.status, "white")
    finished = f" -> {run.finished_at:%Y-%m-%d %H:%M:%S}" if run.finished_at else ""
    console.print(
        f"[bold]run {run.id}[/] {run.model_name} [{colour}]{run.status}[/] "
        f"({run.started_at:%Y-%m-%d %H:%M:%S}{finished} UTC)"
    )
    metrics = run.metrics or {}
    history = metrics.get("history") or []
    if history:
        table = Table(title="per epoch", box=box.SIMPLE_HEAD)
        shown = [k for k in EPOCH_COLUMNS if k in history[0]]
        for name in ("epoch", *(EPOCH_COLUMNS[k] for k in shown)):
            table.add_column(name, justify="right")
        for h in history:
            table.add_row(
                str(h.get("epoch")),
                *(f"{h[k]:.4f}" if isinstance(h.get(k), float) else "" for k in shown),
            )
        console.print(table)
    tests = {k: v for k, v in metrics.items() if k.startswith("test_") or k.startswith("best_")}
    if tests:
        console.print(kv_table("result", tests))
    console.print(kv_table("lineage", run.lineage or {}))
    options = (run.config or {}).get("options", {})
    console.print(kv_table("options", options))
    if run.status in ("failed", "interrupted"):
        console.print(f"resume with: recplat train --resume {run.id}")
    if run.storage_path:
        console.print(f"Ray Train storage: {run.storage_path}")
