"""Online sequence appends through Feast, on SQLite and on Redis.

The online path (`append_events`) must hold, at any time, exactly what the
offline rebuild from the same events holds; replays change nothing; many
concurrent writers for one user lose nothing.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from recplat.events.synthetic import SyntheticData
from recplat.features.append import SEQUENCE_FIELDS, _stored, append_events
from recplat.features.offline import behaviours, sequence_snapshots
from recplat.features.repo import apply_repo, open_store

from tests.conftest import make_settings


def get_cell(frame: pd.DataFrame, user: int, column: str) -> Any:
    """One cell by user id (typed Any: list cells defeat pandas-stubs)."""
    return frame[column].to_dict()[user]


if TYPE_CHECKING:
    from feast import FeatureStore

pytestmark = pytest.mark.data
REDIS = "127.0.0.1:6379"
T0 = pd.Timestamp("2026-03-01", tz="UTC")


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping())
    except redis.exceptions.ConnectionError:
        return False


@pytest.fixture(params=["sqlite", "redis"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A fresh feature repo with the online store of the parameter, torn down after."""
    settings = make_settings(tmp_path)
    repo = settings.feature_repo
    if request.param == "redis":
        if not _redis_up():
            pytest.skip(f"no Redis at {REDIS}")
        # Its own project: Redis keys carry the project, so tests never see each other's rows.
        project = f"recplat_test_{uuid.uuid4().hex[:10]}"
        text = (repo / "feature_store.yaml").read_text()
        text = text.replace("project: recplat", f"project: {project}")
        text = text.replace(
            "  type: sqlite\n  path: data/online_store.db",
            f"  type: redis\n  connection_string: {REDIS},db=0",
        )
        (repo / "feature_store.yaml").write_text(text)
    apply_repo(repo)
    yield repo
    open_store(repo).teardown()


def _publish_items(store: FeatureStore, data: SyntheticData) -> None:
    store.write_to_online_store(
        "item_attributes", data.items[["item_id", "category_id", "price_bucket", "event_timestamp"]]
    )


def _online(store: FeatureStore, users: list[int]) -> dict[int, dict[str, list[int]]]:
    return {u: arrays for u, (_, arrays) in _stored(store, users).items()}


def _offline(
    events: pd.DataFrame, data: SyntheticData, max_len: int, impressions: bool = False
) -> pd.DataFrame:
    snaps = sequence_snapshots(
        events=events, items=data.items, max_len=max_len, impressions=impressions
    )
    return snaps.groupby("user_id").tail(1).set_index("user_id")


@pytest.mark.parametrize("impressions", [False, True], ids=["clicks", "every-impression"])
def test_online_appends_equal_the_offline_rebuild_at_every_step(
    repo: Path, tiny_data: SyntheticData, impressions: bool
) -> None:
    store = open_store(repo)
    _publish_items(store, tiny_data)
    events = tiny_data.events.sort_values(["event_timestamp", "event_id"]).reset_index(drop=True)
    users = sorted(int(u) for u in events["user_id"].unique())
    max_len = 12  # short, so windows fill and old behaviours fall out
    chunks = np.array_split(np.arange(len(events)), 6)
    total = too_old = 0
    for step, rows in enumerate(chunks):
        # Within a batch the order is scrambled: the append must sort like the rebuild.
        result = append_events(
            store=store,
            events=events.iloc[rows].sample(frac=1.0, random_state=step),
            max_len=12,
            impressions=impressions,
        )
        total += result.appended
        too_old += result.too_old  # a batch with more than N clicks of one user
        so_far = events.iloc[: rows[-1] + 1]
        expected = _offline(so_far, tiny_data, max_len, impressions)
        online = _online(store, users)
        for user in users:
            want = (
                {f: list(get_cell(expected, user, f)) for f in SEQUENCE_FIELDS if f != "hist_len"}
                if user in expected.index
                else {f: [] for f in SEQUENCE_FIELDS if f != "hist_len"}
            )
            assert online[user] == want, f"user {user} after batch {step}"
    assert total + too_old == len(behaviours(events, impressions=impressions))
    assert total > too_old
    # Purchases travel as typed behaviours, not only clicks; unclicked impressions only
    # when the store keeps them.
    kinds = {k for arrays in online.values() for k in arrays["hist_behaviour_types"]}
    assert 2 in kinds and (3 in kinds) is impressions

    # A replayed batch changes nothing: ids in the window are duplicates, the rest too old.
    before = _online(store, users)
    replay = append_events(
        store=store, events=events.iloc[chunks[-1]], max_len=max_len, impressions=impressions
    )
    assert replay.appended == 0 and replay.users == 0
    assert replay.duplicates + replay.too_old + replay.not_behaviour == replay.received
    assert _online(store, users) == before

    # Feast's own read path (what ranking uses) serves the appended sequences.
    final = _offline(events, tiny_data, max_len, impressions)
    user = int(final["hist_len"].to_numpy().argmax())
    user = int(final.index[user])
    read = store.get_online_features(
        features=store.get_feature_service("ranking_v1"),
        entity_rows=[{"user_id": user, "item_id": 1}],
    ).to_dict()
    assert read["hist_item_ids"][0] == list(get_cell(final, user, "hist_item_ids"))
    assert read["hist_len"][0] == get_cell(final, user, "hist_len") == max_len


def _click(event_id: int, user: int, item: int, minute: float) -> dict[str, object]:
    return {
        "event_id": event_id,
        "user_id": user,
        "item_id": item,
        "event_timestamp": T0 + pd.Timedelta(minutes=minute),
        "event_type": "impression",
        "clicked": 1,
    }


def test_concurrent_writers_for_one_user_lose_nothing(repo: Path, tiny_data: SyntheticData) -> None:
    writers, per_writer = 8, 15
    stores = [open_store(repo) for _ in range(writers)]  # one client each, like replicas
    _publish_items(stores[0], tiny_data)
    start = threading.Barrier(writers)
    errors: list[Exception] = []

    def write(w: int) -> None:
        try:
            start.wait()
            for k in range(per_writer):
                event_id = 1 + w * per_writer + k
                # Interleaved times: every writer's events land between the others'.
                batch = pd.DataFrame([_click(event_id, 7, 1 + event_id % 50, k + w / writers)])
                append_events(store=stores[w], events=batch, max_len=500)
        except Exception as exc:  # noqa: BLE001 - any failure in a writer fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    sequence = _online(stores[0], [7])[7]
    assert sorted(sequence["hist_event_ids"]) == list(range(1, writers * per_writer + 1))
    assert sequence["hist_timestamps"] == sorted(sequence["hist_timestamps"])


# A serving replica: one appender shared by the threads of its endpoint.
_REPLICA = """
import sys, threading
from pathlib import Path
import pandas as pd
from recplat.features.append import SequenceAppender
from recplat.features.repo import open_store

repo, first, threads, per_thread = sys.argv[1], *map(int, sys.argv[2:5])
T0 = pd.Timestamp("2026-03-01", tz="UTC")
appender = SequenceAppender(store=open_store(Path(repo)), max_len=500)
errors = []

def write(t):
    for k in range(per_thread):
        event_id = first + t * per_thread + k
        batch = pd.DataFrame([{
            "event_id": event_id, "user_id": 1 + event_id % 11, "item_id": 1 + event_id % 50,
            "event_timestamp": T0 + pd.Timedelta(seconds=event_id),
            "event_type": "impression", "clicked": 1,
        }])
        try:
            appender.append(batch)
        except Exception as exc:
            errors.append(repr(exc))

workers = [threading.Thread(target=write, args=(t,)) for t in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
print("ERRORS", len(errors), sorted(set(errors))[:3])
"""


def test_two_replicas_each_appending_from_many_threads_lose_nothing(
    repo: Path, tiny_data: SyntheticData
) -> None:
    # Two processes, each one appender shared by 6 threads (as `/events` runs in a
    # replica). On SQLite, reading on the writer's connection made writes fail at once
    # ("database is locked") and corrupted its cursors ("another row available").
    import subprocess
    import sys

    _publish_items(open_store(repo), tiny_data)
    threads, per_thread = 6, 20
    args = [str(repo), str(threads), str(per_thread)]
    replicas = [
        subprocess.Popen(
            [sys.executable, "-c", _REPLICA, args[0], str(1 + r * 1000), *args[1:]],
            stdout=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    outputs = [replica.communicate(timeout=300)[0] for replica in replicas]
    assert [o.strip().splitlines()[-1] for o in outputs] == ["ERRORS 0 []"] * 2, outputs
    posted = [1 + r * 1000 + k for r in range(2) for k in range(threads * per_thread)]
    online = _online(open_store(repo), list(range(1, 12)))
    stored = sorted(e for u in online for e in online[u]["hist_event_ids"])
    assert stored == sorted(posted)  # each once: none lost, none twice
    for user, sequence in online.items():
        assert all(1 + e % 11 == user for e in sequence["hist_event_ids"])
        assert sequence["hist_timestamps"] == sorted(sequence["hist_timestamps"])


@pytest.mark.parametrize("impressions", [False, True], ids=["clicks", "every-impression"])
def test_records_and_frames_append_alike(
    repo: Path, tiny_data: SyntheticData, impressions: bool
) -> None:
    # `/events` appends records without frames; it must do exactly what the frame path does.
    from recplat.features.append import SequenceAppender
    from recplat.features.offline import epoch_micros

    store = open_store(repo)
    _publish_items(store, tiny_data)
    appender = SequenceAppender(store=store, max_len=4, impressions=impressions)
    rows = [_click(10 + k, 3, 1 + k % 7, minute=k % 5) for k in range(12)]
    rows[2]["clicked"] = rows[5]["clicked"] = 0  # unclicked impressions
    rows[4]["event_type"] = rows[8]["event_type"] = "purchase"
    rows[8]["clicked"] = 0  # a purchase whatever its clicked flag
    rows += [dict(rows[1]), dict(rows[6])]  # repeated within the batch
    rows += [{**r, "user_id": 4, "event_id": 110 + k} for k, r in enumerate(rows[:6])]
    frame = pd.DataFrame(rows)
    # The same events for users 13 and 14 through the frame path.
    mirrored = frame.assign(user_id=frame["user_id"] + 10, event_id=frame["event_id"] + 1000)
    records = [
        (int(e), int(u), int(i), int(m), str(t), int(c))
        for e, u, i, m, t, c in zip(
            frame["event_id"],
            frame["user_id"],
            frame["item_id"],
            epoch_micros(frame["event_timestamp"]).tolist(),
            frame["event_type"],
            frame["clicked"],
            strict=True,
        )
    ]
    for _ in range(2):  # and again: every event a duplicate the second time
        assert appender.append_records(records) == appender.append(mirrored)
    online = _online(store, [3, 4, 13, 14])
    for user in (3, 4):
        mine, theirs = online[user], online[user + 10]
        assert mine["hist_event_ids"] == [e - 1000 for e in theirs["hist_event_ids"]]
        assert {k: v for k, v in mine.items() if k != "hist_event_ids"} == {
            k: v for k, v in theirs.items() if k != "hist_event_ids"
        }
        assert len(mine["hist_item_ids"]) == 4  # the window held


def test_a_window_keeps_the_newest_and_drops_older_late_events(
    repo: Path, tiny_data: SyntheticData
) -> None:
    store = open_store(repo)
    _publish_items(store, tiny_data)
    first = pd.DataFrame([_click(i, 3, i, i) for i in range(1, 6)])  # minutes 1..5
    assert append_events(store=store, events=first, max_len=3).appended == 3
    assert _online(store, [3])[3]["hist_event_ids"] == [3, 4, 5]
    late = pd.DataFrame([_click(10, 3, 10, 0.5), _click(11, 3, 11, 3.5)])
    result = append_events(store=store, events=late, max_len=3)
    assert (result.appended, result.too_old) == (1, 1)
    seq = _online(store, [3])[3]
    assert seq["hist_event_ids"] == [11, 4, 5]  # the late one lands in time order
    category = dict(zip(tiny_data.items["item_id"], tiny_data.items["category_id"], strict=True))
    assert seq["hist_category_ids"] == [category[11], category[4], category[5]]


def test_a_bad_batch_names_the_problem_and_writes_nothing(
    repo: Path, tiny_data: SyntheticData
) -> None:
    store = open_store(repo)
    good = pd.DataFrame([_click(1, 5, 2, 1)])
    append_events(store=store, events=good, max_len=5)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['clicked'\]"):
        append_events(store=store, events=good.drop(columns=["clicked"]), max_len=5)
    bad = pd.DataFrame([_click(2, 5, 3, 2), _click(3, -4, 3, 3)])
    with pytest.raises(ValueError, match="events row 1: user_id must be a non-negative integer"):
        append_events(store=store, events=bad, max_len=5)
    assert _online(store, [5])[5]["hist_event_ids"] == [1]


def test_the_ranking_reader_reads_what_feast_serves(repo: Path, tiny_data: SyntheticData) -> None:
    """recplat's reader (online_read per view) returns what get_online_features returns."""
    from recplat.features.encoding import fill_missing
    from recplat.features.online_read import OnlineFeatureReader

    store = open_store(repo)
    _publish_items(store, tiny_data)
    store.write_to_online_store("user_profile", tiny_data.users.iloc[:5])
    user = int(tiny_data.users["user_id"].iloc[0])
    append_events(
        store=store,
        events=pd.DataFrame([_click(k, user, 1 + k, k) for k in range(1, 5)]),
        max_len=10,
    )
    request = {"request_time_s": 1767225600, "device": "tablet"}
    for name in ("ranking_v1", "din_ranker_v1"):  # the narrow service; one with on-demand views
        reader = OnlineFeatureReader(store=store, feature_service=name)
        service = store.get_feature_service(name)
        for who in (user, 99_999):  # a known user with history; an unknown one
            items = [1, 2, 50_000, 3]  # 50_000: no such item
            ours = reader.fetch(user_id=who, item_ids=items, request=request)
            rows = [{"user_id": who, "item_id": i, **request} for i in items]
            feast = fill_missing(
                pd.DataFrame(
                    store.get_online_features(features=service, entity_rows=rows).to_dict()
                )
            ).drop(columns=list(request), errors="ignore")
            assert set(feast.columns) <= set(ours.columns), name
            for column in feast.columns:
                assert _plain(ours[column]) == _plain(feast[column]), (name, column)
            assert ours.attrs["unknown_items"] == [50_000]
            assert ours.attrs["unknown_user"] is (who == 99_999)
    assert reader.read(user_id=user, item_ids=[1]).history_length == 4


def _plain(column: pd.Series) -> list[Any]:
    """Values comparable with ==: NaN as None, arrays as lists."""
    return [
        None
        if isinstance(v, float) and math.isnan(v)
        else list(v)
        if isinstance(v, list | tuple | np.ndarray)
        else v
        for v in column.tolist()
    ]
