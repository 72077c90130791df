"""Shapefile export: one file set per layer, with the dBASE limits handled openly.

A Shapefile holds one geometry family, field names of at most 10 characters and text of
at most 254 bytes.  Canonical columns get fixed short names
(:data:`SHAPEFILE_FIELD_NAMES`); every layer gets a ``<layer>_fields.csv`` mapping long
names to short ones (with what was changed: dates as text, cut texts), and a QGIS
``.qml`` style that uses the short names.  Layers that mix points, lines and polygons
are written as one Shapefile per family.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from prospector.errors import ProspectorError
from prospector.export.gpkg import flatten_lists
from prospector.export.styles import layer_qml

__all__ = [
    "DBF_TEXT_BYTES",
    "SHAPEFILE_FIELD_NAMES",
    "read_field_mapping",
    "shapefile_field_names",
    "write_shapefile_layer",
]

#: Longest text a Shapefile (dBASE) field holds, in bytes of UTF-8.
DBF_TEXT_BYTES = 254
_TRUNCATION_MARK = "…"
#: Files of one Shapefile layer.
SHAPEFILE_SUFFIXES = (".shp", ".shx", ".dbf", ".prj", ".cpg")

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


def write_shapefile_layer(name: str, gdf: gpd.GeoDataFrame, folder: Path) -> list[Path]:
    """Write layer *name* into *folder*: Shapefile(s), field mapping, QGIS style; list the files."""
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
        files += [shp.with_suffix(s) for s in SHAPEFILE_SUFFIXES]
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
