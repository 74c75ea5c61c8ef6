"""`recplat serve`: the ranking API on Ray Serve until Ctrl-C."""

from __future__ import annotations

import signal
import time
from typing import Annotated

import typer
from recplat.cli.common import FeatureRepo, Home, console, context_from


def serve_command(
    model: Annotated[str, typer.Option(help="Registered model to serve.")] = "din",
    version: Annotated[
        int | None, typer.Option(help="Version (default: production, else newest).")
    ] = None,
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    replicas: Annotated[int, typer.Option(help="Serve replicas.")] = 1,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Serve POST /rank, GET /healthz, GET /model (OpenAPI at /docs) until Ctrl-C."""
    import ray
    from recplat.serving.launch import start_serving, stop_serving

    ctx = context_from(feature_repo, home)
    ctx.metadata.resolve(model_name=model, version=version)  # fail fast, before Ray starts
    with console.status("starting Ray Serve..."):
        url = start_serving(
            ctx.settings,
            model_name=model,
            model_version=version,
            host=host,
            port=port,
            num_replicas=replicas,
        )
    console.print(f"ranking API at {url}  (docs: {url}/docs; Ctrl-C to stop)")
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        while not stop["now"]:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("shutting down...")
        stop_serving()
        ray.shutdown()
