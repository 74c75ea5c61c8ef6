"""`recplat features ...` on a real store, and incremental materialization."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from recplat.events.synthetic import SyntheticData
from recplat.features.build import materialize, materialize_incremental
from recplat.features.repo import open_store
from recplat.io.parquet import read_parquet
from recplat.settings import Settings

from tests.conftest import published_context

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, tiny_data: SyntheticData) -> Iterator[Settings]:
    ctx = published_context(tmp_path_factory.mktemp("features-cli"), tiny_data)
    materialize(settings=ctx.settings, gate=ctx.gate)
    yield ctx.settings
    ctx.metadata.dispose()


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    from recplat.cli.main import app
    from typer.testing import CliRunner

    where = ["--feature-repo", str(settings.feature_repo), "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_list_and_describe_show_the_catalogue(live: Settings) -> None:
    code, out = _cli(live, "features", "list")
    assert code == 0, out
    for name in ("user_profile", "item_attributes", "user_sequence", "ranking_v1"):
        assert name in out
    assert "user_sequence_push" in out  # the sequence view's online path
    # Every view the feature stages build was materialized (item_demand_forecast and
    # user_propensity are written by `recplat forecast-demand` and `recplat score`).
    assert [line for line in out.splitlines() if "never" in line] == [
        line
        for line in out.splitlines()
        if "item_demand_forecast " in line or "user_propensity " in line
    ]
    for name in ("user_activity", "item_stats", "context_features", "din_ranker_v1"):
        assert name in out
    assert "request_time_s" in out  # the context view's request fields

    code, out = _cli(live, "features", "describe", "context_features")
    assert code == 0, out
    assert "seconds_since_last_event" in out and "device (String)" in out
    code, out = _cli(
        live, "features", "get-online", "--user-id", "1", "--item-id", "2",
        "--service", "din_ranker_v1", "--device", "mobile", "--request-time", "1767225600",
    )  # fmt: skip
    assert code == 0, out
    assert "user_clicks_30d" in out and "item_ctr_smoothed_30d" in out
    cells = [line.replace("│", " ").split() for line in out.splitlines() if "device_index" in line]
    assert cells == [["device_index", "1"]]  # mobile
    code, out = _cli(live, "features", "describe", "user_activity")
    assert code == 0 and "user_clicks_7d" in out and "user_activity.parquet" in out

    code, out = _cli(live, "features", "describe", "user_sequence")
    assert code == 0, out
    assert "hist_item_ids" in out and "Array(Int64)" in out and "user_sequence.parquet" in out
    code, out = _cli(live, "features", "describe", "ranking_v1")
    assert code == 0 and "hist_len" in out and "age_bucket" in out
    assert "hist_event_ids" not in out  # bookkeeping, not served to models
    code, out = _cli(live, "features", "describe", "nope")
    assert code == 1 and "no feature view or service 'nope'" in out and "ranking_v1" in out


def test_get_online_and_append_round_trip(live: Settings, tmp_path: Path) -> None:
    snaps = read_parquet(live.offline_dir / "user_sequence.parquet")
    longest: dict[int, int] = snaps.groupby("user_id")["hist_len"].max().to_dict()  # type: ignore[assignment]
    user = min(longest, key=lambda u: longest[u])  # a short history
    before = int(snaps[snaps["user_id"] == user]["hist_len"].max())
    code, out = _cli(live, "features", "get-online", "--user-id", str(user), "--item-id", "1")
    assert code == 0, out
    assert f"({before})" in out  # arrays are shown with their length

    now = datetime.now(UTC).replace(microsecond=0)
    events = [
        {"event_id": 90_000_000 + k, "user_id": user, "item_id": 2 + k,
         "event_timestamp": (now - pd.Timedelta(seconds=10 - k)).isoformat(),
         "event_type": "impression", "clicked": 1}
        for k in range(3)
    ]  # fmt: skip
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    code, out = _cli(live, "features", "append", str(path))
    assert code == 0, out
    store = open_store(live.feature_repo)
    read = store.get_online_features(
        features=["user_sequence:hist_item_ids", "user_sequence:hist_len"],
        entity_rows=[{"user_id": user}],
    ).to_dict()
    assert read["hist_len"][0] == min(before + 3, live.sequence_length)
    assert read["hist_item_ids"][0][-3:] == [2, 3, 4]
    code, out = _cli(live, "features", "append", str(path))  # a replay
    assert code == 0 and " 0 " in out.splitlines()[-2]  # nothing appended

    bad = tmp_path / "events.txt"
    bad.write_text("x")
    code, out = _cli(live, "features", "append", str(bad))
    assert code == 1 and "expected .parquet, .csv or .json" in out


def test_incremental_materialization_moves_only_new_rows(
    tmp_path: Path, tiny_data: SyntheticData
) -> None:
    ctx = published_context(tmp_path, tiny_data)
    settings = ctx.settings
    snaps = read_parquet(settings.offline_dir / "user_sequence.parquet")
    stamps = pd.to_datetime(snaps["event_timestamp"], utc=True)
    middle = stamps.sort_values().iloc[len(stamps) // 2].to_pydatetime()

    first = {
        m.view: m for m in materialize_incremental(settings=settings, gate=ctx.gate, end=middle)
    }
    assert set(first) == {
        "user_profile", "item_attributes", "user_sequence", "user_activity", "item_stats",
    }  # fmt: skip
    assert first["user_sequence"].rows == int((stamps <= middle).sum())

    # Mark an old row online: a run that re-moved old rows would overwrite the mark.
    store = open_store(settings.feature_repo)
    profile = read_parquet(settings.offline_dir / "user_profile.parquet").iloc[[0]].copy()
    user = int(profile["user_id"].iloc[0])
    profile["age_bucket"] = 99
    store.write_to_online_store("user_profile", profile)

    second = {m.view: m for m in materialize_incremental(settings=settings, gate=ctx.gate)}
    assert second["user_sequence"].start == first["user_sequence"].end
    assert second["user_sequence"].rows == int((stamps > middle).sum()) > 0
    assert second["user_profile"].rows == 0
    read = (
        open_store(settings.feature_repo)
        .get_online_features(
            features=["user_profile:age_bucket", "user_sequence:hist_len"],
            entity_rows=[{"user_id": user}],
        )
        .to_dict()
    )
    assert read["age_bucket"] == [99]  # old rows were not moved again
    latest = snaps[snaps["user_id"] == user].iloc[-1]
    assert read["hist_len"] == [int(latest["hist_len"])]  # new rows were

    # Nothing new: nothing moves.
    third = materialize_incremental(settings=settings, gate=ctx.gate)
    assert all(m.rows == 0 for m in third)
    ctx.metadata.dispose()
