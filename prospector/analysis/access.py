"""Access per parcel: distances to roads, railways, power lines and vector evidence."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from prospector._runtime import chunked, query_pairs
from prospector.analysis._grid_nearest import grid_nearest
from prospector.analysis.index import ParcelIndex

__all__ = ["decay", "nearest_distance_km"]


def nearest_distance_km(
    parcels: gpd.GeoDataFrame,
    features: gpd.GeoDataFrame | None,
    *,
    max_km: float,
    index: ParcelIndex | None = None,
) -> np.ndarray:
    """Distance in km from each parcel (its edge; 0 when touching) to the nearest feature.

    Parcels with no feature within *max_km* (or when *features* is None or empty) get NaN.
    Parcels touching a feature are found with an STRtree query; grid-cell parcels (see
    *index*, a :class:`~prospector.analysis.index.ParcelIndex` of *parcels*) near line
    features by a ring search over the grid (:mod:`~prospector.analysis._grid_nearest`);
    the rest with ``STRtree.query_nearest``.
    """
    n = len(parcels)
    out = np.full(n, np.nan)
    if features is None or len(features) == 0:
        return out
    if features.crs != parcels.crs:
        raise ValueError("features and parcels must share the work CRS")
    # Small nodes: the nearest-neighbour search visits fewer items per node it opens (about
    # 45 % faster than the default capacity of 10 on section-sized parcels and road pieces).
    tree = shapely.STRtree(_segments(features.geometry.to_numpy()), node_capacity=2)
    geoms = parcels.geometry.to_numpy()
    # Parcels touching a feature are at distance 0: a cheap index query settles them.
    touching = np.unique(query_pairs(tree, geoms, "intersects")[0])
    out[touching] = 0.0
    rest = np.setdiff1d(np.arange(n), touching, assume_unique=True)
    if index is not None and len(index) != n:
        raise ValueError(f"index holds {len(index)} parcels, not the {n} given")
    items = tree.geometries
    lines = bool((shapely.get_type_id(items) == 1).all())
    if index is not None and index.lattice is not None and len(rest) and lines:
        # Grid parcels: ring search (no crossings left among these parcels and lines).
        found = grid_nearest(index.lattice, index.bounds, rest, items)
        # Within a few ulps of GEOS: at the cut-off itself (to a micrometre) GEOS decides
        # between a distance and NaN, so both paths cut off alike.
        settled = ~np.isnan(found) & (np.abs(found - max_km * 1000.0) > 1e-6)
        out[rest[settled]] = np.where(
            found[settled] <= max_km * 1000.0, found[settled] / 1000.0, np.nan
        )
        rest = rest[~settled]
    # No ``max_distance`` here: shapely first scans every item in the query box grown by
    # ``max_distance`` (200 km by default: thousands of items per parcel), while the plain
    # branch-and-bound nearest search is exact and fast.  Farther than max_km becomes NaN below.
    dist = chunked(lambda g: _nearest_distance(tree, g), geoms[rest])
    out[rest] = np.where(dist <= max_km * 1000.0, dist / 1000.0, np.nan)
    return out


def _nearest_distance(tree: shapely.STRtree, geoms: np.ndarray) -> np.ndarray:
    """Distance from every geometry to its nearest tree item (inf for an empty tree)."""
    out = np.full(len(geoms), np.inf)
    (gi, _ti), dist = tree.query_nearest(geoms, return_distance=True, all_matches=False)
    out[gi] = dist
    return out


def decay(distance_km: np.ndarray, scale_km: float) -> np.ndarray:
    """Exponential access decay in [0, 1]: 1 at 0 km, 1/e at *scale_km*, 0 when NaN."""
    d = np.asarray(distance_km, dtype=float)
    return np.where(np.isnan(d), 0.0, np.exp(-d / scale_km))


def _segments(geoms: np.ndarray, *, max_vertices: int = 16) -> np.ndarray:
    """Cut lines into short pieces so nearest-neighbour distances stay cheap.

    A distance to a long polyline costs O(vertices); pieces of at most *max_vertices*
    vertices give the spatial index tight boxes and each candidate distance is small.
    Non-line geometries and short lines are returned as they are.
    """
    single = shapely.get_type_id(geoms) == 1
    parts = geoms if single.all() else shapely.get_parts(geoms)
    is_line = shapely.get_type_id(parts) == 1
    short = is_line & (shapely.get_num_coordinates(parts) <= max_vertices)
    if short.all():  # nothing to cut (e.g. road segments already split at junctions)
        return parts
    lines, others = parts[is_line & ~short], parts[~is_line | short]
    if len(lines) == 0:
        return parts
    coords, line_idx = shapely.get_coordinates(lines, return_index=True)
    # Position of each vertex within its line, and the piece it starts.
    starts = np.r_[0, np.flatnonzero(np.diff(line_idx)) + 1]
    pos = np.arange(len(coords)) - np.repeat(starts, np.diff(np.r_[starts, len(coords)]))
    step = max_vertices - 1
    piece = pos // step
    # Vertices that close one piece also open the next: duplicate them.
    dup = (pos % step == 0) & (pos > 0)
    keys = np.r_[line_idx * 1_000_000 + piece, (line_idx * 1_000_000 + piece - 1)[dup]]
    xy = np.r_[coords, coords[dup]]
    order = np.lexsort((np.r_[pos, pos[dup]], keys))
    keys, xy = keys[order], xy[order]
    _, piece_ids, counts = np.unique(keys, return_inverse=True, return_counts=True)
    ok = counts[piece_ids] >= 2
    _, dense = np.unique(piece_ids[ok], return_inverse=True)
    pieces = shapely.linestrings(xy[ok], indices=dense)
    return np.concatenate([pieces, others])
