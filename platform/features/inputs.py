"""What a feature service gives a model, and the transforms fitted for it.

A model's inputs follow its feature service. Every scalar feature of the
service is one of two kinds, read from the registry (no list in code):

- **categorical**: named in its view's `categorical` tag (comma-separated), an
  embedding per value. Values are shifted by one so 0 is "missing or unknown";
  the table size is fitted on the training split (largest value + 2), and a
  larger value met later reads 0.
- **dense**: every other numeric scalar. Integers are counts or durations and
  go through log1p (a negative value is "missing", e.g. seconds since the last
  behaviour of a user without one); floats are rates and stay as they are. Then
  each is standardised with the training split's mean and deviation; a missing
  value becomes 0, the training mean.

Ids are embedded by their vocabulary (`Vocab`): `item_id`, `category_id`, and
`user_id`, whose users seen fewer than `min_user_count` times in training read
row 0 (so row 0 learns what a rare user looks like, and a new user scores like
one). Sequences: `hist_item_ids`, `hist_category_ids` and, when the service has
it, `hist_behaviour_types`; `hist_timestamps` only feeds on-demand features.

`InputSpec` holds the fitted form; it is saved in the model artifact and
applied unchanged at serving time (`recplat.features.encoding`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from recplat.features.on_demand import get_service

if TYPE_CHECKING:
    from feast import FeatureStore

# Sequence features a model reads (the others feed on-demand features or checks).
SEQUENCE_INPUTS = ("hist_item_ids", "hist_category_ids", "hist_behaviour_types")
# Ids embedded by their vocabulary, not fitted.
ID_FEATURES = ("user_id", "item_id", "category_id")
# Scalars that describe a sequence, not an input (the sequence itself is one).
NOT_INPUTS = ("hist_len",)
# Standardised values beyond this many deviations are clipped: one outlier row at
# serving time should not dominate a logit.
CLIP = 8.0


@dataclass(frozen=True)
class ServiceFields:
    """The scalar inputs of a feature service, by kind, in service order."""

    categorical: tuple[str, ...]
    dense: tuple[tuple[str, bool], ...]  # (name, log1p) per dense feature
    sequence: tuple[str, ...]


def service_fields(*, store: FeatureStore, feature_service: str) -> ServiceFields:
    """Classify the service's features from the registry (views' schemas and tags).

    Raises:
        KeyError: The service does not exist (named).
    """
    from feast.types import Float32, Float64, Int32, Int64

    service = get_service(store=store, feature_service=feature_service)
    odfvs = {v.name: v for v in store.list_on_demand_feature_views()}
    categorical: list[str] = []
    dense: list[tuple[str, bool]] = []
    sequence: list[str] = []
    for projection in service.feature_view_projections:
        view = odfvs.get(projection.name) or store.get_feature_view(projection.name)
        tagged = {n.strip() for n in (view.tags or {}).get("categorical", "").split(",")}
        for feature in projection.features:
            name = feature.name
            if name in SEQUENCE_INPUTS:
                sequence.append(name)
            elif name in ID_FEATURES or name in NOT_INPUTS:
                continue
            elif name in tagged:
                categorical.append(name)
            elif feature.dtype in (Int64, Int32):
                dense.append((name, True))
            elif feature.dtype in (Float64, Float32):
                dense.append((name, False))
    return ServiceFields(tuple(categorical), tuple(dense), tuple(sequence))


@dataclass(frozen=True)
class Categorical:
    """A categorical input: values 0..size-1 after the shift, 0 unknown."""

    name: str
    size: int


@dataclass(frozen=True)
class Dense:
    """A dense input: optional log1p, then (x - mean) / std; missing -> 0."""

    name: str
    log: bool
    mean: float
    std: float


@dataclass(frozen=True)
class InputSpec:
    """The fitted encoding of one feature service (saved in the model artifact)."""

    feature_service: str
    categorical: tuple[Categorical, ...] = ()
    dense: tuple[Dense, ...] = ()
    sequence: tuple[str, ...] = ("hist_item_ids", "hist_category_ids")
    min_user_count: int = 1
    # Users with their own embedding row (None: every id in the vocabulary).
    known_users: tuple[int, ...] | None = None
    _user_mask: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.known_users is not None:
            top = max(self.known_users, default=0)
            mask = np.zeros(top + 1, dtype=bool)
            mask[list(self.known_users)] = True
            object.__setattr__(self, "_user_mask", mask)

    @property
    def fields(self) -> tuple[tuple[str, int], ...]:
        """(name, table size) of the categorical inputs: what the model embeds."""
        return tuple((c.name, c.size) for c in self.categorical)

    @property
    def scalars(self) -> tuple[str, ...]:
        """The names of the scalar inputs, categorical then dense."""
        return (*(c.name for c in self.categorical), *(d.name for d in self.dense))

    @property
    def behaviour_types(self) -> bool:
        """Whether the sequence carries behaviour types."""
        return "hist_behaviour_types" in self.sequence

    def user_rows(self, users: np.ndarray) -> np.ndarray:
        """Each user id, or 0 for users without their own row."""
        if self._user_mask is None:
            return users
        mask = self._user_mask
        inside = (users >= 0) & (users < len(mask))
        known = np.zeros(len(users), dtype=bool)
        known[inside] = mask[users[inside]]
        return np.where(known, users, 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (`from_dict` reads it back)."""
        out = asdict(self)
        out.pop("_user_mask")
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        """The spec `to_dict` wrote."""
        known = data.get("known_users")
        return cls(
            feature_service=data["feature_service"],
            categorical=tuple(Categorical(**c) for c in data.get("categorical", ())),
            dense=tuple(Dense(**d) for d in data.get("dense", ())),
            sequence=tuple(data.get("sequence", ())),
            min_user_count=int(data.get("min_user_count", 1)),
            known_users=None if known is None else tuple(int(u) for u in known),
        )


def numbers(values: Any) -> np.ndarray:
    """Values as float64, NaN for missing: arrays and lists of numbers directly (the
    ranking path, per request), anything else (None, text) through pandas."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(np.float64, copy=False)
    if isinstance(values, list):
        try:
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):  # None or text inside
            pass
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)


def dense_values(values: Any, *, log: bool) -> np.ndarray:
    """Raw values as float64 with NaN for missing (and for negatives of a log feature),
    log1p applied where asked."""
    x = numbers(values)
    if log:
        x = np.where(x >= 0, x, np.nan)
        x = np.log1p(x)
    return x


def fit_inputs(
    train: pd.DataFrame, *, fields: ServiceFields, feature_service: str, min_user_count: int = 1
) -> InputSpec:
    """Fit sizes, means and deviations on the training split only.

    Raises:
        ValueError: A service feature the training frame lacks (named).
    """
    missing = [
        name for name in (*fields.categorical, *(d for d, _ in fields.dense)) if name not in train
    ]
    if missing:
        raise ValueError(f"{feature_service}: the training set lacks {missing}")
    categorical = []
    for name in fields.categorical:
        values = pd.to_numeric(train[name], errors="coerce")
        top = int(values.max()) if values.notna().any() else -1
        categorical.append(Categorical(name=name, size=max(top, 0) + 2))
    dense = []
    for name, log in fields.dense:
        x = dense_values(train[name], log=log)
        seen = x[~np.isnan(x)]
        mean = float(seen.mean()) if len(seen) else 0.0
        std = float(seen.std()) if len(seen) > 1 else 1.0
        dense.append(Dense(name=name, log=log, mean=mean, std=std if std > 1e-9 else 1.0))
    known_users: tuple[int, ...] | None = None
    if min_user_count > 1:
        counts = train["user_id"].value_counts()
        known_users = tuple(sorted(int(u) for u in counts[counts >= min_user_count].index))
    return InputSpec(
        feature_service=feature_service,
        categorical=tuple(categorical),
        dense=tuple(dense),
        sequence=fields.sequence,
        min_user_count=min_user_count,
        known_users=known_users,
    )
