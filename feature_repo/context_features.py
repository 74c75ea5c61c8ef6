"""Request-time context: on-demand features computed when a ranking request is served
(and, for training, from the same request columns in the entity frame)."""

from typing import Any

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
    # Python mode: the function takes and returns columns as lists, so one ranking
    # request (100 candidates) costs microseconds instead of a pandas frame's
    # milliseconds; Feast runs the same function offline on the joined rows.
    mode="python",
    description="Hour, weekday and device of the request; recency and category match.",
    tags={"categorical": "hour,weekday,device_index,target_matches_last_category"},
)
def context_features(inputs: dict[str, list[Any]]) -> dict[str, list[Any]]:
    # Feast stores this function's source and runs it on its own: only names bound
    # inside it exist then (no module globals).
    import math
    from datetime import UTC, datetime

    devices = {"mobile": 1, "desktop": 2, "tablet": 3}
    out: dict[str, list[Any]] = {
        "hour": [],
        "weekday": [],
        "device_index": [],
        "seconds_since_last_event": [],
        "target_matches_last_category": [],
    }
    for now, device, stamps, categories, category in zip(
        inputs["request_time_s"],
        inputs["device"],
        inputs["hist_timestamps"],
        inputs["hist_category_ids"],
        inputs["category_id"],
        strict=True,
    ):
        when = datetime.fromtimestamp(int(now), tz=UTC)
        out["hour"].append(when.hour)
        out["weekday"].append(when.weekday())
        out["device_index"].append(devices.get(device, 0))
        has_last = stamps is not None and len(stamps) > 0
        out["seconds_since_last_event"].append(
            int(now) - int(stamps[-1]) // 1_000_000 if has_last else -1
        )
        last = categories[-1] if categories is not None and len(categories) else None
        known = category is not None and not (isinstance(category, float) and math.isnan(category))
        matches = last is not None and known and int(last) == int(category)
        out["target_matches_last_category"].append(int(matches))
    return out
