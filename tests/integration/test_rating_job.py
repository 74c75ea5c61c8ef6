"""Rating models through the real job: MovieLens import -> ratings gate -> Ray Train -> registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from recplat.events.movielens import write_ml100k
from recplat.events.synthetic import GeneratorConfig, generate
from recplat.io.parquet import read_parquet
from recplat.registry.artifacts import load_artifact
from recplat.registry.store import MetadataStore
from recplat.training.fit import split_metrics
from recplat.training.ratings import encode_ratings, split_ratings

from tests.conftest import REPO_ROOT, make_settings

pytestmark = pytest.mark.integration


def test_rating_mlp_trains_as_a_ray_job_with_rmse_and_mae_per_epoch(
    tmp_path: Path, ray_session: None
) -> None:
    from recplat.cli.main import app
    from typer.testing import CliRunner

    settings = make_settings(tmp_path)
    where = ["--feature-repo", str(settings.feature_repo), "--home", str(settings.home)]

    def cli(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": "160"})
        return result.exit_code, result.output

    code, out = cli("train", "--model", "rating_mlp")
    assert code == 1 and "no ratings at" in out and "import-movielens" in out

    data = generate(GeneratorConfig(users=150, items=100, categories=8, impressions=6000, seed=11))
    folder = write_ml100k(
        users=data.users, items=data.items, events=data.events, folder=tmp_path / "ml-100k"
    )
    code, out = cli("data", "import-movielens", str(folder))
    assert code == 0, out
    config = REPO_ROOT / "configs" / "train" / "rating_mlp.yaml"
    code, out = cli("train", "--config", str(config), "--epochs", "4", "--lr", "0.01")
    assert code == 0, out
    assert "val RMSE" in out and "test RMSE" in out

    metadata = MetadataStore(url=settings.metadata_url)
    run = metadata.runs(limit=1)[0]
    assert run.status == "finished" and run.model_name == "rating_mlp"
    history = run.metrics["history"]
    assert 1 <= len(history) <= 4
    assert all({"val_rmse", "val_mae", "train_loss"} <= set(h) for h in history)
    assert "val_auc" not in history[0]
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # it learns
    assert run.lineage is not None and run.lineage["feature_service"] == "ratings"
    ratings_check = metadata.validation(run_id=run.lineage["training_set_validation_run_id"])
    assert ratings_check.dataset == "ratings" and ratings_check.stage == "training"

    # The registered artifact reproduces the recorded test metrics on the fixed test split.
    version = metadata.models(model_name="rating_mlp")[0]
    artifact = Path(version.artifact_path)
    assert (artifact / "curves.png").stat().st_size > 10_000
    model = load_artifact(artifact).model
    test = encode_ratings(split_ratings(read_parquet(settings.ratings_path))["test"])
    again = split_metrics(model, test, task="regression")
    assert again["rmse"] == pytest.approx(version.metrics["test_rmse"], rel=1e-5)
    assert again["mae"] == pytest.approx(version.metrics["test_mae"], rel=1e-5)
    assert 0 < again["mae"] <= again["rmse"] < 2.0  # 1..5 scale; a dead model is ~3
    assert np.isfinite(version.metrics["best_val_rmse"])

    code, out = cli("runs", "show", str(run.id))
    assert code == 0 and "val RMSE" in out and "val MAE" in out
    code, out = cli("models", "list")
    assert code == 0 and "RMSE" in out
