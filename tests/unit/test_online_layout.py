"""The one online-store layout helper that the reader, the bulk writer and the append share."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from recplat.features.online_layout import (
    backend,
    entity_key,
    entity_keys,
    python_value,
    sqlite_table,
    versioned_view_name,
)


def _config(online: Any, *, versioning: bool = False) -> Any:
    return SimpleNamespace(
        online_store=online,
        project="recplat",
        registry=SimpleNamespace(enable_online_feature_view_versioning=versioning),
    )


def test_backend_picks_the_fast_path_only_where_its_layout_holds() -> None:
    from feast.infra.online_stores.redis import RedisType

    redis = SimpleNamespace(type="redis", redis_type=RedisType.redis)
    cluster = SimpleNamespace(type="redis", redis_type=RedisType.redis_cluster)
    assert backend(_config(SimpleNamespace(type="sqlite"))) == "sqlite"
    assert backend(_config(SimpleNamespace(type="sqlite", vector_enabled=True))) == "other"
    assert backend(_config(redis)) == "redis"
    assert backend(_config(cluster)) == "other"
    assert backend(_config(SimpleNamespace(type="dynamodb"))) == "other"


@pytest.mark.parametrize("version", [2, 3])
def test_reader_writer_and_sqlite_name_a_versioned_view_alike(version: int) -> None:
    view = SimpleNamespace(
        name="user_sequence",
        projection=SimpleNamespace(version_tag=version),
        current_version_number=version,
    )
    on = _config(SimpleNamespace(type="redis"), versioning=True)
    off = _config(SimpleNamespace(type="redis"), versioning=False)
    # Redis hash fields are hashed from this name: reader and writer both call it.
    assert versioned_view_name(on, view) == f"user_sequence_v{version}"
    assert versioned_view_name(off, view) == "user_sequence"
    assert sqlite_table(on, view) == f"recplat_user_sequence_v{version}"
    assert sqlite_table(off, view) == "recplat_user_sequence"


def test_bulk_entity_keys_equal_feasts_serializer_key_by_key() -> None:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    ids = np.array([1, 7, 2**40, 0, 123_456_789], dtype=np.int64)
    for version in (2, 3):
        feast = [
            bytes(
                serialize_entity_key(
                    EntityKey(join_keys=["user_id"], entity_values=[Value(int64_val=int(i))]),
                    entity_key_serialization_version=version,
                )
            )
            for i in ids
        ]
        assert entity_keys(ids, "user_id", version) == feast
        assert [entity_key("user_id", int(i), version) for i in ids] == feast
    assert entity_keys(np.array([], dtype=np.int64), "item_id", 3) == []


def test_python_value_reads_scalars_lists_and_missing() -> None:
    from feast.protos.feast.types.Value_pb2 import Int64List, Value

    assert python_value(Value(int64_val=5)) == 5
    assert python_value(Value(double_val=0.25)) == 0.25
    assert python_value(Value(string_val="mobile")) == "mobile"
    assert python_value(Value(int64_list_val=Int64List(val=[3, 1, 2]))) == [3, 1, 2]
    assert python_value(Value(int64_list_val=Int64List(val=[]))) == []
    assert python_value(Value()) is None
    assert python_value(None) is None
