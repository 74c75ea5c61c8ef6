"""What every `recplat` command shares: console, common options, context, error guard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from recplat.cli.context import PlatformContext
from recplat.settings import Settings
from rich.console import Console
from rich.markup import escape

T = TypeVar("T")

console = Console()

FeatureRepo = Annotated[
    Path | None,
    typer.Option(
        "--feature-repo", help="Feast repo folder [env RECPLAT_FEATURE_REPO; default feature_repo]"
    ),
]
Home = Annotated[
    Path | None,
    typer.Option("--home", help="Platform state folder [env RECPLAT_HOME; default .recplat]"),
]


def context_from(feature_repo: Path | None, home: Path | None) -> PlatformContext:
    """Settings from env and options; exits with a hint when the feature repo is not there."""
    overrides: dict[str, object] = {}
    if feature_repo is not None:
        overrides["feature_repo"] = feature_repo
    if home is not None:
        overrides["home"] = home
    settings = Settings.from_env(**overrides)
    if not (settings.feature_repo / "feature_store.yaml").exists():
        console.print(
            f"[red]no feature_store.yaml in {settings.feature_repo.resolve()}[/]: "
            "run from the repo root or pass --feature-repo"
        )
        raise typer.Exit(2)
    return PlatformContext(settings=settings)


AllowFailures = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-failures",
        help="Accept a known failing rule and go on (recorded with the run): "
        "RULE, RULE:COLUMN, drift or drift:COLUMN. Repeatable.",
    ),
]


def guard(fn: Callable[[], T]) -> T:
    """Turn a data-quality failure into a clear message and exit code 1."""
    from recplat.quality.gate import DataQualityError

    try:
        return fn()
    except DataQualityError as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from None
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from None
    except KeyError as exc:  # an unknown run / model id; the message is the first arg
        console.print(f"[red]{escape(str(exc.args[0]))}[/]")
        raise typer.Exit(1) from None
