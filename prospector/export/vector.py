"""GeoJSON and FlatGeobuf export: one GDAL vector file per layer, with a QGIS style.

GeoJSON follows RFC 7946 (EPSG:4326 lon/lat, right-hand rings, 7 decimals, no ``crs``
member); FlatGeobuf keeps the layer's CRS and gets a spatial index.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio

from prospector.export.gpkg import flatten_lists
from prospector.export.styles import write_qml_sidecar

__all__ = ["write_fgb_layer", "write_geojson_layer"]

_LONLAT = "EPSG:4326"


def write_geojson_layer(name: str, gdf: gpd.GeoDataFrame, folder: Path) -> list[Path]:
    """Write layer *name* as ``<folder>/<name>.geojson`` (RFC 7946) and its QGIS style."""
    frame = flatten_lists(gdf).to_crs(_LONLAT)
    target = folder / f"{name}.geojson"
    # RFC7946=YES: EPSG:4326 lon/lat, right-hand-rule winding, 7 decimals, no "crs" member.
    pyogrio.write_dataframe(
        frame, target, driver="GeoJSON", layer=name, layer_options={"RFC7946": "YES"}
    )
    return [target, *write_qml_sidecar(name, frame, target)]


def write_fgb_layer(name: str, gdf: gpd.GeoDataFrame, folder: Path) -> list[Path]:
    """Write layer *name* as ``<folder>/<name>.fgb`` (spatial index) and its QGIS style."""
    frame = flatten_lists(gdf)
    target = folder / f"{name}.fgb"
    pyogrio.write_dataframe(
        frame, target, driver="FlatGeobuf", layer=name, layer_options={"SPATIAL_INDEX": "YES"}
    )
    return [target, *write_qml_sidecar(name, frame, target)]
