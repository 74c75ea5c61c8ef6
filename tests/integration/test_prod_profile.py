"""The production profile for real: Redis online store, Feast SQL registry and platform
metadata on PostgreSQL, selected by configuration only (infra/feast/feature_store.prod.yaml
and RECPLAT_* settings). Each run has its own Feast project (Redis keys carry it) and its
own PostgreSQL database, and removes both. Skipped, with the reason, where the services are
not running.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import run_feature_stages
from recplat.events.synthetic import GeneratorConfig
from recplat.features.append import append_events
from recplat.features.online_read import OnlineFeatureReader
from recplat.features.repo import open_store
from recplat.registry.store import MetadataStore
from recplat.settings import Settings
from recplat.training.in_process import train_local
from recplat.training.options import TrainOptions
from recplat.training.training_set import prepare_training_data

from tests.conftest import REPO_ROOT, make_settings

pytestmark = pytest.mark.integration
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
REDIS = "127.0.0.1:6379"


def _services_or_skip() -> None:
    import psycopg
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=2).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"production profile needs Redis at {REDIS}: {exc}")
    try:
        psycopg.connect(
            "host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3
        ).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"production profile needs PostgreSQL at 127.0.0.1:5432: {exc}")


@pytest.fixture
def prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    import psycopg

    _services_or_skip()
    name = f"recplat_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    in_schema = f"{POSTGRES_SERVER}/{name}"
    settings = make_settings(tmp_path)
    # The deployed profile, as the Dockerfile installs it; only the project is this test's.
    prod_yaml = (REPO_ROOT / "infra" / "feast" / "feature_store.prod.yaml").read_text()
    assert "project: recplat\n" in prod_yaml
    (settings.feature_repo / "feature_store.yaml").write_text(
        prod_yaml.replace("project: recplat\n", f"project: {name}\n")
    )
    monkeypatch.setenv("RECPLAT_FEAST_REGISTRY_URL", in_schema)
    monkeypatch.setenv("RECPLAT_REDIS", f"{REDIS},db=0")
    monkeypatch.setenv("RECPLAT_DATABASE_URL", in_schema)
    settings = Settings.from_env(feature_repo=settings.feature_repo, home=settings.home)
    try:
        yield settings
    finally:
        try:
            open_store(settings.feature_repo).teardown()  # the project's Redis keys
        finally:
            with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as c:
                c.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            shutil.rmtree(tmp_path, ignore_errors=True)


def test_the_pipeline_runs_on_redis_and_postgresql(prod: Settings) -> None:
    import psycopg
    import redis

    assert prod.database_url is not None and "postgresql" in prod.database_url
    ctx = PlatformContext(settings=prod)
    config = GeneratorConfig(users=80, items=60, categories=6, impressions=3000, days=8, seed=4)
    stages = run_feature_stages(ctx, config=config)  # gates, SQL registry apply, Redis materialize
    assert stages.build.rows["user_sequence"] > 0

    store = open_store(prod.feature_repo)
    assert store.config.online_store.type == "redis"
    assert store.config.registry.registry_type == "sql"
    project = store.project
    keys = redis.Redis(host="127.0.0.1", port=6379).keys(f"*{project}*")
    assert keys, "materialize wrote nothing to Redis"

    # Feast's registry and recplat's metadata live in this test's own PostgreSQL database.
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={project}") as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    assert {"feature_views", "entities", "validation_runs", "training_runs"} <= tables
    runs = MetadataStore(url=prod.database_url).validations(dataset="user_sequence")
    assert runs and runs[0].success

    # Point-in-time training set through the SQL registry, a model trained on it.
    data = prepare_training_data(settings=prod, gate=ctx.gate)
    result = train_local(data=data, options=TrainOptions(model_name="din", epochs=1, threads=1))
    assert 0.0 < result.metrics["auc"] < 1.0

    # Ranking reads and online appends on Redis.
    reader = OnlineFeatureReader(store=store, feature_service="ranking_v1")
    user = int(data.frames["train"]["user_id"].iloc[0])
    before = reader.read(user_id=user, item_ids=[1, 2]).history_length
    event = {
        "event_id": 10**9, "user_id": user, "item_id": 2, "event_type": "impression",
        "clicked": 1, "event_timestamp": pd.Timestamp.now(tz="UTC"),
    }  # fmt: skip
    assert (
        append_events(
            store=store, events=pd.DataFrame([event]), max_len=prod.sequence_length
        ).appended
        == 1
    )
    assert reader.read(user_id=user, item_ids=[1, 2]).history_length == min(
        before + 1, prod.sequence_length
    )


class _TcpProxy:
    """Forwards a local port to Redis; `stop()` is the store going away (connections cut,
    port refusing), `start()` it coming back on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        import socket

        self.target = target
        probe = socket.create_server(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server: Any = None
        self._open: list[Any] = []

    def start(self) -> None:
        import socket
        import threading

        self._server = socket.create_server(("127.0.0.1", self.port), reuse_port=True)
        server = self._server

        def pump(src: Any, dst: Any) -> None:
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        def accept() -> None:
            while True:
                try:
                    client, _ = server.accept()
                except OSError:
                    return  # stopped
                upstream = socket.create_connection(self.target)
                self._open += [client, upstream]
                threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

        threading.Thread(target=accept, daemon=True).start()

    def stop(self) -> None:
        import socket

        with contextlib.suppress(OSError):  # wakes the accepting thread (close alone does not)
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        for s in self._open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self._open.clear()


def test_a_redis_outage_degrades_within_the_deadline_and_recovers(
    prod: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis goes away mid-traffic (a proxy in front of the real server cuts it): each read
    gives up within the deadline, the breaker then answers at once, and reads come back by
    themselves when Redis does."""
    from recplat.serving.guard import FeatureGuard

    ctx = PlatformContext(settings=prod)
    config = GeneratorConfig(users=40, items=30, categories=4, impressions=1500, days=5, seed=8)
    run_feature_stages(ctx, config=config)
    user = int(pd.read_parquet(prod.offline_dir / "user_sequence.parquet")["user_id"].iloc[0])

    proxy = _TcpProxy(("127.0.0.1", 6379))
    proxy.start()
    monkeypatch.setenv("RECPLAT_REDIS", f"127.0.0.1:{proxy.port},db=0")  # Feast reads it on open
    reader = OnlineFeatureReader(
        store=open_store(prod.feature_repo), feature_service="ranking_v1", timeout_s=0.1
    )
    assert reader.enforces_deadline  # Redis reads bound their own waits: no watchdog thread
    guard = FeatureGuard(reader, timeout_s=0.1, retry_after_s=0.5)
    try:
        found, reason = guard.read(user_id=user, item_ids=[1, 2, 3])
        assert reason is None and found is not None and found.history_length > 0
        healthy = found

        proxy.stop()
        started = time.perf_counter()
        found, reason = guard.read(user_id=user, item_ids=[1, 2, 3])
        took = time.perf_counter() - started
        assert found is None and reason is not None and "feature store" in reason
        assert took < 0.5, f"the failed read took {took:.2f} s (deadline 0.1 s)"
        started = time.perf_counter()  # the breaker is open: no wait on the store at all
        assert guard.read(user_id=user, item_ids=[1]) == (None, reason)
        assert time.perf_counter() - started < 0.01

        proxy.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found, reason = guard.read(user_id=user, item_ids=[1, 2, 3])
            if found is not None:
                break
            time.sleep(0.1)
        assert reason is None and found == healthy  # the same rows, read again from Redis
    finally:
        proxy.stop()
        monkeypatch.setenv("RECPLAT_REDIS", f"{REDIS},db=0")  # the fixture cleans up through it
