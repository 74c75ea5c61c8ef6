"""Suites of regular time series (`recplat forecast`) and of the demand forecasts written back."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from recplat.quality.suites.spec import FLOAT, INT, STR, TIMESTAMP, SuiteSpec, epoch_s, timestamps


def grid_steps(freq: str) -> Any:
    """Derived `grid_step`: periods of `freq` since the series' previous row (1 on a
    regular grid; 0 a duplicate, > 1 a gap, a fraction off the grid; first rows 1)."""

    def derive(df: pd.DataFrame) -> pd.Series:
        ts = timestamps(df, "timestamp")
        order = np.lexsort((ts.to_numpy(), df["series_id"].astype(str).to_numpy()))
        ordered = ts.iloc[order]
        same = df["series_id"].astype(str).iloc[order].to_numpy()
        if freq == "M":
            months = (ordered.dt.year * 12 + ordered.dt.month).to_numpy(dtype=np.float64)
            # A month-end series stays on its grid; any other day must repeat.
            end = ordered.dt.is_month_end.to_numpy()
            day = np.where(end, 31.0, ordered.dt.day.to_numpy(dtype=np.float64))
            position = months + (day - 1) / 31
        else:
            period = pd.Timedelta(days=7 if freq == "W" else 1)
            position = ((ordered - pd.Timestamp(0, tz="UTC")) / period).to_numpy(np.float64)
        steps = np.ones(len(df))
        if len(df) > 1:
            diff = np.diff(position)
            steps[1:] = np.where(same[1:] == same[:-1], np.round(diff, 6), 1.0)
        result = np.empty(len(df))
        result[order] = steps
        return pd.Series(result, index=df.index)

    return derive


def series_suite(*, freq: str) -> SuiteSpec:
    """A regular series: numeric values, no nulls, one row per (series, time), every step
    exactly one period after the previous one."""
    import great_expectations.expectations as gxe

    schema = {"series_id": STR, "timestamp": TIMESTAMP, "value": (*FLOAT, *INT)}

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["series_id", "epoch_s"]),
            gxe.ExpectColumnValuesToBeInSet(column="grid_step", value_set=[1.0]),
        ]

    return SuiteSpec(
        dataset=f"series_{freq}",
        name=f"series_{freq}",
        version=1,
        schema=schema,
        build=build,
        derived={"epoch_s": epoch_s("timestamp"), "grid_step": grid_steps(freq)},
    )


DEMAND_FIELDS = ("demand_next_1d", "demand_next_7d")


def demand_forecast_suite() -> SuiteSpec:
    """The `item_demand_forecast` rows: one per item and origin, finite non-negative
    forecasts, the model version that made them."""
    import great_expectations.expectations as gxe

    schema = {
        "item_id": INT,
        "event_timestamp": TIMESTAMP,
        **dict.fromkeys(DEMAND_FIELDS, FLOAT),
        "forecast_model_version": INT,
    }

    def build() -> list[Any]:
        return [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            *[gxe.ExpectColumnValuesToNotBeNull(column=c) for c in schema],
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["item_id", "event_epoch_s"]),
            gxe.ExpectColumnValuesToBeBetween(column="item_id", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="forecast_model_version", min_value=1),
            *[gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0.0) for c in DEMAND_FIELDS],
        ]

    return SuiteSpec(
        dataset="item_demand_forecast",
        name="item_demand_forecast",
        version=1,
        schema=schema,
        build=build,
        derived={"event_epoch_s": epoch_s("event_timestamp")},
    )
