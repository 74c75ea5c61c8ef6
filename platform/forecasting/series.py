"""Reading a regular series file and checking it (GX) before anything forecasts it.

A file is CSV or Parquet with `timestamp`, `value` and an optional `series_id`
(extra columns are ignored). The series suite (`recplat.quality.suites.series`)
checks that values are numeric and present, that no (series, time) repeats and
that every step is exactly one period after the previous one. When it fails,
the error names each problem with its dates (gaps with the dates on both sides,
duplicates, off-grid stamps, non-numeric values with their rows), the batch is
quarantined by the gate, and nothing is written. Gaps are filled only when
asked (`fill="interpolate"` or `"zero"`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from recplat.forecasting.windows import FREQS
from recplat.quality.gate import DataQualityError, Gate
from recplat.quality.suites import series_suite
from recplat.quality.suites.series import grid_steps

FILLS = ("interpolate", "zero")
SHOWN = 5  # problems named per kind in an error


class SeriesError(ValueError):
    """A series file cannot be forecast: the message names the file and each problem."""


@dataclass(frozen=True)
class SeriesSet:
    """Checked series on a regular grid: one frame per series id, in time order."""

    frame: pd.DataFrame  # series_id (str), timestamp (UTC), value (float64)
    freq: str
    filled: int = 0  # steps added by gap filling
    validation_run_id: int | None = None

    def ids(self) -> list[str]:
        return list(self._parts)

    def series(self, series_id: str) -> pd.DataFrame:
        return self._parts[series_id]

    @cached_property
    def _parts(self) -> dict[str, pd.DataFrame]:
        # One pass over the frame: filtering it per id is quadratic over 10k series.
        return {
            str(key): part.reset_index(drop=True)
            for key, part in self.frame.groupby("series_id", sort=False)
        }


def read_series_file(path: Path) -> pd.DataFrame:
    """The file's `series_id`, `timestamp`, `value` columns (timestamps parsed, values as read).

    Raises:
        SeriesError: Missing file or columns, or unparseable timestamps (rows named).
    """
    if not path.exists():
        raise SeriesError(f"{path}: no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        raw = pd.read_parquet(path)
    elif path.suffix.lower() in (".csv", ".txt"):
        raw = pd.read_csv(path, dtype={"series_id": str}, keep_default_na=False, na_values=[""])
    else:
        raise SeriesError(f"{path}: expected a .csv or .parquet file")
    missing = [c for c in ("timestamp", "value") if c not in raw.columns]
    if missing:
        raise SeriesError(
            f"{path}: missing column(s) {missing}; a series file has timestamp, value "
            f"and optionally series_id (found {list(raw.columns)})"
        )
    stamps = pd.to_datetime(raw["timestamp"], utc=True, errors="coerce", format="mixed")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if len(bad):
        shown = ", ".join(f"row {i + 1} ({raw['timestamp'].iloc[i]!r})" for i in bad[:SHOWN])
        raise SeriesError(f"{path}: {len(bad)} timestamp(s) cannot be read: {shown}")
    ids = raw["series_id"].astype(str) if "series_id" in raw.columns else "series"
    return pd.DataFrame({"series_id": ids, "timestamp": stamps, "value": raw["value"]})


def numeric_values(frame: pd.DataFrame, *, source: str) -> pd.Series:
    """The values as float64.

    Raises:
        SeriesError: Non-numeric or empty values, named with their rows and dates.
    """
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = np.flatnonzero(values.isna().to_numpy())
    if len(bad):
        shown = ", ".join(
            f"row {i + 1} ({frame['timestamp'].iloc[i]:%Y-%m-%d}: {frame['value'].iloc[i]!r})"
            for i in bad[:SHOWN]
        )
        raise SeriesError(f"{source}: {len(bad)} value(s) are not numbers: {shown}")
    return values.astype(np.float64)


def describe_grid(frame: pd.DataFrame, *, freq: str) -> list[str]:
    """Each problem with the grid, named with its series and dates."""
    steps = grid_steps(freq)(frame).to_numpy()
    ordered = frame.assign(grid_step=steps).sort_values(["series_id", "timestamp"])
    previous = ordered.groupby("series_id")["timestamp"].shift()
    lines = []
    for kind, mask in (
        ("duplicate timestamp", ordered["grid_step"] == 0),
        ("gap", (ordered["grid_step"] > 1) & (ordered["grid_step"] % 1 == 0)),
        ("off the grid", ordered["grid_step"] % 1 != 0),
    ):
        rows = ordered[mask.to_numpy()]
        if rows.empty:
            continue
        before = previous[mask.to_numpy()]
        named = []
        for (_, row), prior in zip(rows.head(SHOWN).iterrows(), before.head(SHOWN), strict=True):
            where = f"series {row['series_id']}: " if frame["series_id"].nunique() > 1 else ""
            if kind == "gap":
                named.append(
                    f"{where}{int(row['grid_step']) - 1} missing step(s) between "
                    f"{prior:%Y-%m-%d} and {row['timestamp']:%Y-%m-%d}"
                )
            elif kind == "duplicate timestamp":
                named.append(f"{where}{row['timestamp']:%Y-%m-%d %H:%M} twice")
            else:
                named.append(
                    f"{where}{row['timestamp']:%Y-%m-%d %H:%M} after {prior:%Y-%m-%d %H:%M}"
                )
        more = f" (and {len(rows) - SHOWN} more)" if len(rows) > SHOWN else ""
        lines.append(f"{len(rows)} {kind}(s): " + "; ".join(named) + more)
    return lines


def fill_gaps(frame: pd.DataFrame, *, freq: str, how: str) -> tuple[pd.DataFrame, int]:
    """Reindex each series onto its full grid; new steps interpolated or zero."""
    if how not in FILLS:
        raise SeriesError(f"fill {how!r}: choose one of {list(FILLS)}")
    parts, added = [], 0
    for series_id, unsorted in frame.groupby("series_id", sort=False):
        part = unsorted.sort_values("timestamp")
        grid = pd.date_range(
            part["timestamp"].iloc[0],
            part["timestamp"].iloc[-1],
            freq=grid_alias(freq, part["timestamp"].iloc[0]),
        )
        if not part["timestamp"].isin(grid).all():
            return frame, 0  # off-grid stamps are not a gap: the check names them
        full = part.set_index("timestamp")["value"].reindex(grid)
        added += int(full.isna().sum())
        full = full.interpolate() if how == "interpolate" else full.fillna(0.0)
        parts.append(
            pd.DataFrame({"series_id": series_id, "timestamp": grid, "value": full.to_numpy()})
        )
    return pd.concat(parts, ignore_index=True), added


def grid_alias(freq: str, first: pd.Timestamp) -> str:
    """The pandas frequency of a series' grid from its `first` stamp: month ends or starts
    as the series has them; weeks from the series' own weekday ("W" would snap to Sundays)."""
    if freq == "M":
        return "ME" if first.is_month_end else "MS"
    return "7D" if freq == "W" else freq


def load_series(
    path: Path, *, freq: str, gate: Gate, fill: str | None = None, allow: Sequence[str] = ()
) -> SeriesSet:
    """Read, (optionally) fill and check a series file.

    Raises:
        SeriesError: The file cannot be read, or the series is not a regular grid of
            numbers; each problem named with its dates. The gate has quarantined the
            batch and recorded the failed run.
    """
    if freq not in FREQS:
        raise SeriesError(f"freq {freq!r}: choose one of {list(FREQS)}")
    frame = read_series_file(path)
    frame["value"] = numeric_values(frame, source=str(path))
    frame = frame.sort_values(["series_id", "timestamp"], kind="stable").reset_index(drop=True)
    filled = 0
    if fill is not None and not frame.duplicated(["series_id", "timestamp"]).any():
        frame, filled = fill_gaps(frame, freq=freq, how=fill)
    try:
        run_id = gate.check(
            df=frame,
            spec=series_suite(freq=freq),
            allow=allow,
            stage="forecast",
            baseline_key=f"series:{path.resolve()}",
            source=str(path),
        )
    except DataQualityError as error:
        problems = describe_grid(frame, freq=freq)
        hint = "" if fill else " (gaps can be filled with --fill-gaps interpolate|zero)"
        named = "".join(f"\n  {line}" for line in problems)
        raise SeriesError(f"{path}: not a regular {freq} series{hint}:{named}\n{error}") from error
    return SeriesSet(frame=frame, freq=freq, filled=filled, validation_run_id=run_id)
