"""Ingest: everything between a file (or a URL) and a canonical GeoDataFrame.

One path for every layer: a region file names the files and the catalogue entries that
explain them (:mod:`prospector.catalog`); each vector file is read
(:mod:`~prospector.ingest.read`), its CRS checked, normalised onto the canonical schema
of its role (:mod:`~prospector.ingest.normalize`) and reprojected
(:func:`~prospector.ingest.layer.load_layer`).  :func:`load_region_data` does that for a
whole region, :func:`check_layer` for one user file (a load without the clip), and
:func:`fetch_layer` downloads a catalogue source for a region first.

=====================  ===============================================================
module                 one job
=====================  ===============================================================
``region``             a region's layers → :class:`RegionData` (boundary, search area)
``layer``              one vector layer: read → CRS check → normalise → reproject → clip
``check``              ``prospector layers check``: a load without the clip
``normalize``          published fields → canonical columns, every problem collected
``read``               pyogrio / rasterio reads with errors that name the fix
``fetch``              a catalogue source for a region → a GeoPackage
``download``           one file into a checksummed cache (pooch), resumable, retried
``arcgis``             an ArcGIS REST layer, page by page
``archive``            safe unpacking of downloaded .zip / .tar archives
=====================  ===============================================================

The network is touched only by ``fetch``, ``download`` and ``arcgis``, and only when
called.  Every name here is imported from its module on first use, so ``import
prospector`` loads neither the HTTP stack nor a GDAL reader it does not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prospector._lazy import attach

if TYPE_CHECKING:
    from prospector.ingest.arcgis import query_features
    from prospector.ingest.archive import safe_extract
    from prospector.ingest.check import check_layer, matching_sources
    from prospector.ingest.download import default_cache_dir, fetch_file
    from prospector.ingest.fetch import FetchResult, fetch_layer
    from prospector.ingest.layer import load_layer
    from prospector.ingest.normalize import LayerReport, normalize_layer
    from prospector.ingest.read import (
        RasterBand,
        list_fields,
        list_layers,
        raster_profile,
        read_dem_band,
        read_raster_band,
        read_vector,
    )
    from prospector.ingest.region import (
        MISSING_ROLE_MESSAGES,
        RasterLayer,
        RegionData,
        file_sha256,
        load_region_data,
        read_boundary,
        search_area,
    )

__all__ = [
    "MISSING_ROLE_MESSAGES",
    "FetchResult",
    "LayerReport",
    "RasterBand",
    "RasterLayer",
    "RegionData",
    "check_layer",
    "default_cache_dir",
    "fetch_file",
    "fetch_layer",
    "file_sha256",
    "list_fields",
    "list_layers",
    "load_layer",
    "load_region_data",
    "matching_sources",
    "normalize_layer",
    "query_features",
    "raster_profile",
    "read_boundary",
    "read_dem_band",
    "read_raster_band",
    "read_vector",
    "safe_extract",
    "search_area",
]

# Each name is imported from its module on first use (prospector._lazy): reading layers
# already in memory loads neither GDAL reader, and only fetching loads the HTTP stack.
__getattr__, __dir__ = attach(
    __name__,
    {
        "MISSING_ROLE_MESSAGES": "prospector.ingest.region",
        "FetchResult": "prospector.ingest.fetch",
        "LayerReport": "prospector.ingest.normalize",
        "RasterBand": "prospector.ingest.read",
        "RasterLayer": "prospector.ingest.region",
        "RegionData": "prospector.ingest.region",
        "check_layer": "prospector.ingest.check",
        "default_cache_dir": "prospector.ingest.download",
        "fetch_file": "prospector.ingest.download",
        "fetch_layer": "prospector.ingest.fetch",
        "file_sha256": "prospector.ingest.region",
        "list_fields": "prospector.ingest.read",
        "list_layers": "prospector.ingest.read",
        "load_layer": "prospector.ingest.layer",
        "load_region_data": "prospector.ingest.region",
        "matching_sources": "prospector.ingest.check",
        "normalize_layer": "prospector.ingest.normalize",
        "query_features": "prospector.ingest.arcgis",
        "raster_profile": "prospector.ingest.read",
        "read_boundary": "prospector.ingest.region",
        "read_dem_band": "prospector.ingest.read",
        "read_raster_band": "prospector.ingest.read",
        "read_vector": "prospector.ingest.read",
        "safe_extract": "prospector.ingest.archive",
        "search_area": "prospector.ingest.region",
    },
)
