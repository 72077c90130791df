"""Where a ranking reads its layers: in memory or GeoParquet on disk, behind one Protocol.

A :class:`LayerSource` answers three questions: which roles it has (:meth:`~LayerSource.has`),
which access kinds its access layer holds (:meth:`~LayerSource.access_kinds`), and which
features of a role meet a rectangle (:meth:`~LayerSource.window`).  From the first two,
:func:`available_inputs` and :func:`missing_inputs` apply the one rule of
:mod:`prospector.schema.inputs`: every run, tile and report asks the source, never the
layers directly.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from prospector.catalog import Region
from prospector.config import Config
from prospector.export.geoparquet import write_geoparquet
from prospector.ingest import RasterLayer, RegionData
from prospector.schema import inputs as _inputs
from prospector.schema.commodities import CommodityVocabulary

__all__ = [
    "LayerSource",
    "MemoryLayers",
    "ParquetLayers",
    "access_features",
    "as_source",
    "available_inputs",
    "missing_inputs",
    "sort_spatially",
]

Bbox = tuple[float, float, float, float]


@runtime_checkable
class LayerSource(Protocol):
    """Layers of a region, read whole or by window, in the work CRS and canonical schemas."""

    region: Region
    crs: pyproj.CRS
    vocabulary: CommodityVocabulary
    boundary: gpd.GeoDataFrame
    rasters: list[RasterLayer]

    def has(self, role: str) -> bool:
        """Return True when the source has a layer for *role*."""
        ...

    def access_kinds(self, road_classes: Collection[str] = ()) -> frozenset[str]:
        """``kind`` values with features in the access layer (roads only of *road_classes*)."""
        ...

    def window(self, role: str, bbox: Bbox) -> gpd.GeoDataFrame | None:
        """Features of *role* whose bounding box meets *bbox* (layer order), or None."""
        ...

    def base(self) -> RegionData:
        """Return the region without vector layers: region, CRS, boundary, vocabulary, rasters."""
        ...


def available_inputs(source: LayerSource, config: Config) -> dict[str, bool]:
    """Which criterion inputs *source* supplies: deposits, evidence, each access kind.

    The ``have`` of :func:`~prospector.analysis.criteria.build_criteria`.  A file-backed
    source reads its access layer's ``kind``/``class`` columns: find it once per run.
    """
    present = {role: source.has(role) for role in _inputs.VECTOR_ROLES}
    kinds = source.access_kinds(config.access.road_classes) if present["access"] else frozenset()
    return _inputs.available_inputs(present, kinds)


def missing_inputs(source: LayerSource, config: Config) -> list[dict[str, str]]:
    """List the inputs *source* lacks, each with what that means for the results."""
    present = {role: source.has(role) for role in _inputs.VECTOR_ROLES}
    kinds = source.access_kinds(config.access.road_classes) if present["access"] else frozenset()
    return _inputs.missing_inputs(present, kinds, rasters=bool(source.rasters))


def access_features(
    access: gpd.GeoDataFrame | None, config: Config, kind: str
) -> gpd.GeoDataFrame | None:
    """Access features of *kind* (roads of ``access.road_classes`` only), or None if none."""
    if access is None:
        return None
    features = access[access["kind"] == kind]
    if kind == "road" and config.access.road_classes:
        features = features[features["class"].isin(config.access.road_classes)]
    return features if len(features) else None


def _kinds(frame: pd.DataFrame, road_classes: Collection[str]) -> frozenset[str]:
    kinds = frame["kind"]
    if road_classes:
        keep = (kinds != "road") | frame["class"].isin(list(road_classes))
        kinds = kinds[keep]
    return frozenset(kinds.dropna().unique().tolist())


class MemoryLayers:
    """Layers held in a :class:`~prospector.ingest.RegionData`; windows through spatial indexes."""

    def __init__(self, data: RegionData) -> None:
        self.data = data
        self.region = data.region
        self.crs = data.crs
        self.vocabulary = data.vocabulary
        self.boundary = data.boundary
        self.rasters = data.rasters

    def has(self, role: str) -> bool:
        """Return True when the region has a layer for *role*."""
        return getattr(self.data, role, None) is not None

    def access_kinds(self, road_classes: Collection[str] = ()) -> frozenset[str]:
        """``kind`` values with features in the access layer (roads only of *road_classes*)."""
        access = self.data.access
        return frozenset() if access is None else _kinds(access, road_classes)

    def window(self, role: str, bbox: Bbox) -> gpd.GeoDataFrame | None:
        """Features of *role* whose bounding box meets *bbox* (layer order), or None."""
        layer = getattr(self.data, role)
        if layer is None:
            return None
        hits = np.sort(layer.sindex.query(shapely.box(*bbox)))
        return layer.iloc[hits]

    def base(self) -> RegionData:
        """Return the region without vector layers (rasters kept)."""
        return dataclasses.replace(
            self.data,
            deposits=None,
            land=None,
            withdrawals=None,
            claims=None,
            access=None,
            evidence=None,
            parcels=None,
        )


@dataclass
class ParquetLayers:
    """Layers kept on disk as GeoParquet (work CRS, canonical columns, bbox covering).

    Windows are read with ``geopandas.read_parquet(bbox=...)``; write the files spatially
    sorted (:func:`sort_spatially`) with small row groups so a window reads few of them.
    ``paths`` maps a role (``parcels`` and those of
    :data:`~prospector.schema.inputs.VECTOR_ROLES`) to a file.
    """

    region: Region
    crs: Any
    vocabulary: CommodityVocabulary
    boundary: gpd.GeoDataFrame
    paths: dict[str, Path]
    rasters: list[RasterLayer] = field(default_factory=list)

    def has(self, role: str) -> bool:
        """Return True when a file is given for *role*."""
        return role in self.paths

    def access_kinds(self, road_classes: Collection[str] = ()) -> frozenset[str]:
        """``kind`` values in the access file (reads its ``kind`` and ``class`` columns)."""
        if "access" not in self.paths:
            return frozenset()
        frame = pd.read_parquet(self.paths["access"], columns=["kind", "class"])
        return _kinds(frame.drop_duplicates(), road_classes)

    def window(self, role: str, bbox: Bbox) -> gpd.GeoDataFrame | None:
        """Features of *role* whose bounding box meets *bbox* (file order), or None."""
        if role not in self.paths:
            return None
        gdf = gpd.read_parquet(self.paths[role], bbox=bbox)
        return gdf.set_crs(self.crs, allow_override=True)

    def base(self) -> RegionData:
        """Return a RegionData without vector layers (region, CRS, boundary, vocabulary)."""
        return RegionData(
            region=self.region,
            crs=self.crs,
            boundary=self.boundary,
            vocabulary=self.vocabulary,
            rasters=list(self.rasters),
        )


def as_source(data: RegionData | LayerSource) -> LayerSource:
    """Return *data* as a :class:`LayerSource` (a RegionData is wrapped in :class:`MemoryLayers`)."""
    return MemoryLayers(data) if isinstance(data, RegionData) else data


def sort_spatially(
    gdf: gpd.GeoDataFrame,
    path: str | Path,
    *,
    row_group_size: int | None = None,
    row_group_bytes: int = 1 << 20,
) -> Path:
    """Write *gdf* as GeoParquet ordered along a Hilbert curve, with bbox covering columns.

    Bbox-filtered reads (``read_parquet(bbox=...)``) then touch only the row groups near
    the window.  Row groups hold *row_group_size* rows; by default as many as make about
    *row_group_bytes* of geometry (between 128 and 20,000 rows), so a layer of large
    polygons (withdrawals) is not one row group that every tile must read whole.  Row order
    changes, so give parcels ids (ranks tie-break on ``parcel_id``).
    """
    geoms = gdf.geometry.to_numpy()
    if row_group_size is None and len(geoms) == 0:
        row_group_size = 20_000
    elif row_group_size is None:
        mean_bytes = 16.0 * float(np.mean(shapely.get_num_coordinates(geoms))) + 32.0
        row_group_size = int(np.clip(row_group_bytes / mean_bytes, 128, 20_000))
    order = np.argsort(gdf.geometry.hilbert_distance(), kind="stable")
    return write_geoparquet(gdf.iloc[order], path, overwrite=True, row_group_size=row_group_size)
