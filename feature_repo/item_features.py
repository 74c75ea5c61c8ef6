"""Item feature views."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Float64, Int64

from entities import item
from sources import item_attributes_source, item_demand_forecast_source, item_stats_source

# Catalogue attributes of an item; they never expire.
item_attributes = FeatureView(
    name="item_attributes",
    entities=[item],
    ttl=timedelta(days=3650),
    schema=[
        Field(name="category_id", dtype=Int64, description="1..n_categories"),
        Field(name="price_bucket", dtype=Int64, description="0..9"),
    ],
    source=item_attributes_source,
    online=True,
    # `categorical`: embedded per value (recplat.features.inputs); category_id is an id.
    tags={"team": "ranking", "categorical": "price_bucket"},
)

# Popularity and click-through over the last 1, 7 and 30 days, one snapshot a day.
item_stats = FeatureView(
    name="item_stats",
    entities=[item],
    ttl=timedelta(days=3650),
    schema=[
        *[
            Field(name=f"item_{kind}_{w}d", dtype=Int64, description=f"{kind} in the last {w} days")
            for kind in ("impressions", "clicks", "purchases")
            for w in (1, 7, 30)
        ],
        Field(name="item_ctr_7d", dtype=Float64, description="clicks / impressions, 7 days"),
        Field(name="item_ctr_30d", dtype=Float64, description="clicks / impressions, 30 days"),
        Field(
            name="item_ctr_smoothed_30d",
            dtype=Float64,
            description="30-day CTR with 100 prior impressions at the log's mean CTR",
        ),
    ],
    source=item_stats_source,
    online=True,
    tags={"team": "ranking"},
)

# The LSTM forecaster's demand forecast per item (`recplat forecast-demand`): what
# the next day and the next 7 days will bring, and which model version said so.
# Stale after a week: a ranker reading it then gets nulls, not an old forecast.
item_demand_forecast = FeatureView(
    name="item_demand_forecast",
    entities=[item],
    ttl=timedelta(days=7),
    schema=[
        Field(name="demand_next_1d", dtype=Float64, description="forecast events, next day"),
        Field(name="demand_next_7d", dtype=Float64, description="forecast events, next 7 days"),
        Field(name="forecast_model_version", dtype=Int64, description="forecaster version"),
    ],
    source=item_demand_forecast_source,
    online=True,
    # The source is written by that job; `recplat features apply` leaves an empty one.
    tags={"team": "forecasting", "written_by": "recplat forecast-demand"},
)
