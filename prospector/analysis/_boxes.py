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

from prospector.analysis._parallel import chunked

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
    out[idx] = chunked(_is_box, geoms[idx], bounds[idx])
    return out


def _is_box(geoms: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`box_mask` for hole-free polygons of five coordinates with bounds *b*."""
    xy = shapely.get_coordinates(geoms).reshape(-1, 5, 2)
    corners = (
        ((xy[..., 0] == b[:, [0]]) | (xy[..., 0] == b[:, [2]]))
        & ((xy[..., 1] == b[:, [1]]) | (xy[..., 1] == b[:, [3]]))
    ).all(axis=1)
    step = xy[:, 1:] - xy[:, :-1]  # (m, 4, 2)
    moves_x, moves_y = step[..., 0] != 0, step[..., 1] != 0
    one_axis = (moves_x != moves_y).all(axis=1)
    alternating = (moves_x[:, :-1] != moves_x[:, 1:]).all(axis=1)
    sized = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    return corners & one_axis & alternating & sized


def box_point_distance(bounds: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Euclidean distance from points *xy* (n, 2) to boxes *bounds* (n, 4); 0 inside.

    The same as GEOS ``distance`` to within an ulp or so (GEOS computes it as a point to
    segment distance; about one pair in six differs in the last bit).
    """
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
        self, pi: np.ndarray, points: np.ndarray, xy: np.ndarray | None, di: np.ndarray
    ) -> np.ndarray:
        """Distance from parcel ``pi[k]`` to point ``di[k]`` (0 inside the parcel).

        *xy* holds the coordinates of *points* (one row each), or None when some are not
        single points (then GEOS measures every pair).  Single-threaded; run it on blocks
        with :func:`~prospector.analysis._parallel.chunked`.
        """
        if xy is None:
            return shapely.distance(self.geoms[pi], points[di])
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
        # The exact box test reads one coordinate per point: other geometries go to GEOS.
        single = shapely.get_type_id(points) == 0
        box = self.is_box[pi] & single[di]
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


def intersect_pairs(
    index: ParcelIndex, polygons: np.ndarray, *, min_area_m2: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersections of parcels with polygons, exactly, with fast paths for box parcels.

    Returns ``(parcel index, polygon index, piece)`` for every intersecting pair whose piece
    has at least *min_area_m2* area, sorted by parcel then polygon.  A piece is:

    * the parcel itself where the polygon contains it properly;
    * the polygon itself where it lies inside a box parcel's box;
    * for other box pairs, ``clip_by_rect`` (GEOS's rectangle clipper, several times
      faster than an overlay), checked: it is kept only when it is valid, no corner of the
      box lies on the polygon's boundary, and it covers exactly the box corners that lie
      inside the polygon.  The clipper is known to return the *complement* of the right
      piece when the boundary passes through box corners (tests/test_boxes.py); such pairs
      and any that fail the checks take GEOS ``intersection``;
    * GEOS ``intersection`` for other parcels.

    Pieces of pairs that only touch are empty or of lower dimension (area 0).
    """
    polygons = np.asarray(polygons, dtype=object)
    empty = np.empty(0, dtype=np.int64)
    if len(polygons) == 0 or len(index) == 0:
        return empty, empty, np.empty(0, dtype=object)
    # One query per polygon against the parcel tree: GEOS prepares each (large) polygon once,
    # temporarily (the caller's objects stay as they are).
    li, pi = index.tree.query(polygons, predicate="intersects")
    order = np.lexsort((li, pi))
    pi, li = pi[order], li[order]
    geoms = index.geoms
    pieces = geoms[pi].copy()
    # The tests below use prepared polygons.  GEOS prepared geometries build their indexes
    # lazily and must not be shared between threads, and the caller's polygons may be in
    # use by other threads (tiles of one layer on a threaded dask worker): prepare private
    # copies of the polygons involved, used by this thread only.
    used = np.unique(li)
    private = np.full(len(polygons), None, dtype=object)
    private[used] = shapely.transform(polygons[used], lambda xy: xy)
    shapely.prepare(private[used])
    covered = shapely.contains_properly(private[li], geoms[pi])
    todo = ~covered
    box = index.is_box[pi] & todo
    if box.any():
        pb = index.bounds[pi[box]]
        lb = shapely.bounds(private[li[box]])
        within = (
            (lb[:, 0] >= pb[:, 0])
            & (lb[:, 1] >= pb[:, 1])
            & (lb[:, 2] <= pb[:, 2])
            & (lb[:, 3] <= pb[:, 3])
        )
        # A polygon inside the box is its own piece (when valid: an invalid one goes to
        # GEOS intersection, which reports it as GEOS would).
        rows = np.flatnonzero(box)[within]
        rows = rows[shapely.is_valid(polygons[li[rows]])]
        pieces[rows] = polygons[li[rows]]
        todo[rows] = False
        rows = np.flatnonzero(box)[~within]
        if len(rows):
            clipped, ok = _clip_checked(private, li[rows], index.bounds[pi[rows]])
            pieces[rows[ok]] = clipped[ok]
            todo[rows[ok]] = False
    shapely.destroy_prepared(private[used])
    if todo.any():
        # Private, unprepared operands: safe to split over threads.
        pieces[todo] = chunked(shapely.intersection, geoms[pi[todo]], private[li[todo]])
    keep = shapely.area(pieces) >= min_area_m2
    return pi[keep], li[keep], pieces[keep]


def _clip_checked(
    polygons: np.ndarray, li: np.ndarray, rects: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``clip_by_rect(polygons[li[k]], *rects[k])`` and whether each result can be trusted.

    *polygons* must be prepared (corner tests).  See :func:`intersect_pairs`.
    """
    cx = rects[:, [0, 2, 2, 0]].ravel()
    cy = rects[:, [1, 1, 3, 3]].ravel()
    owner = polygons[np.repeat(li, 4)]
    # For a point, "contains" means strictly inside; "intersects" includes the boundary.
    inside = shapely.contains_xy(owner, cx, cy).reshape(-1, 4)
    touching = shapely.intersects_xy(owner, cx, cy).reshape(-1, 4)
    on_boundary = (touching & ~inside).any(axis=1)
    # The ufunc under shapely.clip_by_rect broadcasts one rectangle per geometry (the public
    # wrapper accepts scalars only): one call, 2.6x faster than a loop over the pairs.
    clipped = shapely.lib.clip_by_rect(
        polygons[li], rects[:, 0], rects[:, 1], rects[:, 2], rects[:, 3]
    )
    holds = shapely.intersects_xy(np.repeat(clipped, 4), cx, cy).reshape(-1, 4)
    ok = ~on_boundary & (holds == inside).all(axis=1) & shapely.is_valid(clipped)
    return clipped, ok
