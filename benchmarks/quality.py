"""Full-suite validation of 1M events and 1M sequence snapshots, next to the step each gates.

In one run, for each dataset: seconds of the step the gate guards, seconds to
validate with the full suite (GX 1.x, derived columns, drift against an
accepted baseline), rows/s, and the validation's peak extra memory. Steps:

- events: the ingest of a generated 1M-impression log (generate + write Parquet);
- user_sequence: the feature build that publishes ~1M snapshots (build from the
  event log + write Parquet).

Each validation runs in a fresh process that first reads its Parquet file, so
the peak memory (RSS sampled every 20 ms, above the level after the read) is
the validation's own.

    .venv/bin/python benchmarks/quality.py [--events 1000000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import psutil
from recplat.events.synthetic import GeneratorConfig, generate
from recplat.features.offline import sequence_snapshots
from recplat.io.parquet import write_parquet
from recplat.quality.gx_adapter import GXValidator
from recplat.quality.suites import SuiteSpec, events_suite, user_sequence_suite

T = TypeVar("T")


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _spec(dataset: str, items: Path) -> SuiteSpec:
    if dataset == "events":
        return events_suite()
    known = set(pd.read_parquet(items, columns=["item_id"])["item_id"].tolist())
    return user_sequence_suite(max_len=50, known_items=known)


def validate_in_this_process(dataset: str, data: Path, items: Path) -> dict[str, Any]:
    """Read, warm up on a slice (which also gives the drift baseline), validate, measure."""
    frame = pd.read_parquet(data)
    spec = _spec(dataset, items)
    validator = GXValidator()
    first = validator.validate(df=frame.head(50_000), spec=spec)
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
    report, seconds = _timed(
        lambda: validator.validate(df=frame, spec=spec, baseline=(1, first.statistics))
    )
    done.set()
    thread.join()
    if not report.success:
        raise SystemExit(f"{dataset} failed: {[f.describe() for f in report.failures]}")
    return {
        "rows": len(frame),
        "expectations": report.evaluated,
        "validate_s": round(seconds, 2),
        "rows_per_s": round(len(frame) / seconds),
        "peak_extra_mib": round((peak - start) / 2**20),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="Impressions to generate.")
    parser.add_argument("--out", type=Path, default=None, help="Write the results as JSON.")
    parser.add_argument(
        "--child", nargs=3, metavar=("DATASET", "DATA", "ITEMS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        dataset, data, items = args.child
        print(json.dumps(validate_in_this_process(dataset, Path(data), Path(items))))
        return

    folder = Path(tempfile.mkdtemp(prefix="recplat-quality-bench-"))
    config = GeneratorConfig(
        users=20_000, items=10_000, categories=50, impressions=args.events, days=30, seed=1
    )
    data, generate_s = _timed(lambda: generate(config))
    _, write_s = _timed(lambda: write_parquet(data.events, folder / "events.parquet"))
    write_parquet(data.items, folder / "items.parquet")
    # About one snapshot per ten impressions: ~1M snapshots come from copies of the log
    # with the users renamed per copy; the build is timed on all of them.
    probe = sequence_snapshots(events=data.events, items=data.items, max_len=50)
    copies = max(1, -(-args.events // max(len(probe), 1)))
    log = pd.concat(
        [
            data.events.assign(user_id=data.events["user_id"] + k * 10_000_000)
            for k in range(copies)
        ],
        ignore_index=True,
    )

    def build(events: pd.DataFrame) -> int:
        snapshots = sequence_snapshots(events=events, items=data.items, max_len=50)
        write_parquet(snapshots, folder / "user_sequence.parquet")
        return len(snapshots)

    _, build_s = _timed(functools.partial(build, log))
    del log, probe
    steps = {
        "events": ("generate + write log", generate_s + write_s),
        "user_sequence": ("build + write snapshots", build_s),
    }
    rows = []
    for dataset, (step, step_s) in steps.items():
        child = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                dataset,
                str(folder / f"{dataset}.parquet"),
                str(folder / "items.parquet"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append(
            {"dataset": dataset, **measured, "gated_step": step, "step_s": round(step_s, 2)}
            | {"validate_vs_step": round(measured["validate_s"] / step_s, 2)}
        )
    header = (
        f"{'dataset':<14}{'rows':>11}{'checks':>8}{'validate s':>12}{'rows/s':>10}"
        f"{'peak MiB':>10}  {'gated step':<24}{'step s':>8}{'ratio':>7}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['dataset']:<14}{r['rows']:>11,}{r['expectations']:>8}{r['validate_s']:>12}"
            f"{r['rows_per_s']:>10,}{r['peak_extra_mib']:>10}  {r['gated_step']:<24}"
            f"{r['step_s']:>8}{r['validate_vs_step']:>7}"
        )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
