"""Expectation suites, one per dataset kind, defined in code.

A suite names its schema (column -> accepted types), the columns it derives
before GX sees the frame (GX measures a list column by its string form, so
sequence lengths, order and id membership are derived as numbers), the GX
expectations, and which statistics are compared with the last accepted run
(drift). Every number comes from `recplat.quality.thresholds`.

- `spec`: the `SuiteSpec` type, derived measures, the rules keyed tables share;
- `events`: raw events, explicit ratings, purchase amounts;
- `tables`: user profiles, item attributes, the 1/7/30-day aggregates;
- `sequences`: sequence snapshots, the training set, the online read-back;
- `propensity`: purchase-propensity rows and the scores written back.
"""

from recplat.quality.suites.events import events_suite, purchases_suite, ratings_suite
from recplat.quality.suites.propensity import propensity_rows_suite, user_propensity_suite
from recplat.quality.suites.sequences import (
    online_features_suite,
    training_set_suite,
    user_sequence_suite,
)
from recplat.quality.suites.series import demand_forecast_suite, series_suite
from recplat.quality.suites.spec import (
    FLOAT,
    INT,
    LIST,
    LIST_CACHE,
    STR,
    TIMESTAMP,
    DeriveError,
    SuiteSpec,
)
from recplat.quality.suites.tables import (
    item_attributes_suite,
    item_stats_suite,
    user_activity_suite,
    user_profile_suite,
)

__all__ = [
    "FLOAT",
    "INT",
    "LIST",
    "LIST_CACHE",
    "STR",
    "TIMESTAMP",
    "DeriveError",
    "SuiteSpec",
    "demand_forecast_suite",
    "events_suite",
    "item_attributes_suite",
    "item_stats_suite",
    "online_features_suite",
    "propensity_rows_suite",
    "purchases_suite",
    "ratings_suite",
    "series_suite",
    "training_set_suite",
    "user_activity_suite",
    "user_profile_suite",
    "user_propensity_suite",
    "user_sequence_suite",
]
