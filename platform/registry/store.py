"""The metadata store: records validations and runs, registers model versions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from recplat.registry.tables import Base, ModelVersion, TrainingRun, ValidationRun, utcnow
from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

STAGES = ("staging", "production", "archived")
RowT = TypeVar("RowT", ValidationRun, TrainingRun)


class MetadataStore:
    """SQLAlchemy-backed platform metadata (SQLite by default, PostgreSQL in production)."""

    def __init__(self, *, url: str) -> None:
        self.url = url
        self._engine = create_engine(url, future=True)
        Base.metadata.create_all(self._engine)
        _add_missing_columns(self._engine)
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: commits on success, rolls back on error."""
        with self._sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        """Close pooled connections."""
        self._engine.dispose()

    # Validation runs -----------------------------------------------------------

    def record_validation(
        self,
        *,
        summary: dict[str, Any],
        quarantine_path: str | None,
        stage: str | None = None,
        baseline_key: str | None = None,
        accepted_failures: list[dict[str, Any]] | None = None,
    ) -> ValidationRun:
        """Store one validation run's summary."""
        run = ValidationRun(
            dataset=summary["dataset"],
            suite=summary["suite"],
            suite_version=summary["suite_version"],
            success=summary["success"],
            rows=summary["rows"],
            failed_expectations=summary["failed"],
            seconds=summary["seconds"],
            summary=summary,
            quarantine_path=quarantine_path,
            stage=stage,
            baseline_key=baseline_key or summary["dataset"],
            accepted_failures=accepted_failures or [],
        )
        with self.session() as s:
            s.add(run)
        return run

    def set_report_path(self, *, run_id: int, path: str) -> None:
        """Link a validation run to its HTML report."""
        with self.session() as s:
            run = s.get(ValidationRun, run_id)
            if run is not None:
                run.report_path = path

    def validation(self, *, run_id: int) -> ValidationRun:
        """One validation run.

        Raises:
            KeyError: No such run.
        """
        return self._one(ValidationRun, run_id, "validation run")

    def validations(self, *, limit: int = 50, dataset: str | None = None) -> list[ValidationRun]:
        """Most recent validation runs first (of one dataset when given)."""
        query = select(ValidationRun).order_by(ValidationRun.id.desc()).limit(limit)
        if dataset is not None:
            query = query.where(ValidationRun.dataset == dataset)
        with self.session() as s:
            return list(s.scalars(query))

    def latest_validations(self) -> list[ValidationRun]:
        """The newest run of every dataset (among the last 500 runs), by dataset name."""
        latest: dict[str, ValidationRun] = {}
        for run in self.validations(limit=500):
            latest.setdefault(run.dataset, run)
        return sorted(latest.values(), key=lambda r: r.dataset)

    def accepted_log_key(self) -> str:
        """The baseline key of the newest accepted event log (`events` or `events:SOURCE`)."""
        query = (
            select(ValidationRun.baseline_key)
            .where(
                ValidationRun.dataset == "events",
                ValidationRun.stage == "ingest",
                ValidationRun.success.is_(True),
            )
            .order_by(ValidationRun.id.desc())
            .limit(1)
        )
        with self.session() as s:
            return s.scalars(query).first() or "events"

    def last_accepted(self, *, baseline_key: str) -> ValidationRun | None:
        """The newest successful run under a baseline key: the drift baseline."""
        query = (
            select(ValidationRun)
            .where(ValidationRun.baseline_key == baseline_key, ValidationRun.success.is_(True))
            .order_by(ValidationRun.id.desc())
            .limit(1)
        )
        with self.session() as s:
            return s.scalars(query).first()

    # Training runs -------------------------------------------------------------

    def start_run(
        self,
        *,
        model_name: str,
        config: dict[str, Any],
        feature_service: str,
        validation_run_id: int | None,
        lineage: dict[str, Any] | None = None,
    ) -> TrainingRun:
        """Record a run as started."""
        run = TrainingRun(
            model_name=model_name,
            status="running",
            config=config,
            metrics={},
            lineage=lineage or {},
            feature_service=feature_service,
            validation_run_id=validation_run_id,
        )
        with self.session() as s:
            s.add(run)
        return run

    def finish_run(
        self, *, run_id: int, status: str, metrics: dict[str, Any], storage_path: str | None = None
    ) -> TrainingRun:
        """Record a run's outcome."""
        with self.session() as s:
            run = s.get_one(TrainingRun, run_id)
            run.status = status
            run.metrics = metrics
            run.storage_path = storage_path
            run.finished_at = utcnow()
        return run

    def run(self, *, run_id: int) -> TrainingRun:
        """One training run.

        Raises:
            KeyError: No such run.
        """
        return self._one(TrainingRun, run_id, "training run")

    def _one(self, table: type[RowT], key: int, what: str) -> RowT:
        with self.session() as s:
            row = s.get(table, key)
        if row is None:
            raise KeyError(f"no {what} {key}")
        return row

    def update_lineage(self, *, run_id: int, **values: Any) -> None:
        """Add entries to a run's lineage (e.g. the Ray job id once known)."""
        with self.session() as s:
            run = s.get(TrainingRun, run_id)
            if run is not None:
                run.lineage = {**(run.lineage or {}), **values}

    def runs(self, *, limit: int = 50) -> list[TrainingRun]:
        """Most recent training runs first."""
        with self.session() as s:
            return list(s.scalars(select(TrainingRun).order_by(TrainingRun.id.desc()).limit(limit)))

    # Model versions ------------------------------------------------------------

    def register_model(
        self,
        *,
        model_name: str,
        run_id: int,
        artifact_path: str,
        config: dict[str, Any],
        metrics: dict[str, Any],
        feature_service: str,
        lineage: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Register a new version (next number for this model) in `staging`."""
        with self.session() as s:
            latest = s.scalar(
                select(func.max(ModelVersion.version)).where(ModelVersion.model_name == model_name)
            )
            version = ModelVersion(
                model_name=model_name,
                version=(latest or 0) + 1,
                run_id=run_id,
                stage="staging",
                artifact_path=artifact_path,
                config=config,
                metrics=metrics,
                feature_service=feature_service,
                lineage=lineage or {},
            )
            s.add(version)
        return version

    def promote(self, *, model_name: str, version: int, stage: str = "production") -> ModelVersion:
        """Move a version to `stage`; the previous holder of `production` is archived."""
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
        with self.session() as s:
            target = s.scalar(
                select(ModelVersion).where(
                    ModelVersion.model_name == model_name, ModelVersion.version == version
                )
            )
            if target is None:
                raise LookupError(f"model {model_name!r} has no version {version}")
            if stage == "production":
                for other in s.scalars(
                    select(ModelVersion).where(
                        ModelVersion.model_name == model_name, ModelVersion.stage == "production"
                    )
                ):
                    other.stage = "archived"
            target.stage = stage
        return target

    def models(self, *, model_name: str | None = None) -> list[ModelVersion]:
        """Registered versions, newest first."""
        query = select(ModelVersion).order_by(ModelVersion.id.desc())
        if model_name:
            query = query.where(ModelVersion.model_name == model_name)
        with self.session() as s:
            return list(s.scalars(query))

    def resolve(self, *, model_name: str, version: int | None = None) -> ModelVersion:
        """The version to serve: the given one, else production, else the newest.

        Raises:
            LookupError: When the model has no registered version.
        """
        with self.session() as s:
            query = select(ModelVersion).where(ModelVersion.model_name == model_name)
            if version is not None:
                found = s.scalar(query.where(ModelVersion.version == version))
            else:
                found = s.scalar(
                    query.where(ModelVersion.stage == "production").order_by(
                        ModelVersion.version.desc()
                    )
                ) or s.scalar(query.order_by(ModelVersion.version.desc()))
        if found is None:
            which = f"version {version}" if version is not None else "registered version"
            raise LookupError(
                f"model {model_name!r} has no {which}; train it first (`recplat train`)"
            )
        return found


def _add_missing_columns(engine: Engine) -> None:
    """Add columns newer versions declare to tables an older version created.

    Additive only (every new column is nullable), so an existing home keeps its history.
    """
    inspector = inspect(engine)
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                connection.execute(
                    text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}')
                )
