"""One typed settings object, built explicitly and passed down.

Nothing here reads the environment at import time: call `Settings.from_env()`
(the CLI does) or build `Settings(...)` directly (tests do).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Where recplat keeps things and how it talks to its services.

    Attributes:
        feature_repo: The Feast feature repo folder (holds feature_store.yaml).
            Feature data (Parquet sources, online store, Feast registry) lives in
            its `data/` sub-folder so that the `feast` CLI sees the same store.
        home: Platform state: metadata database, training runs, quarantine.
        database_url: SQLAlchemy URL of the platform metadata (runs, model
            versions, validation runs). Defaults to SQLite under `home`.
        ray_address: Ray cluster to use; None starts a local Ray on demand.
        sequence_length: N, the longest behaviour sequence kept per user.
        api_key: When set, the ranking API requires it in the `X-API-Key` header
            on /rank and /model (`RECPLAT_API_KEY`).
        sequence_impressions: Sequences keep unclicked impressions too (behaviour
            type 3), offline and in online appends (`RECPLAT_SEQUENCE_IMPRESSIONS=1`).
            For explicit feedback such as MovieLens ratings, where every rating was
            the user's choice and a low one says what they dislike; off for logged
            exposures, which would crowd the clicks out of the last N.
    """

    feature_repo: Path = Path("feature_repo")
    home: Path = Path(".recplat")
    database_url: str | None = None
    ray_address: str | None = None
    sequence_length: int = 50
    api_key: str | None = None
    sequence_impressions: bool = False

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Build settings from `RECPLAT_*` environment variables, then overrides."""
        env = os.environ
        settings = cls(
            feature_repo=Path(env.get("RECPLAT_FEATURE_REPO", "feature_repo")),
            home=Path(env.get("RECPLAT_HOME", ".recplat")),
            database_url=env.get("RECPLAT_DATABASE_URL") or None,
            ray_address=env.get("RAY_ADDRESS") or None,
            sequence_length=int(env.get("RECPLAT_SEQUENCE_LENGTH", "50")),
            api_key=env.get("RECPLAT_API_KEY") or None,
            sequence_impressions=env.get("RECPLAT_SEQUENCE_IMPRESSIONS", "0").lower()
            in ("1", "true", "yes"),
        )
        return replace(settings, **overrides)  # type: ignore[arg-type]

    @property
    def data_dir(self) -> Path:
        """Feature data folder inside the feature repo."""
        return self.feature_repo / "data"

    @property
    def offline_dir(self) -> Path:
        """Live Parquet sources read by the feature views."""
        return self.data_dir / "offline"

    @property
    def events_path(self) -> Path:
        """The accepted raw event log."""
        return self.data_dir / "events" / "events.parquet"

    @property
    def catalog_dir(self) -> Path:
        """Raw users/items tables that come with the events."""
        return self.data_dir / "events"

    @property
    def ratings_path(self) -> Path:
        """Explicit ratings that came with the events (MovieLens), for rating models."""
        return self.catalog_dir / "ratings.parquet"

    @property
    def purchases_path(self) -> Path:
        """Quantity and amount of each purchase event (transaction logs, the generator)."""
        return self.catalog_dir / "purchases.parquet"

    @property
    def categories_path(self) -> Path:
        """Category names of an imported transaction log (category_id, category)."""
        return self.catalog_dir / "categories.parquet"

    @property
    def quarantine_dir(self) -> Path:
        """Rejected batches, each with the report that rejected it."""
        return self.home / "quarantine"

    @property
    def reports_dir(self) -> Path:
        """Data-quality reports: GX Data Docs per run and recplat's summary pages."""
        return self.home / "quality"

    @property
    def runs_dir(self) -> Path:
        """Ray Train storage: checkpoints and results of training runs."""
        return self.home / "runs"

    @property
    def models_dir(self) -> Path:
        """Registered model artifacts (weights + config)."""
        return self.home / "models"

    @property
    def metadata_url(self) -> str:
        """SQLAlchemy URL of the platform metadata database."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'recplat.db').resolve()}"

    def ensure_dirs(self) -> None:
        """Create the folders recplat writes to."""
        for path in (self.offline_dir, self.catalog_dir, self.home, self.runs_dir):
            path.mkdir(parents=True, exist_ok=True)
