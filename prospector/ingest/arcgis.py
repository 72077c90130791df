"""Query ArcGIS REST feature layers (FeatureServer / MapServer) page by page.

Used for BLM services such as the Surface Management Agency (SMA) layer and the
MLRS mining-claim layers.  :func:`query_features` reads the layer metadata,
pages through ``/query`` until the server stops reporting
``exceededTransferLimit`` and returns one EPSG:4326 GeoDataFrame.  Any failure
raises :class:`~prospector.errors.FetchError`; a partial result is never
returned.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import requests
from shapely.geometry.base import BaseGeometry

from prospector.errors import ConfigError
from prospector.ingest._arcgis_rest import (
    FIX_BROKEN_REPLY,
    ArcGISClient,
    LayerInfo,
    bbox_params,
    check_bbox,
    normalise_layer_url,
    open_layer,
    query_params,
)
from prospector.ingest._esri_json import parse_page

__all__ = ["query_features"]

_CRS: Final = "EPSG:4326"
_USER_AGENT: Final = "prospector-arcgis (python-requests)"
_FIX_TOO_MANY: Final = (
    "Fix: fetch for a smaller region, narrow the catalogue entry's [download] `where`, "
    "or (in Python) raise max_pages=."
)

_logger = logging.getLogger(__name__)


def query_features(
    layer_url: str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    where: str = "1=1",
    out_fields: str | Sequence[str] = "*",
    page_size: int | None = None,
    timeout_s: float = 30.0,
    retries: int = 3,
    max_pages: int = 10_000,
    backoff_s: float = 0.5,
    session: requests.Session | None = None,
) -> gpd.GeoDataFrame:
    """Download the features of an ArcGIS REST layer as a GeoDataFrame.

    Parameters
    ----------
    layer_url : str
        URL of one layer, e.g.
        ``https://gis.blm.gov/arcgis/rest/services/lands/BLM_Natl_SMA_Cached_without_PriUnk/MapServer/1``.
        A trailing ``/query`` is ignored.
    bbox : tuple of float, optional
        ``(xmin, ymin, xmax, ymax)`` in longitude/latitude (EPSG:4326); only
        features intersecting it are returned.  ``None`` means no spatial
        filter.
    where : str, default "1=1"
        SQL filter on attributes, e.g. ``"CSE_DISP = 'ACTIVE'"``.
    out_fields : str or sequence of str, default "*"
        Fields to return.  The object-id field is always added so that rows can
        be de-duplicated across pages.
    page_size : int, optional
        Records per request; capped at (and defaulting to) the layer's
        ``maxRecordCount``.
    timeout_s : float, default 30.0
        Connect/read timeout per request, in seconds.
    retries : int, default 3
        Retries per request after a timeout, a dropped connection, an HTTP
        5xx/408/429 reply or a JSON error body with a 5xx code.
    max_pages : int, default 10000
        Safety limit on the number of page requests.
    backoff_s : float, default 0.5
        Sleep before the first retry of a request; doubled for each further one.
    session : requests.Session, optional
        Session to use (proxies, authentication, connection reuse).  It is not
        closed.  By default a private session is created and closed.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per unique object id, attributes as returned by the server
        (``esriFieldTypeDate`` fields converted to UTC timestamps) and a
        ``geometry`` column, CRS EPSG:4326.

    Raises
    ------
    FetchError
        HTTP error, timeout, invalid JSON, ArcGIS ``{"error": ...}`` body, or
        more than ``max_pages`` pages.  The message names the URL, the page and
        its ``resultOffset``, and the fix.
    ConfigError
        An argument is invalid or ``layer_url`` is a service, not a layer.

    Notes
    -----
    Pages are requested with ``resultOffset``/``resultRecordCount`` ordered by
    the object-id field.  Layers that do not support pagination are read by
    asking for all matching object ids first and then fetching them in batches.
    Responses are requested as GeoJSON when the layer lists it in
    ``supportedQueryFormats``, otherwise as Esri JSON, which is converted here.
    """
    layer_url = normalise_layer_url(layer_url)
    envelope = check_bbox(bbox)
    if page_size is not None and page_size < 1:
        raise ConfigError(f"page_size must be >= 1, got {page_size!r}.")
    if max_pages < 1:
        raise ConfigError(f"max_pages must be >= 1, got {max_pages!r}.")
    if not timeout_s > 0 or retries < 0 or backoff_s < 0:
        raise ConfigError(
            "timeout_s must be > 0 and retries and backoff_s >= 0, got "
            f"timeout_s={timeout_s!r}, retries={retries!r}, backoff_s={backoff_s!r}."
        )

    with open_layer(
        layer_url, session, user_agent=_USER_AGENT, timeout_s=timeout_s, retries=retries,
        backoff_s=backoff_s,
    ) as layer:  # fmt: skip
        client, info = layer.client, layer.info
        size = min(page_size or info.max_record_count, info.max_record_count)
        params = query_params(info, where, out_fields)
        if envelope is not None:
            params |= bbox_params(envelope)
        plan = _Plan(params, size, max_pages)
        if info.supports_pagination:
            properties, geometries = _query_by_offset(client, info, plan)
        else:
            properties, geometries = _query_by_ids(client, info, plan)
    return _to_frame(properties, geometries, info)


@dataclass(frozen=True)
class _Plan:
    """What to ask the layer for: query parameters, records per request, request limit."""

    params: dict[str, str]
    size: int
    max_pages: int


def _query_by_offset(
    client: ArcGISClient, info: LayerInfo, plan: _Plan
) -> tuple[list[dict[str, Any]], list[BaseGeometry | None]]:
    """Page with ``resultOffset``/``resultRecordCount`` until the end."""
    params, size, max_pages = plan.params, plan.size, plan.max_pages
    properties: list[dict[str, Any]] = []
    geometries: list[BaseGeometry | None] = []
    query_url = f"{info.url}/query"
    base = dict(params)
    if info.object_id_field:
        base["orderByFields"] = f"{info.object_id_field} ASC"
    offset = 0
    for page in range(1, max_pages + 1):
        context = f"fetching page {page} (resultOffset={offset})"
        body = client.get_json(
            query_url,
            base | {"resultOffset": str(offset), "resultRecordCount": str(size)},
            context=context,
        )
        props, geoms, exceeded = parse_page(body, info, client, context)
        properties.extend(props)
        geometries.extend(geoms)
        if not exceeded:
            return properties, geometries
        if not props:
            raise client.error(
                context,
                "the server reports more records (exceededTransferLimit) but sent none",
                FIX_BROKEN_REPLY,
            )
        offset += len(props)
    raise client.error(
        f"fetching page {max_pages} (resultOffset={offset})",
        f"more than max_pages={max_pages} pages",
        _FIX_TOO_MANY,
    )


def _query_by_ids(
    client: ArcGISClient, info: LayerInfo, plan: _Plan
) -> tuple[list[dict[str, Any]], list[BaseGeometry | None]]:
    """Read a layer without pagination support: object ids, then batches."""
    params, size, max_pages = plan.params, plan.size, plan.max_pages
    query_url = f"{info.url}/query"
    ids_body = client.get_json(
        query_url,
        {key: value for key, value in params.items() if key not in ("outFields", "outSR")}
        | {"returnIdsOnly": "true", "f": "json"},
        context="listing matching object ids (layer does not support pagination)",
        post=True,
    )
    ids = np.unique(np.asarray(ids_body.get("objectIds") or [], dtype=np.int64))
    batches = math.ceil(ids.size / size)
    if batches > max_pages:
        raise client.error(
            "planning the object-id batches",
            f"{ids.size} features need {batches} requests, more than max_pages={max_pages}",
            _FIX_TOO_MANY,
        )
    properties: list[dict[str, Any]] = []
    geometries: list[BaseGeometry | None] = []
    fetch_params = {key: params[key] for key in ("outFields", "outSR", "returnGeometry", "f")}
    for batch in range(batches):
        chunk = ids[batch * size : (batch + 1) * size]
        context = f"fetching object-id batch {batch + 1} of {batches}"
        body = client.get_json(
            query_url,
            fetch_params | {"objectIds": ",".join(map(str, chunk.tolist()))},
            context=context,
            post=True,
        )
        props, geoms, _ = parse_page(body, info, client, context)
        properties.extend(props)
        geometries.extend(geoms)
    return properties, geometries


def _to_frame(
    properties: list[dict[str, Any]],
    geometries: list[BaseGeometry | None],
    info: LayerInfo,
) -> gpd.GeoDataFrame:
    """Merge pages, drop duplicate object ids and convert date fields."""
    frame = (
        pd.DataFrame.from_records(properties)
        if properties
        else pd.DataFrame(columns=[name for name in info.field_names if name != "geometry"])
    )
    gdf = gpd.GeoDataFrame(
        frame, geometry=gpd.GeoSeries(geometries, index=frame.index, crs=_CRS), crs=_CRS
    )
    oid = info.object_id_field
    if oid and oid in gdf.columns and len(gdf):
        duplicated = gdf[oid].duplicated(keep="first")
        if duplicated.any():
            _logger.info("Dropped %d duplicate features (same %s)", int(duplicated.sum()), oid)
            gdf = gdf.loc[~duplicated]
    for name in info.date_fields:
        if name in gdf.columns and pd.api.types.is_numeric_dtype(gdf[name]):
            gdf[name] = pd.to_datetime(gdf[name], unit="ms", utc=True, errors="coerce")
    return gdf.reset_index(drop=True)
