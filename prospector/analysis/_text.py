"""Small vectorised string helpers shared by the analysis steps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["join_sorted", "sorted_codes", "text_array"]


def text_array(values: np.ndarray) -> Any:
    """Strings (or None) as a column of pandas' default text dtype, built directly.

    With an Arrow-backed default (pandas >= 3, or ``future.infer_string``) the strings go
    straight into an Arrow array (about twice as fast as pandas' own inference); otherwise
    *values* as they are.
    """
    text = pd.Series(["text"]).dtype  # the default, as configured now
    if len(values) and isinstance(text, pd.StringDtype) and text.storage == "pyarrow":
        arrow = pa.array(np.asarray(values, dtype=object), type=pa.large_string(), from_pandas=True)
        return text.__from_arrow__(arrow)
    return values


def join_sorted(
    keys: np.ndarray, values: np.ndarray, sep: str = "; "
) -> tuple[np.ndarray, np.ndarray]:
    """Join *values* with *sep* per run of equal *keys* (keys already grouped/sorted).

    The same result as ``pandas.DataFrame({"k": keys, "v": values}).groupby("k")["v"].agg(sep.join)``
    for grouped keys, without a Python call per group: one object-array ``add.reduceat``.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The distinct keys (in order) and the joined strings.
    """
    keys = np.asarray(keys)
    if len(keys) == 0:
        return keys, np.empty(0, dtype=object)
    values = np.asarray(values, dtype=object)
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
    first = np.zeros(len(keys), dtype=bool)
    first[starts] = True
    pieces = np.where(first, values, sep + values)
    return keys[starts], np.add.reduceat(pieces, starts)


def sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of *values* into their sorted distinct values: ``names[codes] == values``.

    The same result as ``numpy.unique(values, return_inverse=True)`` (inverse, then the
    distinct values) for strings, but hashed first: only the few distinct values are
    sorted, not every entry.
    """
    first, distinct = pd.factorize(np.asarray(values, dtype=object))
    distinct = np.asarray(distinct, dtype=object)
    order = np.argsort(distinct)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[first], distinct[order]
