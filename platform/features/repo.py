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
    return [f"{type(o).__name__}:{o.name}" for o in objects]
