"""Write results to files GIS tools open: GeoPackage, Shapefile, GeoJSON, ... and manifests."""

from typing import TYPE_CHECKING

from prospector._lazy import attach

if TYPE_CHECKING:
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

# Each writer is imported on first use (prospector._lazy): writing GeoParquet does not
# load GDAL (pyogrio) or the KML and Shapefile code.
__getattr__, __dir__ = attach(
    __name__,
    {
        "FORMATS": "prospector.export.dispatch",
        "export_layers": "prospector.export.dispatch",
        "flatten_lists": "prospector.export.gpkg",
        "holds_one_layer": "prospector.export.dispatch",
        "read_field_mapping": "prospector.export.shapefile",
        "read_manifest": "prospector.export.gpkg",
        "read_ranked": "prospector.export.gpkg",
        "read_styles": "prospector.export.gpkg",
        "write_geoparquet": "prospector.export.geoparquet",
        "write_gpkg": "prospector.export.gpkg",
        "write_json": "prospector.export.manifest",
    },
)
