"""Site-only rankings to measure a ranking against, and the brownfields features.

A ranking earns trust only if it beats what the known sites alone would say.  Two
baselines use nothing but the training sites' positions:

``kde``
    Kernel density of the sites: a Gaussian of bandwidth *h* (Scott's rule for 2-D,
    ``h = σ n^(−1/6)`` with σ the mean of the two coordinates' standard deviations, unless
    given) evaluated at parcel centroids.  Computed on a grid of ``h / 4`` cells with a
    Gaussian filter (exact to the gridding of the sites), so its cost does not grow with
    sites × parcels.
``nearest5``
    Minus the mean distance from the parcel centroid to the 5 nearest sites (closer is
    better), from a k-d tree.

:func:`brownfields_features` gives the kernel densities of the sites at several radii as
model features (``brownfields_<r>km``), leaving out the sites inside the parcel itself
so that a parcel's own site cannot explain its label.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.ndimage import gaussian_filter
from scipy.spatial import cKDTree

from prospector.analysis.value import kernel

__all__ = ["brownfields_features", "kde_bandwidth_m", "kde_score", "nearest_score"]

_EXACT_MAX_KM = 10.0
"""Brownfields radii up to this are summed exactly over pairs; larger ones on a grid."""
_CENTRE_BLOCK = 1 << 14
"""Parcel centres whose site pairs are found at once (bounds the pair arrays' memory)."""


def _xy(geoms: np.ndarray) -> np.ndarray:
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    return shapely.get_coordinates(geoms)


def kde_bandwidth_m(sites: gpd.GeoDataFrame) -> float:
    """Scott's rule bandwidth (metres) of the sites' positions (1 km floor)."""
    xy = _xy(sites.geometry.to_numpy())
    if len(xy) < 2:
        return 1000.0
    sigma = float(np.mean(np.std(xy, axis=0, ddof=1)))
    return max(1000.0, sigma * len(xy) ** (-1.0 / 6.0))


def kde_score(
    centres: np.ndarray, sites: gpd.GeoDataFrame, *, bandwidth_m: float | None = None
) -> np.ndarray:
    """Gaussian kernel density of *sites* at *centres* (points), relative units.

    Parameters
    ----------
    centres
        Points (e.g. parcel centroids) in the sites' projected CRS.
    sites
        Training sites.
    bandwidth_m
        Gaussian sigma in metres (default: :func:`kde_bandwidth_m`).
    """
    cxy = shapely.get_coordinates(centres)
    sxy = _xy(sites.geometry.to_numpy())
    if len(sxy) == 0:
        return np.zeros(len(cxy))
    h = kde_bandwidth_m(sites) if bandwidth_m is None else float(bandwidth_m)
    cell = h / 4.0
    lo = np.minimum(cxy.min(axis=0), sxy.min(axis=0)) - 4 * h
    hi = np.maximum(cxy.max(axis=0), sxy.max(axis=0)) + 4 * h
    shape = np.ceil((hi - lo) / cell).astype(int) + 1
    grid = np.zeros(shape[::-1])
    col, row = np.floor((sxy - lo) / cell).astype(int).T
    np.add.at(grid, (row, col), 1.0)
    smooth = gaussian_filter(grid, sigma=4.0, mode="constant", truncate=4.0)
    ccol, crow = np.floor((cxy - lo) / cell).astype(int).T
    return smooth[crow, ccol]


def nearest_score(centres: np.ndarray, sites: gpd.GeoDataFrame, *, k: int = 5) -> np.ndarray:
    """Minus the mean distance (km) from each centre to its *k* nearest sites."""
    cxy = shapely.get_coordinates(centres)
    sxy = _xy(sites.geometry.to_numpy())
    if len(sxy) == 0:
        return np.zeros(len(cxy))
    k = min(k, len(sxy))
    dist, _ = cKDTree(sxy).query(cxy, k=k)
    dist = dist.reshape(len(cxy), k)
    return -dist.mean(axis=1) / 1000.0


def _pairs_within(cxy: np.ndarray, sxy: np.ndarray, radius_m: float) -> tuple[np.ndarray, ...]:
    """Centre and site positions of every pair closer than *radius_m*, with the distance."""
    parts = []
    tree = cKDTree(sxy)
    for start in range(0, len(cxy), _CENTRE_BLOCK):
        block = cKDTree(cxy[start : start + _CENTRE_BLOCK])
        # "ndarray" output keeps pairs at distance 0 (a site on the centroid).
        m = block.sparse_distance_matrix(tree, radius_m, output_type="ndarray")
        parts.append((m["i"].astype(np.int64) + start, m["j"].astype(np.int64), m["v"]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    ci, si, d = (np.concatenate(x) for x in zip(*parts, strict=True))
    return ci, si, d


def _site_kernel_sum(
    cxy: np.ndarray, sxy: np.ndarray, radius_m: float, skip: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Sum over sites of the biweight kernel at each centre, leaving out the *skip* pairs.

    Radii up to ``_EXACT_MAX_KM`` are summed exactly over the site–centre pairs.  Larger
    radii reach thousands of sites per centre, so sites are counted on a grid of
    ``radius / 32`` cells (aligned to multiples of the cell size), the grid is convolved
    with the kernel sampled at cell offsets (FFT), and each centre reads its cell: the
    kernel of the distance between cell centres, off by at most one cell diagonal.  The
    skipped pairs are subtracted the same way (exact or between cell centres), so a
    skipped site contributes exactly nothing either way.
    """
    skip_c, skip_s = skip
    n = len(cxy)
    if len(sxy) == 0:
        return np.zeros(n)
    if radius_m <= _EXACT_MAX_KM * 1000.0:
        ci, _, d = _pairs_within(cxy, sxy, radius_m)
        total = np.bincount(ci, weights=kernel(d, radius_m, "biweight"), minlength=n)
        gone = kernel(np.hypot(*(cxy[skip_c] - sxy[skip_s]).T), radius_m, "biweight")
        return np.maximum(total - np.bincount(skip_c, weights=gone, minlength=n), 0.0)
    extent = float(np.ptp(np.r_[cxy, sxy], axis=0).max())
    cell = max(radius_m / 32.0, extent / 4096.0)
    reach = int(np.ceil(radius_m / cell))
    origin = np.floor(np.minimum(cxy.min(axis=0), sxy.min(axis=0)) / cell) - reach
    c_cell = (np.floor(cxy / cell) - origin).astype(np.int64)
    s_cell = (np.floor(sxy / cell) - origin).astype(np.int64)
    shape = np.maximum(c_cell.max(axis=0), s_cell.max(axis=0)) + reach + 1
    grid = np.zeros((int(shape[1]), int(shape[0])))
    np.add.at(grid, (s_cell[:, 1], s_cell[:, 0]), 1.0)
    offsets = np.arange(-reach, reach + 1) * cell
    weights = kernel(np.hypot(*np.meshgrid(offsets, offsets)), radius_m, "biweight")
    from scipy.signal import fftconvolve  # here: scipy.signal loads scipy.stats (~60 MB)

    smooth = fftconvolve(grid, weights, mode="same")
    total = smooth[c_cell[:, 1], c_cell[:, 0]]
    total[total < 1e-9] = 0.0  # FFT round-off where no site reaches
    gone = kernel(cell * np.hypot(*(c_cell[skip_c] - s_cell[skip_s]).T), radius_m, "biweight")
    return np.maximum(total - np.bincount(skip_c, weights=gone, minlength=n), 0.0)


def brownfields_features(
    parcels: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    owner: np.ndarray,
    *,
    radii_km: Sequence[float],
    exclude_km: float | np.ndarray = 0.0,
) -> pd.DataFrame:
    """Kernel density of the known sites around each parcel, without the sites it must not see.

    Parameters
    ----------
    parcels
        Parcels in the work CRS.
    sites
        Known (training) sites in the same CRS.
    owner
        Positional index of the parcel each site must not count for (−1: it counts for
        every parcel).  Pass each site's own parcel to leave every parcel's own sites
        out, or only the sites that label a training parcel to leave exactly those out.
    radii_km
        Biweight kernel radii.
    exclude_km
        Sites closer than this to a parcel's centroid do not count for it either: the
        features a parcel would have if the ground around it were unexplored.  One
        distance, or one per parcel.

    Returns
    -------
    pandas.DataFrame
        ``brownfields_<r>km`` per radius: sites per 100 km² (kernel-weighted; the kernel's
        effective area is π r² / 3).  Exact for radii up to 10 km, counted on a grid of
        r / 32 cells beyond (see ``_site_kernel_sum``).
    """
    out = pd.DataFrame(index=parcels.index)
    cxy = shapely.get_coordinates(shapely.centroid(parcels.geometry.to_numpy()))
    points = sites.geometry.to_numpy()
    valid = ~(shapely.is_missing(points) | shapely.is_empty(points))
    sxy = shapely.get_coordinates(points[valid])
    owner = np.asarray(owner, dtype=np.int64)[valid]
    own_s = np.flatnonzero(owner >= 0)
    own_c = owner[own_s]
    exclude_m = np.broadcast_to(np.asarray(exclude_km, dtype=float) * 1000.0, (len(cxy),))
    reach_km = float(exclude_m.max(initial=0.0)) / 1000.0
    for r in radii_km:
        radius_m = float(r) * 1000.0
        skip_c, skip_s = own_c, own_s
        if reach_km > 0 and len(sxy):
            near_c, near_s, d = _pairs_within(cxy, sxy, min(reach_km, float(r)) * 1000.0)
            inside = d < exclude_m[near_c]
            near_c, near_s = near_c[inside], near_s[inside]
            pairs = np.unique(np.c_[np.r_[own_c, near_c], np.r_[own_s, near_s]], axis=0)
            skip_c, skip_s = pairs[:, 0], pairs[:, 1]
        total = _site_kernel_sum(cxy, sxy, radius_m, (skip_c, skip_s))
        area = np.pi * float(r) ** 2 / 3.0
        out[f"brownfields_{float(r):g}km"] = total / area * 100.0
    return out
