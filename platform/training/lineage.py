"""Lineage of a training run: what data and code produced a model.

Recorded on the run and copied to the model version, so a model in the
registry answers "which features, which rows, which validated training set,
which commit, which Ray job".
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recplat.training.training_set import TrainingData


def code_version() -> dict[str, Any]:
    """The git commit of the code that runs (and whether the tree had changes).

    `RECPLAT_GIT_SHA` wins (container images carry no .git); "unknown" outside a checkout.
    """
    if os.environ.get("RECPLAT_GIT_SHA"):
        return {"git_sha": os.environ["RECPLAT_GIT_SHA"], "dirty": None}
    here = Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"git_sha": "unknown", "dirty": None}
    return {"git_sha": sha, "dirty": bool(status.strip())}


def data_lineage(data: TrainingData) -> dict[str, Any]:
    """Features, training-set validation, time range and row counts of a training set."""
    return {
        "feature_service": data.feature_service,
        "features": list(data.features),
        "training_set_validation_run_id": data.validation_run_id,
        "data_time_range": list(data.time_range),
        "rows": {name: len(frame) for name, frame in data.frames.items()},
    }
