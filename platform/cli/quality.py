"""`recplat quality ...`: validate datasets, list and show runs, write HTML reports."""

from __future__ import annotations

import webbrowser
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from recplat.cli.common import AllowFailures, FeatureRepo, Home, console, context_from
from recplat.cli.context import PlatformContext
from recplat.registry.store import MetadataStore
from recplat.registry.tables import ValidationRun
from rich import box
from rich.markup import escape
from rich.table import Table

quality_app = typer.Typer(
    help="Data quality: validate datasets, list and show validation runs, HTML reports.",
    no_args_is_help=True,
)


class Dataset(StrEnum):
    """Datasets `recplat quality validate` knows."""

    events = "events"
    user_profile = "user_profile"
    item_attributes = "item_attributes"
    user_sequence = "user_sequence"
    training_set = "training_set"
    online = "online"


def _result(run: ValidationRun) -> str:
    if not run.success:
        return "[red]FAIL[/]"
    return "[yellow]pass*[/]" if run.accepted_failures else "[green]pass[/]"


def _validate(
    ctx: PlatformContext, dataset: Dataset, file: Path | None, allow: tuple[str, ...]
) -> int:
    from recplat.features.build import table_specs
    from recplat.io.parquet import read_parquet
    from recplat.quality.online import check_online
    from recplat.quality.suites import events_suite
    from recplat.training.training_set import prepare_training_data

    settings, gate = ctx.settings, ctx.gate
    if dataset is Dataset.online:
        return check_online(settings=settings, gate=gate, allow=allow)
    if dataset is Dataset.training_set:
        return prepare_training_data(settings=settings, gate=gate, allow=allow).validation_run_id
    if dataset is Dataset.events:
        spec = events_suite()
        default = settings.events_path
    else:
        events = read_parquet(settings.events_path)
        items = read_parquet(settings.catalog_dir / "items.parquet")
        spec = table_specs(settings=settings, events=events, items=items)[dataset.value]
        default = settings.offline_dir / f"{dataset.value}.parquet"
    path = file or default
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    _, run_id = gate.check_file(path=path, spec=spec, allow=allow, stage="manual")
    return run_id


@quality_app.command("validate")
def quality_validate(
    dataset: Annotated[Dataset, typer.Argument(help="Which dataset's suite to run.")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Validate this Parquet file instead of the stored dataset "
            "(events and feature tables).",
        ),
    ] = None,
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Run a dataset's suite now, record the run and write its report.

    Stored data by default: the accepted event log, the published feature
    tables, a freshly joined training set, or a sample read back from the
    online store. Exit code 1 when it fails (the data is quarantined).
    """
    from recplat.quality.gate import DataQualityError
    from recplat.quality.report import write_run_page

    ctx = context_from(feature_repo, home)
    allow = tuple(allow_failures or ())
    try:
        with console.status(f"validating {dataset.value}..."):
            run_id = _validate(ctx, dataset, file, allow)
    except DataQualityError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        if exc.run_id is not None:
            page = write_run_page(
                metadata=ctx.metadata, root=ctx.settings.reports_dir, run_id=exc.run_id
            )
            console.print(f"report: {page}")
        raise typer.Exit(1) from None
    except FileNotFoundError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from None
    run = ctx.metadata.validation(run_id=run_id)
    _print_runs([run], title="validation")
    page = write_run_page(metadata=ctx.metadata, root=ctx.settings.reports_dir, run_id=run_id)
    console.print(f"report: {page}")


def _print_runs(runs: list[ValidationRun], *, title: str) -> None:
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("id", justify="right")
    table.add_column("UTC", no_wrap=True)
    table.add_column("dataset", no_wrap=True)
    table.add_column("stage")
    table.add_column("result", no_wrap=True)
    for name in ("rows", "failed", "secs"):
        table.add_column(name, justify="right")
    for run in runs:
        table.add_row(
            str(run.id),
            f"{run.created_at:%H:%M:%S}",
            run.dataset,
            run.stage or "",
            _result(run),
            f"{run.rows:,}",
            str(run.failed_expectations),
            f"{run.seconds:.2f}",
        )
    console.print(table)
    if any(r.success and r.accepted_failures for r in runs):
        console.print("pass* = passed with failures accepted by --allow-failures")
    for run in runs:
        if run.quarantine_path:
            console.print(f"run #{run.id} quarantined: {run.quarantine_path}")


def latest_runs_table(metadata: MetadataStore) -> Table:
    """The latest validation run of every dataset: the pipeline's quality at a glance."""
    table = Table(title="data quality: latest run per dataset", box=box.SIMPLE_HEAD)
    for name in ("dataset", "stage", "result"):
        table.add_column(name, no_wrap=True)
    for name in ("rows", "checks", "failed", "run"):
        table.add_column(name, justify="right")
    for run in sorted(metadata.latest_validations(), key=lambda r: r.id):
        table.add_row(
            run.dataset,
            run.stage or "",
            _result(run),
            f"{run.rows:,}",
            str(run.summary.get("expectations", "")),
            str(run.failed_expectations),
            f"#{run.id}",
        )
    return table


@quality_app.command("list")
def quality_list(
    dataset: Annotated[str | None, typer.Option(help="Only runs of this dataset.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Only failed runs.")] = False,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """List recent validation runs, newest first."""
    ctx = context_from(feature_repo, home)
    runs = ctx.metadata.validations(limit=limit if not failed else 10 * limit, dataset=dataset)
    if failed:
        runs = [r for r in runs if not r.success][:limit]
    _print_runs(runs, title="validation runs")


@quality_app.command("show")
def quality_show(
    run_id: Annotated[int, typer.Argument(help="Validation run id (see `recplat quality list`).")],
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """One validation run: result, each failed or accepted rule, statistics vs the baseline."""
    ctx = context_from(feature_repo, home)
    try:
        run = ctx.metadata.validation(run_id=run_id)
    except KeyError as exc:
        console.print(f"[red]{escape(str(exc.args[0]))}[/]")
        raise typer.Exit(1) from None
    summary = run.summary
    _print_runs([run], title=f"validation run #{run.id} (suite {run.suite} v{run.suite_version})")
    if summary.get("source"):
        console.print(f"source: {summary['source']}")
    for title, failures in (
        ("failed expectations", summary.get("failures") or []),
        ("accepted with --allow-failures", run.accepted_failures or []),
    ):
        if not failures:
            continue
        console.print(f"[bold]{title}[/]")
        for f in failures:
            count = f" - {f['unexpected_count']} rows" if f.get("unexpected_count") else ""
            drift = f" (drift vs #{f['drift_baseline_run']})" if f.get("drift_baseline_run") else ""
            examples = ", ".join(f.get("examples") or [])[:160]
            console.print(
                f"  [red]x[/] {escape(f['rule'])} on {escape(f.get('column') or '(table)')}"
                f"{count}{escape(drift)}\n"
                + (f"      e.g. {escape(examples)}\n" if examples else "")
                + f"      {escape(f.get('detail') or '')}\n"
                + f"      accept with: --allow-failures {escape(f.get('key') or f['rule'])}"
            )
    baseline_id = summary.get("baseline_run_id")
    baseline = ctx.metadata.validation(run_id=baseline_id) if baseline_id else None
    numeric = (summary.get("statistics") or {}).get("numeric", {})
    if numeric:
        before = (baseline.summary.get("statistics") or {}).get("numeric", {}) if baseline else {}
        table = Table(
            "column",
            "mean",
            "median",
            "q05",
            "q95",
            f"baseline mean (run #{baseline_id})" if baseline else "baseline",
            title="key statistics",
        )
        for column, s in numeric.items():
            base = before.get(column, {}).get("mean")
            table.add_row(
                column,
                *(f"{s[k]:.4g}" for k in ("mean", "median", "q05", "q95")),
                "" if base is None else f"{base:.4g}",
            )
        console.print(table)
    shares = (summary.get("statistics") or {}).get("categorical", {})
    for column, pairs in shares.items():
        console.print(f"{column} shares: " + ", ".join(f"{v}={w:.1%}" for v, w in pairs[:8]))
    if run.report_path:
        console.print(f"GX Data Docs: {run.report_path}")
    console.print(f"summary page: recplat quality report {run.id}")


@quality_app.command("report")
def quality_report(
    run_id: Annotated[
        int | None, typer.Argument(help="One run's page; without it, the index of all datasets.")
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the page in the default browser.")
    ] = False,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Write the HTML quality report (pass/fail per dataset, trends, failures); print its path."""
    from recplat.quality.report import write_index, write_run_page

    ctx = context_from(feature_repo, home)
    root = ctx.settings.reports_dir
    try:
        if run_id is None:
            page = write_index(metadata=ctx.metadata, root=root)
        else:
            page = write_run_page(metadata=ctx.metadata, root=root, run_id=run_id)
    except KeyError as exc:
        console.print(f"[red]{escape(str(exc.args[0]))}[/]")
        raise typer.Exit(1) from None
    console.print(f"report: {page.resolve()}")
    if open_browser:
        webbrowser.open(page.resolve().as_uri())
