"""Request-time context: on-demand features computed when a ranking request is served
(and, for training, from the same request columns in the entity frame)."""

import pandas as pd
from feast import Field
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Int64

from item_features import item_attributes
from sequence_features import user_sequence
from sources import request_context


@on_demand_feature_view(
    sources=[
        request_context,
        user_sequence[["hist_timestamps", "hist_category_ids"]],
        item_attributes[["category_id"]],
    ],
    # No descriptions on these fields: Feast compares the declared schema with the one it
    # infers by running the function, descriptions included. hour and weekday are UTC
    # (weekday 0 = Monday); device_index 1..3, 0 unknown; seconds_since_last_event is -1
    # without a behaviour; target_matches_last_category is 1 when the candidate's
    # category is the newest behaviour's.
    schema=[
        Field(name="hour", dtype=Int64),
        Field(name="weekday", dtype=Int64),
        Field(name="device_index", dtype=Int64),
        Field(name="seconds_since_last_event", dtype=Int64),
        Field(name="target_matches_last_category", dtype=Int64),
    ],
    mode="pandas",
    description="Hour, weekday and device of the request; recency and category match.",
    tags={"categorical": "hour,weekday,device_index,target_matches_last_category"},
)
def context_features(inputs: pd.DataFrame) -> pd.DataFrame:
    # Feast stores this function's source and runs it on its own: only names bound
    # inside it exist then (no module globals).
    import pandas as pd

    devices = ("mobile", "desktop", "tablet")
    when = pd.to_datetime(inputs["request_time_s"], unit="s", utc=True)

    def newest(values: list[int] | None) -> float:
        return float(values[-1]) if values is not None and len(values) else float("nan")

    last_us = inputs["hist_timestamps"].map(newest)
    last_category = inputs["hist_category_ids"].map(newest)
    since = inputs["request_time_s"] - last_us // 1_000_000
    return pd.DataFrame(
        {
            "hour": when.dt.hour.astype("int64"),
            "weekday": when.dt.weekday.astype("int64"),
            "device_index": inputs["device"]
            .map({d: i + 1 for i, d in enumerate(devices)})
            .fillna(0)
            .astype("int64"),
            "seconds_since_last_event": since.fillna(-1).astype("int64"),
            "target_matches_last_category": (
                last_category.notna() & (last_category == inputs["category_id"])
            ).astype("int64"),
        }
    )
