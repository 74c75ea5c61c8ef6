"""Load the Feast feature repo and open its store, in process.

`feast apply` imports every `.py` of the repo by module name with the repo on
`sys.path`. recplat does the same but removes those modules again afterwards,
so two repos (a test's copy and the real one) never share cached modules.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feast import FeatureStore


def repo_files(repo: Path) -> list[Path]:
    """The definition files of a feature repo, as `feast apply` would import them."""
    from feast.repo_operations import get_repo_files

    return [p for p in get_repo_files(repo.resolve()) if p.parent == repo.resolve()]


def load_definitions(repo: Path) -> list[Any]:
    """Import the repo's definition files and collect its Feast objects.

    Args:
        repo: The feature repo folder.

    Returns:
        Entities, data sources, feature views and feature services, each once.
    """
    from feast import Entity, FeatureService, FeatureView
    from feast.data_source import DataSource
    from feast.on_demand_feature_view import OnDemandFeatureView

    kinds = (Entity, DataSource, FeatureView, OnDemandFeatureView, FeatureService)
    root = str(repo.resolve())
    names = [p.stem for p in repo_files(repo)]
    before = set(sys.modules)
    sys.path.insert(0, root)
    objects: list[Any] = []
    try:
        for name in names:
            module = importlib.import_module(name)
            for attr in vars(module).values():
                if isinstance(attr, kinds) and not any(attr is o for o in objects):
                    objects.append(attr)
    finally:
        sys.path.remove(root)
        for name in set(sys.modules) - before:
            module = sys.modules[name]
            if str(getattr(module, "__file__", "") or "").startswith(root):
                del sys.modules[name]
    return objects


@contextmanager
def quiet_library_warnings() -> Iterator[None]:
    """Silence deprecation chatter that Feast's duckdb/ibis path prints on every call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def open_store(repo: Path) -> FeatureStore:
    """A `FeatureStore` over the repo's feature_store.yaml."""
    from feast import FeatureStore

    return FeatureStore(repo_path=str(repo.resolve()))


def apply_repo(repo: Path) -> list[str]:
    """Register the repo's definitions, like `feast -c REPO apply`.

    Returns:
        Names of the applied objects.
    """
    store = open_store(repo)
    objects = load_definitions(repo)
    store.apply(objects)
    for obj in objects:
        _empty_written_back_source(obj)
    return [f"{type(o).__name__}:{o.name}" for o in objects]


def _empty_written_back_source(view: Any) -> None:
    """An empty, typed source file for a view a job writes later (tag `written_by`), so
    bare `feast materialize` and historical reads work before the job's first run."""
    from feast import FeatureView, FileSource

    if not isinstance(view, FeatureView) or "written_by" not in view.tags:
        return
    source = view.batch_source
    if not isinstance(source, FileSource) or Path(source.path).exists():
        return
    import pyarrow as pa
    import pyarrow.parquet as pq
    from feast.type_map import feast_value_type_to_pa

    fields = [
        pa.field(f.name, feast_value_type_to_pa(f.dtype.to_value_type()))
        for f in (*view.entity_columns, *view.features)
    ]
    fields.append(pa.field(source.timestamp_field, pa.timestamp("us", tz="UTC")))
    Path(source.path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.schema(fields).empty_table(), source.path)
