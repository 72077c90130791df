"""Geometry of a staking plan: local projection, structural trend and the claim lattice.

Everything here works in one target's *local transverse Mercator* projection: centred on
the target (NAD83, GRS 1980 ellipsoid), scale factor 1 on the central meridian (times
an optional ground-height factor), so that within the few kilometres of a target a
metre in the projection is a metre on the ellipsoid (scale error below 4e-7 at 5 km from
the centre, 0.2 mm on a 1,500 ft side).  Claims are laid out as exact rectangles there;
longitude/latitude and UTM coordinates are derived from those corners.

The lattice
-----------
Rotating the open ground by the trend azimuth turns the trend into grid north; claims
are then axis-aligned rectangles ``width × length`` (600 × 1,500 ft) on a regular
lattice, so neighbouring claims share side and end lines and every end line is
perpendicular to the trend (end lines parallel, as 30 U.S.C. 23 asks).  Sixteen lattice
offsets (quarter steps along and across) are tried and the one giving the most full
claims wins (ties: the smallest offset).  A cell that is not wholly on open ground is
*shortened*: the longest run along the trend over which the full-width strip stays on
open ground becomes the claim, when it is at least ``min_length`` long.  Cells are then
taken in a compact, contiguous order: starting from the cell nearest the target's
centre and growing through side-sharing neighbours, nearest first.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import pyproj
import shapely
from shapely import affinity

from prospector.errors import ConfigError

__all__ = ["Lattice", "axial_mean_azimuth", "layout_claims", "local_tm", "utm_crs"]

#: Mean Earth radius (m), for the ground-height scale factor of the local projection.
_EARTH_RADIUS_M = 6_371_000.0

#: Lattice offsets tried, as fractions of a cell.
_OFFSETS = (0.0, 0.25, 0.5, 0.75)


def local_tm(lon: float, lat: float, *, ground_height_m: float = 0.0) -> pyproj.CRS:
    """Transverse Mercator on NAD83 centred at *lon*, *lat* (rounded to 1e-6°).

    Parameters
    ----------
    lon, lat
        Centre in decimal degrees (NAD83).
    ground_height_m
        Height of the ground above the ellipsoid; the scale factor becomes
        ``1 + h / R`` so that projected distances are horizontal ground distances at that
        height (a low-distortion projection, as surveyors use).
    """
    k0 = 1.0 + ground_height_m / _EARTH_RADIUS_M
    return pyproj.CRS.from_proj4(
        f"+proj=tmerc +lat_0={lat:.6f} +lon_0={lon:.6f} +k_0={k0:.12f} "
        "+x_0=0 +y_0=0 +datum=NAD83 +units=m +no_defs +type=crs"
    )


def utm_crs(lon: float, lat: float) -> tuple[pyproj.CRS, str]:
    """NAD83 / UTM zone CRS for a point, and its label (e.g. ``"12N"``).

    NAD83 UTM zones 1-23 north (EPSG:26901-26923) cover the United States; elsewhere
    the WGS 84 UTM zone is returned.
    """
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    north = lat >= 0
    if north and zone <= 23:
        return pyproj.CRS.from_epsg(26900 + zone), f"{zone}N"
    return pyproj.CRS.from_epsg(
        (32600 if north else 32700) + zone
    ), f"{zone}{'N' if north else 'S'}"


def axial_mean_azimuth(
    lines: np.ndarray, *, weights: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Length-weighted mean *axial* azimuth of line segments (directions modulo 180°).

    Each segment's azimuth φ (clockwise from grid north) is doubled so that a fault
    drawn north-to-south and one drawn south-to-north agree; the mean of the doubled
    angles, weighted by segment length, is halved back (the standard treatment of axial
    data).

    Parameters
    ----------
    lines
        Line geometries in a projected CRS whose grid north is the reference.
    weights
        Optional weight per line (multiplies each segment's length).

    Returns
    -------
    tuple
        ``(azimuth_deg in [0, 180), total_length, concentration)``; concentration is the
        mean resultant length in [0, 1] (1: all parallel, 0: no preferred direction).
        ``(nan, 0.0, 0.0)`` without segments.
    """
    lines = np.asarray(lines, dtype=object)
    parts = shapely.get_parts(lines)
    if len(parts) == 0:
        return float("nan"), 0.0, 0.0
    coords, index = shapely.get_coordinates(parts, return_index=True)
    same = index[1:] == index[:-1]
    d = np.diff(coords, axis=0)[same]
    owner = index[1:][same]
    seg_len = np.hypot(d[:, 0], d[:, 1])
    if weights is not None:
        w_parts = np.repeat(np.asarray(weights, dtype=float), shapely.get_num_parts(lines))
        seg_len = seg_len * w_parts[owner]
    total = float(seg_len.sum())
    if total <= 0.0:
        return float("nan"), 0.0, 0.0
    phi2 = 2.0 * np.arctan2(d[:, 0], d[:, 1])
    c, s = float((seg_len * np.cos(phi2)).sum()), float((seg_len * np.sin(phi2)).sum())
    azimuth = (np.degrees(np.arctan2(s, c)) / 2.0) % 180.0
    return float(azimuth), total, float(np.hypot(c, s) / total)


@dataclass(frozen=True)
class Lattice:
    """Claims laid out for one target, in its local projection.

    Attributes
    ----------
    corners
        ``(n, 4, 2)`` corner coordinates in taking order: corner 1 and 2 on the first end
        line (1 on the left looking along the trend), 3 and 4 on the far end line (3
        opposite 2), so the ring 1-2-3-4 runs counter-clockwise.
    lengths, widths
        Length along the trend and width across it (m).
    full
        True for full-size claims.
    block
        Contiguous block number (0 = the block grown from the target's centre).
    """

    corners: np.ndarray
    lengths: np.ndarray
    widths: np.ndarray
    full: np.ndarray
    block: np.ndarray


def _unrotate(xy: np.ndarray, azimuth_deg: float) -> np.ndarray:
    """Undo the rotation that turned the trend north (clockwise by the azimuth)."""
    t = np.radians(azimuth_deg)
    c, s = np.cos(t), np.sin(t)
    x, y = xy[..., 0], xy[..., 1]
    return np.stack([x * c + y * s, -x * s + y * c], axis=-1)


def _cells(
    bounds: tuple[float, float, float, float], w: float, length: float, ox: float, oy: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = bounds
    x0, y0 = minx - ox * w, miny - oy * length
    nx = max(int(np.ceil((maxx - x0) / w)), 1)
    ny = max(int(np.ceil((maxy - y0) / length)), 1)
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    i, j = ii.ravel(), jj.ravel()
    xs, ys = x0 + i * w, y0 + j * length
    return i, j, xs, ys, shapely.box(xs, ys, xs + w, ys + length)


def _longest_open_run(
    cell: shapely.Geometry, allowed: shapely.Geometry, y0: float, y1: float
) -> tuple[float, float]:
    """Longest interval [a, b] ⊂ [y0, y1] where the full-width strip lies in *allowed*."""
    blocked = shapely.get_parts(shapely.difference(cell, allowed))
    blocked = blocked[shapely.area(blocked) > 1e-6]  # floating-point slivers block nothing
    if len(blocked) == 0:
        return y0, y1
    b = shapely.bounds(blocked)
    spans = sorted(zip(b[:, 1], b[:, 3], strict=True))
    best, start = (y0, y0), y0
    for lo, hi in spans:
        if lo > start and lo - start > best[1] - best[0]:
            best = (start, min(lo, y1))
        start = max(start, hi)
    if y1 > start and y1 - start > best[1] - best[0]:
        best = (start, y1)
    return best


def layout_claims(
    open_ground: shapely.Geometry,
    *,
    azimuth_deg: float,
    length_m: float,
    width_m: float,
    min_length_m: float,
    centre: tuple[float, float],
    max_claims: int | None,
    max_cells: int = 200_000,
) -> Lattice:
    """Lay lode claims over *open_ground* (local projection, metres).

    Parameters
    ----------
    open_ground
        Ground claims may cover (already shrunk by any setback).
    azimuth_deg
        Trend of the long sides, clockwise from grid north.
    length_m, width_m
        Full claim size along and across the trend.
    min_length_m
        Shortest shortened claim kept.
    centre
        Where the block starts growing (projected x, y).
    max_claims
        Most claims to take (None: all that fit).
    max_cells
        Refuse lattices larger than this (the open ground is far larger than a target).
    """
    empty = Lattice(
        corners=np.zeros((0, 4, 2)),
        lengths=np.zeros(0),
        widths=np.zeros(0),
        full=np.zeros(0, dtype=bool),
        block=np.zeros(0, dtype=int),
    )
    if open_ground is None or shapely.is_empty(open_ground) or shapely.area(open_ground) <= 0:
        return empty
    # Rotating by +azimuth (counter-clockwise) about the origin turns the trend to north.
    ground = affinity.rotate(open_ground, azimuth_deg, origin=(0.0, 0.0))
    shapely.prepare(ground)
    bounds = shapely.bounds(ground)
    n_cells = ((bounds[2] - bounds[0]) / width_m + 1) * ((bounds[3] - bounds[1]) / length_m + 1)
    if n_cells > max_cells:
        raise ConfigError(
            f"the open ground spans about {n_cells:,.0f} claim cells (limit {max_cells:,}); "
            "stake a smaller area (--area) or fewer parcels (--top, --parcel)"
        )
    best = None
    for oy in _OFFSETS:
        for ox in _OFFSETS:
            i, j, xs, ys, cells = _cells(tuple(bounds), width_m, length_m, ox, oy)
            inside = shapely.contains(ground, cells)
            score = (int(inside.sum()), -ox - oy)
            if best is None or score > best[0]:
                best = (score, (i, j, xs, ys, cells, inside))
    assert best is not None
    i, j, xs, ys, cells, inside = best[1]
    touching = ~inside & shapely.intersects(ground, cells)
    y_lo, y_hi = ys.copy(), ys + length_m
    keep = inside.copy()
    for k in np.flatnonzero(touching):
        a, b = _longest_open_run(cells[k], ground, ys[k], ys[k] + length_m)
        if b - a >= min_length_m:
            y_lo[k], y_hi[k], keep[k] = a, b, True
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        return empty
    # Grow contiguous blocks from the cell nearest the centre, nearest neighbour first.
    cx, cy = affinity.rotate(shapely.Point(centre), azimuth_deg, origin=(0.0, 0.0)).coords[0]
    mid_x, mid_y = xs[idx] + width_m / 2, (y_lo[idx] + y_hi[idx]) / 2
    dist = np.hypot(mid_x - cx, mid_y - cy)
    where = {(int(i[k]), int(j[k])): n for n, k in enumerate(idx)}
    taken: list[int] = []
    blocks: list[int] = []
    seen = np.zeros(len(idx), dtype=bool)
    limit = len(idx) if max_claims is None else min(max_claims, len(idx))
    block = -1
    while len(taken) < limit:
        remaining = np.flatnonzero(~seen)
        seed = int(remaining[np.lexsort((remaining, dist[remaining]))[0]])
        block += 1
        heap = [(dist[seed], seed)]
        seen[seed] = True
        while heap and len(taken) < limit:
            _, n = heapq.heappop(heap)
            taken.append(n)
            blocks.append(block)
            ci, cj = int(i[idx[n]]), int(j[idx[n]])
            for key in ((ci - 1, cj), (ci + 1, cj), (ci, cj - 1), (ci, cj + 1)):
                m = where.get(key)
                if m is not None and not seen[m]:
                    seen[m] = True
                    heapq.heappush(heap, (dist[m], m))
    order = idx[np.asarray(taken)]
    x0, x1 = xs[order], xs[order] + width_m
    y0, y1 = y_lo[order], y_hi[order]
    rotated = np.stack(
        [np.stack([x0, y0], -1), np.stack([x1, y0], -1), np.stack([x1, y1], -1),
         np.stack([x0, y1], -1)], axis=1,
    )  # fmt: skip
    lengths = y1 - y0
    return Lattice(
        corners=_unrotate(rotated, azimuth_deg),
        lengths=lengths,
        widths=np.full(len(order), width_m),
        full=inside[order],
        block=np.asarray(blocks, dtype=int),
    )
