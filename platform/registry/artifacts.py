"""Model artifacts on disk: weights (state_dict) + a JSON description.

Weights load with `torch.load(weights_only=True)`: no pickled objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from recplat.models.catalog import build_model, config_from_dict, config_to_dict
from torch import nn

WEIGHTS = "weights.pt"
DESCRIPTION = "model.json"
# Each item's smoothed training CTR (index = item id): the ranking API's fallback order
# when the feature store is down.
POPULARITY = "popularity.pt"


@dataclass(frozen=True)
class Artifact:
    """A loaded model and what it needs at inference time."""

    model: nn.Module
    config: Any
    model_name: str
    max_len: int
    feature_service: str
    description: dict[str, Any]
    popularity: torch.Tensor | None = None  # None in artifacts written before it existed


def save_artifact(
    folder: Path,
    *,
    model_name: str,
    config: Any,
    state_dict: dict[str, torch.Tensor],
    max_len: int,
    feature_service: str,
    extra: dict[str, Any] | None = None,
    popularity: torch.Tensor | None = None,
) -> Path:
    """Write weights, description (and item popularity, when given) into `folder` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state_dict, folder / WEIGHTS)
    if popularity is not None:
        torch.save(popularity.float(), folder / POPULARITY)
    description = {
        "model_name": model_name,
        "config": config_to_dict(config),
        "max_len": max_len,
        "feature_service": feature_service,
        **(extra or {}),
    }
    (folder / DESCRIPTION).write_text(json.dumps(description, indent=2, default=str))
    return folder


def load_artifact(folder: Path) -> Artifact:
    """Rebuild the model from an artifact folder, in eval mode."""
    description = json.loads((folder / DESCRIPTION).read_text())
    name = description["model_name"]
    config = config_from_dict(name, description["config"])
    model = build_model(name, config)
    model.load_state_dict(torch.load(folder / WEIGHTS, weights_only=True, map_location="cpu"))
    model.eval()
    popularity = folder / POPULARITY
    return Artifact(
        model=model,
        config=config,
        model_name=name,
        max_len=int(description["max_len"]),
        feature_service=description["feature_service"],
        description=description,
        popularity=torch.load(popularity, weights_only=True) if popularity.exists() else None,
    )
