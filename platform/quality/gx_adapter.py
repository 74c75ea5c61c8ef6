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

import numpy as np
import pandas as pd
from recplat.quality import drift
from recplat.quality.suites import LIST, LIST_CACHE, DeriveError

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
    drift_baseline_run: int | None = None

    @property
    def key(self) -> str:
        """What `--allow-failures` names to accept it: `drift:column`, `rule:column` or `rule`."""
        if self.drift_baseline_run is not None:
            return f"drift:{self.column}"
        return f"{self.rule}:{self.column}" if self.column else self.rule

    def matches(self, token: str) -> bool:
        """Whether an `--allow-failures` token accepts this failure.

        Tokens: `rule`, `rule:column`, `drift` (every drift rule) or `drift:column`.
        """
        if self.drift_baseline_run is not None and token in ("drift", f"drift:{self.column}"):
            return True
        return token in (self.rule, self.key)

    def describe(self) -> str:
        """A one-line human description."""
        where = f" on column '{self.column}'" if self.column else ""
        count = f": {self.unexpected_count} unexpected rows" if self.unexpected_count else ""
        examples = f", e.g. {self.examples[:5]}" if self.examples else ""
        drift = (
            f" [drift vs accepted run #{self.drift_baseline_run}]"
            if self.drift_baseline_run is not None
            else ""
        )
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.rule}{where}{count}{examples}{drift}{detail}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "column": self.column,
            "key": self.key,
            "unexpected_count": self.unexpected_count,
            "examples": [str(e) for e in self.examples[:10]],
            "detail": self.detail,
            "drift_baseline_run": self.drift_baseline_run,
        }


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
    statistics: dict[str, Any] = field(default_factory=dict)
    baseline_run_id: int | None = None
    # The GX result object, kept to render Data Docs; never serialized.
    gx_result: Any = field(default=None, repr=False, compare=False)

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
            "failures": [f.as_dict() for f in self.failures],
            "seconds": round(self.seconds, 3),
            "statistics": self.statistics,
            "baseline_run_id": self.baseline_run_id,
        }

    def render_html(self) -> str | None:
        """GX Data Docs HTML of this validation (None when GX never ran, e.g. missing columns)."""
        if self.gx_result is None:
            return None
        from great_expectations.render.renderer import ValidationResultsPageRenderer
        from great_expectations.render.view import DefaultJinjaPageView

        for result in self.gx_result.results:
            # GX 1.24's renderer rejects numpy scalars in observed values.
            if result.result:
                result.result = _plain(result.result)
        document = ValidationResultsPageRenderer().render(self.gx_result)
        return str(DefaultJinjaPageView().render(document))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value


def _failure(result: Any) -> ExpectationFailure:
    config = result.expectation_config
    kwargs = dict(config.kwargs) if config is not None else {}
    meta = (config.meta if config is not None else None) or {}
    info = result.result or {}
    exception = (result.exception_info or {}).get("exception_message") or ""
    kept = {k: v for k, v in kwargs.items() if k not in ("column", "batch_id", "partition_object")}
    column = kwargs.get("column") or ",".join(
        [
            *(kwargs.get("column_list") or []),
            *[kwargs[k] for k in ("column_A", "column_B") if k in kwargs],
        ]
    )
    observed = info.get("observed_value")
    examples = list(info.get("partial_unexpected_list") or [])
    if not examples and "observed_value" in info:
        examples = [_plain(observed)]
    detail = exception or (f"expected {_plain(kept)}" if kept else "")
    if config is not None and config.type == "expect_column_kl_divergence_to_be_less_than":
        examples = [] if observed is None else examples
        detail = (
            f"value shares moved from the baseline: KL {_plain(observed)} > {kwargs['threshold']}"
            if observed is not None
            else "a value the baseline never had appeared (KL is infinite)"
        )
    return ExpectationFailure(
        rule=config.type if config is not None else "unknown",
        column=column or None,
        unexpected_count=info.get("unexpected_count"),
        examples=examples,
        detail=detail,
        drift_baseline_run=meta.get("drift_baseline_run"),
    )


class GXValidator:
    """Runs suites through one ephemeral GX context (create once, reuse)."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # GX sets INFO on some of its module loggers at import; those lines are not for users.
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("great_expectations"):
                logging.getLogger(name).setLevel(logging.WARNING)
        self._gx = gx
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._source = self._context.data_sources.add_pandas("recplat")
        self._runs = 0

    def validate(
        self,
        *,
        df: pd.DataFrame,
        spec: SuiteSpec,
        baseline: tuple[int, dict[str, Any]] | None = None,
    ) -> ValidationReport:
        """Validate a frame against a suite.

        Args:
            df: The data; it is not modified (derived columns go on a copy).
            spec: The suite: schema, expectations and derived columns.
            baseline: (run id, statistics) of the last accepted run of the same
                dataset; adds the suite's drift expectations when given.

        Returns:
            The report; failures are listed, not raised.
        """
        gx = self._gx
        started = time.perf_counter()
        missing = [c for c in spec.required_columns if c not in df.columns]

        def report(
            failures: list[ExpectationFailure], evaluated: int, **extra: Any
        ) -> ValidationReport:
            return ValidationReport(
                dataset=spec.dataset,
                suite=spec.name,
                suite_version=spec.version,
                rows=len(df),
                evaluated=evaluated,
                failures=failures,
                seconds=time.perf_counter() - started,
                **extra,
            )

        if missing:
            # Derived columns need their inputs; name the gap instead of crashing.
            return report(
                [
                    ExpectationFailure("expect_column_to_exist", c, None, [], "column is missing")
                    for c in missing
                ],
                len(missing),
            )
        frame = df.copy(deep=False)
        failures: list[ExpectationFailure] = []
        for name, fn in spec.derived.items():
            try:
                frame[name] = fn(frame)
            except DeriveError as error:
                failure = ExpectationFailure(
                    error.rule, error.column, error.count, error.examples, str(error)
                )
                if failure.key not in {f.key for f in failures}:
                    failures.append(failure)
                frame[name] = np.nan
            except (TypeError, ValueError) as error:
                # Right container, unusable values (e.g. text inside the id lists).
                failures.append(ExpectationFailure(f"derive_{name}", name, None, [], str(error)))
                frame[name] = np.nan
        # GX gets each list column as its length (null stays null): it only checks their
        # presence (types and contents are the derived columns' job), and hashing a
        # million Python lists for its batch id would cost more than all the checks.
        for column, types in spec.schema.items():
            if types == LIST and not failures:
                flat = LIST_CACHE.get(frame, column)
                frame[column] = np.where(flat.present, flat.lengths, np.nan)
        LIST_CACHE.clear()
        # One consolidated copy now, or pandas merges the column blocks on every GX metric.
        frame = frame.copy()
        statistics = drift.statistics(frame, tolerance=spec.drift)
        expectations = spec.schema_expectations() + spec.build()
        if baseline is not None:
            expectations += drift.drift_expectations(
                baseline=baseline[1],
                baseline_run_id=baseline[0],
                tolerance=spec.drift,
                rows=len(frame),
            )

        self._runs += 1
        asset = self._source.add_dataframe_asset(name=f"{spec.dataset}-{self._runs}")
        batch = asset.add_batch_definition_whole_dataframe("all")
        suite = self._context.suites.add(
            gx.ExpectationSuite(
                name=f"{spec.name}-v{spec.version}-{self._runs}", expectations=expectations
            )
        )
        definition = self._context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{spec.name}-{self._runs}", data=batch, suite=suite)
        )
        try:
            result = definition.run(batch_parameters={"dataframe": frame}, result_format="BASIC")
        finally:
            self._context.validation_definitions.delete(definition.name)
            self._context.suites.delete(suite.name)
            self._source.delete_asset(asset.name)
        failures += [_failure(r) for r in result.results if not r.success]
        return report(
            failures,
            len(result.results),
            statistics=statistics,
            baseline_run_id=baseline[0] if baseline else None,
            gx_result=result,
        )
