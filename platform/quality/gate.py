"""Data-quality gates: validate, record, and stop bad data with its evidence kept.

A failing gate raises `DataQualityError` *before* the caller writes anything:
the online store and the last good tables stay as they were, and the rejected
batch goes to the quarantine folder with its report.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from recplat.quality.gx_adapter import GXValidator, ValidationReport
from recplat.quality.suites import SuiteSpec
from recplat.registry.store import MetadataStore
from recplat.storage import write_parquet

log = logging.getLogger(__name__)


class DataQualityError(Exception):
    """A dataset failed its suite; the message lists each failing expectation."""

    def __init__(
        self, *, report: ValidationReport, quarantine_path: Path | None, run_id: int | None
    ) -> None:
        self.report = report
        self.quarantine_path = quarantine_path
        self.run_id = run_id
        lines = [
            f"data quality gate failed for '{report.dataset}' "
            f"({len(report.failures)} of {report.evaluated} expectations, {report.rows} rows):"
        ]
        lines += [f"  - {f.describe()}" for f in report.failures]
        if quarantine_path is not None:
            lines.append(f"  batch and report quarantined in {quarantine_path}")
        super().__init__("\n".join(lines))


def quarantine(*, df: pd.DataFrame, report: ValidationReport, root: Path) -> Path:
    """Keep a rejected batch and its report; returns the folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    folder = root / report.dataset / stamp
    folder.mkdir(parents=True, exist_ok=True)
    try:
        write_parquet(df, folder / "batch.parquet")
    except Exception:  # noqa: BLE001 - a batch too broken for Parquet is still kept
        df.to_pickle(folder / "batch.pkl")
    (folder / "report.json").write_text(json.dumps(report.summary(), indent=2, default=str))
    return folder


class Gate:
    """Runs suites, records every run, quarantines and raises on failure."""

    def __init__(
        self, *, validator: GXValidator, metadata: MetadataStore, quarantine_root: Path
    ) -> None:
        self.validator = validator
        self.metadata = metadata
        self.quarantine_root = quarantine_root

    def check(self, *, df: pd.DataFrame, spec: SuiteSpec) -> int:
        """Validate `df`; return the recorded validation run id.

        Raises:
            DataQualityError: When any expectation fails.
        """
        report = self.validator.validate(df=df, spec=spec)
        path = (
            None if report.success else quarantine(df=df, report=report, root=self.quarantine_root)
        )
        run = self.metadata.record_validation(
            summary=report.summary(), quarantine_path=str(path) if path else None
        )
        if not report.success:
            raise DataQualityError(report=report, quarantine_path=path, run_id=run.id)
        log.info("gate passed: %s (%d rows, %.2fs)", spec.dataset, report.rows, report.seconds)
        return run.id
