"""Prometheus metrics of the ranking app, exported by Ray beside Ray Serve's own.

Ray's metrics agent serves them on each node's metrics export port (`ray start
--metrics-export-port`; Prometheus scrapes `/metrics` there), named `ray_recplat_*`
and tagged with the application, deployment and replica by `ray.serve.metrics`.
Refusals by the proxy (503 over `max_queued_requests`) never reach a replica:
they are Serve's own `ray_serve_num_http_error_requests_total{error_code="503"}`.
"""

from __future__ import annotations

from typing import Any

ROUTES = ("/rank", "/events", "/healthz", "/model")
LATENCY_MS: list[float] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]
READ_MS: list[float] = [0.5, 1, 2, 5, 10, 20, 50, 100, 200]


class AppMetrics:
    """The app's counters and histograms (one set per replica process)."""

    def __init__(self) -> None:
        from ray.serve import metrics

        self.requests = metrics.Counter(
            "recplat_requests_total",
            description="Answers of the ranking app by route and HTTP status.",
            tag_keys=("route", "status"),  # type: ignore[arg-type]  # Ray hints Tuple[str]
        )
        self.latency = metrics.Histogram(
            "recplat_request_latency_ms",
            description="Time in the replica per request, by route (ms).",
            boundaries=LATENCY_MS,
            tag_keys=("route",),
        )
        self.degraded = metrics.Counter(
            "recplat_degraded_answers_total",
            description="/rank answers in popularity order because the feature store failed.",
            tag_keys=("reason",),
        )
        self.feature_read = metrics.Histogram(
            "recplat_feature_read_ms",
            description="Online feature read of one /rank request (ms).",
            boundaries=READ_MS,
        )
        self.missing = metrics.Counter(
            "recplat_missing_features_total",
            description="Candidates a feature had no stored value for (training default used).",
            tag_keys=("feature",),
        )
        self.events = metrics.Counter(
            "recplat_events_total",
            description="Events posted to /events by outcome.",
            tag_keys=("outcome",),
        )

    def observe(self, *, path: str, status: int, ms: float) -> None:
        route = path if path in ROUTES else "other"
        self.requests.inc(tags={"route": route, "status": str(status)})
        self.latency.observe(ms, tags={"route": route})

    def ranked(self, answer: Any) -> None:
        """What one /rank answer says about the feature store."""
        if answer.degraded:
            reason = answer.degraded_reason or ""
            kind = "timeout" if "did not answer" in reason else "store_error"
            self.degraded.inc(tags={"reason": kind})
            return
        self.feature_read.observe(answer.timings.features_ms)
        for feature, count in answer.missing_features.items():
            self.missing.inc(count, tags={"feature": feature})

    def appended(self, result: Any) -> None:
        """What one /events batch did."""
        for outcome in ("appended", "duplicates", "too_old", "not_behaviour"):
            count = getattr(result, outcome)
            if count:
                self.events.inc(count, tags={"outcome": outcome})
