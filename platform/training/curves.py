"""Training curves as a PNG next to the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_history(history: list[dict[str, Any]], path: Path, *, title: str) -> Path:
    """Plot train loss and validation AUC / logloss per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] + 1 for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train loss")
    left.plot(epochs, [h["val_logloss"] for h in history], marker="o", label="validation logloss")
    left.set_xlabel("epoch")
    left.legend()
    right.plot(epochs, [h["val_auc"] for h in history], marker="o", label="validation AUC")
    right.plot(epochs, [h["val_gauc"] for h in history], marker="o", label="validation GAUC")
    right.set_xlabel("epoch")
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
