"""Training data of the rating models: explicit ratings, a fixed random 90/10 split.

The classic MovieLens setup: ratings come from `recplat data import-movielens`
(kept beside the event log), are validated by the ratings suite before use, and
are split at random with a fixed seed: 90% to fit (of which a tenth is held
out for validation and early stopping), 10% to test.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from recplat.io.parquet import read_parquet
from recplat.quality.gate import Gate
from recplat.quality.suites import ratings_suite
from recplat.settings import Settings
from recplat.training.training_set import TrainingData, vocab_from_catalog

TEST_SHARE = 0.1
VALIDATION_SHARE = 0.1  # of the rows left for fitting
SPLIT_SEED = 20  # fixed: every run and every model sees the same test rows


def split_ratings(ratings: pd.DataFrame, *, seed: int = SPLIT_SEED) -> dict[str, pd.DataFrame]:
    """Train / validation / test frames of a fixed random split (independent of row order)."""
    ordered = ratings.sort_values(["user_id", "item_id", "event_timestamp"], kind="stable")
    draw = np.random.default_rng(seed).random(len(ordered))
    test = draw < TEST_SHARE
    validation = ~test & (draw < TEST_SHARE + (1 - TEST_SHARE) * VALIDATION_SHARE)
    return {
        "train": ordered[~test & ~validation].reset_index(drop=True),
        "validation": ordered[validation].reset_index(drop=True),
        "test": ordered[test].reset_index(drop=True),
    }


def encode_ratings(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Model inputs: user_id, item_id (int64) and the rating (float32 target)."""
    return {
        "user_id": frame["user_id"].to_numpy(np.int64),
        "item_id": frame["item_id"].to_numpy(np.int64),
        "rating": frame["rating"].to_numpy(np.float32),
    }


def prepare_rating_data(
    *, settings: Settings, gate: Gate, allow: Sequence[str] = ()
) -> TrainingData:
    """Validate the accepted ratings and split them for a rating model.

    Raises:
        FileNotFoundError: No ratings were imported (only MovieLens imports bring them).
        DataQualityError: The ratings failed their suite; nothing trains.
    """
    if not settings.ratings_path.exists():
        raise FileNotFoundError(
            f"no ratings at {settings.ratings_path}: rating models train on explicit ratings; "
            "import them with `recplat data import-movielens FOLDER`"
        )
    ratings = read_parquet(settings.ratings_path)
    run_id = gate.check(
        df=ratings, spec=ratings_suite(), allow=allow, stage="training", baseline_key="ratings"
    )
    users = read_parquet(settings.catalog_dir / "users.parquet")
    items = read_parquet(settings.catalog_dir / "items.parquet")
    frames = split_ratings(ratings)
    stamps = pd.to_datetime(ratings["event_timestamp"], utc=True)
    return TrainingData(
        frames=frames,
        arrays={name: encode_ratings(frame) for name, frame in frames.items()},
        item_categories=np.zeros(int(items["item_id"].max()) + 1, dtype=np.int64),
        vocab=vocab_from_catalog(users=users, items=items),
        max_len=0,
        feature_service="ratings",
        validation_run_id=run_id,
        features=("ratings:user_id", "ratings:item_id"),
        time_range=(stamps.min().isoformat(), stamps.max().isoformat()),
    )
