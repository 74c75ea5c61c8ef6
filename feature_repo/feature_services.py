"""Feature services, named by consumer and version.

A model's catalogue entry names its service (`recplat.models.catalog`); it
trains on that service's features, its artifact records the service, and
`/rank` reads exactly those features online. `ranking_v1` is the narrow
service every model read before (profile, item attributes, the sequence),
kept for ablations (`features: {feature_service: ranking_v1}` in a training
YAML).
"""

from feast import FeatureService

from context_features import context_features
from item_features import item_attributes, item_demand_forecast, item_stats
from sequence_features import user_sequence
from user_features import user_activity, user_profile, user_propensity


def _sequence(*extra: str) -> object:
    # A projection is a FeatureView too: kept out of the module's names, or repo loading
    # (Feast's and ours) would find a second view called user_sequence.
    fields = ["hist_item_ids", "hist_category_ids", *extra, "hist_timestamps", "hist_len"]
    return user_sequence[fields]


def _full(sequence: object) -> list[object]:
    # Every model's own service: the scalars of all four views, `sequence`, the context.
    return [user_profile, user_activity, item_attributes, item_stats, sequence, context_features]


# The narrow service: profile, item attributes and the behaviour sequence.
ranking_v1 = FeatureService(
    name="ranking_v1",
    features=[user_profile, item_attributes, _sequence()],
    description="User profile, item attributes and the behaviour sequence (ablations).",
    tags={"consumer": "ranker"},
)

# DIN: target attention over the typed behaviour sequence, with the user's and the
# item's 1/7/30-day activity and the request context.
din_ranker_v1 = FeatureService(
    name="din_ranker_v1",
    features=_full(_sequence("hist_behaviour_types")),
    description="DIN's inputs: profile, activity, item statistics, typed sequence, context.",
    tags={"consumer": "din"},
)

# DIEN: the same inputs; its GRUs read the sequence in time order.
dien_ranker_v1 = FeatureService(
    name="dien_ranker_v1",
    features=_full(_sequence("hist_behaviour_types")),
    description="DIEN's inputs: profile, activity, item statistics, typed sequence, context.",
    tags={"consumer": "dien"},
)

# Embedding MLP: the same scalars. The sequence is read for the context view (recency,
# category match) and the training set's leakage check; the model does not embed it.
embedding_mlp_v1 = FeatureService(
    name="embedding_mlp_v1",
    features=_full(_sequence()),
    description="The embedding MLP's inputs: profile, activity, item statistics, context.",
    tags={"consumer": "embedding_mlp"},
)

# Logistic regression: the same fields as the embedding MLP, one weight per value.
logistic_regression_v1 = FeatureService(
    name="logistic_regression_v1",
    features=_full(_sequence()),
    description="Logistic regression's inputs: profile, activity, item statistics, context.",
    tags={"consumer": "logistic_regression"},
)


# Item demand forecasts (`recplat forecast-demand` writes them) beside the item's
# attributes: what `recplat features get-online --service item_demand_v1` shows and a
# ranker may add to its own service (a stock- or trend-aware boost).
item_demand_v1 = FeatureService(
    name="item_demand_v1",
    features=[item_attributes, item_demand_forecast],
    description="Forecast demand of the next day and week per item, with its attributes.",
    tags={"consumer": "users"},
)


# Purchase propensity per user (`recplat score --model propensity` writes it) beside the
# profile: what a marketing export reads and a ranker may add to its own service.
user_propensity_v1 = FeatureService(
    name="user_propensity_v1",
    features=[user_profile, user_propensity],
    description="Purchase-propensity score, category and model version per user, with the profile.",
    tags={"consumer": "marketing"},
)
