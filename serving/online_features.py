"""Online features for one ranking request, in one batched Feast read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from recplat.training.datasets import fill_missing

if TYPE_CHECKING:
    from feast import FeatureStore


class OnlineFeatureReader:
    """Reads user, sequence and item features for (user, candidates) from Feast.

    Args:
        store: The Feast store (online store configured in its yaml).
        feature_service: The service the model was trained on.
    """

    def __init__(self, *, store: FeatureStore, feature_service: str) -> None:
        self.store = store
        self.service = store.get_feature_service(feature_service)

    def fetch(self, *, user_id: int, item_ids: list[int]) -> pd.DataFrame:
        """One row per candidate, missing values filled as in training.

        The frame's `attrs` say whether the user and which items were unknown.
        """
        rows = [{"user_id": user_id, "item_id": item} for item in item_ids]
        raw: dict[str, list[Any]] = self.store.get_online_features(
            features=self.service, entity_rows=rows
        ).to_dict()
        frame = pd.DataFrame(raw)
        unknown_user = frame["age_bucket"].isna().all() if len(frame) else True
        unknown_items = [
            int(i)
            for i, c in zip(frame["item_id"], frame["category_id"], strict=True)
            if c is None or pd.isna(c)
        ]
        frame = fill_missing(frame)
        frame.attrs.update(unknown_user=bool(unknown_user), unknown_items=unknown_items)
        return frame
