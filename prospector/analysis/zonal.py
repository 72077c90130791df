"""Raster summaries per parcel (exactextract) and terrain derivatives (slope).

Functions take arrays plus georeferencing, not file paths: reading rasters happens in
:mod:`prospector.ranking.rasters`.  Parcels are reprojected to the raster's CRS (vectors are
cheap to reproject; resampling the raster would alter its values).
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

__all__ = ["slope_degrees", "zonal_stats"]

_CONTINUOUS = ("mean", "min", "max", "stdev", "count")
_CATEGORICAL = ("majority", "count")


def slope_degrees(
    elevation: np.ndarray,
    *,
    res: tuple[float, float],
    crs: pyproj.CRS,
    bounds: tuple[float, float, float, float],
    nodata: float | None = None,
) -> np.ndarray:
    """Slope in degrees from an elevation grid (metres), NaN where any neighbour is NoData.

    Geographic grids are handled by converting the cell size to metres per row
    (east-west spacing shrinks with the cosine of latitude).

    Parameters
    ----------
    elevation
        2-D elevation array, rows north to south.
    res
        Cell size (x, y) in CRS units.
    crs
        CRS of the grid.
    bounds
        (west, south, east, north) of the grid.
    nodata
        NoData value of *elevation*.
    """
    z = elevation.astype("float64")
    if nodata is not None:
        z[elevation == nodata] = np.nan
    rows = z.shape[0]
    if crs.is_geographic:
        north = bounds[3]
        lat = north - (np.arange(rows) + 0.5) * res[1]
        a = 6378137.0
        dy = np.full(rows, np.deg2rad(res[1]) * a)
        dx = np.deg2rad(res[0]) * a * np.cos(np.deg2rad(lat))
    else:
        dx = np.full(rows, res[0])
        dy = np.full(rows, res[1])
    dzdy, dzdx = np.gradient(z)
    gx = dzdx / dx[:, None]
    gy = dzdy / dy[:, None]
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def zonal_stats(
    parcels: gpd.GeoDataFrame,
    values: np.ndarray,
    *,
    bounds: tuple[float, float, float, float],
    crs: pyproj.CRS | str,
    nodata: float | None = None,
    categorical: bool = False,
    prefix: str,
) -> pd.DataFrame:
    """Summarise a raster per parcel with exactextract (cell coverage fractions).

    Parameters
    ----------
    parcels
        Parcels in any CRS; reprojected to the raster CRS.
    values
        2-D array of raster values.
    bounds
        (west, south, east, north) of the raster in its CRS.
    crs
        CRS of the raster.
    nodata
        NoData value; such cells (and NaN) are excluded.
    categorical
        Summarise with the majority class instead of mean/min/max/std.
    prefix
        Column prefix, e.g. ``"slope"`` → ``slope_mean``.

    Returns
    -------
    pandas.DataFrame
        Indexed like *parcels*: ``<prefix>_<stat>`` columns and ``<prefix>_coverage``
        (share of the parcel's area with valid cells), NaN outside the raster.
    """
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    crs = pyproj.CRS.from_user_input(crs)
    stats = _CATEGORICAL if categorical else _CONTINUOUS
    columns = [f"{prefix}_{s}" for s in stats if s != "count"] + [f"{prefix}_coverage"]
    out = pd.DataFrame(np.nan, index=parcels.index, columns=columns)
    local = parcels.to_crs(crs) if parcels.crs != crs else parcels
    west, south, east, north = bounds
    hits = np.sort(local.sindex.query(shapely.box(*bounds), predicate="intersects"))
    if len(hits) == 0:
        return out
    subset = gpd.GeoDataFrame(
        {"_row": hits}, geometry=local.geometry.iloc[hits].to_numpy(), crs=crs
    )
    data = values.astype("float64")
    if nodata is not None:
        data = np.where(values == nodata, np.nan, data)
    source = NumPyRasterSource(data, west, south, east, north, nodata=np.nan, srs_wkt=crs.to_wkt())
    with warnings.catch_warnings():
        # exactextract warns when the vector and raster SRS strings differ textually.
        warnings.filterwarnings("ignore", message=".*spatial reference.*")
        result = exact_extract(source, subset, list(stats), include_cols=["_row"], output="pandas")
    rows = result["_row"].to_numpy()
    cell_area = abs((east - west) / values.shape[1] * (north - south) / values.shape[0])
    for s in stats:
        if s == "count":
            continue
        col = "stdev" if s == "stdev" else s
        out.iloc[rows, out.columns.get_loc(f"{prefix}_{s}")] = result[col].to_numpy(dtype=float)
    # Same units as cell_area (degrees² for geographic rasters): the ratio is what matters.
    area = shapely.area(subset.geometry.to_numpy())
    coverage = np.clip(result["count"].to_numpy(dtype=float) * cell_area / area, 0.0, 1.0)
    out.iloc[rows, out.columns.get_loc(f"{prefix}_coverage")] = coverage
    return out
