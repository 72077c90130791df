"""Write results to files GIS tools open: GeoPackage, Shapefile, GeoJSON, ... and manifests."""

from prospector.export.atomic import atomic_output, check_writable
from prospector.export.gpkg import flatten_lists, read_manifest, read_ranked, write_gpkg
from prospector.export.manifest import write_json

__all__ = [
    "atomic_output",
    "check_writable",
    "flatten_lists",
    "read_manifest",
    "read_ranked",
    "write_gpkg",
    "write_json",
]
