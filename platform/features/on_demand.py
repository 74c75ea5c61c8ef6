"""On-demand feature views, computed the way Feast computes them, offline and online.

Feast keeps an on-demand view's function in the registry and runs it on the
rows its sources give (stored features and request fields). recplat does the
same with the registry's own function: the point-in-time join runs it over
the training rows, the online reader over one request's candidates, so a
training row and a ranking request get the same values from the same code.

`service_reads` resolves what a service reads once for both: its on-demand
views and the stored features, its own plus those its on-demand views read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from feast import FeatureStore


@dataclass(frozen=True)
class OnDemand:
    """One on-demand view of a service: what it reads and what the service takes."""

    view: Any  # feast.OnDemandFeatureView
    features: tuple[str, ...]  # the outputs the service asks for
    sources: dict[str, tuple[str, ...]]  # stored view -> features it reads
    request: tuple[str, ...]  # request fields it reads

    @property
    def inputs(self) -> list[str]:
        """The columns the view's function reads."""
        return list(
            dict.fromkeys([*self.request, *(f for fs in self.sources.values() for f in fs)])
        )

    def compute(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The requested outputs for each row of `frame` (which holds the inputs).

        Raises:
            KeyError: An input column is missing (named).
        """
        missing = [c for c in self.inputs if c not in frame]
        if missing:
            raise KeyError(f"on-demand view {self.view.name}: rows lack {missing}")
        if self.view.mode == "python":
            columns = {c: frame[c].tolist() for c in self.inputs}
            return pd.DataFrame(self.compute_columns(columns), index=frame.index)
        out = self.view.feature_transformation.udf(frame[self.inputs].reset_index(drop=True))
        return out[list(self.features)].set_axis(frame.index)

    def compute_columns(self, columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
        """The requested outputs from input columns as lists (one request's rows).

        Raises:
            KeyError: An input column is missing (named).
        """
        missing = [c for c in self.inputs if c not in columns]
        if missing:
            raise KeyError(f"on-demand view {self.view.name}: rows lack {missing}")
        if self.view.mode == "python":  # the function takes and returns lists
            out = self.view.feature_transformation.udf({c: columns[c] for c in self.inputs})
            return {name: list(out[name]) for name in self.features}
        frame = self.compute(pd.DataFrame({c: columns[c] for c in self.inputs}))
        return {name: frame[name].tolist() for name in self.features}


def get_service(*, store: FeatureStore, feature_service: str) -> Any:
    """The registry's feature service.

    Raises:
        KeyError: No such service, named with the repo it was looked for in.
    """
    try:
        return store.get_feature_service(feature_service)
    except Exception as error:
        raise KeyError(
            f"feature service {feature_service!r} is not in the registry of "
            f"{store.repo_path}; re-apply the repo or use a service it has"
        ) from error


def _on_demand(store: FeatureStore, service: Any) -> list[OnDemand]:
    """The service's on-demand views, with their sources resolved from the registry."""
    odfvs = {v.name: v for v in store.list_on_demand_feature_views()}
    out = []
    for projection in service.feature_view_projections:
        view = odfvs.get(projection.name)
        if view is None:
            continue
        sources = {
            p.name: tuple(f.name for f in p.features)
            for p in view.source_feature_view_projections.values()
        }
        request = tuple(
            f.name for source in view.source_request_sources.values() for f in source.schema
        )
        out.append(OnDemand(view, tuple(f.name for f in projection.features), sources, request))
    return out


@dataclass(frozen=True)
class ServiceReads:
    """What a service reads: stored features by view and its on-demand views."""

    stored: dict[str, tuple[str, ...]]  # view -> features, in service order, no repeats
    join_key_maps: dict[str, dict[str, str]]  # the service's projection of each view
    on_demand: list[OnDemand]


def service_reads(*, store: FeatureStore, feature_service: str) -> ServiceReads:
    """The stored features a service reads, its own and those its on-demand views read.

    Raises:
        KeyError: No such service (named).
    """
    service = get_service(store=store, feature_service=feature_service)
    demands = _on_demand(store, service)
    odfvs = {d.view.name for d in demands}
    wanted: dict[str, dict[str, None]] = {}
    join_key_maps: dict[str, dict[str, str]] = {}
    for projection in service.feature_view_projections:
        if projection.name not in odfvs:
            names = dict.fromkeys(f.name for f in projection.features)
            wanted.setdefault(projection.name, {}).update(names)
            join_key_maps[projection.name] = dict(projection.join_key_map)
    for demand in demands:
        for name, features in demand.sources.items():
            wanted.setdefault(name, {}).update(dict.fromkeys(features))
    return ServiceReads(
        stored={name: tuple(names) for name, names in wanted.items()},
        join_key_maps=join_key_maps,
        on_demand=demands,
    )
