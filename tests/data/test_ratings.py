"""Explicit ratings (rating models): the fixed split and the ratings gate at import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from recplat.cli.context import PlatformContext
from recplat.events.ingest import ingest
from recplat.events.movielens import load_ml100k, write_ml100k
from recplat.events.synthetic import SyntheticData
from recplat.quality.gate import DataQualityError
from recplat.training.ratings import TEST_SHARE, split_ratings

pytestmark = pytest.mark.data


@pytest.fixture
def imported(tmp_path: Path, tiny_data: SyntheticData) -> pd.DataFrame:
    folder = write_ml100k(
        users=tiny_data.users, items=tiny_data.items, events=tiny_data.events, folder=tmp_path
    )
    return load_ml100k(folder).ratings


def _keys(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["user_id"], frame["item_id"], strict=True))


def test_split_is_fixed_disjoint_complete_and_order_free(imported: pd.DataFrame) -> None:
    splits = split_ratings(imported)
    shuffled = split_ratings(imported.sample(frac=1.0, random_state=1))
    for name in ("train", "validation", "test"):
        assert _keys(splits[name]) == _keys(shuffled[name])  # row order does not matter
    train, val, test = (_keys(splits[n]) for n in ("train", "validation", "test"))
    assert not (train & val or train & test or val & test)
    assert len(train) + len(val) + len(test) == len(imported)
    assert abs(len(test) / len(imported) - TEST_SHARE) < 0.03
    assert 0 < len(val) < len(test) + len(val) < len(train)
    # Another seed is another split: the seed, not the data, fixes it.
    assert _keys(split_ratings(imported, seed=1)["test"]) != test


def _ingest(context: PlatformContext, data: SyntheticData, *, ratings: pd.DataFrame | None) -> None:
    """Ingest the tiny data set, as a MovieLens import with `ratings`, or a generated log."""
    ingest(
        events=data.events,
        users=data.users,
        items=data.items,
        settings=context.settings,
        gate=context.gate,
        ratings=ratings,
        source="movielens" if ratings is not None else "events",
    )


def test_ratings_off_the_scale_are_stopped_and_nothing_is_written(
    context: PlatformContext, tiny_data: SyntheticData, imported: pd.DataFrame
) -> None:
    bad = imported.copy()
    bad.loc[bad.index[:3], "rating"] = 7
    with pytest.raises(DataQualityError) as caught:
        _ingest(context, tiny_data, ratings=bad)
    failure = caught.value.report.failures[0]
    assert (failure.rule, failure.column, failure.unexpected_count) == (
        "expect_column_values_to_be_between",
        "rating",
        3,
    )
    # The events passed their gate, but nothing lands until every table has.
    assert not context.settings.events_path.exists()
    assert not context.settings.ratings_path.exists()
    quarantine = caught.value.quarantine_path
    assert quarantine is not None and (quarantine / "report.json").exists()


def test_a_new_data_set_without_ratings_drops_the_old_ratings(
    context: PlatformContext, tiny_data: SyntheticData, imported: pd.DataFrame
) -> None:
    _ingest(context, tiny_data, ratings=imported)
    stored = pd.read_parquet(context.settings.ratings_path)
    assert len(stored) == len(imported)
    assert np.array_equal(stored["rating"].to_numpy(), imported["rating"].to_numpy())
    _ingest(context, tiny_data, ratings=None)  # e.g. `recplat data generate`: none come
    assert not context.settings.ratings_path.exists()
