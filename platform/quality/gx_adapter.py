"""recplat's Great Expectations 1.x adapter over pandas DataFrames.

Feast's own GX integration (`feast.dqm`) needs GX < 1; this one uses the GX 1.x
API directly: ephemeral context -> pandas data source -> dataframe asset ->
whole-frame batch -> suite -> validation definition.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from recplat.quality.suites import SuiteSpec


@dataclass(frozen=True)
class ExpectationFailure:
    """One expectation that did not hold."""

    rule: str
    column: str | None
    unexpected_count: int | None
    examples: list[Any]
    detail: str

    def describe(self) -> str:
        """A one-line human description."""
        where = f" on column '{self.column}'" if self.column else ""
        count = f": {self.unexpected_count} unexpected rows" if self.unexpected_count else ""
        examples = f", e.g. {self.examples[:5]}" if self.examples else ""
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.rule}{where}{count}{examples}{detail}"


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of one suite on one frame."""

    dataset: str
    suite: str
    suite_version: int
    rows: int
    evaluated: int
    failures: list[ExpectationFailure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def success(self) -> bool:
        """True when every expectation held."""
        return not self.failures

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "dataset": self.dataset,
            "suite": self.suite,
            "suite_version": self.suite_version,
            "success": self.success,
            "rows": self.rows,
            "expectations": self.evaluated,
            "failed": len(self.failures),
            "failures": [
                {
                    "rule": f.rule,
                    "column": f.column,
                    "unexpected_count": f.unexpected_count,
                    "examples": [str(e) for e in f.examples[:10]],
                    "detail": f.detail,
                }
                for f in self.failures
            ],
            "seconds": round(self.seconds, 3),
        }


class GXValidator:
    """Runs suites through one ephemeral GX context (create once, reuse)."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self._context = gx.get_context(mode="ephemeral")
        # GX configures its own loggers on import; its INFO lines are not for our users.
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._source = self._context.data_sources.add_pandas("recplat")
        self._runs = 0

    def validate(self, *, df: pd.DataFrame, spec: SuiteSpec) -> ValidationReport:
        """Validate a frame against a suite.

        Args:
            df: The data; it is not modified (derived columns go on a copy).
            spec: The suite: expectations plus derived columns.

        Returns:
            The report; failures are listed, not raised.
        """
        gx = self._gx
        started = time.perf_counter()
        missing = [c for c in spec.required_columns if c not in df.columns]
        if missing:
            # Derived columns need their inputs; name the gap instead of crashing.
            failures = [
                ExpectationFailure("expect_column_to_exist", c, None, [], "column is missing")
                for c in missing
            ]
            return ValidationReport(
                dataset=spec.dataset,
                suite=spec.name,
                suite_version=spec.version,
                rows=len(df),
                evaluated=len(missing),
                failures=failures,
                seconds=time.perf_counter() - started,
            )
        frame = df.copy(deep=False)
        for name, fn in spec.derived.items():
            frame[name] = fn(frame)

        self._runs += 1
        asset = self._source.add_dataframe_asset(name=f"{spec.dataset}-{self._runs}")
        batch = asset.add_batch_definition_whole_dataframe("all")
        suite = self._context.suites.add(
            gx.ExpectationSuite(name=f"{spec.name}-{self._runs}", expectations=spec.build())
        )
        definition = self._context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{spec.name}-{self._runs}", data=batch, suite=suite)
        )
        result = definition.run(batch_parameters={"dataframe": frame})

        failures = []
        for r in result.results:
            if r.success:
                continue
            config = r.expectation_config
            kwargs = dict(config.kwargs) if config is not None else {}
            info = r.result or {}
            exception = (r.exception_info or {}).get("exception_message") or ""
            kept = {k: v for k, v in kwargs.items() if k not in ("column", "batch_id")}
            failures.append(
                ExpectationFailure(
                    rule=config.type if config is not None else "unknown",
                    column=kwargs.get("column")
                    or ",".join(kwargs.get("column_list", []) or [])
                    or None,
                    unexpected_count=info.get("unexpected_count"),
                    examples=list(info.get("partial_unexpected_list") or [])
                    or ([info["observed_value"]] if "observed_value" in info else []),
                    detail=exception or f"expected {kept}",
                )
            )
        self._context.data_sources.get("recplat").delete_asset(asset.name)
        return ValidationReport(
            dataset=spec.dataset,
            suite=spec.name,
            suite_version=spec.version,
            rows=len(df),
            evaluated=len(result.results),
            failures=failures,
            seconds=time.perf_counter() - started,
        )
