"""`recplat runs ...`: training runs, their metrics per epoch and their lineage."""

from __future__ import annotations

from typing import Annotated

import typer
from recplat.cli.common import FeatureRepo, Home, console, context_from
from recplat.cli.tables import epochs_table, headline_metric, kv_table
from rich import box
from rich.markup import escape
from rich.table import Table

runs_app = typer.Typer(
    help="Training runs: status, metrics per epoch, lineage.", no_args_is_help=True
)

STATUS = {"finished": "green", "running": "cyan", "failed": "red", "interrupted": "yellow"}


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
            headline_metric(
                run.metrics, ("best_val_auc", "best_val_rmse", "best_val_mae"), digits=3
            ),
            headline_metric(run.metrics, ("test_auc", "test_rmse", "test_mape"), digits=3),
        )
    console.print(table)


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
        console.print(epochs_table(history))
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
