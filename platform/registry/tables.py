"""SQLAlchemy tables of the platform metadata: validations, runs, model versions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    """Timezone-aware now (UTC)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of recplat's metadata tables."""


class ValidationRun(Base):
    """One suite run on one dataset batch."""

    __tablename__ = "validation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(100), index=True)
    suite: Mapped[str] = mapped_column(String(100))
    suite_version: Mapped[int] = mapped_column(Integer)
    success: Mapped[bool]
    rows: Mapped[int] = mapped_column(Integer)
    failed_expectations: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    quarantine_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Where in the pipeline the gate ran (ingest, build, materialize, training, online, manual).
    stage: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Drift baselines are looked up by this key (the dataset, or dataset:source).
    baseline_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    # Failures an operator accepted with --allow-failures (recorded, not hidden).
    accepted_failures: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    report_path: Mapped[str | None] = mapped_column(String(500), nullable=True)


class TrainingRun(Base):
    """One training job of one model."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    feature_service: Mapped[str] = mapped_column(String(100))
    validation_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("validation_runs.id"), nullable=True
    )
    storage_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # What the model saw and what produced it: features, data range and rows, training-set
    # validation run, code version, Ray job, the run it resumed (see recplat.training.lineage).
    lineage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ModelVersion(Base):
    """A registered model: weights on disk, config and metrics here."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_name: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(ForeignKey("training_runs.id"))
    stage: Mapped[str] = mapped_column(String(20), default="staging")
    artifact_path: Mapped[str] = mapped_column(String(500))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    feature_service: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lineage: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
