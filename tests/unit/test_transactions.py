"""The transaction-log importer: columns, optional ones, and errors naming file, row, field."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from recplat.events.importing import ImportFormatError
from recplat.events.transactions import load_transactions

LOG = """user_id,timestamp,item_id,category,quantity,amount,store
7,2026-01-03T10:00:00Z,11,books,2,20.0,north
7,2026-01-09T10:00:00Z,12,music,1,5.5,north
3,2026-01-05T08:30:00Z,11,books,1,10.0,south
"""


def test_a_full_log_becomes_purchases_items_categories_and_amounts(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(LOG)
    data = load_transactions(path)
    events = data.events
    assert events["event_type"].eq("purchase").all() and events["clicked"].eq(1).all()
    assert events["user_id"].tolist() == [7, 3, 7]  # time order
    assert events["event_timestamp"].iloc[0] == pd.Timestamp("2026-01-03T10:00:00Z")
    assert data.categories is not None and data.categories["category"].tolist() == [
        "books",
        "music",
    ]
    items = data.items.set_index("item_id")
    assert items.loc[11, "category_id"] == 1 and items.loc[12, "category_id"] == 2
    assert data.purchases is not None
    assert data.purchases["quantity"].tolist() == [2, 1, 1]
    assert data.purchases["amount"].tolist() == [20.0, 10.0, 5.5]
    assert sorted(data.users["user_id"]) == [3, 7] and data.ratings.empty


def test_optional_columns_may_be_missing_and_parquet_reads_the_same(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user_id": [1, 2, 1], "timestamp": [1767225600, 1767312000, 1767398400]})
    path = tmp_path / "log.parquet"
    frame.to_parquet(path)
    data = load_transactions(path)
    assert data.categories is not None and data.categories["category"].tolist() == ["all"]
    assert data.events["item_id"].eq(1).all()  # one item per category
    assert data.purchases is not None
    assert data.purchases["quantity"].eq(1).all() and data.purchases["amount"].eq(0.0).all()
    assert data.events["event_timestamp"].iloc[0] == pd.Timestamp("2026-01-01", tz="UTC")


@pytest.mark.parametrize(
    ("line", "where", "field"),
    [
        ("x,2026-01-01,1,books,1,1.0,", ":3:", "field user_id"),
        ("4,yesterday,1,books,1,1.0,", ":3:", "field timestamp"),
        ("4,2026-01-01,1,books,0,1.0,", ":3:", "field quantity"),
        ("4,2026-01-01,1,books,1,-3,", ":3:", "field amount"),
        ("4,2026-01-01,1,,1,1.0,", ":3:", "field category"),
        ("4,2026-01-01,11,music,1,1.0,", ":2:", "item 11 is listed under 2 categories"),
    ],
)
def test_a_bad_row_is_named_by_file_row_and_field(
    tmp_path: Path, line: str, where: str, field: str
) -> None:
    path = tmp_path / "log.csv"
    path.write_text(LOG.splitlines()[0] + "\n" + LOG.splitlines()[1] + "\n" + line + "\n")
    with pytest.raises(ImportFormatError, match=field) as caught:
        load_transactions(path)
    assert f"log.csv{where}" in str(caught.value)


def test_missing_columns_and_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("customer,when\n1,2026-01-01\n")
    with pytest.raises(ImportFormatError, match=r"missing column\(s\) \['user_id', 'timestamp'\]"):
        load_transactions(path)
    with pytest.raises(ImportFormatError, match="file not found"):
        load_transactions(tmp_path / "absent.csv")
    (tmp_path / "log.json").write_text("{}")
    with pytest.raises(ImportFormatError, match=r"expected a \.csv or \.parquet"):
        load_transactions(tmp_path / "log.json")
