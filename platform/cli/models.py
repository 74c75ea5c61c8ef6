"""`recplat models ...`: the model registry."""

from __future__ import annotations

from typing import Annotated

import typer
from recplat.cli.common import FeatureRepo, Home, console, context_from
from recplat.cli.tables import headline_metric
from rich.markup import escape
from rich.table import Table

models_app = typer.Typer(
    help="Model registry: list, show and promote versions.", no_args_is_help=True
)


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
            headline_metric(v.metrics, ("test_auc", "test_rmse", "test_mape"), digits=4),
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
    from recplat.cli.runs import kv_table

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
