"""Vector geological evidence per parcel: kernel density of features such as fault traces."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from prospector._runtime import query_pairs
from prospector.analysis.value import kernel

__all__ = ["line_density"]


def line_density(
    parcels: gpd.GeoDataFrame,
    features: gpd.GeoDataFrame | None,
    *,
    radius_km: float,
    weight: str | None = "weight",
    max_piece_m: float = 250.0,
) -> np.ndarray:
    """Weighted length of evidence lines per km² around each parcel (biweight kernel).

    Lines are cut into pieces of at most ``max_piece_m``; each piece contributes its length
    (km) times its feature's *weight* (e.g. slip rate in mm/yr; 1 when None) times the
    kernel of its distance to the parcel, divided by the kernel's effective area
    (π r² / 3 for the biweight), so a straight unit-weight line through a parcel's centre
    at radius ≫ piece length gives ≈ 2r / (π r² / 3) km/km².

    Returns
    -------
    numpy.ndarray
        One value per parcel (0 with no features within *radius_km*).
    """
    n = len(parcels)
    if features is None or len(features) == 0:
        return np.zeros(n)
    if features.crs != parcels.crs:
        raise ValueError("features and parcels must share the work CRS")
    geoms = features.geometry.to_numpy()
    w = (
        features[weight].to_numpy(dtype=float)
        if weight and weight in features
        else np.ones(len(features))
    )
    parts, owner = shapely.get_parts(geoms, return_index=True)
    lines = shapely.get_type_id(parts) == 1
    parts, owner = parts[lines], owner[lines]
    if len(parts) == 0:
        return np.zeros(n)
    # Densify, then cut every line into its 2-point segments (vectorised).
    coords, idx = shapely.get_coordinates(shapely.segmentize(parts, max_piece_m), return_index=True)
    same = idx[:-1] == idx[1:]
    pieces = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    piece_w = w[owner[idx[:-1][same]]] * shapely.length(pieces) / 1000.0
    mid = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    radius_m = radius_km * 1000.0
    tree = shapely.STRtree(mid)
    pi, mi = query_pairs(tree, parcels.geometry.to_numpy(), "dwithin", distance=radius_m)
    k = kernel(shapely.distance(parcels.geometry.to_numpy()[pi], mid[mi]), radius_m, "biweight")
    effective_km2 = np.pi * radius_km**2 / 3.0
    return np.bincount(pi, weights=k * piece_w[mi], minlength=n) / effective_km2
