"""Turn the canonical layers into the JSON payload the map's JavaScript draws.

Everything here is plain data: text stays text (the browser inserts it with
``textContent``, never as HTML), numbers are rounded, coordinates are lon/lat
quantised to 5 decimals (about 1 m).
"""

from __future__ import annotations

import json
import math
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector.palette import DEPOSIT_GROUPS
from prospector.render import _style
from prospector.render._raster import ParcelRaster

__all__: list[str] = []

#: Decimals of lon/lat kept in the embedded GeoJSON (1e-5 degree is about 1 m).
COORD_DECIMALS = 5
#: Simplification tolerances in metres of the layer's projected CRS.
PARCEL_SIMPLIFY_M = 5.0
LINE_SIMPLIFY_M = 25.0
AREA_SIMPLIFY_M = 25.0
#: Deposits listed in the popup of one parcel (the count is always given).
MAX_DEPOSITS_PER_PARCEL = 10

_PARCEL_TEXT = (
    "parcel_id",
    "land_status",
    "status_reason",
    "agency",
    "withdrawals",
    "commodities",
    "critical_commodities",
    "why",
)
_PARCEL_NUMBERS = (
    "score",
    "score_value",
    "score_access",
    "score_evidence",
    "area_km2",
    "federal_frac",
    "withdrawn_frac",
    "claimed_frac",
    "open_frac",
    "dist_rail_km",
    "dist_road_km",
    "dist_power_km",
    "dist_fault_km",
    "slope_mean_deg",
)
_PARCEL_INTS = ("rank", "n_active_claims", "n_deposits", "n_critical_deposits")


def detail_order(parcels: pd.DataFrame) -> np.ndarray:
    """Return row positions in detail priority: open land first, then by rank (1 = best)."""
    rank = numeric(parcels, "rank", np.inf)
    status = text_values(parcels, "land_status", "unknown")
    not_open = (status != "open").astype("int8")
    return np.lexsort((np.arange(len(parcels)), rank, not_open))


def geometry_json(geoms: gpd.GeoSeries, tolerance_m: float) -> list[Any]:
    """Simplify (in the projected CRS), reproject to lon/lat and quantise *geoms*."""
    if geoms.crs is not None and geoms.crs.is_projected and tolerance_m > 0:
        geoms = geoms.simplify(tolerance_m, preserve_topology=True)
    lonlat = geoms.to_crs(4326) if geoms.crs is not None else geoms
    arr = shapely.transform(lonlat.to_numpy(), lambda xy: np.round(xy, COORD_DECIMALS))
    return [None if g is None else json.loads(shapely.to_geojson(g)) for g in arr]


def parcel_features(
    parcels: gpd.GeoDataFrame, deposits_by_row: dict[int, list[dict[str, Any]]]
) -> dict[str, Any]:
    """Return the detailed parcels as GeoJSON (properties: the canonical columns)."""
    geoms = geometry_json(parcels.geometry, PARCEL_SIMPLIFY_M)
    columns: dict[str, list[Any]] = {}
    for name in _PARCEL_TEXT:
        if name in parcels:
            columns[name] = [clean_text(v) for v in parcels[name]]
    for name in _PARCEL_NUMBERS:
        if name in parcels:
            columns[name] = [clean_float(v, 4) for v in parcels[name]]
    for name in _PARCEL_INTS:
        if name in parcels:
            columns[name] = [clean_int(v) for v in parcels[name]]
    contrib = [c for c in parcels.columns if str(c).startswith("contrib_")]
    values = [c for c in parcels.columns if str(c).startswith("value_")]
    features = []
    for i, geom in enumerate(geoms):
        props: dict[str, Any] = {name: col[i] for name, col in columns.items()}
        props["contrib"] = {c[8:]: clean_float(parcels[c].iat[i], 4) for c in contrib}
        props["value"] = {c[6:]: clean_float(parcels[c].iat[i], 4) for c in values}
        props["deposits"] = deposits_by_row.get(i, [])
        features.append({"type": "Feature", "geometry": geom, "properties": props})
    return {"type": "FeatureCollection", "features": features}


def deposits_in_parcels(
    parcels: gpd.GeoDataFrame, deposits: gpd.GeoDataFrame | None
) -> dict[int, list[dict[str, Any]]]:
    """List the deposits inside each parcel row (most important first, capped).

    A site belongs to the parcel its ``parcel_id`` names (a ranking run sets it); deposits
    without that column are listed in no parcel.
    """
    if deposits is None or deposits.empty or parcels.empty or "parcel_id" not in deposits:
        return {}
    row_of = pd.Series(np.arange(len(parcels)), index=text_values(parcels, "parcel_id", ""))
    row_of = row_of[~row_of.index.duplicated()]
    owner = deposits["parcel_id"].to_numpy(dtype=object)
    held = np.flatnonzero(pd.notna(owner))
    rows = row_of.reindex(owner[held].astype(str)).to_numpy()
    found = ~np.isnan(rows)
    idx_pt, idx_parcel = held[found], rows[found].astype(np.int64)
    if idx_pt.size == 0:
        return {}
    pts = deposits
    crit = bool_values(pts, "critical")
    status_order = {"producer": 0, "past_producer": 1, "prospect": 2, "occurrence": 3}
    status = text_values(pts, "dev_status", "unknown")
    key = np.array([(not crit[i], status_order.get(status[i], 4)) for i in idx_pt])
    order = np.lexsort((key[:, 1], key[:, 0], idx_parcel))
    names = text_values(pts, "name", "")
    commodities = text_values(pts, "commodities", "")
    out: dict[int, list[dict[str, Any]]] = {}
    for j in order:
        row, p = int(idx_parcel[j]), int(idx_pt[j])
        lst = out.setdefault(row, [])
        if len(lst) < MAX_DEPOSITS_PER_PARCEL:
            lst.append(
                {
                    "name": names[p] or "(unnamed)",
                    "commodities": commodities[p],
                    "dev_status": status[p],
                    "critical": bool(crit[p]),
                }
            )
    return out


def parcel_index(parcels: gpd.GeoDataFrame) -> dict[str, Any]:
    """Return compact arrays of every parcel: id, rank, score, status and centroid (1e-4 deg).

    They let search and clicks find parcels outside the detailed set.
    """
    pts = parcels.geometry.representative_point().to_crs(4326)
    lon = np.round(pts.x.to_numpy() * 1e4).astype("int64")
    lat = np.round(pts.y.to_numpy() * 1e4).astype("int64")
    score = numeric(parcels, "score", np.nan)
    area = numeric(parcels, "area_km2", np.nan)
    status_keys = list(_style.LAND_STATUS)
    status = text_values(parcels, "land_status", "unknown")
    lookup = {k: i for i, k in enumerate(status_keys)}
    return {
        "id": [clean_text(v) for v in text_values(parcels, "parcel_id", "")],
        "rank": [clean_int(v) for v in numeric(parcels, "rank", np.nan)],
        "score": [None if not np.isfinite(v) else round(float(v), 3) for v in score],
        "status": [lookup.get(s, lookup["unknown"]) for s in status],
        "status_keys": status_keys,
        "lon": lon.tolist(),
        "lat": lat.tolist(),
        "radius_km": float(np.sqrt(np.nanmedian(area))) if np.isfinite(area).any() else 1.0,
    }


def choropleths(parcels: gpd.GeoDataFrame, raster: ParcelRaster) -> list[dict[str, Any]]:
    """Classify the score, land status and each criterion; rasterise each into a PNG."""
    layers: list[dict[str, Any]] = []
    for key, title in _style.CRITERIA_LABELS.items():
        if key not in parcels:
            continue
        classes, legend = _style.classify(numeric(parcels, key, np.nan), key=key, title=title)
        layers.append(_layer(raster, classes, legend))
        if key == "score" and "land_status" in parcels:
            classes, legend = _style.land_status_classes(
                text_values(parcels, "land_status", "unknown")
            )
            layers.append(_layer(raster, classes, legend))
    return layers


def _layer(raster: ParcelRaster, classes: np.ndarray, legend: _style.Legend) -> dict[str, Any]:
    return {
        "key": legend.key,
        "title": legend.title,
        "image": raster.png(classes, legend.colors, _style.NODATA_COLOR),
        "bounds": raster.bounds,
        "legend": legend.to_dict(),
    }


def deposit_columns(deposits: gpd.GeoDataFrame) -> dict[str, Any]:
    """Return deposits as parallel arrays (smaller than GeoJSON for many points)."""
    pts = deposits.to_crs(4326) if deposits.crs is not None else deposits
    geoms = pts.geometry
    keep = (~geoms.is_empty & geoms.notna()).to_numpy()
    pts = pts[keep]
    xy = shapely.get_coordinates(shapely.centroid(pts.geometry.to_numpy()))
    group = text_values(pts, "group", "none")
    return {
        "lon": np.round(xy[:, 0], COORD_DECIMALS).tolist(),
        "lat": np.round(xy[:, 1], COORD_DECIMALS).tolist(),
        "site_id": [clean_text(v) for v in text_values(pts, "site_id", "")],
        "name": [clean_text(v) for v in text_values(pts, "name", "")],
        "commodities": [clean_text(v) for v in text_values(pts, "commodities", "")],
        "dev_status": [clean_text(v) for v in text_values(pts, "dev_status", "unknown")],
        "source": [clean_text(v) for v in text_values(pts, "source", "")],
        "group": [g if g in DEPOSIT_GROUPS else "none" for g in group],
        "critical": [bool(v) for v in bool_values(pts, "critical")],
    }


def area_features(
    frame: gpd.GeoDataFrame, columns: tuple[str, ...], tolerance_m: float
) -> dict[str, Any]:
    """Return *frame* as GeoJSON with only *columns* (as text) kept."""
    geoms = geometry_json(frame.geometry, tolerance_m)
    texts = {c: text_values(frame, c, "") for c in columns}
    features = [
        {
            "type": "Feature",
            "geometry": g,
            "properties": {c: clean_text(texts[c][i]) for c in columns},
        }
        for i, g in enumerate(geoms)
        if g is not None
    ]
    return {"type": "FeatureCollection", "features": features}


def to_script_json(payload: dict[str, Any]) -> str:
    """Serialise *payload* for a ``<script type="application/json">`` element.

    ``<``, ``>`` and ``&`` are written as JSON unicode escapes so no text in the data
    can close the script element or start markup; ``JSON.parse`` restores them.
    """
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def text_values(frame: pd.DataFrame, name: str, default: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), default, dtype=object)
    col = frame[name]
    return np.array([default if _missing(v) else str(v) for v in col], dtype=object)


def numeric(frame: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), default, dtype="float64")
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def bool_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame:
        return np.zeros(len(frame), dtype=bool)
    return np.array([False if _missing(v) else bool(v) for v in frame[name]], dtype=bool)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def clean_text(value: Any) -> str | None:
    return None if _missing(value) else str(value)


def clean_float(value: Any, digits: int) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return round(f, digits) if math.isfinite(f) else None


def clean_int(value: Any) -> int | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if math.isfinite(f) else None
