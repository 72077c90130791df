"""Access per parcel: distances to roads, railways, power lines and vector evidence."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["decay", "nearest_distance_km"]


def nearest_distance_km(
    parcels: gpd.GeoDataFrame, features: gpd.GeoDataFrame | None, *, max_km: float
) -> np.ndarray:
    """Distance in km from each parcel (its edge; 0 when touching) to the nearest feature.

    Uses ``STRtree.query_nearest`` with ``max_distance``; parcels with no feature within
    *max_km* (or when *features* is None or empty) get NaN.
    """
    n = len(parcels)
    out = np.full(n, np.nan)
    if features is None or len(features) == 0:
        return out
    if features.crs != parcels.crs:
        raise ValueError("features and parcels must share the work CRS")
    tree = shapely.STRtree(features.geometry.to_numpy())
    (pi, _fi), dist = tree.query_nearest(
        parcels.geometry.to_numpy(),
        max_distance=max_km * 1000.0,
        return_distance=True,
        all_matches=False,
    )
    out[pi] = dist / 1000.0
    return out


def decay(distance_km: np.ndarray, scale_km: float) -> np.ndarray:
    """Exponential access decay in [0, 1]: 1 at 0 km, 1/e at *scale_km*, 0 when NaN."""
    d = np.asarray(distance_km, dtype=float)
    return np.where(np.isnan(d), 0.0, np.exp(-d / scale_km))
