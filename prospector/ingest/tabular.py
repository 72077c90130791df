"""Tables of points (CSV, Excel) as vector layers.

Sites often arrive as tables: USGS data-release CSVs, a company's prospect spreadsheet.
:func:`read_points` reads them through GDAL (pyogrio's CSV and XLSX drivers, so no extra
dependency) and builds point geometries from

* coordinate columns named in the region file (``x = "Long_NAD83"``, ``y = "Lat_NAD83"``,
  ``crs = "EPSG:4269"``), or
* coordinate columns recognised by their names (case-insensitive): lon/lat,
  longitude/latitude, long/lat, lng/lat, Long_NAD83/Lat_NAD83, Long_NAD27/Lat_NAD27,
  Approx_Lon/Approx_Lat, x/y, easting/northing, or
* a column of WKT geometries (``wkt = "geometry"``, or a column named WKT, geometry, geom
  or the_geom).

Rows whose coordinates are missing, not numbers, outside -180..180 / -90..90 (for degrees),
exactly (0, 0), or unreadable WKT keep their attributes and get a null geometry; they are
counted, listed by row number in a :class:`~prospector.errors.ProspectorWarning`, and the
loader reports them with the other null geometries (never dropped silently).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from prospector.errors import CRSError, LayerReadError, ProspectorWarning, SchemaError

__all__ = ["TABLE_SUFFIXES", "PointsReport", "is_table", "read_points"]

#: File suffixes read as tables of points.
TABLE_SUFFIXES: Final = (".csv", ".tsv", ".xlsx")

#: Recognised (x, y) column-name pairs, lower case, in order of preference.
_XY_NAMES: Final = (
    ("longitude", "latitude"),
    ("lon", "lat"),
    ("long", "lat"),
    ("lng", "lat"),
    ("long_nad83", "lat_nad83"),
    ("lon_nad83", "lat_nad83"),
    ("longitude_nad83", "latitude_nad83"),
    ("long_nad27", "lat_nad27"),
    ("lon_nad27", "lat_nad27"),
    ("long_wgs84", "lat_wgs84"),
    ("lon_wgs84", "lat_wgs84"),
    ("approx_lon", "approx_lat"),
    ("dec_long", "dec_lat"),
    ("longitude_dd", "latitude_dd"),
    ("x", "y"),
    ("easting", "northing"),
)
_WKT_NAMES: Final = ("wkt", "geometry", "geom", "the_geom")
_MAX_ROWS_LISTED: Final = 10


@dataclass
class PointsReport:
    """How the points of a table were built."""

    n_rows: int = 0
    x: str | None = None
    y: str | None = None
    wkt: str | None = None
    crs: str = "EPSG:4326"
    bad_rows: dict[str, list[int]] = field(default_factory=dict)
    """Reason -> 1-based data-row numbers (header not counted) with no usable geometry."""

    @property
    def n_bad(self) -> int:
        """Rows without a usable geometry."""
        return sum(len(rows) for rows in self.bad_rows.values())


def is_table(path: str | Path) -> bool:
    """Whether *path* is read as a table of points (by suffix)."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def read_points(
    path: str | Path,
    *,
    x: str | None = None,
    y: str | None = None,
    crs: str | None = None,
    wkt: str | None = None,
    sheet: str | None = None,
    where: str | None = None,
) -> tuple[gpd.GeoDataFrame, PointsReport]:
    """Read a CSV or Excel table and build point (or WKT) geometries.

    Parameters
    ----------
    path : path
        ``.csv``, ``.tsv`` or ``.xlsx`` file.
    x, y : str, optional
        Coordinate columns; both or neither.  Default: recognised by name.
    crs : str, optional
        CRS of the coordinates.  Default: EPSG:4269 (NAD83) when the column names say
        NAD83, EPSG:4267 for NAD27, EPSG:4326 for other longitude/latitude names; x/y,
        easting/northing and WKT columns need it.
    wkt : str, optional
        Column of WKT geometries (instead of x/y).
    sheet : str, optional
        Worksheet of an Excel file (default: the first).
    where : str, optional
        OGR SQL attribute filter.

    Returns
    -------
    geopandas.GeoDataFrame, PointsReport
        Every row of the table (rows without a usable geometry have a null geometry).

    Raises
    ------
    prospector.errors.LayerReadError
        The file cannot be read.
    prospector.errors.SchemaError
        No coordinate or WKT column is named or recognised, or a named one is missing.
    prospector.errors.CRSError
        Projected coordinates (x/y, easting/northing, WKT) without a ``crs``.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # GDAL notes about field widths
            table = pyogrio.read_dataframe(
                path, layer=sheet, where=where, read_geometry=False,
                **({"open_options": {"AUTODETECT_TYPE": "NO"}} if path.suffix.lower() != ".xlsx"
                   else {}),
            )  # fmt: skip
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise LayerReadError(
            f"cannot read the table {path}"
            + (f" (sheet {sheet!r})" if sheet else "")
            + f": {exc}. Check that it is a CSV or .xlsx file GDAL can open."
        ) from exc
    table = pd.DataFrame(table)
    report = PointsReport(n_rows=len(table))
    label = f"{path}" + (f" (sheet {sheet!r})" if sheet else "")
    columns = {str(c).lower(): str(c) for c in table.columns}
    if (x is None) != (y is None):
        raise SchemaError(f"{label}: give both `x` and `y` coordinate columns, or neither.")
    if x is None and wkt is None:
        found = next(((columns[a], columns[b]) for a, b in _XY_NAMES
                      if a in columns and b in columns), None)  # fmt: skip
        if found is not None:
            x, y = found
        else:
            wkt = next((columns[n] for n in _WKT_NAMES if n in columns), None)
    if x is None and wkt is None:
        raise SchemaError(
            f"{label}: no coordinate columns. Name them in the region file's [[layers]] table "
            '(x = "...", y = "...", crs = "EPSG:4326") or as lon/lat, longitude/latitude, '
            'Long_NAD83/Lat_NAD83 or x/y, or give a WKT column (wkt = "..."). Columns: '
            + ", ".join(map(str, table.columns[:20]))
        )
    for name in (x, y, wkt):
        if name is not None and name not in table.columns:
            raise SchemaError(
                f"{label}: column {name!r} not found. Columns: "
                + ", ".join(map(str, table.columns[:20]))
            )
    if wkt is not None:
        report.wkt = wkt
        report.crs = _need_crs(crs, label, f"the WKT column {wkt!r}")
        geoms = _from_wkt(table[wkt], report)
        table = table.drop(columns=[wkt])
    else:
        assert x is not None and y is not None
        report.x, report.y = x, y
        report.crs = crs or _default_crs(x, y, label)
        geoms = _from_xy(table[x], table[y], report)
    if report.n_bad:
        details = "; ".join(
            f"{reason}: {len(rows)} (rows {', '.join(map(str, rows[:_MAX_ROWS_LISTED]))}"
            + (", ..." if len(rows) > _MAX_ROWS_LISTED else "") + ")"
            for reason, rows in report.bad_rows.items()
        )  # fmt: skip
        warnings.warn(
            f"{label}: {report.n_bad} of {report.n_rows} rows have no usable location and are "
            f"not placed on the map ({details}). Fix the coordinates in the file, or check "
            "the x/y columns and crs named in the region file.",
            ProspectorWarning,
            stacklevel=2,
        )
    return gpd.GeoDataFrame(table, geometry=geoms, crs=report.crs), report


def _default_crs(x: str, y: str, label: str) -> str:
    names = f"{x} {y}".lower()
    if "nad27" in names:
        return "EPSG:4267"
    if "nad83" in names:
        return "EPSG:4269"
    if any(w in names for w in ("lon", "lat", "lng")):
        return "EPSG:4326"
    return _need_crs(None, label, f"the columns {x!r}/{y!r}")


def _need_crs(crs: str | None, label: str, what: str) -> str:
    if crs:
        return crs
    raise CRSError(
        f"{label}: {what} may be projected coordinates, and no CRS is given. Add "
        'crs = "EPSG:xxxx" to the layer in the region file (EPSG:4326 for WGS 84 degrees).'
    )


def _from_xy(xs: pd.Series, ys: pd.Series, report: PointsReport) -> gpd.GeoSeries:
    x = pd.to_numeric(xs.astype("string").str.strip(), errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(ys.astype("string").str.strip(), errors="coerce").to_numpy(dtype=float)
    missing = xs.isna().to_numpy() | ys.isna().to_numpy()
    missing |= (xs.astype("string").str.strip() == "").fillna(True).to_numpy(dtype=bool)
    missing |= (ys.astype("string").str.strip() == "").fillna(True).to_numpy(dtype=bool)
    not_number = ~missing & ~(np.isfinite(x) & np.isfinite(y))
    bad = missing | not_number
    degrees = report.crs in ("EPSG:4326", "EPSG:4269", "EPSG:4267", "OGC:CRS84")
    out_of_range = np.zeros(len(x), dtype=bool)
    if degrees:
        out_of_range = ~bad & ((np.abs(x) > 180) | (np.abs(y) > 90))
    null_island = ~bad & ~out_of_range & (x == 0) & (y == 0)
    for reason, mask in (
        ("missing coordinates", missing),
        ("coordinates that are not numbers", not_number),
        ("coordinates outside -180..180 / -90..90", out_of_range),
        ("coordinates exactly (0, 0)", null_island),
    ):
        if mask.any():
            report.bad_rows[reason] = [int(i) + 1 for i in np.flatnonzero(mask)]
    ok = ~(bad | out_of_range | null_island)
    points = np.full(len(x), None, dtype=object)
    points[ok] = shapely.points(x[ok], y[ok])
    return gpd.GeoSeries(points, index=xs.index, crs=report.crs)


def _from_wkt(texts: pd.Series, report: PointsReport) -> gpd.GeoSeries:
    values = texts.astype("string").fillna("").to_numpy(dtype=object)
    geoms = shapely.from_wkt(values, on_invalid="ignore")
    blank = np.array([not str(v).strip() for v in values])
    bad = ~blank & pd.isna(geoms)
    if blank.any():
        report.bad_rows["missing WKT"] = [int(i) + 1 for i in np.flatnonzero(blank)]
    if bad.any():
        report.bad_rows["unreadable WKT"] = [int(i) + 1 for i in np.flatnonzero(bad)]
    return gpd.GeoSeries(geoms, index=texts.index, crs=report.crs)


def points_options(spec: Mapping[str, str]) -> dict[str, str]:
    """Return the keyword arguments of :func:`read_points` found in a region layer table."""
    return {k: str(spec[k]) for k in ("x", "y", "crs", "wkt", "sheet") if k in spec}
