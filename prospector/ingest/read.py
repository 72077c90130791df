"""Read vector and raster sources into memory (pyogrio / rasterio) with clear errors.

pyogrio and rasterio (each with its own GDAL) are imported by the functions that read, not
with the module: a ranking of layers already in memory never loads them.

Shapefiles get extra care because agencies hand them out in every state of repair:
missing companion files and truncated ``.shp`` files are errors that name the file, and
text in a code page other than the one declared (or without any declaration) is detected
and read again in the right encoding, with a :class:`~prospector.errors.ProspectorWarning`
saying so.
"""

from __future__ import annotations

import contextlib
import json
import re
import struct
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
from pandas.api.types import is_object_dtype, is_string_dtype

from prospector.errors import LayerReadError, ProspectorWarning

__all__ = [
    "IMPOSSIBLE_ELEVATION",
    "RasterBand",
    "list_fields",
    "list_layers",
    "raster_profile",
    "read_dem_band",
    "read_raster_band",
    "read_vector",
]

#: Encoding assumed for text that is not valid in its declared encoding: every byte is a
#: valid ISO-8859-1 character, so the retry cannot fail.
_FALLBACK_ENCODING = "ISO-8859-1"
#: Distinct text values inspected when looking for UTF-8 read as ISO-8859-1.
_MOJIBAKE_SAMPLE = 2000


def list_layers(path: str | Path, *, spatial: bool = False) -> list[str]:
    """Return the names of the vector layers in *path* (with ``spatial``: those with geometry).

    PAM is off, as in :func:`read_vector`: GDAL would otherwise write a ``<file>.aux.xml``
    sidecar next to a GeoPackage that holds dataset metadata (a run manifest).
    """
    import pyogrio

    try:
        with _gdal_config(GDAL_PAM_ENABLED="NO"):
            layers = pyogrio.list_layers(path)
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise LayerReadError(_read_message(Path(path), exc)) from exc
    return [str(name) for name, geom in layers if geom is not None or not spatial]


def list_fields(path: str | Path, *, layer: str | None = None) -> list[str]:
    """Return the attribute field names of a vector layer (the first layer by default).

    The file gets the same checks as :func:`read_vector` (missing file or shapefile
    companions, truncated ``.shp``, unknown layer) without reading any feature.

    Raises
    ------
    prospector.errors.LayerReadError
        The file is missing, incomplete or unreadable, or has no such layer.
    """
    import pyogrio

    path = Path(path)
    _check_readable(path, layer)
    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            geo = json.loads((schema.metadata or {}).get(b"geo", b"{}"))
            skip = set(geo.get("columns", {})) | {"bbox"}
            return [n for n in schema.names if n not in skip]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "more than one layer": the first is what is read
            info = pyogrio.read_info(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        raise LayerReadError(_read_message(path, exc, layer)) from exc
    except IndexError as exc:  # pyogrio's error for a file without any layer
        if list_layers(path):
            raise
        raise LayerReadError(_no_layer_message(path, layer)) from exc
    except ValueError as exc:  # pyarrow: not a Parquet file
        raise LayerReadError(_read_message(path, exc, layer)) from exc
    return [str(name) for name in info["fields"]]


def _check_readable(path: Path, layer: str | None) -> None:
    """Refuse a missing file, a folder, an unknown layer or a broken shapefile, by name."""
    if not path.exists():
        raise LayerReadError(_read_message(path, FileNotFoundError("no such file"), layer))
    if path.is_dir() and path.suffix.lower() != ".gdb":
        raise LayerReadError(
            f"cannot read {path}: it is a folder. Give the path of the file itself "
            "(e.g. the .shp of a shapefile or the .gpkg)."
        )
    if layer is not None:
        available = list_layers(path)
        if not available:
            raise LayerReadError(_no_layer_message(path, layer))
        if layer not in available:
            raise LayerReadError(
                f"cannot read {path}: it has no layer {layer!r}. "
                f"Layers in the file: {', '.join(available)}. Fix `layer` in the region file "
                "(or `--layer` on the command line)."
            )
    if path.suffix.lower() == ".shp":
        _check_shapefile(path)


def _no_layer_message(path: Path, layer: str | None) -> str:
    looked = f" (looked for layer {layer!r})" if layer else ""
    return (
        f"cannot read {path}: GDAL finds no vector layer in it{looked}. The file is truncated "
        "or corrupt, or is not a vector dataset: download or export it again, and open it in "
        "QGIS to check."
    )


def _read_message(path: Path, exc: Exception, layer: str | None = None) -> str:
    what = f"{path}" + (f" (layer {layer!r})" if layer else "")
    text = str(exc).rstrip(".")
    hint = "Check that the file is a complete vector dataset GDAL can open."
    if path.suffix.lower() == ".shp":
        missing = _missing_companions(path)
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


def _missing_companions(path: Path) -> list[str]:
    """Mandatory shapefile companions (.shx, .dbf) missing beside *path*, in any case."""
    present = {p.name.lower() for p in path.parent.glob(f"{path.stem}.*")}
    return [ext for ext in (".shx", ".dbf") if f"{path.stem}{ext}".lower() not in present]


def _check_shapefile(path: Path) -> None:
    """Refuse a shapefile with missing companions or a ``.shp`` shorter than its header says.

    GDAL reads a ``.shp`` without its ``.dbf`` (no attributes) and a truncated ``.shp``
    (the last features become null geometries) without an error; both would silently
    lose data here.
    """
    missing = _missing_companions(path)
    if missing:
        raise LayerReadError(
            f"cannot read {path}: the shapefile is missing its {', '.join(missing)} companion "
            "file(s) (.shx: the index of the shapes; .dbf: the attribute table). Copy every "
            "file of the shapefile (.shp, .shx, .dbf, .prj, .cpg) together, or convert it to "
            "GeoPackage."
        )
    size = path.stat().st_size
    with path.open("rb") as fh:
        header = fh.read(28)
    if len(header) < 28 or struct.unpack(">i", header[:4])[0] != 9994:
        raise LayerReadError(
            f"cannot read {path}: it is not a shapefile (the header is missing or its file code "
            "is not 9994). The .shp is corrupt or is another kind of file: re-export or "
            "re-download it."
        )
    declared = 2 * struct.unpack(">i", header[24:28])[0]  # 16-bit words
    if size < declared:
        raise LayerReadError(
            f"cannot read {path}: the .shp is truncated ({size:,} bytes, its header declares "
            f"{declared:,}); the last features would be lost. Re-download or re-export it "
            "(an interrupted copy or download is the usual cause)."
        )


@contextlib.contextmanager
def _gdal_config(**options: str) -> Iterator[None]:
    """Set GDAL configuration options (pyogrio's GDAL) for the block, then restore them."""
    import pyogrio

    previous = {key: pyogrio.get_gdal_config_option(key) for key in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(previous)


def _read_once(path: Path, encoding: str | None, **kwargs: Any) -> gpd.GeoDataFrame:
    """One pyogrio read; GDAL's encoding chatter is dropped, other warnings passed on.

    PAM is off while reading: GDAL would otherwise write a ``<file>.aux.xml`` sidecar
    next to a GeoPackage that holds dataset metadata (a run manifest) on every read.
    """
    import pyogrio

    with warnings.catch_warnings(record=True) as caught, _gdal_config(GDAL_PAM_ENABLED="NO"):
        warnings.simplefilter("always")
        gdf = pyogrio.read_dataframe(path, encoding=encoding, use_arrow=False, **kwargs)
    for w in caught:
        message = str(w.message)
        if "not recognized as being in UTF-8" in message or "encoding" in message.lower():
            continue  # handled by the caller: detected and retried
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return gdf


def _looks_like_mojibake(gdf: gpd.GeoDataFrame) -> bool:
    """Tell whether every non-ASCII text value is UTF-8 that was decoded as ISO-8859-1.

    ``'Peña'`` written as UTF-8 and read as ISO-8859-1 becomes ``'PeÃ±a'``; encoding that
    back to ISO-8859-1 gives bytes that are valid UTF-8.  Real ISO-8859-1 text almost never
    does (``'ñ'`` alone is the invalid UTF-8 byte 0xF1).
    """
    found = False
    for column in gdf.columns:
        dtype = gdf[column].dtype
        if column == gdf.geometry.name or not (is_object_dtype(dtype) or is_string_dtype(dtype)):
            continue
        for value in gdf[column].dropna().unique()[:_MOJIBAKE_SAMPLE]:
            if not isinstance(value, str) or value.isascii():
                continue
            try:
                value.encode("latin-1").decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                return False
            found = True
    return found


def read_vector(
    path: str | Path,
    *,
    layer: str | None = None,
    where: str | None = None,
    columns: list[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    points: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read a vector layer with pyogrio.

    Text that is not valid in the encoding the file declares (a shapefile ``.cpg``
    saying UTF-8 over ISO-8859-1 bytes) is read again as ISO-8859-1, and a shapefile
    without any code page whose text turns out to be UTF-8 is read again as UTF-8; both
    with a :class:`~prospector.errors.ProspectorWarning`.

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
    points
        For tables (``.csv``, ``.tsv``, ``.xlsx``): the coordinate columns and CRS
        (``x``, ``y``, ``crs``, ``wkt``), see :func:`prospector.ingest.tabular.read_points`;
        ``layer`` names the worksheet.  Recognised column names are used when omitted.

    Returns
    -------
    geopandas.GeoDataFrame

    Raises
    ------
    prospector.errors.LayerReadError
        The file is missing, incomplete (shapefile companions), truncated or unreadable,
        has no such layer, or has no geometry.
    """
    import pyogrio

    path = Path(path)
    _check_readable(path, layer)
    from prospector.ingest.tabular import is_table, read_points

    if is_table(path):
        options = {k: v for k, v in (points or {}).items() if k != "sheet"}
        sheet = (points or {}).get("sheet", layer)
        table, _ = read_points(path, sheet=sheet, where=where, **options)
        if bbox is not None:
            table = table.loc[~table.geometry.isna()].cx[bbox[0] : bbox[2], bbox[1] : bbox[3]]
        return table[[*columns, table.geometry.name]] if columns is not None else table
    if path.suffix.lower() == ".parquet":
        try:
            gdf = gpd.read_parquet(
                path, columns=None if columns is None else [*columns, "geometry"]
            )
        except (OSError, ValueError) as exc:
            raise LayerReadError(_read_message(path, exc)) from exc
        if not where:
            return gdf
        try:
            return gdf.query(where)
        except Exception as exc:  # pandas raises many kinds for a bad expression
            raise LayerReadError(_where_message(path, where, exc)) from exc
    shapefile = path.suffix.lower() == ".shp"
    kwargs: dict[str, Any] = {"layer": layer, "where": where, "columns": columns, "bbox": bbox}
    try:
        try:
            gdf = _read_once(path, None, **kwargs)
        except UnicodeDecodeError as exc:
            gdf = _read_once(path, _FALLBACK_ENCODING, **kwargs)
            warnings.warn(
                f"{path}: text is not valid in the encoding the file declares ({exc.reason} at "
                f"byte {exc.start}); read it as {_FALLBACK_ENCODING} (latin-1) instead. Check "
                "accented names; to silence this, give the shapefile a .cpg with its real code "
                "page (e.g. ISO-8859-1 or CP1252) or convert it to GeoPackage.",
                ProspectorWarning,
                stacklevel=2,
            )
        else:
            if shapefile and _looks_like_mojibake(gdf):
                gdf = _read_once(path, "UTF-8", **kwargs)
                warnings.warn(
                    f"{path}: the shapefile declares no code page (no .cpg) and GDAL read its "
                    "text as ISO-8859-1, but the text is UTF-8: read it again as UTF-8. Add a "
                    ".cpg file containing 'UTF-8' beside the .shp to silence this.",
                    ProspectorWarning,
                    stacklevel=2,
                )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        if where and _is_sql_error(exc):
            raise LayerReadError(_where_message(path, where, exc)) from exc
        raise LayerReadError(_read_message(path, exc, layer)) from exc
    except pyogrio.errors.FieldError as exc:
        raise LayerReadError(
            f"cannot read {path}: {exc}. Check the field names used in `where`/`fields`."
        ) from exc
    except IndexError as exc:  # pyogrio's error for a file without any layer
        if list_layers(path):
            raise
        raise LayerReadError(_no_layer_message(path, layer)) from exc
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name is None:
        raise LayerReadError(
            f"{path}: layer has no geometry column; expected a vector layer. A table of points "
            "reads as CSV or .xlsx (coordinate columns lon/lat, Long_NAD83/Lat_NAD83 or named "
            "with x/y/crs in the region file); convert other tables to CSV."
        )
    return gdf


def _is_sql_error(exc: Exception) -> bool:
    """Whether GDAL refused the attribute filter (rather than the file)."""
    text = str(exc).lower()
    return any(
        s in text
        for s in (
            "sql",
            "syntax error",
            "no such column",
            "unrecognized token",
            "where clause",
            "not recognised as an available field",
        )
    )


def _where_message(path: Path, where: str, exc: Exception) -> str:
    text = str(exc)
    found = re.search(
        r"(near \S+: .*|no such column.*|unrecognized token.*|'.*' not recognised.*)$", text
    )
    detail = found.group(1) if found else (text.rsplit(": ", 1)[-1].strip() or type(exc).__name__)
    return (
        f"cannot read {path}: its `where` filter {where!r} is not a valid attribute filter "
        f"({detail}). Fix `where` for this file in the region file ([boundary] or its "
        "[[layers]] table): OGR SQL such as \"state = 'UT'\" or \"GAP_Sts IN ('1', '2')\", "
        "with field names of the file."
    )


def raster_profile(path: str | Path) -> dict[str, object]:
    """Return a raster's profile (CRS, transform, shape, nodata) without reading pixels."""
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as src:
            return {**src.profile, "bounds": tuple(src.bounds), "res": src.res}
    except RasterioIOError as exc:
        raise LayerReadError(
            f"cannot read raster {path}: {str(exc).rstrip('.')}. Check that it is a GeoTIFF or "
            "another GDAL raster format."
        ) from exc


@dataclass(frozen=True)
class RasterBand:
    """One raster band in memory with its georeferencing."""

    values: np.ndarray
    nodata: float | None
    bounds: tuple[float, float, float, float]
    crs: pyproj.CRS
    res: tuple[float, float]


#: Elevations no terrain of the United States has, in metres or in feet (Death Valley is
#: −86 m / −282 ft, Denali 6,190 m / 20,310 ft): cells outside are fill values (−9999,
#: −32768, 32767, −3.4e38 ...) of a DEM that does not declare its NoData value.
IMPOSSIBLE_ELEVATION = (-500.0, 30_000.0)


def read_dem_band(path: str | Path) -> RasterBand:
    """Read a DEM's first band; impossible elevations become NoData, with a note.

    A DEM whose fill value is not declared (no NoData in the file) would otherwise enter
    slope and terrain as real heights: a cliff of 10 km at every edge of the data.  Cells
    outside :data:`IMPOSSIBLE_ELEVATION` are set to NaN (the band is returned as float64 with
    ``nodata=None``) and a :class:`~prospector.errors.ProspectorWarning` says how many.
    """
    band = read_raster_band(path)
    values = band.values
    low, high = IMPOSSIBLE_ELEVATION
    with np.errstate(invalid="ignore"):
        bad = (values < low) | (values > high)
    if band.nodata is not None and not np.isnan(band.nodata):
        declared = values == band.nodata
        bad &= ~declared
    else:
        declared = ~np.isfinite(values)
    if not bad.any():
        return band
    seen = np.unique(values[bad])
    sample = ", ".join(f"{v:g}" for v in seen[:3]) + (" ..." if len(seen) > 3 else "")
    warnings.warn(
        f"{path}: {int(bad.sum()):,} DEM cells ({bad.mean():.1%}) hold elevations no US terrain "
        f"has ({sample}); they are treated as NoData. The file declares "
        + ("no NoData value" if band.nodata is None else f"NoData {band.nodata:g}")
        + f": set it (gdal_edit.py -a_nodata {seen[0]:g} {Path(path).name}) to silence this.",
        ProspectorWarning,
        stacklevel=2,
    )
    masked = values.astype("float64")
    masked[bad | declared] = np.nan
    if np.isnan(masked).all():
        raise LayerReadError(
            f"{path}: every DEM cell is NoData or an impossible elevation; the DEM holds no "
            "terrain. Check the file or remove it from the region."
        )
    return RasterBand(masked, None, band.bounds, band.crs, band.res)


def read_raster_band(path: str | Path, band: int = 1) -> RasterBand:
    """Read one band of a raster, refusing a raster whose every cell is NoData."""
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as src:
            values = src.read(band)
            nodata = src.nodata
            bounds = tuple(src.bounds)
            crs = pyproj.CRS.from_user_input(src.crs)
            res = src.res
    except RasterioIOError as exc:
        raise LayerReadError(
            f"cannot read raster {path}: {str(exc).rstrip('.')}. Check that it is a GeoTIFF or "
            "another GDAL raster format."
        ) from exc
    valid = np.isfinite(values) if nodata is None or np.isnan(nodata) else values != nodata
    if not valid.any():
        raise LayerReadError(
            f"{path}: every cell is "
            + (f"NoData ({nodata})" if nodata is not None and not np.isnan(nodata) else "NaN")
            + "; the raster holds no values. "
            "Check the file or remove it from the region."
        )
    return RasterBand(values, nodata, bounds, crs, res)
