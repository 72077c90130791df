"""Least-cost travel distance from roads over a friction surface built from slope.

Off-road travel costs more on steep ground; roads are cheap.  The accumulated cost from
the nearest road cell to every cell is found with scikit-image's minimum-cost-path module
(:class:`skimage.graph.MCP_Geometric`, a Dijkstra over the grid), not a hand-written search.
Pure: arrays and GeoDataFrames in, an array out.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
from affine import Affine

__all__ = ["friction", "travel_cost_km"]


def friction(
    slope_deg: np.ndarray, *, max_slope_deg: float = 35.0, slope_scale_deg: float = 15.0
) -> np.ndarray:
    """Off-road cost per metre: ``1 + (slope / slope_scale)²``; impassable (inf) beyond *max_slope_deg*.

    NaN slope (NoData) is impassable.
    """
    cost = 1.0 + (slope_deg / slope_scale_deg) ** 2
    return np.where(np.isnan(slope_deg) | (slope_deg > max_slope_deg), np.inf, cost)


def travel_cost_km(
    slope_deg: np.ndarray,
    roads: gpd.GeoDataFrame,
    *,
    bounds: tuple[float, float, float, float],
    crs: pyproj.CRS | str,
    road_cost: float = 0.2,
    max_slope_deg: float = 35.0,
) -> np.ndarray:
    """Accumulated least cost (km-equivalents of flat walking) from the nearest road.

    Parameters
    ----------
    slope_deg
        Slope grid (degrees), rows north to south, NaN for NoData.
    roads
        Road lines in any CRS (reprojected to the grid's CRS and burnt in, all touched cells).
    bounds
        (west, south, east, north) of the grid in its CRS.
    crs
        CRS of the grid; geographic grids use the metre spacing at their central latitude.
    road_cost
        Cost per metre on a road cell (relative to 1 on flat open ground).
    max_slope_deg
        Steeper cells are impassable.

    Returns
    -------
    numpy.ndarray
        Same shape as *slope_deg*; NaN where unreachable (no road in the grid, NoData, cliffs).
    """
    from rasterio.features import rasterize
    from skimage.graph import MCP_Geometric

    crs = pyproj.CRS.from_user_input(crs)
    rows, cols = slope_deg.shape
    west, south, east, north = bounds
    dx, dy = (east - west) / cols, (north - south) / rows
    if crs.is_geographic:
        lat = np.deg2rad((north + south) / 2.0)
        radius = 6_371_008.8
        dx, dy = np.deg2rad(dx) * radius * np.cos(lat), np.deg2rad(dy) * radius
    out = np.full(slope_deg.shape, np.nan)
    if roads is None or len(roads) == 0:
        return out
    local = roads.to_crs(crs) if roads.crs != crs else roads
    transform = Affine((east - west) / cols, 0.0, west, 0.0, -(north - south) / rows, north)
    on_road = rasterize(
        ((g, 1) for g in local.geometry if g is not None and not g.is_empty),
        out_shape=(rows, cols),
        transform=transform,
        fill=0,
        all_touched=True,
        dtype="uint8",
    ).astype(bool)
    cost = friction(slope_deg, max_slope_deg=max_slope_deg)
    cost = np.where(on_road & np.isfinite(cost), road_cost, cost)
    starts = np.argwhere(on_road & np.isfinite(cost))
    if len(starts) == 0:
        return out
    # MCP treats infinite costs as barriers; the sampling gives cell spacing in metres.
    mcp = MCP_Geometric(cost, sampling=(dy, dx))
    cumulative, _ = mcp.find_costs(starts)
    return np.where(np.isfinite(cumulative) & np.isfinite(cost), cumulative / 1000.0, np.nan)
