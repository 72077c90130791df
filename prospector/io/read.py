"""Read vector and raster sources into memory (pyogrio / rasterio) with clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pyogrio
import rasterio
from rasterio.errors import RasterioIOError

from prospector.errors import LayerReadError

__all__ = ["list_layers", "read_vector", "raster_profile"]


def list_layers(path: str | Path) -> list[str]:
    """Return the names of the vector layers in *path*."""
    try:
        return [str(name) for name, _ in pyogrio.list_layers(path)]
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise LayerReadError(_read_message(Path(path), exc)) from exc


def _read_message(path: Path, exc: Exception, layer: str | None = None) -> str:
    what = f"{path}" + (f" (layer {layer!r})" if layer else "")
    text = str(exc)
    hint = "Check that the file is a complete vector dataset GDAL can open."
    if path.suffix.lower() == ".shp":
        missing = [ext for ext in (".shx", ".dbf") if not path.with_suffix(ext).exists()]
        if missing:
            hint = (
                f"The shapefile is missing its {', '.join(missing)} companion file(s): copy every "
                "file of the shapefile (.shp, .shx, .dbf, .prj, .cpg) together, or convert it to "
                "GeoPackage."
            )
        else:
            hint = "The shapefile may be truncated or corrupt: re-export or re-download it."
    if not path.exists():
        hint = "The file does not exist: check the path (relative paths are from the region file)."
    return f"cannot read {what}: {text}. {hint}"


def read_vector(
    path: str | Path,
    *,
    layer: str | None = None,
    where: str | None = None,
    columns: list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector layer with pyogrio.

    Parameters
    ----------
    path
        Any file GDAL can read (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet...).
    layer
        Layer name for multi-layer files; the first layer when omitted.
    where
        OGR SQL attribute filter, e.g. ``"GAP_Sts IN ('1', '2')"``.
    columns
        Attribute columns to read (all when omitted).
    bbox
        Spatial filter in the layer's own CRS.

    Returns
    -------
    geopandas.GeoDataFrame
    """
    path = Path(path)
    if not path.exists():
        raise LayerReadError(_read_message(path, FileNotFoundError("no such file"), layer))
    if layer is not None:
        available = list_layers(path)
        if layer not in available:
            raise LayerReadError(
                f"cannot read {path}: it has no layer {layer!r}. "
                f"Layers in the file: {', '.join(available)}. Fix `layer` in the region file."
            )
    if path.suffix.lower() == ".parquet":
        try:
            gdf = gpd.read_parquet(path, columns=None if columns is None else [*columns, "geometry"])
        except (OSError, ValueError) as exc:
            raise LayerReadError(_read_message(path, exc)) from exc
        return gdf.query(where) if where else gdf
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gdf = pyogrio.read_dataframe(
                path, layer=layer, where=where, columns=columns, bbox=bbox, use_arrow=False
            )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise LayerReadError(_read_message(path, exc, layer)) from exc
    except pyogrio.errors.FieldError as exc:
        raise LayerReadError(
            f"cannot read {path}: {exc}. Check the field names used in `where`/`fields`."
        ) from exc
    for w in caught:
        message = str(w.message)
        if "not recognized as being in UTF-8" in message or "encoding" in message.lower():
            # pyogrio falls back to the DBF's code page; nothing to repair.
            continue
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name is None:
        raise LayerReadError(f"{path}: layer has no geometry column; expected a vector layer.")
    return gdf


def raster_profile(path: str | Path) -> dict[str, object]:
    """Return a raster's profile (CRS, transform, shape, nodata) without reading pixels."""
    try:
        with rasterio.open(path) as src:
            return {**src.profile, "bounds": tuple(src.bounds), "res": src.res}
    except RasterioIOError as exc:
        raise LayerReadError(
            f"cannot read raster {path}: {exc}. Check that it is a GeoTIFF or another "
            "GDAL raster format."
        ) from exc
