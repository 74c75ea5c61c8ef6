"""Behaviour-sequence feature views.

Feast has no append and no last-N read; recplat builds one snapshot per
behaviour event (oldest -> newest, at most N long) and Feast serves the latest
snapshot as of the lookup time.
"""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Array, Int64

from entities import user
from sources import user_sequence_push

# The user's last N behaviours (clicks, purchases): items, categories, types, times; oldest first.
user_sequence = FeatureView(
    name="user_sequence",
    entities=[user],
    ttl=timedelta(days=3650),
    schema=[
        Field(name="hist_item_ids", dtype=Array(Int64)),
        Field(name="hist_category_ids", dtype=Array(Int64)),
        # 1 = click, 2 = purchase (recplat.events.schema.BEHAVIOUR_TYPES).
        Field(name="hist_behaviour_types", dtype=Array(Int64)),
        # When each behaviour happened (epoch microseconds, UTC); checked sorted and in time.
        Field(name="hist_timestamps", dtype=Array(Int64)),
        Field(name="hist_len", dtype=Int64),
        # The events behind each behaviour: online appends use them to drop replays
        # and to order equal timestamps as the offline rebuild does (not a model input).
        Field(name="hist_event_ids", dtype=Array(Int64)),
    ],
    # Batch history from the Parquet snapshots; online appends pushed through Feast.
    source=user_sequence_push,
    online=True,
    tags={"team": "ranking"},
)
