"""A two-node Ray cluster on one machine, for multi-node jobs without a second machine.

The head node (resource `node_a`) and a worker node (resource `node_b`) each
run their own raylet with their own ports and CPUs, under one temp dir, so
`stop` ends exactly this cluster (never another Ray on the machine, which a
plain `ray stop` would kill too).

    .venv/bin/recplat cluster up        # prints RAY_ADDRESS and the jobs URL
    .venv/bin/ray job submit --address http://127.0.0.1:8270 -- \\
        .venv/bin/recplat train --model embedding_mlp --num-workers 2 --placement strict_spread
    .venv/bin/recplat cluster down
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

RAY = Path(sys.executable).with_name("ray")


@dataclass(frozen=True)
class LocalCluster:
    """Where the cluster listens."""

    port: int = 6390
    dashboard_port: int = 8270
    cpus_per_node: int = 1
    # Each node on its own loopback address (any 127.x.y.z is this machine), as two
    # machines would be: nothing can pass between them through a shared 127.0.0.1.
    head_ip: str = "127.0.0.1"
    worker_ip: str = "127.0.0.1"

    @property
    def temp_dir(self) -> Path:
        """Ray's temp dir for this cluster (short: it holds Unix sockets)."""
        return Path(f"/tmp/recplat-cluster-{self.port}")

    @property
    def address(self) -> str:
        """GCS address for `RAY_ADDRESS` / `ray.init(address=...)`."""
        return f"{self.head_ip}:{self.port}"

    @property
    def jobs_url(self) -> str:
        """Job submission (dashboard) URL for `ray job submit --address`."""
        return f"http://{self.head_ip}:{self.dashboard_port}"


def _run(args: list[str]) -> None:
    env = os.environ | {"RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    subprocess.run(args, check=True, env=env, capture_output=True, text=True, timeout=180)


def _ports(base: int) -> list[str]:
    return [
        f"--node-manager-port={base + 1}",
        f"--object-manager-port={base + 2}",
        f"--dashboard-agent-listen-port={base + 4}",
        f"--dashboard-agent-grpc-port={base + 5}",
        f"--metrics-export-port={base + 6}",
        f"--runtime-env-agent-port={base + 7}",
    ]


def start(cluster: LocalCluster) -> None:
    """Start the head and the second node; returns once both are registered."""
    cluster.temp_dir.mkdir(parents=True, exist_ok=True)
    common = [f"--num-cpus={cluster.cpus_per_node}"]
    _run(
        [
            str(RAY),
            "start",
            "--head",
            f"--port={cluster.port}",
            f"--temp-dir={cluster.temp_dir}",
            "--include-dashboard=true",
            f"--dashboard-host={cluster.head_ip}",
            f"--node-ip-address={cluster.head_ip}",
            f"--dashboard-port={cluster.dashboard_port}",
            f"--ray-client-server-port={cluster.port + 3}",
            '--resources={"node_a": 1}',
            f"--min-worker-port={cluster.port + 14000}",
            f"--max-worker-port={cluster.port + 14499}",
            "--disable-usage-stats",
            *common,
            *_ports(cluster.port),
        ]
    )
    _run(
        [
            str(RAY),
            "start",
            f"--address={cluster.address}",
            f"--node-ip-address={cluster.worker_ip}",
            '--resources={"node_b": 1}',
            f"--min-worker-port={cluster.port + 14500}",
            f"--max-worker-port={cluster.port + 14999}",
            "--disable-usage-stats",
            *common,
            *_ports(cluster.port + 10),
        ]
    )
    wait_for_nodes(cluster, count=2)


def wait_for_nodes(cluster: LocalCluster, *, count: int, timeout: float = 60) -> None:
    """Block until `count` nodes are alive (checked in a child process: no ray.init here)."""
    probe = (
        f"import ray; ray.init(address='{cluster.address}', logging_level='ERROR');"
        "print(sum(n['Alive'] for n in ray.nodes()))"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(
            [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=60
        ).stdout.strip()
        if out.splitlines() and out.splitlines()[-1] == str(count):
            return
        time.sleep(1)
    raise TimeoutError(f"{count} Ray nodes did not come up at {cluster.address}")


def stop(cluster: LocalCluster) -> int:
    """Terminate this cluster's processes (found by its temp dir); returns how many."""
    import psutil

    marker = str(cluster.temp_dir)
    victims = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if marker in cmdline and process.pid != os.getpid():
            victims.append(process)
    for process in victims:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(victims, timeout=15)
    for process in alive:
        process.kill()
    shutil.rmtree(cluster.temp_dir, ignore_errors=True)
    return len(victims)
