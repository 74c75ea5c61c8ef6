"""Full-suite validation of 1M events and 1M sequence snapshots, next to the step each gates.

For each dataset, in one run: seconds to produce it (generate the events; build the
snapshots from them), seconds to validate it with its full suite (GX 1.x, derived
columns, drift against an accepted baseline), rows/s, and the validation's peak
extra memory (RSS sampled every 20 ms, above the level before it started).

    .venv/bin/python benchmarks/quality.py [--events 1000000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import psutil
from recplat.events.synthetic import GeneratorConfig, generate
from recplat.features.offline import sequence_snapshots
from recplat.quality.gx_adapter import GXValidator, ValidationReport
from recplat.quality.suites import SuiteSpec, events_suite, user_sequence_suite

T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _peak_extra_mb(fn: Callable[[], T]) -> tuple[T, float, float]:
    """Run fn; return its value, seconds, and peak RSS above the starting RSS (MiB)."""
    process = psutil.Process()
    start = process.memory_info().rss
    peak = start
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            done.wait(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    value, seconds = _timed(fn)
    done.set()
    thread.join()
    return value, seconds, (peak - start) / 2**20


def _validate(
    validator: GXValidator, frame: Any, spec: SuiteSpec
) -> tuple[ValidationReport, float, float]:
    # The baseline is the same data's statistics, as after a first accepted run.
    first = validator.validate(df=frame.head(50_000), spec=spec)
    baseline = (1, first.statistics)
    return _peak_extra_mb(lambda: validator.validate(df=frame, spec=spec, baseline=baseline))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="Impressions to generate.")
    parser.add_argument("--out", type=Path, default=None, help="Write the results as JSON.")
    args = parser.parse_args()

    config = GeneratorConfig(
        users=20_000, items=10_000, categories=50, impressions=args.events, days=30, seed=1
    )
    data, generate_s = _timed(lambda: generate(config))
    events = data.events
    # About one snapshot per ten impressions: build ~1M from copies of the log with the users
    # renamed per copy (the build step is timed on all of them).
    probe = sequence_snapshots(events=events, items=data.items, max_len=50)
    copies = max(1, -(-args.events // max(len(probe), 1)))
    log = pd.concat(
        [events.assign(user_id=events["user_id"] + k * 10_000_000) for k in range(copies)],
        ignore_index=True,
    )
    snapshots, build_s = _timed(
        lambda: sequence_snapshots(events=log, items=data.items, max_len=50)
    )
    validator = GXValidator()
    rows = []
    for name, frame, spec, step, step_s in (
        ("events", events, events_suite(), "generate events", generate_s),
        (
            "user_sequence",
            snapshots,
            user_sequence_suite(max_len=50, known_items=set(data.items["item_id"].tolist())),
            "build snapshots",
            build_s,
        ),
    ):
        report, seconds, extra_mb = _validate(validator, frame, spec)
        assert report.success, [f.describe() for f in report.failures]
        rows.append(
            {
                "dataset": name,
                "rows": len(frame),
                "expectations": report.evaluated,
                "validate_s": round(seconds, 2),
                "rows_per_s": round(len(frame) / seconds),
                "peak_extra_mib": round(extra_mb),
                "gated_step": step,
                "step_s": round(step_s, 2),
                "validate_vs_step": round(seconds / step_s, 2),
            }
        )
    header = (
        f"{'dataset':<14}{'rows':>10}{'checks':>8}{'validate s':>12}{'rows/s':>11}"
        f"{'peak MiB':>10}  {'gated step':<16}{'step s':>8}{'ratio':>7}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['dataset']:<14}{r['rows']:>10,}{r['expectations']:>8}{r['validate_s']:>12}"
            f"{r['rows_per_s']:>11,}{r['peak_extra_mib']:>10}  {r['gated_step']:<16}"
            f"{r['step_s']:>8}{r['validate_vs_step']:>7}"
        )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
