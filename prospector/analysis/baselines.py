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


def brownfields_features(
    parcels: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    owner: np.ndarray,
    *,
    radii_km: Sequence[float],
) -> pd.DataFrame:
    """Kernel density of the known sites around each parcel, without its own sites.

    Parameters
    ----------
    parcels
        Parcels in the work CRS.
    sites
        Known (training) sites in the same CRS.
    owner
        Positional index of each site's parcel (−1 outside every parcel); those sites do
        not count for their own parcel.
    radii_km
        Biweight kernel radii.

    Returns
    -------
    pandas.DataFrame
        ``brownfields_<r>km`` per radius: sites per 100 km² (kernel-weighted).
    """
    out = pd.DataFrame(index=parcels.index)
    centres = shapely.centroid(parcels.geometry.to_numpy())
    points = sites.geometry.to_numpy()
    owner = np.asarray(owner)
    valid = ~(shapely.is_missing(points) | shapely.is_empty(points))
    tree = shapely.STRtree(points[valid])
    index = np.flatnonzero(valid)
    for r in radii_km:
        radius_m = float(r) * 1000.0
        pi, si = tree.query(centres, predicate="dwithin", distance=radius_m)
        si = index[si]
        other = owner[si] != pi
        pi, si = pi[other], si[other]
        k = kernel(shapely.distance(centres[pi], points[si]), radius_m, "biweight")
        area = np.pi * float(r) ** 2 / 3.0
        out[f"brownfields_{float(r):g}km"] = (
            np.bincount(pi, weights=k, minlength=len(parcels)) / area * 100.0
        )
    return out
