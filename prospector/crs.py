"""Work-CRS policy and coordinate sanity checks.

Areas and distances are measured in an explicit equal-area work CRS (EPSG:5070,
CONUS Albers, by default; EPSG:3338 for Alaska).  Layers are checked where they
enter: a missing CRS, projected coordinates labelled as lon/lat, or swapped
lon/lat are errors with a fix, never guessed silently.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
from pyproj.exceptions import CRSError as PyprojCRSError

from prospector.errors import CRSError

__all__ = ["DEFAULT_WORK_CRS", "check_layer_crs", "to_work_crs", "work_crs"]

DEFAULT_WORK_CRS = "EPSG:5070"


def work_crs(crs: str | int | None = None) -> pyproj.CRS:
    """Return the work CRS, checking that it is projected (metres)."""
    try:
        out = pyproj.CRS.from_user_input(crs or DEFAULT_WORK_CRS)
    except PyprojCRSError as exc:
        raise CRSError(f"work_crs {crs!r} is not a valid CRS: {exc}") from exc
    if not out.is_projected:
        raise CRSError(
            f"work_crs {crs!r} is geographic; areas and distances need a projected CRS in "
            "metres, e.g. EPSG:5070 (CONUS Albers) or EPSG:3338 (Alaska Albers)."
        )
    return out


def check_layer_crs(gdf: gpd.GeoDataFrame, *, where: str) -> None:
    """Raise :class:`CRSError` when a layer's CRS is missing or contradicts its coordinates.

    Parameters
    ----------
    gdf
        The layer as read.
    where
        File and layer, for the message.
    """
    if gdf.crs is None:
        raise CRSError(
            f"{where}: the layer has no CRS. Assign the right one in a GIS (for a shapefile, "
            "add its .prj) or convert it, e.g. `ogr2ogr -a_srs EPSG:4326 out.gpkg in.shp`."
        )
    geoms = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if geoms.empty or not gdf.crs.is_geographic:
        return
    xmin, ymin, xmax, ymax = geoms.total_bounds
    if max(abs(xmin), abs(xmax)) > 180.0 or max(abs(ymin), abs(ymax)) > 90.0:
        raise CRSError(
            f"{where}: the layer says it is in {gdf.crs.to_string()} (degrees) but its "
            f"coordinates reach ({xmin:.0f}, {ymin:.0f}, {xmax:.0f}, {ymax:.0f}), which are "
            "projected metres or feet. Assign the CRS the data was really made in."
        )
    # US data in lon/lat has negative longitudes (west) and positive latitudes below 72°N.
    # Coordinates with x in [0, 90] and y in [-180, -60] are US points with lon/lat swapped.
    xs = geoms.representative_point().x.to_numpy()
    ys = geoms.representative_point().y.to_numpy()
    swapped = (xs > 15) & (xs < 75) & (ys < -60) & (ys > -180)
    if swapped.mean() > 0.5:
        raise CRSError(
            f"{where}: {int(swapped.sum())} of {len(xs)} features have x in 15..75 and y in "
            "-180..-60: longitude and latitude look swapped. Swap the coordinate columns "
            "(x = longitude, y = latitude) and re-create the file."
        )


def to_work_crs(gdf: gpd.GeoDataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """Reproject to the work CRS (no-op when already in it)."""
    if gdf.crs is not None and pyproj.CRS(gdf.crs) == crs:
        return gdf
    out = gdf.to_crs(crs)
    bad = ~np.isfinite(out.geometry.bounds.to_numpy()).all(axis=1) & ~out.geometry.is_empty
    if bad.any():
        raise CRSError(
            f"{int(bad.sum())} features could not be projected to {crs.to_string()} "
            "(they fall outside its area of use). Check the layer's CRS and extent, or pick a "
            "work_crs that covers the region."
        )
    return out
