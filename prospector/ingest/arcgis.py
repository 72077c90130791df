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
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import requests
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from prospector.errors import ConfigError, FetchError
from prospector.ingest._http import (
    Failure,
    describe_failure,
    http_failure,
    is_retryable_status,
    retry_after_s,
)

__all__ = ["query_features"]

_CRS: Final = "EPSG:4326"
_DEFAULT_MAX_RECORDS: Final = 1000
_USER_AGENT: Final = "prospector-arcgis (python-requests)"
_RETRYABLE_ERRORS: Final = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)
_FIX_BROKEN_REPLY: Final = (
    "Fix: the server sent a broken reply: retry later; if it persists, tell the publisher."
)
_FIX_REQUEST: Final = (
    "Fix: check that the layer URL (the catalogue entry's [download] url, layer_url= in "
    "Python) points at one layer (.../FeatureServer/<id> or .../MapServer/<id>) and that "
    "the `where` filter and the fields asked for exist in the layer (open the URL with "
    "?f=json in a browser to see them)."
)
_FIX_TOO_MANY: Final = (
    "Fix: fetch for a smaller region, narrow the catalogue entry's [download] `where`, "
    "or (in Python) raise max_pages=."
)

_NO_FAILURE: Final = Failure("other", "", "")

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
    layer_url = _normalise_layer_url(layer_url)
    envelope = _check_bbox(bbox)
    if page_size is not None and page_size < 1:
        raise ConfigError(f"page_size must be >= 1, got {page_size!r}.")
    if max_pages < 1:
        raise ConfigError(f"max_pages must be >= 1, got {max_pages!r}.")
    if not timeout_s > 0 or retries < 0 or backoff_s < 0:
        raise ConfigError(
            "timeout_s must be > 0 and retries and backoff_s >= 0, got "
            f"timeout_s={timeout_s!r}, retries={retries!r}, backoff_s={backoff_s!r}."
        )

    own_session = session is None
    http = requests.Session() if session is None else session
    if own_session:
        http.headers["User-Agent"] = _USER_AGENT
    try:
        client = _Client(http, layer_url, timeout_s=timeout_s, retries=retries, backoff_s=backoff_s)
        info = _LayerInfo.from_metadata(
            client.get_json(layer_url, {"f": "json"}, context="reading the layer metadata"),
            layer_url,
        )
        size = min(page_size or info.max_record_count, info.max_record_count)
        params: dict[str, str] = {
            "where": where,
            "outFields": _out_fields(out_fields, info.object_id_field),
            "returnGeometry": "true",
            "outSR": "4326",
            "f": "geojson" if info.supports_geojson else "json",
        }
        if envelope is not None:
            params |= {
                "geometry": ",".join(f"{value:.10g}" for value in envelope),
                "geometryType": "esriGeometryEnvelope",
                "inSR": "4326",
                "spatialRel": "esriSpatialRelIntersects",
            }
        plan = _Plan(params, size, max_pages)
        if info.supports_pagination:
            properties, geometries = _query_by_offset(client, info, plan)
        else:
            properties, geometries = _query_by_ids(client, info, plan)
    finally:
        if own_session:
            http.close()
    return _to_frame(properties, geometries, info)


@dataclass(frozen=True)
class _LayerInfo:
    """What :func:`query_features` needs from the layer metadata."""

    url: str
    max_record_count: int
    object_id_field: str | None
    supports_geojson: bool
    supports_pagination: bool
    geometry_type: str | None
    date_fields: tuple[str, ...]
    field_names: tuple[str, ...]

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any], url: str) -> _LayerInfo:
        """Build from the ``?f=json`` response of a layer."""
        if "fields" not in meta and isinstance(meta.get("layers"), list):
            layers = ", ".join(
                f"{layer.get('id')} ({layer.get('name')})"
                for layer in meta["layers"]
                if isinstance(layer, Mapping)
            )
            raise ConfigError(
                f"{url} is an ArcGIS service, not a layer. Fix: append the layer id, "
                f"e.g. {url}/0; layers available: {layers or 'none listed'}."
            )
        fields = [f for f in meta.get("fields") or [] if isinstance(f, Mapping)]
        oid = meta.get("objectIdField") or next(
            (f.get("name") for f in fields if f.get("type") == "esriFieldTypeOID"), None
        )
        formats = str(meta.get("supportedQueryFormats", "JSON")).lower()
        advanced = meta.get("advancedQueryCapabilities") or {}
        max_records = meta.get("maxRecordCount")
        return cls(
            url=url,
            max_record_count=(
                int(max_records)
                if isinstance(max_records, int | float) and max_records > 0
                else _DEFAULT_MAX_RECORDS
            ),
            object_id_field=str(oid) if oid else None,
            supports_geojson="geojson" in formats,
            supports_pagination=bool(advanced.get("supportsPagination", True)),
            geometry_type=meta.get("geometryType"),
            date_fields=tuple(
                str(f["name"]) for f in fields if f.get("type") == "esriFieldTypeDate"
            ),
            field_names=tuple(str(f["name"]) for f in fields if "name" in f),
        )


class _Client:
    """JSON GET/POST with retries and :class:`FetchError` messages."""

    def __init__(
        self,
        session: requests.Session,
        layer_url: str,
        *,
        timeout_s: float,
        retries: int,
        backoff_s: float,
    ) -> None:
        self.session = session
        self.layer_url = layer_url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.retry_after = 0.0

    def get_json(
        self, url: str, params: Mapping[str, str], *, context: str, post: bool = False
    ) -> dict[str, Any]:
        """Return the JSON object at ``url``; retry transient failures.

        Parameters
        ----------
        url : str
            Endpoint.
        params : mapping
            Query parameters (form fields when ``post`` is true).
        context : str
            What is being fetched, for error messages (e.g. the page).
        post : bool, default False
            Send the parameters as a form POST (long object-id lists).
        """
        attempts = self.retries + 1
        failure = Failure("other", "unknown error", _FIX_BROKEN_REPLY)
        for attempt in range(1, attempts + 1):
            self.retry_after = 0.0
            try:
                response = self.session.request(
                    "POST" if post else "GET",
                    url,
                    params=None if post else dict(params),
                    data=dict(params) if post else None,
                    timeout=self.timeout_s,
                )
            except _RETRYABLE_ERRORS as exc:
                failure = describe_failure(exc, url=url, timeout_s=self.timeout_s)
            except requests.exceptions.RequestException as exc:
                raise self._error(context, f"{type(exc).__name__}: {exc}", _FIX_REQUEST) from exc
            else:
                with response:
                    body, retryable = self._parse(response, context)
                if body is not None:
                    return body
                failure = retryable
            if attempt < attempts:
                delay = max(self.backoff_s * 2 ** (attempt - 1), self.retry_after)
                _logger.info(
                    "ArcGIS %s failed (%s); retrying in %.2f s", context, failure.reason, delay
                )
                time.sleep(delay)
        raise self._error(context, f"{failure.reason} (after {attempts} attempt(s))", failure.fix)

    def _parse(
        self, response: requests.Response, context: str
    ) -> tuple[dict[str, Any] | None, Failure]:
        """Return ``(body, _NO_FAILURE)``, or ``(None, failure)`` for a retryable failure."""
        if response.status_code >= 400:
            failure = http_failure(response.status_code, response.reason)
            if is_retryable_status(response.status_code):
                self.retry_after = retry_after_s(response)  # a minimum wait
                return None, failure
            raise self._error(context, failure.reason, _FIX_REQUEST)
        try:
            body = response.json()
        except ValueError as exc:
            snippet = " ".join(response.text[:200].split())
            raise self._error(
                context,
                f"the reply is not valid JSON ({exc}; starts with {snippet!r})",
                "Fix: check the layer URL (the catalogue entry's [download] url) - an HTML "
                "page usually means a login, proxy or error page instead of the ArcGIS REST "
                "endpoint.",
            ) from exc
        if not isinstance(body, dict):
            raise self._error(
                context, f"expected a JSON object, got {type(body).__name__}", _FIX_REQUEST
            )
        error = body.get("error")
        if error:
            reason = _describe_arcgis_error(error)
            code = error.get("code") if isinstance(error, Mapping) else None
            if isinstance(code, int) and is_retryable_status(code):
                return None, Failure("http", reason, http_failure(code, None).fix)
            raise self._error(context, reason, _FIX_REQUEST)
        return body, _NO_FAILURE

    def _error(self, context: str, reason: str, fix: str) -> FetchError:
        """Build the :class:`FetchError` for a failed request."""
        return FetchError(
            f"ArcGIS query of {self.layer_url} failed while {context}: {reason}. {fix}"
        )


@dataclass(frozen=True)
class _Plan:
    """What to ask the layer for: query parameters, records per request, request limit."""

    params: dict[str, str]
    size: int
    max_pages: int


def _query_by_offset(
    client: _Client, info: _LayerInfo, plan: _Plan
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
        props, geoms, exceeded = _parse_page(body, info, client, context)
        properties.extend(props)
        geometries.extend(geoms)
        if not exceeded:
            return properties, geometries
        if not props:
            raise client._error(
                context,
                "the server reports more records (exceededTransferLimit) but sent none",
                _FIX_BROKEN_REPLY,
            )
        offset += len(props)
    raise client._error(
        f"fetching page {max_pages} (resultOffset={offset})",
        f"more than max_pages={max_pages} pages",
        _FIX_TOO_MANY,
    )


def _query_by_ids(
    client: _Client, info: _LayerInfo, plan: _Plan
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
        raise client._error(
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
        props, geoms, _ = _parse_page(body, info, client, context)
        properties.extend(props)
        geometries.extend(geoms)
    return properties, geometries


def _parse_page(
    body: Mapping[str, Any], info: _LayerInfo, client: _Client, context: str
) -> tuple[list[dict[str, Any]], list[BaseGeometry | None], bool]:
    """Return attributes, geometries and the "more records" flag of one page."""
    features = body.get("features")
    if not isinstance(features, list):
        raise client._error(context, "the reply has no 'features' list", _FIX_REQUEST)
    exceeded = bool(
        body.get("exceededTransferLimit")
        or (body.get("properties") or {}).get("exceededTransferLimit")
    )
    geometry_type = body.get("geometryType") or info.geometry_type
    oid = info.object_id_field
    properties: list[dict[str, Any]] = []
    geometries: list[BaseGeometry | None] = []
    try:
        for feature in features:
            if "attributes" in feature:  # Esri JSON
                props = dict(feature.get("attributes") or {})
                geometry = _esri_geometry(feature.get("geometry"), geometry_type)
            else:  # GeoJSON
                props = dict(feature.get("properties") or {})
                raw = feature.get("geometry")
                geometry = shape(raw) if raw else None
                if oid and oid not in props and feature.get("id") is not None:
                    props[oid] = feature["id"]
            properties.append(props)
            geometries.append(None if geometry is None or geometry.is_empty else geometry)
    except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.ShapelyError) as exc:
        raise client._error(
            context, f"a feature could not be decoded ({exc})", _FIX_BROKEN_REPLY
        ) from exc
    return properties, geometries, exceeded


def _esri_geometry(
    geometry: Mapping[str, Any] | None, geometry_type: str | None
) -> BaseGeometry | None:
    """Convert one Esri JSON geometry to shapely (x/y only; Z and M dropped)."""
    if not geometry:
        return None
    if "rings" in geometry:
        return _esri_polygon(geometry["rings"])
    if "paths" in geometry:
        paths = [np.asarray(p, dtype=float)[:, :2] for p in geometry["paths"] if len(p) >= 2]
        if not paths:
            return None
        return shapely.LineString(paths[0]) if len(paths) == 1 else shapely.MultiLineString(paths)
    if "points" in geometry:
        points = np.asarray(geometry["points"], dtype=float)
        return shapely.MultiPoint(points[:, :2]) if len(points) else None
    if "x" in geometry:
        x, y = geometry.get("x"), geometry.get("y")
        if x is None or y is None or (isinstance(x, float) and math.isnan(x)):
            return None
        return shapely.Point(float(x), float(y))
    if "xmin" in geometry:
        return shapely.box(geometry["xmin"], geometry["ymin"], geometry["xmax"], geometry["ymax"])
    raise ValueError(f"unsupported Esri geometry (geometryType={geometry_type!r})")


def _esri_polygon(rings: Sequence[Sequence[Sequence[float]]]) -> BaseGeometry | None:
    """Assemble Esri polygon rings (shells clockwise, holes anticlockwise)."""
    arrays = [np.asarray(ring, dtype=float)[:, :2] for ring in rings if len(ring) >= 3]
    if not arrays:
        return None
    # Shoelace signed area: negative means clockwise, i.e. an outer ring.
    signed = np.array(
        [
            0.5 * np.sum(a[:-1, 0] * a[1:, 1] - a[1:, 0] * a[:-1, 1])
            + 0.5 * (a[-1, 0] * a[0, 1] - a[0, 0] * a[-1, 1])
            for a in arrays
        ]
    )
    is_shell = signed < 0
    if not is_shell.any():  # orientation not followed: every ring is a shell
        is_shell[:] = True
    shells = [arrays[i] for i in np.flatnonzero(is_shell)]
    holes: list[list[np.ndarray]] = [[] for _ in shells]
    shell_polygons = shapely.polygons(shells)
    for index in np.flatnonzero(~is_shell):
        probe = shapely.Point(arrays[index][0])
        inside = np.flatnonzero(shapely.covers(shell_polygons, probe))
        if inside.size:
            holes[int(inside[0])].append(arrays[index])
        else:  # an orphan hole is kept as an area rather than silently dropped
            shells.append(arrays[index])
            holes.append([])
    polygons = [shapely.Polygon(shell, hole) for shell, hole in zip(shells, holes, strict=True)]
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def _to_frame(
    properties: list[dict[str, Any]],
    geometries: list[BaseGeometry | None],
    info: _LayerInfo,
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


def _normalise_layer_url(layer_url: str) -> str:
    """Strip whitespace, query string, trailing ``/`` and ``/query``."""
    url = layer_url.strip().split("?", 1)[0].rstrip("/")
    url = url.removesuffix("/query")
    if not url.lower().startswith(("http://", "https://")):
        raise ConfigError(
            f"Invalid layer_url {layer_url!r}: expected an http(s) URL of an ArcGIS "
            "layer such as https://host/arcgis/rest/services/NAME/MapServer/0."
        )
    return url


def _check_bbox(
    bbox: tuple[float, float, float, float] | Sequence[float] | None,
) -> tuple[float, float, float, float] | None:
    """Validate a lon/lat bounding box."""
    if bbox is None:
        return None
    values = tuple(float(v) for v in bbox)
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ConfigError(
            f"bbox must be four finite numbers (xmin, ymin, xmax, ymax), got {bbox!r}."
        )
    xmin, ymin, xmax, ymax = values
    if not (-180 <= xmin < xmax <= 180 and -90 <= ymin < ymax <= 90):
        raise ConfigError(
            f"Invalid bbox {bbox!r}: expected lon/lat degrees with xmin < xmax and "
            "ymin < ymax. Fix: pass (west, south, east, north) in EPSG:4326; split "
            "boxes that cross the antimeridian into two queries."
        )
    return xmin, ymin, xmax, ymax


def _out_fields(out_fields: str | Sequence[str], object_id_field: str | None) -> str:
    """Return the ``outFields`` parameter, always including the object id."""
    names = (
        [n.strip() for n in out_fields.split(",")]
        if isinstance(out_fields, str)
        else [str(n).strip() for n in out_fields]
    )
    names = [n for n in names if n]
    if not names or "*" in names:
        return "*"
    if object_id_field and object_id_field.lower() not in {n.lower() for n in names}:
        names.append(object_id_field)
    return ",".join(names)


def _describe_arcgis_error(error: Any) -> str:
    """Format an ArcGIS ``{"error": {...}}`` object."""
    if not isinstance(error, Mapping):
        return f"ArcGIS error {error!r}"
    details = [str(d) for d in error.get("details") or [] if d]
    text = f"ArcGIS error {error.get('code', '?')}: {error.get('message', 'no message')}"
    return f"{text} ({'; '.join(details)})" if details else text
