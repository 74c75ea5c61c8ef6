"""Vectorised sequence measures agree with the obvious per-row loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from recplat.quality import lists

ROWS = [[3, 1, 2], [], None, [0, 0, 5, 6], [7, 0, 8], (9,), np.array([4, 4, 3])]


def _flat() -> lists.Flat:
    return lists.flatten(pd.Series(ROWS, dtype=object), column="c")


def test_flatten_keeps_lengths_and_nulls() -> None:
    flat = _flat()
    assert flat.lengths.tolist() == [3, 0, 0, 4, 3, 1, 3]
    assert flat.present.tolist() == [True, True, False, True, True, True, True]
    assert flat.values.tolist() == [3, 1, 2, 0, 0, 5, 6, 7, 0, 8, 9, 4, 4, 3]


def test_measures_match_a_per_row_loop() -> None:
    flat = _flat()
    assert lists.length(flat).tolist() == [3, 0, 0, 4, 3, 1, 3]
    # Zeros after the first real id: only row 4 has one (front padding in row 3 is fine).
    assert lists.inner_padding(flat).tolist() == [0, 0, 0, 0, 1, 0, 0]
    assert lists.unsorted_steps(flat).tolist() == [1, 0, 0, 0, 1, 0, 1]
    assert lists.last(flat).tolist() == [2, 0, 0, 6, 8, 9, 3]
    unknown = lists.unknown_ids({1, 2, 3, 4, 5, 6, 7, 8})(flat)
    assert unknown.tolist() == [0, 0, 0, 0, 0, 1, 0]  # 9 is unknown; padding 0 is not an id


def test_clean_fast_path_equals_the_checked_path() -> None:
    rng = np.random.default_rng(0)
    rows = [rng.integers(0, 50, rng.integers(0, 8)) for _ in range(500)]
    fast = lists.flatten(pd.Series(rows, dtype=object), column="c")
    checked = lists.flatten(pd.Series([*rows, None], dtype=object), column="c")
    assert fast.values.tolist() == checked.values.tolist()
    assert fast.lengths.tolist() == checked.lengths.tolist()[:-1]
    for measure in (lists.inner_padding, lists.unsorted_steps, lists.last):
        assert measure(fast).tolist() == measure(checked).tolist()[:-1]


@pytest.mark.parametrize(
    ("bad", "count"),
    [(["1,2", [1]], 1), ([[1], 7, {"a": 1}], 2), ([[1], ["a", "b"]], 1), ([[1], [1.5]], 1)],
)
def test_non_lists_and_non_integers_are_named(bad: list[object], count: int) -> None:
    with pytest.raises(lists.ListTypeError) as info:
        lists.flatten(pd.Series(bad, dtype=object), column="hist_item_ids")
    assert info.value.column == "hist_item_ids" and info.value.count == count
    assert info.value.examples
