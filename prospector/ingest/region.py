"""Load a region's layers into canonical GeoDataFrames in the work CRS.

This is the only place that turns a region's files into canonical GeoDataFrames;
analysis code receives the :class:`RegionData` it returns.  Each vector layer takes the
one path of :func:`~prospector.ingest.layer.load_layer`.  Layers come out in a canonical
row order (by id, else by attributes and geometry), so results do not depend on the row
order of the input files.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import geopandas as gpd
import pandas as pd
import pyproj
import shapely

from prospector.catalog import LayerRef, Region, load_region
from prospector.config import Config
from prospector.crs import (
    check_area_of_use,
    check_layer_crs,
    split_antimeridian,
    to_work_crs,
    work_crs,
)
from prospector.errors import (
    CRSError,
    GeometryRepairWarning,
    LayerReadError,
    MissingLayerWarning,
    ProspectorWarning,
    SchemaError,
)
from prospector.ingest.layer import canonical_order, load_layer
from prospector.ingest.normalize import LayerReport, polygonal_part
from prospector.ingest.read import raster_profile, read_vector
from prospector.schema.columns import SCHEMAS
from prospector.schema.commodities import CommodityVocabulary, load_vocabulary
from prospector.schema.inputs import MISSING_ROLE_MESSAGES, VECTOR_ROLES, missing_inputs

if TYPE_CHECKING:
    import rasterio.crs

__all__ = [
    "MISSING_ROLE_MESSAGES",
    "RasterLayer",
    "RegionData",
    "file_sha256",
    "load_region_data",
    "read_boundary",
    "search_area",
    "search_margin_m",
]


@dataclass(frozen=True)
class RasterLayer:
    """A raster the analysis may summarise per parcel."""

    name: str
    path: Path
    kind: str
    categorical: bool
    crs: str
    bounds: tuple[float, float, float, float]


@dataclass
class RegionData:
    """A region's layers in canonical schemas, all in the work CRS."""

    region: Region
    crs: pyproj.CRS
    boundary: gpd.GeoDataFrame
    vocabulary: CommodityVocabulary
    deposits: gpd.GeoDataFrame | None = None
    land: gpd.GeoDataFrame | None = None
    withdrawals: gpd.GeoDataFrame | None = None
    claims: gpd.GeoDataFrame | None = None
    access: gpd.GeoDataFrame | None = None
    evidence: gpd.GeoDataFrame | None = None
    parcels: gpd.GeoDataFrame | None = None
    rasters: list[RasterLayer] = field(default_factory=list)
    reports: list[LayerReport] = field(default_factory=list)
    inputs: list[dict[str, object]] = field(default_factory=list)

    def missing(self) -> list[dict[str, str]]:
        """Roles without a layer, each with what that means for the results."""
        present = {role: getattr(self, role) is not None for role in VECTOR_ROLES}
        kinds = set(self.access["kind"].unique()) if self.access is not None else set()
        return missing_inputs(present, kinds, rasters=bool(self.rasters))


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file (streamed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_boundary(region: Region, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """Read a region's boundary: checked, split at the antimeridian, dissolved in *crs*.

    Returns
    -------
    geopandas.GeoDataFrame
        One row (``name`` = the region's title) holding the whole study area.
    """
    path, layer, where = region.boundary_path, region.boundary_layer, region.boundary_where
    label = f"{path}" + (f" (layer {layer})" if layer else "")
    raw = read_vector(path, layer=layer, where=where)
    if raw.empty:
        raise SchemaError(
            f"{label}: the boundary filter {where!r} selects no feature. "
            "Fix `where` in the region's [boundary] table."
            if where
            else f"{label}: the boundary layer is empty. Give a file with the study-area outline."
        )
    check_layer_crs(raw, where=label)
    raw = raw[~(raw.geometry.isna() | raw.geometry.is_empty)]
    if raw.empty:
        raise SchemaError(f"{label}: every boundary feature has a null or empty geometry.")
    _check_boundary_polygons(raw, label)
    raw = split_antimeridian(canonical_order(raw), where=label)
    check_area_of_use(raw, crs, where=f"{label} (region {region.title!r})")
    # make_valid may add the lines or points of a degenerate part: only polygons bound.
    geom = polygonal_part(shapely.make_valid(to_work_crs(raw, crs).geometry.union_all()))
    geom = shapely.Polygon() if geom is None else geom
    return gpd.GeoDataFrame({"name": [region.title]}, geometry=[geom], crs=crs)


def _check_boundary_polygons(raw: gpd.GeoDataFrame, label: str) -> None:
    """Refuse a boundary without polygons; count the invalid polygons make_valid repairs."""
    kinds = raw.geometry.geom_type
    polygonal = kinds.isin(["Polygon", "MultiPolygon"])
    if not polygonal.any():
        found = ", ".join(f"{kind} ×{n}" for kind, n in kinds.value_counts().items())
        raise SchemaError(
            f"{label}: the boundary has no polygon ({found}), so it encloses no area to rank. "
            "Give the study-area outline as polygons (the state, county or box to rank), or "
            "fix `path`/`layer`/`where` in the region's [boundary] table."
        )
    invalid = polygonal & ~raw.geometry.is_valid
    if invalid.any():
        warnings.warn(
            f"{label}: repaired {int(invalid.sum())} invalid boundary polygon(s) "
            f"(self-intersections, bad rings) with make_valid (first rows: "
            f"{list(raw.index[invalid][:10])}); a bow-tie becomes its two triangles, so "
            "check that the area ranked is the area you meant. Fix the boundary at the "
            "source (QGIS Fix geometries) to silence this.",
            GeometryRepairWarning,
            stacklevel=3,
        )


def search_margin_m(config: Config) -> float:
    """How far beyond the boundary features can still matter: kernel or access search radius."""
    return 1000.0 * max(config.value.radius_km, config.access.search_km)


def search_area(boundary: gpd.GeoDataFrame, config: Config) -> shapely.Geometry:
    """Return the area whose features a run keeps: the boundary's envelope plus the margin."""
    return boundary.geometry.iloc[0].envelope.buffer(search_margin_m(config))


def load_region_data(region: Region | str | Path, config: Config | None = None) -> RegionData:
    """Load every layer of a region into canonical GeoDataFrames in the work CRS.

    Layers of one role are concatenated; features far outside the region (more than the
    value-kernel radius or the access search radius beyond the boundary) are dropped.
    Every missing role is announced with a :class:`MissingLayerWarning`.
    """
    config = config or Config()
    if not isinstance(region, Region):
        region = load_region(region)
    crs = work_crs(config.work_crs or region.work_crs)
    vocabulary = load_vocabulary(config.list_year)
    boundary = read_boundary(region, crs)
    near = search_area(boundary, config)
    data = RegionData(region=region, crs=crs, boundary=boundary, vocabulary=vocabulary)
    data.inputs.append(_input_record(region.boundary_path, "boundary", "boundary"))
    by_role: dict[str, list[gpd.GeoDataFrame]] = {}
    fetched = _fetch_records(region)
    for ref in region.layers:
        data.inputs.append(_input_record(ref.path, ref.name, ref.role))
        record = fetched.get(ref.path.resolve())
        if record is not None:  # where and when `layers fetch` downloaded it
            data.inputs[-1].update({k: record[k] for k in ("url", "fetched_at") if record.get(k)})
        if ref.role == "raster":
            data.rasters.append(_raster_layer(ref, boundary))
            continue
        fetched_from = _fetched_empty(ref)
        if fetched_from is not None:
            warnings.warn(
                f"{ref.path}: no {ref.name} feature in the area downloaded from {fetched_from}; "
                "the layer is not used.",
                ProspectorWarning,
                stacklevel=2,
            )
            continue
        clip = boundary.geometry.iloc[0] if ref.role == "parcels" else near
        gdf, report = load_layer(ref, crs=crs, vocabulary=vocabulary, clip_to=clip)
        if ref.role == "parcels" and gdf.empty:
            raise SchemaError(
                f"{ref.path}: none of the {report.n_read} parcels lies inside the region "
                f"boundary {region.boundary_path}: nothing to rank. Check the parcel file, its "
                "CRS and the boundary."
            )
        data.reports.append(report)
        by_role.setdefault(ref.role, []).append(gdf)
    for role, frames in by_role.items():
        frames = [f for f in frames if not f.empty]
        if not frames:
            continue
        merged = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs)
        unique = SCHEMAS[role].unique if role in SCHEMAS else ()
        if unique:
            key = unique[0]
            dup = merged[key].duplicated(keep=False)
            if dup.any():
                raise SchemaError(
                    f"{int(dup.sum())} {role} features share a {key!r} across layers "
                    f"({', '.join(merged.loc[dup, key].astype(str).unique()[:10])}): ids must "
                    "be unique across the region's layers of one role."
                )
        setattr(data, role, canonical_order(merged, unique[0] if unique else None))
    for item in data.missing():
        warnings.warn(f"{region.name}: {item['message']}", MissingLayerWarning, stacklevel=2)
    return data


def _fetch_records(region: Region) -> dict[Path, dict[str, object]]:
    """Read the records of ``NAME.fetch.json`` beside the region file, by absolute path."""
    import json

    if region.path is None:
        return {}
    manifest = region.path.with_suffix(".fetch.json")
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return {
        (region.path.parent / rel).resolve(): rec
        for rel, rec in files.items()
        if isinstance(rec, dict)
    }


def _fetched_empty(ref: LayerRef) -> str | None:
    """Return the URL of a layer `layers fetch` wrote empty (nothing in the area), or None."""
    import pyogrio

    if ref.path.suffix.lower() != ".gpkg":
        return None
    try:
        info = pyogrio.read_info(ref.path, layer=ref.layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError):
        return None  # the reader reports it
    url = (info.get("dataset_metadata") or {}).get("prospector_url")
    return str(url) if url and info.get("features") == 0 else None


def _input_record(path: Path, name: str, role: str) -> dict[str, object]:
    record: dict[str, object] = {"name": name, "role": role, "path": str(path)}
    try:
        record["sha256"] = file_sha256(path)
        record["bytes"] = path.stat().st_size
    except OSError as exc:
        raise LayerReadError(f"cannot read {path}: {exc}") from exc
    return record


def _raster_layer(ref: LayerRef, boundary: gpd.GeoDataFrame | None = None) -> RasterLayer:
    profile = raster_profile(ref.path)
    crs = cast("rasterio.crs.CRS | None", profile.get("crs"))
    if crs is None:
        raise CRSError(
            f"{ref.path}: the raster has no CRS. Assign one with "
            "`gdal_edit.py -a_srs EPSG:xxxx` or re-export it with its CRS."
        )
    bounds = cast("tuple[float, float, float, float]", profile["bounds"])
    west, south, east, north = bounds
    if crs.is_geographic and (
        max(abs(west), abs(east)) > 360.0 or max(abs(south), abs(north)) > 90.0
    ):
        raise CRSError(
            f"{ref.path}: the raster says it is in {crs} (degrees) but its bounds are "
            f"({west:.0f}, {south:.0f}, {east:.0f}, {north:.0f}), which are projected metres or "
            "feet. Assign the CRS it was made in with `gdal_edit.py -a_srs EPSG:xxxx`."
        )
    if boundary is not None:
        footprint = gpd.GeoSeries([shapely.box(west, south, east, north)], crs=str(crs))
        try:
            footprint = footprint.to_crs(boundary.crs)
        except Exception as exc:
            raise CRSError(
                f"{ref.path}: cannot reproject the raster's footprint from {crs}: {exc}"
            ) from exc
        if (
            not footprint.is_valid.all()
            or not footprint.intersects(boundary.geometry.iloc[0]).any()
        ):
            raise CRSError(
                f"{ref.path}: the raster (bounds {west:.4g}, {south:.4g}, {east:.4g}, {north:.4g} "
                f"in {crs}) does not overlap the region. Check its CRS (a wrong CRS puts it "
                "elsewhere on Earth) or remove it from the region."
            )
    return RasterLayer(
        name=ref.name,
        path=ref.path,
        kind=str(ref.entry.raster.get("kind", "evidence")),
        categorical=bool(ref.entry.raster.get("categorical", False)),
        crs=str(crs),
        bounds=bounds,
    )
