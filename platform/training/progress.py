"""Live per-epoch progress from Ray Train workers to the driver.

Rank 0 pushes each epoch's metrics to a tiny actor (no CPU reserved); the
driver polls it while `trainer.fit()` runs in a thread and shows a progress
bar. It works the same on one machine and on a cluster, where the workers'
stdout and files are elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")
EpochCallback = Callable[[dict[str, Any]], None]


class _Sink:
    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []

    def put(self, item: dict[str, Any]) -> None:
        self._items.append(item)

    def drain(self) -> list[dict[str, Any]]:
        items, self._items = self._items, []
        return items


def make_sink() -> Any:
    """A progress actor (0 CPUs, so it never takes a worker's slot)."""
    import ray

    return ray.remote(num_cpus=0)(_Sink).remote()


def run_with_progress(
    fn: Callable[[], T], *, sink: Any, on_epoch: EpochCallback | None, poll_s: float = 0.5
) -> T:
    """Run `fn` (blocking: `trainer.fit`) in a thread, feeding `on_epoch` as epochs finish."""
    import ray

    if on_epoch is None:
        return fn()
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc
        finally:
            done.set()

    # A daemon thread: after Ctrl-C the caller records the run and stops Ray, and the
    # process must be able to exit even if `fit` is still unwinding (a pool thread would
    # be joined at exit, and a fit stuck on a dead cluster would hang the process).
    threading.Thread(target=target, name="recplat-fit", daemon=True).start()
    while True:
        finished = done.wait(poll_s)
        for item in ray.get(sink.drain.remote()):
            on_epoch(item)
        if finished:
            if "error" in outcome:
                raise outcome["error"]
            return cast(T, outcome["value"])
