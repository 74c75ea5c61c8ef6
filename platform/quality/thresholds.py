"""Every data-quality threshold, one frozen object per dataset.

Suites read their numbers from here and nowhere else, so a review of what
recplat tolerates is a review of this file. Where a rule accepts a few
outliers (`mostly`), the reason sits beside the number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True)
class DriftTolerance:
    """How far a batch may move from the last accepted run of the same dataset.

    Attributes:
        numeric: Columns whose mean and median are compared.
        categorical: Columns whose value shares are compared (KL divergence).
        mean_rel: Allowed relative change of a mean or median.
        mean_abs: Allowed absolute change, for statistics near zero.
        kl_max: Largest KL divergence of the shares from the baseline's. A
            category the baseline never saw makes the divergence infinite.
    """

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    mean_rel: float = 0.25
    mean_abs: float = 0.02
    kl_max: float = 0.05


# MovieLens 100k starts in 1997; anything earlier is a broken clock or an epoch-0 null.
EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class EventThresholds:
    """Raw behaviour events (ingest gate)."""

    # A click rate of 0 or 1 means a broken label pipeline, not users.
    label_rate: tuple[float, float] = (0.005, 0.95)
    earliest: datetime = EARLIEST
    max_hour: int = 23
    max_weekday: int = 6
    # Not `hour`: a batch of the last few hours has its own hour mix by construction.
    drift: DriftTolerance = field(
        default_factory=lambda: DriftTolerance(
            numeric=("clicked",), categorical=("device", "event_type")
        )
    )


@dataclass(frozen=True)
class UserProfileThresholds:
    """User attributes (one row per user and timestamp)."""

    # -1 is "unknown": data sets without demographics (Amazon reviews) say so explicitly;
    # the encoding maps it to the same 0 as a missing value.
    min_age_bucket: int = -1
    max_age_bucket: int = 5
    genders: tuple[int, ...] = (-1, 0, 1)
    drift: DriftTolerance = field(
        default_factory=lambda: DriftTolerance(categorical=("age_bucket", "gender"), kl_max=0.1)
    )


@dataclass(frozen=True)
class ItemThresholds:
    """Item attributes (one row per item and timestamp)."""

    min_price_bucket: int = -1  # -1: no price known (MovieLens, Amazon items without one)
    max_price_bucket: int = 9
    drift: DriftTolerance = field(
        default_factory=lambda: DriftTolerance(categorical=("price_bucket",), kl_max=0.1)
    )


@dataclass(frozen=True)
class SequenceThresholds:
    """Behaviour-sequence snapshots (offline table and online read-back)."""

    # Ids the item table does not know: an import that lost its catalogue. None are allowed
    # offline; online, a sample read back may race a catalogue update, hence `online_mostly`.
    online_known_mostly: float = 0.99
    drift: DriftTolerance = field(
        default_factory=lambda: DriftTolerance(numeric=("items_len",), mean_rel=0.5)
    )


@dataclass(frozen=True)
class TrainingSetThresholds:
    """Point-in-time training sets (gate before training)."""

    min_rows: int = 10
    label_rate: tuple[float, float] = (0.005, 0.95)
    # Items the catalogue does not know get category 0 after the join; a few are fine
    # (an item can enter the log before its attributes are published).
    known_category_mostly: float = 0.99
    drift: DriftTolerance = field(
        default_factory=lambda: DriftTolerance(numeric=("label", "items_len"), mean_rel=0.5)
    )


@dataclass(frozen=True)
class RatingThresholds:
    """Explicit ratings (MovieLens), the rating models' training data."""

    scale: tuple[float, float] = (1.0, 5.0)  # GroupLens' 1..5 stars
    drift: DriftTolerance = field(default_factory=lambda: DriftTolerance(numeric=("rating",)))


@dataclass(frozen=True)
class OnlineThresholds:
    """Features sampled back from the online store after materialization."""

    sample_users: int = 200
    # Users who never clicked have no sequence yet and read back as null.
    sequence_present_mostly: float = 0.5


@dataclass(frozen=True)
class Thresholds:
    """All datasets' thresholds."""

    events: EventThresholds = field(default_factory=EventThresholds)
    user_profile: UserProfileThresholds = field(default_factory=UserProfileThresholds)
    item_attributes: ItemThresholds = field(default_factory=ItemThresholds)
    user_sequence: SequenceThresholds = field(default_factory=SequenceThresholds)
    training_set: TrainingSetThresholds = field(default_factory=TrainingSetThresholds)
    online: OnlineThresholds = field(default_factory=OnlineThresholds)
    ratings: RatingThresholds = field(default_factory=RatingThresholds)


THRESHOLDS = Thresholds()
