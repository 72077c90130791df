"""positions_of: rows by id, as pandas' get_indexer finds them, without hashing every id."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from prospector.analysis.ids import positions_of


def test_hand_made_positions():
    ids = pd.Series(["P1", "P2", "P3", "P4"], dtype="str")
    keys = pd.Series(["P3", None, "P9", "P1", "P3"], dtype="str")
    assert positions_of(ids, keys).tolist() == [2, -1, -1, 0, 2]


@pytest.mark.parametrize(
    ("ids", "keys", "expected"),
    [
        (pd.Series(["a", "b"], dtype=object), ["b", np.nan, None], [1, -1, -1]),
        (np.array([5, 7, 9]), [9, 1, 5], [2, -1, 0]),
        (pd.Series(["a", "b"]), pd.Series(["b", "a"]).astype("category"), [1, 0]),
        (pa.chunked_array([["a", "b"], ["c"]]), ["c", "a"], [2, 0]),
        (pa.array(["a", "b"], type=pa.large_string()), pd.Series(["b"], dtype="str"), [1]),
        (pd.Series(["a", "b"]), [], []),
        ([], ["x"], [-1]),
    ],
)
def test_types_and_missing_keys(ids, keys, expected):
    got = positions_of(ids, keys)
    assert got.dtype == np.int64
    assert got.tolist() == expected


def test_equals_get_indexer_on_random_ids():
    rng = np.random.default_rng(3)
    ids = pd.Series([f"T{v:07d}" for v in rng.permutation(200_000)], dtype="str")
    keys = pd.Series([f"T{v:07d}" for v in rng.integers(0, 260_000, 50_000)], dtype="str").mask(
        rng.random(50_000) < 0.05
    )
    expected = pd.Index(ids).get_indexer(pd.Index(keys))
    got = positions_of(ids, keys)
    assert (got == expected).all()
    assert (got == -1).sum() == ((keys.isna()) | ~keys.isin(set(ids))).sum() > 2_500


def test_an_id_found_twice_is_refused():
    with pytest.raises(ValueError, match="'a' occurs more than once"):
        positions_of(["a", "b", "a"], ["b", "a"])
    with pytest.raises(ValueError, match="unique"):  # pandas' path (mixed types)
        positions_of(pd.Series(["a", 1, "a"], dtype=object), ["a"])
