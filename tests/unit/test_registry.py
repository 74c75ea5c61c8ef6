"""Metadata store: runs, versions, stages."""

from __future__ import annotations

from pathlib import Path

import pytest
from recplat.registry.store import MetadataStore


@pytest.fixture
def metadata(tmp_path: Path) -> MetadataStore:
    return MetadataStore(url=f"sqlite:///{tmp_path / 'meta.db'}")


def _register(metadata: MetadataStore, name: str = "din") -> int:
    run = metadata.start_run(
        model_name=name, config={"lr": 0.1}, feature_service="ranking_v1", validation_run_id=None
    )
    metadata.finish_run(run_id=run.id, status="finished", metrics={"test_auc": 0.7})
    return metadata.register_model(
        model_name=name,
        run_id=run.id,
        artifact_path="/x",
        config={},
        metrics={"test_auc": 0.7},
        feature_service="ranking_v1",
    ).version


def test_versions_count_up_per_model(metadata: MetadataStore) -> None:
    assert [_register(metadata), _register(metadata), _register(metadata, "embedding_mlp")] == [
        1,
        2,
        1,
    ]
    run = metadata.runs()[0]
    assert (
        run.status == "finished"
        and run.metrics == {"test_auc": 0.7}
        and run.finished_at is not None
    )


def test_promotion_archives_previous_production_and_resolve_prefers_it(
    metadata: MetadataStore,
) -> None:
    _register(metadata)
    _register(metadata)
    assert metadata.resolve(model_name="din").version == 2  # newest when nothing is in production
    metadata.promote(model_name="din", version=1)
    assert metadata.resolve(model_name="din").version == 1
    metadata.promote(model_name="din", version=2)
    stages = {v.version: v.stage for v in metadata.models(model_name="din")}
    assert stages == {1: "archived", 2: "production"}
    assert metadata.resolve(model_name="din", version=1).version == 1


def test_unknown_model_version_or_stage_is_a_clear_error(metadata: MetadataStore) -> None:
    with pytest.raises(LookupError, match="'din' has no registered version"):
        metadata.resolve(model_name="din")
    _register(metadata)
    with pytest.raises(LookupError, match="no version 7"):
        metadata.promote(model_name="din", version=7)
    with pytest.raises(ValueError, match="unknown stage"):
        metadata.promote(model_name="din", version=1, stage="prod")


def test_validation_runs_are_recorded(metadata: MetadataStore) -> None:
    summary = {
        "dataset": "events",
        "suite": "events",
        "suite_version": 1,
        "success": False,
        "rows": 3,
        "failed": 1,
        "seconds": 0.1,
    }
    run = metadata.record_validation(summary=summary, quarantine_path="/q")
    (latest,) = metadata.validations(limit=1)
    assert latest.id == run.id and not latest.success and latest.quarantine_path == "/q"
