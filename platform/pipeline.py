"""The pipeline stages, each usable alone (CLI) or in sequence (demo, tests).

events -> ingest gate -> feature tables -> gates -> Feast apply -> materialize.
Training (`recplat.training.job`) and serving (`recplat.serving`) follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from recplat.context import PlatformContext
from recplat.events.ingest import IngestResult, ingest
from recplat.events.synthetic import GeneratorConfig, generate
from recplat.features.build import BuildResult, build_features, materialize
from recplat.features.repo import apply_repo
from recplat.quality.online import check_online


def generate_events(
    ctx: PlatformContext, *, config: GeneratorConfig, allow: Sequence[str] = ()
) -> IngestResult:
    """Generate a synthetic event log and ingest it through the events gate."""
    data = generate(config)
    return ingest(
        events=data.events,
        users=data.users,
        items=data.items,
        settings=ctx.settings,
        gate=ctx.gate,
        allow=allow,
    )


@dataclass(frozen=True)
class FeatureStageResult:
    """What the feature stages produced."""

    ingest: IngestResult
    build: BuildResult
    applied: list[str]
    materialized: tuple[datetime, datetime]
    online_validation_run_id: int


def run_feature_stages(ctx: PlatformContext, *, config: GeneratorConfig) -> FeatureStageResult:
    """Generate -> ingest -> build -> apply -> materialize -> online read-back check."""
    ingested = generate_events(ctx, config=config)
    built = build_features(settings=ctx.settings, gate=ctx.gate)
    applied = apply_repo(ctx.settings.feature_repo)
    window = materialize(settings=ctx.settings, gate=ctx.gate)
    online = check_online(settings=ctx.settings, gate=ctx.gate)
    return FeatureStageResult(ingested, built, applied, window, online)
