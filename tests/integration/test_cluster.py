"""A real two-node Ray cluster on this machine: `ray job submit` a 2-worker training job
and check, from Ray's own state, that each node ran one of its workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import run_feature_stages
from recplat.events.synthetic import GeneratorConfig
from recplat.runtime.local_cluster import LocalCluster, start, stop

from tests.conftest import make_settings

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
CLUSTER = LocalCluster(port=6490, dashboard_port=8290, cpus_per_node=1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    stop(CLUSTER)  # leftovers of an interrupted earlier run
    start(CLUSTER)
    try:
        yield CLUSTER
    finally:
        stopped = stop(CLUSTER)
        assert stopped > 0


def _ray(*args: str) -> str:
    env = os.environ | {"RAY_AUTH_MODE": "disabled"}
    done = subprocess.run(
        [str(BIN / "ray"), *args], check=False, capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_two_worker_job_runs_on_both_nodes(cluster: LocalCluster, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    ctx = PlatformContext(settings=settings)
    run_feature_stages(
        ctx,
        config=GeneratorConfig(users=80, items=60, categories=6, impressions=2500, days=6, seed=5),
    )
    ctx.metadata.dispose()

    out = _ray(
        "job",
        "submit",
        "--address",
        cluster.jobs_url,
        "--",
        str(BIN / "recplat"),
        "train",
        "--model",
        "embedding_mlp",
        "--epochs",
        "1",
        "--num-workers",
        "2",
        "--placement",
        "strict_spread",
        "--feature-repo",
        str(settings.feature_repo.resolve()),
        "--home",
        str(settings.home.resolve()),
    )
    assert "registered embedding_mlp version 1" in out

    nodes = {
        n["node_id"]: n
        for n in json.loads(
            _ray("list", "nodes", "--address", cluster.jobs_url, "--format", "json")
        )
    }
    assert len(nodes) == 2
    workers = json.loads(
        _ray(
            "list",
            "actors",
            "--address",
            cluster.jobs_url,
            "--filter",
            "class_name=RayTrainWorker",
            "--detail",
            "--format",
            "json",
        )
    )
    assert len(workers) == 2
    assert {w["node_id"] for w in workers} == set(nodes)

    # The run records the cluster job it ran in.
    from recplat.registry.store import MetadataStore

    store = MetadataStore(url=settings.metadata_url)
    (run,) = store.runs()
    assert run.status == "finished" and run.lineage is not None
    assert run.lineage["ray_address"] != "local"
    store.dispose()
