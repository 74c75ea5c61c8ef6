"""Live per-epoch progress from Ray Train workers to the driver.

Rank 0 pushes each epoch's metrics to a tiny actor (no CPU reserved); the
driver polls it while `trainer.fit()` runs in a thread and shows a progress
bar. It works the same on one machine and on a cluster, where the workers'
stdout and files are elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

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
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recplat-fit")
    future: Future[T] = pool.submit(fn)
    future.add_done_callback(lambda _: done.set())
    try:
        while True:
            finished = done.wait(poll_s)
            for item in ray.get(sink.drain.remote()):
                on_epoch(item)
            if finished:
                return future.result()
    finally:
        # On Ctrl-C do not wait for the job here: the caller records the run and stops Ray,
        # which ends the fit thread.
        pool.shutdown(wait=done.is_set())
