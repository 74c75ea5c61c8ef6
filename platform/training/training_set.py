"""The point-in-time training set: join, gate, split by time, encode.

Point-in-time rule: a row for an impression at time t sees only behaviour
strictly before t. Feast's join is inclusive (feature time <= lookup time), so
recplat looks features up at t - 1 microsecond. A click at t (on the target
itself, or on a sibling shown in the same request) is stamped t and so stays
out of the row's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from recplat.features.encoding import encode, fill_missing
from recplat.features.point_in_time import UnsupportedServiceError, historical_frame
from recplat.features.repo import open_store, quiet_library_warnings
from recplat.io.parquet import read_parquet
from recplat.models.layers import Vocab
from recplat.quality.suites import training_set_suite

if TYPE_CHECKING:
    from feast import FeatureStore
    from recplat.quality.gate import Gate
    from recplat.settings import Settings

FEATURE_SERVICE = "ranking_v1"
LOOKUP_OFFSET = pd.Timedelta(microseconds=1)


def entity_frame(events: pd.DataFrame) -> pd.DataFrame:
    """One row per impression, with the lookup time just before the impression."""
    imp = events[events["event_type"] == "impression"]
    return pd.DataFrame(
        {
            "event_id": imp["event_id"].to_numpy(),
            "user_id": imp["user_id"].to_numpy(),
            "item_id": imp["item_id"].to_numpy(),
            "event_timestamp": pd.to_datetime(imp["event_timestamp"], utc=True) - LOOKUP_OFFSET,
            "label": imp["clicked"].to_numpy(),
            "hour": imp["hour"].to_numpy(),
            "weekday": imp["weekday"].to_numpy(),
            "device": imp["device"].to_numpy(),
        }
    )


def historical_features(
    *, store: FeatureStore, entities: pd.DataFrame, feature_service: str = FEATURE_SERVICE
) -> pd.DataFrame:
    """Point-in-time join through Feast, in event order, missing values filled.

    Users with no earlier behaviour get empty sequences; unknown items get
    category 0 (int columns come back as float when a value is missing).
    Services over file-backed views join in `recplat.features.point_in_time`
    (list features stay Arrow lists); others, e.g. with on-demand views, in Feast.
    """
    try:
        # recplat's vectorized join over the same Parquet tables (equal by test).
        frame = historical_frame(store=store, entities=entities, feature_service=feature_service)
    except UnsupportedServiceError:
        service = store.get_feature_service(feature_service)
        with quiet_library_warnings():
            frame = store.get_historical_features(entity_df=entities, features=service).to_df()
    frame = frame.sort_values("event_id", kind="stable").reset_index(drop=True)
    return fill_missing(frame)


@dataclass(frozen=True)
class Splits:
    """Time-ordered train / validation / test frames."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def temporal_split(frame: pd.DataFrame, *, validation: float = 0.1, test: float = 0.1) -> Splits:
    """Split by time: the newest `test` share is the test set, the one before it validation."""
    ordered = frame.sort_values(["event_timestamp", "event_id"], kind="stable").reset_index(
        drop=True
    )
    n = len(ordered)
    n_test, n_val = int(n * test), int(n * validation)
    cut_val, cut_test = n - n_test - n_val, n - n_test
    return Splits(ordered.iloc[:cut_val], ordered.iloc[cut_val:cut_test], ordered.iloc[cut_test:])


def vocab_from_catalog(*, users: pd.DataFrame, items: pd.DataFrame) -> Vocab:
    """Id-space sizes from the user and item tables."""
    return Vocab(
        users=int(users["user_id"].max()) + 1,
        items=int(items["item_id"].max()) + 1,
        categories=int(items["category_id"].max()) + 1,
    )


@dataclass(frozen=True)
class TrainingData:
    """An encoded, validated, time-split training set (built once, shared by models)."""

    frames: dict[str, pd.DataFrame]
    arrays: dict[str, dict[str, np.ndarray]]
    item_categories: np.ndarray
    vocab: Vocab
    max_len: int
    feature_service: str
    validation_run_id: int
    features: tuple[str, ...] = ()  # view:feature names of the feature service
    time_range: tuple[str, str] = ("", "")  # first and last impression (UTC, ISO)


def prepare_training_data(
    *,
    settings: Settings,
    gate: Gate,
    feature_service: str = FEATURE_SERVICE,
    allow: Sequence[str] = (),
) -> TrainingData:
    """Join the service's features point-in-time, gate the result, split by time.

    Raises:
        DataQualityError: The training set failed its suite; nothing trains.
    """
    events = read_parquet(settings.events_path)
    users = read_parquet(settings.catalog_dir / "users.parquet")
    items = read_parquet(settings.catalog_dir / "items.parquet")
    store = open_store(settings.feature_repo)
    frame = historical_features(
        store=store, entities=entity_frame(events), feature_service=feature_service
    )
    spec = training_set_suite(
        max_len=settings.sequence_length, known_items=set(items["item_id"].tolist())
    )
    run_id = gate.check(df=frame, spec=spec, allow=allow, stage="training")
    splits = temporal_split(frame)
    vocab = vocab_from_catalog(users=users, items=items)
    frames = {"train": splits.train, "validation": splits.validation, "test": splits.test}
    arrays = {
        k: encode(v, vocab=vocab, max_len=settings.sequence_length) for k, v in frames.items()
    }
    item_categories = np.zeros(vocab.items, dtype=np.int64)
    item_categories[items["item_id"].to_numpy()] = items["category_id"].to_numpy()
    features = tuple(
        f"{projection.name}:{feature.name}"
        for projection in store.get_feature_service(feature_service).feature_view_projections
        for feature in projection.features
    )
    stamps = pd.to_datetime(frame["event_timestamp"], utc=True) + LOOKUP_OFFSET
    return TrainingData(
        frames,
        arrays,
        item_categories,
        vocab,
        settings.sequence_length,
        feature_service,
        run_id,
        features=features,
        time_range=(stamps.min().isoformat(), stamps.max().isoformat()),
    )
