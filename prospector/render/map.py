"""Build the interactive map of ranked parcels and write it as an offline HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np

from prospector._runtime import atomic_output
from prospector.errors import OutputExistsError, SchemaError
from prospector.palette import DEPOSIT_GROUPS
from prospector.render import _payload, _style
from prospector.render._assets import OfflinePage, copy_static
from prospector.render._raster import ParcelRaster, encode_png_gray
from prospector.render._scoring import Scoring, scoring_payload

__all__ = ["BASEMAPS", "Scoring", "build_map", "write_map"]

#: Online basemaps a user may opt into (the page then loads tiles from these servers).
BASEMAPS: dict[str, dict[str, Any]] = {
    "osm": {
        "url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attribution": "© OpenStreetMap contributors",
        "maxNativeZoom": 19,
        "title": "OpenStreetMap",
    },
    "usgs-topo": {
        "url": "https://basemap.nationalmap.gov/arcgis/rest/services/USGSTopo/MapServer/tile/{z}/{y}/{x}",
        "attribution": "USGS The National Map",
        "maxNativeZoom": 16,
        "title": "USGS Topo",
    },
    "usgs-imagery": {
        "url": "https://basemap.nationalmap.gov/arcgis/rest/services/USGSImageryOnly/MapServer/tile/{z}/{y}/{x}",
        "attribution": "USGS The National Map: orthoimagery",
        "maxNativeZoom": 16,
        "title": "USGS Imagery",
    },
}

_INFO_KEYS = (
    "region",
    "layers_used",
    "layers_missing",
    "weights",
    "created",
    "manifest",
    "list_year",
    "notes",
    "evidence_flags",
    "model_flags",
    "model",
)


def build_map(
    parcels: gpd.GeoDataFrame,
    *,
    deposits: gpd.GeoDataFrame | None = None,
    withdrawals: gpd.GeoDataFrame | None = None,
    access: gpd.GeoDataFrame | None = None,
    hillshade: tuple[np.ndarray, tuple[float, float, float, float]] | None = None,
    info: dict[str, Any] | None = None,
    basemap: str | None = None,
    detail_limit: int = 5000,
    scoring: Scoring | None = None,
    context: dict[str, gpd.GeoDataFrame] | None = None,
    targets: gpd.GeoDataFrame | None = None,
) -> folium.Map:
    """Build the interactive map of ranked parcels.

    Every parcel is drawn in rasterised choropleths (score classes, land status and each
    ``score_*`` criterion, switchable in the layer control); the ``detail_limit`` parcels
    with the highest priority (open land first, then by rank) also get vector outlines,
    tooltips, popups and search. The page needs no network unless *basemap* is given.

    Parameters
    ----------
    parcels
        Ranked parcels (canonical columns, any CRS with a definition; missing optional
        columns are left out of popups).
    deposits
        Mineral sites (points) shown as clustered markers coloured by commodity ``group``.
    withdrawals
        Areas withdrawn from mineral entry, drawn hatched.
    access
        Roads, railways and power lines (column ``kind``).
    hillshade
        ``(uint8 image, (west, south, east, north))`` as returned by
        :func:`~prospector.render.hillshade_from_dem` (rows aligned to Web Mercator).
    info
        Run metadata for the header panel: ``region``, ``layers_used``, ``layers_missing``,
        ``weights``, ``created``, ``manifest``, ``list_year``, ``notes``, ``evidence_flags``
        (evidence layers below chance, shown as a warning), ``model_flags`` (the learned
        model's warnings: no skill, little evidence coverage; shown as a warning) and
        ``model`` (the model card's rows, label → text, shown in the details).
    basemap
        ``None`` (default: no tiles, no network), or one of :data:`BASEMAPS`.
    detail_limit
        Most parcels drawn as vectors with popups.
    scoring
        The run's normalised criteria and weighting (:class:`Scoring`): the page then has
        weight sliders and re-scores and re-ranks every parcel live, exactly as Python
        would.  Without it the map shows the run's scores and ranks, fixed.
    context
        Orientation layers drawn under the parcels: ``counties`` (polygons, ``name``) and
        ``places`` (points, ``name``, ``kind``), as returned by
        :func:`prospector.catalog.context.load_context`.
    targets
        Clusters of high-scoring parcels (``target_id``, ``rank``, ``best_score``,
        ``status_mix``, ``critical_commodities``, polygons), as the value step finds them:
        the shortlist can then switch between targets (the run's, fixed) and cells.

    Returns
    -------
    folium.Map
        A map whose CDN links are all removed; write it with :func:`write_map`.

    Raises
    ------
    SchemaError
        If *parcels* lacks a CRS or ``parcel_id``, or *basemap* is unknown.
    """
    _check_inputs(parcels, basemap, detail_limit)
    parcels = parcels[parcels.geometry.notna() & ~parcels.geometry.is_empty]
    parcels = parcels.reset_index(drop=True)

    order = _payload.detail_order(parcels)
    detail_rows = np.sort(order[:detail_limit]) if detail_limit > 0 else order[:0]
    detailed = parcels.iloc[detail_rows].reset_index(drop=True)
    in_parcels = _payload.deposits_in_parcels(detailed, deposits)

    # Paint the best parcels last so they sit on top where parcels overlap.
    rank = _payload.numeric(parcels, "rank", np.inf)
    paint = np.argsort(-np.nan_to_num(rank, nan=np.inf), kind="stable")
    raster = ParcelRaster(parcels.geometry.iloc[paint], rows=paint)
    bounds = raster.bounds

    payload: dict[str, Any] = {
        "version": 2,
        "bounds": [[bounds[1], bounds[0]], [bounds[3], bounds[2]]],
        "n_parcels": len(parcels),
        "detail": {
            "limit": detail_limit,
            "count": len(detailed),
            "order": "open land first, then rank",
        },
        "raster": _payload.index_raster(raster),
        "choropleths": _payload.choropleths(parcels),
        "classes": _style.class_schemes(),
        "parcels": _payload.parcel_features(detailed, in_parcels, detail_rows),
        "index": _payload.parcel_index(
            parcels,
            _payload.parcel_groups(parcels, deposits),
            with_scores=scoring is None,
        ),
        "land_status": {
            k: {"color": c, "label": lab} for k, (c, lab) in _style.LAND_STATUS.items()
        },
        "deposit_groups": {k: {"color": c, "label": lab} for k, (c, lab) in DEPOSIT_GROUPS.items()},
        "withdrawal_kinds": _style.WITHDRAWAL_KINDS,
        "access_style": _style.ACCESS_STYLE,
        "info": _clean_info(info),
        "basemap": BASEMAPS[basemap] if basemap else None,
    }
    if scoring is not None:
        payload["scoring"] = scoring_payload(scoring, parcels["parcel_id"].to_numpy())
    if deposits is not None and not deposits.empty:
        payload["deposits"] = _payload.deposit_columns(deposits)
    if withdrawals is not None and not withdrawals.empty:
        payload["withdrawals"] = _payload.area_features(
            withdrawals, ("name", "kind", "agency"), _payload.AREA_SIMPLIFY_M
        )
    if access is not None and not access.empty:
        payload["access"] = _payload.area_features(
            access, ("kind", "class", "name"), _payload.LINE_SIMPLIFY_M
        )
    if context:
        payload["context"] = _payload.context_layers(context)
    if targets is not None and not targets.empty:
        payload["targets"] = _payload.target_rows(targets)
    if hillshade is not None:
        shade, (west, south, east, north) = hillshade
        shade = np.asarray(shade, dtype="uint8")
        payload["hillshade"] = {
            "image": encode_png_gray(shade, alpha=np.where(shade > 0, 255, 0).astype("uint8")),
            "bounds": [west, south, east, north],
        }

    center = [(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2]
    m = folium.Map(
        location=center, zoom_start=8, tiles=None, prefer_canvas=True, control_scale=False
    )
    # folium pulls Leaflet, jQuery, Bootstrap and fonts from CDNs: drop them all; the
    # vendored copies come with OfflinePage.
    m.default_js = []
    m.default_css = []
    m.add_child(OfflinePage(_payload.to_script_json(payload)))
    return m


def write_map(
    m: folium.Map, path: str | Path, *, overwrite: bool = False, single_file: bool = True
) -> Path:
    """Write *m* as an HTML page, atomically.

    Parameters
    ----------
    m
        A map from :func:`build_map`.
    path
        Output HTML file.
    overwrite
        Replace an existing file; otherwise an existing file is left untouched.
    single_file
        Inline every script and stylesheet (default). With ``False`` they are copied into
        ``<stem>_files/`` beside the page and linked relatively.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    OutputExistsError
        If *path* exists and *overwrite* is false.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path} exists; pass overwrite=True (CLI: --overwrite) to replace it."
        )
    pages = [c for c in m._children.values() if isinstance(c, OfflinePage)]
    asset_dir = f"{path.stem}_files"
    for page in pages:
        page.asset_dir = None if single_file else asset_dir
    try:
        text = m.get_root().render()
    finally:
        for page in pages:
            page.asset_dir = None
    if not single_file:
        path.parent.mkdir(parents=True, exist_ok=True)
        copy_static(path.parent / asset_dir)
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _check_inputs(parcels: gpd.GeoDataFrame, basemap: str | None, detail_limit: int) -> None:
    problems = []
    if not isinstance(parcels, gpd.GeoDataFrame):
        problems.append(f"parcels must be a GeoDataFrame, got {type(parcels).__name__}")
    else:
        if parcels.crs is None:
            problems.append("parcels have no CRS; set one (e.g. parcels.set_crs(5070))")
        if "parcel_id" not in parcels:
            problems.append("parcels lack the 'parcel_id' column")
    if basemap is not None and basemap not in BASEMAPS:
        problems.append(f"basemap {basemap!r} is unknown; use None or one of {sorted(BASEMAPS)}")
    if detail_limit < 0:
        problems.append(f"detail_limit must be >= 0, got {detail_limit}")
    if problems:
        raise SchemaError("Cannot build the map: " + "; ".join(problems) + ".")


def _clean_info(info: dict[str, Any] | None) -> dict[str, Any]:
    """Keep the known header keys, as JSON-safe plain values (text stays text)."""
    info = dict(info or {})
    out: dict[str, Any] = {}
    for key in _INFO_KEYS:
        if key not in info or info[key] is None:
            continue
        value = info[key]
        if key == "layers_missing":
            out[key] = [
                {"role": str(v.get("role", "")), "message": str(v.get("message", ""))}
                if isinstance(v, dict)
                else {"role": str(v), "message": ""}
                for v in value
            ]
        elif key == "weights":
            out[key] = {str(k): _payload.clean_float(v, 4) for k, v in dict(value).items()}
        elif key in ("layers_used", "notes", "evidence_flags", "model_flags"):
            out[key] = [str(v) for v in value]
        elif key == "model":
            out[key] = {str(k): str(v) for k, v in dict(value).items()}
        elif key == "list_year":
            out[key] = _payload.clean_int(value)
        else:
            out[key] = str(value)
    return out
