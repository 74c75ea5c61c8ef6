"""The Ray Serve ranking application, built by `build_app(args)`.

    serve run recplat.serving.app:build_app feature_repo=feature_repo model_name=din

or `recplat serve` (which also picks the host and port).
"""

import dataclasses
import hmac
import logging
import threading
import time
from pathlib import Path
from typing import Any, cast

import torch
from fastapi import FastAPI, HTTPException, Request, Security
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, field_validator
from ray import serve
from ray.serve import Application, Deployment
from recplat.features.append import SequenceAppender, micros_since_epoch
from recplat.features.online_read import OnlineFeatureReader
from recplat.features.repo import open_store
from recplat.registry.artifacts import load_artifact
from recplat.registry.store import MetadataStore
from recplat.registry.tables import ModelVersion
from recplat.serving.guard import FeatureGuard
from recplat.serving.metrics import AppMetrics
from recplat.serving.ranker import Ranker
from recplat.serving.schemas import (
    MAX_BODY_BYTES,
    ErrorDetail,
    EventsRequest,
    EventsResponse,
    Health,
    ModelInfo,
    RankRequest,
    RankResponse,
)
from recplat.settings import Settings
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

api = FastAPI(
    title="recplat ranking API",
    description="Rank candidate items for a user with features from the Feast online store.",
    version="1",
)


_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Required when the app has an API key."
)


def check_api_key(*, expected: str | None, given: str | None) -> None:
    """401 without the header, 403 with a wrong key; nothing when no key is configured."""
    if expected is None:
        return
    if not given:
        raise HTTPException(status_code=401, detail="missing X-API-Key header")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=403, detail="wrong API key")


class _BodyLimit:
    """Refuses oversized bodies before they are parsed (413 names the limit).

    Plain ASGI, not `@app.middleware("http")`: Starlette's BaseHTTPMiddleware
    runs every request through an extra task and memory streams (~1 ms here).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY_BYTES:
                    answer = JSONResponse(
                        status_code=413,
                        content={"detail": f"request body over {MAX_BODY_BYTES} bytes"},
                    )
                    await answer(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class _Observe:
    """Counts every answer by route and status and times it (plain ASGI, like `_BodyLimit`);
    records into the replica's `AppMetrics` once the replica has set one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = _state.get("metrics")
        if scope["type"] != "http" or metrics is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def observed(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            metrics.observe(
                path=scope["path"], status=status[0], ms=(time.perf_counter() - started) * 1e3
            )


api.add_middleware(_BodyLimit)
api.add_middleware(_Observe)  # outermost: it sees the 413s too


@api.exception_handler(Exception)
def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # Never a stack trace in a response: log it, answer with a plain message.
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(status_code=500, content={"detail": "internal error; see server logs"})


# Error answers every endpoint with a body may give (422 is FastAPI's own).
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorDetail, "description": "the body is not JSON"},
    401: {"model": ErrorDetail, "description": "the app has an API key and none was sent"},
    403: {"model": ErrorDetail, "description": "wrong API key"},
    413: {"model": ErrorDetail, "description": f"body over {MAX_BODY_BYTES} bytes"},
    500: {"model": ErrorDetail, "description": "unexpected error (details in the server log)"},
}

# Whether this process's app requires a key; set by the replica (one app per process).
_spec = {"requires_key": True}
# The replica's metrics (None outside a replica).
_state: dict[str, AppMetrics | None] = {"metrics": None}


def _openapi() -> dict[str, Any]:
    """The spec, declaring the API-key scheme only when the app has a key (clients and
    contract tests read it). Serve freezes a copy of `api`; this function is shared by
    reference, so it answers for the copy from this process's state."""
    if api.openapi_schema is None:
        spec = get_openapi(
            title=api.title, version=api.version, description=api.description, routes=api.routes
        )
        if not _spec["requires_key"]:
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    operation.pop("security", None)
            spec.get("components", {}).pop("securitySchemes", None)
        api.openapi_schema = spec
    return api.openapi_schema


api.openapi = _openapi  # type: ignore[method-assign]


class Autoscaling(BaseModel):
    """Ray Serve autoscaling of the ranking replicas (queue-length driven)."""

    model_config = ConfigDict(extra="forbid")

    min_replicas: int = Field(default=1, ge=0)
    max_replicas: int = Field(default=4, ge=1)
    target_ongoing_requests: float = Field(
        default=4.0, gt=0, description="requests in flight per replica the autoscaler aims for"
    )


class AppArgs(BaseModel):
    """Arguments of `build_app` (also accepted as `key=value` by `serve run`)."""

    model_config = ConfigDict(extra="forbid")

    feature_repo: str = Field(default="feature_repo", description="Feast feature repo folder")
    database_url: str | None = Field(
        default=None, description="metadata DB; default: SQLite under home"
    )
    home: str = Field(default=".recplat", description="platform home (metadata, models)")
    model_name: str = Field(default="din", description="catalogue name of the model to serve")
    model_version: int | None = Field(default=None, description="default: production, else newest")
    num_replicas: int = Field(default=1, ge=1, description="fixed replica count (no autoscaling)")
    autoscaling: Autoscaling | None = Field(
        default=None, description="scale replicas with load instead of num_replicas"
    )
    # Measured (docs/serving.md, Overload): a replica queues its own requests FIFO, while
    # the proxy polls for a free replica with exponential backoff (25 ms to 0.5 s), so
    # requests waiting there leave the replica idle and throughput collapses. Hence a
    # deep replica queue and a shallow proxy one.
    max_ongoing_requests: int = Field(
        default=24,
        ge=1,
        description="requests a replica takes at once (its own FIFO queue included)",
    )
    max_queued_requests: int = Field(
        default=4,
        ge=-1,
        description="requests the proxy holds waiting for a replica; beyond it, 503 with "
        "Retry-After at once (-1: unbounded)",
    )
    retry_after_s: float = Field(
        default=1.0, ge=0, description="Retry-After of a refused request (seconds, rounded up)"
    )
    user_code_thread: bool = Field(
        default=False,
        description="run requests on a thread apart from the replica's event loop (Ray's "
        "default); off: on the loop, the forward pass does not share the GIL with it",
    )
    api_key: str | None = Field(
        default=None,
        description="require this X-API-Key on /rank, /events and /model (None: open)",
    )
    sequence_length: int = Field(
        default=50, ge=1, description="N: the longest behaviour sequence kept (as built)"
    )
    sequence_impressions: bool = Field(
        default=False,
        description="sequences keep unclicked impressions too (as built with "
        "RECPLAT_SEQUENCE_IMPRESSIONS)",
    )
    feature_timeout_ms: float = Field(
        default=100.0, gt=0, description="per-request feature read deadline; then degraded"
    )
    store_retry_s: float = Field(
        default=1.0, ge=0, description="after a store failure, answer degraded this long"
    )
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        description="intra-op threads of the model per replica (default: Ray's, 1 for "
        "fractional CPUs)",
    )
    model_poll_s: float = Field(
        default=5.0,
        ge=0,
        description="check the registry this often and swap in a newly promoted version "
        "(0: never; ignored when model_version pins one)",
    )

    @field_validator("max_queued_requests")
    @classmethod
    def _queue_bound(cls, value: int) -> int:
        if value == 0:  # Ray Serve takes -1 or a positive bound
            raise ValueError("max_queued_requests: -1 (unbounded) or at least 1")
        return value

    def settings(self) -> Settings:
        """Settings with absolute paths (replicas may start in another directory)."""
        return Settings(
            feature_repo=Path(self.feature_repo).resolve(),
            home=Path(self.home).resolve(),
            database_url=self.database_url,
            sequence_length=self.sequence_length,
            sequence_impressions=self.sequence_impressions,
        )


@serve.deployment(
    ray_actor_options={
        "num_cpus": 0.5,
        "runtime_env": {"env_vars": {"RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0"}},
    },
    max_ongoing_requests=24,
)
@serve.ingress(api)
class RankingService:
    """Loads a registered model and the feature store once per replica."""

    def __init__(self, args: AppArgs) -> None:
        # Kept on the replica (module globals are not shared with the pickled class).
        self.args = args
        self.api_key = args.api_key or None
        if args.torch_threads:
            torch.set_num_threads(args.torch_threads)
        # Through the imported module: this class reaches the replica pickled by value, with
        # copies of the module globals it names; `_openapi` reads the module's own.
        from recplat.serving import app as module

        module._spec["requires_key"] = self.api_key is not None
        self.metrics = AppMetrics()
        module._state["metrics"] = self.metrics
        settings = args.settings()
        self.metadata = MetadataStore(url=settings.metadata_url)
        self.store = open_store(settings.feature_repo)
        self.appender = SequenceAppender(
            store=self.store,
            max_len=settings.sequence_length,
            impressions=settings.sequence_impressions,
        )
        version = self.metadata.resolve(model_name=args.model_name, version=args.model_version)
        # One reference, swapped whole: a request reads the version and its ranker together.
        self.live: tuple[ModelVersion, Ranker] = (version, self._ranker(version))
        log.info("serving %s version %d", version.model_name, version.version)
        if args.model_version is None and args.model_poll_s > 0:
            threading.Thread(target=self._follow_registry, daemon=True).start()

    def _ranker(self, version: ModelVersion) -> Ranker:
        artifact = load_artifact(Path(version.artifact_path))
        timeout_s = self.args.feature_timeout_ms / 1e3
        reader = OnlineFeatureReader(
            store=self.store, feature_service=artifact.feature_service, timeout_s=timeout_s
        )
        guard = FeatureGuard(reader, timeout_s=timeout_s, retry_after_s=self.args.store_retry_s)
        ranker = Ranker(artifact=artifact, reader=reader, version=version.version, guard=guard)
        # Warm up: the first Feast read and forward in a process are ~100x slower than the next.
        ranker.rank(RankRequest(user_id=0, candidate_item_ids=[0]))
        return ranker

    def _follow_registry(self) -> None:
        """Swap in a newly promoted version without a restart (requests keep flowing)."""
        while True:
            time.sleep(self.args.model_poll_s)
            try:
                current = self.live[0]
                wanted = self.metadata.resolve(model_name=self.args.model_name)
                if wanted.version != current.version:
                    self.live = (wanted, self._ranker(wanted))
                    log.info("now serving %s version %d", wanted.model_name, wanted.version)
                elif wanted.stage != current.stage:  # same weights, new stage (for /model)
                    self.live = (wanted, self.live[1])
            except Exception:
                log.exception("checking the registry for a promoted version failed; retrying")

    @api.post(
        "/rank",
        response_model=RankResponse,
        summary="Rank candidate items for a user",
        responses=_ERRORS,
    )
    async def rank(
        self, request: RankRequest, api_key: str | None = Security(_key_header)
    ) -> Response:
        # `async`, so it runs on the replica's event loop: a sync endpoint runs in a thread
        # pool, and its forward pass then shares the GIL with the loop (model time 5.5 ms
        # vs 3.3 ms here). The work is CPU-bound and short; the feature read is bounded
        # by the store client's deadline (see FeatureGuard).
        check_api_key(expected=self.api_key, given=api_key)
        answer = self.live[1].rank(request)
        self.metrics.ranked(answer)
        # Serialized once, in Rust; FastAPI would validate the model again before that.
        return Response(content=answer.model_dump_json(), media_type="application/json")

    @api.post(
        "/events",
        response_model=EventsResponse,
        summary="Append behaviour events to the users' online sequences",
        responses=_ERRORS,
    )
    def events(
        self, request: EventsRequest, api_key: str | None = Security(_key_header)
    ) -> EventsResponse:
        check_api_key(expected=self.api_key, given=api_key)
        started = time.perf_counter()
        result = self.appender.append_records(
            [
                (
                    e.event_id,
                    e.user_id,
                    e.item_id,
                    micros_since_epoch(e.timestamp),
                    e.event_type,
                    int(e.clicked),
                )
                for e in request.events
            ]
        )
        self.metrics.appended(result)
        return EventsResponse(
            **dataclasses.asdict(result), total_ms=(time.perf_counter() - started) * 1e3
        )

    @api.get("/healthz", response_model=Health, summary="Liveness and the loaded model")
    def healthz(self) -> Health:
        version = self.live[0]
        return Health(status="ok", model=version.model_name, version=version.version)

    @api.get(
        "/model",
        response_model=ModelInfo,
        summary="The deployed model version",
        responses={k: v for k, v in _ERRORS.items() if k in (401, 403, 500)},
    )
    def model(self, api_key: str | None = Security(_key_header)) -> ModelInfo:
        check_api_key(expected=self.api_key, given=api_key)
        v = self.live[0]
        metrics = {
            k: val for k, val in v.metrics.items() if isinstance(val, (int, float)) or val is None
        }
        return ModelInfo(
            model=v.model_name,
            version=v.version,
            stage=v.stage,
            feature_service=v.feature_service,
            metrics=metrics,
            artifact_path=v.artifact_path,
        )


def build_app(args: AppArgs) -> Application:
    """The ranking application for `serve.run` / `serve run`."""
    from ray.serve.config import BackpressureConfig

    deployment = cast(Deployment, RankingService)  # the decorator made the class a Deployment
    env = {"RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "1" if args.user_code_thread else "0"}
    limits: dict[str, Any] = {
        "max_ongoing_requests": args.max_ongoing_requests,
        "max_queued_requests": args.max_queued_requests,
        "backpressure_config": BackpressureConfig(
            status_code=503, retry_after_s=args.retry_after_s
        ),
        "ray_actor_options": {"num_cpus": 0.5, "runtime_env": {"env_vars": env}},
    }
    if args.autoscaling is not None:
        return deployment.options(autoscaling_config=args.autoscaling.model_dump(), **limits).bind(
            args
        )
    return deployment.options(num_replicas=args.num_replicas, **limits).bind(args)
