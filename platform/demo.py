"""`recplat demo`: the whole platform end to end on the embedded default."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from recplat.context import PlatformContext
from recplat.events.synthetic import GeneratorConfig
from rich.console import Console
from rich.table import Table

T = TypeVar("T")
DEMO_MODELS = ("embedding_mlp", "din", "dien")


@dataclass(frozen=True)
class DemoOptions:
    """Knobs of the demo (defaults finish in a few minutes on 2 cores)."""

    users: int = 2000
    items: int = 1000
    impressions: int = 120_000
    epochs: int = 3
    seed: int = 7
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
    from recplat.ray_runtime import ensure_ray

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
    from recplat.events.ingest import ingest
    from recplat.events.synthetic import generate
    from recplat.features.build import build_features, materialize
    from recplat.features.repo import apply_repo
    from recplat.quality.online import check_online
    from recplat.serving.launch import start_serving
    from recplat.training.job import TrainOptions, prepare_training_data, train_model

    started = time.perf_counter()
    settings = ctx.settings
    steps = _Steps(console, total=13)
    allow = options.allow_failures
    config = GeneratorConfig(
        users=options.users, items=options.items, impressions=options.impressions, seed=options.seed
    )
    data = steps.run(
        f"generate {options.impressions:,} impressions for {options.users:,} users",
        lambda: generate(config),
    )
    steps.run(
        "validate raw events (GX gate) and ingest",
        lambda: ingest(
            events=data.events,
            users=data.users,
            items=data.items,
            settings=settings,
            gate=ctx.gate,
            allow=allow,
        ),
    )
    built = steps.run(
        "build feature tables and validate each (GX gates)",
        lambda: build_features(settings=settings, gate=ctx.gate, allow=allow),
    )
    steps.run("register features with Feast (apply)", lambda: apply_repo(settings.feature_repo))
    steps.run(
        "validate and materialize to the SQLite online store (GX gates)",
        lambda: materialize(settings=settings, gate=ctx.gate, allow=allow),
    )
    steps.run(
        "read a sample back from the online store and validate it (GX gate)",
        lambda: check_online(settings=settings, gate=ctx.gate, allow=allow),
    )
    training = steps.run(
        "point-in-time training set from Feast (GX gate)",
        lambda: prepare_training_data(settings=settings, gate=ctx.gate, allow=allow),
    )
    console.print(
        f"    rows: {', '.join(f'{k} {v:,}' for k, v in built.rows.items())}; "
        f"training set {sum(len(f) for f in training.frames.values()):,} "
        "(train/val/test split by time)"
    )

    outcomes = []
    rankings: list[dict[str, Any]] = []
    with _ray_session(ctx):
        for name in DEMO_MODELS:
            opts = TrainOptions(
                model_name=name, epochs=options.epochs, seed=options.seed, threads=2
            )
            outcome = steps.run(
                f"train {name} with Ray Train and register it",
                lambda opts=opts: train_model(
                    settings=settings, data=training, options=opts, metadata=ctx.metadata
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
                            12 - len(candidates) % 12 or 4, random_state=options.seed
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
    from recplat.quality.report import write_index
    from recplat.quality_cli import latest_runs_table

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
    from recplat.cli import metrics_table

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
