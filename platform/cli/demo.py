"""`recplat demo`: the whole platform end to end on the embedded default."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import httpx
import typer
from recplat.cli.common import AllowFailures, FeatureRepo, Home, console, context_from, guard
from recplat.cli.context import PlatformContext
from recplat.cli.tables import metrics_table
from recplat.events.synthetic import GeneratorConfig
from rich.console import Console
from rich.table import Table

T = TypeVar("T")
DEMO_MODELS = ("embedding_mlp", "din", "dien")


@dataclass(frozen=True)
class DemoOptions:
    """Knobs of the demo (defaults finish in a few minutes on 2 cores).

    `data` is the generator's config (its defaults are the demo's); its seed
    seeds training too.
    """

    data: GeneratorConfig = field(default_factory=GeneratorConfig)
    epochs: int = 3
    port: int = 8000
    requests: int = 3
    allow_failures: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured."""

    outcomes: list[Any]
    rankings: list[dict[str, Any]]
    seconds: float


class _Steps:
    """Numbered steps with their wall time, printed as they finish."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total, self.n = console, total, 0

    def run(self, title: str, fn: Callable[[], T]) -> T:
        self.n += 1
        started = time.perf_counter()
        with self.console.status(f"[{self.n}/{self.total}] {title}..."):
            value = fn()
        self.console.print(
            f"[green]✓[/] [{self.n}/{self.total}] {title} "
            f"[dim]({time.perf_counter() - started:.1f}s)[/]"
        )
        return value


@contextmanager
def _ray_session(ctx: PlatformContext) -> Iterator[None]:
    import ray
    from recplat.runtime.ray_session import ensure_ray

    started_here = not ray.is_initialized()
    ensure_ray(ctx.settings)
    try:
        yield
    finally:
        from recplat.serving.launch import stop_serving

        stop_serving()
        if started_here:
            ray.shutdown()


def run_demo(ctx: PlatformContext, *, options: DemoOptions, console: Console) -> DemoResult:
    """Generate -> validate -> Feast -> train 3 models -> register -> serve -> rank over HTTP."""
    from recplat.cli.pipeline import run_feature_stages
    from recplat.serving.launch import start_serving
    from recplat.training.options import TrainOptions
    from recplat.training.ray_driver import train_model
    from recplat.training.training_set import prepare_training_data

    started = time.perf_counter()
    settings = ctx.settings
    steps = _Steps(console, total=13)
    allow = options.allow_failures
    seed = options.data.seed
    stages = run_feature_stages(ctx, config=options.data, allow=allow, run=steps.run)
    data, built = stages.generated, stages.build
    # One training set per model's feature service.
    services = list(dict.fromkeys(TrainOptions(model_name=m).service for m in DEMO_MODELS))
    sets = steps.run(
        f"point-in-time training sets from Feast (GX gate): {', '.join(services)}",
        lambda: {
            s: prepare_training_data(
                settings=settings, gate=ctx.gate, feature_service=s, allow=allow
            )
            for s in services
        },
    )
    training = sets[services[0]]
    inputs = training.inputs
    console.print(
        f"    rows: {', '.join(f'{k} {v:,}' for k, v in built.rows.items())}; "
        f"training set {sum(len(f) for f in training.frames.values()):,} "
        "(train/val/test split by time); "
        f"inputs: {len(inputs.categorical) if inputs else 0} categorical, "
        f"{len(inputs.dense) if inputs else 0} dense"
    )

    outcomes = []
    rankings: list[dict[str, Any]] = []
    with _ray_session(ctx):
        for name in DEMO_MODELS:
            opts = TrainOptions(model_name=name, epochs=options.epochs, seed=seed, threads=2)
            outcome = steps.run(
                f"train {name} with Ray Train and register it",
                lambda opts=opts: train_model(
                    settings=settings, data=sets[opts.service], options=opts, metadata=ctx.metadata
                ),  # type: ignore[misc]
            )
            outcomes.append(outcome)
        # Serve the model that did best on the validation split.
        best = max(outcomes, key=lambda o: o.metrics["best_val_auc"])
        steps.run(
            f"promote {best.model_name} version {best.version} (best validation AUC) to production",
            lambda: ctx.metadata.promote(model_name=best.model_name, version=best.version),
        )
        url = steps.run(
            f"start Ray Serve ranking app with {best.model_name}",
            lambda: start_serving(settings, model_name=best.model_name, port=options.port),
        )

        def ask() -> list[dict[str, Any]]:
            test = training.frames["test"]
            answers = []
            with httpx.Client(base_url=url, timeout=30) as client:
                assert client.get("/healthz").json()["status"] == "ok"
                for user_id in test["user_id"].drop_duplicates().head(options.requests):
                    candidates = [
                        int(i) for i in test.loc[test["user_id"] == user_id, "item_id"].head(8)
                    ]
                    candidates += [
                        int(i)
                        for i in data.items["item_id"].sample(
                            12 - len(candidates) % 12 or 4, random_state=seed
                        )
                    ]
                    body = {
                        "user_id": int(user_id),
                        "candidate_item_ids": list(dict.fromkeys(candidates)),
                        "context": {"device": "mobile", "hour": 20},
                    }
                    response = client.post("/rank", json=body)
                    response.raise_for_status()
                    answers.append(response.json())
            return answers

        rankings = steps.run(f"POST /rank x{options.requests} over HTTP", ask)

    seconds = time.perf_counter() - started
    _print_quality(ctx, console)
    _print_results(
        console, outcomes=outcomes, rankings=rankings, items=data.items, seconds=seconds, url=url
    )
    return DemoResult(outcomes=outcomes, rankings=rankings, seconds=seconds)


def _print_quality(ctx: PlatformContext, console: Console) -> None:
    from recplat.cli.quality import latest_runs_table
    from recplat.quality.report import write_index

    console.print(latest_runs_table(ctx.metadata))
    page = write_index(metadata=ctx.metadata, root=ctx.settings.reports_dir)
    console.print(f"data-quality report: {page.resolve()}  (recplat quality report --open)")


def _print_results(
    console: Console,
    *,
    outcomes: list[Any],
    rankings: list[dict[str, Any]],
    items: Any,
    seconds: float,
    url: str,
) -> None:

    console.print(metrics_table(outcomes))
    category = dict(zip(items["item_id"], items["category_id"], strict=True))
    first = rankings[0]
    table = Table(
        "rank",
        "item",
        "category",
        "score",
        title=f"POST {url}/rank user {first['user_id']} "
        f"({first['model']} v{first['version']}, history {first['history_length']})",
    )
    for i, item in enumerate(first["items"][:10], start=1):
        table.add_row(
            str(i),
            str(item["item_id"]),
            str(category.get(item["item_id"], "?")),
            f"{item['score']:.4f}",
        )
    console.print(table)
    t = first["timings"]
    console.print(
        f"server timings: features {t['features_ms']:.1f} ms, "
        f"model {t['model_ms']:.1f} ms, total {t['total_ms']:.1f} ms"
    )
    console.print(f"[bold]demo finished in {seconds:.0f}s[/]; Serve and Ray were shut down.")


GENERATOR = GeneratorConfig()  # the demo's data are the generator's defaults


def demo_command(
    users: Annotated[int, typer.Option(help="Users to generate.")] = GENERATOR.users,
    items: Annotated[int, typer.Option(help="Items to generate.")] = GENERATOR.items,
    impressions: Annotated[
        int, typer.Option(help="Impressions to generate (training rows).")
    ] = GENERATOR.impressions,
    epochs: Annotated[int, typer.Option(help="Maximum training epochs per model.")] = 3,
    seed: Annotated[int, typer.Option(help="Seed of the data and of training.")] = GENERATOR.seed,
    port: Annotated[int, typer.Option(help="HTTP port of the ranking API during the demo.")] = 8000,
    allow_failures: AllowFailures = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Run everything end to end on the embedded default.

    generate -> GX gates -> Feast -> Ray Train -> registry -> Ray Serve -> HTTP.
    """
    ctx = context_from(feature_repo, home)
    options = DemoOptions(
        data=dataclasses.replace(
            GENERATOR, users=users, items=items, impressions=impressions, seed=seed
        ),
        epochs=epochs,
        port=port,
        allow_failures=tuple(allow_failures or ()),
    )
    guard(lambda: run_demo(ctx, options=options, console=console))
