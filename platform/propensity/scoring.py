"""Batch scoring of a propensity model: every user at a cutoff, as a Ray Data job;
scores gated and written to the `user_propensity` feature view; targets exported.

The rows are built once on the driver (`build_rows`, numpy); Ray Data splits
them into blocks and an actor pool of scorers, each holding the model loaded
once, turns each block into probabilities (`map_batches`). On a cluster the
same job spreads the blocks over its nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from recplat.features.write_back import WrittenBack, write_back
from recplat.io.arrow_lists import arrow_table, as_matrix
from recplat.io.parquet import read_parquet
from recplat.propensity.dataset import cutoff_rows
from recplat.propensity.rows import Rows, StepLog, epoch_seconds
from recplat.propensity.task import PropensityTask
from recplat.quality.suites import user_propensity_suite
from recplat.registry.artifacts import Artifact

if TYPE_CHECKING:
    from recplat.quality.gate import Gate
    from recplat.settings import Settings

VIEW = "user_propensity"
MODEL_INPUTS = ("seq_item", "seq_cat", "seq_kind", "seq_num", "summary")


def task_of(artifact: Artifact) -> PropensityTask:
    """The task a propensity artifact was trained for (category, window, max_len).

    Raises:
        ValueError: The artifact is not a propensity model.
    """
    record = artifact.description.get("propensity_task")
    if not record:
        raise ValueError(f"{artifact.model_name} is not a propensity model (no task recorded)")
    return PropensityTask.from_values(record)


def _compact(
    arrays: dict[str, np.ndarray], order: np.ndarray, *, width: int
) -> dict[str, np.ndarray]:
    """The model inputs in `order`, cut to the longest history (the columns before it are
    padding in every row, which the model drops anyway) and in the smallest integer types
    that hold them: what travels through the object store, a fraction of the padded rows."""
    length = arrays["seq_item"].shape[1]
    steps = slice(length - width, None)

    def ids(values: np.ndarray) -> np.ndarray:
        small = values.max(initial=0) < np.iinfo(np.int32).max
        return values.astype(np.int32) if small else values

    numbers = arrays["seq_num"].reshape(len(arrays["seq_num"]), length, -1)
    return {
        "seq_item": ids(arrays["seq_item"][order, steps]),
        "seq_cat": ids(arrays["seq_cat"][order, steps]),
        "seq_kind": arrays["seq_kind"][order, steps].astype(np.int8),
        "seq_num": numbers[order, steps].reshape(len(order), -1),
        "summary": arrays["summary"][order],
    }


class _Scorer:
    """A Ray Data actor: loads the model once, scores blocks of rows."""

    def __init__(self, artifact_path: str) -> None:
        import torch
        from recplat.registry.artifacts import load_artifact

        torch.set_num_threads(1)  # one scorer per CPU: threads would only contend
        self.model = load_artifact(Path(artifact_path)).model.eval()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch
        from recplat.models.predict import predict_logits

        with torch.inference_mode():
            logits = predict_logits(self.model, {k: as_matrix(batch[k]) for k in MODEL_INPUTS})
        return {
            "row": batch["row"],
            "score": 1.0 / (1.0 + np.exp(-logits.astype(np.float64))),
        }


def score_with_ray(
    *, artifact_path: Path, rows: Rows, block_rows: int = 65_536, scorers: int = 2
) -> np.ndarray:
    """Probabilities for every row, by Ray Data (`map_batches` over an actor pool)."""
    import ray.data

    n = len(rows.frame)
    # Rows in history-length order: each batch runs to its own longest history only.
    lengths = (rows.arrays["seq_kind"] > 0).sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    columns = _compact(rows.arrays, order, width=max(int(lengths.max(initial=0)), 1))
    columns["row"] = order.astype(np.int64)
    dataset = ray.data.from_arrow(
        [arrow_table({k: v[lo : lo + block_rows] for k, v in columns.items()})
         for lo in range(0, n, block_rows)]
    )  # fmt: skip
    scored = dataset.map_batches(
        _Scorer,
        fn_constructor_kwargs={"artifact_path": str(artifact_path)},
        batch_size=block_rows,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=max(1, min(scorers, -(-n // block_rows)))),
        num_cpus=1,
    )
    scores = np.empty(n, dtype=np.float64)
    for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
        scores[batch["row"]] = batch["score"]
    return scores


def rows_at(log: StepLog, *, task: PropensityTask, cutoff: datetime) -> Rows:
    """Every user with behaviour before `cutoff`, as unlabelled rows of the task."""
    rows = cutoff_rows(
        log, task, cutoff_s=int(epoch_seconds(pd.DatetimeIndex([cutoff]))[0]), labelled=False
    )
    if rows.frame.empty:
        raise ValueError(f"no user has behaviour before {cutoff:%Y-%m-%d %H:%M}: nothing to score")
    return rows


def default_cutoff(log: StepLog) -> datetime:
    """Just after the log's newest step: "now" for the accepted data."""
    return pd.Timestamp(log.end_s + 1, unit="s", tz="UTC").to_pydatetime()


def score_frame(rows: Rows, scores: np.ndarray, *, category: int, version: int) -> pd.DataFrame:
    """The view's rows: user, cutoff (the row's timestamp), score, category, version."""
    cutoff = rows.frame["cutoff"]
    return pd.DataFrame(
        {
            "user_id": rows.frame["user_id"].to_numpy(np.int64),
            "event_timestamp": cutoff,
            "propensity_score": scores.astype(np.float64),
            "propensity_category": np.full(len(scores), category, np.int64),
            "propensity_cutoff_s": epoch_seconds(cutoff),
            "propensity_model_version": np.full(len(scores), version, np.int64),
        }
    )


def write_scores(
    *, settings: Settings, gate: Gate, scores: pd.DataFrame, allow: Sequence[str] = ()
) -> WrittenBack:
    """Gate the scores, keep them offline (beside earlier cutoffs), write them online.

    Raises:
        ValueError: The view is not registered (`recplat features apply`): nothing written.
        DataQualityError: The scores failed their suite: nothing is written anywhere.
    """
    return write_back(
        settings=settings, gate=gate, view=VIEW, rows=scores, spec=user_propensity_suite(),
        key="user_id", allow=allow,
    )  # fmt: skip


def top_targets(settings: Settings, *, category: int, top: int) -> pd.DataFrame:
    """The `top` users by their latest score for `category` (the newest cutoff scored).

    Raises:
        FileNotFoundError: Nothing was scored yet (what to run).
        ValueError: No scores for this category.
    """
    path = settings.offline_dir / f"{VIEW}.parquet"
    if not path.exists() or not len(table := read_parquet(path)):
        raise FileNotFoundError(
            f"no propensity scores in {path}: run `recplat score --model propensity` first"
        )
    table = table[table["propensity_category"] == category]
    if table.empty:
        raise ValueError(
            f"no propensity scores for category {category}: train a model for it "
            f"(`recplat train --model propensity --category {category}`) and score"
        )
    latest = table[table["event_timestamp"] == table["event_timestamp"].max()]
    ranked = latest.sort_values(["propensity_score", "user_id"], ascending=[False, True])
    return ranked.head(top).reset_index(drop=True)


def chosen_rows(path: Path) -> pd.DataFrame:
    """(user_id, cutoff) pairs to score from a CSV or Parquet file (`--export`).

    Raises:
        ValueError: A missing column or a bad value (file, row, field).
    """
    frame: Any = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    missing = [c for c in ("user_id", "cutoff") if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    users = pd.to_numeric(frame["user_id"], errors="coerce")
    cutoffs = pd.to_datetime(frame["cutoff"], utc=True, errors="coerce", format="ISO8601")
    for name, bad in (("user_id", users.isna() | (users < 1)), ("cutoff", cutoffs.isna())):
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            line = row + 2 if path.suffix.lower() == ".csv" else row + 1
            raise ValueError(
                f"{path}:{line}: field {name}: {frame[name].iloc[row]!r} is not a "
                f"{'user id >= 1' if name == 'user_id' else 'timestamp'}"
            )
    return pd.DataFrame({"user_id": users.astype(np.int64), "cutoff": cutoffs})
