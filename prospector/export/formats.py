"""Export result layers to the file formats GIS tools and people use.

=========  ==========================================================================
format     what is written
=========  ==========================================================================
gpkg       one GeoPackage, every layer, QGIS styles and the run manifest (work CRS)
shp        a folder (or ``.zip``) with one Shapefile per layer (work CRS), a
           ``<layer>_fields.csv`` long → short field-name mapping and a ``.qml`` style
geojson    a folder with one RFC 7946 ``<layer>.geojson`` per layer (EPSG:4326, lon/lat)
fgb        a folder with one FlatGeobuf ``<layer>.fgb`` per layer (work CRS, spatial index)
parquet    a folder with one GeoParquet ``<layer>.parquet`` per layer (work CRS)
csv        a folder with one ``<layer>.csv`` per layer: attributes, centroid ``lon``/``lat``
           in EPSG:4326 and (optionally) the geometry as ``wkt`` in EPSG:4326
kml, kmz   one Google Earth file, a folder per layer (EPSG:4326), styled, placemarks
           named by rank and parcel id
=========  ==========================================================================

Every export is atomic: files are written into a temporary sibling and moved into
place only when everything succeeded, so a failure leaves no partial output and an
existing output is replaced only with ``overwrite=True``.  Folder outputs also get the
run manifest as ``manifest.json`` when one is known.
"""

from __future__ import annotations

import csv
import html
import json
import re
import shutil
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from prospector._util import did_you_mean
from prospector.errors import ProspectorError
from prospector.export.atomic import atomic_output, check_writable
from prospector.export.geoparquet import write_geoparquet
from prospector.export.gpkg import flatten_lists, write_gpkg
from prospector.export.styles import SCORE_COLORS, layer_qml, score_breaks

__all__ = [
    "FORMATS",
    "SHAPEFILE_FIELD_NAMES",
    "ExportFormat",
    "export_layers",
    "read_field_mapping",
    "shapefile_field_names",
]

#: Longest text a Shapefile (dBASE) field holds, in bytes of UTF-8.
DBF_TEXT_BYTES = 254
_TRUNCATION_MARK = "…"
_LONLAT = "EPSG:4326"
_LAYER_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ExportFormat:
    """One export format."""

    name: str
    description: str
    suffix: str
    """File suffix of one layer file (or of the single file for gpkg/kml/kmz)."""
    folder: bool
    """True when the output is a folder with one file (set) per layer."""


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("gpkg", "GeoPackage: every layer, QGIS styles, run manifest", ".gpkg", False),
        ExportFormat("shp", "Shapefile folder (or .zip), one file set per layer", ".shp", True),
        ExportFormat("geojson", "RFC 7946 GeoJSON (lon/lat), one file per layer", ".geojson", True),
        ExportFormat("fgb", "FlatGeobuf, one file per layer", ".fgb", True),
        ExportFormat("parquet", "GeoParquet, one file per layer", ".parquet", True),
        ExportFormat("csv", "CSV with centroid lon/lat (+ WKT), one file per layer", ".csv", True),
        ExportFormat("kml", "KML for Google Earth, one folder per layer", ".kml", False),
        ExportFormat("kmz", "Zipped KML for Google Earth", ".kmz", False),
    )
}  # fmt: skip

_ALIASES = {
    "geopackage": "gpkg",
    "shapefile": "shp",
    "esri shapefile": "shp",
    "zip": "shp",
    "json": "geojson",
    "flatgeobuf": "fgb",
    "geoparquet": "parquet",
    "pq": "parquet",
}

#: Short Shapefile field names (≤ 10 characters) of the canonical columns.  Stable: a
#: column always gets the same short name, whatever other columns the layer has.
SHAPEFILE_FIELD_NAMES: dict[str, str] = {
    # ranked parcels
    "score_value": "sc_value",
    "score_access": "sc_access",
    "score_evidence": "sc_evid",
    "federal_frac": "fed_frac",
    "withdrawn_frac": "wdrn_frac",
    "claimed_frac": "clm_frac",
    "land_status": "land_stat",
    "status_reason": "stat_rsn",
    "withdrawals": "wdrl_names",
    "n_active_claims": "n_act_clm",
    "n_critical_deposits": "n_crit_dep",
    "commodities": "commods",
    "critical_commodities": "crit_comm",
    "dist_rail_km": "rail_km",
    "dist_road_km": "road_km",
    "dist_power_km": "power_km",
    "dist_fault_km": "fault_km",
    "slope_mean_deg": "slope_mean",
    "slope_max_deg": "slope_max",
    "dem_coverage": "dem_cover",
    "value_battery": "val_batt",
    "value_precious": "val_prec",
    "value_energy": "val_energy",
    "value_specialty": "val_spec",
    "value_industrial": "val_indus",
    "contrib_value": "c_value",
    "contrib_access_road": "c_road",
    "contrib_access_rail": "c_rail",
    "contrib_access_power": "c_power",
    "contrib_terrain": "c_terrain",
    "contrib_evidence_fault": "c_fault",
    # input layers
    "commodity_codes": "comm_codes",
    "disposition": "dispositn",
}


# --------------------------------------------------------------------------- entry point


def export_layers(
    layers: Mapping[str, gpd.GeoDataFrame | None],
    output: str | Path,
    *,
    fmt: str | None = None,
    overwrite: bool = False,
    metadata: dict[str, Any] | None = None,
    csv_wkt: bool = True,
) -> list[Path]:
    """Write result layers to *output* in format *fmt*, atomically.

    Parameters
    ----------
    layers
        Layer name → GeoDataFrame, e.g. :func:`prospector.outputs.result_layers` or
        :func:`prospector.export.read_ranked`.  None and empty layers are skipped.
    output
        Output file (``gpkg``, ``kml``, ``kmz``; ``shp`` also takes a ``.zip``) or
        folder (``shp``, ``geojson``, ``fgb``, ``parquet``, ``csv``).  A path ending in
        the format's suffix (``parcels.geojson``) is accepted when there is one layer.
    fmt
        One of :data:`FORMATS`; inferred from the suffix of *output* when omitted.
    overwrite
        Replace an existing output.  An existing folder is only replaced when it holds
        nothing but files an export writes.
    metadata
        Run manifest; defaults to ``attrs["prospector_manifest"]`` of the layers (set by
        :func:`~prospector.export.read_ranked`).  Stored in the GeoPackage metadata or as
        ``manifest.json`` beside folder outputs.
    csv_wkt
        Add a ``wkt`` geometry column (EPSG:4326) to CSV output.

    Returns
    -------
    list of pathlib.Path
        Files written (the file itself for single-file outputs).

    Raises
    ------
    prospector.errors.OutputExistsError
        *output* exists and *overwrite* is False.
    prospector.errors.ProspectorError
        Unknown format, unusable output path, or no layer to write.
    """
    output = Path(output)
    name = _resolve_format(fmt, output)
    spec = FORMATS[name]
    frames = _check_layers(layers)
    if metadata is None:
        metadata = next(
            (g.attrs["prospector_manifest"] for g in frames.values()
             if isinstance(g.attrs.get("prospector_manifest"), dict)),
            None,
        )  # fmt: skip

    if name == "gpkg":
        return [write_gpkg(frames, output, overwrite=overwrite, metadata=metadata)]
    if name in ("kml", "kmz"):
        with atomic_output(output, overwrite=overwrite) as tmp:
            if name == "kml":
                with tmp.open("w", encoding="utf-8", newline="\n") as stream:
                    _write_kml(frames, stream)
            else:
                with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
                        archive.open("doc.kml", "w") as raw, \
                        _text_stream(raw) as stream:  # fmt: skip
                    _write_kml(frames, stream)
        return [output]

    writer = _FOLDER_WRITERS[name]
    if name == "shp" and output.suffix.lower() == ".zip":
        with atomic_output(output, overwrite=overwrite) as tmp:
            staging = tmp.with_name(tmp.name + ".d")
            staging.mkdir()
            files = _write_folder(frames, staging, writer, metadata, csv_wkt=csv_wkt)
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for file in files:
                    archive.write(file, arcname=file.name)
            shutil.rmtree(staging)
        return [output]
    if output.suffix.lower() == spec.suffix:
        return _write_single_file(
            frames, output, spec, writer, overwrite=overwrite, csv_wkt=csv_wkt
        )

    _check_replaceable_folder(output, overwrite=overwrite)
    with atomic_output(output, overwrite=overwrite, directory=True) as tmp:
        files = _write_folder(frames, tmp, writer, metadata, csv_wkt=csv_wkt)
        names = [f.name for f in files]
    return [output / n for n in names]


def _resolve_format(fmt: str | None, output: Path) -> str:
    if fmt is None:
        by_suffix = {f.suffix: f.name for f in FORMATS.values()} | {
            ".zip": "shp",
            ".json": "geojson",
        }
        inferred = by_suffix.get(output.suffix.lower())
        if inferred is None:
            raise ProspectorError(
                f"cannot tell the export format from {output}: give fmt= (--format), one of "
                f"{', '.join(FORMATS)}."
            )
        return inferred
    key = fmt.strip().lower().lstrip(".")
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise ProspectorError(
            f"unknown export format {fmt!r}.{did_you_mean(key, [*FORMATS, *_ALIASES])} "
            f"Known formats: {', '.join(FORMATS)}."
        )
    return key


def _check_layers(layers: Mapping[str, gpd.GeoDataFrame | None]) -> dict[str, gpd.GeoDataFrame]:
    problems = []
    frames: dict[str, gpd.GeoDataFrame] = {}
    for name, gdf in layers.items():
        if gdf is None or len(gdf) == 0:
            continue
        if not _LAYER_NAME.match(str(name)):
            problems.append(
                f"layer name {name!r} cannot be a file name: use letters, digits, '_', '-' and '.'"
            )
        elif not isinstance(gdf, gpd.GeoDataFrame):
            problems.append(f"layer {name!r} is a {type(gdf).__name__}, not a GeoDataFrame")
        elif gdf.crs is None:
            problems.append(
                f"layer {name!r} has no CRS: set it (gdf.set_crs(...)) before exporting; "
                "formats in EPSG:4326 need it to reproject"
            )
        else:
            frames[str(name)] = gdf
    if problems:
        raise ProspectorError("cannot export: " + "; ".join(problems) + ".")
    if not frames:
        raise ProspectorError(
            "nothing to export: every layer is missing or empty. Pass the layers of a ranking "
            "run, e.g. prospector.outputs.result_layers(result) or read_ranked('prospects.gpkg')."
        )
    return frames


#: Files a folder export may contain: only folders holding nothing else are replaced.
_EXPORT_SUFFIXES = {
    ".shp", ".shx", ".dbf", ".prj", ".cpg", ".qml", ".csv", ".geojson", ".fgb",
    ".parquet", ".json",
}  # fmt: skip


def _check_replaceable_folder(output: Path, *, overwrite: bool) -> None:
    check_writable(output, overwrite=overwrite)
    if not output.exists():
        return
    if not output.is_dir():
        raise ProspectorError(
            f"{output} is a file, but this format writes a folder: choose a folder path."
        )
    foreign = [
        p.name
        for p in output.iterdir()
        if not p.is_file() or p.suffix.lower() not in _EXPORT_SUFFIXES
    ]
    if foreign:
        raise ProspectorError(
            f"refusing to replace the folder {output}: it holds files an export does not write "
            f"({', '.join(sorted(foreign)[:5])}). Choose an empty or new folder."
        )


def _write_folder(
    frames: Mapping[str, gpd.GeoDataFrame],
    folder: Path,
    writer: Callable[..., list[Path]],
    metadata: dict[str, Any] | None,
    *,
    csv_wkt: bool,
) -> list[Path]:
    files: list[Path] = []
    for name, gdf in frames.items():
        files += writer(name, gdf, folder, csv_wkt=csv_wkt)
    if metadata is not None:
        manifest = folder / "manifest.json"
        manifest.write_text(
            json.dumps(metadata, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8"
        )
        files.append(manifest)
    return files


def _write_single_file(
    frames: Mapping[str, gpd.GeoDataFrame],
    output: Path,
    spec: ExportFormat,
    writer: Callable[..., list[Path]],
    *,
    overwrite: bool,
    csv_wkt: bool,
) -> list[Path]:
    if len(frames) != 1 or spec.name == "shp":
        what = "a Shapefile is a set of files" if spec.name == "shp" else (
            f"there are {len(frames)} layers ({', '.join(frames)})"
        )  # fmt: skip
        raise ProspectorError(
            f"{output} names one {spec.suffix} file, but {what}. Give a folder path (e.g. "
            f"{output.with_suffix('')}) to write one file per layer"
            + (", or a .zip." if spec.name == "shp" else ", or pass only one layer.")
        )
    (name, gdf), = frames.items()  # fmt: skip
    with atomic_output(output, overwrite=overwrite) as tmp:
        staging = tmp.with_name(tmp.name + ".d")
        staging.mkdir()
        (written, *_) = writer(name, gdf, staging, csv_wkt=csv_wkt)
        written.replace(tmp)
        shutil.rmtree(staging)
    return [output]


# --------------------------------------------------------------------------- Shapefile


def _abbreviate(name: str) -> str:
    """Shorten *name* to ≤ 10 ASCII characters: drop inner vowels, then truncate."""
    ascii_name = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "field"
    if ascii_name[0].isdigit():
        ascii_name = "f" + ascii_name
    if len(ascii_name) <= 10:
        return ascii_name
    words = [w for w in ascii_name.split("_") if w]
    squeezed = "_".join(w[0] + re.sub(r"[aeiouAEIOU]", "", w[1:]) for w in words)
    return squeezed[:10].rstrip("_")


def shapefile_field_names(columns: Iterable[str]) -> dict[str, str]:
    """Map column names to unique Shapefile field names of at most 10 characters.

    Canonical columns use the fixed table :data:`SHAPEFILE_FIELD_NAMES`; names of ≤ 10
    ASCII characters are kept; others lose their inner vowels and are cut to 10
    characters.  A clash (compared case-insensitively, as dBASE does) gets a numeric
    suffix (``name_2``, ``name_3``...) in column order.  The result is deterministic for
    a given column list.

    Parameters
    ----------
    columns
        Attribute column names (without the geometry column).

    Returns
    -------
    dict
        Long name → short name, in column order.
    """
    columns = list(columns)
    out: dict[str, str] = {}
    taken: set[str] = set()
    fixed = {c: SHAPEFILE_FIELD_NAMES[c] for c in columns if c in SHAPEFILE_FIELD_NAMES}
    kept = {
        c: c for c in columns if c not in fixed and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,9}", c)
    }
    # Reserve the names that never change first, so that abbreviations make way for them.
    for col, short in (fixed | kept).items():
        if short.lower() not in taken:
            taken.add(short.lower())
        else:  # two input columns differing only in case
            fixed.pop(col, None)
            kept.pop(col, None)
    for col in columns:
        if col in fixed or col in kept:
            out[col] = (fixed | kept)[col]
            continue
        base = _abbreviate(col)
        short, n = base, 1
        while short.lower() in taken:
            n += 1
            suffix = f"_{n}"
            short = base[: 10 - len(suffix)] + suffix
        taken.add(short.lower())
        out[col] = short
    return out


def _truncate_bytes(text: str, limit: int = DBF_TEXT_BYTES) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    mark = _TRUNCATION_MARK.encode("utf-8")
    return raw[: limit - len(mark)].decode("utf-8", errors="ignore") + _TRUNCATION_MARK


def _dbf_frame(gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, list[dict[str, str]]]:
    """Prepare attributes for dBASE: text ≤ 254 bytes, dates as text, short field names."""
    frame = flatten_lists(gdf)
    geom = frame.geometry.name
    columns = [c for c in frame.columns if c != geom]
    short = shapefile_field_names(columns)
    rows = []
    for col in columns:
        series = frame[col]
        note = ""
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            series = series.map(lambda v: v.isoformat() if pd.notna(v) else None)
            kind, note = "text", "date-time written as ISO 8601 text"
        elif pd.api.types.is_bool_dtype(series.dtype):
            kind = "boolean"
        elif pd.api.types.is_integer_dtype(series.dtype):
            kind = "integer"
        elif pd.api.types.is_float_dtype(series.dtype):
            kind = "real"
        else:
            series = series.map(lambda v: v if v is None or isinstance(v, str) else _as_text(v))
            kind = "text"
        if kind == "text":
            lengths = series.map(lambda v: len(v.encode("utf-8")) if isinstance(v, str) else 0)
            n_long = int((lengths > DBF_TEXT_BYTES).sum())
            if n_long:
                series = series.map(lambda v: _truncate_bytes(v) if isinstance(v, str) else v)
                note = (note + "; " if note else "") + (
                    f"{n_long} value(s) longer than {DBF_TEXT_BYTES} bytes cut to "
                    f"{DBF_TEXT_BYTES} bytes, ending in '{_TRUNCATION_MARK}'; full text in the "
                    "GeoPackage"
                )
        frame[col] = series
        rows.append({"long_name": col, "short_name": short[col], "type": kind, "note": note})
    frame = frame.rename(columns=short)
    return frame, rows


def _as_text(value: Any) -> str | None:
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return str(value)


_FAMILIES = {
    "Point": "points", "MultiPoint": "points",
    "LineString": "lines", "MultiLineString": "lines",
    "Polygon": "polygons", "MultiPolygon": "polygons",
}  # fmt: skip


def _split_families(name: str, gdf: gpd.GeoDataFrame) -> list[tuple[str, gpd.GeoDataFrame]]:
    """Split a layer mixing points, lines and polygons (a Shapefile holds one family)."""
    family = gdf.geom_type.map(_FAMILIES)
    if gdf.geom_type.notna().any() and family[gdf.geom_type.notna()].isna().any():
        bad = sorted(set(gdf.geom_type[gdf.geom_type.notna() & family.isna()]))
        raise ProspectorError(
            f"layer {name!r} holds {', '.join(bad)} geometries, which a Shapefile cannot store. "
            "Export it as GeoPackage, GeoJSON or FlatGeobuf, or explode the collections first."
        )
    present = [f for f in ("points", "lines", "polygons") if (family == f).any()]
    if len(present) <= 1:
        return [(name, gdf)]
    return [(f"{name}_{f}", gdf[family == f]) for f in present]


def _write_shp(name: str, gdf: gpd.GeoDataFrame, folder: Path, **_: Any) -> list[Path]:
    files = []
    for part, frame in _split_families(name, gdf):
        dbf, rows = _dbf_frame(frame)
        shp = folder / f"{part}.shp"
        pyogrio.write_dataframe(
            dbf, shp, driver="ESRI Shapefile", layer=part,
            layer_options={"ENCODING": "UTF-8", "RESIZE": "YES"},
        )  # fmt: skip
        mapping = folder / f"{part}_fields.csv"
        with mapping.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=["long_name", "short_name", "type", "note"])
            writer.writeheader()
            writer.writerows(rows)
        files += [shp.with_suffix(s) for s in (".shp", ".shx", ".dbf", ".prj", ".cpg")]
        files.append(mapping)
        qml = layer_qml(name, frame, field_names={r["long_name"]: r["short_name"] for r in rows})
        if qml is not None:
            style = shp.with_suffix(".qml")
            style.write_text(qml, encoding="utf-8")
            files.append(style)
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise ProspectorError(f"GDAL did not write {', '.join(missing)} for layer {name!r}.")
    return files


def read_field_mapping(path: str | Path) -> dict[str, str]:
    """Read a ``<layer>_fields.csv`` mapping back: short Shapefile name → long column name."""
    with Path(path).open(encoding="utf-8", newline="") as stream:
        return {row["short_name"]: row["long_name"] for row in csv.DictReader(stream)}


# --------------------------------------------------------------------------- other formats


def _style_sidecar(name: str, gdf: gpd.GeoDataFrame, target: Path) -> list[Path]:
    qml = layer_qml(name, gdf)
    if qml is None:
        return []
    style = target.with_suffix(".qml")
    style.write_text(qml, encoding="utf-8")
    return [style]


def _write_geojson(name: str, gdf: gpd.GeoDataFrame, folder: Path, **_: Any) -> list[Path]:
    frame = flatten_lists(gdf).to_crs(_LONLAT)
    target = folder / f"{name}.geojson"
    # RFC7946=YES: EPSG:4326 lon/lat, right-hand-rule winding, 7 decimals, no "crs" member.
    pyogrio.write_dataframe(
        frame, target, driver="GeoJSON", layer=name, layer_options={"RFC7946": "YES"}
    )
    return [target, *_style_sidecar(name, frame, target)]


def _write_fgb(name: str, gdf: gpd.GeoDataFrame, folder: Path, **_: Any) -> list[Path]:
    frame = flatten_lists(gdf)
    target = folder / f"{name}.fgb"
    pyogrio.write_dataframe(
        frame, target, driver="FlatGeobuf", layer=name, layer_options={"SPATIAL_INDEX": "YES"}
    )
    return [target, *_style_sidecar(name, frame, target)]


def _write_parquet(name: str, gdf: gpd.GeoDataFrame, folder: Path, **_: Any) -> list[Path]:
    frame = flatten_lists(gdf)
    frame.attrs = {}
    target = folder / f"{name}.parquet"
    write_geoparquet(frame, target, overwrite=True, index=False, covering_bbox=False)
    return [target]


def _write_csv(name: str, gdf: gpd.GeoDataFrame, folder: Path, *, csv_wkt: bool = True,
               **_: Any) -> list[Path]:  # fmt: skip
    frame = flatten_lists(gdf)
    geom = frame.geometry
    # Centroids in the layer's CRS when projected (true centroids), then to lon/lat.
    projected = geom if geom.crs.is_projected else geom.to_crs("EPSG:5070")
    centroids = projected.centroid.to_crs(_LONLAT)
    table = pd.DataFrame(frame.drop(columns=geom.name))
    clash = [c for c in ("lon", "lat", "wkt") if c in table.columns]
    if clash:
        raise ProspectorError(
            f"layer {name!r} already has column(s) {', '.join(clash)}, which CSV export adds "
            "(centroid lon/lat, WKT geometry). Rename them before exporting."
        )
    table["lon"] = centroids.x.round(7)
    table["lat"] = centroids.y.round(7)
    if csv_wkt:
        lonlat = geom.to_crs(_LONLAT)
        table["wkt"] = shapely.to_wkt(lonlat.values, rounding_precision=7, trim=True)
    target = folder / f"{name}.csv"
    table.to_csv(target, index=False, encoding="utf-8", lineterminator="\n")
    return [target]


_FOLDER_WRITERS: dict[str, Callable[..., list[Path]]] = {
    "shp": _write_shp,
    "geojson": _write_geojson,
    "fgb": _write_fgb,
    "parquet": _write_parquet,
    "csv": _write_csv,
}


# --------------------------------------------------------------------------- KML / KMZ


class _text_stream:
    """UTF-8 text wrapper over a binary zip member that does not close the member twice."""

    def __init__(self, raw: Any) -> None:
        import io

        self._wrapper = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")

    def __enter__(self) -> TextIO:
        return self._wrapper

    def __exit__(self, *exc: object) -> None:
        self._wrapper.flush()
        self._wrapper.detach()


def _kml_color(hex_color: str, alpha: int) -> str:
    """KML colours are aabbggrr."""
    c = hex_color.lstrip("#")
    return f"{alpha:02x}{c[4:6]}{c[2:4]}{c[0:2]}"


_KML_DEPOSIT_ICON = "http://maps.google.com/mapfiles/kml/shapes/placemark_circle.png"


def _kml_styles(
    frames: Mapping[str, gpd.GeoDataFrame],
) -> tuple[str, dict[str, Callable[[Any], str]]]:
    """Shared <Style> elements and, per layer, a function row → style id."""
    from prospector.export.styles import ACCESS_KINDS
    from prospector.palette import DEPOSIT_GROUPS

    parts: list[str] = []
    pick: dict[str, Callable[[Any], str]] = {}

    def poly(sid: str, fill: str, alpha: int, line: str, width: float, filled: bool = True) -> None:
        parts.append(
            f'<Style id="{sid}"><LineStyle><color>{_kml_color(line, 255)}</color>'
            f"<width>{width}</width></LineStyle><PolyStyle><color>{_kml_color(fill, alpha)}"
            f"</color><fill>{int(filled)}</fill></PolyStyle></Style>"
        )

    def line(sid: str, color: str, width: float) -> None:
        parts.append(
            f'<Style id="{sid}"><LineStyle><color>{_kml_color(color, 255)}</color>'
            f"<width>{width}</width></LineStyle></Style>"
        )

    if "parcels" in frames and "score" in frames["parcels"]:
        edges = score_breaks(frames["parcels"]["score"].to_numpy())
        n = len(edges) - 1
        picks = np.linspace(0, len(SCORE_COLORS) - 1, n).round().astype(int) if n > 1 else [4]
        for i in range(n):
            poly(f"score{i}", SCORE_COLORS[picks[i]], 0xB0, "#ffffff", 0.5)
        inner = np.asarray(edges[1:-1])

        def score_style(row: Mapping[str, Any]) -> str:
            score = row["score"]
            if score is None or not np.isfinite(score):
                return "#excluded"
            return f"#score{min(int(np.searchsorted(inner, score, 'right')), n - 1)}"

        pick["parcels"] = score_style
    poly("excluded", "#bdbdbd", 0x80, "#969696", 0.5)
    pick["excluded_parcels"] = lambda row: "#excluded"
    for group, (color, _) in DEPOSIT_GROUPS.items():
        parts.append(
            f'<Style id="deposit_{group}"><IconStyle><color>{_kml_color(color, 255)}</color>'
            f"<scale>0.7</scale><Icon><href>{_KML_DEPOSIT_ICON}</href></Icon></IconStyle>"
            "<LabelStyle><scale>0</scale></LabelStyle></Style>"
        )
    pick["deposits"] = lambda row: (
        f"#deposit_{row['group']}" if row.get("group") in DEPOSIT_GROUPS else "#deposit_none"
    )
    poly("withdrawal", "#d55e00", 0, "#d55e00", 2.0, filled=False)
    pick["withdrawals"] = lambda row: "#withdrawal"
    for kind, (color, _, width, _) in ACCESS_KINDS.items():
        line(f"access_{kind}", color, width * 4)
    pick["access"] = lambda row: (
        f"#access_{row.get('kind')}" if row.get("kind") in ACCESS_KINDS else "#other"
    )
    poly("boundary", "#000000", 0, "#000000", 2.0, filled=False)
    pick["boundary"] = lambda row: "#boundary"
    poly("other", "#a50f15", 0x40, "#a50f15", 1.5)
    return "".join(parts), pick


def _kml_coords(coords: np.ndarray) -> str:
    return " ".join(f"{x:.7f},{y:.7f}" for x, y in coords[:, :2])


def _kml_geometry(geom: shapely.Geometry | None) -> str:
    if geom is None or geom.is_empty:
        return ""
    kind = geom.geom_type
    if kind == "Point":
        return f"<Point><coordinates>{geom.x:.7f},{geom.y:.7f}</coordinates></Point>"
    if kind == "LineString":
        coords = _kml_coords(np.asarray(geom.coords))
        return (
            f"<LineString><tessellate>1</tessellate><coordinates>{coords}</coordinates>"
            "</LineString>"
        )
    if kind == "Polygon":
        rings = (
            "<outerBoundaryIs><LinearRing><coordinates>"
            + _kml_coords(np.asarray(geom.exterior.coords))
            + "</coordinates></LinearRing></outerBoundaryIs>"
        )
        for interior in geom.interiors:
            rings += (
                "<innerBoundaryIs><LinearRing><coordinates>"
                + _kml_coords(np.asarray(interior.coords))
                + "</coordinates></LinearRing></innerBoundaryIs>"
            )
        return f"<Polygon><tessellate>1</tessellate>{rings}</Polygon>"
    parts = "".join(_kml_geometry(g) for g in geom.geoms)
    return f"<MultiGeometry>{parts}</MultiGeometry>"


#: Columns shown in the Google Earth balloon of a parcel (everything is in ExtendedData).
_KML_PARCEL_SUMMARY = (
    "rank", "parcel_id", "score", "land_status", "status_reason", "n_deposits",
    "critical_commodities", "dist_rail_km", "why",
)  # fmt: skip


def _kml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.6g}"
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"  # xsd:boolean; GDAL parses 1/0, not true/false
    return str(value)


def _kml_name(layer: str, row: Mapping[str, Any], index: int) -> str:
    if "rank" in row and "parcel_id" in row and _kml_value(row["rank"]):
        return f"#{_kml_value(row['rank'])} {row['parcel_id']}"
    for col in ("name", "site_id", "parcel_id", "kind"):
        text = _kml_value(row.get(col))
        if text:
            return text
    return f"{layer} {index + 1}"


def _kml_description(layer: str, row: Mapping[str, Any], columns: list[str]) -> str:
    """Return an HTML table (values HTML-escaped); the caller XML-escapes it all."""
    shown = [c for c in _KML_PARCEL_SUMMARY if c in row] if layer == "parcels" else columns
    cells = "".join(
        f"<tr><th>{html.escape(c)}</th><td>{html.escape(_kml_value(row[c]))}</td></tr>"
        for c in shown
    )
    return f"<table>{cells}</table>"


def _cdata(text: str) -> str:
    """Wrap HTML in CDATA (Google Earth renders it); a ``]]>`` inside is split safely."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


_KML_TYPES = {"b": "bool", "i": "int", "u": "uint", "f": "double"}


def _write_kml(frames: Mapping[str, gpd.GeoDataFrame], stream: TextIO) -> None:
    """Stream one KML document: shared styles, then one <Folder> per layer."""
    styles, pick = _kml_styles(frames)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write('<kml xmlns="http://www.opengis.net/kml/2.2"><Document>')
    stream.write("<name>Prospector results</name><open>1</open>")
    stream.write(styles)
    prepared = {}
    for name, gdf in frames.items():
        frame = flatten_lists(gdf).to_crs(_LONLAT)
        columns = [c for c in frame.columns if c != frame.geometry.name]
        prepared[name] = (frame, columns)
        fields = "".join(
            f"<SimpleField type={quoteattr(_KML_TYPES.get(frame[c].dtype.kind, 'string'))} "
            f"name={quoteattr(c)}/>"
            for c in columns
        )
        stream.write(
            f"<Schema name={quoteattr(name)} id={quoteattr('schema_' + name)}>{fields}</Schema>"
        )
    for name, (frame, columns) in prepared.items():
        stream.write(f"<Folder><name>{escape(name)}</name>")
        style_of = pick.get(name, lambda row: "#other")
        records = frame[columns].to_dict("records")
        for i, (row, geom) in enumerate(zip(records, frame.geometry.values, strict=True)):
            data = "".join(
                f"<SimpleData name={quoteattr(c)}>{escape(_kml_value(row[c]))}</SimpleData>"
                for c in columns
            )
            stream.write(
                f"<Placemark><name>{escape(_kml_name(name, row, i))}</name>"
                f"<description>{_cdata(_kml_description(name, row, columns))}</description>"
                f"<styleUrl>{style_of(row)}</styleUrl>"
                f'<ExtendedData><SchemaData schemaUrl="#schema_{escape(name)}">{data}'
                f"</SchemaData></ExtendedData>{_kml_geometry(geom)}</Placemark>"
            )
        stream.write("</Folder>")
    stream.write("</Document></kml>\n")
