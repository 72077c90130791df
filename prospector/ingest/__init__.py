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
called; :func:`fetch_file`, :func:`query_features` and :func:`safe_extract` are imported
on first use so that ``import prospector`` does not load the HTTP stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prospector.ingest.check import check_layer, matching_sources
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

if TYPE_CHECKING:
    from prospector.ingest.arcgis import query_features
    from prospector.ingest.archive import safe_extract
    from prospector.ingest.download import default_cache_dir, fetch_file

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

_LAZY = {
    "default_cache_dir": "prospector.ingest.download",
    "fetch_file": "prospector.ingest.download",
    "query_features": "prospector.ingest.arcgis",
    "safe_extract": "prospector.ingest.archive",
}


def __getattr__(name: str) -> Any:
    """Import the network helpers on first use (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
