"""Small vectorised index helpers shared by the analysis steps."""

from __future__ import annotations

import numpy as np

__all__ = ["runs"]


def runs(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand run lengths: for every element, its run and its position within the run.

    ``runs([2, 0, 3])`` is ``([0, 0, 2, 2, 2], [0, 1, 0, 1, 2])``: the loop ``for g, c in
    enumerate(counts): for k in range(c)`` as two arrays.
    """
    counts = np.asarray(counts, dtype=np.int64)
    group = np.repeat(np.arange(len(counts)), counts)
    position = np.arange(len(group)) - np.repeat(np.cumsum(counts) - counts, counts)
    return group, position
