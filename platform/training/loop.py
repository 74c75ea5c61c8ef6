"""The Ray Train worker loop (runs once per worker, DDP across workers).

Each worker trains on its own shard (rows rank::world_size), evaluates the
full validation set, and reports every epoch. Rank 0 writes a checkpoint each
epoch with the current weights, optimizer, epoch, RNG state and the best
weights so far; a restarted worker group resumes from it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from recplat.models.catalog import build_model, config_from_dict
from recplat.training.metrics import classification_metrics
from torch import nn

INPUTS = (
    "user_id",
    "item_id",
    "category_id",
    "age_bucket",
    "gender",
    "price_bucket",
    "hour",
    "weekday",
    "device",
    "hist_item_ids",
    "hist_category_ids",
)


def to_batch(
    arrays: dict[str, np.ndarray], index: np.ndarray, device: torch.device
) -> dict[str, torch.Tensor]:
    """Model inputs for the rows in `index`, as tensors on `device`."""
    return {name: torch.from_numpy(arrays[name][index]).to(device) for name in INPUTS}


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    arrays: dict[str, np.ndarray],
    *,
    batch_size: int = 4096,
    device: torch.device | None = None,
) -> np.ndarray:
    """Logits for every row of `arrays`, in order."""
    device = device or torch.device("cpu")
    model.eval()
    n = len(arrays["user_id"])
    out = [
        model(to_batch(arrays, np.arange(start, min(start + batch_size, n)), device))
        .float()
        .cpu()
        .numpy()
        for start in range(0, n, batch_size)
    ]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def _save_checkpoint(
    folder: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    best: dict[str, torch.Tensor],
) -> None:
    torch.save(model.state_dict(), folder / "model.pt")
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")
    torch.save(best, folder / "best.pt")
    torch.save(torch.get_rng_state(), folder / "rng.pt")
    (folder / "state.json").write_text(json.dumps(state))


def _unwrap(model: nn.Module) -> nn.Module:
    # DDP wraps the model; checkpoints and evaluation use the plain module.
    inner = getattr(model, "module", model)
    assert isinstance(inner, nn.Module)
    return inner


def train_loop_per_worker(config: dict[str, Any]) -> None:
    """Ray Train entry point; `config` comes from `TorchTrainer(train_loop_config=...)`."""
    import ray
    import ray.train
    import ray.train.torch

    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    if config.get("threads"):
        torch.set_num_threads(int(config["threads"]))
    torch.manual_seed(int(config["seed"]))
    data = ray.get(config["data"])
    train, val = data["train"], data["validation"]

    model_config = config_from_dict(config["model_name"], config["model_config"])
    model = build_model(config["model_name"], model_config)
    optimizer = torch.optim.Adam(model.parameters(), lr=float(config["lr"]))
    loss_fn = nn.BCEWithLogitsLoss()
    state: dict[str, Any] = {
        "epoch": 0,
        "best_auc": -1.0,
        "best_epoch": -1,
        "bad_epochs": 0,
        "history": [],
    }
    best = {k: v.clone() for k, v in model.state_dict().items()}

    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:  # resuming after a failure
        with checkpoint.as_directory() as folder:
            path = Path(folder)
            model.load_state_dict(torch.load(path / "model.pt", weights_only=True))
            optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
            best = torch.load(path / "best.pt", weights_only=True)
            state = json.loads((path / "state.json").read_text())
            torch.set_rng_state(torch.load(path / "rng.pt", weights_only=True))

    model = ray.train.torch.prepare_model(model)
    device = ray.train.torch.get_device()
    use_amp = bool(config.get("amp")) and device.type == "cuda"
    shard = np.arange(rank, len(train["label"]), world)
    labels = torch.from_numpy(train["label"]).float()
    batch_size = int(config["batch_size"])
    fail_at = config.get("fail_at_epoch")

    for epoch in range(int(state["epoch"]), int(config["epochs"])):
        if fail_at is not None and epoch == fail_at and checkpoint is None and rank == world - 1:
            raise RuntimeError(f"injected failure at epoch {epoch} (fail_at_epoch)")
        model.train()
        # Seeded per (seed, rank, epoch): a resumed run shuffles as the original would.
        order = np.random.default_rng((int(config["seed"]), rank, epoch)).permutation(shard)
        total, seen = 0.0, 0
        for start in range(0, len(order), batch_size):
            index = order[start : start + batch_size]
            batch = to_batch(train, index, device)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_amp):
                logits = model(batch)
            loss = loss_fn(logits.float(), labels[index].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
            seen += len(index)

        metrics = classification_metrics(
            val["user_id"], val["label"], predict_logits(_unwrap(model), val, device=device)
        )
        improved = metrics["auc"] > state["best_auc"]
        if improved:
            best = {k: v.detach().cpu().clone() for k, v in _unwrap(model).state_dict().items()}
            state.update(best_auc=metrics["auc"], best_epoch=epoch, bad_epochs=0)
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch + 1
        report = {
            "epoch": epoch,
            "train_loss": total / max(seen, 1),
            "val_auc": metrics["auc"],
            "val_gauc": metrics["gauc"],
            "val_logloss": metrics["logloss"],
            "best_val_auc": state["best_auc"],
        }
        state["history"].append(report)
        stop = state["bad_epochs"] >= int(config["patience"])
        with tempfile.TemporaryDirectory() as folder:
            if rank == 0:
                _save_checkpoint(
                    Path(folder), model=_unwrap(model), optimizer=optimizer, state=state, best=best
                )
                ray.train.report(report, checkpoint=ray.train.Checkpoint.from_directory(folder))
            else:
                ray.train.report(report)
        if stop:
            break
