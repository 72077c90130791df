"""Exact fast paths for parcels that are axis-aligned rectangles (grid cells, PLSS-like boxes).

Most parcels are grid cells.  For a rectangle, several GEOS operations reduce to a few
array operations with the same result: point-in-box, point-to-box distance, and the
intersection of a polygon with the box (``clip_by_rect``, or the polygon itself when its
bounding box lies inside the box).  Every function here takes a mask of which parcels are
boxes and leaves the others to the general GEOS path.  They are private: the public face
is :class:`prospector.analysis.index.ParcelIndex`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely

from prospector._runtime import chunked, quiet
from prospector.analysis._arrays import runs

if TYPE_CHECKING:
    from prospector.analysis.index import ParcelIndex

__all__ = ["box_mask", "box_point_distance", "intersect_pairs"]


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
    geoms = index.geoms
    # The tests below use prepared polygons.  GEOS prepared geometries build their indexes
    # lazily and must not be shared between threads, and the caller's polygons may be in
    # use by other threads (tiles of one layer on a threaded dask worker): prepare private
    # copies of the polygons involved, used by this thread only.
    private = np.full(len(polygons), None, dtype=object)
    # Candidates by bounding box (arithmetic on a grid of parcels), then the predicate.
    li, pi = index.bounds_pairs(shapely.bounds(polygons))
    used = np.unique(li)
    private[used] = shapely.transform(polygons[used], lambda xy: xy)
    shapely.prepare(private[used])
    hit = shapely.intersects(private[li], geoms[pi])
    li, pi = li[hit], pi[hit]
    order = np.lexsort((li, pi))
    pi, li = pi[order], li[order]
    pieces = geoms[pi].copy()
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
        pieces[todo] = chunked(quiet(shapely.intersection), geoms[pi[todo]], private[li[todo]])
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
    clipped = _clip_by_rects(polygons[li], rects)
    holds = shapely.intersects_xy(np.repeat(clipped, 4), cx, cy).reshape(-1, 4)
    ok = ~on_boundary & (holds == inside).all(axis=1) & shapely.is_valid(clipped)
    return clipped, ok


def _clip_by_rects(geoms: np.ndarray, rects: np.ndarray, *, vector: bool = True) -> np.ndarray:
    """``clip_by_rect(geoms[k], *rects[k])`` for every *k* (*vector*: try the one-call path)."""
    if vector:
        try:
            # From shapely 2.2 the ufunc under shapely.clip_by_rect broadcasts one rectangle
            # per geometry (the public wrapper accepts scalars only): one call, 2.6x faster
            # than a loop over the pairs.
            return quiet(shapely.lib.clip_by_rect)(
                geoms, rects[:, 0], rects[:, 1], rects[:, 2], rects[:, 3]
            )
        except ValueError:  # shapely < 2.2 (the newest on Python 3.10): scalars only
            pass
    clip = quiet(shapely.clip_by_rect)
    out = np.empty(len(geoms), dtype=object)
    out[:] = [clip(g, *r) for g, r in zip(geoms, rects.tolist(), strict=True)]
    return out


@dataclass(frozen=True)
class _Lattice:
    """A regular grid holding box parcels, at most one per cell, for arithmetic look-ups.

    ``cells[j, i]`` is the parcel in column *i*, row *j* (-1 for none): its bounds are
    ``x0 + i·dx, y0 + j·dy, x0 + (i + 1)·dx, y0 + (j + 1)·dy`` to within *tol* each.
    Parcels off the grid (other shapes or sizes, or a second parcel in a cell) are
    ``others``, indexed by their own STRtree.
    """

    x0: float
    y0: float
    dx: float
    dy: float
    tol: float
    cells: np.ndarray
    others: np.ndarray
    others_tree: shapely.STRtree | None

    @classmethod
    def of(cls, geoms: np.ndarray, bounds: np.ndarray, is_box: np.ndarray) -> _Lattice | None:
        """Find the grid of the box parcels; None unless it holds at least half of them."""
        n = len(bounds)
        boxes = np.flatnonzero(is_box)
        if n == 0 or len(boxes) < n / 2:
            return None
        b = bounds[boxes]
        w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        dx, dy = float(np.median(w)), float(np.median(h))
        first = int(np.argmax((w == dx) & (h == dy)))
        x0, y0 = float(b[first, 0]), float(b[first, 1])
        # Cells grown by 1e-6 of their size absorb the rounding of x0 + i·dx.
        tol = 1e-6 * max(dx, dy)
        i = np.rint((b[:, 0] - x0) / dx)
        j = np.rint((b[:, 1] - y0) / dy)
        fits = (
            (np.abs(b[:, 0] - (x0 + i * dx)) <= tol)
            & (np.abs(b[:, 2] - (x0 + (i + 1) * dx)) <= tol)
            & (np.abs(b[:, 1] - (y0 + j * dy)) <= tol)
            & (np.abs(b[:, 3] - (y0 + (j + 1) * dy)) <= tol)
        )
        if fits.sum() < n / 2:
            return None
        i, j, members = i[fits], j[fits], boxes[fits]
        x0, y0 = x0 + i.min() * dx, y0 + j.min() * dy
        i, j = (i - i.min()).astype(np.int64), (j - j.min()).astype(np.int64)
        nx, ny = int(i.max()) + 1, int(j.max()) + 1
        if nx * ny > 8 * n + 1_000_000:  # too sparse for a dense look-up table
            return None
        # A second parcel in an occupied cell stays off the grid (the first one wins).
        flat = j * nx + i
        _, first_in_cell = np.unique(flat, return_index=True)
        cells = np.full(nx * ny, -1, dtype=np.int64)
        cells[flat[first_in_cell]] = members[first_in_cell]
        on_grid = np.zeros(n, dtype=bool)
        on_grid[members[first_in_cell]] = True
        others = np.flatnonzero(~on_grid)
        tree = shapely.STRtree(geoms[others]) if len(others) else None
        return cls(x0, y0, dx, dy, tol, cells.reshape(ny, nx), others, tree)

    def pairs(self, rects: np.ndarray, ids: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """``(k, 2)`` array of (``ids[rect]``, parcel) for parcels meeting *rects*, by rect.

        *bounds* are the bounds of all parcels.  Single-threaded (see
        :meth:`ParcelIndex.bounds_pairs`).
        """
        ny, nx = self.cells.shape
        empty = np.isnan(rects).any(axis=1)  # bounds of empty geometries: no pairs
        if empty.any():
            rects = np.where(empty[:, None], 0.0, rects)
        # A parcel's edges are within tol of its cell's, so a cell whose edges clear the
        # rectangle's by 2·tol surely meets it (or surely misses it); the rounding of the
        # divisions below is far smaller.  Columns i_lo..i_hi and rows j_lo..j_hi are the
        # cells that may meet; where a rectangle edge lies within 2·tol of a grid line the
        # sure range is narrower, and that rectangle's cells are tested against the bounds.
        margin = 2.0 * self.tol
        i_lo, i_sure_lo = (
            np.ceil((rects[:, 0] - self.x0 + m) / self.dx) - 1 for m in (-margin, margin)
        )
        i_hi, i_sure_hi = (
            np.floor((rects[:, 2] - self.x0 + m) / self.dx) for m in (margin, -margin)
        )
        j_lo, j_sure_lo = (
            np.ceil((rects[:, 1] - self.y0 + m) / self.dy) - 1 for m in (-margin, margin)
        )
        j_hi, j_sure_hi = (
            np.floor((rects[:, 3] - self.y0 + m) / self.dy) for m in (margin, -margin)
        )
        unsure = (
            (i_lo != i_sure_lo) | (i_hi != i_sure_hi) | (j_lo != j_sure_lo) | (j_hi != j_sure_hi)
        )
        i_lo, j_lo = np.clip(i_lo, 0, nx).astype(np.int64), np.clip(j_lo, 0, ny).astype(np.int64)
        i_hi = np.clip(i_hi, -1, nx - 1).astype(np.int64)
        j_hi = np.clip(j_hi, -1, ny - 1).astype(np.int64)
        n_i = np.maximum(i_hi - i_lo + 1, 0)
        n_j = np.where(empty | (n_i == 0), 0, np.maximum(j_hi - j_lo + 1, 0))
        # One run of n_i consecutive cells per (rectangle, row), then the cells of each run.
        rect_of_run, row = runs(n_j)
        row += j_lo[rect_of_run]
        run, cell = runs(n_i[rect_of_run])
        flat = (row * nx + i_lo[rect_of_run])[run] + cell
        rect = rect_of_run[run]
        parcel = self.cells.ravel()[flat]
        hit = parcel >= 0
        if unsure.any():
            check = hit & unsure[rect]
            meets = _meets(rect[check], parcel[check], rects, bounds)
            hit[np.flatnonzero(check)[~meets]] = False
        rect, parcel = rect[hit], parcel[hit]
        if self.others_tree is not None:
            ri, oi = self.others_tree.query(shapely.box(*rects.T))
            ri, oi = ri[~empty[ri]], oi[~empty[ri]]
            rect, parcel = _merge_grouped(rect, parcel, ri, self.others[oi], len(rects))
        return np.column_stack([ids[rect], parcel])


def _meets(
    rect: np.ndarray, parcel: np.ndarray, rects: np.ndarray, bounds: np.ndarray
) -> np.ndarray:
    """Whether each parcel's bounds meet its rectangle (boundaries included)."""
    pb, r = bounds[parcel], rects[rect]
    hit = (pb[:, 0] <= r[:, 2]) & (pb[:, 2] >= r[:, 0]) & (pb[:, 1] <= r[:, 3])
    return hit & (pb[:, 3] >= r[:, 1])


def _merge_grouped(
    a_key: np.ndarray, a_val: np.ndarray, b_key: np.ndarray, b_val: np.ndarray, n_keys: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two lists of pairs, each grouped by ascending key, into one grouped by key.

    Within a key, the pairs of *a* come first, then those of *b* (a counting merge, no sort).
    """
    a_count = np.bincount(a_key, minlength=n_keys)
    b_count = np.bincount(b_key, minlength=n_keys)
    start = np.cumsum(a_count + b_count) - (a_count + b_count)
    a_first = np.cumsum(a_count) - a_count
    b_first = np.cumsum(b_count) - b_count
    key = np.empty(len(a_key) + len(b_key), dtype=np.int64)
    val = np.empty(len(key), dtype=np.int64)
    a_pos = start[a_key] + np.arange(len(a_key)) - a_first[a_key]
    b_pos = start[b_key] + a_count[b_key] + np.arange(len(b_key)) - b_first[b_key]
    key[a_pos], val[a_pos] = a_key, a_val
    key[b_pos], val[b_pos] = b_key, b_val
    return key, val
