"""QGIS layer styles (QML) for the layers a ranking run writes.

Pure functions: a GeoDataFrame in, a QML document (text) out.  :func:`write_gpkg`
stores them in the GeoPackage ``layer_styles`` table that QGIS reads when it opens a
layer; the file exporters write them as ``<layer>.qml`` sidecars, which QGIS loads
automatically for Shapefile, GeoJSON and FlatGeobuf layers.

The colours match the interactive map's legends: rank-percentile classes of ``rank``
(top 1 / 5 / 10 / 25 / 50 %, :data:`prospector.palette.RANK_CLASSES`) for parcels,
filled without outlines (tens of thousands of outlined cells render as a moiré at
region scale), withdrawn areas hatched, Okabe-Ito commodity groups for deposits.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np

from prospector.palette import DEPOSIT_GROUPS, LAND_STATUS, LINES, RANK_CLASSES, SCORE_COLORS

__all__ = [
    "QGIS_STYLE_VERSION",
    "SCORE_COLORS",
    "layer_qml",
    "rank_breaks",
    "style_layers",
    "write_qml_sidecar",
]

#: QGIS version written into the QML header (styles load in QGIS >= 3.16).
QGIS_STYLE_VERSION = "3.22.0-Białowieża"

_LINE_DRAWING: dict[str, tuple[float, str]] = {
    # kind: width (mm), QGIS line style
    "road": (0.4, "solid"),
    "rail": (0.6, "dash"),
    "power": (0.4, "dot"),
    "fault": (0.4, "solid"),
}
#: QGIS line symbols: kind → (colour, label, width, style); colours from the shared palette.
ACCESS_KINDS: dict[str, tuple[str, str, float, str]] = {
    kind: (color, label, *_LINE_DRAWING[kind]) for kind, (color, label) in LINES.items()
}
_N_CLASSES = 5


def _rgba(color: str, alpha: int = 255) -> str:
    color = color.lstrip("#")
    r, g, b = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{alpha}"


def _options(props: Mapping[str, object]) -> str:
    items = "".join(
        f'<Option type="QString" name={quoteattr(k)} value={quoteattr(str(v))}/>'
        for k, v in props.items()
    )
    return f'<Option type="Map">{items}</Option>'


def _symbol(kind: str, name: str, /, **props: object) -> str:
    """One QGIS symbol (fill, line or marker) with one simple symbol layer."""
    cls = {"fill": "SimpleFill", "line": "SimpleLine", "marker": "SimpleMarker"}[kind]
    return (
        f'<symbol type="{kind}" name={quoteattr(name)} alpha="1" clip_to_extent="1" '
        f'force_rhr="0"><layer class="{cls}" enabled="1" locked="0" pass="0">'
        f"{_options(props)}</layer></symbol>"
    )


def _fill(
    name: str,
    color: str,
    *,
    outline: str = "#ffffff",
    alpha: int = 255,
    width: float = 0.05,
    brush: str = "solid",
    outline_style: str = "solid",
) -> str:
    return _symbol(
        "fill", name, color=_rgba(color, alpha), style=brush, outline_color=_rgba(outline),
        outline_width=width, outline_width_unit="MM", outline_style=outline_style,
        joinstyle="miter",
    )  # fmt: skip


def _line(name: str, color: str, *, width: float = 0.3, style: str = "solid") -> str:
    return _symbol(
        "line", name, line_color=_rgba(color), line_width=width, line_width_unit="MM",
        line_style=style, capstyle="round", joinstyle="round",
    )  # fmt: skip


def _marker(name: str, color: str, *, size: float = 1.8) -> str:
    return _symbol(
        "marker", name, name="circle", color=_rgba(color), size=size, size_unit="MM",
        outline_color=_rgba("#333333"), outline_width=0.1, outline_width_unit="MM",
        outline_style="solid",
    )  # fmt: skip


def _document(
    renderer: str, *, display_field: str | None = None, map_tip: str | None = None
) -> str:
    extra = ""
    if display_field:
        extra += f"<previewExpression>{_text(_quote_field(display_field))}</previewExpression>"
    if map_tip:
        extra += f"<mapTip>{_text(map_tip)}</mapTip>"
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version={quoteattr(QGIS_STYLE_VERSION)} styleCategories="Symbology|MapTips">\n'
        f"{renderer}\n{extra}\n</qgis>\n"
    )


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quote_field(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _single(symbol: str) -> str:
    return (
        '<renderer-v2 type="singleSymbol" forceraster="0" symbollevels="0" enableorderby="0">'
        f"<symbols>{symbol}</symbols></renderer-v2>"
    )


def _categorized(attr: str, categories: list[tuple[str, str, str]]) -> str:
    """Categorized renderer; *categories* are (value, label, symbol xml with name = index)."""
    cats = "".join(
        f'<category render="true" symbol="{i}" value={quoteattr(value)} label={quoteattr(label)}/>'
        for i, (value, label, _) in enumerate(categories)
    )
    symbols = "".join(sym for _, _, sym in categories)
    return (
        f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attr)} forceraster="0" '
        f'symbollevels="0" enableorderby="0"><categories>{cats}</categories>'
        f"<symbols>{symbols}</symbols></renderer-v2>"
    )


def score_breaks(scores: np.ndarray, n_classes: int = _N_CLASSES) -> list[float]:
    """Quantile class breaks of *scores* (``n + 1`` increasing edges, duplicates dropped)."""
    values = np.asarray(scores, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return [0.0, 1.0]
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_classes + 1)))
    if edges.size == 1:
        edges = np.array([edges[0], edges[0]])
    return [float(e) for e in edges]


def rank_breaks(ranks: np.ndarray) -> list[tuple[int, int, str, str]]:
    """Rank-percentile classes of *ranks*: ``(first rank, last rank, colour, label)``.

    A parcel of rank r among N ranked parcels is in the first class whose bound p
    (:data:`~prospector.palette.RANK_CLASSES`) satisfies r <= ceil(N p / 100); classes
    that hold no rank (small N) are left out.
    """
    values = np.asarray(ranks, dtype=float)
    n = int(np.isfinite(values).sum())
    out, previous = [], 0
    for bound, color, label in RANK_CLASSES:
        last = int(np.ceil(n * bound / 100))
        if last > previous:
            out.append((previous + 1, last, color, f"{label} (ranks {previous + 1}–{last})"))
        previous = max(previous, last)
    return out


def _rank_classes(attr: str, classes: list[tuple[int, int, str, str]]) -> str:
    ranges, symbols = [], []
    for i, (first, last, color, label) in enumerate(classes):
        # QGIS ranges hold lower < value <= upper (the first also its lower bound).
        ranges.append(
            f'<range render="true" symbol="{i}" lower="{first - 0.5:g}" upper="{last + 0.5:g}" '
            f"label={quoteattr(label)}/>"
        )
        symbols.append(_fill(str(i), color, outline=color, width=0.0, outline_style="no"))
    return (
        f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attr)} '
        'graduatedMethod="GraduatedColor" forceraster="0" symbollevels="0" enableorderby="0">'
        f"<ranges>{''.join(ranges)}</ranges><symbols>{''.join(symbols)}</symbols>"
        '<mode name="manual"/></renderer-v2>'
    )


def _graduated(attr: str, edges: list[float], *, outline: str) -> str:
    n = len(edges) - 1
    # Spread the palette over however many classes survived de-duplication.
    picks = np.linspace(0, len(SCORE_COLORS) - 1, n).round().astype(int) if n > 1 else [4]
    ranges, symbols = [], []
    for i in range(n):
        lower, upper = edges[i], edges[i + 1]
        label = f"{lower:.3f} – {upper:.3f}"
        ranges.append(
            f'<range render="true" symbol="{i}" lower="{lower:.17g}" upper="{upper:.17g}" '
            f"label={quoteattr(label)}/>"
        )
        symbols.append(_fill(str(i), SCORE_COLORS[picks[i]], outline=outline, width=0.0))
    return (
        f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attr)} '
        'graduatedMethod="GraduatedColor" forceraster="0" symbollevels="0" enableorderby="0">'
        f"<ranges>{''.join(ranges)}</ranges><symbols>{''.join(symbols)}</symbols>"
        '<classificationMethod id="Quantile"/><mode name="quantile"/></renderer-v2>'
    )


def _symbol_kind(gdf: gpd.GeoDataFrame) -> str | None:
    kinds = {
        {"Point": "marker", "MultiPoint": "marker", "LineString": "line",
         "MultiLineString": "line", "Polygon": "fill", "MultiPolygon": "fill"}.get(t, "?")
        for t in gdf.geom_type.dropna().unique()
    }  # fmt: skip
    return kinds.pop() if len(kinds) == 1 and "?" not in kinds else None


def layer_qml(
    name: str, gdf: gpd.GeoDataFrame, *, field_names: Mapping[str, str] | None = None
) -> str | None:
    """Return the QGIS style (QML text) of a result layer, or None when there is none.

    Parameters
    ----------
    name
        Layer name as written by :func:`prospector.ranking.result_layers` (``parcels``,
        ``excluded_parcels``, ``deposits``, ``withdrawals``, ``access``, ``evidence``,
        ``boundary``, ``land``, ``claims``).
    gdf
        The layer; class breaks and categories come from its values.
    field_names
        Column name → name in the written file (Shapefile's short names); identity when
        omitted.

    Returns
    -------
    str or None
        None for unknown layer names or layers mixing geometry families.
    """
    kind = _symbol_kind(gdf)
    if kind is None:
        return None
    names = dict(field_names or {})

    def field(col: str) -> str:
        return names.get(col, col)

    columns = set(gdf.columns)
    if name == "parcels" and kind == "fill" and ({"score", "rank"} & columns):
        tip = '[% "{rank}" %]. [% "{why}" %]'.format(rank=field("rank"), why=field("why"))
        if "rank" in columns:
            renderer = _rank_classes(field("rank"), rank_breaks(gdf["rank"].to_numpy()))
        else:
            renderer = _graduated(
                field("score"), score_breaks(gdf["score"].to_numpy()), outline="#ffffff"
            )
        return _document(
            renderer,
            display_field=field("parcel_id"),
            map_tip=tip if {"rank", "why"} <= columns else None,
        )
    if name == "excluded_parcels" and kind == "fill":
        if "land_status" in columns:
            present = set(gdf["land_status"].dropna().astype(str))
            cats = [
                (value, label, _fill(str(i), color, alpha=140, width=0.0))
                for i, (value, (color, label)) in enumerate(
                    (v, c) for v, c in LAND_STATUS.items() if v in present
                )
            ]
            cats.append(("", "Other", _fill(str(len(cats)), "#bdbdbd", alpha=140, width=0.0)))
            return _document(
                _categorized(field("land_status"), cats), display_field=field("parcel_id")
            )
        return _document(_single(_fill("0", "#bdbdbd", alpha=140, width=0.0)))
    if name == "deposits" and kind == "marker":
        if "group" in columns:
            present = set(gdf["group"].dropna().astype(str))
            ordered = [g for g in DEPOSIT_GROUPS if g in present]
            cats = [
                (g, DEPOSIT_GROUPS[g][1], _marker(str(i), DEPOSIT_GROUPS[g][0]))
                for i, g in enumerate(ordered)
            ]
            cats.append(("", "Other / unknown group", _marker(str(len(cats)), "#ffffff")))
            return _document(_categorized(field("group"), cats), display_field=field("name"))
        return _document(_single(_marker("0", "#000000")), display_field=field("name"))
    if name == "withdrawals" and kind == "fill":
        # Hatched as on the map, so the ranked parcels underneath stay readable.
        return _document(
            _single(_fill("0", "#67001f", brush="b_diagonal", outline="#67001f", width=0.5)),
            display_field=field("name"),
        )
    if name == "access" and kind == "line":
        if "kind" in columns:
            cats = [
                (k, label, _line(str(i), color, width=width, style=style))
                for i, (k, (color, label, width, style)) in enumerate(ACCESS_KINDS.items())
            ]
            return _document(_categorized(field("kind"), cats), display_field=field("kind"))
        return _document(_single(_line("0", "#4d4d4d")))
    if name == "evidence":
        symbol = {
            "line": _line("0", "#a50f15", width=0.3),
            "fill": _fill("0", "#a50f15", brush="no", outline="#a50f15", width=0.3),
            "marker": _marker("0", "#a50f15"),
        }[kind]
        return _document(_single(symbol), display_field=field("kind"))
    if name in ("boundary", "claims") and kind == "fill":
        color = "#000000" if name == "boundary" else "#7b3294"
        return _document(
            _single(_fill("0", color, brush="no", outline=color, width=0.5, outline_style="dash"))
        )
    if name == "land" and kind == "fill":
        return _document(_single(_fill("0", "#c7e9c0", alpha=120, outline="#74c476", width=0.1)))
    return None


def style_layers(layers: Mapping[str, gpd.GeoDataFrame]) -> dict[str, str]:
    """QML styles of every layer that has one (layer name → QML text)."""
    out = {}
    for name, gdf in layers.items():
        if gdf is None:
            continue
        qml = layer_qml(name, gdf)
        if qml is not None:
            out[name] = qml
    return out


def write_qml_sidecar(name: str, gdf: gpd.GeoDataFrame, target: Path) -> list[Path]:
    """Write the QGIS style of layer *name* beside *target* (``<target>.qml``), if it has one.

    QGIS loads a ``.qml`` next to a Shapefile, GeoJSON or FlatGeobuf file automatically.
    Returns the file written, or nothing for layers without a style.
    """
    qml = layer_qml(name, gdf)
    if qml is None:
        return []
    style = target.with_suffix(".qml")
    style.write_text(qml, encoding="utf-8")
    return [style]
