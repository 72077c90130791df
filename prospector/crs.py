"""Work-CRS policy and coordinate sanity checks.

Areas and distances are measured in an explicit equal-area work CRS (EPSG:5070,
CONUS Albers, by default; EPSG:3338 for Alaska).  Layers are checked where they
enter: a missing CRS, projected coordinates labelled as lon/lat (or lon/lat labelled
as projected), longitudes in 0..360 and swapped lon/lat are errors with a fix, never
guessed silently.  Lon/lat geometries drawn across the antimeridian (the Aleutians)
are split there, with a counted :class:`~prospector.errors.GeometryRepairWarning`,
and a region outside the work CRS's area of use is refused.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError as PyprojCRSError

from prospector.errors import CRSError, GeometryRepairWarning, ProspectorWarning

__all__ = [
    "DEFAULT_WORK_CRS",
    "check_area_of_use",
    "check_layer_crs",
    "split_antimeridian",
    "to_work_crs",
    "work_crs",
]

DEFAULT_WORK_CRS = "EPSG:5070"

#: Degrees a region may reach beyond the work CRS's published area of use (coastal
#: boundaries and generalised outlines overshoot it slightly).
_AREA_OF_USE_TOLERANCE_DEG = 1.0
_MAX_LISTED = 10


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
    units = {axis.unit_name for axis in out.axis_info}
    if units != {"metre"}:
        raise CRSError(
            f"work_crs {crs!r} has axis units {', '.join(sorted(units))}; Prospector measures "
            "cells, areas and distances in metres. Use a metric equal-area CRS such as "
            "EPSG:5070 (CONUS Albers) or EPSG:3338 (Alaska Albers)."
        )
    method = (out.coordinate_operation.method_name if out.coordinate_operation else "").lower()
    if "equal area" not in method and "albers" not in method and "sinusoidal" not in method:
        warnings.warn(
            f"work_crs {crs!r} ({method or 'unknown projection'}) is not equal-area: parcel "
            "areas and fractions are distorted away from its centre. Prefer EPSG:5070 "
            "(CONUS Albers) or EPSG:3338 (Alaska Albers).",
            ProspectorWarning,
            stacklevel=2,
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
    if geoms.empty:
        return
    xmin, ymin, xmax, ymax = geoms.total_bounds
    if not np.isfinite([xmin, ymin, xmax, ymax]).all():
        raise CRSError(
            f"{where}: some coordinates are NaN or infinite; fix or remove those features."
        )
    if not gdf.crs.is_geographic:
        unit = (gdf.crs.axis_info[0].unit_name if gdf.crs.axis_info else "") or ""
        linear = any(u in unit.lower() for u in ("metre", "meter", "foot", "feet"))
        spread = max(xmax - xmin, ymax - ymin)
        if linear and max(abs(xmin), abs(xmax)) <= 180.0 and max(abs(ymin), abs(ymax)) <= 90.0 \
                and spread > 0.0:  # fmt: skip
            raise CRSError(
                f"{where}: the layer says it is in {gdf.crs.to_string()} ({unit}s) but all its "
                f"coordinates lie in ({xmin:.3f}, {ymin:.3f}, {xmax:.3f}, {ymax:.3f}), which look "
                "like longitude/latitude degrees. Assign EPSG:4326 (or the geographic CRS the "
                "data was made in) instead, e.g. `ogr2ogr -a_srs EPSG:4326 out.gpkg in.shp`."
            )
        return
    # US data in lon/lat has negative longitudes (west) and positive latitudes below 72°N.
    # Coordinates with x in [15, 75] and y in [-180, -60] are US points with lon/lat swapped.
    points = geoms.representative_point()
    xs = points.x.to_numpy()
    ys = points.y.to_numpy()
    swapped = (xs > 15) & (xs < 75) & (ys < -60) & (ys >= -180)
    if swapped.mean() > 0.5:
        raise CRSError(
            f"{where}: {int(swapped.sum())} of {len(xs)} features have x in 15..75 and y in "
            "-180..-60: longitude and latitude look swapped. Swap the coordinate columns "
            "(x = longitude, y = latitude) and re-create the file."
        )
    if max(abs(ymin), abs(ymax)) <= 90.0 and xmin >= -180.0 and 180.0 < xmax <= 360.0:
        raise CRSError(
            f"{where}: longitudes reach {xmax:.3f}°: the layer uses the 0..360° convention. "
            "Convert longitudes to -180..180 (subtract 360 from those above 180), e.g. "
            "`ogr2ogr -wrapdateline`, or re-export it from the source."
        )
    if max(abs(xmin), abs(xmax)) > 180.0 or max(abs(ymin), abs(ymax)) > 90.0:
        raise CRSError(
            f"{where}: the layer says it is in {gdf.crs.to_string()} (degrees) but its "
            f"coordinates reach ({xmin:.0f}, {ymin:.0f}, {xmax:.0f}, {ymax:.0f}), which are "
            "projected metres or feet. Assign the CRS the data was really made in."
        )


def split_antimeridian(gdf: gpd.GeoDataFrame, *, where: str) -> gpd.GeoDataFrame:
    """Split lon/lat lines and polygons drawn across the antimeridian (180°).

    A polygon around the Aleutians from 179°E to 179°W, stored as ``(179, ...)``,
    ``(-179, ...)``, is read as a band spanning 358° of longitude and would become a
    world-spanning sliver in any projected CRS.  A part is treated as crossing when it
    spans more than 180° of longitude but less than 180° once negative longitudes are
    shifted by +360°; it is then cut at 180° into an eastern and a western piece.  The
    repairs are counted in a :class:`~prospector.errors.GeometryRepairWarning`.

    Parameters
    ----------
    gdf
        A layer in any CRS (only geographic ones are touched).
    where
        File and layer, for the message.

    Returns
    -------
    geopandas.GeoDataFrame
        *gdf* itself when nothing crosses, else a copy with the crossing geometries split.
    """
    if gdf.crs is None or not gdf.crs.is_geographic or gdf.empty:
        return gdf
    bounds = gdf.geometry.bounds.to_numpy()
    candidates = np.flatnonzero((bounds[:, 2] - bounds[:, 0]) > 180.0)
    if candidates.size == 0:
        return gdf
    geometry = np.asarray(gdf.geometry.array, dtype=object).copy()
    repaired: list[int] = []
    for i in candidates:
        fixed = _split_geometry(geometry[i])
        if fixed is not None:
            geometry[i] = fixed
            repaired.append(int(i))
    if not repaired:
        return gdf
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geometry, index=gdf.index, crs=gdf.crs)
    warnings.warn(
        f"{where}: split {len(repaired)} geometries that cross the antimeridian (180°) "
        f"into eastern and western parts (rows {list(gdf.index[repaired][:_MAX_LISTED])}); "
        "they were drawn from one side of 180° to the other and would otherwise wrap "
        "around the world.",
        GeometryRepairWarning,
        stacklevel=2,
    )
    return out


def _split_geometry(geom: shapely.Geometry) -> shapely.Geometry | None:
    """Split the parts of *geom* that cross 180°; None when no part does."""
    parts = shapely.get_parts(geom)
    changed = False
    pieces: list[shapely.Geometry] = []
    for part in parts:
        xmin, _, xmax, _ = part.bounds
        if xmax - xmin <= 180.0:
            pieces.append(part)
            continue
        shifted = shapely.transform(part, _shift_west)
        sxmin, _, sxmax, _ = shifted.bounds
        if sxmax - sxmin >= 180.0:
            pieces.append(part)  # genuinely huge, not a crossing: leave it alone
            continue
        changed = True
        east = shapely.intersection(shifted, shapely.box(-180.0, -90.0, 180.0, 90.0))
        west = shapely.intersection(shifted, shapely.box(180.0, -90.0, 540.0, 90.0))
        west = shapely.affinity.translate(west, xoff=-360.0)
        pieces += [
            p for p in (*shapely.get_parts(east), *shapely.get_parts(west)) if not p.is_empty
        ]
    if not changed:
        return None
    if all(shapely.get_type_id(p) == shapely.GeometryType.POLYGON for p in pieces):
        return shapely.MultiPolygon(pieces)
    if all(shapely.get_type_id(p) == shapely.GeometryType.LINESTRING for p in pieces):
        return shapely.MultiLineString(pieces)
    return shapely.GeometryCollection(pieces)


def _shift_west(coords: np.ndarray) -> np.ndarray:
    out = coords.copy()
    out[:, 0] = np.where(out[:, 0] < 0.0, out[:, 0] + 360.0, out[:, 0])
    return out


def check_area_of_use(gdf: gpd.GeoDataFrame, crs: pyproj.CRS, *, where: str) -> None:
    """Raise :class:`CRSError` when features lie outside *crs*'s area of use.

    Equal-area projections are only accurate over the area they were designed for:
    EPSG:5070 (CONUS Albers) projects Alaska, but with distorted areas.  Each part's
    lon/lat extent must lie within the published area of use (± 1°).

    Parameters
    ----------
    gdf
        Features with a CRS (typically the region boundary).
    crs
        The work CRS.
    where
        File and layer, for the message.
    """
    area = crs.area_of_use
    if area is None or gdf.crs is None or gdf.empty:
        return
    lonlat = gdf.to_crs("EPSG:4326") if not pyproj.CRS(gdf.crs).equals("EPSG:4326") else gdf
    parts = lonlat.geometry.explode(index_parts=False)
    parts = parts[~(parts.isna() | parts.is_empty)]
    if parts.empty:
        return
    b = parts.bounds.to_numpy()
    tol = _AREA_OF_USE_TOLERANCE_DEG
    lat_ok = (b[:, 1] >= area.south - tol) & (b[:, 3] <= area.north + tol)
    if area.west <= area.east:
        lon_ok = (b[:, 0] >= area.west - tol) & (b[:, 2] <= area.east + tol)
    else:  # the area of use crosses the antimeridian (EPSG:3338, Alaska)
        lon_ok = ((b[:, 0] >= area.west - tol) & (b[:, 2] <= 180.0)) | (
            (b[:, 0] >= -180.0) & (b[:, 2] <= area.east + tol)
        )
    outside = ~(lat_ok & lon_ok)
    if outside.any():
        xmin, ymin, xmax, ymax = b[outside].min(axis=0)[0], b[outside].min(axis=0)[1], \
            b[outside].max(axis=0)[2], b[outside].max(axis=0)[3]  # fmt: skip
        raise CRSError(
            f"{where}: {int(outside.sum())} of {len(b)} parts lie outside the area of use of "
            f"the work CRS {crs.to_string()} ({crs.name}: lon "
            f"{area.west:g}..{area.east:g}, lat {area.south:g}..{area.north:g}); they reach lon "
            f"{xmin:.2f}..{xmax:.2f}, lat {ymin:.2f}..{ymax:.2f}. Areas and distances there "
            "would be distorted. Set `work_crs` in the region file (or config) to an "
            "equal-area CRS for the area: EPSG:5070 for the conterminous US, EPSG:3338 for "
            "Alaska, ESRI:102007 for Hawaii."
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
