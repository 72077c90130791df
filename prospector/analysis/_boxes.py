"""Exact fast paths for parcels that are axis-aligned rectangles (grid cells, PLSS-like boxes).

Most parcels are grid cells.  For a rectangle, several GEOS operations reduce to a few
array operations with the same result: point-in-box, point-to-box distance, and the
intersection of a polygon with the box (``clip_by_rect``, or the polygon itself when its
bounding box lies inside the box).  Every function here takes a mask of which parcels are
boxes and leaves the others to the general GEOS path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

__all__ = ["ParcelIndex", "box_mask", "box_point_distance", "intersect_pairs"]


def box_mask(geoms: np.ndarray, bounds: np.ndarray | None = None) -> np.ndarray:
    """Flag the geometries that are polygons equal to their bounding box (non-degenerate).

    The test is exact: a hole-free polygon of four distinct vertices, each a corner of the
    bounding box, joined by edges that alternate between horizontal and vertical.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.zeros(len(geoms), dtype=bool)
    if len(geoms) == 0:
        return out
    if bounds is None:
        bounds = shapely.bounds(geoms)
    candidate = (
        (shapely.get_type_id(geoms) == 3)
        & (shapely.get_num_coordinates(geoms) == 5)
        & (shapely.get_num_interior_rings(geoms) == 0)
    )
    idx = np.flatnonzero(candidate)
    if len(idx) == 0:
        return out
    xy = shapely.get_coordinates(geoms[idx]).reshape(-1, 5, 2)
    b = bounds[idx]
    corners = (
        ((xy[..., 0] == b[:, [0]]) | (xy[..., 0] == b[:, [2]]))
        & ((xy[..., 1] == b[:, [1]]) | (xy[..., 1] == b[:, [3]]))
    ).all(axis=1)
    step = np.diff(xy, axis=1)  # (m, 4, 2)
    moves_x, moves_y = step[..., 0] != 0, step[..., 1] != 0
    one_axis = (moves_x != moves_y).all(axis=1)
    alternating = (moves_x[:, :-1] != moves_x[:, 1:]).all(axis=1)
    sized = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    out[idx] = corners & one_axis & alternating & sized
    return out


def box_point_distance(bounds: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Euclidean distance from points *xy* (n, 2) to boxes *bounds* (n, 4); 0 inside."""
    x, y = xy[:, 0], xy[:, 1]
    dx = np.maximum(np.maximum(bounds[:, 0] - x, x - bounds[:, 2]), 0.0)
    dy = np.maximum(np.maximum(bounds[:, 1] - y, y - bounds[:, 3]), 0.0)
    return np.hypot(dx, dy)


@dataclass(frozen=True)
class ParcelIndex:
    """Parcel geometries with what the measuring steps share: bounds, box mask, STRtree.

    Build it once per set of parcels (:meth:`of`) and pass it to the steps that accept
    ``index=``; each step builds its own when none is given.
    """

    geoms: np.ndarray
    bounds: np.ndarray
    is_box: np.ndarray
    tree: shapely.STRtree

    @classmethod
    def of(cls, geoms: np.ndarray) -> ParcelIndex:
        """Index *geoms* (a parcel GeoSeries' ``to_numpy()``)."""
        geoms = np.asarray(geoms, dtype=object)
        bounds = shapely.bounds(geoms)
        return cls(geoms, bounds, box_mask(geoms, bounds), shapely.STRtree(geoms))

    def __len__(self) -> int:
        return len(self.geoms)

    def point_distance(
        self, pi: np.ndarray, points: np.ndarray, xy: np.ndarray, di: np.ndarray
    ) -> np.ndarray:
        """Distance from parcel ``pi[k]`` to point ``di[k]`` (0 inside the parcel).

        Single-threaded; run it on blocks with :func:`~prospector.analysis._parallel.chunked`.
        """
        if self.is_box.all():  # the common case (grid cells): no masking at all
            return box_point_distance(self.bounds[pi], xy[di])
        out = np.empty(len(pi))
        box = self.is_box[pi]
        out[box] = box_point_distance(self.bounds[pi[box]], xy[di[box]])
        other = ~box
        if other.any():
            out[other] = shapely.distance(self.geoms[pi[other]], points[di[other]])
        return out

    def points_in(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(point index, parcel index)`` of every point touching a parcel (edges included).

        The same pairs as ``tree.query(points, predicate="intersects")``, sorted by point
        then parcel.
        """
        di, pi = self.tree.query(points)
        box = self.is_box[pi]
        keep = np.ones(len(pi), dtype=bool)
        if box.any():
            xy = shapely.get_coordinates(points[di[box]])
            b = self.bounds[pi[box]]
            keep[box] = (
                (xy[:, 0] >= b[:, 0])
                & (xy[:, 0] <= b[:, 2])
                & (xy[:, 1] >= b[:, 1])
                & (xy[:, 1] <= b[:, 3])
            )
        other = ~box
        if other.any():
            keep[other] = shapely.intersects(self.geoms[pi[other]], points[di[other]])
        di, pi = di[keep], pi[keep]
        order = np.lexsort((pi, di))
        return di[order], pi[order]


def _clip(polygons: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """``clip_by_rect(polygons[k], *rects[k])`` for every k (the rectangle must be scalar)."""
    out = np.empty(len(polygons), dtype=object)
    # shapely.lib directly: the public wrapper's argument checks cost more than the clip.
    clip = shapely.lib.clip_by_rect
    for k, (g, (x0, y0, x1, y1)) in enumerate(zip(polygons, rects.tolist(), strict=True)):
        out[k] = clip(g, x0, y0, x1, y1)
    return out


def intersect_pairs(
    index: ParcelIndex, polygons: np.ndarray, *, min_area_m2: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersections of parcels with polygons, exactly, with fast paths for box parcels.

    Returns ``(parcel index, polygon index, piece)`` for every intersecting pair whose piece
    has at least *min_area_m2* area, sorted by parcel then polygon.  Pieces are valid
    polygonal geometries: the parcel itself where the polygon contains it properly, the
    polygon itself where it lies inside a box parcel's box, ``clip_by_rect`` for other box
    pairs (validated; GEOS ``intersection`` where clipping gives an invalid result), and
    ``intersection`` for other parcels.
    """
    from prospector.analysis._parallel import chunked, query_pairs

    polygons = np.asarray(polygons, dtype=object)
    empty = np.empty(0, dtype=np.int64)
    if len(polygons) == 0 or len(index) == 0:
        return empty, empty, np.empty(0, dtype=object)
    # One query per polygon against the parcel tree: GEOS prepares each (large) polygon once.
    li, pi = query_pairs(index.tree, polygons, "intersects")
    order = np.lexsort((li, pi))
    pi, li = pi[order], li[order]
    geoms = index.geoms
    pieces = geoms[pi].copy()
    # Prepared in this thread and used only here: GEOS prepared geometries build their
    # indexes lazily and must not be shared between threads.
    shapely.prepare(polygons)
    covered = shapely.contains_properly(polygons[li], geoms[pi])
    shapely.destroy_prepared(polygons)
    box = index.is_box[pi] & ~covered
    if box.any():
        pb = index.bounds[pi[box]]
        lb = shapely.bounds(polygons[li[box]])
        within = (
            (lb[:, 0] >= pb[:, 0])
            & (lb[:, 1] >= pb[:, 1])
            & (lb[:, 2] <= pb[:, 2])
            & (lb[:, 3] <= pb[:, 3])
        )
        rows = np.flatnonzero(box)
        pieces[rows[within]] = polygons[li[rows[within]]]
        clip = rows[~within]
        # One thread: each call is too short for threads to beat the GIL hand-offs.
        clipped = _clip(polygons[li[clip]], index.bounds[pi[clip]])
        bad = ~shapely.is_valid(clipped)
        if bad.any():
            clipped[bad] = shapely.intersection(geoms[pi[clip[bad]]], polygons[li[clip[bad]]])
        pieces[clip] = clipped
    general = ~index.is_box[pi] & ~covered
    if general.any():
        pieces[general] = chunked(shapely.intersection, geoms[pi[general]], polygons[li[general]])
    keep = shapely.area(pieces) >= min_area_m2
    return pi[keep], li[keep], pieces[keep]
