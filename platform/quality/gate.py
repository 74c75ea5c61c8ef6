"""Data-quality gates: validate, record, and stop bad data with its evidence kept.

A failing gate raises `DataQualityError` *before* the caller writes anything:
the online store and the last good tables stay as they were, and the rejected
batch goes to the quarantine folder with its report. An operator can accept a
known failure explicitly (`allow`); the acceptance is recorded with the run.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from recplat.io.parquet import write_parquet
from recplat.quality.gx_adapter import ExpectationFailure, GXValidator, ValidationReport
from recplat.quality.suites import SuiteSpec
from recplat.registry.store import MetadataStore

log = logging.getLogger(__name__)


class DataQualityError(Exception):
    """A dataset failed its suite; the message lists each failing expectation."""

    def __init__(
        self,
        *,
        report: ValidationReport,
        quarantine_path: Path | None,
        run_id: int | None,
        source: str | None = None,
    ) -> None:
        self.report = report
        self.quarantine_path = quarantine_path
        self.run_id = run_id
        where = f" from {source}" if source else ""
        lines = [
            f"data quality gate failed for '{report.dataset}'{where} "
            f"({len(report.failures)} of {report.evaluated} expectations, {report.rows} rows"
            + (f", validation run #{run_id}" if run_id is not None else "")
            + "):"
        ]
        lines += [f"  - {f.describe()}" for f in report.failures]
        if quarantine_path is not None:
            lines.append(f"  batch and report quarantined in {quarantine_path}")
        keys = sorted({f.key for f in report.failures})
        lines.append(
            "  to accept a known issue: --allow-failures " + " --allow-failures ".join(keys)
        )
        super().__init__("\n".join(lines))


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def quarantine(*, df: pd.DataFrame, report: ValidationReport, root: Path) -> Path:
    """Keep a rejected batch and its report; returns the folder."""
    folder = root / report.dataset / _stamp()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        write_parquet(df, folder / "batch.parquet")
    except Exception:  # noqa: BLE001 - a batch too broken for Parquet is still kept
        df.to_pickle(folder / "batch.pkl")
    (folder / "report.json").write_text(json.dumps(report.summary(), indent=2, default=str))
    return folder


class Gate:
    """Runs suites, records every run, renders its report, quarantines and raises on failure."""

    def __init__(
        self,
        *,
        validator: GXValidator,
        metadata: MetadataStore,
        quarantine_root: Path,
        reports_root: Path | None = None,
    ) -> None:
        self.validator = validator
        self.metadata = metadata
        self.quarantine_root = quarantine_root
        self.reports_root = reports_root

    def check(
        self,
        *,
        df: pd.DataFrame,
        spec: SuiteSpec,
        allow: Sequence[str] = (),
        stage: str | None = None,
        baseline_key: str | None = None,
        source: str | None = None,
    ) -> int:
        """Validate `df`; return the recorded validation run id.

        Args:
            df: The batch.
            spec: Its suite.
            allow: `--allow-failures` tokens (`rule`, `rule:column`, `drift`,
                `drift:column`); matching failures are accepted and recorded.
            stage: Where in the pipeline this gate runs (recorded).
            baseline_key: Drift is measured against the last accepted run with
                this key (default: the dataset name).
            source: Where the batch came from (a file path), for the message.

        Raises:
            DataQualityError: When an expectation fails that `allow` does not accept.
        """
        key = baseline_key or self.baseline_key(spec.dataset)
        base = self.metadata.last_accepted(baseline_key=key)
        baseline = (base.id, base.summary.get("statistics") or {}) if base is not None else None
        report = self.validator.validate(df=df, spec=spec, baseline=baseline)
        return self._finish(report=report, df=df, allow=allow, stage=stage, key=key, source=source)

    def baseline_key(self, dataset: str) -> str:
        """Drift baseline key of a dataset derived from the accepted log.

        Tables built from a MovieLens import compare with earlier MovieLens
        tables (`user_profile:movielens`), not with a synthetic data set's.
        """
        _, _, source = self.metadata.accepted_log_key().partition(":")
        return f"{dataset}:{source}" if source else dataset

    def check_file(
        self,
        *,
        path: Path,
        spec: SuiteSpec,
        allow: Sequence[str] = (),
        stage: str | None = None,
        baseline_key: str | None = None,
    ) -> tuple[pd.DataFrame, int]:
        """Read a Parquet file and gate it; an unreadable file is rejected the same way.

        Returns:
            The frame and the validation run id.

        Raises:
            DataQualityError: The file is not readable Parquet, or its data failed.
        """
        started = time.perf_counter()
        try:
            df = pd.read_parquet(path)
        except Exception as error:  # any reader error means "not Parquet here"
            failure = ExpectationFailure(
                "file_is_parquet", None, None, [], f"{path}: {type(error).__name__}: {error}"
            )
            report = ValidationReport(
                dataset=spec.dataset,
                suite=spec.name,
                suite_version=spec.version,
                rows=0,
                evaluated=1,
                failures=[failure],
                seconds=time.perf_counter() - started,
            )
            folder = self.quarantine_root / spec.dataset / _stamp()
            folder.mkdir(parents=True, exist_ok=True)
            if path.exists():
                shutil.copy2(path, folder / path.name)
            (folder / "report.json").write_text(json.dumps(report.summary(), indent=2))
            run = self.metadata.record_validation(
                summary=report.summary(),
                quarantine_path=str(folder),
                stage=stage,
                baseline_key=baseline_key or self.baseline_key(spec.dataset),
            )
            raise DataQualityError(
                report=report, quarantine_path=folder, run_id=run.id, source=str(path)
            ) from error
        run_id = self.check(
            df=df, spec=spec, allow=allow, stage=stage, baseline_key=baseline_key, source=str(path)
        )
        return df, run_id

    def _finish(
        self,
        *,
        report: ValidationReport,
        df: pd.DataFrame,
        allow: Sequence[str],
        stage: str | None,
        key: str,
        source: str | None,
    ) -> int:
        accepted = [f for f in report.failures if any(f.matches(t) for t in allow)]
        blocking = [f for f in report.failures if f not in accepted]
        final = dataclasses.replace(report, failures=blocking)
        path = None if final.success else quarantine(df=df, report=final, root=self.quarantine_root)
        summary = final.summary() | {"source": source, "stage": stage}
        run = self.metadata.record_validation(
            summary=summary,
            quarantine_path=str(path) if path else None,
            stage=stage,
            baseline_key=key,
            accepted_failures=[f.as_dict() for f in accepted],
        )
        self._write_gx_page(report=final, run_id=run.id)
        for failure in accepted:
            log.warning("accepted by --allow-failures: %s", failure.describe())
        if not final.success:
            raise DataQualityError(report=final, quarantine_path=path, run_id=run.id, source=source)
        log.info("gate passed: %s (%d rows, %.2fs)", report.dataset, report.rows, report.seconds)
        return run.id

    def _write_gx_page(self, *, report: ValidationReport, run_id: int) -> None:
        if self.reports_root is None:
            return
        html = report.render_html()
        if html is None:
            return
        from recplat.quality.report import STYLE

        # GX styles its page with Bootstrap from a CDN; our inline rules keep it legible offline.
        html = html.replace("</head>", f"<style>{STYLE}</style></head>", 1)
        folder = self.reports_root / f"run-{run_id}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "gx.html").write_text(html)
        self.metadata.set_report_path(run_id=run_id, path=str(folder / "gx.html"))
