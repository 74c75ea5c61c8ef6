"""How metrics are shown: one table of labels, and the tables every command prints."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich import box
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from recplat.training.registration import TrainOutcome

# Every metric recplat reports, by its bare name; a split prefix (`val_`, `test_`,
# `best_val_`) is spelled out in front ("val GAUC", "test RMSE").
METRIC_LABELS = {
    "train_loss": "train loss",
    "auc": "AUC",
    "gauc": "GAUC",
    "logloss": "logloss",
    "rmse": "RMSE",
    "mae": "MAE",
    "mape": "MAPE",
    "smape": "sMAPE",
}
PREFIXES = {"best_val_": "best val ", "val_": "val ", "test_": "test "}
# In the order they are shown (rating models report RMSE and MAE instead of AUC;
# forecasters MAE and RMSE in scaled units, MAPE and sMAPE in percent).
EPOCH_METRICS = (
    "train_loss",
    "val_auc",
    "val_gauc",
    "val_logloss",
    "val_rmse",
    "val_mae",
    "val_mape",
    "val_smape",
)
TEST_METRICS = (
    "test_auc",
    "test_gauc",
    "test_logloss",
    "test_rmse",
    "test_mae",
    "test_mape",
    "test_smape",
)


def label(key: str) -> str:
    """The label of a metric key: `val_gauc` -> "val GAUC", `test_rmse` -> "test RMSE"."""
    for prefix, spelled in PREFIXES.items():
        if key.startswith(prefix):
            return spelled + METRIC_LABELS.get(key[len(prefix) :], key[len(prefix) :])
    return METRIC_LABELS.get(key, key)


def epoch_line(metrics: dict[str, Any]) -> str:
    """One epoch as printed while training: `epoch 2: train loss 0.41, val AUC 0.71, ...`."""
    shown = ", ".join(f"{label(k)} {metrics[k]:.4f}" for k in EPOCH_METRICS if k in metrics)
    return f"epoch {metrics['epoch']}: {shown}"


def headline_metric(metrics: dict[str, Any] | None, keys: tuple[str, ...], *, digits: int) -> str:
    """The first of `keys` a run or model has, as `AUC 0.712` / `RMSE 0.934` ("" if none)."""
    for key in keys:
        value = (metrics or {}).get(key)
        if isinstance(value, float):
            return f"{METRIC_LABELS[key.rsplit('_', 1)[1]]} {value:.{digits}f}"
    return ""


def epochs_table(history: list[dict[str, Any]], *, title: str = "per epoch") -> Table:
    """Per-epoch metrics of a run, the columns it has."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    shown = [k for k in EPOCH_METRICS if history and k in history[0]]
    for name in ("epoch", *(label(k) for k in shown)):
        table.add_column(name, justify="right")
    for h in history:
        table.add_row(
            str(h.get("epoch")),
            *(f"{h[k]:.4f}" if isinstance(h.get(k), float) else "" for k in shown),
        )
    return table


def metrics_table(outcomes: Iterable[TrainOutcome]) -> Table:
    """Test metrics of trained models side by side (only the columns some model has)."""
    outcomes = list(outcomes)
    table = Table(title="test metrics")
    table.add_column("model", no_wrap=True)
    shown = [k for k in TEST_METRICS if any(k in o.metrics for o in outcomes)]
    for name in ("version", *(label(k) for k in shown), "epochs", "train rows"):
        table.add_column(name, justify="right")
    for o in outcomes:
        m = o.metrics
        table.add_row(
            o.model_name,
            str(o.version),
            *(f"{m[k]:.4f}" if k in m else "" for k in shown),
            str(m["epochs_run"]),
            f"{m['rows']['train']:,}",
        )
    return table


def kv_table(title: str, values: dict[str, Any]) -> Table:
    """Keys and values, JSON for anything not a string."""
    table = Table("key", "value", title=title, box=box.SIMPLE_HEAD, show_header=False)
    for key, value in values.items():
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        table.add_row(key, escape(shown))
    return table
