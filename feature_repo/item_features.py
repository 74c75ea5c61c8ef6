"""Item feature views."""

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Int64

from entities import item
from sources import item_attributes_source

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
    tags={"team": "ranking"},
)
