"""Look up rows by id without hashing every id of a large table.

A ranking run links a few hundred thousand deposits to the parcels holding them by
``parcel_id``.  ``pd.Index(parcels["parcel_id"]).get_indexer(...)`` hashes all the
parcels' ids (1M parcels: a ~110 MB peak, most of it the ids as Python strings); hashing
the distinct keys instead, and scanning the ids once against them, costs a few MB.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["positions_of"]


def positions_of(ids: Any, keys: Any) -> np.ndarray:
    """Position in *ids* of each of *keys* (−1 where a key is missing or not found).

    The same as ``pd.Index(ids).get_indexer(keys)`` for unique *ids*: nulls among the
    keys find nothing.

    Parameters
    ----------
    ids
        The ids of a table's rows (a Series, array or list; strings or integers).
    keys
        The ids to find.

    Returns
    -------
    numpy.ndarray
        ``int64``, one position per key.

    Raises
    ------
    ValueError
        When an id that a key finds occurs more than once in *ids* (as ``get_indexer``
        refuses non-unique ids).
    """
    try:
        haystack, needles = _arrow(ids), _arrow(keys)
        if needles.type != haystack.type:
            needles = needles.cast(haystack.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed or unusual types: pandas' hashing of Python objects.
        return _pandas_positions(ids, keys)
    distinct = pc.unique(needles.drop_null())
    # Each id: which distinct key it is (null: none), then each distinct key: its row.
    which = _numpy(pc.index_in(haystack, value_set=distinct))
    rows = np.flatnonzero(which >= 0)
    found = which[rows]
    counts = np.bincount(found, minlength=len(distinct))
    if len(counts) and counts.max() > 1:
        twice = distinct[int(np.argmax(counts))].as_py()
        raise ValueError(f"id {twice!r} occurs more than once; ids must be unique")
    row_of = np.full(len(distinct), -1, dtype=np.int64)
    row_of[found] = rows
    slot = _numpy(pc.index_in(needles, value_set=distinct))
    out = np.full(len(slot), -1, dtype=np.int64)
    hit = slot >= 0
    out[hit] = row_of[slot[hit]]
    return out


def _arrow(values: Any) -> pa.Array | pa.ChunkedArray:
    """*values* as Arrow (chunks kept: nothing is copied for Arrow-backed columns)."""
    if isinstance(values, pd.Series | pd.Index):
        values = values.array
    if isinstance(values, pa.Array | pa.ChunkedArray):
        array = values
    elif hasattr(values, "__arrow_array__"):  # Arrow-backed pandas arrays, categoricals
        array = pa.array(values)
    else:  # NumPy, lists, object columns: NaN and None are missing
        array = pa.array(np.asarray(values), from_pandas=True)
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    return array


def _numpy(indices: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``index_in``'s answer as int64, −1 for null."""
    return np.asarray(indices.fill_null(-1).to_numpy(), dtype=np.int64)


def _pandas_positions(ids: Any, keys: Any) -> np.ndarray:
    index = pd.Index(ids)
    if not index.is_unique:
        raise ValueError("ids must be unique")
    return np.asarray(index.get_indexer(pd.Index(keys)), dtype=np.int64)
