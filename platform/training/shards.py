"""The training split as a Ray Dataset, and each worker's shard back as arrays.

Ray Train splits the dataset across workers (`get_dataset_shard`), so each
worker receives only its rows: nothing holds a full copy per worker, and on a
cluster each node pulls only its workers' blocks. Sequence columns (N, L)
travel as fixed-size lists and come back as 2-D arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from recplat.io.arrow_lists import arrow_table, as_matrix


def to_dataset(arrays: dict[str, np.ndarray]) -> Any:
    """A Ray Dataset with one column per array (2-D arrays as fixed-size lists)."""
    import ray.data

    return ray.data.from_arrow(arrow_table(arrays))


def collect(shard: Any, *, dtypes: dict[str, np.dtype[Any]]) -> dict[str, np.ndarray]:
    """This worker's rows of the dataset as arrays with the original dtypes."""
    parts: dict[str, list[np.ndarray]] = {name: [] for name in dtypes}
    for batch in shard.iter_batches(batch_size=None, batch_format="numpy"):
        for name in dtypes:
            parts[name].append(as_matrix(batch[name]))
    return {
        name: (np.concatenate(chunks) if chunks else np.zeros(0, dtype=dtypes[name])).astype(
            dtypes[name], copy=False
        )
        for name, chunks in parts.items()
    }
