"""Derived structural evidence per parcel: tips, intersections and bends of evidence lines.

Ore fluids favour the places where faults end, cross or change direction (dilational
jogs, damage zones) more than straight fault segments.  From the vector evidence lines
(faults, contacts...) three kinds of *structural points* are derived:

``tips``
    The end points of every line (a fault section that ends, or splays).
``intersections``
    Points where two different lines cross or touch (one point per pair of lines).
``bends``
    Interior vertices where the line turns by more than ``bend_deg`` degrees, after
    densifying nothing: vertices as published.

Each kind becomes a density per parcel: the biweight-kernel-weighted count of points
within ``radius_km`` of the parcel centroid, per 100 km² (the kernel's effective area is
π r² / 3).  Evidence is split by its ``kind`` column (``fault``, ``contact``...), so a region
with faults and contacts gets ``struct_fault_tips``, ``struct_contact_tips``, ...; and the
distance to and line density of each kind at several radii (``dist_evidence_<kind>_km``,
``density_evidence_<kind>_<r>km``) are added for the prospectivity model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector.analysis.evidence import line_density
from prospector.analysis.value import kernel

__all__ = ["point_density", "structural_features", "structural_points"]


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_") or "evidence"


def structural_points(lines: np.ndarray, *, bend_deg: float = 20.0) -> dict[str, np.ndarray]:
    """Tips, pairwise intersections and bends of line geometries.

    Returns
    -------
    dict
        ``tips``, ``intersections``, ``bends``: arrays of shapely Points.
    """
    parts = shapely.get_parts(np.asarray(lines, dtype=object))
    parts = parts[(shapely.get_type_id(parts) == 1) & ~shapely.is_empty(parts)]
    if len(parts) == 0:
        empty = np.empty(0, dtype=object)
        return {"tips": empty, "intersections": empty, "bends": empty}
    tips = np.r_[shapely.get_point(parts, 0), shapely.get_point(parts, -1)]
    # Intersections: each pair of distinct lines that meets, one representative point.
    tree = shapely.STRtree(parts)
    a, b = tree.query(parts, predicate="intersects")
    keep = a < b
    meet = shapely.intersection(parts[a[keep]], parts[b[keep]])
    meet = meet[~shapely.is_empty(meet)]
    intersections = shapely.point_on_surface(meet) if len(meet) else np.empty(0, dtype=object)
    # Bends: turning angle at interior vertices.
    coords, owner = shapely.get_coordinates(parts, return_index=True)
    same_prev = np.r_[False, owner[1:] == owner[:-1]]
    same_next = np.r_[owner[1:] == owner[:-1], False]
    interior = np.flatnonzero(same_prev & same_next)
    v_in = coords[interior] - coords[interior - 1]
    v_out = coords[interior + 1] - coords[interior]
    norm = np.hypot(*v_in.T) * np.hypot(*v_out.T)
    cos = np.divide((v_in * v_out).sum(axis=1), norm, out=np.ones(len(interior)), where=norm > 0)
    turn = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    bends = shapely.points(coords[interior[turn > bend_deg]])
    return {"tips": tips, "intersections": intersections, "bends": bends}


def point_density(parcels: gpd.GeoDataFrame, points: np.ndarray, *, radius_km: float) -> np.ndarray:
    """Biweight-kernel count of *points* around each parcel centroid, per 100 km²."""
    n = len(parcels)
    if len(points) == 0 or n == 0:
        return np.zeros(n)
    radius_m = radius_km * 1000.0
    centres = shapely.centroid(parcels.geometry.to_numpy())
    tree = shapely.STRtree(points)
    pi, qi = tree.query(centres, predicate="dwithin", distance=radius_m)
    k = kernel(shapely.distance(centres[pi], points[qi]), radius_m, "biweight")
    effective_km2 = np.pi * radius_km**2 / 3.0
    return np.bincount(pi, weights=k, minlength=n) / effective_km2 * 100.0


def structural_features(
    parcels: gpd.GeoDataFrame,
    evidence: gpd.GeoDataFrame | None,
    *,
    radius_km: float = 10.0,
    density_km: Sequence[float] = (2.0, 5.0),
    max_km: float = 200.0,
    bend_deg: float = 20.0,
) -> pd.DataFrame:
    """Structural evidence columns per parcel, per evidence ``kind``.

    Parameters
    ----------
    parcels
        Parcels in the work CRS (metres).
    evidence
        Vector evidence lines in the same CRS, with an optional ``kind`` column.
    radius_km
        Kernel radius of the structural point densities.
    density_km
        Radii of the extra line densities (besides ``evidence.density_radius_km``).
    max_km
        Distances beyond this are NaN.
    bend_deg
        Turning angle above which an interior vertex is a bend.

    Returns
    -------
    pandas.DataFrame
        Indexed like *parcels*: ``struct_<kind>_tips``, ``struct_<kind>_intersections``,
        ``struct_<kind>_bends`` (per 100 km²), ``density_evidence_<kind>_<r>km`` and, when
        the evidence has several kinds, ``dist_evidence_<kind>_km``.
    """
    out = pd.DataFrame(index=parcels.index)
    if evidence is None or len(evidence) == 0:
        return out
    if evidence.crs != parcels.crs:
        raise ValueError("evidence and parcels must share the work CRS")
    kinds = (
        evidence["kind"].fillna("evidence").astype(str)
        if "kind" in evidence
        else pd.Series("evidence", index=evidence.index)
    )
    several = kinds.nunique() > 1
    centres = shapely.centroid(parcels.geometry.to_numpy())
    for kind in sorted(kinds.unique()):
        subset = evidence[(kinds == kind).to_numpy()]
        slug = _slug(kind)
        points = structural_points(subset.geometry.to_numpy(), bend_deg=bend_deg)
        for name, pts in points.items():
            out[f"struct_{slug}_{name}"] = point_density(parcels, pts, radius_km=radius_km)
        for r in density_km:
            out[f"density_evidence_{slug}_{r:g}km"] = line_density(
                parcels, subset, radius_km=float(r), weight=None, max_piece_m=max(250.0, r * 50.0)
            )
        if several:
            tree = shapely.STRtree(subset.geometry.to_numpy())
            idx, dist = tree.query_nearest(
                centres, max_distance=max_km * 1000.0, return_distance=True, all_matches=False
            )
            d = np.full(len(parcels), np.nan)
            d[idx[0]] = dist / 1000.0
            out[f"dist_evidence_{slug}_km"] = d
    return out
