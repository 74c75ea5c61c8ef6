"""Online features for one ranking request, read from Feast's online store.

The reader resolves the feature service once. Each request then reads every
feature view's rows in one round trip, with the store's own layout computed
by Feast's own helpers (`online_layout`, shared with the bulk writer and the
sequence append, so the three address the same rows): for SQLite one `IN`
query on the view's table, for Redis one pipeline of HMGETs on the entity
keys; any other online store goes through its `online_read`. These are the
rows `FeatureStore.get_online_features` reads, without its per-request
planning and response assembly (5-15x the read itself here); a test holds
the two equal on SQLite and Redis. Every request sees what the store holds
now: on SQLite a reader with its own connection keeps decoded item rows only
while the database's `data_version` is unchanged (any commit by any other
connection or process moves it), which takes four fifths of a ranking read
off; otherwise nothing is cached but the serialized entity keys.

On-demand views (the request context) run after the read with the registry's
own function, over the request fields and the stored features they read
(`recplat.features.on_demand`), as the training set's join runs them.

With a `timeout_s`, SQLite and Redis reads use their own connection whose
client enforces the deadline (SQLite's busy timeout; Redis socket timeouts,
no retries): a locked or unreachable store raises within it, so the caller
can read on its own thread instead of handing each read to a watchdog one.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from recplat.features.encoding import fill_missing
from recplat.features.on_demand import service_reads
from recplat.features.online_layout import (
    backend,
    entity_key,
    entity_key_proto,
    python_value,
    redis_client,
    sqlite_connection,
    sqlite_path,
    sqlite_table,
    versioned_view_name,
)

if TYPE_CHECKING:
    from feast import FeatureStore


@dataclass(frozen=True)
class RequestFeatures:
    """What the online store holds for one (user, candidates) request.

    `user`: each user-keyed feature (profile, sequence), None when missing;
    `items`: each item-keyed feature and each on-demand (request context) feature,
    one value per candidate, None when missing.
    """

    user_id: int
    item_ids: list[int]
    user: dict[str, Any]
    items: dict[str, list[Any]]

    @property
    def unknown_user(self) -> bool:
        """No user-keyed row at all for the user (a sequence alone counts as known)."""
        return all(v is None for v in self.user.values())

    @property
    def unknown_items(self) -> list[int]:
        """Candidates without item attributes."""
        categories = self.items.get("category_id") or [None] * len(self.item_ids)
        return [i for i, c in zip(self.item_ids, categories, strict=True) if c is None]

    def missing_features(self, names: Collection[str]) -> dict[str, int]:
        """For each of `names` the store had no value for: on how many candidates
        (all of them for a user feature). The model gets the training default."""
        out = {}
        n = len(self.item_ids)
        for name in names:
            if name in self.items:
                count = self.items[name].count(None)
            else:
                count = n if self.user.get(name) is None else 0
            if count:
                out[name] = count
        return out

    @property
    def history_length(self) -> int:
        """Behaviours in the user's stored sequence."""
        return len(self.user.get("hist_item_ids") or [])


class OnlineFeatureReader:
    """Reads user, sequence and item features for (user, candidates) through Feast.

    Args:
        store: The Feast store (online store configured in its yaml).
        feature_service: The service the model was trained on.
        timeout_s: A deadline for each read, enforced by the store client where
            it can (`enforces_deadline` says whether it is).
    """

    def __init__(
        self, *, store: FeatureStore, feature_service: str, timeout_s: float | None = None
    ) -> None:
        self.store = store
        reads = service_reads(store=store, feature_service=feature_service)
        self.on_demand = reads.on_demand
        # (view, join key, feature names) per stored view the service reads.
        self.parts: list[tuple[Any, str, list[str]]] = []
        for name, names in reads.stored.items():
            view = store.get_feature_view(name)
            join_keys = [column.name for column in view.entity_columns]
            if join_keys not in (["user_id"], ["item_id"]):
                raise ValueError(f"feature view {view.name}: keyed by {join_keys}, not user/item")
            self.parts.append((view, join_keys[0], list(names)))
        self._rows, self.enforces_deadline = row_reader(store, timeout_s=timeout_s)

    def read(
        self, *, user_id: int, item_ids: list[int], request: dict[str, Any] | None = None
    ) -> RequestFeatures:
        """The raw values (one round trip to Redis; one query per view on SQLite), and
        the on-demand features computed from them and `request` (the request fields,
        e.g. `request_time_s` and `device`; default: now, unknown device)."""
        user: dict[str, Any] = {}
        items: dict[str, list[Any]] = {}
        requests = [
            (view, join_key, [user_id] if join_key == "user_id" else item_ids, names)
            for view, join_key, names in self.parts
        ]
        for (_, join_key, _, names), values in zip(requests, self._rows(requests), strict=True):
            if join_key == "user_id":
                user.update({name: values[0].get(name) for name in names})
            else:
                items.update({name: [v.get(name) for v in values] for name in names})
        if self.on_demand:
            items.update(self._on_demand(user, items, len(item_ids), request or {}))
        return RequestFeatures(user_id=user_id, item_ids=list(item_ids), user=user, items=items)

    def _on_demand(
        self, user: dict[str, Any], items: dict[str, list[Any]], n: int, request: dict[str, Any]
    ) -> dict[str, list[Any]]:
        fields = {"request_time_s": int(time.time()), "device": "unknown", **request}
        columns: dict[str, Any] = {}
        for demand in self.on_demand:
            for name in demand.request:
                columns[name] = [fields.get(name)] * n
            for features in demand.sources.values():
                for name in features:
                    columns[name] = items[name] if name in items else [user.get(name)] * n
        out: dict[str, list[Any]] = {}
        for demand in self.on_demand:
            out.update(demand.compute_columns(columns))
        return out

    def fetch(
        self, *, user_id: int, item_ids: list[int], request: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """One row per candidate, missing values filled as in training.

        The frame's `attrs` say whether the user and which items were unknown.
        """
        found = self.read(user_id=user_id, item_ids=item_ids, request=request)
        n = len(item_ids)
        frame = pd.DataFrame(
            {
                "user_id": [user_id] * n,
                "item_id": list(item_ids),
                **{name: [value] * n for name, value in found.user.items()},
                **found.items,
            }
        )
        frame = fill_missing(frame)
        frame.attrs.update(unknown_user=found.unknown_user, unknown_items=found.unknown_items)
        return frame


# One read: (view, join key, entity ids, feature names).
RowRequest = tuple[Any, str, list[int], list[str]]
# For each request, one dict (feature -> Python value) per entity id; {} when missing.
Rows = list[dict[str, Any]]
# Serialized values this short are scalars or tiny lists: counts, buckets and rates
# repeat across items and requests, so their decoding is cached by their bytes.
SHORT_VALUE = 24
# Item rows a SQLite reader keeps decoded (per reader; cleared whole beyond it).
CACHED_ROWS = 200_000


@functools.lru_cache(maxsize=1 << 16)
def _short(raw: bytes) -> Any:
    from feast.protos.feast.types.Value_pb2 import Value

    return python_value(Value.FromString(raw))


def decode(raw: bytes) -> Any:
    """A serialized Feast value as Python (`python_value`); short ones from a cache,
    lists copied so no caller shares one."""
    if len(raw) <= SHORT_VALUE:
        value = _short(raw)
        return list(value) if isinstance(value, list) else value
    from feast.protos.feast.types.Value_pb2 import Value

    return python_value(Value.FromString(raw))


RowReader = Callable[[list[RowRequest]], list[Rows]]


def row_reader(store: FeatureStore, *, timeout_s: float | None = None) -> tuple[RowReader, bool]:
    """The fastest correct way to read rows from this store's online store, and whether
    its client enforces `timeout_s` (only SQLite and plain Redis do, and only when set)."""

    config = store.config
    version = config.entity_key_serialization_version
    kind = backend(config)

    if kind == "sqlite":
        import sqlite3

        if timeout_s is None:
            conn = sqlite_connection(store)
        else:  # our own connection: its busy timeout is the deadline (Feast's waits 5 s)
            conn = sqlite3.connect(sqlite_path(store), timeout=timeout_s, check_same_thread=False)
        # Decoded rows of item-keyed views, kept while the database is unchanged: SQLite's
        # data_version moves on any other connection's commit (a materialization, an event
        # appended, on any process), so a cached row is always what the store holds now.
        # Only on our own connection: a commit through the same one would not move it.
        cache: dict[tuple[str, bytes], dict[str, Any]] | None = None if timeout_s is None else {}
        state = {"version": -1}

        def sqlite_view(view: Any, join_key: str, ids: list[int], names: list[str]) -> Rows:
            keys = [entity_key(join_key, i, version) for i in ids]
            table = sqlite_table(config, view).replace('"', '""')
            kept = cache if cache is not None and join_key == "item_id" else None
            scope = f"{table}:{','.join(names)}"
            wanted = (
                keys if kept is None else [k for k in dict.fromkeys(keys) if (scope, k) not in kept]
            )
            found: dict[bytes, dict[str, Any]] = {}
            if wanted:
                for entity, name, value in conn.execute(
                    f'SELECT entity_key, feature_name, value FROM "{table}" '
                    f"WHERE entity_key IN ({','.join('?' * len(wanted))}) "
                    f"AND feature_name IN ({','.join('?' * len(names))})",
                    [*wanted, *names],
                ):
                    found.setdefault(entity, {})[name] = decode(value)
            if kept is None:
                return [found.get(k, {}) for k in keys]
            for k in wanted:
                kept[(scope, k)] = found.get(k, {})
            return [kept[(scope, k)] for k in keys]

        def sqlite_rows(requests: list[RowRequest]) -> list[Rows]:
            if cache is not None:
                now = conn.execute("PRAGMA data_version").fetchone()[0]
                if now != state["version"] or len(cache) > CACHED_ROWS:
                    cache.clear()
                    state["version"] = now
            return [sqlite_view(*r) for r in requests]

        return sqlite_rows, timeout_s is not None

    if kind == "redis":
        import redis
        from feast.infra.online_stores.helpers import _mmh3
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = redis_client(store)
        native = timeout_s is not None and isinstance(client, redis.Redis)
        if native:  # the same server and options, but every wait bounded and no retries
            client = redis.Redis(
                **client.connection_pool.connection_kwargs
                | {
                    "socket_timeout": timeout_s,
                    "socket_connect_timeout": timeout_s,
                    "retry": Retry(NoBackoff(), 0),
                }
            )
        project = config.project.encode("utf-8")
        field = functools.lru_cache(maxsize=256)(lambda view, name: _mmh3(f"{view}:{name}"))
        # Hash fields are named from the versioned view name, as the writer names them.
        versioned: dict[str, str] = {}

        def redis_rows(requests: list[RowRequest]) -> list[Rows]:
            with client.pipeline(transaction=False) as pipe:  # every view, one round trip
                for view, join_key, ids, names in requests:
                    name = versioned.get(view.name) or versioned.setdefault(
                        view.name, versioned_view_name(config, view)
                    )
                    hashes = [field(name, n) for n in names]
                    for i in ids:
                        pipe.hmget(entity_key(join_key, i, version) + project, hashes)
                replies = iter(pipe.execute())
            return [
                [
                    {n: decode(v) for n, v in zip(names, next(replies), strict=True) if v}
                    for _ in ids
                ]
                for _, _, ids, names in requests
            ]

        return redis_rows, native

    provider = store._get_provider()

    def feast_view(view: Any, join_key: str, ids: list[int], names: list[str]) -> Rows:
        rows = provider.online_read(
            config=config,
            table=view,
            entity_keys=[entity_key_proto(join_key, i) for i in ids],
            requested_features=list(names),  # a copy: some stores append to it
        )
        return [{n: python_value(v) for n, v in (row or {}).items()} for _, row in rows]

    return (lambda requests: [feast_view(*r) for r in requests]), False
