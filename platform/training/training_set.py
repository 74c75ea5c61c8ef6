"""The point-in-time training set: join, gate, split by time, encode.

Point-in-time rule: a row for an impression at time t sees only behaviour
strictly before t. Feast's join is inclusive (feature time <= lookup time), so
recplat looks features up at t - 1 microsecond. A click at t (on the target
itself, or on a sibling shown in the same request) is stamped t and so stays
out of the row's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from recplat.features.encoding import LIST_FEATURES, encode, fill_missing
from recplat.features.inputs import InputSpec, fit_inputs, service_fields
from recplat.features.point_in_time import UnsupportedServiceError, historical_frame
from recplat.features.repo import open_store, quiet_library_warnings
from recplat.io.parquet import read_parquet
from recplat.models.layers import Vocab
from recplat.quality.suites import training_set_suite

if TYPE_CHECKING:
    from feast import FeatureStore
    from recplat.quality.gate import Gate
    from recplat.settings import Settings

# The service a training set is built for when none is named: DIN's, the richest.
FEATURE_SERVICE = "din_ranker_v1"
LOOKUP_OFFSET = pd.Timedelta(microseconds=1)


def entity_frame(events: pd.DataFrame) -> pd.DataFrame:
    """One row per impression, with the lookup time just before the impression and
    the request fields the context view reads (the impression's time and device)."""
    imp = events[events["event_type"] == "impression"]
    shown = pd.to_datetime(imp["event_timestamp"], utc=True)
    return pd.DataFrame(
        {
            "event_id": imp["event_id"].to_numpy(),
            "user_id": imp["user_id"].to_numpy(),
            "item_id": imp["item_id"].to_numpy(),
            "event_timestamp": shown - LOOKUP_OFFSET,
            "label": imp["clicked"].to_numpy(),
            "request_time_s": (shown - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1),
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
    inputs: InputSpec | None = None  # the encoding fitted on the training split
    # Recorded in the artifact beside the weights (e.g. a propensity model's task).
    description: dict[str, Any] = field(default_factory=dict)


def prepare_training_data(
    *,
    settings: Settings,
    gate: Gate,
    feature_service: str = FEATURE_SERVICE,
    allow: Sequence[str] = (),
    min_user_count: int = 1,
) -> TrainingData:
    """Join the service's features point-in-time, gate the result, split by time, fit
    the encoding on the training split (`recplat.features.inputs`) and apply it.

    Raises:
        DataQualityError: The training set failed its suite; nothing trains.
        KeyError: The feature service does not exist (named).
    """
    events = read_parquet(settings.events_path)
    users = read_parquet(settings.catalog_dir / "users.parquet")
    items = read_parquet(settings.catalog_dir / "items.parquet")
    store = open_store(settings.feature_repo)
    fields = service_fields(store=store, feature_service=feature_service)
    frame = historical_features(
        store=store, entities=entity_frame(events), feature_service=feature_service
    )
    spec = training_set_suite(
        max_len=settings.sequence_length,
        known_items=set(items["item_id"].tolist()),
        columns=column_kinds(frame),
    )
    run_id = gate.check(df=frame, spec=spec, allow=allow, stage="training")
    splits = temporal_split(frame)
    vocab = vocab_from_catalog(users=users, items=items)
    frames = {"train": splits.train, "validation": splits.validation, "test": splits.test}
    inputs = fit_inputs(
        splits.train,
        fields=fields,
        feature_service=feature_service,
        min_user_count=min_user_count,
    )
    arrays = {
        k: encode(v, spec=inputs, vocab=vocab, max_len=settings.sequence_length)
        for k, v in frames.items()
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
        inputs=inputs,
    )


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Each column of a joined frame as "list", "number" or "text" (for its suite)."""
    out = {}
    for name in frame.columns:
        dtype = frame[name].dtype
        if name in LIST_FEATURES:
            out[name] = "list"
        elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            out[name] = "number"
        else:
            out[name] = "text"
    return out
