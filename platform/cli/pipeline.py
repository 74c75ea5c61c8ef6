"""The pipeline stages, each usable alone (CLI) or in sequence (demo, tests, benchmarks).

events -> ingest gate -> feature tables -> gates -> Feast apply -> materialize ->
online read-back gate. Training (`recplat.training`) and serving
(`recplat.serving`) follow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from recplat.cli.context import PlatformContext
from recplat.events.ingest import IngestResult, ingest
from recplat.events.synthetic import GeneratorConfig, SyntheticData, generate
from recplat.features.build import BuildResult, build_features, materialize
from recplat.features.repo import apply_repo
from recplat.quality.online import check_online

T = TypeVar("T")
# Runs one titled stage and returns its value (the demo prints and times each one).
StageRunner = Callable[[str, Callable[[], Any]], Any]


def _plain(title: str, fn: Callable[[], T]) -> T:
    return fn()


def ingest_generated(
    ctx: PlatformContext, *, data: SyntheticData, allow: Sequence[str] = ()
) -> IngestResult:
    """Ingest a generated event log through the events gate."""
    return ingest(
        events=data.events,
        users=data.users,
        items=data.items,
        settings=ctx.settings,
        gate=ctx.gate,
        allow=allow,
        purchases=data.purchases,
    )


def generate_events(
    ctx: PlatformContext, *, config: GeneratorConfig, allow: Sequence[str] = ()
) -> IngestResult:
    """Generate a synthetic event log and ingest it through the events gate."""
    return ingest_generated(ctx, data=generate(config), allow=allow)


@dataclass(frozen=True)
class FeatureStageResult:
    """What the feature stages produced."""

    ingest: IngestResult
    build: BuildResult
    applied: list[str]
    materialized: tuple[datetime, datetime]
    online_validation_run_id: int
    generated: SyntheticData


def run_feature_stages(
    ctx: PlatformContext,
    *,
    config: GeneratorConfig,
    allow: Sequence[str] = (),
    run: StageRunner = _plain,
) -> FeatureStageResult:
    """Generate -> ingest -> build -> apply -> materialize -> online read-back check.

    Args:
        ctx: Settings, metadata and the gate.
        config: The generator's knobs.
        allow: Known failing rules to accept (recorded with each validation).
        run: Runs each stage with its title (default: just runs it).
    """
    settings, gate = ctx.settings, ctx.gate
    data = run(
        f"generate {config.impressions:,} impressions for {config.users:,} users",
        lambda: generate(config),
    )
    ingested = run(
        "validate raw events (GX gate) and ingest",
        lambda: ingest_generated(ctx, data=data, allow=allow),
    )
    built = run(
        "build feature tables and validate each (GX gates)",
        lambda: build_features(settings=settings, gate=gate, allow=allow),
    )
    applied = run("register features with Feast (apply)", lambda: apply_repo(settings.feature_repo))
    window = run(
        "validate and materialize to the online store (GX gates)",
        lambda: materialize(settings=settings, gate=gate, allow=allow),
    )
    online = run(
        "read a sample back from the online store and validate it (GX gate)",
        lambda: check_online(settings=settings, gate=gate, allow=allow),
    )
    return FeatureStageResult(ingested, built, applied, window, online, data)
