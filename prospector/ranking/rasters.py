"""Rasters of a run, read once: bands, slope and travel cost, then summarised per parcel.

:func:`prepare_rasters` reads every raster of the region and derives slope (and, with
``access.travel_cost``, the least-cost travel distance from roads) once per run;
:func:`raster_columns` summarises the prepared grids over any set of parcels, so tiles of
a partitioned run share the grids instead of recomputing them.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from prospector.analysis.travel import travel_cost_km
from prospector.analysis.zonal import slope_degrees, zonal_stats
from prospector.config import Config
from prospector.ingest import RasterLayer
from prospector.ingest.read import read_dem_band, read_raster_band

__all__ = ["RasterGrid", "prepare_rasters", "raster_columns"]


@dataclass(frozen=True)
class RasterGrid:
    """One raster read into memory, with what the run derives from it."""

    layer: RasterLayer
    values: np.ndarray
    nodata: float | None
    bounds: tuple[float, float, float, float]
    crs: pyproj.CRS
    slope: np.ndarray | None = None
    """Slope in degrees (DEMs only)."""
    travel: np.ndarray | None = None
    """Least-cost travel distance from roads in km (DEMs, with ``access.travel_cost``)."""


def prepare_rasters(
    rasters: list[RasterLayer], config: Config, *, roads: gpd.GeoDataFrame | None
) -> list[RasterGrid]:
    """Read *rasters* and derive slope and travel cost (from *roads*) for the DEMs.

    Parameters
    ----------
    rasters
        The region's rasters.
    config
        Run configuration (``access.travel_cost``, ``access.max_slope_deg``).
    roads
        Every road feature the run uses (None: no travel cost).
    """
    grids = []
    for layer in rasters:
        raster = read_dem_band(layer.path) if layer.kind == "dem" else read_raster_band(layer.path)
        slope = travel = None
        if layer.kind == "dem":
            slope = slope_degrees(
                raster.values,
                res=raster.res,
                crs=raster.crs,
                bounds=raster.bounds,
                nodata=raster.nodata,
            )
            if config.access.travel_cost and roads is not None:
                travel = travel_cost_km(
                    slope,
                    roads,
                    bounds=raster.bounds,
                    crs=raster.crs,
                    max_slope_deg=config.access.max_slope_deg,
                )
        grids.append(
            RasterGrid(
                layer, raster.values, raster.nodata, raster.bounds, raster.crs, slope, travel
            )
        )
    return grids


def raster_columns(parcels: gpd.GeoDataFrame, grids: list[RasterGrid]) -> pd.DataFrame:
    """Summaries of the prepared *grids* over *parcels*, indexed like *parcels*.

    DEMs give ``slope_mean_deg``, ``slope_max_deg``, ``relief_m``, ``dem_coverage`` (and
    ``travel_cost_km``); continuous evidence rasters ``ev_<name>_*`` (criteria through
    ``ev_<name>_mean``); other rasters ``<name>_*``.
    """
    out = pd.DataFrame(index=parcels.index)
    for grid in grids:
        bounds, crs = grid.bounds, grid.crs
        if grid.slope is not None:
            z = zonal_stats(
                parcels, grid.slope, bounds=bounds, crs=crs, nodata=None, prefix="slope"
            )
            out["slope_mean_deg"] = z["slope_mean"]
            out["slope_max_deg"] = z["slope_max"]
            elev = zonal_stats(
                parcels, grid.values, bounds=bounds, crs=crs, nodata=grid.nodata, prefix="elev"
            )
            out["relief_m"] = elev["elev_max"] - elev["elev_min"]
            out["dem_coverage"] = z["slope_coverage"]
            if grid.travel is not None:
                t = zonal_stats(
                    parcels, grid.travel, bounds=bounds, crs=crs, nodata=None, prefix="travel"
                )
                out["travel_cost_km"] = t["travel_mean"]
            continue
        layer = grid.layer
        name = layer.name.replace("-", "_")
        evidence = layer.kind == "evidence" and not layer.categorical
        z = zonal_stats(
            parcels,
            grid.values,
            nodata=grid.nodata,
            categorical=layer.categorical,
            prefix=f"ev_{name}" if evidence else name,
            bounds=bounds,
            crs=crs,
        )
        for col in z.columns:
            out[col] = z[col]
    return out
