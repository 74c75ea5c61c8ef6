"""The KubeRay manifests' own work on a real two-node Ray cluster on this machine.

Head and worker each run on their own loopback address (127.0.0.2, 127.0.0.3) and
ports away from Ray's default 6379 (Redis uses it here). The RayJob's entrypoint,
read from infra/kuberay/rayjob.yaml, goes through `ray job submit` with a deadline
(`--gpu` dropped on CPU; `--epochs 1` and this test's repo and home appended), and
must run one DDP worker on each node. Then the RayService's own `serveConfigV2`
goes through `serve deploy`, with only what one machine forces changed (paths, the
HTTP address, one proxy on the head), and answers a ranking request from the model
the job registered. Only this cluster's processes are stopped.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from recplat.cli.context import PlatformContext
from recplat.cli.pipeline import run_feature_stages
from recplat.events.synthetic import GeneratorConfig
from recplat.runtime.local_cluster import LocalCluster, start, stop

from tests.conftest import REPO_ROOT, make_settings

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent
CLUSTER = LocalCluster(
    port=6490, dashboard_port=8290, cpus_per_node=1, head_ip="127.0.0.2", worker_ip="127.0.0.3"
)
SERVE_PORT = 8391
KUBERAY = REPO_ROOT / "infra" / "kuberay"
JOB_DEADLINE_S = 300


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    stop(CLUSTER)  # leftovers of an interrupted earlier run
    start(CLUSTER)
    try:
        yield CLUSTER
    finally:
        subprocess.run(
            [str(BIN / "serve"), "shutdown", "--address", CLUSTER.jobs_url, "-y"],
            check=False, capture_output=True, timeout=120, env=_env(),
        )  # fmt: skip
        stopped = stop(CLUSTER)
        assert stopped > 0


def _env() -> dict[str, str]:
    return os.environ | {"RAY_AUTH_MODE": "disabled"}


def _ray(*args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(BIN / "ray"), *args],
        check=False, capture_output=True, text=True, timeout=timeout, env=_env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def job_entrypoint(*, feature_repo: Path, home: Path) -> list[str]:
    """The RayJob's entrypoint as this machine runs it: on CPU, one epoch, our paths."""
    manifest = yaml.safe_load((KUBERAY / "rayjob.yaml").read_text())
    words = shlex.split(manifest["spec"]["entrypoint"])
    assert words[:2] == ["recplat", "train"], words
    words = [w for w in words if w != "--gpu"]
    # The image's working directory is the repo root (infra/docker/Dockerfile: /app).
    words = [str(REPO_ROOT / w) if w.startswith("configs/") else w for w in words]
    return [
        str(BIN / "recplat"),
        *words[1:],
        "--epochs", "1",
        "--feature-repo", str(feature_repo.resolve()),
        "--home", str(home.resolve()),
    ]  # fmt: skip


def serve_config(*, feature_repo: Path, home: Path) -> dict[str, Any]:
    """The RayService's serveConfigV2 with only what one machine forces changed."""
    manifest = yaml.safe_load((KUBERAY / "rayservice.yaml").read_text())
    config = yaml.safe_load(manifest["spec"]["serveConfigV2"])
    # A pod has its own network; here both nodes share one, so one proxy, on the head.
    config["http_options"] = {"host": CLUSTER.head_ip, "port": SERVE_PORT}
    config["proxy_location"] = "HeadOnly"
    (app,) = config["applications"]
    app["args"] |= {"feature_repo": str(feature_repo.resolve()), "home": str(home.resolve())}
    return config


def test_the_rayjob_trains_on_both_nodes_and_the_rayservice_ranks_with_it(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    ctx = PlatformContext(settings=settings)
    run_feature_stages(
        ctx,
        config=GeneratorConfig(users=80, items=60, categories=6, impressions=2500, days=6, seed=5),
    )
    ctx.metadata.dispose()

    entrypoint = job_entrypoint(feature_repo=settings.feature_repo, home=settings.home)
    assert "--num-workers" in entrypoint and "dien.yaml" in " ".join(entrypoint)
    out = _ray(
        "job", "submit", "--address", cluster.jobs_url, "--", *entrypoint,
        timeout=JOB_DEADLINE_S,
    )  # fmt: skip
    assert "registered dien version 1" in out

    nodes = {
        n["node_id"]: n
        for n in json.loads(
            _ray("list", "nodes", "--address", cluster.jobs_url, "--format", "json")
        )
    }
    assert {n["node_ip"] for n in nodes.values()} == {cluster.head_ip, cluster.worker_ip}
    workers = json.loads(
        _ray(
            "list", "actors", "--address", cluster.jobs_url,
            "--filter", "class_name=RayTrainWorker", "--detail", "--format", "json",
        )
    )  # fmt: skip
    assert len(workers) == 2
    assert {w["node_id"] for w in workers} == set(nodes)  # `--placement spread`: one each

    from recplat.registry.store import MetadataStore

    store = MetadataStore(url=settings.metadata_url)
    (run,) = store.runs()
    assert run.status == "finished" and run.lineage is not None
    assert run.lineage["ray_address"] != "local"
    store.dispose()

    config_path = tmp_path / "serve.yaml"
    config_path.write_text(
        yaml.safe_dump(serve_config(feature_repo=settings.feature_repo, home=settings.home))
    )
    deployed = subprocess.run(
        [str(BIN / "serve"), "deploy", str(config_path), "--address", cluster.jobs_url],
        check=False, capture_output=True, text=True, timeout=120, env=_env(),
    )  # fmt: skip
    assert deployed.returncode == 0, deployed.stderr[-3000:]
    url = f"http://{cluster.head_ip}:{SERVE_PORT}"
    body = {"user_id": 7, "candidate_item_ids": [5, 17, 33, 2], "context": {"device": "mobile"}}
    deadline, answer = time.monotonic() + 150, None
    while time.monotonic() < deadline:
        try:
            response = httpx.post(f"{url}/rank", json=body, timeout=10)
        except httpx.TransportError:
            response = None
        if response is not None and response.status_code == 200:
            answer = response.json()
            break
        time.sleep(2)
    assert answer is not None, "the RayService's app never answered /rank"
    assert answer["model"] == "dien" and answer["version"] == 1
    assert sorted(i["item_id"] for i in answer["items"]) == [2, 5, 17, 33]
    assert answer["degraded"] is False  # ranked by the model, not the popularity fallback
