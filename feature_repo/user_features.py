"""User feature views."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Float64, Int64

from entities import user
from sources import user_activity_source, user_profile_source, user_propensity_source

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
    # `categorical`: embedded per value (recplat.features.inputs); the rest are dense.
    tags={"team": "ranking", "categorical": "age_bucket,gender"},
)

# Activity over the last 1, 7 and 30 days (recplat.features.aggregates): one snapshot a
# day while the user's 30-day window holds events, and a zero one when it empties.
user_activity = FeatureView(
    name="user_activity",
    entities=[user],
    ttl=timedelta(days=3650),
    schema=[
        *[
            Field(name=f"user_{kind}_{w}d", dtype=Int64, description=f"{kind} in the last {w} days")
            for kind in ("impressions", "clicks", "purchases")
            for w in (1, 7, 30)
        ],
        Field(name="user_ctr_7d", dtype=Float64, description="clicks / impressions, 7 days"),
        Field(name="user_ctr_30d", dtype=Float64, description="clicks / impressions, 30 days"),
        Field(
            name="user_top_category_30d", dtype=Int64, description="most clicked, 30 days; 0 none"
        ),
        Field(name="user_top_category_share_30d", dtype=Float64, description="its share of clicks"),
    ],
    source=user_activity_source,
    online=True,
    tags={"team": "ranking", "categorical": "user_top_category_30d"},
)

# The purchase-propensity model's score per user (`recplat score --model propensity`):
# the probability of a purchase in `propensity_category` within the model's window after
# the cutoff (the row's timestamp, also given in seconds), and the model version.
# Stale after 30 days: a reader then gets nulls, not an old score.
user_propensity = FeatureView(
    name="user_propensity",
    entities=[user],
    ttl=timedelta(days=30),
    schema=[
        Field(name="propensity_score", dtype=Float64, description="P(buys in the window)"),
        Field(name="propensity_category", dtype=Int64, description="the category scored"),
        Field(name="propensity_cutoff_s", dtype=Int64, description="cutoff, epoch seconds"),
        Field(name="propensity_model_version", dtype=Int64, description="model version"),
    ],
    source=user_propensity_source,
    online=True,
    # The source is written by that job; `recplat features apply` leaves an empty one.
    tags={"team": "marketing", "written_by": "recplat score --model propensity"},
)
