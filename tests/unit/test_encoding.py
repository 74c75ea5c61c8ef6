"""Encoding of the training/serving frame into model inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from recplat.features.encoding import (
    encode,
    encode_request,
    fill_missing,
    histories,
    pad_sequences,
)
from recplat.models.layers import Vocab
from recplat.training.training_set import temporal_split

VOCAB = Vocab(users=11, items=21, categories=6)


def test_pad_sequences_left_pads_and_keeps_newest() -> None:
    out = pad_sequences([[1, 2], [], [1, 2, 3, 4, 5]], 4)
    assert out.tolist() == [[0, 0, 1, 2], [0, 0, 0, 0], [2, 3, 4, 5]]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [3, 99],
            "item_id": [5, 500],
            "category_id": [2, None],
            "age_bucket": [0, None],
            "gender": [1, None],
            "price_bucket": [9, None],
            "hour": [23, 0],
            "weekday": [6, 0],
            "device": ["tablet", "fridge"],
            "hist_item_ids": [[4, 5, 40], None],
            "hist_category_ids": [[1, 2, 9], None],
        }
    )


def test_unknown_ids_and_missing_features_map_to_zero() -> None:
    arrays = encode(fill_missing(_frame()), vocab=VOCAB, max_len=4)
    assert arrays["user_id"].tolist() == [3, 0]
    assert arrays["item_id"].tolist() == [5, 0]
    assert arrays["category_id"].tolist() == [2, 0]
    # Known profile values shift by one; missing ones are 0 = unknown.
    assert arrays["age_bucket"].tolist() == [1, 0]
    assert arrays["gender"].tolist() == [2, 0]
    assert arrays["price_bucket"].tolist() == [10, 0]
    assert arrays["device"].tolist() == [3, 0]
    # An item the model has no row for leaves the history (zeroed in place it would be
    # padding inside it); the rest stay front-padded, newest last, categories aligned.
    assert arrays["hist_item_ids"].tolist() == [[0, 0, 4, 5], [0, 0, 0, 0]]
    assert arrays["hist_category_ids"].tolist() == [[0, 0, 1, 2], [0, 0, 0, 0]]
    assert all(a.dtype == np.int64 for a in arrays.values())


def test_unknown_items_leave_the_history_and_the_rest_keep_their_order() -> None:
    items = np.array([[0, 4, 30, 5, 6], [7, 8, 9, 10, 11], [0, 0, 0, 0, 0], [25, 26, 3, 27, 2]])
    cats = np.array([[0, 1, 2, 3, 9], [1, 1, 2, 2, 3], [0, 0, 0, 0, 0], [1, 1, 4, 1, 5]])
    got_items, got_cats = histories(items, cats, vocab=VOCAB)
    assert got_items.tolist() == [[0, 0, 4, 5, 6], [7, 8, 9, 10, 11], [0] * 5, [0, 0, 0, 3, 2]]
    assert got_cats.tolist() == [[0, 0, 1, 3, 0], [1, 1, 2, 2, 3], [0] * 5, [0, 0, 0, 4, 5]]
    # A negative id has no row either: dropped, not left as a gap inside the history.
    got_items, got_cats = histories(
        np.array([[0, 4, -1, 5]]), np.array([[0, 1, 2, 3]]), vocab=VOCAB
    )
    assert got_items.tolist() == [[0, 0, 4, 5]] and got_cats.tolist() == [[0, 0, 1, 3]]
    # Front-padded: a row's real steps are its trailing ones.
    lengths = (got_items > 0).sum(axis=1)
    assert all((row[len(row) - n :] > 0).all() for row, n in zip(got_items, lengths, strict=True))


def test_temporal_split_keeps_time_order() -> None:
    frame = pd.DataFrame(
        {
            "event_id": range(100),
            "event_timestamp": pd.date_range("2026-01-01", periods=100, freq="h"),
        }
    ).sample(frac=1, random_state=0)
    splits = temporal_split(frame, validation=0.1, test=0.2)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (70, 10, 20)
    assert splits.train["event_timestamp"].max() < splits.validation["event_timestamp"].min()
    assert splits.validation["event_timestamp"].max() < splits.test["event_timestamp"].min()


@pytest.mark.parametrize(
    ("user", "hist"),
    [
        ({"age_bucket": 2, "gender": 0}, [4, 5, 40, 7, 8, 9]),  # longer than max_len, an unknown id
        ({"age_bucket": None, "gender": None}, None),  # unknown user, no history
        ({"age_bucket": 5, "gender": 1}, []),
    ],
)
def test_request_encoding_equals_the_frame_path(user: dict, hist: list[int] | None) -> None:
    """Serving encodes one user's candidates without a frame; it must match training's encode."""
    item_ids = [5, 500, 7, 0]
    items = {"category_id": [2, None, 9, None], "price_bucket": [3, None, 0, 12]}
    cats = None if hist is None else [i % 7 for i in hist]
    user_values = {**user, "hist_item_ids": hist, "hist_category_ids": cats}
    frame = pd.DataFrame(
        {
            "user_id": [3] * 4,
            "item_id": item_ids,
            **{k: [v] * 4 for k, v in user_values.items()},
            **items,
            "hour": [21] * 4,
            "weekday": [4] * 4,
            "device": ["mobile"] * 4,
        }
    )
    expected = encode(fill_missing(frame), vocab=VOCAB, max_len=4)
    got = encode_request(
        user=user_values,
        items=items,
        user_id=3,
        item_ids=item_ids,
        hour=21,
        weekday=4,
        device="mobile",
        vocab=VOCAB,
        max_len=4,
    )
    assert set(got) == set(expected)
    for name, values in expected.items():
        assert got[name].dtype == values.dtype, name
        assert got[name].tolist() == values.tolist(), name
