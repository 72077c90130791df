"""Fetch a catalogue source for a region: download or query it, keep what is near, write it.

:func:`fetch_layer` is what ``prospector layers fetch`` runs.  The catalogue entry's
``[download]`` table says where the data lives (a file, possibly an archive, or an
ArcGIS REST layer); the region (parsed once, by :func:`~prospector.catalog.load_region`)
says which area to keep: the same envelope plus search margin a run keeps
(:func:`~prospector.ingest.region.search_area`).  This is the only module that uses the
network, and only when called.
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pyproj

from prospector._runtime import atomic_output
from prospector.catalog import CatalogEntry, Region, find_entry, load_catalog, load_region
from prospector.config import Config
from prospector.crs import check_layer_crs, work_crs
from prospector.errors import CatalogError, LayerReadError, OutputExistsError, SchemaError
from prospector.ingest.read import read_vector
from prospector.ingest.region import read_boundary, search_area, search_margin_m

__all__ = ["FetchResult", "fetch_layer"]

_MAX_LISTED = 10
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
    region: Region | str | Path,
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
    (the same area :func:`~prospector.ingest.load_region_data` keeps) are written, with
    the published field names, so a region references the result with ``source = NAME``.

    Parameters
    ----------
    name
        Catalogue entry (``layers/catalog/NAME.toml``).
    region
        A loaded region, a region name or a region file.  Its layer files need not exist
        yet (the region may already list the file this call creates).
    cache_dir
        Download cache (default :func:`prospector.ingest.download.default_cache_dir`).
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
    config = config or Config()
    catalog = catalog if catalog is not None else load_catalog()
    entry = find_entry(name, catalog)
    kind, url = _download_spec(entry)
    if not isinstance(region, Region):
        region = load_region(region, catalog=catalog, require_files=False)
    region_path = region.path if region.path is not None else Path.cwd() / f"{region.name}.toml"
    out_path = Path(out) if out is not None else region_path.parent / "data" / f"{name}.gpkg"
    if out_path.exists() and not overwrite:  # before any download; creates nothing
        raise OutputExistsError(
            f"{out_path} already exists; pass --overwrite (overwrite=True) to replace it, or "
            "choose another output path with --out."
        )
    crs = work_crs(config.work_crs or region.work_crs)
    area = search_area(read_boundary(region, crs), config)
    lonlat = gpd.GeoSeries([area], crs=crs).to_crs("EPSG:4326").total_bounds
    west, south, east, north = (float(v) for v in lonlat)
    bbox = (max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0))

    if kind == "arcgis":
        from prospector.ingest.arcgis import query_features

        gdf = query_features(
            url, bbox=bbox, where=str(entry.download.get("where", "1=1")),
            timeout_s=timeout_s, retries=retries,
        )  # fmt: skip
        source_where = url
    else:
        source, layer = _download_vector(entry, cache_dir, timeout_s, retries)
        source_where = f"{source}" + (f" (layer {layer})" if layer else "")
        gdf = read_vector(source, layer=layer, bbox=_bbox_in_layer_crs(source, layer, bbox))
    check_layer_crs(gdf, where=source_where)
    if gdf.empty:
        margin_km = search_margin_m(config) / 1000
        raise SchemaError(
            f"{source_where}: no feature of {name!r} lies within the region's envelope plus "
            f"{margin_km:.0f} km (lon {bbox[0]:.3f}..{bbox[2]:.3f}, lat "
            f"{bbox[1]:.3f}..{bbox[3]:.3f}); nothing was written. Check the region boundary "
            "and that the source covers it."
        )
    out_layer = entry.layer or name
    meta = {"prospector_source": name, "prospector_url": url,
            "prospector_bbox_lonlat": ",".join(f"{v:.6f}" for v in bbox)}  # fmt: skip
    with atomic_output(out_path, overwrite=overwrite) as tmp:
        pyogrio.write_dataframe(gdf, tmp, layer=out_layer, driver="GPKG", dataset_metadata=meta)
    return FetchResult(out_path, out_layer, len(gdf), url, bbox, region_path)


def _download_spec(entry: CatalogEntry) -> tuple[str, str]:
    """Return the entry's download kind and URL; raise :class:`CatalogError` if unusable."""
    download = entry.download
    kind, url = download.get("kind"), download.get("url")
    where = entry.label + (f" ({entry.path})" if entry.path else "")
    if not download:
        raise CatalogError(
            f"{where} has no [download] table: Prospector does not know where to "
            f"download it. Get the data from {entry.url} by hand, or add a [download] table "
            '(kind = "file" or "arcgis", url = "...").'
        )
    if kind not in ("file", "arcgis") or not isinstance(url, str) or not url:
        raise CatalogError(
            f'{where}: [download] needs kind = "file" or "arcgis" and a url; got '
            f"kind={kind!r}, url={url!r}."
        )
    if entry.role == "raster":
        raise CatalogError(
            f"{where} is a raster; `layers fetch` writes vector layers. Download "
            f"{url} and reference the GeoTIFF in the region."
        )
    return str(kind), url


def _download_vector(
    entry: CatalogEntry,
    cache_dir: str | Path | None,
    timeout_s: float,
    retries: int,
) -> tuple[Path, str | None]:
    """Download (and unpack) a ``kind = "file"`` source; return the vector file and layer."""
    from prospector.ingest.archive import safe_extract
    from prospector.ingest.download import fetch_file

    download: dict[str, Any] = entry.download
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


def _bbox_in_layer_crs(
    path: Path, layer: str | None, bbox_lonlat: tuple[float, float, float, float]
) -> tuple[float, float, float, float] | None:
    """*bbox_lonlat* in the CRS of the layer (for a spatial filter), or None without a CRS."""
    try:
        info = pyogrio.read_info(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise LayerReadError(f"cannot read {path}: {exc}") from exc
    if not info.get("crs"):
        return None
    to_layer = pyproj.Transformer.from_crs(
        "EPSG:4326", pyproj.CRS.from_user_input(info["crs"]), always_xy=True
    )
    xmin, ymin, xmax, ymax = (float(v) for v in to_layer.transform_bounds(*bbox_lonlat))
    return xmin, ymin, xmax, ymax
