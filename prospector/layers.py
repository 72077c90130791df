"""Load a region's layers: read, check CRS, normalise to canonical schemas, reproject.

This is the only place that turns files into canonical GeoDataFrames; analysis code
receives the :class:`RegionData` it returns.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj
import shapely

from prospector.catalog import LayerRef, Region, load_region
from prospector.config import Config
from prospector.crs import check_layer_crs, to_work_crs, work_crs
from prospector.errors import CRSError, LayerReadError, MissingLayerWarning, SchemaError
from prospector.io.read import raster_profile, read_vector
from prospector.schema.columns import SCHEMAS
from prospector.schema.commodities import CommodityVocabulary, load_vocabulary
from prospector.schema.normalize import LayerReport, normalize_layer

__all__ = ["RasterLayer", "RegionData", "file_sha256", "load_layer", "load_region_data"]

#: What each missing role means for the results, in words a user reads.
MISSING_ROLE_MESSAGES: dict[str, str] = {
    "land": (
        "No land-ownership layer (BLM SMA / PAD-US): federal_frac and open_frac are unknown "
        "and land outside withdrawals is 'ownership unknown', not federal."
    ),
    "claims": "No mining-claims layer (BLM MLRS): claimed_frac is unknown.",
    "withdrawals": "No withdrawal layer: nothing is treated as closed to mineral entry.",
    "deposits": "No deposit layer: mineral value is zero everywhere.",
    "access": "No access layer: the access criterion is unavailable.",
    "evidence": "No vector evidence layer: the evidence criterion uses rasters only.",
    "raster": "No raster layer: no terrain or raster evidence criteria.",
}


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
        present = {
            "deposits": self.deposits,
            "land": self.land,
            "withdrawals": self.withdrawals,
            "claims": self.claims,
            "access": self.access,
            "evidence": self.evidence,
        }
        out = [
            {"role": role, "message": MISSING_ROLE_MESSAGES[role]}
            for role, layer in present.items()
            if layer is None
        ]
        if not self.rasters:
            out.append({"role": "raster", "message": MISSING_ROLE_MESSAGES["raster"]})
        if self.access is not None:
            for kind in ("road", "rail", "power"):
                if not (self.access["kind"] == kind).any():
                    out.append(
                        {"role": f"access:{kind}", "message": f"No {kind} layer: dist_{kind}_km is unknown."}
                    )
        return out


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file (streamed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _boundary(region: Region, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    where = f"{region.boundary_path}" + (f" (layer {region.boundary_layer})" if region.boundary_layer else "")
    raw = read_vector(region.boundary_path, layer=region.boundary_layer, where=region.boundary_where)
    if raw.empty:
        raise SchemaError(
            f"{where}: the boundary filter {region.boundary_where!r} selects no feature. "
            "Fix `where` in the region's [boundary] table."
        )
    check_layer_crs(raw, where=where)
    geom = shapely.make_valid(to_work_crs(raw, crs).geometry.union_all())
    return gpd.GeoDataFrame({"name": [region.title]}, geometry=[geom], crs=crs)


def load_layer(
    ref: LayerRef,
    *,
    crs: pyproj.CRS,
    vocabulary: CommodityVocabulary,
    clip_to: shapely.Geometry | None = None,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Read one vector layer, check its CRS, normalise it and reproject it to *crs*.

    Features whose bounding box misses ``clip_to`` (buffered by the caller) are dropped.
    """
    where = f"{ref.path}" + (f" (layer {ref.layer})" if ref.layer else "")
    raw = read_vector(ref.path, layer=ref.layer, where=ref.where)
    check_layer_crs(raw, where=where)
    gdf, report = normalize_layer(raw, ref.entry, where=where, vocabulary=vocabulary)
    gdf = to_work_crs(gdf, crs)
    if clip_to is not None:
        hits = gdf.sindex.query(clip_to, predicate="intersects")
        gdf = gdf.iloc[sorted(hits)].reset_index(drop=True)
    report.n_kept = len(gdf)
    return gdf, report


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
    boundary = _boundary(region, crs)
    margin_m = 1000.0 * max(config.value.radius_km, config.access.search_km)
    search_area = boundary.geometry.iloc[0].envelope.buffer(margin_m)
    data = RegionData(region=region, crs=crs, boundary=boundary, vocabulary=vocabulary)
    data.inputs.append(_input_record(region.boundary_path, "boundary", "boundary"))
    by_role: dict[str, list[gpd.GeoDataFrame]] = {}
    for ref in region.layers:
        data.inputs.append(_input_record(ref.path, ref.name, ref.role))
        if ref.role == "raster":
            data.rasters.append(_raster_layer(ref))
            continue
        clip = boundary.geometry.iloc[0] if ref.role == "parcels" else search_area
        gdf, report = load_layer(ref, crs=crs, vocabulary=vocabulary, clip_to=clip)
        data.reports.append(report)
        by_role.setdefault(ref.role, []).append(gdf)
    for role, frames in by_role.items():
        frames = [f for f in frames if not f.empty]
        if not frames:
            continue
        merged = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=crs)
        if role in SCHEMAS and SCHEMAS[role].unique:
            key = SCHEMAS[role].unique[0]
            dup = merged[key].duplicated(keep=False)
            if dup.any():
                raise SchemaError(
                    f"{int(dup.sum())} {role} features share a {key!r} across layers "
                    f"({', '.join(merged.loc[dup, key].astype(str).unique()[:10])}): ids must "
                    "be unique across the region's layers of one role."
                )
        setattr(data, role, merged)
    for item in data.missing():
        warnings.warn(f"{region.name}: {item['message']}", MissingLayerWarning, stacklevel=2)
    return data


def _input_record(path: Path, name: str, role: str) -> dict[str, object]:
    record: dict[str, object] = {"name": name, "role": role, "path": str(path)}
    try:
        record["sha256"] = file_sha256(path)
        record["bytes"] = path.stat().st_size
    except OSError as exc:
        raise LayerReadError(f"cannot read {path}: {exc}") from exc
    return record


def _raster_layer(ref: LayerRef) -> RasterLayer:
    profile = raster_profile(ref.path)
    if profile.get("crs") is None:
        raise CRSError(
            f"{ref.path}: the raster has no CRS. Assign one with "
            "`gdal_edit.py -a_srs EPSG:xxxx` or re-export it with its CRS."
        )
    return RasterLayer(
        name=ref.name,
        path=ref.path,
        kind=str(ref.entry.raster.get("kind", "evidence")),
        categorical=bool(ref.entry.raster.get("categorical", False)),
        crs=str(profile["crs"]),
        bounds=profile["bounds"],  # type: ignore[arg-type]
    )
