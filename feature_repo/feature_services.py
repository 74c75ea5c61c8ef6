"""Feature services, named by consumer and version."""

from feast import FeatureService

from item_features import item_attributes
from sequence_features import user_sequence
from user_features import user_profile

# Everything the ranking models (embedding MLP, DIN) read for a (user, item) pair.
ranking_v1 = FeatureService(
    name="ranking_v1",
    features=[
        user_profile,
        item_attributes,
        user_sequence[["hist_item_ids", "hist_category_ids", "hist_timestamps", "hist_len"]],
    ],
    description="User profile, item attributes and the behaviour sequence.",
    tags={"consumer": "ranker"},
)
