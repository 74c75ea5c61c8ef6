"""Entities: the join keys every feature view hangs off."""

from feast import Entity, ValueType

# A person who sees impressions and clicks items; ids start at 1 (0 = unknown).
user = Entity(
    name="user",
    join_keys=["user_id"],
    value_type=ValueType.INT64,
    description="A user of the recommender.",
)

# A recommendable item; ids start at 1 (0 = unknown / padding).
item = Entity(
    name="item",
    join_keys=["item_id"],
    value_type=ValueType.INT64,
    description="A recommendable item.",
)
