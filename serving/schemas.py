"""Request and response models of the ranking API (pydantic: limits are the contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
)
from recplat.quality.thresholds import THRESHOLDS

MAX_CANDIDATES = 1000
# The largest integer every JSON client holds exactly (2^53 - 1, JavaScript's safe limit).
MAX_ID = 2**53 - 1
# 1000 candidates with 19-digit ids are ~21 KB of JSON; anything far beyond is not a request.
MAX_BODY_BYTES = 256 * 1024
MAX_EVENTS = 1000
# Clocks disagree a little; an event further in the future is a broken clock.
CLOCK_SKEW = timedelta(minutes=5)


def _json_integer(value: object) -> object:
    # JSON Schema's "integer": 7 and 7.0, never true, "7" or 7.5 (pydantic's lax int takes those).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    return int(value)


def _json_integers(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, list):
        return [_json_integer(v) for v in value]
    return _json_integer(value)


class ErrorDetail(BaseModel):
    """An error answer: what went wrong, in words."""

    detail: str


class RankContext(BaseModel):
    """What the request knows about its context; missing hour/weekday mean "now" (UTC).

    The model's context features come from the feature store's on-demand view, fed
    the request's time and device; a given hour or weekday replaces the computed one.
    """

    model_config = ConfigDict(extra="forbid")

    hour: int | None = Field(default=None, ge=0, le=23)
    weekday: int | None = Field(default=None, ge=0, le=6, description="0 = Monday")

    request_time_s: int | None = Field(
        default=None,
        ge=0,
        le=2**40,
        description="when the request is made, epoch seconds UTC (default now): the clock of "
        "the context features (hour, weekday, seconds since the last behaviour)",
    )

    _integers = field_validator("hour", "weekday", "request_time_s", mode="before")(_json_integers)
    device: Literal["mobile", "desktop", "tablet"] | None = None


class RankRequest(BaseModel):
    """Rank candidate items for one user."""

    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(ge=0, le=MAX_ID)
    candidate_item_ids: list[Annotated[int, Field(ge=0, le=MAX_ID)]] = Field(
        min_length=1, max_length=MAX_CANDIDATES
    )
    context: RankContext = Field(default_factory=RankContext)

    _integers = field_validator("user_id", "candidate_item_ids", mode="before")(_json_integers)


class ScoredItem(BaseModel):
    """One candidate with its click probability."""

    item_id: int
    score: float


class Timings(BaseModel):
    """Where the time of a request went, in milliseconds."""

    features_ms: float
    model_ms: float
    total_ms: float


class RankResponse(BaseModel):
    """Candidates sorted by score, best first."""

    user_id: int
    model: str
    version: int
    items: list[ScoredItem]
    unknown_user: bool
    unknown_items: list[int]
    history_length: int
    degraded: bool = Field(
        default=False,
        description="the feature store failed or was slow: popularity order, not the model",
    )
    degraded_reason: str | None = None
    missing_features: dict[str, int] = Field(
        default_factory=dict,
        description="features the online store had no value for -> on how many candidates; "
        "the model read the training default for them",
    )
    timings: Timings


class Health(BaseModel):
    """Liveness and what is loaded."""

    status: Literal["ok"]
    model: str
    version: int


class ModelInfo(BaseModel):
    """The deployed model version."""

    model: str
    version: int
    stage: str
    feature_service: str
    metrics: dict[str, float | int | None]
    artifact_path: str


class BehaviourEvent(BaseModel):
    """One event of the user's behaviour (the event schema's fields)."""

    model_config = ConfigDict(extra="forbid")

    event_id: int = Field(ge=0, le=MAX_ID, description="unique; a replayed id is not counted twice")
    user_id: int = Field(ge=1, le=MAX_ID)
    item_id: int = Field(ge=1, le=MAX_ID)
    event_type: Literal["impression", "purchase"] = "impression"
    clicked: StrictBool = Field(default=True, description="clicked impressions enter the sequence")
    timestamp: AwareDatetime = Field(description="when it happened, with a time zone (ISO 8601)")

    _integers = field_validator("event_id", "user_id", "item_id", mode="before")(_json_integers)

    @field_validator("timestamp")
    @classmethod
    def _in_the_accepted_window(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError(f"is in the future (more than {CLOCK_SKEW} ahead of the server)")
        earliest = THRESHOLDS.events.earliest
        if value < earliest:
            raise ValueError(f"is before {earliest:%Y-%m-%d} (the earliest event time accepted)")
        return value


class EventsRequest(BaseModel):
    """A batch of behaviour events to append to the users' online sequences."""

    model_config = ConfigDict(extra="forbid")

    events: list[BehaviourEvent] = Field(min_length=1, max_length=MAX_EVENTS)


class EventsResponse(BaseModel):
    """What the batch did to the online sequences."""

    received: int
    appended: int = Field(description="behaviours that entered a sequence")
    duplicates: int = Field(description="event ids already in the sequence (replays)")
    too_old: int = Field(description="older than a full sequence; dropped as offline")
    not_behaviour: int = Field(description="unclicked impressions (no behaviour)")
    users: int = Field(description="sequences written")
    total_ms: float
