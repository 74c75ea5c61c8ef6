"""The raw event schema every importer and generator writes.

One row per event. Impressions carry the click label; a purchase is its own
row (clicked = 1). Context (hour, weekday, device) is what the request knew.
"""

from __future__ import annotations

from typing import Final

EVENT_TYPES: Final = ("impression", "purchase")
# Behaviours (what sequences hold) and their codes in `hist_behaviour_types`:
# a clicked impression is a click (1), a purchase row a purchase (2), and, where the
# store keeps every impression (`Settings.sequence_impressions`, e.g. explicit ratings:
# a movie rated below 4), an unclicked impression (3); 0 is padding.
BEHAVIOUR_TYPES: Final = {"click": 1, "purchase": 2, "impression": 3}
DEVICES: Final = ("mobile", "desktop", "tablet")
# Datasets without a device (MovieLens, Amazon) record "unknown".
EVENT_DEVICES: Final = (*DEVICES, "unknown")

EVENT_COLUMNS: Final = (
    "event_id",
    "user_id",
    "item_id",
    "event_timestamp",
    "event_type",
    "clicked",
    "hour",
    "weekday",
    "device",
)
USER_COLUMNS: Final = ("user_id", "age_bucket", "gender", "event_timestamp")
ITEM_COLUMNS: Final = ("item_id", "category_id", "price_bucket", "event_timestamp")


def device_index(device: str) -> int:
    """Index of a device name (1-based; 0 = unknown)."""
    try:
        return DEVICES.index(device) + 1
    except ValueError:
        return 0
