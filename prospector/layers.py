"""Load a region's layers: read, check CRS, normalise to canonical schemas, reproject.

This is the only place that turns files into canonical GeoDataFrames; analysis code
receives the :class:`RegionData` it returns.  Layers come out in a canonical row order
(by id, else by attributes and geometry), so results do not depend on the row order of
the input files.  :func:`fetch_layer` downloads a catalogue source for a region.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj
import shapely

from prospector.catalog import CatalogEntry, LayerRef, Region, load_region
from prospector.config import Config
from prospector.crs import (
    check_area_of_use,
    check_layer_crs,
    split_antimeridian,
    to_work_crs,
    work_crs,
)
from prospector.errors import (
    CatalogError,
    CRSError,
    LayerReadError,
    MissingLayerWarning,
    OutputExistsError,
    ProspectorWarning,
    SchemaError,
)
from prospector.io.read import raster_profile, read_vector
from prospector.schema.columns import SCHEMAS
from prospector.schema.commodities import CommodityVocabulary, load_vocabulary
from prospector.schema.normalize import LayerReport, normalize_layer

if TYPE_CHECKING:
    import rasterio.crs

__all__ = [
    "FetchResult",
    "RasterLayer",
    "RegionData",
    "fetch_layer",
    "file_sha256",
    "load_layer",
    "load_region_data",
]

_MAX_LISTED = 10

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
                        {
                            "role": f"access:{kind}",
                            "message": f"No {kind} layer: dist_{kind}_km is unknown.",
                        }
                    )
        return out


def file_sha256(path: str | Path, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file (streamed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_boundary(
    path: Path, *, layer: str | None, where: str | None, crs: pyproj.CRS, title: str
) -> gpd.GeoDataFrame:
    """Read a region's boundary: checked, split at the antimeridian, dissolved in *crs*."""
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
    raw = split_antimeridian(_canonical_order(raw), where=label)
    check_area_of_use(raw, crs, where=f"{label} (region {title!r})")
    geom = shapely.make_valid(to_work_crs(raw, crs).geometry.union_all())
    return gpd.GeoDataFrame({"name": [title]}, geometry=[geom], crs=crs)


def search_margin_m(config: Config) -> float:
    """How far beyond the boundary features can still matter: kernel or access search radius."""
    return 1000.0 * max(config.value.radius_km, config.access.search_km)


def _canonical_order(gdf: gpd.GeoDataFrame, key: str | None = None) -> gpd.GeoDataFrame:
    """Sort rows by *key* (a unique id), else by every attribute and the geometry's WKB.

    Makes every later step independent of the row order of the input files: sums over
    features, spatial-index hits and ties all come out the same for shuffled inputs.
    """
    if gdf.empty:
        return gdf
    if key is not None:
        order = gdf[key].astype(str).sort_values(kind="mergesort").index
    else:
        keys = pd.DataFrame(
            {
                f"c{i}": gdf[c].astype(str)
                for i, c in enumerate(gdf.columns)
                if c != gdf.geometry.name
            },
            index=gdf.index,
        )
        keys["wkb"] = shapely.to_wkb(gdf.geometry.array, hex=True)
        order = keys.sort_values(list(keys.columns), kind="mergesort").index
    return gdf.loc[order].reset_index(drop=True)


def load_layer(
    ref: LayerRef,
    *,
    crs: pyproj.CRS,
    vocabulary: CommodityVocabulary,
    clip_to: shapely.Geometry | None = None,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Read one vector layer, check its CRS, normalise it and reproject it to *crs*.

    Features that miss ``clip_to`` (the boundary, or its envelope buffered by the caller)
    are dropped and counted in ``report.n_outside_region``.  A
    :class:`~prospector.errors.ProspectorWarning` announces it when every feature falls
    outside (a wrong file or CRS, most likely), and for parcel layers whenever parcels
    are dropped (parcels are meant to lie in the region).  Other layers are routinely
    larger than the region (national layers), so their count only goes to the manifest.
    """
    where = f"{ref.path}" + (f" (layer {ref.layer})" if ref.layer else "")
    raw = read_vector(ref.path, layer=ref.layer, where=ref.where)
    check_layer_crs(raw, where=where)
    raw = split_antimeridian(raw, where=where)
    gdf, report = normalize_layer(raw, ref.entry, where=where, vocabulary=vocabulary)
    gdf = to_work_crs(gdf, crs)
    if clip_to is not None:
        hits = gdf.sindex.query(clip_to, predicate="intersects")
        n_before = len(gdf)
        gdf = gdf.iloc[sorted(hits)].reset_index(drop=True)
        report.n_outside_region = n_before - len(gdf)
        if report.n_outside_region and (gdf.empty or ref.role == "parcels"):
            area = "the region boundary" if ref.role == "parcels" else "the search area"
            warnings.warn(
                f"{where}: dropped {report.n_outside_region} of {n_before} {ref.role} features "
                f"that lie outside {area}"
                + (
                    " (the region's envelope plus the value/access search radius)"
                    if ref.role != "parcels"
                    else ""
                )
                + ("; none is left, so the layer is not used" if gdf.empty else "")
                + ". Check that the file covers the region and that its CRS is right.",
                ProspectorWarning,
                stacklevel=2,
            )
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
    boundary = read_boundary(
        region.boundary_path,
        layer=region.boundary_layer,
        where=region.boundary_where,
        crs=crs,
        title=region.title,
    )
    search_area = boundary.geometry.iloc[0].envelope.buffer(search_margin_m(config))
    data = RegionData(region=region, crs=crs, boundary=boundary, vocabulary=vocabulary)
    data.inputs.append(_input_record(region.boundary_path, "boundary", "boundary"))
    by_role: dict[str, list[gpd.GeoDataFrame]] = {}
    for ref in region.layers:
        data.inputs.append(_input_record(ref.path, ref.name, ref.role))
        if ref.role == "raster":
            data.rasters.append(_raster_layer(ref, boundary))
            continue
        clip = boundary.geometry.iloc[0] if ref.role == "parcels" else search_area
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
        setattr(data, role, _canonical_order(merged, unique[0] if unique else None))
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


# --------------------------------------------------------------------------- fetch

#: Vector files :func:`fetch_layer` looks for in an extracted archive.
_VECTOR_SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".fgb", ".kml", ".gdb")


@dataclass
class FetchResult:
    """What :func:`fetch_layer` wrote."""

    path: Path
    """The GeoPackage written."""
    layer: str
    """Layer name inside it."""
    n_features: int
    source: str
    """URL downloaded or queried."""
    bbox_lonlat: tuple[float, float, float, float]
    """Area requested: the region's envelope plus the search margin, in lon/lat."""
    region_path: Path


def fetch_layer(
    name: str,
    *,
    region: str | Path,
    cache_dir: str | Path | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    catalog: dict[str, CatalogEntry] | None = None,
    config: Config | None = None,
    timeout_s: float = 60.0,
    retries: int = 3,
) -> FetchResult:
    """Download catalogue source *name* for *region* and write it as a GeoPackage.

    The ``[download]`` table of the catalogue entry says how: ``kind = "file"`` with a
    ``url`` (and optional ``sha256``, and ``member``: the vector file inside an archive)
    downloads the file into the cache, unpacks archives safely and reads the vector
    file; ``kind = "arcgis"`` with a ``url`` (and optional ``where``) queries the ArcGIS
    REST layer.  Only features within the region's envelope plus the search margin
    (the same area :func:`load_region_data` keeps) are written, with the published field
    names, so a region references the result with ``source = NAME``.

    Parameters
    ----------
    name
        Catalogue entry (``layers/catalog/NAME.toml``).
    region
        Region name or region file; only its ``[boundary]`` and ``work_crs`` are used,
        so the region may already list the file this call creates.
    cache_dir
        Download cache (default :func:`prospector.io.fetch.default_cache_dir`).
    out
        GeoPackage to write; default ``data/NAME.gpkg`` beside the region file.
    overwrite
        Replace an existing *out*.
    catalog
        Catalogue to look *name* up in (default :func:`prospector.catalog.load_catalog`).
    config
        Run configuration, for the search margin (default: defaults).
    timeout_s, retries
        Network settings passed to the downloader.

    Returns
    -------
    FetchResult

    Raises
    ------
    prospector.errors.CatalogError
        Unknown entry, no or bad ``[download]`` table, ambiguous archive.
    prospector.errors.FetchError, prospector.errors.ArchiveError
        Download or unpacking failed.
    prospector.errors.OutputExistsError
        *out* exists and *overwrite* is False (checked before any download).
    """
    from prospector._util import did_you_mean
    from prospector.catalog import load_catalog
    from prospector.export.atomic import atomic_output

    config = config or Config()
    catalog = catalog if catalog is not None else load_catalog()
    if name not in catalog:
        raise CatalogError(
            f"no catalogue entry {name!r}.{did_you_mean(name, catalog)} "
            "See `prospector layers list`."
        )
    entry = catalog[name]
    download = dict(entry.download)
    kind = download.get("kind")
    url = download.get("url")
    where_entry = f"catalogue entry {name!r}" + (f" ({entry.path})" if entry.path else "")
    if not download:
        raise CatalogError(
            f"{where_entry} has no [download] table: Prospector does not know where to "
            f"download it. Get the data from {entry.url} by hand, or add a [download] table "
            '(kind = "file" or "arcgis", url = "...").'
        )
    if kind not in ("file", "arcgis") or not isinstance(url, str) or not url:
        raise CatalogError(
            f'{where_entry}: [download] needs kind = "file" or "arcgis" and a url; got '
            f"kind={kind!r}, url={url!r}."
        )
    if entry.role == "raster":
        raise CatalogError(
            f"{where_entry} is a raster; `layers fetch` writes vector layers. Download "
            f"{url} and reference the GeoTIFF in the region."
        )
    region_path, boundary_spec, region_crs = _region_boundary_spec(region)
    out_path = Path(out) if out is not None else region_path.parent / "data" / f"{name}.gpkg"
    if out_path.exists() and not overwrite:  # before any download; creates nothing
        raise OutputExistsError(
            f"{out_path} already exists; pass --overwrite (overwrite=True) to replace it, or "
            "choose another output path with --out."
        )
    crs = work_crs(config.work_crs or region_crs)
    boundary = read_boundary(
        boundary_spec[0],
        layer=boundary_spec[1],
        where=boundary_spec[2],
        crs=crs,
        title=region_path.stem,
    )
    margin_m = search_margin_m(config)
    area = boundary.geometry.iloc[0].envelope.buffer(margin_m)
    area_lonlat = gpd.GeoSeries([area], crs=crs).to_crs("EPSG:4326")
    west, south, east, north = (float(v) for v in area_lonlat.total_bounds)
    bbox = (max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0))

    if kind == "arcgis":
        from prospector.io.arcgis import query_features

        gdf = query_features(
            url, bbox=bbox, where=str(download.get("where", "1=1")),
            timeout_s=timeout_s, retries=retries,
        )  # fmt: skip
        source_where = url
    else:
        source, layer = _download_vector(entry, download, cache_dir, timeout_s, retries)
        source_where = f"{source}" + (f" (layer {layer})" if layer else "")
        info_crs = _layer_crs(source, layer)
        layer_bbox = None
        if info_crs is not None:
            layer_bbox = tuple(
                pyproj.Transformer.from_crs("EPSG:4326", info_crs, always_xy=True).transform_bounds(
                    *bbox
                )
            )
        gdf = read_vector(source, layer=layer, bbox=layer_bbox)  # type: ignore[arg-type]
    check_layer_crs(gdf, where=source_where)
    if gdf.empty:
        raise SchemaError(
            f"{source_where}: no feature of {name!r} lies within the region's envelope plus "
            f"{margin_m / 1000:.0f} km (lon {bbox[0]:.3f}..{bbox[2]:.3f}, lat "
            f"{bbox[1]:.3f}..{bbox[3]:.3f}); nothing was written. Check the region boundary "
            "and that the source covers it."
        )
    out_layer = entry.layer or name
    meta = {"prospector_source": name, "prospector_url": url,
            "prospector_bbox_lonlat": ",".join(f"{v:.6f}" for v in bbox)}  # fmt: skip
    with atomic_output(out_path, overwrite=overwrite) as tmp:
        pyogrio.write_dataframe(gdf, tmp, layer=out_layer, driver="GPKG", dataset_metadata=meta)
    return FetchResult(out_path, out_layer, len(gdf), url, bbox, region_path)


def _region_boundary_spec(
    region: str | Path,
) -> tuple[Path, tuple[Path, str | None, str | None], str]:
    """Region file path, boundary (path, layer, where) and work CRS, without loading layers."""
    from prospector.catalog.regions import read_region_file

    path, data = read_region_file(region)
    boundary = data.get("boundary")
    if not isinstance(boundary, dict) or not boundary.get("path"):
        raise CatalogError(f"{path}: missing [boundary] table with a `path`.")
    boundary_path = (path.parent / boundary["path"]).resolve()
    return (
        path,
        (boundary_path, boundary.get("layer"), boundary.get("where")),
        str(data.get("work_crs", "EPSG:5070")),
    )


def _download_vector(
    entry: CatalogEntry,
    download: dict[str, object],
    cache_dir: str | Path | None,
    timeout_s: float,
    retries: int,
) -> tuple[Path, str | None]:
    """Download (and unpack) a ``kind = "file"`` source; return the vector file and layer."""
    import tarfile
    import zipfile

    from prospector.io.archive import safe_extract
    from prospector.io.fetch import fetch_file

    sha = download.get("sha256")
    local = fetch_file(
        str(download["url"]), cache_dir=cache_dir, sha256=str(sha) if sha else None,
        timeout_s=timeout_s, retries=retries,
    )  # fmt: skip
    layer = entry.layer
    if not (zipfile.is_zipfile(local) or tarfile.is_tarfile(local)):
        return local, layer
    target = local.with_name(local.name + ".d")
    safe_extract(local, target, overwrite=True)
    member = download.get("member")
    if member:
        chosen = target / str(member)
        if not chosen.exists():
            raise CatalogError(
                f"catalogue entry {entry.name!r}: [download] member {member!r} is not in "
                f"{local}. Files in it: {', '.join(_vector_members(target)) or 'none'}."
            )
        return chosen, layer
    found = _vector_members(target)
    if len(found) != 1:
        raise CatalogError(
            f"catalogue entry {entry.name!r}: the archive {local} holds "
            + (f"{len(found)} vector files ({', '.join(found[:_MAX_LISTED])})" if found
               else "no vector file GDAL reads (.shp, .gpkg, .geojson, .fgb, .gdb)")
            + '. Add `member = "path/inside/archive"` to its [download] table.'
        )  # fmt: skip
    return target / found[0], layer


def _vector_members(root: Path) -> list[str]:
    out = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in _VECTOR_SUFFIXES and not any(
            p.suffix.lower() == ".gdb" for p in path.relative_to(root).parents if p.name
        ):
            out.append(path.relative_to(root).as_posix())
    return out


def _layer_crs(path: Path, layer: str | None) -> pyproj.CRS | None:
    try:
        info = pyogrio.read_info(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise LayerReadError(f"cannot read {path}: {exc}") from exc
    return pyproj.CRS.from_user_input(info["crs"]) if info.get("crs") else None
