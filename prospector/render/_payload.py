"""Turn the canonical layers into the JSON payload the map's JavaScript draws.

Everything here is plain data: text stays text (the browser inserts it with
``textContent``, never as HTML), numbers are rounded, coordinates are lon/lat
quantised to 5 decimals (about 1 m).
"""

from __future__ import annotations

import base64
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
    "prospectivity",
    "prospectivity_lo",
    "prospectivity_hi",
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
    parcels: gpd.GeoDataFrame,
    deposits_by_row: dict[int, list[dict[str, Any]]],
    rows: np.ndarray,
) -> dict[str, Any]:
    """Return the detailed parcels as GeoJSON (properties: the canonical columns).

    *rows* are the parcels' positions in the map's index (property ``row``).
    """
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
    shap = [c for c in parcels.columns if str(c).startswith("shap_")]
    features = []
    contrib_cols = {c[8:]: [clean_float(v, 4) for v in parcels[c]] for c in contrib}
    shap_cols = {c[5:]: [clean_float(v, 4) for v in parcels[c]] for c in shap}
    value_cols = {c[6:]: [clean_float(v, 4) for v in parcels[c]] for c in values}
    for i, geom in enumerate(geoms):
        props: dict[str, Any] = {name: col[i] for name, col in columns.items()}
        props["row"] = int(rows[i])
        props["contrib"] = {k: col[i] for k, col in contrib_cols.items()}
        if shap:
            props["shap"] = {k: col[i] for k, col in shap_cols.items()}
        props["value"] = {k: col[i] for k, col in value_cols.items()}
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


def parcel_index(
    parcels: gpd.GeoDataFrame, groups: np.ndarray, *, with_scores: bool
) -> dict[str, Any]:
    """Return compact arrays of every parcel (base64 typed arrays, text dictionary-coded).

    ``id`` (text), ``id_order`` (position in parcel-id order, for rank ties), ``status``
    (index into ``status_keys``), ``lon``/``lat`` (representative point, 1e-5 degree
    integers), commodity texts, ``groups`` (bit ``i`` set when a deposit of commodity
    group ``group_keys[i]`` lies inside) and, with *with_scores*, the run's ``score``,
    ``rank`` and ``score_*`` family columns (a map without live re-weighting colours by them).
    """
    pts = parcels.geometry.representative_point().to_crs(4326)
    lon = np.round(pts.x.to_numpy() * 1e5)
    lat = np.round(pts.y.to_numpy() * 1e5)
    area = numeric(parcels, "area_km2", np.nan)
    status_keys = list(_style.LAND_STATUS)
    status = text_values(parcels, "land_status", "unknown")
    lookup = {k: i for i, k in enumerate(status_keys)}
    ids = text_values(parcels, "parcel_id", "")
    out: dict[str, Any] = {
        "n": len(parcels),
        "id": [clean_text(v) for v in ids],
        "id_order": b64(id_order(parcels["parcel_id"].to_numpy()), "uint32"),
        "status": b64(np.array([lookup.get(s, lookup["unknown"]) for s in status]), "uint8"),
        "status_keys": status_keys,
        "lon": b64(lon, "int32"),
        "lat": b64(lat, "int32"),
        "groups": b64(groups, "uint16"),
        "group_keys": list(DEPOSIT_GROUPS),
        "text": {name: _dictionary(text_values(parcels, name, "")) for name in _INDEX_TEXT},
        "radius_km": float(np.sqrt(np.nanmedian(area))) if np.isfinite(area).any() else 1.0,
    }
    if with_scores:
        out["score"] = b64(numeric(parcels, "score", np.nan), "float64")
        out["rank"] = b64(np.nan_to_num(numeric(parcels, "rank", 0), nan=0), "int32")
        out["columns"] = {
            key: b64(numeric(parcels, key, np.nan), "float32")
            for key in _style.CRITERIA_LABELS
            if key != "score" and key in parcels
        }
    return out


#: Text columns of every parcel carried in the index (shortlist, popups, downloads).
_INDEX_TEXT = ("agency", "commodities", "critical_commodities")


def _dictionary(values: np.ndarray) -> dict[str, Any]:
    """Dictionary-code a text column: distinct ``values`` and one uint32 ``code`` per row."""
    uniques, codes = np.unique(values.astype(str), return_inverse=True)
    return {"values": [str(u) for u in uniques], "codes": b64(codes, "uint32")}


def parcel_groups(parcels: gpd.GeoDataFrame, deposits: gpd.GeoDataFrame | None) -> np.ndarray:
    """Bit mask per parcel of the commodity groups of the deposits inside it.

    Uses the deposits' ``parcel_id`` (set by the ranking run) when present, else a
    spatial join.
    """
    mask = np.zeros(len(parcels), dtype="uint16")
    if deposits is None or deposits.empty or parcels.empty or "group" not in deposits:
        return mask
    bits = {g: 1 << i for i, g in enumerate(DEPOSIT_GROUPS)}
    group_bits = np.array(
        [bits.get(g, bits["none"]) for g in text_values(deposits, "group", "none")]
    )
    if "parcel_id" in deposits:
        rows = pd.Index(parcels["parcel_id"]).get_indexer(deposits["parcel_id"])
        hit = rows >= 0
        np.bitwise_or.at(mask, rows[hit], group_bits[hit].astype("uint16"))
        return mask
    pts = deposits.to_crs(parcels.crs) if deposits.crs != parcels.crs else deposits
    idx_pt, idx_parcel = parcels.sindex.query(pts.geometry, predicate="intersects")
    np.bitwise_or.at(mask, idx_parcel, group_bits[idx_pt].astype("uint16"))
    return mask


def index_raster(raster: ParcelRaster) -> dict[str, Any]:
    """Return the parcel-index raster as an RGB PNG (pixel = row + 1, 24 bits; 0 = no parcel)."""
    return {"image": raster.index_png(), "bounds": raster.bounds}


def choropleths(parcels: gpd.GeoDataFrame) -> list[dict[str, str]]:
    """Return the switchable choropleths: score, land status and each family column present."""
    layers = [{"key": "score", "title": _style.CRITERIA_LABELS["score"]}]
    if "land_status" in parcels:
        layers.append({"key": "land_status", "title": "Land status"})
    for key, title in _style.CRITERIA_LABELS.items():
        if key != "score" and key in parcels:
            layers.append({"key": key, "title": title})
    return layers


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


def b64(values: np.ndarray, dtype: str) -> str:
    """Return *values* as base64 of little-endian *dtype* bytes (a JS typed array's buffer)."""
    array = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    return base64.b64encode(array.tobytes()).decode("ascii")


def id_order(ids: np.ndarray) -> np.ndarray:
    """Position of each id in ascending id order, missing ids last (as ``rank_scores``)."""
    raw = np.asarray(ids, dtype=object)
    missing = pd.isna(raw)
    text = np.where(missing, "", raw).astype(str)
    order = np.lexsort((np.arange(len(raw)), text, missing))
    pos = np.empty(len(raw), dtype="uint32")
    pos[order] = np.arange(len(raw), dtype="uint32")
    return pos


def text_values(frame: pd.DataFrame, name: str, default: str) -> np.ndarray:
    if name not in frame:
        return np.full(len(frame), default, dtype=object)
    col = frame[name]
    missing = col.isna().to_numpy()  # list cells are not missing
    values = col.to_numpy(dtype=object)
    return np.array(
        [
            default if m else (v if type(v) is str else as_text(v))
            for v, m in zip(values, missing, strict=True)
        ],
        dtype=object,
    )


def as_text(value: Any) -> str:
    """Text of a cell: lists (commodities) joined with ``", "``, never their Python repr."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return ", ".join(str(v) for v in value if not _missing(v))
    return str(value)


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
    if isinstance(value, (list, tuple, np.ndarray)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def clean_text(value: Any) -> str | None:
    return None if _missing(value) else as_text(value)


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


#: Zoom from which a place's name shows, by kind (bigger places earlier).
_PLACE_MIN_ZOOM = {"city": 7, "town": 9, "village": 11}


def context_layers(context: dict[str, gpd.GeoDataFrame]) -> dict[str, Any]:
    """County outlines (with a label point) and place names for orientation."""
    out: dict[str, Any] = {}
    for name, frame in context.items():
        if "source" in frame.attrs:
            out[f"{name}_source"] = str(frame.attrs["source"])
    counties = context.get("counties")
    if counties is not None and len(counties):
        geoms = geometry_json(counties.geometry.boundary, 0.0)
        label = counties.geometry.to_crs(4326).representative_point()
        names = text_values(counties, "name", "")
        out["counties"] = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": g,
                    "properties": {
                        "name": clean_text(names[i]),
                        "label_at": [round(label.iat[i].x, 4), round(label.iat[i].y, 4)],
                    },
                }
                for i, g in enumerate(geoms)
                if g is not None
            ],
        }
    places = context.get("places")
    if places is not None and len(places):
        pts = places.to_crs(4326)
        xy = shapely.get_coordinates(pts.geometry.to_numpy())
        kinds = text_values(pts, "kind", "")
        out["places"] = {
            "name": [clean_text(v) for v in text_values(pts, "name", "")],
            "kind": [str(k) for k in kinds],
            "lon": np.round(xy[:, 0], COORD_DECIMALS).tolist(),
            "lat": np.round(xy[:, 1], COORD_DECIMALS).tolist(),
            "min_zoom": [_PLACE_MIN_ZOOM.get(str(k), 11) for k in kinds],
        }
    return out


#: Columns of a targets table (prospector.analysis.targets) carried to the shortlist.
_TARGET_TEXT = ("target_id", "best_parcel_id", "status_mix", "critical_commodities", "commodities")
_TARGET_NUMBERS = ("rank", "n_cells", "area_km2", "best_score", "sum_score")


def target_rows(targets: gpd.GeoDataFrame) -> dict[str, Any]:
    """Targets (clusters of high-scoring cells) as columns for the shortlist, in rank order."""
    frame = targets[targets.geometry.notna() & ~targets.geometry.is_empty]
    if "rank" in frame:
        frame = frame.sort_values("rank", kind="stable")
    pts = frame.geometry.representative_point().to_crs(4326)
    out: dict[str, Any] = {
        name: [clean_text(v) for v in text_values(frame, name, "")] for name in _TARGET_TEXT
    }
    for name in _TARGET_NUMBERS:
        out[name] = [clean_float(v, 4) for v in numeric(frame, name, np.nan)]
    out["lon"] = np.round(pts.x.to_numpy(), COORD_DECIMALS).tolist()
    out["lat"] = np.round(pts.y.to_numpy(), COORD_DECIMALS).tolist()
    out["outlines"] = area_features(frame, ("target_id",), AREA_SIMPLIFY_M)
    return out
