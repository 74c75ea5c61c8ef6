"""The forecasting jobs through Ray Train: `recplat forecast FILE` (rolling origin against the
baselines, future, plot) and `recplat train --model forecaster` on item demand followed by
`recplat forecast-demand` (the view written back and read through Feast)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from recplat.features.repo import open_store
from recplat.registry.artifacts import load_artifact
from recplat.registry.store import MetadataStore
from recplat.settings import Settings

from tests.conftest import REPO_ROOT, make_settings

pytestmark = pytest.mark.integration


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    from recplat.cli.main import app
    from typer.testing import CliRunner

    where = ["--feature-repo", str(settings.feature_repo), "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": "160"})
    return result.exit_code, result.output


def test_forecast_file_scores_every_model_by_rolling_origin_and_forecasts_ahead(
    tmp_path: Path, ray_session: None
) -> None:
    from recplat.cli.main import app
    from typer.testing import CliRunner

    settings = make_settings(tmp_path)
    series = tmp_path / "shops.csv"
    made = CliRunner().invoke(
        app, ["data", "generate-series", str(series), "--items", "2", "--days", "200"]
    )
    assert made.exit_code == 0, made.output
    code, out = _cli(
        settings, "forecast", str(series), "--freq", "D", "--season", "7", "--horizon", "7",
        "--lookback", "21", "--test-size", "28", "--step", "7", "--epochs", "3",
        "--skip-baseline", "auto",
    )  # fmt: skip
    assert code == 0, out
    assert "per horizon step" in out and "overall (every origin and step)" in out
    for name in ("lstm", "seasonal_naive", "sarima", "ets", "MAPE %", "sMAPE %", "MAE"):
        assert name in out, name
    assert "4 origin(s) per series every 7 step(s), horizon 7" in out
    assert "best MAPE, of 2 series" in out
    assert "skip baseline chosen on validation MAE" in out  # --skip-baseline auto: both trained

    ahead = pd.read_csv(
        settings.home / "forecasts" / "shops_forecast.csv", parse_dates=["timestamp"]
    )
    assert len(ahead) == 2 * 7 and set(ahead["series_id"]) == {"item_1", "item_2"}
    history = pd.read_csv(series, parse_dates=["timestamp"])
    first_ahead = ahead.groupby("series_id")["timestamp"].min()
    assert (first_ahead == history["timestamp"].max() + pd.Timedelta(days=1)).all()
    assert ahead["forecast"].notna().all() and ahead["forecast"].abs().max() < 1e4
    assert (settings.home / "forecasts" / "shops.png").stat().st_size > 20_000

    metadata = MetadataStore(url=settings.metadata_url)
    versions = metadata.models(model_name="forecaster")
    assert len(versions) == 2  # one per skip baseline; the lower validation MAE is used
    kept = min(versions, key=lambda v: v.metrics["best_val_mae"])
    assert f"registered forecaster version {kept.version} " in out
    version = metadata.resolve(model_name="forecaster", version=kept.version)
    run = metadata.run(run_id=version.run_id)
    assert run.status == "finished" and run.lineage is not None
    assert run.lineage["feature_service"] == "file:shops.csv"
    assert {"val_mae", "val_mape", "train_loss"} <= set(run.metrics["history"][0])
    artifact = load_artifact(Path(version.artifact_path))
    assert artifact.config.lookback == 21 and artifact.config.horizon == 7
    metadata.dispose()


def test_item_demand_forecaster_trains_and_writes_its_view_to_feast(
    tmp_path: Path, ray_session: None
) -> None:
    settings = make_settings(tmp_path)
    small = ["--users", "150", "--items", "40", "--categories", "4", "--impressions", "6000"]
    code, out = _cli(settings, "data", "generate", *small, "--days", "12")
    assert code == 0, out
    config = str(REPO_ROOT / "configs" / "train" / "forecaster.yaml")
    code, out = _cli(settings, "train", "--config", config)
    assert code == 1 and "holds 11 complete days" in out and "--days 45" in out

    code, out = _cli(settings, "data", "generate", *small, "--days", "40")
    assert code == 0, out
    code, out = _cli(settings, "forecast-demand")
    assert code == 1 and "no registered version" in out
    code, out = _cli(settings, "train", "--config", config, "--epochs", "2")
    assert code == 0, out
    assert "test MAE" in out and "registered forecaster version 1" in out
    code, out = _cli(settings, "forecast-demand")
    assert code == 1 and "not registered with Feast" in out and "features apply" in out
    code, out = _cli(settings, "features", "apply")
    assert code == 0, out
    code, out = _cli(settings, "forecast-demand")
    assert code == 0, out
    assert "wrote 40 rows of item_demand_forecast (forecaster version 1" in out

    store = open_store(settings.feature_repo)
    online = store.get_online_features(
        features=store.get_feature_service("item_demand_v1"),
        entity_rows=[{"item_id": 1}, {"item_id": 2}],
    ).to_dict()
    assert all(v is not None and v >= 0 for v in online["demand_next_7d"])
    assert all(
        w >= d for d, w in zip(online["demand_next_1d"], online["demand_next_7d"], strict=True)
    )
    assert online["forecast_model_version"] == [1, 1]
