"""Offline sources: Parquet tables written by `recplat features build`.

Paths are absolute, built from this file's location when Feast imports the
repo: Feast's duckdb offline store reads a relative path against the working
directory, so `feast -c feature_repo ...` from elsewhere would miss the files.
"""

from pathlib import Path

from feast import FileSource, PushSource

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
