"""Request and response models of the ranking API (pydantic: limits are the contract)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

MAX_CANDIDATES = 1000
MAX_ID = 2**62
# 1000 candidates with 19-digit ids are ~21 KB of JSON; anything far beyond is not a request.
MAX_BODY_BYTES = 256 * 1024
MAX_EVENTS = 1000
# Clocks disagree a little; an event further in the future is a broken clock.
CLOCK_SKEW = timedelta(minutes=5)


class RankContext(BaseModel):
    """What the request knows about its context; missing hour/weekday mean "now" (UTC)."""

    model_config = ConfigDict(extra="forbid")

    hour: int | None = Field(default=None, ge=0, le=23)
    weekday: int | None = Field(default=None, ge=0, le=6, description="0 = Monday")
    device: Literal["mobile", "desktop", "tablet"] | None = None


class RankRequest(BaseModel):
    """Rank candidate items for one user."""

    model_config = ConfigDict(extra="forbid")

    user_id: int = Field(ge=0, le=MAX_ID)
    candidate_item_ids: list[int] = Field(min_length=1, max_length=MAX_CANDIDATES)
    context: RankContext = Field(default_factory=RankContext)


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
    clicked: bool = Field(default=True, description="clicked impressions enter the sequence")
    timestamp: AwareDatetime = Field(description="when it happened, with a time zone (ISO 8601)")

    @field_validator("timestamp")
    @classmethod
    def _not_in_the_future(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError(f"is in the future (more than {CLOCK_SKEW} ahead of the server)")
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
    not_behaviour: int = Field(description="unclicked impressions and purchases")
    users: int = Field(description="sequences written")
    total_ms: float
