"""Shared fixtures: small synthetic data, a throwaway feature repo, one Ray per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from recplat.cli.context import PlatformContext
from recplat.events.synthetic import GeneratorConfig, SyntheticData, generate
from recplat.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
TINY = GeneratorConfig(users=120, items=80, categories=8, impressions=4000, days=10, seed=3)


@pytest.fixture(scope="session")
def tiny_data() -> SyntheticData:
    """A small generated data set (deterministic)."""
    return generate(TINY)


def get_cell(table: pd.DataFrame, row: int, column: str) -> Any:
    """One cell by position (typed Any: list cells defeat pandas-stubs)."""
    return table[column].tolist()[row]


def set_cell(table: pd.DataFrame, row: int, column: str, value: Any) -> None:
    """Replace one cell by position (works for list cells too)."""
    values = table[column].tolist()
    values[row] = value
    table[column] = values


def make_settings(root: Path, *, sequence_length: int = 20) -> Settings:
    """Settings over a copy of the project's feature repo under `root`."""
    repo = root / "feature_repo"
    shutil.copytree(
        REPO_ROOT / "feature_repo", repo, ignore=shutil.ignore_patterns("data", "__pycache__")
    )
    settings = Settings(feature_repo=repo, home=root / "home", sequence_length=sequence_length)
    settings.ensure_dirs()
    return settings


def published_context(root: Path, data: SyntheticData) -> PlatformContext:
    """A context over a fresh repo under `root` with `data` ingested, the feature tables
    built and the repo applied (not materialized)."""
    from recplat.events.ingest import ingest
    from recplat.features.build import build_features
    from recplat.features.repo import apply_repo

    ctx = PlatformContext(settings=make_settings(root))
    ingest(
        events=data.events, users=data.users, items=data.items, settings=ctx.settings,
        gate=ctx.gate,
    )  # fmt: skip
    build_features(settings=ctx.settings, gate=ctx.gate)
    apply_repo(ctx.settings.feature_repo)
    return ctx


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Fresh settings and feature repo for one test."""
    return make_settings(tmp_path)


@pytest.fixture
def context(settings: Settings) -> PlatformContext:
    """A platform context over `settings`."""
    return PlatformContext(settings=settings)


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """One local Ray for the whole test session, shut down (with Serve) at the end."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        # Metrics reach the export port within a second (the metrics test scrapes it).
        _system_config={"metrics_report_interval_ms": 1000},
    )
    try:
        yield
    finally:
        from ray import serve

        serve.shutdown()
        ray.shutdown()
