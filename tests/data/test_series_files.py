"""Series files and demand forecasts through their GX gates: each bad input is named (with
its dates or rows) and writes nothing; good forecasts reach Feast, online and offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recplat.cli.context import PlatformContext
from recplat.events.synthetic import SyntheticData
from recplat.features.repo import open_store
from recplat.forecasting.demand import VIEW, item_demand, write_demand_forecasts
from recplat.forecasting.series import SeriesError, load_series
from recplat.quality.gate import DataQualityError
from recplat.registry.store import MetadataStore
from recplat.settings import Settings

from tests.conftest import published_context

pytestmark = pytest.mark.data
DAYS = pd.date_range("2024-01-01", periods=60, freq="D", tz="UTC")


def _write(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def _daily(values: np.ndarray | None = None, series_id: str = "a") -> pd.DataFrame:
    values = np.arange(60, dtype=float) + 10 if values is None else values
    return pd.DataFrame(
        {"series_id": series_id, "timestamp": DAYS.strftime("%Y-%m-%d"), "value": values}
    )


def test_a_gap_a_duplicate_and_an_off_grid_stamp_are_named_with_their_dates(
    tmp_path: Path, context: PlatformContext
) -> None:
    gap = _daily(series_id="gap").drop(index=[40, 41, 42])  # 2024-02-10 .. 2024-02-12
    duplicate = pd.concat([_daily(series_id="dup"), _daily(series_id="dup").iloc[[20]]])
    odd = _daily(series_id="odd")
    odd.loc[30, "timestamp"] = "2024-01-31 12:00"
    path = _write(tmp_path / "bad.csv", pd.concat([gap, duplicate, odd]))
    with pytest.raises(SeriesError) as caught:
        load_series(path, freq="D", gate=context.gate)
    message = str(caught.value)
    assert str(path) in message and "not a regular D series" in message
    assert "series gap: 3 missing step(s) between 2024-02-09 and 2024-02-13" in message
    assert "series dup: 2024-01-21 00:00 twice" in message
    assert "series odd: 2024-01-31 12:00 after 2024-01-30 00:00" in message
    assert "--fill-gaps" in message
    failed = context.metadata.validations(limit=1)[0]
    assert failed.success is False and failed.dataset == "series_D"
    assert list(context.settings.quarantine_dir.rglob("*.parquet"))  # the batch is kept


def test_gaps_are_filled_only_when_asked(tmp_path: Path, context: PlatformContext) -> None:
    values = np.arange(60, dtype=float)
    frame = _daily(values).drop(index=[10, 11])
    path = _write(tmp_path / "gappy.csv", frame)
    with pytest.raises(SeriesError, match="2 missing step"):
        load_series(path, freq="D", gate=context.gate)
    filled = load_series(path, freq="D", gate=context.gate, fill="interpolate")
    assert filled.filled == 2 and len(filled.frame) == 60
    np.testing.assert_allclose(filled.frame["value"], values)  # a line, interpolated exactly
    zeros = load_series(path, freq="D", gate=context.gate, fill="zero")
    assert zeros.frame["value"].iloc[10] == 0.0 and zeros.validation_run_id is not None


def test_non_numeric_values_and_unreadable_stamps_name_their_rows(tmp_path: Path) -> None:
    frame = _daily().astype({"value": object})
    frame.loc[4, "value"] = "n/a"
    path = _write(tmp_path / "text.csv", frame)
    with pytest.raises(SeriesError, match=r"1 value\(s\) are not numbers: row 5 \(2024-01-05"):
        load_series(path, freq="D", gate=None)  # type: ignore[arg-type]  # stopped before GX
    frame = _daily()
    frame.loc[2, "timestamp"] = "yesterday"
    with pytest.raises(SeriesError, match=r"row 3 \('yesterday'\)"):
        load_series(_write(tmp_path / "stamps.csv", frame), freq="D", gate=None)  # type: ignore[arg-type]
    with pytest.raises(SeriesError, match="missing column"):
        load_series(
            _write(tmp_path / "cols.csv", frame.rename(columns={"value": "sales"})),
            freq="D",
            gate=None,  # type: ignore[arg-type]
        )


def test_monthly_and_weekly_grids(tmp_path: Path, context: PlatformContext) -> None:
    months = pd.date_range("2015-01-31", periods=40, freq="ME", tz="UTC")
    frame = pd.DataFrame({"timestamp": months, "value": np.arange(40.0)})
    loaded = load_series(_write(tmp_path / "m.csv", frame), freq="M", gate=context.gate)
    assert loaded.ids() == ["series"] and len(loaded.frame) == 40
    weeks = pd.date_range("2020-01-05", periods=30, freq="W", tz="UTC")
    skipped = pd.DataFrame({"timestamp": weeks.delete(12), "value": np.arange(29.0)})
    with pytest.raises(SeriesError, match=f"1 missing step.*{weeks[11]:%Y-%m-%d} and"):
        load_series(_write(tmp_path / "w.csv", skipped), freq="W", gate=context.gate)
    saturdays = pd.date_range("2020-01-04", periods=30, freq="7D", tz="UTC")  # not W-SUN
    frame = pd.DataFrame({"timestamp": saturdays.delete(5), "value": np.arange(29.0)})
    filled = load_series(
        _write(tmp_path / "sat.csv", frame), freq="W", gate=context.gate, fill="interpolate"
    )
    assert filled.filled == 1 and list(filled.frame["timestamp"]) == list(saturdays)


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    from recplat.cli.main import app
    from typer.testing import CliRunner

    where = ["--feature-repo", str(settings.feature_repo), "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": "160"})
    return result.exit_code, result.output


def _nothing_written(settings: Settings) -> None:
    assert not (settings.home / "forecasts").exists()
    metadata = MetadataStore(url=settings.metadata_url)
    assert metadata.runs() == [] and metadata.models() == []
    metadata.dispose()


def test_forecast_cli_refuses_bad_inputs_and_writes_nothing(
    tmp_path: Path, settings: Settings
) -> None:
    good = _write(tmp_path / "s.csv", _daily())
    daily = ["--freq", "D", "--season", "7"]
    code, out = _cli(settings, "forecast", str(good), *daily, "--horizon", "14", "--test-size", "7")
    assert code == 2 and "horizon 14 is longer than the test part (7 steps)" in out
    code, out = _cli(settings, "forecast", str(good), *daily, "--horizon", "7", "--lookback", "40")
    assert code == 1 and "series a has 60 steps" in out and "need at least 75" in out
    gappy = _write(tmp_path / "g.csv", _daily().drop(index=[5]))
    code, out = _cli(settings, "forecast", str(gappy), *daily, "--horizon", "7")
    assert code == 1 and "1 missing step(s) between 2024-01-05 and 2024-01-07" in out
    code, out = _cli(settings, "forecast", str(tmp_path / "none.csv"), *daily, "--horizon", "7")
    assert code == 1 and "no such file" in out
    code, out = _cli(
        settings, "forecast", str(good), "--freq", "H", "--season", "7", "--horizon", "7"
    )
    assert code == 1 and "freq 'H'" in out
    _nothing_written(settings)


@pytest.fixture(scope="module")
def published(
    tmp_path_factory: pytest.TempPathFactory, tiny_data: SyntheticData
) -> PlatformContext:
    return published_context(tmp_path_factory.mktemp("demand"), tiny_data)


def _rows(items: list[int], *, day: str, scale: float = 1.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": np.array(items, dtype=np.int64),
            "event_timestamp": pd.Timestamp(day, tz="UTC"),
            "demand_next_1d": np.arange(len(items), dtype=float) * scale + 1.0,
            "demand_next_7d": np.arange(len(items), dtype=float) * scale * 7 + 7.0,
            "forecast_model_version": np.ones(len(items), dtype=np.int64),
        }
    )


def _online(settings: Settings, items: list[int]) -> dict[str, list[object]]:
    store = open_store(settings.feature_repo)
    return store.get_online_features(
        features=[f"{VIEW}:demand_next_1d", f"{VIEW}:demand_next_7d"],
        entity_rows=[{"item_id": i} for i in items],
    ).to_dict()


def test_demand_forecasts_reach_feast_and_bad_rows_write_nothing(
    published: PlatformContext,
) -> None:
    settings, gate = published.settings, published.gate
    demand = item_demand(settings=settings, gate=gate)
    assert demand.freq == "D" and all(i.startswith("item_") for i in demand.ids())
    assert len(demand.series(demand.ids()[0])) == 9  # 10 days of events, the last one left out

    first = write_demand_forecasts(
        settings=settings, gate=gate, rows=_rows([1, 2, 3], day="2026-01-11")
    )
    assert first.rows == 3 and first.origin == datetime(2026, 1, 11, tzinfo=UTC)
    online = _online(settings, [1, 2, 3])
    assert online["demand_next_1d"] == [1.0, 2.0, 3.0] and online["demand_next_7d"] == [
        7.0,
        14.0,
        21.0,
    ]

    second = write_demand_forecasts(
        settings=settings, gate=gate, rows=_rows([1, 2, 3], day="2026-01-12", scale=2.0)
    )
    offline = pd.read_parquet(second.offline_path)
    assert len(offline) == 6 and offline["event_timestamp"].nunique() == 2  # both origins kept
    assert _online(settings, [3])["demand_next_1d"] == [5.0]

    before = Path(second.offline_path).read_bytes()
    bad = _rows([1, 2, 2], day="2026-01-13")  # item 2 twice
    bad.loc[0, "demand_next_7d"] = -3.0
    with pytest.raises(DataQualityError) as caught:
        write_demand_forecasts(settings=settings, gate=gate, rows=bad)
    assert "demand_next_7d" in str(caught.value)
    assert Path(second.offline_path).read_bytes() == before
    assert _online(settings, [1, 3])["demand_next_1d"] == [1.0, 5.0]  # still the second write
