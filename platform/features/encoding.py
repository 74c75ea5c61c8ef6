"""Feature rows -> model inputs, the one encoding of training and serving.

`fill_missing` normalises what the store returns (null sequences become empty
lists); `encode` turns a frame of feature rows (the point-in-time training set)
into arrays by an `InputSpec` (`recplat.features.inputs`, fitted on the
training split and saved with the model); `encode_request` does the same for
one ranking request (the user's features broadcast over the candidates)
without building a frame, equal to the frame path by test. Training sets and
`/rank` both go through here, so an encoding change reaches both at once.

Outputs: `user_id`, `item_id`, `category_id` (int64, 0 = unknown), one int64
array per categorical input (0 = missing or unknown), `dense` (float32,
(N, F) standardised, 0 = missing) when the spec has dense inputs, and the
front-padded sequences (N, max_len) the spec names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from recplat.events.schema import BEHAVIOUR_TYPES
from recplat.features.inputs import CLIP, Categorical, Dense, InputSpec, dense_values, numbers
from recplat.io.arrow_lists import flat_lists, is_arrow_list, list_lengths, pad_flat
from recplat.models.layers import Vocab

LIST_FEATURES = ("hist_item_ids", "hist_category_ids", "hist_behaviour_types", "hist_timestamps")
# Rows of the behaviour-type table: 0 padding or unknown, then the codes.
BEHAVIOUR_TYPE_ROWS = max(BEHAVIOUR_TYPES.values()) + 1


def fill_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Null sequences become empty lists and `hist_len` follows them; an item without
    attributes gets category 0. Scalars stay missing (NaN): `encode` gives them the
    spec's default."""
    if "category_id" in frame:
        frame["category_id"] = pd.to_numeric(frame["category_id"]).fillna(0).astype(np.int64)
    for column in LIST_FEATURES:
        if column not in frame:
            continue
        if is_arrow_list(frame[column]):
            offsets, values = flat_lists(frame[column])  # nulls become empty lists
            lists = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))
            frame[column] = pd.Series(pd.arrays.ArrowExtensionArray(lists), index=frame.index)
        else:
            frame[column] = frame[column].map(lambda v: [] if v is None else [int(x) for x in v])
    if "hist_item_ids" in frame:
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


def _clamp(values: Any, size: int) -> np.ndarray:
    # Ids the model has no embedding for become 0 (unknown).
    values = np.asarray(values, dtype=np.int64)
    return np.where((values >= 0) & (values < size), values, 0)


def histories(
    items: np.ndarray, categories: np.ndarray, *others: np.ndarray, vocab: Vocab
) -> tuple[np.ndarray, ...]:
    """Front-padded (B, L) behaviour ids with the steps the model has no item row for
    (ids >= the vocabulary, or negative) dropped (the rest keep their order, newest
    last); unknown categories become 0. `others` (e.g. behaviour types) move with
    the items.

    Zeroing an unknown item in place would leave padding inside a history, and the
    sequence models read a history's real steps as its trailing ones: the oldest
    real step would be cut. Only serving meets such ids (items newer than the model).
    """
    categories = _clamp(categories, vocab.categories)
    others = tuple(_clamp(o, BEHAVIOUR_TYPE_ROWS) for o in others)
    known = (items > 0) & (items < vocab.items)
    if np.array_equal(known, items != 0):  # the common case: nothing to drop
        return (items, categories, *others)
    order = np.argsort(known, axis=1, kind="stable")  # dropped steps and padding first
    return tuple(
        np.take_along_axis(np.where(known, a, 0), order, axis=1)
        for a in (items, categories, *others)
    )


def categorical(values: Any, field: Categorical) -> np.ndarray:
    """Shifted by one; missing, negative and too-large values are 0."""
    x = numbers(values)
    shifted = np.where(np.isnan(x), 0, x + 1)
    return np.where((shifted > 0) & (shifted < field.size), shifted, 0).astype(np.int64)


def dense(columns: list[Any], fields: tuple[Dense, ...]) -> np.ndarray:
    """(N, F) float32: log1p where asked, standardised, clipped; missing is 0."""
    out = [
        np.clip(np.nan_to_num((dense_values(v, log=f.log) - f.mean) / f.std), -CLIP, CLIP)
        for v, f in zip(columns, fields, strict=True)
    ]
    return np.stack(out, axis=1).astype(np.float32)


def _encode(
    *,
    ids: tuple[np.ndarray, np.ndarray, np.ndarray],
    scalar: Mapping[str, Any],
    lists: Mapping[str, np.ndarray],
    spec: InputSpec,
    vocab: Vocab,
) -> dict[str, np.ndarray]:
    users, items, cats = ids
    out: dict[str, np.ndarray] = {
        "user_id": spec.user_rows(_clamp(users, vocab.users)),
        "item_id": _clamp(items, vocab.items),
        "category_id": _clamp(cats, vocab.categories),
    }
    for field in spec.categorical:
        out[field.name] = categorical(scalar[field.name], field)
    if spec.dense:
        out["dense"] = dense([scalar[f.name] for f in spec.dense], spec.dense)
    if spec.sequence:
        others = [lists[n] for n in spec.sequence[2:]]
        steps = histories(lists["hist_item_ids"], lists["hist_category_ids"], *others, vocab=vocab)
        out.update(zip(spec.sequence, steps, strict=True))
    return out


def encode(
    frame: pd.DataFrame, *, spec: InputSpec, vocab: Vocab, max_len: int
) -> dict[str, np.ndarray]:
    """Model inputs for every row of a `fill_missing` frame (plus `label` when present).

    Raises:
        KeyError: A column the spec needs is not in the frame.
    """
    out = _encode(
        ids=(
            frame["user_id"].to_numpy(),
            frame["item_id"].to_numpy(),
            frame["category_id"].to_numpy(),
        ),
        scalar={name: frame[name] for name in spec.scalars},
        lists={n: pad_sequences(frame[n], max_len) for n in spec.sequence},
        spec=spec,
        vocab=vocab,
    )
    if "label" in frame:
        out["label"] = frame["label"].to_numpy(np.int64)
        # The user each labelled row is for (GAUC groups by it; user_id may be the
        # shared row of rare users).
        out["user_key"] = frame["user_id"].to_numpy(np.int64)
    return out


def encode_request(
    *,
    user: Mapping[str, Any],
    items: Mapping[str, list[Any]],
    user_id: int,
    item_ids: list[int],
    spec: InputSpec,
    vocab: Vocab,
    max_len: int,
) -> dict[str, np.ndarray]:
    """`encode(fill_missing(frame))` for one user's candidates, without the frame.

    The ranking path: the user's features (`user`: profile, activity and the
    sequence, None when missing) are read once and broadcast over the
    candidates (`items`: item features and request context, one value per
    candidate, None when missing). Equal to the frame path by test.
    """
    n = len(item_ids)

    def column(name: str) -> Any:
        if name in items:
            return [np.nan if v is None else v for v in items[name]]
        value = user.get(name)
        return np.full(n, np.nan if value is None else value, dtype=np.float64)

    lists = {
        name: np.repeat(pad_sequences([user.get(name) or []], max_len), n, axis=0)
        for name in spec.sequence
    }
    cats = [0 if v is None else int(v) for v in items.get("category_id", [None] * n)]
    return _encode(
        ids=(
            np.full(n, user_id, dtype=np.int64),
            np.asarray(item_ids, dtype=np.int64),
            np.asarray(cats),
        ),
        scalar={name: column(name) for name in spec.scalars},
        lists=lists,
        spec=spec,
        vocab=vocab,
    )
