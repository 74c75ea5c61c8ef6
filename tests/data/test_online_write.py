"""recplat's bulk materialization writes what Feast's `materialize` writes, on SQLite and
on Redis, records the range, and (on Redis, as Feast) never puts older rows over newer."""

from __future__ import annotations

import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from recplat.events.synthetic import SyntheticData
from recplat.features.build import VIEWS
from recplat.features.online_write import parquet_loads, write_view, write_views
from recplat.features.repo import apply_repo, open_store
from recplat.io.parquet import read_parquet
from recplat.settings import Settings

from tests.conftest import published_context

pytestmark = pytest.mark.data
START = datetime(1995, 1, 1, tzinfo=UTC)
END = datetime.now(UTC) + timedelta(days=1)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, tiny_data: SyntheticData) -> Settings:
    ctx = published_context(tmp_path_factory.mktemp("published"), tiny_data)
    ctx.metadata.dispose()
    return ctx.settings


def _copy(settings: Settings, root: Path, *, redis_project: str | None = None) -> Settings:
    shutil.copytree(settings.feature_repo, root / "feature_repo")
    copy = Settings(feature_repo=root / "feature_repo", home=root / "home")
    copy.ensure_dirs()
    if redis_project:
        path = copy.feature_repo / "feature_store.yaml"
        text = path.read_text().replace("project: recplat", f"project: {redis_project}")
        path.write_text(
            text.replace(
                "  type: sqlite\n  path: data/online_store.db",
                "  type: redis\n  connection_string: 127.0.0.1:6379,db=0",
            )
        )
    apply_repo(copy.feature_repo)
    return copy


def _ours(settings: Settings) -> None:
    """All views at once, as `recplat features materialize` does (the next view is read
    and serialized on a second thread while this one is written)."""
    loads = parquet_loads(settings.offline_dir, dict.fromkeys(VIEWS, (START, END)))
    written = write_views(store=open_store(settings.feature_repo), loads=loads)
    assert set(written) == set(VIEWS) and all(n > 0 for n in written.values())


def _online(settings: Settings) -> dict[str, dict[str, list[object]]]:
    store = open_store(settings.feature_repo)
    out = {}
    for name in VIEWS:
        view = store.get_feature_view(name)
        key = view.entity_columns[0].name
        ids = read_parquet(settings.offline_dir / f"{name}.parquet")[key].unique().tolist()
        out[name] = store.get_online_features(
            features=[f"{name}:{f.name}" for f in view.features],
            entity_rows=[{key: int(i)} for i in [*ids, 10**6]],  # and one that is absent
        ).to_dict()
    return out


@pytest.fixture(params=["sqlite", "redis"])
def pair(
    request: pytest.FixtureRequest, published: Settings, tmp_path: Path
) -> Iterator[tuple[Settings, Settings]]:
    projects: list[str | None] = [None, None]
    if request.param == "redis":
        import redis

        try:
            redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping()
        except redis.exceptions.ConnectionError as exc:
            pytest.skip(f"needs Redis at 127.0.0.1:6379: {exc}")
        projects = [f"recplat_test_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    feast_side = _copy(published, tmp_path / "feast", redis_project=projects[0])
    ours = _copy(published, tmp_path / "ours", redis_project=projects[1])
    try:
        yield feast_side, ours
    finally:
        if request.param == "redis":
            for s in (feast_side, ours):
                open_store(s.feature_repo).teardown()


def test_bulk_writes_what_feast_materialize_writes(pair: tuple[Settings, Settings]) -> None:
    feast_side, ours = pair
    open_store(feast_side.feature_repo).materialize(start_date=START, end_date=END)
    _ours(ours)
    assert _online(ours) == _online(feast_side)
    store = open_store(ours.feature_repo)
    for view in VIEWS:  # the range is recorded, as Feast records it
        assert store.get_feature_view(view).most_recent_end_time is not None
    if store.config.online_store.type == "sqlite":  # and the rows are the same, byte for byte

        def rows(s: Settings) -> list[tuple[object, ...]]:
            with sqlite3.connect(s.data_dir / "online_store.db") as db:
                return [
                    row
                    for view in VIEWS
                    for row in db.execute(
                        f"SELECT entity_key, feature_name, value, value_text, event_ts, created_ts "
                        f"FROM recplat_{view} ORDER BY entity_key, feature_name"
                    )
                ]

        assert rows(ours) == rows(feast_side)


def test_a_range_moves_only_its_rows_and_redis_keeps_newer_rows(
    pair: tuple[Settings, Settings],
) -> None:
    _, ours = pair
    store = open_store(ours.feature_repo)
    snaps = read_parquet(ours.offline_dir / "user_sequence.parquet")
    stamps = pd.to_datetime(snaps["event_timestamp"], utc=True)
    middle = stamps.sort_values().iloc[len(stamps) // 2].to_pydatetime()
    written = write_view(
        store=store, view_name="user_sequence", table=snaps, start=START, end=middle
    )
    assert written == snaps[stamps <= middle]["user_id"].nunique()
    user = int(snaps[stamps > middle]["user_id"].iloc[-1])

    def hist_len() -> int:
        got = store.get_online_features(
            features=["user_sequence:hist_len"], entity_rows=[{"user_id": user}]
        ).to_dict()
        return int(got["hist_len"][0])

    write_view(store=store, view_name="user_sequence", table=snaps, start=middle, end=END)
    newest = int(snaps[snaps["user_id"] == user].iloc[-1]["hist_len"])
    assert hist_len() == newest
    if store.config.online_store.type == "redis":
        # Writing the old range again must not roll the user back (Feast's Redis rule).
        write_view(store=store, view_name="user_sequence", table=snaps, start=START, end=middle)
        assert hist_len() == newest
