"""Purchase propensity end to end: `recplat train --model propensity` (Ray Train, registry,
baselines), `recplat score` (Ray Data) writing `user_propensity`, read back through Feast,
`recplat export targets` and `recplat score --export`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from recplat.features.repo import open_store
from recplat.io.parquet import read_parquet
from recplat.registry.artifacts import load_artifact
from recplat.registry.store import MetadataStore
from recplat.settings import Settings

from tests.conftest import REPO_ROOT, make_settings

pytestmark = pytest.mark.integration


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    from recplat.cli.main import app
    from typer.testing import CliRunner

    where = ["--feature-repo", str(settings.feature_repo), "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_train_score_write_back_and_export(tmp_path: Path, ray_session: None) -> None:
    settings = make_settings(tmp_path)
    small = ["--users", "300", "--items", "80", "--categories", "5", "--impressions", "5000"]
    code, out = _cli(settings, "data", "generate", *small, "--days", "50", "--shoppers")
    assert code == 0, out
    config = str(REPO_ROOT / "configs" / "train" / "propensity.yaml")
    bad = tmp_path / "task.yaml"
    bad.write_text(
        "category: 1\nwindow_days: 7\ntrain_cutoffs: [2026-01-20]\n"
        "validation_cutoff: 2026-01-25\ntest_cutoff: 2026-02-10\n"
    )
    code, out = _cli(settings, "train", "--config", config, "--task", str(bad))
    assert code == 2 and "overlaps the validation cutoff" in out, out

    code, out = _cli(settings, "train", "--config", config, "--epochs", "2", "--shift", "1")
    assert code == 0, out
    for name in ("cnn_lstm", "rf_rule", "logistic_regression", "lightgbm", "PR-AUC", "1:1"):
        assert name in out, name
    assert "registered propensity version 1" in out
    metadata = MetadataStore(url=settings.metadata_url)
    version = metadata.resolve(model_name="propensity", version=1)
    run = metadata.run(run_id=version.run_id)
    assert run.status == "finished" and run.lineage is not None
    artifact = load_artifact(Path(version.artifact_path))
    task = artifact.description["propensity_task"]
    assert task["shift"] == 1 and task["window_days"] == 7
    metadata.dispose()

    code, out = _cli(settings, "score", "--model", "propensity")
    assert code == 1 and "not registered with Feast" in out
    code, out = _cli(settings, "features", "apply")
    assert code == 0, out
    code, out = _cli(settings, "score", "--model", "propensity")
    assert code == 0, out
    offline = read_parquet(settings.offline_dir / "user_propensity.parquet")
    assert offline["user_id"].is_unique and offline["propensity_score"].between(0, 1).all()
    assert (offline["propensity_category"] == task["category"]).all()
    assert f"wrote {len(offline):,} propensity scores" in out

    store = open_store(settings.feature_repo)
    users = offline["user_id"].head(3).tolist()
    online = store.get_online_features(
        features=store.get_feature_service("user_propensity_v1"),
        entity_rows=[{"user_id": int(u)} for u in users],
    ).to_dict()
    expected = offline.set_index("user_id").loc[users]
    assert online["propensity_score"] == pytest.approx(expected["propensity_score"].tolist())
    assert online["propensity_model_version"] == [1, 1, 1]
    assert online["propensity_cutoff_s"] == expected["propensity_cutoff_s"].tolist()

    targets = tmp_path / "targets.csv"
    code, out = _cli(settings, "export", "targets", "--category", str(task["category"]),
                     "--top", "5", "--output", str(targets))  # fmt: skip
    assert code == 0, out
    top = pd.read_csv(targets)
    best = offline.sort_values(["propensity_score", "user_id"], ascending=[False, True]).head(5)
    assert top["user_id"].tolist() == best["user_id"].tolist()
    assert top["score"].is_monotonic_decreasing

    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"user_id": users[:2], "cutoff": ["2026-02-10", "2026-02-11T06:00:00Z"]}).to_csv(
        pairs, index=False
    )
    scored = tmp_path / "scored.csv"
    code, out = _cli(settings, "score", "--export", str(pairs), "--output", str(scored))
    assert code == 0, out
    back = pd.read_csv(scored)
    assert back["user_id"].tolist() == users[:2] and back["propensity_score"].between(0, 1).all()


def test_a_sequence_model_scores_from_the_online_store_as_from_the_log(
    tmp_path: Path, ray_session: None
) -> None:
    settings = make_settings(tmp_path)
    small = ["--users", "250", "--items", "60", "--categories", "4", "--impressions", "4000"]
    code, out = _cli(settings, "data", "generate", *small, "--days", "45", "--shoppers")
    assert code == 0, out
    for stage in ("build", "apply", "materialize"):
        code, out = _cli(settings, "features", stage)
        assert code == 0, out
    config = str(REPO_ROOT / "configs" / "train" / "propensity_lstm.yaml")
    code, out = _cli(settings, "train", "--config", config, "--epochs", "1", "--inputs", "sequence")
    assert code == 0, out
    code, out = _cli(settings, "score", "--cutoff", "2026-02-16T00:00:00", "--source", "online")
    assert code == 0, out
    online = read_parquet(settings.offline_dir / "user_propensity.parquet")
    pairs, scored = _pairs(tmp_path, online), tmp_path / "l.csv"
    code, out = _cli(settings, "score", "--cutoff", "2026-02-16T00:00:00", "--source", "log",
                     "--export", str(pairs), "--output", str(scored))  # fmt: skip
    assert code == 0, out
    from_log = pd.read_csv(scored)
    # The store holds what the log-built rows hold (newest N behaviours, no amounts).
    assert from_log["propensity_score"].to_numpy() == pytest.approx(
        online["propensity_score"].to_numpy(), abs=1e-6
    )


def _pairs(tmp_path: Path, scored: pd.DataFrame) -> Path:
    path = tmp_path / "pairs.csv"
    scored.assign(cutoff=scored["event_timestamp"])[["user_id", "cutoff"]].to_csv(path, index=False)
    return path
