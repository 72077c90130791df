"""KML and KMZ export for Google Earth: one document, one styled folder per layer.

Placemarks are named by rank and parcel id (or the feature's name), carry every
attribute in ``ExtendedData`` (typed by a ``<Schema>``, so GDAL reads them back) and
show a short HTML table in their balloon.  Parcels are coloured by score class as on the
map, deposits by commodity group, access lines by kind.  KMZ is the same document
zipped as ``doc.kml``.  Coordinates are lon/lat (EPSG:4326), 7 decimals.
"""

from __future__ import annotations

import html
import io
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape, quoteattr

import geopandas as gpd
import numpy as np
import shapely

from prospector.export.gpkg import flatten_lists
from prospector.export.styles import ACCESS_KINDS, SCORE_COLORS, score_breaks
from prospector.palette import DEPOSIT_GROUPS

__all__ = ["write_kml", "write_kmz"]

_LONLAT = "EPSG:4326"


def write_kml(frames: Mapping[str, gpd.GeoDataFrame], path: Path) -> Path:
    """Write every layer of *frames* into one KML document at *path*."""
    with path.open("w", encoding="utf-8", newline="\n") as stream:
        _write_document(frames, stream)
    return path


def write_kmz(frames: Mapping[str, gpd.GeoDataFrame], path: Path) -> Path:
    """Write every layer of *frames* into a KMZ (the KML document zipped as ``doc.kml``)."""
    with (
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open("doc.kml", "w") as raw,
        _text_stream(raw) as stream,
    ):
        _write_document(frames, stream)
    return path


class _text_stream:
    """UTF-8 text wrapper over a binary zip member that does not close the member twice."""

    def __init__(self, raw: Any) -> None:
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


def _write_document(frames: Mapping[str, gpd.GeoDataFrame], stream: TextIO) -> None:
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
