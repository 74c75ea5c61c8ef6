"""Item demand from the event log, and the forecasts written back to Feast.

Demand is a daily count of one kind of event (clicks, i.e. impressions with
`clicked` = 1, by default; or impressions, or purchases) per item, or per
category, on a full daily grid (a day without events counts 0). The day of the
log's last event is left out: it may not be over, and a partial day would read
as a drop in demand.

The batch job (`recplat forecast-demand`) forecasts every item with the
registered forecaster, checks the rows with the `item_demand_forecast` suite,
keeps them as the view's offline source (earlier origins stay) and writes them
to the online store, where rankers and users read them through Feast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from recplat.features.write_back import write_back
from recplat.forecasting.series import SeriesSet
from recplat.io.parquet import read_parquet
from recplat.quality.gate import Gate
from recplat.quality.suites import demand_forecast_suite, series_suite
from recplat.settings import Settings

VIEW = "item_demand_forecast"
KINDS = ("click", "purchase", "impression")
DAY = pd.Timedelta(days=1)


def daily_counts(
    events: pd.DataFrame,
    *,
    kind: str = "click",
    by: str = "item",
    items: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """series_id (`item_<id>` / `category_<id>`), timestamp (00:00 UTC), value: the count
    of `kind` events per day, every series on the log's full grid of complete days.

    Raises:
        ValueError: Unknown kind or grouping, or no complete day in the log.
    """
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: choose one of {list(KINDS)}")
    if by not in ("item", "category"):
        raise ValueError(f"by {by!r}: choose item or category")
    stamps = pd.to_datetime(events["event_timestamp"], utc=True)
    # The day of the last event may not be over: it is left out.
    first, end = stamps.min().floor("D"), stamps.max().floor("D")
    days = pd.date_range(first, end, freq="D", inclusive="left")
    if len(days) == 0:
        raise ValueError("the event log holds no complete day")
    chosen = events[_of_kind(events, kind) & (stamps < end).to_numpy()]
    keys = chosen["item_id"].to_numpy(np.int64)
    ids = np.unique(events["item_id"].to_numpy(np.int64))
    if by == "category":
        if items is None:
            raise ValueError("category demand needs the item catalogue (item_id, category_id)")
        category = dict(zip(items["item_id"], items["category_id"], strict=True))
        keys = np.array([category.get(k, 0) for k in keys], dtype=np.int64)
        ids = np.unique(items["category_id"].to_numpy(np.int64))
    day = ((pd.to_datetime(chosen["event_timestamp"], utc=True) - first) // DAY).to_numpy()
    position = {key: i for i, key in enumerate(ids)}
    counts = np.zeros((len(ids), len(days)))
    rows = np.array([position[k] for k in keys], dtype=np.int64)
    np.add.at(counts, (rows, day.astype(np.int64)), 1.0)
    return pd.DataFrame(
        {
            "series_id": np.repeat([f"{by}_{k}" for k in ids], len(days)),
            "timestamp": np.tile(days, len(ids)),
            "value": counts.ravel(),
        }
    )


def _of_kind(events: pd.DataFrame, kind: str) -> np.ndarray:
    """Rows that count as `kind`: a click is an impression with clicked = 1."""
    types = events["event_type"].to_numpy()
    if kind == "click":
        return (types == "impression") & (events["clicked"].to_numpy() == 1)
    return np.asarray(types == kind)


def item_demand(
    *,
    settings: Settings,
    gate: Gate,
    kind: str = "click",
    by: str = "item",
    allow: Sequence[str] = (),
) -> SeriesSet:
    """Daily demand of the accepted event log, checked by the series suite.

    Raises:
        FileNotFoundError: No accepted event log yet.
        DataQualityError: The counts are not a regular daily grid.
    """
    if not settings.events_path.exists():
        raise FileNotFoundError(
            f"no accepted events at {settings.events_path}; run `recplat data generate` "
            "or an import first"
        )
    events = read_parquet(settings.events_path)
    items = read_parquet(settings.catalog_dir / "items.parquet") if by == "category" else None
    frame = daily_counts(events, kind=kind, by=by, items=items)
    run_id = gate.check(
        df=frame,
        spec=series_suite(freq="D"),
        allow=allow,
        stage="training",
        baseline_key=f"demand:{by}:{kind}",
    )
    return SeriesSet(frame=frame, freq="D", validation_run_id=run_id)


@dataclass(frozen=True)
class DemandWrite:
    """What a write-back did."""

    rows: int
    origin: datetime
    offline_path: str
    validation_run_id: int


def forecast_rows(forecasts: pd.DataFrame, *, model_version: int) -> pd.DataFrame:
    """The view's rows from `future()` output (series_id `item_<id>`, timestamp, forecast):
    one per item, stamped with the first forecast day, forecasts clipped at 0."""
    if forecasts.empty:
        raise ValueError("no forecasts to write")
    parts = forecasts.sort_values(["series_id", "timestamp"]).groupby("series_id", sort=False)
    first = parts["forecast"].apply(lambda s: s.iloc[:1].clip(lower=0).sum())
    week = parts["forecast"].apply(lambda s: s.iloc[:7].clip(lower=0).sum())
    horizon = int(parts.size().min())
    if horizon < 7:
        raise ValueError(
            f"demand_next_7d needs a horizon of at least 7 days; the model has {horizon}"
        )
    ids = [name.removeprefix("item_") for name in first.index]
    if not all(i.isdigit() for i in ids):
        raise ValueError("item demand series are named item_<id>; got " + ", ".join(ids[:3]))
    return pd.DataFrame(
        {
            "item_id": np.array(ids, dtype=np.int64),
            "event_timestamp": parts["timestamp"].min().to_numpy(),
            "demand_next_1d": first.to_numpy(np.float64),
            "demand_next_7d": week.to_numpy(np.float64),
            "forecast_model_version": np.full(len(ids), model_version, dtype=np.int64),
        }
    )


def write_demand_forecasts(
    *, settings: Settings, gate: Gate, rows: pd.DataFrame, allow: Sequence[str] = ()
) -> DemandWrite:
    """Gate the rows, then keep them offline (beside earlier origins) and write them online.

    Raises:
        ValueError: The view is not registered (`recplat features apply`): nothing written.
        DataQualityError: The rows failed their suite: nothing is written anywhere.
    """
    written = write_back(
        settings=settings, gate=gate, view=VIEW, rows=rows, spec=demand_forecast_suite(),
        key="item_id", allow=allow,
    )  # fmt: skip
    return DemandWrite(
        rows=written.rows,
        origin=written.stamp,
        offline_path=written.offline_path,
        validation_run_id=written.validation_run_id,
    )
