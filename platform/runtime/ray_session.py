"""Start or join Ray, once per process."""

from __future__ import annotations

import logging
import os

from recplat.settings import Settings

log = logging.getLogger(__name__)


def ensure_ray(settings: Settings, *, num_cpus: int | None = None) -> None:
    """Connect to `settings.ray_address`, or start a local Ray if none is running.

    A local start uses `address="local"` so that it never attaches to some
    other Ray instance on the machine by accident.
    """
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if settings.ray_address:
        log.info("joining Ray cluster at %s", settings.ray_address)
        ray.init(address=settings.ray_address, log_to_driver=False)
    else:
        ray.init(
            address="local",
            num_cpus=num_cpus or os.cpu_count() or 2,
            include_dashboard=False,
            log_to_driver=False,
        )
