"""Decode ArcGIS ``/query`` replies (GeoJSON or Esri JSON) into attributes and shapely geometries."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from prospector.ingest._arcgis_rest import FIX_BROKEN_REPLY, FIX_REQUEST, ArcGISClient, LayerInfo

__all__ = ["esri_geometry", "parse_page"]


def parse_page(
    body: Mapping[str, Any], info: LayerInfo, client: ArcGISClient, context: str
) -> tuple[list[dict[str, Any]], list[BaseGeometry | None], bool]:
    """Return attributes, geometries and the "more records" flag of one page."""
    features = body.get("features")
    if not isinstance(features, list):
        raise client.error(context, "the reply has no 'features' list", FIX_REQUEST)
    exceeded = bool(
        body.get("exceededTransferLimit")
        or (body.get("properties") or {}).get("exceededTransferLimit")
    )
    geometry_type = body.get("geometryType") or info.geometry_type
    oid = info.object_id_field
    properties: list[dict[str, Any]] = []
    geometries: list[BaseGeometry | None] = []
    try:
        for feature in features:
            if "attributes" in feature:  # Esri JSON
                props = dict(feature.get("attributes") or {})
                geometry = esri_geometry(feature.get("geometry"), geometry_type)
            else:  # GeoJSON
                props = dict(feature.get("properties") or {})
                raw = feature.get("geometry")
                geometry = shape(raw) if raw else None
                if oid and oid not in props and feature.get("id") is not None:
                    props[oid] = feature["id"]
            properties.append(props)
            geometries.append(None if geometry is None or geometry.is_empty else geometry)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError) as exc:
        raise client.error(
            context, f"a feature could not be decoded ({exc})", FIX_BROKEN_REPLY
        ) from exc
    return properties, geometries, exceeded


def esri_geometry(
    geometry: Mapping[str, Any] | None, geometry_type: str | None
) -> BaseGeometry | None:
    """Convert one Esri JSON geometry to shapely (x/y only; Z and M dropped)."""
    if not geometry:
        return None
    if "rings" in geometry:
        return _esri_polygon(geometry["rings"])
    if "paths" in geometry:
        paths = [np.asarray(p, dtype=float)[:, :2] for p in geometry["paths"] if len(p) >= 2]
        if not paths:
            return None
        return shapely.LineString(paths[0]) if len(paths) == 1 else shapely.MultiLineString(paths)
    if "points" in geometry:
        points = np.asarray(geometry["points"], dtype=float)
        return shapely.MultiPoint(points[:, :2]) if len(points) else None
    if "x" in geometry:
        # An empty point has x null or the string "NaN" (ArcGIS REST geometry objects).
        try:
            x, y = float(geometry["x"]), float(geometry["y"])
        except (KeyError, TypeError, ValueError):
            return None
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        return shapely.Point(x, y)
    if "xmin" in geometry:
        return shapely.box(geometry["xmin"], geometry["ymin"], geometry["xmax"], geometry["ymax"])
    raise ValueError(f"unsupported Esri geometry (geometryType={geometry_type!r})")


def _esri_polygon(rings: Sequence[Sequence[Sequence[float]]]) -> BaseGeometry | None:
    """Assemble Esri polygon rings (shells clockwise, holes anticlockwise)."""
    arrays = [np.asarray(ring, dtype=float)[:, :2] for ring in rings if len(ring) >= 3]
    if not arrays:
        return None
    # Shoelace signed area: negative means clockwise, i.e. an outer ring.
    signed = np.array(
        [
            0.5 * np.sum(a[:-1, 0] * a[1:, 1] - a[1:, 0] * a[:-1, 1])
            + 0.5 * (a[-1, 0] * a[0, 1] - a[0, 0] * a[-1, 1])
            for a in arrays
        ]
    )
    is_shell = signed < 0
    if not is_shell.any():  # orientation not followed: every ring is a shell
        is_shell[:] = True
    shells = [arrays[i] for i in np.flatnonzero(is_shell)]
    holes: list[list[np.ndarray]] = [[] for _ in shells]
    shell_polygons = shapely.polygons(shells)
    for index in np.flatnonzero(~is_shell):
        probe = shapely.Point(arrays[index][0])
        inside = np.flatnonzero(shapely.covers(shell_polygons, probe))
        if inside.size:
            holes[int(inside[0])].append(arrays[index])
        else:  # an orphan hole is kept as an area rather than silently dropped
            shells.append(arrays[index])
            holes.append([])
    polygons = [shapely.Polygon(shell, hole) for shell, hole in zip(shells, holes, strict=True)]
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
