"""Start and stop the ranking app on a local or remote Ray."""

from __future__ import annotations

from recplat.runtime.ray_session import ensure_ray
from recplat.settings import Settings

APP_NAME = "recplat"


def start_serving(
    settings: Settings,
    *,
    model_name: str,
    model_version: int | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    num_replicas: int = 1,
    api_key: str | None = None,
) -> str:
    """Deploy the ranking app (non-blocking); returns its base URL.

    Args:
        api_key: Require this `X-API-Key` on /rank and /model (default: `settings.api_key`).
    """
    from ray import serve
    from recplat.serving.app import AppArgs, build_app

    ensure_ray(settings)
    serve.start(http_options={"host": host, "port": port})
    args = AppArgs(
        feature_repo=str(settings.feature_repo.resolve()),
        home=str(settings.home.resolve()),
        database_url=settings.database_url,
        model_name=model_name,
        model_version=model_version,
        num_replicas=num_replicas,
        api_key=api_key or settings.api_key,
        sequence_length=settings.sequence_length,
        sequence_impressions=settings.sequence_impressions,
    )
    serve.run(build_app(args), name=APP_NAME, route_prefix="/", blocking=False)
    return f"http://{host}:{port}"


def stop_serving() -> None:
    """Shut Serve down (the Ray instance stays)."""
    from ray import serve

    serve.shutdown()
