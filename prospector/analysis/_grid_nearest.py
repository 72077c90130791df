"""Nearest-line distances for grid parcels by ring search over a bucketed edge grid.

For parcels on a :class:`~prospector.analysis._boxes._Lattice`, the lines' edges are
bucketed into the grid's cells (by bounding box; the grid padded by ``PAD`` cells).  A parcel's
candidates are the edges in the square block of cells within *k* rings of its own; every
edge outside that block is at least ``k`` cell sizes away, so once the nearest candidate
is that close the answer is certain.  Two rounds settle it: the smallest block holding any
edge gives an upper bound, the block that bound calls for gives the exact minimum.  The
distance from a box to an edge that does not cross it is the least of the edge's end
points to the box and the box's corners to the edge (a closest pair of points always
includes a vertex of one of them), in array arithmetic; it agrees with GEOS ``distance``
to within a few ulps.

Parcels the search does not settle (too many rings, off the grid) get NaN: the caller
measures them with GEOS.  Parcels crossing a line must be settled by the caller first.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy import ndimage

from prospector._runtime import chunked
from prospector.analysis._arrays import runs
from prospector.analysis._boxes import _Lattice

__all__ = ["grid_nearest"]

#: Largest ring searched; farther parcels are left to GEOS.
MAX_RINGS = 8
#: Edges whose bounding box spans more cells than this disable the search (GEOS does all).
MAX_EDGE_CELLS = 4096
#: Cells added around the parcel grid for bucketing edges: a search of up to MAX_RINGS
#: rings from a parcel on the grid stays inside.
PAD = MAX_RINGS + 1


class _Edges:
    """Line edges bucketed by cell of the parcel grid padded by ``PAD`` cells on every side.

    The edges of padded cell *c* (numbered ``j * nx + i``, padded indices) are
    ``edge[start[c]:start[c + 1]]``.  A parcel's search never leaves the padded grid, so
    the parts of edges beyond it are not bucketed (edges wholly beyond it not at all).
    """

    def __init__(self, lattice: _Lattice, lines: np.ndarray):
        coords, line = shapely.get_coordinates(lines, return_index=True)
        same = np.flatnonzero(line[1:] == line[:-1])
        del line
        self.xy = np.empty((len(same), 4))  # (m, 4): ax, ay, bx, by
        self.xy[:, :2] = coords[same]
        self.xy[:, 2:] = coords[same + 1]
        del coords, same
        a, b = self.xy[:, :2], self.xy[:, 2:]  # views
        ny, nx = lattice.cells.shape
        self.nx, self.ny = nx + 2 * PAD, ny + 2 * PAD
        self.ok = bool(len(a)) and bool(np.isfinite(self.xy).all())
        if not self.ok:  # no edges, or NaN/inf coordinates: GEOS decides
            return
        tol = lattice.tol
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        # Padded cell ranges of each edge's bounding box grown by tol (x0 is cell PAD).
        i_lo = np.floor((lo[:, 0] - lattice.x0 - tol) / lattice.dx) + PAD
        i_hi = np.floor((hi[:, 0] - lattice.x0 + tol) / lattice.dx) + PAD
        j_lo = np.floor((lo[:, 1] - lattice.y0 - tol) / lattice.dy) + PAD
        j_hi = np.floor((hi[:, 1] - lattice.y0 + tol) / lattice.dy) + PAD
        del lo, hi
        keep = (i_hi >= 0) & (i_lo < self.nx) & (j_hi >= 0) & (j_lo < self.ny)
        i_lo, i_hi = np.clip(i_lo[keep], 0, self.nx - 1), np.clip(i_hi[keep], 0, self.nx - 1)
        j_lo, j_hi = np.clip(j_lo[keep], 0, self.ny - 1), np.clip(j_hi[keep], 0, self.ny - 1)
        n_i = (i_hi - i_lo + 1).astype(np.int64)
        n_j = (j_hi - j_lo + 1).astype(np.int64)
        count = n_i * n_j
        self.ok = bool(len(count)) and int(count.max()) <= MAX_EDGE_CELLS
        if not self.ok:
            return
        local, k = runs(count)
        edge = np.flatnonzero(keep)[local]
        cell = (j_lo.astype(np.int64)[local] + k // n_i[local]) * self.nx + (
            i_lo.astype(np.int64)[local] + k % n_i[local]
        )
        del local, k, n_i, n_j, count, keep, i_lo, i_hi, j_lo, j_hi
        order = np.argsort(cell, kind="stable")
        self.edge = edge[order]
        del edge, order
        per_cell = np.bincount(cell, minlength=self.nx * self.ny)
        del cell
        self.start = np.r_[0, np.cumsum(per_cell)]
        # Rings from each cell to the nearest cell holding an edge (chessboard metric).
        self.rings = ndimage.distance_transform_cdt(
            (per_cell == 0).reshape(self.ny, self.nx), metric="chessboard"
        ).astype(np.int64)


def grid_nearest(
    lattice: _Lattice, bounds: np.ndarray, rows: np.ndarray, lines: np.ndarray
) -> np.ndarray:
    """Distance from parcels *rows* (boxes on *lattice*) to the nearest of *lines*.

    *bounds* are all parcels' bounds; *lines* are LineStrings none of which crosses or
    touches any of the parcels.  NaN where the search does not settle the distance.
    """
    out = np.full(len(rows), np.nan)
    if len(rows) == 0 or len(lines) == 0:
        return out
    edges = _Edges(lattice, lines)
    if not edges.ok:
        return out
    ny, nx = lattice.cells.shape
    b = bounds[rows]
    finite = np.isfinite(b).all(axis=1)  # empty parcels (NaN bounds) are left to GEOS
    ci = np.full(len(rows), -1, dtype=np.int64)
    cj = np.full(len(rows), -1, dtype=np.int64)
    ci[finite] = np.rint((b[finite, 0] - lattice.x0) / lattice.dx)
    cj[finite] = np.rint((b[finite, 1] - lattice.y0) / lattice.dy)
    inside = (ci >= 0) & (ci < nx) & (cj >= 0) & (cj < ny)
    on_grid = np.zeros(len(rows), dtype=bool)
    on_grid[inside] = lattice.cells[cj[inside], ci[inside]] == rows[inside]
    at = np.flatnonzero(on_grid)
    if len(at) == 0:
        return out
    step = min(lattice.dx, lattice.dy)
    margin = 4.0 * lattice.tol

    def settle(ci: np.ndarray, cj: np.ndarray, b: np.ndarray) -> np.ndarray:
        ci, cj = ci + PAD, cj + PAD  # padded grid
        k = edges.rings[cj, ci]
        d = np.full(len(ci), np.nan)
        near = k <= MAX_RINGS
        d[near] = _block_min(edges, ci[near], cj[near], k[near], b[near])
        # Edges outside the block of k rings are at least k·step away (less the tolerance
        # of the parcel's fit to its cell): enough rings to exceed d make d exact.
        need = np.ceil((d + margin) / step)
        redo = near & (need > k)
        far = need[redo] > MAX_RINGS
        again = np.flatnonzero(redo)[~far]
        d[np.flatnonzero(redo)[far]] = np.nan
        k2 = need[again].astype(np.int64)
        d[again] = _block_min(edges, ci[again], cj[again], k2, b[again])
        return d

    out[at] = chunked(settle, ci[at], cj[at], b[at], block=8192)
    return out


def _block_min(
    edges: _Edges, ci: np.ndarray, cj: np.ndarray, k: np.ndarray, boxes: np.ndarray
) -> np.ndarray:
    """Least distance from each box to the edges in the cells within ``k`` rings of its cell.

    *ci*, *cj* are padded cell indices.
    """
    nx, ny = edges.nx, edges.ny
    j_lo, j_hi = np.maximum(cj - k, 0), np.minimum(cj + k, ny - 1)
    i_lo, i_hi = np.maximum(ci - k, 0), np.minimum(ci + k, nx - 1)
    # One run of consecutive cells per (box, row): a contiguous range of bucketed edges.
    box_of_run, row = runs(np.maximum(j_hi - j_lo + 1, 0))
    row += j_lo[box_of_run]
    first = edges.start[row * nx + i_lo[box_of_run]]
    last = edges.start[row * nx + i_hi[box_of_run] + 1]
    run, at = runs(last - first)
    edge = edges.edge[first[run] + at]
    box = box_of_run[run]
    return _least_distance(boxes, box, edges.xy[edge], len(ci))


def _least_distance(boxes: np.ndarray, box: np.ndarray, seg: np.ndarray, n: int) -> np.ndarray:
    """Least distance from each of *n* boxes to its segments (``seg[k]`` is box ``box[k]``'s).

    The segments do not cross the boxes, so the distance of a pair is the least of the
    segment's end points to the box and the box's corners to the segment.  The corner
    terms (the costly ones) are computed only for pairs where they can matter: where the
    segment's bounding box is nearer than both its end points and than the box's nearest
    end point overall.  Squared distances until the end.
    """
    b = boxes[box]
    x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    ax, ay, bx, by = seg[:, 0], seg[:, 1], seg[:, 2], seg[:, 3]

    def to_box2(px: np.ndarray, py: np.ndarray) -> np.ndarray:
        dx = np.maximum(np.maximum(x0 - px, px - x1), 0.0)
        dy = np.maximum(np.maximum(y0 - py, py - y1), 0.0)
        return dx * dx + dy * dy

    ends = np.minimum(to_box2(ax, ay), to_box2(bx, by))
    best = np.full(n, np.inf)
    np.minimum.at(best, box, ends)
    # Squared distance from the box to the segment's bounding box: a lower bound.
    gx = np.maximum(np.maximum(x0 - np.maximum(ax, bx), np.minimum(ax, bx) - x1), 0.0)
    gy = np.maximum(np.maximum(y0 - np.maximum(ay, by), np.minimum(ay, by) - y1), 0.0)
    floor = gx * gx + gy * gy
    k = np.flatnonzero((floor < ends) & (floor < best[box]))
    if len(k):
        ax, ay, bx, by = ax[k], ay[k], bx[k], by[k]
        ux, uy = bx - ax, by - ay
        length2 = ux * ux + uy * uy
        safe = np.where(length2 > 0, length2, 1.0)
        corners = np.full(len(k), np.inf)
        for cx, cy in ((x0, y0), (x1, y0), (x1, y1), (x0, y1)):
            px, py = cx[k], cy[k]
            t = np.clip(((px - ax) * ux + (py - ay) * uy) / safe, 0.0, 1.0)
            ex, ey = px - (ax + t * ux), py - (ay + t * uy)
            corners = np.minimum(corners, ex * ex + ey * ey)
        np.minimum.at(best, box[k], corners)
    return np.sqrt(best)
