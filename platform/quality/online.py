"""Sample features back from the online store and validate what serving would read.

Materialization can succeed and still leave the online store serving
something wrong (a stale registry, a half-written key space, a type lost on
the way). This reads a sample of users through Feast, exactly as serving does,
and runs the online suite on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from recplat.features.repo import open_store, quiet_library_warnings
from recplat.io.parquet import read_parquet
from recplat.quality.gate import Gate
from recplat.quality.suites import online_features_suite
from recplat.quality.thresholds import THRESHOLDS
from recplat.settings import Settings

ONLINE_FEATURES = (
    "user_profile:age_bucket",
    "user_profile:gender",
    "user_sequence:hist_item_ids",
    "user_sequence:hist_category_ids",
    "user_sequence:hist_timestamps",
    "user_sequence:hist_len",
)


def sample_online_features(*, settings: Settings, users: int, seed: int = 0) -> pd.DataFrame:
    """Read the user and sequence features of a random sample of known users."""
    profile = read_parquet(settings.offline_dir / "user_profile.parquet")
    ids = profile["user_id"].drop_duplicates().to_numpy()
    rng = np.random.default_rng(seed)
    sample = rng.choice(ids, size=min(users, len(ids)), replace=False)
    store = open_store(settings.feature_repo)
    with quiet_library_warnings():
        raw = store.get_online_features(
            features=list(ONLINE_FEATURES),
            entity_rows=[{"user_id": int(u)} for u in sample],
        ).to_dict()
    frame = pd.DataFrame(raw)
    # Feast returns Python ints or None; keep ints as ints where nothing is missing.
    for column in ("age_bucket", "gender", "hist_len"):
        frame[column] = frame[column].astype("Int64")
    frame["user_id"] = frame["user_id"].astype(np.int64)
    return frame[["user_id", *(f.split(":")[1] for f in ONLINE_FEATURES)]]


def check_online(
    *, settings: Settings, gate: Gate, users: int | None = None, allow: Sequence[str] = ()
) -> int:
    """Validate a sample read back from the online store; returns the validation run id.

    Raises:
        DataQualityError: The online store serves data that fails the online suite.
    """
    frame = sample_online_features(settings=settings, users=users or THRESHOLDS.online.sample_users)
    items = read_parquet(settings.catalog_dir / "items.parquet")
    spec = online_features_suite(
        max_len=settings.sequence_length, known_items=set(items["item_id"].tolist())
    )
    return gate.check(df=frame, spec=spec, allow=allow, stage="online")
