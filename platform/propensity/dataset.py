"""The propensity data set: the task's rows of every split, gated, from the accepted log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from recplat.io.parquet import read_parquet
from recplat.propensity.rows import (
    SUMMARY_FEATURES,
    Rows,
    StepLog,
    build_rows,
    epoch_seconds,
    shifted_cutoffs,
    step_log,
    users_at,
)
from recplat.propensity.task import SPLITS, PropensityTask
from recplat.quality.suites import propensity_rows_suite

if TYPE_CHECKING:
    from recplat.quality.gate import Gate
    from recplat.settings import Settings


@dataclass(frozen=True)
class AcceptedLog:
    """What the propensity task reads of the accepted data."""

    events: pd.DataFrame
    items: pd.DataFrame
    purchases: pd.DataFrame | None
    categories: pd.DataFrame | None

    def steps(self, *, amounts: bool = True) -> StepLog:
        """The behaviour steps; without `amounts`, as the online sequence view has them
        (purchases quantity 1, amount 0)."""
        purchases = self.purchases if amounts else None
        return step_log(events=self.events, items=self.items, purchases=purchases)

    def task_steps(self, task: PropensityTask) -> StepLog:
        """The steps the task's rows read (`inputs: sequence` has no amounts)."""
        return self.steps(amounts=task.inputs == "log")


def accepted_log(settings: Settings) -> AcceptedLog:
    """The accepted events, items, purchase amounts and category names.

    Raises:
        FileNotFoundError: No accepted log yet (what to run first).
    """
    if not settings.events_path.exists():
        raise FileNotFoundError(
            f"no accepted event log at {settings.events_path}: run `recplat data generate "
            "--shoppers` or `recplat data import-transactions FILE` first"
        )

    def optional(path: Path) -> pd.DataFrame | None:
        return read_parquet(path) if path.exists() else None

    return AcceptedLog(
        events=read_parquet(settings.events_path),
        items=read_parquet(settings.catalog_dir / "items.parquet"),
        purchases=optional(settings.purchases_path),
        categories=optional(settings.categories_path),
    )


@dataclass(frozen=True)
class PropensityData:
    """Rows of every split (training rows include the shifted ones, flagged)."""

    task: PropensityTask
    splits: dict[str, Rows]
    validation_run_ids: dict[str, int]

    def counts(self) -> pd.DataFrame:
        """Rows, positives and the positive rate per split."""
        return pd.DataFrame(
            [
                {
                    "split": name,
                    "rows": len(rows.frame),
                    "positives": int(rows.frame["label"].sum()),
                    "rate": float(rows.frame["label"].mean()),
                }
                for name, rows in self.splits.items()
            ]
        )


def _concat(parts: Sequence[Rows]) -> Rows:
    arrays = {k: np.concatenate([p.arrays[k] for p in parts]) for k in parts[0].arrays}
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    return Rows(arrays=arrays, frame=frame)


def cutoff_rows(log: StepLog, task: PropensityTask, *, cutoff_s: int, labelled: bool) -> Rows:
    """One row per user with behaviour before the cutoff, built as the task builds them
    (labelled: with the task's window; unlabelled: for scoring)."""
    users = users_at(log, cutoff_s)
    return build_rows(
        log,
        users=users,
        cutoffs_s=np.full(len(users), cutoff_s),
        category=task.category,
        max_len=task.max_len,
        window_days=task.window_days if labelled else None,
        history=task.history,
    )


def split_rows(log: StepLog, task: PropensityTask) -> dict[str, Rows]:
    """Every split's rows: at each cutoff, the users with behaviour before it; shifted
    positives added to training only. `user_key` numbers the cutoff (per-cutoff AUC)."""
    out: dict[str, Rows] = {}
    key = 0
    for split, cutoffs in task.cutoffs().items():
        parts = []
        shifted: list[pd.DataFrame] = []
        for cutoff in cutoffs:
            cutoff_s = int(epoch_seconds(pd.DatetimeIndex([cutoff]))[0])
            part = cutoff_rows(log, task, cutoff_s=cutoff_s, labelled=True)
            users = part.arrays["user_id"]
            part.frame["shifted"] = False
            part.arrays["user_key"] = np.full(len(users), key, np.int64)
            key += 1
            parts.append(part)
            if split == "train" and task.shift:
                extra_users, extra_cutoffs = shifted_cutoffs(
                    log,
                    users=users,
                    cutoffs_s=np.full(len(users), cutoff_s),
                    category=task.category,
                    shift=task.shift,
                )
                shifted.append(
                    pd.DataFrame({"user": extra_users, "cutoff": extra_cutoffs, "key": key - 1})
                )
        if shifted:
            # A purchase can be among the newest before several training cutoffs: one row.
            pairs = pd.concat(shifted, ignore_index=True).drop_duplicates(["user", "cutoff"])
            if len(pairs):
                extra = build_rows(
                    log,
                    users=pairs["user"].to_numpy(np.int64),
                    cutoffs_s=pairs["cutoff"].to_numpy(np.int64),
                    category=task.category,
                    max_len=task.max_len,
                    window_days=task.window_days,
                    history=task.history,
                )
                extra.frame["shifted"] = True
                extra.arrays["user_key"] = pairs["key"].to_numpy(np.int64)
                parts.append(extra)
        out[split] = _concat(parts)
    return out


def build_dataset(
    *,
    log: StepLog,
    task: PropensityTask,
    gate: Gate,
    allow: Sequence[str] = (),
    source: str = "events",
) -> PropensityData:
    """The task's rows, each split through the `propensity_rows` gate.

    Raises:
        DataQualityError: A split failed (an input at or after its cutoff, a
            duplicate (user, cutoff), a label outside {0, 1}); nothing trains.
        ValueError: A split without rows or without positives (named).
    """
    splits = split_rows(log, task)
    spec = propensity_rows_suite(summary=SUMMARY_FEATURES)
    run_ids = {}
    for name in SPLITS:
        frame = splits[name].frame
        if frame.empty:
            raise ValueError(
                f"the {name} split has no rows: no user has behaviour before its cutoff"
            )
        if name != "test" and frame["label"].sum() == 0:
            raise ValueError(
                f"the {name} split has {len(frame):,} rows and no buyer of category "
                f"{task.category}: pick a category people buy (`--category`) or longer windows"
            )
        run_ids[name] = gate.check(
            df=frame.drop(columns=["shifted"]),
            spec=spec,
            allow=allow,
            stage=f"propensity-{name}",
            baseline_key=f"propensity_rows:{source}",
            source=f"{source} (category {task.category}, {name})",
        )
    return PropensityData(task=task, splits=splits, validation_run_ids=run_ids)


def balanced(rows: Rows, *, seed: int) -> Rows:
    """A 1:1 sample: every positive and as many negatives drawn at random (all
    negatives where they are fewer)."""
    labels = rows.frame["label"].to_numpy()
    positives = np.flatnonzero(labels == 1)
    negatives = np.flatnonzero(labels == 0)
    rng = np.random.default_rng(seed)
    keep = min(len(positives), len(negatives))
    chosen = np.sort(
        np.concatenate(
            [
                rng.choice(positives, size=keep, replace=False)
                if len(positives) > len(negatives)
                else positives,
                rng.choice(negatives, size=keep, replace=False),
            ]
        )
    )
    return Rows(
        arrays={k: v[chosen] for k, v in rows.arrays.items()},
        frame=rows.frame.iloc[chosen].reset_index(drop=True),
    )
