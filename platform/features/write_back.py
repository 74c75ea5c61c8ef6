"""A batch job's rows written back as a feature view: gated, kept offline, written online.

Jobs that compute features (`recplat forecast-demand`, `recplat score`) write the
view their tag `written_by` names: the rows pass the view's suite first, join the
view's offline source beside earlier stamps (its point-in-time history: a row per
key and stamp, the newest write kept) and the newest stamp's rows go online.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd
from recplat.features.online_write import write_view
from recplat.features.repo import open_store
from recplat.io.parquet import read_parquet, write_parquet

if TYPE_CHECKING:
    from recplat.quality.gate import Gate
    from recplat.quality.suites import SuiteSpec
    from recplat.settings import Settings


@dataclass(frozen=True)
class WrittenBack:
    """What a write-back stored."""

    rows: int
    stamp: datetime  # the newest event_timestamp written (a forecast origin, a cutoff)
    offline_path: str
    validation_run_id: int


def write_back(
    *,
    settings: Settings,
    gate: Gate,
    view: str,
    rows: pd.DataFrame,
    spec: SuiteSpec,
    key: str,
    allow: Sequence[str] = (),
) -> WrittenBack:
    """Gate `rows` with `spec`, keep them in `view`'s offline source, write them online.

    Args:
        key: The view's entity column (one row per key and event_timestamp offline).

    Raises:
        ValueError: The view is not registered (`recplat features apply`): nothing written.
        DataQualityError: The rows failed their suite: nothing is written anywhere.
    """
    store = open_store(settings.feature_repo)
    if view not in {v.name for v in store.list_feature_views()}:
        raise ValueError(
            f"feature view {view} is not registered with Feast in {settings.feature_repo}: "
            "run `recplat features apply` first (nothing written)"
        )
    run_id = gate.check(df=rows, spec=spec, allow=allow, stage="write-back")
    path = settings.offline_dir / f"{view}.parquet"
    table = rows
    if path.exists():  # earlier stamps stay: the point-in-time history of the view
        table = pd.concat([read_parquet(path), rows], ignore_index=True)
        table = table.drop_duplicates([key, "event_timestamp"], keep="last")
    write_parquet(table.reset_index(drop=True), path)
    stamp = pd.Timestamp(rows["event_timestamp"].max()).to_pydatetime()
    write_view(
        store=store,
        view_name=view,
        table=rows,
        start=stamp - timedelta(days=3650),
        end=stamp + timedelta(seconds=1),
    )
    return WrittenBack(
        rows=len(rows), stamp=stamp, offline_path=str(path), validation_run_id=run_id
    )
