"""`recplat data ...`: generate, import and ingest event data through the events gate."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from recplat.cli.common import AllowFailures, FeatureRepo, Home, console, context_from, guard
from recplat.events.synthetic import GeneratorConfig
from rich.markup import escape

if TYPE_CHECKING:
    from recplat.cli.context import PlatformContext
    from recplat.events.importing import ImportedData
    from recplat.events.ingest import IngestResult

data_app = typer.Typer(help="Event data: generate and ingest.", no_args_is_help=True)
GENERATOR = GeneratorConfig()  # the generator's defaults, shown as the flags' defaults


@data_app.command("generate")
def data_generate(
    users: Annotated[int, typer.Option(help="Number of users.")] = GENERATOR.users,
    items: Annotated[int, typer.Option(help="Number of items.")] = GENERATOR.items,
    categories: Annotated[
        int, typer.Option(help="Item categories (on an interest ring).")
    ] = GENERATOR.categories,
    impressions: Annotated[
        int, typer.Option(help="Target number of impressions (training rows).")
    ] = GENERATOR.impressions,
    days: Annotated[
        int, typer.Option(help="Days of simulated traffic from 2026-01-01 UTC.")
    ] = GENERATOR.days,
    drift: Annotated[
        float, typer.Option(help="Per-session probability that an interest drifts.")
    ] = GENERATOR.drift,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = GENERATOR.seed,
    shoppers: Annotated[
        bool,
        typer.Option(
            "--shoppers/--no-shoppers",
            help="Add purchase cycles, browsing before buying and never-buyers "
            "(the signal of `recplat train --model propensity`; docs/data.md).",
        ),
    ] = GENERATOR.shoppers,
    never_buyers: Annotated[
        float, typer.Option(help="Share of users who never buy (with --shoppers).")
    ] = GENERATOR.never_buyers,
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Generate a synthetic event log and ingest it through the events gate."""
    from recplat.cli.pipeline import generate_events

    ctx = context_from(feature_repo, home)
    config = dataclasses.replace(
        GENERATOR,
        users=users,
        items=items,
        categories=categories,
        impressions=impressions,
        days=days,
        drift=drift,
        seed=seed,
        shoppers=shoppers,
        never_buyers=never_buyers,
    )
    with console.status("generating events and validating them..."):
        result = guard(
            lambda: generate_events(ctx, config=config, allow=tuple(allow_failures or ()))
        )
    console.print(
        f"accepted {result.events:,} events, {result.users:,} users, {result.items:,} items"
        f" -> {ctx.settings.events_path}"
    )


@data_app.command("generate-series")
def data_generate_series(
    path: Annotated[
        Path, typer.Argument(help="Series file to write (.csv or .parquet).", show_default=False)
    ],
    items: Annotated[int, typer.Option(help="Series (items).")] = 20,
    days: Annotated[int, typer.Option(help="Days per series, from 2023-01-01 UTC.")] = 3 * 365,
    noise: Annotated[float, typer.Option(help="Gaussian noise, a share of the mean.")] = 0.08,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same series).")] = 0,
) -> None:
    """Write daily demand series with trend, weekly and yearly seasonality and level shifts
    (docs/forecasting.md), a file `recplat forecast` reads."""
    from recplat.forecasting.synthetic import SeriesConfig, generate_series

    if path.suffix.lower() not in (".csv", ".parquet"):
        console.print(f"[red]{escape(str(path))}: write a .csv or .parquet file[/]")
        raise typer.Exit(2)
    try:
        frame = generate_series(SeriesConfig(items=items, days=days, noise=noise, seed=seed))
    except ValueError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(2) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    console.print(f"wrote {items} series x {days} days ({len(frame):,} rows) -> {path}")


def _ingest_imported(
    ctx: PlatformContext,
    load: Callable[[], ImportedData],
    *,
    source: str,
    allow: list[str] | None,
    quarantine: Path | None = None,
) -> IngestResult:
    """Read a published data set (format errors: file, line, reason) and ingest it, gated.

    With `quarantine` (a single-file import), a file that does not parse is kept in the
    quarantine with the reason, as a batch the gates reject is."""
    from recplat.events.importing import ImportFormatError
    from recplat.events.ingest import ingest

    try:
        with console.status("reading the files..."):
            data = load()
    except ImportFormatError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        if quarantine is not None and quarantine.is_file():
            kept = _quarantine_file(ctx, quarantine, source=source, reason=str(exc))
            console.print(f"nothing was ingested; the file is quarantined in {kept}")
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
                ratings=data.ratings if len(data.ratings) else None,
                purchases=data.purchases,
                categories=data.categories,
            )
        )


def _quarantine_file(ctx: PlatformContext, path: Path, *, source: str, reason: str) -> Path:
    import json
    import shutil
    from datetime import UTC, datetime

    folder = ctx.settings.quarantine_dir / source / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, folder / path.name)
    (folder / "report.json").write_text(json.dumps({"source": str(path), "error": reason}))
    return folder


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


@data_app.command("import-transactions")
def data_import_transactions(
    path: Annotated[
        Path,
        typer.Argument(
            help="A transaction log, .csv (with a header) or .parquet: user_id, timestamp, "
            "and optionally item_id, category, quantity, amount (other columns ignored)."
        ),
    ],
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Import a transaction log (every row a purchase) through the events gate.

    Malformed rows stop the import with the file, row and field; a batch the
    gates reject is quarantined; the accepted log stays as it was. Then build a
    purchase-propensity task for any of its categories (`recplat train --model
    propensity --category NAME`).
    """
    from recplat.events.transactions import load_transactions

    ctx = context_from(feature_repo, home)
    result = _ingest_imported(
        ctx,
        lambda: load_transactions(path),
        source="transactions",
        allow=allow_failures,
        quarantine=path,
    )
    console.print(
        f"accepted {result.purchases:,} purchases, {result.users:,} users, "
        f"{result.items:,} items -> {ctx.settings.events_path}; quantities and amounts "
        f"-> {ctx.settings.purchases_path}"
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

    # A path that is not there is a usage error, not a bad batch to quarantine.
    if not path.exists():
        raise typer.BadParameter(f"no such file: {path}", param_hint="'PATH'")
    if not path.is_file():
        raise typer.BadParameter(f"not a file: {path}", param_hint="'PATH'")
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
