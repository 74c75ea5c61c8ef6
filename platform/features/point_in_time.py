"""Point-in-time joins over the published Parquet tables, vectorized.

What `FeatureStore.get_historical_features` computes for a feature service whose
views read Parquet files (recplat's offline tables), without building a Python
object per list element: for every entity row and view, the view's newest row
with the same key stamped at or before the row's time and not older than the
view's TTL (Feast's rule, inclusive). Rows without one get nulls, or empty lists
for list features.

How: each view's rows and the entity rows are sorted together by (key, time),
feature rows first on a tie; a running maximum over the feature rows' positions
then gives every entity row its newest earlier feature row, which counts if it
has the same key and is within the TTL. List features stay Arrow lists
(offsets + one flat array): a gather moves 50-long sequences for a million rows
in a few array operations, and `pd.ArrowDtype` columns carry them on.

Equal to Feast's join by test (`tests/data/test_point_in_time.py`); the
benchmark is `benchmarks/training_set.py`. On-demand views run after the join,
with the registry's own function (`recplat.features.on_demand`), over the stored
features they read (joined too) and the entity rows' request columns. Services
with non-file sources are refused (`UnsupportedServiceError`): use Feast's join.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from recplat.features.offline import epoch_micros
from recplat.features.on_demand import ServiceReads, service_reads
from recplat.io.arrow_lists import flat_arrays

if TYPE_CHECKING:
    from feast import FeatureStore


class UnsupportedServiceError(ValueError):
    """The service needs something this join does not do (Feast's join does)."""


@dataclass(frozen=True)
class ViewJoin:
    """One view of a service, as the join needs it."""

    name: str
    path: str
    join_key: str
    timestamp_field: str
    features: tuple[str, ...]
    ttl_us: int | None  # None: no TTL


def service_views(*, store: FeatureStore, reads: ServiceReads) -> list[ViewJoin]:
    """The views (file source, one join key) and features a service reads, with the
    stored features its on-demand views read added (`service_reads`).

    Raises:
        UnsupportedServiceError: A non-file source, or a composite key.
    """
    from feast.infra.offline_stores.file_source import FileSource

    out = []
    for name, names in reads.stored.items():
        view = store.get_feature_view(name)
        source = view.batch_source
        if not isinstance(source, FileSource):
            raise UnsupportedServiceError(f"{name}: source is not a file")
        keys = [c.name for c in view.entity_columns]
        if len(keys) != 1:
            raise UnsupportedServiceError(f"{name}: join keys {keys} (one supported)")
        ttl = view.ttl
        ttl_us = int(ttl.total_seconds() * 1e6) if ttl and ttl.total_seconds() > 0 else None
        out.append(
            ViewJoin(
                name=view.name,
                path=str(source.path),
                join_key=reads.join_key_maps.get(name, {}).get(keys[0], keys[0]),
                timestamp_field=source.timestamp_field,
                features=tuple(names),
                ttl_us=ttl_us,
            )
        )
    return out


def asof_rows(
    *,
    feature_keys: np.ndarray,
    feature_us: np.ndarray,
    entity_keys: np.ndarray,
    entity_us: np.ndarray,
    ttl_us: int | None,
) -> np.ndarray:
    """For each entity row, the index of its newest feature row (same key, time <= its
    time, within the TTL), or -1. Ties between feature rows: the later row wins."""
    n_f = len(feature_keys)
    keys = np.concatenate([feature_keys, entity_keys])
    times = np.concatenate([feature_us, entity_us])
    # Feature rows before entity rows at equal (key, time): the join is inclusive.
    kind = np.concatenate([np.zeros(n_f, np.int8), np.ones(len(entity_keys), np.int8)])
    order = np.lexsort((kind, times, keys))
    # Feature rows in sorted order get increasing ranks; entity rows carry -1 and then
    # take the running maximum: the newest feature row sorted before them.
    is_feature = order < n_f
    rank = np.where(is_feature, np.cumsum(is_feature) - 1, -1)
    newest = np.maximum.accumulate(rank) if len(rank) else rank
    feature_order = order[is_feature]  # rank -> feature row
    found = np.full(len(entity_keys), -1, dtype=np.int64)
    entity_pos = order[~is_feature] - n_f
    hit = newest[~is_feature]
    rows = np.where(hit >= 0, feature_order[np.maximum(hit, 0)], -1)
    ok = rows >= 0
    ok[ok] = feature_keys[rows[ok]] == entity_keys[entity_pos[ok]]
    if ttl_us is not None:
        ok[ok] = entity_us[entity_pos[ok]] - feature_us[rows[ok]] <= ttl_us
    found[entity_pos[ok]] = rows[ok]
    return found


def take_lists(column: pa.ChunkedArray | pa.Array, rows: np.ndarray) -> pa.ListArray:
    """Row `rows[i]` of a list column for each i; an empty list where rows[i] is -1."""
    offsets, values = flat_arrays(column)
    have = rows >= 0
    starts = np.where(have, offsets[np.maximum(rows, 0)], 0)
    lengths = np.where(have, offsets[np.maximum(rows, 0) + 1] - starts, 0)
    new_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    total = int(new_offsets[-1])
    # Flat index: each output row's run starts at its source start.
    shift = np.repeat(starts - new_offsets[:-1], lengths)
    gathered = values[np.arange(total, dtype=np.int64) + shift]
    return pa.LargeListArray.from_arrays(pa.array(new_offsets), pa.array(gathered))


def _take_scalars(values: pa.ChunkedArray, rows: np.ndarray) -> pd.Series:
    # Missing -> null; ints come out as float with NaN, as from Feast's join.
    taken = values.take(pa.array(np.where(rows >= 0, rows, 0)))
    mask = pa.array(rows < 0)
    masked = pc.if_else(mask, pa.scalar(None, type=taken.type), taken)
    return masked.to_pandas()


def join_view(*, view: ViewJoin, entities: pd.DataFrame, entity_us: np.ndarray) -> dict[str, Any]:
    """One view's features for every entity row (see the module doc)."""
    columns = [view.join_key, view.timestamp_field, *view.features]
    table = pq.read_table(view.path, columns=columns)
    stamps = table.column(view.timestamp_field).to_pandas()
    rows = asof_rows(
        feature_keys=table.column(view.join_key).to_numpy().astype(np.int64),
        feature_us=epoch_micros(stamps),
        entity_keys=entities[view.join_key].to_numpy(np.int64),
        entity_us=entity_us,
        ttl_us=view.ttl_us,
    )
    out: dict[str, Any] = {}
    for feature in view.features:
        column = table.column(feature)
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            out[feature] = pd.Series(pd.arrays.ArrowExtensionArray(take_lists(column, rows)))
        else:
            out[feature] = _take_scalars(column, rows)
    return out


def historical_frame(
    *, store: FeatureStore, entities: pd.DataFrame, feature_service: str
) -> pd.DataFrame:
    """The entity rows with the service's features joined as of each row's time.

    Args:
        store: The Feast store (its registry names the views, sources and TTLs).
        entities: Rows with the views' join keys and `event_timestamp`.
        feature_service: The service whose features are joined.

    Returns:
        `entities` (same order and index reset) plus one column per feature; list
        features as `pd.ArrowDtype` large lists, empty where the row had no value.

    Raises:
        UnsupportedServiceError: See `service_views`.
    """
    reads = service_reads(store=store, feature_service=feature_service)
    views = service_views(store=store, reads=reads)
    entity_us = epoch_micros(entities["event_timestamp"])
    out = entities.reset_index(drop=True)
    joined: dict[str, Any] = {}
    for view in views:
        joined.update(join_view(view=view, entities=out, entity_us=entity_us))
    frame = pd.concat([out, pd.DataFrame(joined, index=out.index)], axis=1)
    for demand in reads.on_demand:
        computed = demand.compute(frame)
        frame[list(computed.columns)] = computed
    return frame
