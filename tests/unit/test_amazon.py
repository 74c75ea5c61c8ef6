"""Amazon reviews importer on small files written in McAuley's published format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from recplat.events.amazon import UNKNOWN_CATEGORY, load_amazon, write_amazon
from recplat.events.importing import ImportFormatError
from recplat.events.synthetic import SyntheticData

REVIEWS = [
    {"reviewerID": "A1", "asin": "B01", "overall": 5.0, "unixReviewTime": 1_400_000_000},
    {"reviewerID": "A1", "asin": "B02", "overall": 3.0, "unixReviewTime": 1_400_086_400},
    {"reviewerID": "A2", "asin": "B02", "overall": 4.0, "unixReviewTime": 1_400_000_000},
    {"reviewerID": "A2", "asin": "B03", "overall": 1.0, "unixReviewTime": 1_400_172_800},
]
# McAuley's metadata lines are Python literals (single quotes), not JSON.
META = [
    "{'asin': 'B01', 'price': 12.5, 'categories': [['Books', 'Fiction', 'Mystery']]}",
    "{'asin': 'B02', 'categories': [['Books', 'Science']], 'title': \"Kant's Critique\"}",
    '{"asin": "B04", "price": 3.0, "categories": [["Books", "Fiction", "Mystery"]]}',
]


def _files(
    tmp_path: Path, reviews: list[str] | None = None, meta: list[str] | None = None
) -> tuple[Path, Path]:
    r, m = tmp_path / "reviews_Books_5.json", tmp_path / "meta_Books.json"
    r.write_text("\n".join(reviews or [json.dumps(x) for x in REVIEWS]) + "\n", encoding="utf-8")
    m.write_text("\n".join(meta or META) + "\n", encoding="utf-8")
    return r, m


def test_reviews_become_clicks_with_sampled_negatives(tmp_path: Path) -> None:
    reviews, meta = _files(tmp_path)
    data = load_amazon(reviews=reviews, meta=meta, negatives=2, seed=1)
    events = data.events
    assert len(events) == 4 * 3 and events["clicked"].sum() == 4
    assert events["event_id"].is_unique and (events["event_type"] == "impression").all()
    assert events["event_timestamp"].is_monotonic_increasing
    # A negative is never an item the user reviewed, and is shown at a review's time.
    reviewed = events[events["clicked"] == 1].groupby("user_id")["item_id"].agg(set).to_dict()
    for row in events[events["clicked"] == 0].itertuples():
        assert row.item_id not in reviewed[row.user_id]
    stamps = set(events[events["clicked"] == 1]["event_timestamp"])
    assert set(events[events["clicked"] == 0]["event_timestamp"]) <= stamps
    # Users A1, A2 -> 1, 2; items B01..B04 (B04 only in meta) -> 1..4.
    assert sorted(data.users["user_id"]) == [1, 2]
    assert (data.users["age_bucket"] == -1).all() and (data.users["gender"] == -1).all()
    assert sorted(data.items["item_id"]) == [1, 2, 3, 4]
    assert sorted(data.ratings["rating"]) == [1.0, 3.0, 4.0, 5.0]


def test_categories_and_prices_follow_dien(tmp_path: Path) -> None:
    reviews, meta = _files(tmp_path)
    items = load_amazon(reviews=reviews, meta=meta, negatives=0).items.set_index("item_id")
    category = items["category_id"].to_dict()
    # Last element of the first category path; B03 has no metadata at all.
    names = sorted({"Mystery", "Science", UNKNOWN_CATEGORY})
    assert category[1] == category[4] == names.index("Mystery") + 1
    assert category[2] == names.index("Science") + 1
    assert category[3] == names.index(UNKNOWN_CATEGORY) + 1
    price = items["price_bucket"].to_dict()
    assert price[2] == price[3] == -1  # no price known
    assert 0 <= price[4] < price[1] <= 9  # 3.0 is cheaper than 12.5


@pytest.mark.parametrize(
    ("reviews", "meta", "where", "reason"),
    [
        (
            ['{"reviewerID": "A1", "asin": "B01"'],
            None,
            "reviews_Books_5.json:1",
            "not a JSON object",
        ),
        (
            [json.dumps(REVIEWS[0]), json.dumps({**REVIEWS[1], "overall": "five"})],
            None,
            "reviews_Books_5.json:2",
            "overall must be a number",
        ),
        (
            [json.dumps({k: v for k, v in REVIEWS[0].items() if k != "asin"})],
            None,
            "reviews_Books_5.json:1",
            "missing field(s) ['asin']",
        ),
        ([json.dumps({**REVIEWS[0], "overall": 9})], None, "reviews_Books_5.json:1", "1..5 stars"),
        (None, [META[0], "{'title': 'no asin'}"], "meta_Books.json:2", "missing asin"),
        (None, [META[0], "{'asin': 'B09', 'price': 'cheap'}"], "meta_Books.json:2", "price"),
        (None, ["[1, 2]"], "meta_Books.json:1", "expected an object"),
    ],
)
def test_malformed_input_names_file_line_and_reason(
    tmp_path: Path, reviews: list[str] | None, meta: list[str] | None, where: str, reason: str
) -> None:
    r, m = _files(tmp_path, reviews, meta)
    with pytest.raises(ImportFormatError) as caught:
        load_amazon(reviews=r, meta=m)
    assert where in str(caught.value) and reason in str(caught.value)


def test_bad_encoding_and_missing_files(tmp_path: Path) -> None:
    r, m = _files(tmp_path)
    r.write_bytes(json.dumps(REVIEWS[0]).encode() + b"\n" + b'{"reviewerID": "\xff"}\n')
    with pytest.raises(ImportFormatError, match=r"reviews_Books_5.json:2: not valid utf-8"):
        load_amazon(reviews=r, meta=m)
    with pytest.raises(ImportFormatError, match="file not found"):
        load_amazon(reviews=tmp_path / "nope.json", meta=m)


def test_synthetic_data_round_trips_through_the_amazon_format(
    tmp_path: Path, tiny_data: SyntheticData
) -> None:
    reviews, meta = write_amazon(
        users=tiny_data.users, items=tiny_data.items, events=tiny_data.events, folder=tmp_path
    )
    assert meta.read_text().startswith("{'asin': ")  # a Python literal, as published
    data = load_amazon(reviews=reviews, meta=meta, negatives=1)
    clicks = tiny_data.events[
        (tiny_data.events["event_type"] == "impression") & (tiny_data.events["clicked"] == 1)
    ].drop_duplicates(["user_id", "item_id"])
    assert data.events["clicked"].sum() == len(clicks) == len(data.ratings)
    assert len(data.events) == 2 * len(clicks)
    assert data.items["category_id"].nunique() == tiny_data.items["category_id"].nunique()
