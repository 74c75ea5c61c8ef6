"""Feature services, named by consumer and version.

A model records the service it was trained on; serving reads exactly that
service's features. `ranking_v1` is what recplat's rankers train on today;
the per-model services name each model's inputs; `ranking_context_v1` is the
whole catalogue, for analysis and the next model.
"""

from feast import FeatureService

from context_features import context_features
from item_features import item_attributes, item_stats
from sequence_features import user_sequence
from user_features import user_activity, user_profile


def _sequence(*extra: str) -> object:
    # A projection is a FeatureView too: kept out of the module's names, or repo loading
    # (Feast's and ours) would find a second view called user_sequence.
    fields = ["hist_item_ids", "hist_category_ids", *extra, "hist_timestamps", "hist_len"]
    return user_sequence[fields]


# Everything the ranking models (embedding MLP, DIN, DIEN) read for a (user, item) pair.
ranking_v1 = FeatureService(
    name="ranking_v1",
    features=[user_profile, item_attributes, _sequence()],
    description="User profile, item attributes and the behaviour sequence.",
    tags={"consumer": "ranker"},
)

# DIN: target attention over the sequence, profile and item attributes.
din_ranker_v1 = FeatureService(
    name="din_ranker_v1",
    features=[user_profile, item_attributes, _sequence()],
    description="DIN's inputs: profile, item attributes, the behaviour sequence.",
    tags={"consumer": "din"},
)

# DIEN: the same inputs; its GRUs read the sequence in time order.
dien_ranker_v1 = FeatureService(
    name="dien_ranker_v1",
    features=[user_profile, item_attributes, _sequence()],
    description="DIEN's inputs: profile, item attributes, the behaviour sequence.",
    tags={"consumer": "dien"},
)

# Embedding MLP: embeddings of ids, profile and item attributes (no sequence).
embedding_mlp_v1 = FeatureService(
    name="embedding_mlp_v1",
    features=[user_profile, item_attributes],
    description="The embedding MLP's inputs: profile and item attributes.",
    tags={"consumer": "embedding_mlp"},
)

# The whole catalogue: profile, 1/7/30-day activity, item attributes and statistics,
# the sequence, and the request context (needs request_time_s and device per row).
ranking_context_v1 = FeatureService(
    name="ranking_context_v1",
    features=[
        user_profile,
        user_activity,
        item_attributes,
        item_stats,
        _sequence("hist_behaviour_types"),
        context_features,
    ],
    description="Every feature recplat keeps for a (user, item, request).",
    tags={"consumer": "analysis"},
)
