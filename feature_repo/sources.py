"""Offline sources: Parquet tables written by `recplat features build`.

Paths are absolute, built from this file's location when Feast imports the
repo: Feast's duckdb offline store reads a relative path against the working
directory, so `feast -c feature_repo ...` from elsewhere would miss the files.
"""

from pathlib import Path

from feast import Field, FileSource, PushSource, RequestSource
from feast.types import Int64, String

OFFLINE = Path(__file__).resolve().parent / "data" / "offline"

# Static user attributes, one row per user, stamped with the sign-up time.
user_profile_source = FileSource(
    name="user_profile_source",
    path=str(OFFLINE / "user_profile.parquet"),
    timestamp_field="event_timestamp",
)

# Item attributes, one row per item, stamped with the listing time.
item_attributes_source = FileSource(
    name="item_attributes_source",
    path=str(OFFLINE / "item_attributes.parquet"),
    timestamp_field="event_timestamp",
)

# One snapshot of a user's behaviour sequence per behaviour event, stamped with
# the time it became available (the click time).
user_sequence_source = FileSource(
    name="user_sequence_source",
    path=str(OFFLINE / "user_sequence.parquet"),
    timestamp_field="event_timestamp",
)

# Online appends (`recplat.features.append`, `POST /events`): the updated
# sequence of a user is pushed here and lands in the online store; the batch
# source above stays the offline history (rebuilt from the event log).
user_sequence_push = PushSource(name="user_sequence_push", batch_source=user_sequence_source)

# Daily snapshots of each user's activity over the last 1/7/30 days, stamped at
# 00:00 UTC of the day they describe up to (events strictly before it).
user_activity_source = FileSource(
    name="user_activity_source",
    path=str(OFFLINE / "user_activity.parquet"),
    timestamp_field="event_timestamp",
)

# Daily snapshots of each item's impressions, clicks, purchases and CTR (same stamping).
item_stats_source = FileSource(
    name="item_stats_source",
    path=str(OFFLINE / "item_stats.parquet"),
    timestamp_field="event_timestamp",
)

# What the ranking request itself knows: when it was made and on which device.
request_context = RequestSource(
    name="request_context",
    schema=[
        Field(name="request_time_s", dtype=Int64, description="epoch seconds, UTC"),
        Field(name="device", dtype=String, description="mobile, desktop, tablet or unknown"),
    ],
)

# Demand forecasts per item, one row per item and forecast origin (00:00 UTC of the
# first forecast day), written by `recplat forecast-demand` (the forecaster's batch job).
item_demand_forecast_source = FileSource(
    name="item_demand_forecast_source",
    path=str(OFFLINE / "item_demand_forecast.parquet"),
    timestamp_field="event_timestamp",
)

# Purchase-propensity scores per user, one row per user and cutoff, written by
# `recplat score --model propensity` (a Ray Data batch job over every user).
user_propensity_source = FileSource(
    name="user_propensity_source",
    path=str(OFFLINE / "user_propensity.parquet"),
    timestamp_field="event_timestamp",
)
