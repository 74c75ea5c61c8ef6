"""On-demand feature views, computed the way Feast computes them, offline and online.

Feast keeps an on-demand view's function in the registry and runs it on the
rows its sources give (stored features and request fields). recplat does the
same with the registry's own function: the point-in-time join runs it over
the training rows, the online reader over one request's candidates, so a
training row and a ranking request get the same values from the same code.
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


def on_demand_views(*, store: FeatureStore, feature_service: str) -> list[OnDemand]:
    """The service's on-demand views, with their sources resolved from the registry."""
    service = store.get_feature_service(feature_service)
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
