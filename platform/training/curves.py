"""Training curves as a PNG next to the run."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_history(history: list[dict[str, Any]], path: Path, *, title: str) -> Path:
    """Plot train loss and the validation metrics per epoch (AUC/GAUC/logloss or RMSE/MAE)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] + 1 for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [h["train_loss"] for h in history], marker="o", label="train loss")
    # Rating models report RMSE / MAE; the left panel keeps the losses (MSE vs logloss).
    rating = "val_rmse" in history[0] if history else False
    if not rating:
        left.plot(
            epochs, [h["val_logloss"] for h in history], marker="o", label="validation logloss"
        )
    left.set_xlabel("epoch")
    left.legend()
    for key, label in (
        (("val_rmse", "validation RMSE"), ("val_mae", "validation MAE"))
        if rating
        else (("val_auc", "validation AUC"), ("val_gauc", "validation GAUC"))
    ):
        right.plot(epochs, [h[key] for h in history], marker="o", label=label)
    right.set_xlabel("epoch")
    right.legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
