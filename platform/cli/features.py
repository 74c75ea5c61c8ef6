"""`recplat features ...`: feature tables, the Feast registry and the online store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from recplat.cli.common import AllowFailures, FeatureRepo, Home, console, context_from, guard
from rich import box
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

features_app = typer.Typer(
    help="Feature tables, Feast registry, online store.", no_args_is_help=True
)
ARRAY_SHOWN = 8  # array values shown by get-online before "..."


@features_app.command("build")
def features_build(
    allow_failures: AllowFailures = None, feature_repo: FeatureRepo = None, home: Home = None
) -> None:
    """Compute the offline feature tables from the accepted events, gate and publish them."""
    from recplat.features.build import build_features

    ctx = context_from(feature_repo, home)
    with console.status("building and validating feature tables..."):
        result = guard(
            lambda: build_features(
                settings=ctx.settings, gate=ctx.gate, allow=tuple(allow_failures or ())
            )
        )
    table = Table("table", "rows", "validation run", title="published feature tables")
    for name, rows in result.rows.items():
        table.add_row(name, f"{rows:,}", str(result.validation_run_ids[name]))
    console.print(table)


@features_app.command("apply")
def features_apply(feature_repo: FeatureRepo = None, home: Home = None) -> None:
    """Register the feature repo with Feast (same as `feast -c feature_repo apply`)."""
    from recplat.features.repo import apply_repo

    ctx = context_from(feature_repo, home)
    with console.status("applying feature definitions..."):
        names = apply_repo(ctx.settings.feature_repo)
    table = Table("kind", "name", title="applied")
    for name in names:
        kind, _, obj = name.partition(":")
        table.add_row(kind, obj)
    console.print(table)


@features_app.command("materialize")
def features_materialize(
    allow_failures: AllowFailures = None, feature_repo: FeatureRepo = None, home: Home = None
) -> None:
    """Gate the published tables, load them into the online store, check a read-back sample."""
    from recplat.features.build import materialize
    from recplat.quality.online import check_online

    ctx = context_from(feature_repo, home)
    allow = tuple(allow_failures or ())
    with console.status("validating and materializing..."):
        start, end = guard(lambda: materialize(settings=ctx.settings, gate=ctx.gate, allow=allow))
    console.print(
        f"materialized {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC into the online store"
    )
    with console.status("reading a sample back from the online store..."):
        run_id = guard(lambda: check_online(settings=ctx.settings, gate=ctx.gate, allow=allow))
    console.print(f"online read-back sample passed (validation run #{run_id})")


@features_app.command("materialize-incremental")
def features_materialize_incremental(
    allow_failures: AllowFailures = None, feature_repo: FeatureRepo = None, home: Home = None
) -> None:
    """Move only new rows: each view from where its last materialization ended."""
    from recplat.features.build import materialize_incremental

    ctx = context_from(feature_repo, home)
    allow = tuple(allow_failures or ())
    with console.status("validating and materializing new rows..."):
        moved = guard(
            lambda: materialize_incremental(settings=ctx.settings, gate=ctx.gate, allow=allow)
        )
    table = Table("view", "from (UTC)", "to (UTC)", "rows", title="materialized incrementally")
    for m in moved:
        table.add_row(
            m.view, f"{m.start:%Y-%m-%d %H:%M:%S}", f"{m.end:%Y-%m-%d %H:%M:%S}", f"{m.rows:,}"
        )
    console.print(table if moved else "nothing new to materialize")


def _last_end(view: Any) -> str:
    end = view.most_recent_end_time
    return f"{end:%Y-%m-%d %H:%M}" if end else "never"


@features_app.command("list")
def features_list(feature_repo: FeatureRepo = None, home: Home = None) -> None:
    """Registered feature views and feature services (run `recplat features apply` first)."""
    from recplat.features.repo import open_store

    ctx = context_from(feature_repo, home)
    store = open_store(ctx.settings.feature_repo)
    views = Table(
        "view", "entities", "features", "source", "online", "materialized to (UTC)",
        title="feature views", box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for view in sorted(store.list_feature_views(), key=lambda v: v.name):
        source = view.stream_source or view.batch_source
        views.add_row(
            view.name,
            ", ".join(view.entities),
            str(len(view.features)),
            source.name if source else "none",
            "yes" if view.online else "no",
            _last_end(view),
        )
    console.print(views)
    on_demand = Table(
        "on-demand view", "features", "inputs", "request fields", title="on-demand feature views",
        box=box.SIMPLE_HEAD,
    )  # fmt: skip
    for odfv in sorted(store.list_on_demand_feature_views(), key=lambda v: v.name):
        inputs, request = _odfv_inputs(odfv)
        on_demand.add_row(odfv.name, str(len(odfv.features)), inputs, request)
    if on_demand.row_count:
        console.print(on_demand)
    services = Table(
        "service", "features", "description", title="feature services", box=box.SIMPLE_HEAD
    )
    for service in sorted(store.list_feature_services(), key=lambda s: s.name):
        n = sum(len(p.features) for p in service.feature_view_projections)
        services.add_row(service.name, str(n), escape(service.description or ""))
    console.print(services)


@features_app.command("describe")
def features_describe(
    name: Annotated[str, typer.Argument(help="A feature view or feature service name.")],
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Fields, types, source, TTL and materialization of a view; the features of a service."""
    from feast.errors import FeatureServiceNotFoundException, FeatureViewNotFoundException
    from recplat.features.repo import open_store

    ctx = context_from(feature_repo, home)
    store = open_store(ctx.settings.feature_repo)
    odfvs = {v.name: v for v in store.list_on_demand_feature_views()}
    if name in odfvs:
        fields = Table(
            "feature", "type", title=f"on-demand feature view {name}", box=box.SIMPLE_HEAD
        )
        for feature in odfvs[name].features:
            fields.add_row(feature.name, str(feature.dtype))
        inputs, request = _odfv_inputs(odfvs[name])
        console.print(escape(odfvs[name].description or ""))
        console.print(fields)
        console.print(f"inputs: {inputs}\nrequest fields: {request}")
        return
    try:
        view = store.get_feature_view(name)
    except FeatureViewNotFoundException:
        try:
            service = store.get_feature_service(name)
        except FeatureServiceNotFoundException:
            known = sorted(
                [v.name for v in store.list_feature_views()]
                + list(odfvs)
                + [s.name for s in store.list_feature_services()]
            )
            console.print(f"[red]no feature view or service {name!r}; known: {known}[/]")
            raise typer.Exit(1) from None
        table = Table(
            "view", "feature", "type", title=f"feature service {name}", box=box.SIMPLE_HEAD
        )
        for projection in service.feature_view_projections:
            for feature in projection.features:
                table.add_row(projection.name, feature.name, str(feature.dtype))
        console.print(escape(service.description or ""))
        console.print(table)
        return
    fields = Table(
        "feature", "type", "description", title=f"feature view {name}", box=box.SIMPLE_HEAD
    )
    for feature in view.features:
        fields.add_row(feature.name, str(feature.dtype), escape(feature.description or ""))
    console.print(fields)
    batch = view.batch_source
    facts = {
        "entities": ", ".join(view.entities),
        "ttl": str(view.ttl),
        "offline source": f"{batch.name} ({getattr(batch, 'path', '')})" if batch else "none",
        "push source": view.stream_source.name if view.stream_source else "none",
        "online": "yes" if view.online else "no",
        "materialized to (UTC)": _last_end(view),
        "tags": ", ".join(f"{k}={v}" for k, v in sorted(view.tags.items())) or "none",
    }
    about = Table(show_header=False, box=box.SIMPLE_HEAD)
    for key, value in facts.items():
        about.add_row(key, escape(value))
    console.print(about)


def _odfv_inputs(odfv: Any) -> tuple[str, str]:
    """An on-demand view's feature-view inputs and the request fields it needs."""
    views = ", ".join(
        f"{p.name}[{', '.join(f.name for f in p.features)}]"
        for p in odfv.source_feature_view_projections.values()
    )
    request = ", ".join(
        f"{f.name} ({f.dtype})"
        for source in odfv.source_request_sources.values()
        for f in source.schema
    )
    return views or "none", request or "none"


def _shown(value: Any) -> str:
    if isinstance(value, list):
        head = ", ".join(str(v) for v in value[-ARRAY_SHOWN:])
        return f"[{'..., ' if len(value) > ARRAY_SHOWN else ''}{head}] ({len(value)})"
    return "null" if value is None else str(value)


@features_app.command("get-online")
def features_get_online(
    *,
    user_id: Annotated[int, typer.Option(help="The user.")],
    item_id: Annotated[
        list[int] | None, typer.Option(help="A candidate item (repeat for more).")
    ] = None,
    service: Annotated[str, typer.Option(help="Feature service to read.")] = "din_ranker_v1",
    device: Annotated[
        str, typer.Option(help="Request device, for services with the context view.")
    ] = "unknown",
    request_time: Annotated[
        int | None,
        typer.Option(help="Request time, epoch seconds (default now), for the context view."),
    ] = None,
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Read features from the online store through Feast (the values the ranking API reads)."""
    from feast.errors import FeatureServiceNotFoundException
    from recplat.features.repo import open_store

    ctx = context_from(feature_repo, home)
    store = open_store(ctx.settings.feature_repo)
    try:
        features = store.get_feature_service(service)
    except FeatureServiceNotFoundException:
        console.print(f"[red]no feature service {service!r}; see `recplat features list`[/]")
        raise typer.Exit(1) from None
    items = item_id or [0]
    rows: list[dict[str, Any]] = [{"user_id": user_id, "item_id": i} for i in items]
    on_demand = {v.name for v in store.list_on_demand_feature_views()}
    if on_demand & {p.name for p in features.feature_view_projections}:  # request data
        when = request_time if request_time is not None else int(time.time())
        rows = [row | {"request_time_s": when, "device": device} for row in rows]
    found = store.get_online_features(features=features, entity_rows=rows).to_dict()
    table = Table("feature", *(f"item {i}" for i in items), title=f"{service}, user {user_id}")
    for name, values in found.items():
        table.add_row(name, *(escape(_shown(v)) for v in values))
    console.print(table)


def _read_events(path: Path) -> pd.DataFrame:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".json"):
        raise ValueError(f"{path}: expected .parquet, .csv or .json, got {path.suffix!r}")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".csv":
        frame = pd.read_csv(path)
    else:
        frame = pd.read_json(path, orient="records")
    if "event_timestamp" in frame:
        frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    return frame


@features_app.command("append")
def features_append(
    path: Annotated[
        Path,
        typer.Argument(
            help="Events (.parquet, .csv or .json): event_id, "
            "user_id, item_id, event_timestamp, event_type, clicked."
        ),
    ],
    feature_repo: FeatureRepo = None,
    home: Home = None,
) -> None:
    """Append behaviour events to the online sequences (what POST /events does)."""
    from recplat.features.append import append_events
    from recplat.features.repo import open_store

    ctx = context_from(feature_repo, home)
    events = guard(lambda: _read_events(path))
    store = open_store(ctx.settings.feature_repo)
    result = guard(
        lambda: append_events(store=store, events=events, max_len=ctx.settings.sequence_length)
    )
    table = Table(
        "received",
        "appended",
        "duplicates",
        "too old",
        "not behaviour",
        "users",
        title="appended to the online sequences",
    )
    table.add_row(
        *(
            f"{v:,}"
            for v in (
                result.received,
                result.appended,
                result.duplicates,
                result.too_old,
                result.not_behaviour,
                result.users,
            )
        )
    )
    console.print(table)
