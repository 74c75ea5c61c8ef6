"""Feature rows -> model inputs, the one encoding of training and serving.

`fill_missing` gives features the store had no value for their defaults;
`encode` turns a frame of feature rows (the point-in-time training set) into
int64 arrays; `encode_request` does the same for one ranking request (a user's
features broadcast over the candidates) without building a frame, equal to
the frame path by test. Training sets and `/rank` both go through here, so an
encoding change reaches both at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from recplat.events.schema import device_index
from recplat.io.arrow_lists import flat_lists, is_arrow_list, list_lengths, pad_flat
from recplat.models.layers import CONTEXT_FIELDS, Vocab

# Missing values become -1 here and 0 ("unknown") after `encode` shifts them by one.
SHIFTED_FEATURES = ("age_bucket", "gender", "price_bucket")
SEQUENCE_FEATURES = ("hist_item_ids", "hist_category_ids", "hist_timestamps")


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


def histories(
    items: np.ndarray, categories: np.ndarray, *, vocab: Vocab
) -> tuple[np.ndarray, np.ndarray]:
    """Front-padded (B, L) behaviour ids with the steps the model has no item row for
    (ids >= the vocabulary, or negative) dropped (the rest keep their order, newest
    last); unknown categories become 0.

    Zeroing an unknown item in place would leave padding inside a history, and the
    sequence models read a history's real steps as its trailing ones: the oldest
    real step would be cut. Only serving meets such ids (items newer than the model).
    """
    categories = _clamp(categories, vocab.categories)
    known = (items > 0) & (items < vocab.items)
    if np.array_equal(known, items != 0):  # the common case: nothing to drop
        return items, categories
    order = np.argsort(known, axis=1, kind="stable")  # dropped steps and padding first
    return (
        np.take_along_axis(np.where(known, items, 0), order, axis=1),
        np.take_along_axis(np.where(known, categories, 0), order, axis=1),
    )


def encode(frame: pd.DataFrame, *, vocab: Vocab, max_len: int) -> dict[str, np.ndarray]:
    """Model inputs as int64 arrays (plus `label` when present).

    Profile fields are shifted by one so that 0 means unknown (missing
    values arrive as -1). Hour (0..23) and weekday (0..6) are always known.
    """
    device = frame["device"].map(device_index)
    hist_items, hist_categories = histories(
        pad_sequences(frame["hist_item_ids"], max_len),
        pad_sequences(frame["hist_category_ids"], max_len),
        vocab=vocab,
    )
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
        "hist_item_ids": hist_items,
        "hist_category_ids": hist_categories,
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

    hist_items, hist_categories = histories(
        pad_sequences([user.get("hist_item_ids") or []], max_len),
        pad_sequences([user.get("hist_category_ids") or []], max_len),
        vocab=vocab,
    )
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
        "hist_item_ids": np.repeat(hist_items, n, axis=0),
        "hist_category_ids": np.repeat(hist_categories, n, axis=0),
    }
    for name, size in CONTEXT_FIELDS.items():
        out[name] = _clamp(out[name], size)
    return out
