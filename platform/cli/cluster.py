"""`recplat cluster ...`: a two-node Ray cluster on this machine."""

from __future__ import annotations

from typing import Annotated

import typer
from recplat.cli.common import console

cluster_app = typer.Typer(
    help="A two-node Ray cluster on this machine (multi-node jobs without a second host).",
    no_args_is_help=True,
)


@cluster_app.command("up")
def cluster_up(
    port: Annotated[int, typer.Option(help="GCS port of the head node.")] = 6390,
    dashboard_port: Annotated[int, typer.Option(help="Dashboard / job submission port.")] = 8270,
    cpus_per_node: Annotated[int, typer.Option(help="CPUs each node offers.")] = 1,
) -> None:
    """Start a head node (resource node_a) and a second node (node_b) with their own ports."""
    from recplat.runtime.local_cluster import LocalCluster, start

    cluster = LocalCluster(port=port, dashboard_port=dashboard_port, cpus_per_node=cpus_per_node)
    with console.status("starting two Ray nodes..."):
        start(cluster)
    console.print(f"RAY_ADDRESS={cluster.address}   jobs: {cluster.jobs_url}")
    console.print(
        f"try: .venv/bin/ray job submit --address {cluster.jobs_url} -- "
        ".venv/bin/recplat train --model embedding_mlp --num-workers 2 --placement strict_spread"
    )


@cluster_app.command("down")
def cluster_down(
    port: Annotated[int, typer.Option(help="GCS port of the head node.")] = 6390,
) -> None:
    """Stop the nodes `recplat cluster up` started (and nothing else)."""
    from recplat.runtime.local_cluster import LocalCluster, stop

    console.print(f"stopped {stop(LocalCluster(port=port))} Ray processes")
