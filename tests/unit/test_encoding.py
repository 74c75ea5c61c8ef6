"""Encoding of the training/serving frame into model inputs."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

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
from recplat.features.inputs import (
    Categorical,
    Dense,
    InputSpec,
    ServiceFields,
    fit_inputs,
)
from recplat.models.layers import Vocab
from recplat.training.training_set import temporal_split

VOCAB = Vocab(users=11, items=21, categories=6)
SPEC = InputSpec(
    feature_service="test",
    categorical=(
        Categorical("age_bucket", 7),
        Categorical("gender", 3),
        Categorical("price_bucket", 11),
        Categorical("device_index", 5),
    ),
    dense=(
        Dense("user_clicks_7d", log=True, mean=1.0, std=0.5),
        Dense("item_ctr_7d", False, 0.2, 0.1),
    ),
    sequence=("hist_item_ids", "hist_category_ids", "hist_behaviour_types"),
)


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
            "device_index": [3, 0],
            "user_clicks_7d": [np.e - 1, None],
            "item_ctr_7d": [0.5, None],
            "hist_item_ids": [[4, 5, 40], None],
            "hist_category_ids": [[1, 2, 9], None],
            "hist_behaviour_types": [[1, 2, 1], None],
        }
    )


def test_unknown_ids_and_missing_features_map_to_zero() -> None:
    arrays = encode(fill_missing(_frame()), spec=SPEC, vocab=VOCAB, max_len=4)
    assert arrays["user_id"].tolist() == [3, 0]
    assert arrays["item_id"].tolist() == [5, 0]
    assert arrays["category_id"].tolist() == [2, 0]
    # Known profile values shift by one; missing ones are 0 = unknown.
    assert arrays["age_bucket"].tolist() == [1, 0]
    assert arrays["gender"].tolist() == [2, 0]
    assert arrays["price_bucket"].tolist() == [10, 0]
    assert arrays["device_index"].tolist() == [4, 1]  # 0 is a value ("unknown device")
    # Dense: log1p then standardised with the spec's statistics; missing is 0 (the mean).
    assert arrays["dense"].dtype == np.float32
    np.testing.assert_allclose(arrays["dense"], [[0.0, 3.0], [0.0, 0.0]], atol=1e-6)
    # An item the model has no row for leaves the history (zeroed in place it would be
    # padding inside it); the rest stay front-padded, newest last, categories aligned.
    assert arrays["hist_item_ids"].tolist() == [[0, 0, 4, 5], [0, 0, 0, 0]]
    assert arrays["hist_category_ids"].tolist() == [[0, 0, 1, 2], [0, 0, 0, 0]]
    assert arrays["hist_behaviour_types"].tolist() == [[0, 0, 1, 2], [0, 0, 0, 0]]
    assert all(a.dtype == np.int64 for k, a in arrays.items() if k != "dense")


def test_fit_inputs_reads_the_training_split_only_and_pools_rare_users() -> None:
    train = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 3, 3, 3],
            "price_bucket": [0, 4, 2, None, 1, 1, 1],
            "user_clicks_7d": [0, 0, 0, 0, 0, 0, 0],  # constant: std 1, not a division by 0
            "item_ctr_7d": [0.1, 0.2, 0.3, None, 0.1, 0.2, 0.3],
            "seconds_since_last_event": [-1, -1, 9, 9, 99, 99, 999],  # -1: none
        }
    )
    fields = ServiceFields(
        categorical=("price_bucket",),
        dense=(
            ("user_clicks_7d", True),
            ("item_ctr_7d", False),
            ("seconds_since_last_event", True),
        ),
        sequence=(),
    )
    spec = fit_inputs(train, fields=fields, feature_service="svc", min_user_count=3)
    assert spec.categorical == (Categorical("price_bucket", 6),)  # largest 4, shifted, + unknown
    clicks, ctr, since = spec.dense
    assert (clicks.mean, clicks.std) == (0.0, 1.0)
    assert ctr.mean == pytest.approx(0.2)
    # Negative durations are missing: the mean is over the five real ones, after log1p.
    assert since.mean == pytest.approx(np.log1p([9, 9, 99, 99, 999]).mean())
    assert spec.known_users == (1, 3)
    assert spec.user_rows(np.array([1, 2, 3, 4, 0])).tolist() == [1, 0, 3, 0, 0]
    # Saved in the artifact as JSON and read back equal.
    again = InputSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    assert again.user_rows(np.array([2, 3])).tolist() == [0, 3]
    with pytest.raises(ValueError, match="lacks"):
        fit_inputs(train.drop(columns="item_ctr_7d"), fields=fields, feature_service="svc")


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
        (
            {"age_bucket": 2, "gender": 0, "user_clicks_7d": 4},
            [4, 5, 40, 7, 8, 9],
        ),  # long, unknown id
        ({"age_bucket": None, "gender": None, "user_clicks_7d": None}, None),  # unknown user
        ({"age_bucket": 5, "gender": 1, "user_clicks_7d": 0}, []),
    ],
)
def test_request_encoding_equals_the_frame_path(user: dict, hist: list[int] | None) -> None:
    """Serving encodes one user's candidates without a frame; it must match training's encode."""
    item_ids = [5, 500, 7, 0]
    items: dict[str, list[Any]] = {
        "category_id": [2, None, 9, None],
        "price_bucket": [3, None, 0, 12],
        "item_ctr_7d": [0.1, None, 0.9, 0.3],
        "device_index": [1, 1, 1, 1],  # on-demand features arrive per candidate
    }
    cats = None if hist is None else [i % 7 for i in hist]
    kinds = None if hist is None else [1 + i % 2 for i in hist]
    user_values = {
        **user,
        "hist_item_ids": hist,
        "hist_category_ids": cats,
        "hist_behaviour_types": kinds,
    }
    frame = pd.DataFrame(
        {
            "user_id": [3] * 4,
            "item_id": item_ids,
            **{k: [v] * 4 for k, v in user_values.items()},
            **items,
        }
    )
    spec = dataclasses.replace(SPEC, known_users=(1, 2))  # user 3 reads the rare-user row
    expected = encode(fill_missing(frame), spec=spec, vocab=VOCAB, max_len=4)
    got = encode_request(
        user=user_values,
        items=items,
        user_id=3,
        item_ids=item_ids,
        spec=spec,
        vocab=VOCAB,
        max_len=4,
    )
    assert got["user_id"].tolist() == [0] * 4
    assert set(got) == set(expected)
    for name, values in expected.items():
        assert got[name].dtype == values.dtype, name
        assert got[name].tolist() == values.tolist(), name
