"""Behaviour steps read from the online store: every user's `user_sequence` (the newest N
clicks and purchases, with categories and times), as a step log.

A model trained with `inputs: sequence` reads exactly these: its training rows are
built from the accepted log cut to the newest N behaviours and without amounts,
which is what the sequence view holds; a test holds the two equal. The read goes
through recplat's online row reader (one `IN` query per chunk on SQLite, one
pipeline per chunk on Redis), the rows Feast's `get_online_features` returns.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from recplat.events.schema import BEHAVIOUR_TYPES
from recplat.features.online_read import row_reader
from recplat.propensity.rows import StepLog, steps_from_arrays

if TYPE_CHECKING:
    from feast import FeatureStore

VIEW = "user_sequence"
FIELDS = ("hist_item_ids", "hist_category_ids", "hist_behaviour_types", "hist_timestamps")
BEHAVIOURS = (BEHAVIOUR_TYPES["click"], BEHAVIOUR_TYPES["purchase"])


def _chunks(users: np.ndarray, size: int) -> Iterator[np.ndarray]:
    for lo in range(0, len(users), size):
        yield users[lo : lo + size]


def online_steps(store: FeatureStore, *, users: np.ndarray, chunk: int = 20_000) -> StepLog:
    """The sequences of `users` in the online store, as a step log (users without one
    have no steps; unclicked impressions, if the store keeps them, are left out)."""
    read, _ = row_reader(store)
    view = store.get_feature_view(VIEW)
    names = list(FIELDS)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("user", *FIELDS)}
    for ids in _chunks(np.unique(np.asarray(users, np.int64)), chunk):
        (rows,) = read([(view, "user_id", ids.tolist(), names)])
        for user, row in zip(ids.tolist(), rows, strict=True):
            items = row.get("hist_item_ids")
            if not items:
                continue
            parts["user"].append(np.full(len(items), user, np.int64))
            for name in FIELDS:
                parts[name].append(np.asarray(row.get(name) or [], np.int64))
    if not parts["user"]:
        empty = np.zeros(0, np.int64)
        return steps_from_arrays(user=empty, ts=empty, item=empty, category=empty, kind=empty,
                                 amount=np.zeros(0), quantity=empty)  # fmt: skip
    flat = {k: np.concatenate(v) for k, v in parts.items()}
    keep = np.isin(flat["hist_behaviour_types"], BEHAVIOURS)
    kind = flat["hist_behaviour_types"][keep]
    return steps_from_arrays(
        user=flat["user"][keep],
        ts=flat["hist_timestamps"][keep] // 1_000_000,  # epoch microseconds -> seconds
        item=flat["hist_item_ids"][keep],
        category=flat["hist_category_ids"][keep],
        kind=kind,
        amount=np.zeros(len(kind)),
        quantity=(kind == BEHAVIOUR_TYPES["purchase"]).astype(np.int64),
    )
