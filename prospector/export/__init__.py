"""Write results to files GIS tools open: GeoPackage, Shapefile, GeoJSON, ... and manifests."""

from prospector.export.dispatch import FORMATS, export_layers, holds_one_layer
from prospector.export.geoparquet import write_geoparquet
from prospector.export.gpkg import (
    flatten_lists,
    read_manifest,
    read_ranked,
    read_styles,
    write_gpkg,
)
from prospector.export.manifest import write_json
from prospector.export.shapefile import read_field_mapping

__all__ = [
    "FORMATS",
    "export_layers",
    "flatten_lists",
    "holds_one_layer",
    "read_field_mapping",
    "read_manifest",
    "read_ranked",
    "read_styles",
    "write_geoparquet",
    "write_gpkg",
    "write_json",
]
