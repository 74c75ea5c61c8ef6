"""Point-in-time training set: recplat's join vs bare `get_historical_features`, one run.

One generated data set (about 1M events by default) goes through the real pipeline
(ingest, gates, feature tables with 50-long sequences); then each path builds the
training set of every impression from the same Feast repo, in its own fresh process
so that its peak RSS is its own:

- bare Feast: `FeatureStore.get_historical_features(entity_df, features=ranking_v1).to_df()`
  (the duckdb offline store the repo configures);
- recplat: `recplat.training.training_set.historical_features` (the vectorized join of
  `recplat.features.point_in_time`, sorted, missing values filled: ready to encode).

Rows/s counts entity rows. Peak RSS is the process's high-water mark during the join
(reset just before it, Linux `clear_refs`); "growth" is that minus the RSS just before
the join (Feast, the repo and the entity frame loaded).
The sequences of 2,000 sampled rows are compared between the two.

    .venv/bin/python benchmarks/training_set.py [--impressions 950000] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import scratch_settings

SERVICE = "ranking_v1"
SAMPLE = 2000


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> None:
    # Linux: "5" resets the process's RSS high-water mark (VmHWM), so the peak is the join's.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def child(mode: str, repo: Path, events_path: Path) -> dict[str, Any]:
    """One path, in this (fresh) process."""
    import numpy as np
    from recplat.features.repo import open_store, quiet_library_warnings
    from recplat.io.parquet import read_parquet
    from recplat.training.training_set import entity_frame, historical_features

    store = open_store(repo)
    entities = entity_frame(read_parquet(events_path))
    service = store.get_feature_service(SERVICE)
    before = _status_mib("VmRSS")
    _reset_peak()
    started = time.perf_counter()
    if mode == "feast":
        with quiet_library_warnings():
            frame = store.get_historical_features(entity_df=entities, features=service).to_df()
    else:
        frame = historical_features(store=store, entities=entities, feature_service=SERVICE)
    seconds = time.perf_counter() - started
    peak = _status_mib("VmHWM")
    sample = np.random.default_rng(0).choice(entities["event_id"].to_numpy(), SAMPLE, False)
    rows = frame.set_index("event_id").loc[np.sort(sample), "hist_item_ids"].tolist()
    return {
        "rows": len(frame),
        "seconds": seconds,
        "rows_per_s": len(frame) / seconds,
        "rss_before_mib": before,
        "peak_rss_mib": peak,
        "growth_mib": peak - before,
        "sample": [[] if v is None else [int(x) for x in v] for v in rows],
    }


def _run_child(mode: str, repo: Path, events_path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--repo",
            str(repo),
            "--events",
            str(events_path),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impressions", type=int, default=950_000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--child", choices=["feast", "recplat"], help=argparse.SUPPRESS)
    parser.add_argument("--repo", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.repo, args.events)))
        return

    from recplat.cli.context import PlatformContext
    from recplat.events.ingest import ingest
    from recplat.events.synthetic import GeneratorConfig, generate
    from recplat.features.build import build_features
    from recplat.features.repo import apply_repo
    from recplat.io.parquet import read_parquet

    config = GeneratorConfig(users=2500, items=5000, impressions=args.impressions, seed=5)
    with scratch_settings() as settings:
        started = time.perf_counter()
        ctx = PlatformContext(settings=settings)
        data = generate(config)
        ingest(
            events=data.events, users=data.users, items=data.items, settings=settings,
            gate=ctx.gate,
        )  # fmt: skip
        build_features(settings=settings, gate=ctx.gate)
        apply_repo(settings.feature_repo)
        ctx.metadata.dispose()
        events = len(data.events)
        snapshots = len(read_parquet(settings.offline_dir / "user_sequence.parquet"))
        del data
        print(f"data: {events:,} events, {snapshots:,} sequence snapshots "
              f"({time.perf_counter() - started:.0f} s to generate and publish)", flush=True)  # fmt: skip
        results = {}
        for mode in ("feast", "recplat"):
            results[mode] = _run_child(mode, settings.feature_repo, settings.events_path)
            print(mode, {k: v for k, v in results[mode].items() if k != "sample"}, flush=True)

    same = results["feast"]["sample"] == results["recplat"]["sample"]
    lengths = [len(s) for s in results["recplat"]["sample"]]
    full = sum(n == 50 for n in lengths)
    print(
        f"\n{'path':10}{'rows':>11}{'seconds':>9}{'rows/s':>11}{'peak RSS MiB':>14}{'growth MiB':>12}"
    )
    for mode, r in results.items():
        print(
            f"{mode:10}{r['rows']:>11,}{r['seconds']:>9.2f}{r['rows_per_s']:>11,.0f}"
            f"{r['peak_rss_mib']:>14,.0f}{r['growth_mib']:>12,.0f}"
        )
    speedup = results["feast"]["seconds"] / results["recplat"]["seconds"]
    print(f"speedup {speedup:.1f}x; sampled sequences equal: {same} "
          f"(sampled rows: mean length {sum(lengths) / len(lengths):.1f}, "
          f"{full} of {SAMPLE} full 50-long)")  # fmt: skip
    if args.out:
        summary = {
            "events": events,
            "snapshots": snapshots,
            "speedup": speedup,
            "sample_equal": same,
            **{m: {k: v for k, v in r.items() if k != "sample"} for m, r in results.items()},
        }
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
