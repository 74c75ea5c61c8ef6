"""The point-in-time training set and its tensor encoding.

Point-in-time rule: a row for an impression at time t sees only behaviour
strictly before t. Feast's join is inclusive (feature time <= lookup time), so
recplat looks features up at t - 1 microsecond. A click at t (on the target
itself, or on a sibling shown in the same request) is stamped t and so stays
out of the row's history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from recplat.arrow_lists import flat_lists, is_arrow_list, list_lengths, pad_flat
from recplat.events.schema import device_index
from recplat.features.point_in_time import UnsupportedServiceError, historical_frame
from recplat.features.repo import quiet_library_warnings
from recplat.models.layers import CONTEXT_FIELDS, Vocab

if TYPE_CHECKING:
    from feast import FeatureStore

FEATURE_SERVICE = "ranking_v1"
LOOKUP_OFFSET = pd.Timedelta(microseconds=1)
# Missing values become -1 here and 0 ("unknown") after `encode` shifts them by one.
SHIFTED_FEATURES = ("age_bucket", "gender", "price_bucket")
SEQUENCE_FEATURES = ("hist_item_ids", "hist_category_ids", "hist_timestamps")


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


def fill_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Defaults for features the store had no value for (training and serving alike)."""
    for column in SHIFTED_FEATURES:
        frame[column] = pd.to_numeric(frame[column]).fillna(-1).astype(np.int64)
    frame["category_id"] = pd.to_numeric(frame["category_id"]).fillna(0).astype(np.int64)
    for column in SEQUENCE_FEATURES:
        if column not in frame:  # timestamps are for checks; a frame without them still encodes
            continue
        if is_arrow_list(frame[column]):
            offsets, values = flat_lists(frame[column])  # nulls become empty lists
            lists = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))
            frame[column] = pd.Series(pd.arrays.ArrowExtensionArray(lists), index=frame.index)
        else:
            frame[column] = frame[column].map(lambda v: [] if v is None else [int(x) for x in v])
    if is_arrow_list(frame["hist_item_ids"]):
        frame["hist_len"] = list_lengths(frame["hist_item_ids"])
    else:
        frame["hist_len"] = frame["hist_item_ids"].map(len).astype(np.int64)
    return frame


def pad_sequences(sequences: Any, max_len: int) -> np.ndarray:
    """Left-pad (oldest first, newest last) and truncate to the newest `max_len`."""
    if isinstance(sequences, pd.Series) and is_arrow_list(sequences):
        offsets, values = flat_lists(sequences)
        return pad_flat(offsets, values, max_len)
    out = np.zeros((len(sequences), max_len), dtype=np.int64)
    for row, seq in enumerate(sequences):
        tail = list(seq)[-max_len:]
        if tail:
            out[row, max_len - len(tail) :] = tail
    return out


def _clamp(values: np.ndarray, size: int) -> np.ndarray:
    # Ids the model has no embedding for become 0 (unknown).
    values = np.asarray(values, dtype=np.int64)
    return np.where((values >= 0) & (values < size), values, 0)


def encode(frame: pd.DataFrame, *, vocab: Vocab, max_len: int) -> dict[str, np.ndarray]:
    """Model inputs as int64 arrays (plus `label` when present).

    Profile fields are shifted by one so that 0 means unknown (missing
    values arrive as -1). Hour (0..23) and weekday (0..6) are always known.
    """
    device = frame["device"].map(device_index)
    out = {
        "user_id": _clamp(frame["user_id"].to_numpy(), vocab.users),
        "item_id": _clamp(frame["item_id"].to_numpy(), vocab.items),
        "category_id": _clamp(frame["category_id"].to_numpy(), vocab.categories),
        "age_bucket": frame["age_bucket"].to_numpy(np.int64) + 1,
        "gender": frame["gender"].to_numpy(np.int64) + 1,
        "price_bucket": frame["price_bucket"].to_numpy(np.int64) + 1,
        "hour": frame["hour"].to_numpy(np.int64),
        "weekday": frame["weekday"].to_numpy(np.int64),
        "device": device.to_numpy(np.int64),
        "hist_item_ids": _clamp(pad_sequences(frame["hist_item_ids"], max_len), vocab.items),
        "hist_category_ids": _clamp(
            pad_sequences(frame["hist_category_ids"], max_len), vocab.categories
        ),
    }
    for name, size in CONTEXT_FIELDS.items():
        out[name] = _clamp(out[name], size)
    if "label" in frame:
        out["label"] = frame["label"].to_numpy(np.int64)
    return out


def encode_request(
    *,
    user: dict[str, Any],
    items: dict[str, list[Any]],
    user_id: int,
    item_ids: list[int],
    hour: int,
    weekday: int,
    device: str,
    vocab: Vocab,
    max_len: int,
) -> dict[str, np.ndarray]:
    """`encode(fill_missing(frame))` for one user's candidates, without the frame.

    The ranking path: the user's features (`user`: profile values and the
    sequence, None when missing) are read once and broadcast over the
    candidates (`items`: one value per candidate, None when missing). Equal to
    the frame path by test.
    """
    n = len(item_ids)

    def shifted(value: Any) -> int:  # missing -> -1 -> 0 ("unknown") after the shift
        return (-1 if value is None else int(value)) + 1

    def column(values: list[Any], missing: int) -> np.ndarray:
        return np.array([missing if v is None else int(v) for v in values], dtype=np.int64)

    history = user.get("hist_item_ids") or []
    categories = user.get("hist_category_ids") or []
    out = {
        "user_id": _clamp(np.full(n, user_id, dtype=np.int64), vocab.users),
        "item_id": _clamp(np.asarray(item_ids, dtype=np.int64), vocab.items),
        "category_id": _clamp(column(items["category_id"], 0), vocab.categories),
        "age_bucket": np.full(n, shifted(user.get("age_bucket")), dtype=np.int64),
        "gender": np.full(n, shifted(user.get("gender")), dtype=np.int64),
        "price_bucket": column(items["price_bucket"], -1) + 1,
        "hour": np.full(n, hour, dtype=np.int64),
        "weekday": np.full(n, weekday, dtype=np.int64),
        "device": np.full(n, device_index(device), dtype=np.int64),
        "hist_item_ids": np.repeat(
            _clamp(pad_sequences([history], max_len), vocab.items), n, axis=0
        ),
        "hist_category_ids": np.repeat(
            _clamp(pad_sequences([categories], max_len), vocab.categories), n, axis=0
        ),
    }
    for name, size in CONTEXT_FIELDS.items():
        out[name] = _clamp(out[name], size)
    return out


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
