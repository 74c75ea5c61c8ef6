"""User feature views."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Int64

from entities import user
from sources import user_profile_source

# Static profile attributes (demographics); they never expire.
user_profile = FeatureView(
    name="user_profile",
    entities=[user],
    ttl=timedelta(days=3650),
    schema=[
        Field(name="age_bucket", dtype=Int64, description="0..5, coarse age band"),
        Field(name="gender", dtype=Int64, description="0..1"),
    ],
    source=user_profile_source,
    online=True,
    tags={"team": "ranking"},
)
