"""Export result layers to the file formats GIS tools and people use: format dispatch.

:func:`export_layers` resolves the format, checks the layers and the output path, and
hands each layer to its format family's writer (:mod:`~prospector.export.gpkg`,
:mod:`~prospector.export.shapefile`, :mod:`~prospector.export.vector`,
:mod:`~prospector.export.geoparquet`, :mod:`~prospector.export.tabular`,
:mod:`~prospector.export.kml`) inside one atomic write.

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
kml, kmz   one Google Earth file holding every layer, a folder per layer (EPSG:4326),
           styled, placemarks named by rank and parcel id; KMZ is the KML zipped
=========  ==========================================================================

Every export is atomic: files are written into a temporary sibling and moved into
place only when everything succeeded, so a failure leaves no partial output and an
existing output is replaced only with ``overwrite=True``.  Folder outputs also get the
run manifest as ``manifest.json`` when one is known.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd

from prospector._runtime import atomic_output, check_writable
from prospector._util import did_you_mean
from prospector.errors import ProspectorError
from prospector.export.geoparquet import write_geoparquet_layer
from prospector.export.gpkg import write_gpkg
from prospector.export.kml import write_kml, write_kmz
from prospector.export.shapefile import write_shapefile_layer
from prospector.export.tabular import write_csv_layer
from prospector.export.vector import write_fgb_layer, write_geojson_layer

__all__ = ["FORMATS", "ExportFormat", "export_layers", "holds_one_layer"]

#: Writes one layer into a folder and returns the files written.
LayerWriter = Callable[[str, gpd.GeoDataFrame, Path], list[Path]]

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

    @property
    def multi_layer_file(self) -> bool:
        """True when one file of this format holds every layer (GeoPackage, KML, KMZ)."""
        return not self.folder


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
        Layer name → GeoDataFrame, e.g. :func:`prospector.ranking.result_layers` or
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
        Run manifest (:func:`~prospector.export.read_manifest`); else
        ``attrs["prospector_manifest"]`` of a layer when a caller set it (formerly set by
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
            (write_kml if name == "kml" else write_kmz)(frames, tmp)
        return [output]

    writer: LayerWriter = (
        partial(write_csv_layer, wkt=csv_wkt) if name == "csv" else _FOLDER_WRITERS[name]
    )
    if name == "shp" and output.suffix.lower() == ".zip":
        with atomic_output(output, overwrite=overwrite) as tmp:
            staging = tmp.with_name(tmp.name + ".d")
            staging.mkdir()
            files = _write_folder(frames, staging, writer, metadata)
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for file in files:
                    archive.write(file, arcname=file.name)
            shutil.rmtree(staging)
        return [output]
    if output.suffix.lower() == spec.suffix:
        return _write_single_file(frames, output, spec, writer, overwrite=overwrite)

    _check_replaceable_folder(output, overwrite=overwrite)
    with atomic_output(output, overwrite=overwrite, directory=True) as tmp:
        files = _write_folder(frames, tmp, writer, metadata)
        names = [f.name for f in files]
    return [output / n for n in names]


def holds_one_layer(output: str | Path, fmt: str | None = None) -> bool:
    """Tell whether *output* names a file that holds exactly one layer.

    True for a per-layer format's own suffix (``top.geojson``, ``t.csv``, ``t.fgb``,
    ``t.parquet``); False for folders, ``.zip`` Shapefile sets and the formats whose one
    file holds every layer (GeoPackage, KML, KMZ).
    """
    output = Path(output)
    spec = FORMATS[_resolve_format(fmt, output)]
    if spec.multi_layer_file or spec.name == "shp":
        return False
    suffix = output.suffix.lower()
    return suffix == spec.suffix or (spec.name == "geojson" and suffix == ".json")


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
            "run, e.g. prospector.ranking.result_layers(result) or read_ranked('prospects.gpkg')."
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
    writer: LayerWriter,
    metadata: dict[str, Any] | None,
) -> list[Path]:
    files: list[Path] = []
    for name, gdf in frames.items():
        files += writer(name, gdf, folder)
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
    writer: LayerWriter,
    *,
    overwrite: bool,
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
        (written, *_) = writer(name, gdf, staging)
        written.replace(tmp)
        shutil.rmtree(staging)
    return [output]


_FOLDER_WRITERS: dict[str, LayerWriter] = {
    "shp": write_shapefile_layer,
    "geojson": write_geojson_layer,
    "fgb": write_fgb_layer,
    "parquet": write_geoparquet_layer,
}
