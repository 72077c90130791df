"""Write results to files GIS tools open: GeoPackage, Shapefile, GeoJSON, ... and manifests."""

from prospector.export.atomic import atomic_output, check_writable
from prospector.export.formats import FORMATS, export_layers, read_field_mapping
from prospector.export.geoparquet import write_geoparquet
from prospector.export.gpkg import (
    flatten_lists,
    read_manifest,
    read_ranked,
    read_styles,
    write_gpkg,
)
from prospector.export.manifest import write_json

__all__ = [
    "FORMATS",
    "atomic_output",
    "check_writable",
    "export_layers",
    "flatten_lists",
    "read_field_mapping",
    "read_manifest",
    "read_ranked",
    "read_styles",
    "write_geoparquet",
    "write_gpkg",
    "write_json",
]
