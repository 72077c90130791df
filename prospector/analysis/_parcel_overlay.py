"""Per-parcel overlay helpers: union the pieces of each parcel, their names, open area.

The pieces come from :func:`~prospector.analysis._boxes.intersect_pairs` (parcel index,
layer index, intersection) and are aggregated per parcel without dissolving a layer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from prospector._runtime import chunked, quiet
from prospector.analysis._arrays import runs
from prospector.analysis._text import join_sorted

__all__ = ["area_or_zero", "names_by_parcel", "open_ground_area", "union_by_parcel"]


def union_by_parcel(n: int, pi: np.ndarray, pieces: np.ndarray, *, max_pad: int = 64) -> np.ndarray:
    """Union the pieces of each parcel; parcels without pieces get None.

    Groups of up to *max_pad* pieces are unioned in one vectorised call on a None-padded
    (groups × max size) array; larger groups (rare) one by one.
    """
    out = np.full(n, None, dtype=object)
    if len(pi) == 0:
        return out
    order = np.argsort(pi, kind="stable")
    pi, pieces = pi[order], pieces[order]
    uniq, start, counts = np.unique(pi, return_index=True, return_counts=True)
    single = counts == 1
    out[uniq[single]] = pieces[start[single]]
    padded = ~single & (counts <= max_pad)
    if padded.any():
        c, s = counts[padded], start[padded]
        grid = np.full((len(c), int(c.max())), None, dtype=object)
        rows, cols = runs(c)
        grid[rows, cols] = pieces[s[rows] + cols]
        out[uniq[padded]] = chunked(quiet(lambda g: shapely.union_all(g, axis=1)), grid)
    for p, s0, c0 in zip(
        uniq[counts > max_pad], start[counts > max_pad], counts[counts > max_pad], strict=True
    ):
        out[p] = quiet(shapely.union_all)(pieces[s0 : s0 + c0])
    return out


def open_ground_area(
    federal: np.ndarray, blocked: np.ndarray, area: np.ndarray, min_sliver_m2: float
) -> np.ndarray:
    """Area of open-agency federal ground minus blocked ground, per parcel.

    Exact shortcuts avoid most overlays: nothing blocked (open = federal); wholly federal
    parcel (open = parcel - blocked, blocked within the parcel); no federal ground
    (open = 0).  Only the remaining parcels need a difference.
    """
    federal_area = area_or_zero(federal)
    unblocked = pd.isna(blocked)
    wholly_federal = federal_area >= area * (1.0 - 1e-12)
    open_area = np.where(
        unblocked, federal_area, np.where(wholly_federal, area - area_or_zero(blocked), 0.0)
    )
    mixed = ~unblocked & ~wholly_federal & (federal_area > 0)
    open_area[mixed] = area_or_zero(
        chunked(quiet(shapely.difference), federal[mixed], blocked[mixed])
    )
    return np.where(open_area < min_sliver_m2, 0.0, open_area)


def area_or_zero(geoms: np.ndarray) -> np.ndarray:
    """Area of each geometry; 0 for missing ones."""
    area = shapely.area(geoms)
    return np.where(pd.isna(area), 0.0, area)


def names_by_parcel(n: int, pi: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Join the distinct *names* of each parcel's pieces, sorted ("" for none)."""
    out = np.full(n, "", dtype=object)
    if len(pi) == 0:
        return out
    frame = pd.DataFrame({"p": pi, "name": names}).drop_duplicates()
    frame = frame.sort_values(["p", "name"])
    keys, joined = join_sorted(frame["p"].to_numpy(), frame["name"].to_numpy(dtype=object))
    out[keys] = joined
    return out
