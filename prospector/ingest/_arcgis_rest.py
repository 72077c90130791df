"""The ArcGIS REST protocol: layer metadata, requests with retries, query parameters.

Shared by :func:`prospector.ingest.arcgis.query_features` (one in-memory frame),
:func:`prospector.ingest.arcgis_stream.stream_layer` (tiles streamed to a GeoPackage) and
the image-service look-up in :mod:`prospector.ingest.dem`.  Every failure is a
:class:`~prospector.errors.FetchError` that names the URL, what was being fetched and the fix.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import requests

from prospector.errors import ConfigError, FetchError
from prospector.ingest._http import (
    Failure,
    describe_failure,
    http_failure,
    is_retryable_status,
    retry_after_s,
)

__all__ = [
    "FIX_BROKEN_REPLY",
    "FIX_REQUEST",
    "ArcGISClient",
    "Layer",
    "LayerInfo",
    "bbox_params",
    "check_bbox",
    "normalise_layer_url",
    "open_layer",
    "out_fields_param",
    "query_params",
]

_DEFAULT_MAX_RECORDS: Final = 1000
_RETRYABLE_ERRORS: Final = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)
FIX_BROKEN_REPLY: Final = (
    "Fix: the server sent a broken reply: retry later; if it persists, tell the publisher."
)
FIX_REQUEST: Final = (
    "Fix: check that the layer URL (the catalogue entry's [download] url, layer_url= in "
    "Python) points at one layer (.../FeatureServer/<id> or .../MapServer/<id>) and that "
    "the `where` filter and the fields asked for exist in the layer (open the URL with "
    "?f=json in a browser to see them)."
)

_NO_FAILURE: Final = Failure("other", "", "")

# Retries are logged under the name users already filter on.
_logger = logging.getLogger("prospector.ingest.arcgis")


@dataclass(frozen=True)
class LayerInfo:
    """What a query needs from the layer metadata."""

    url: str
    max_record_count: int
    object_id_field: str | None
    supports_geojson: bool
    supports_pagination: bool
    geometry_type: str | None
    date_fields: tuple[str, ...]
    field_names: tuple[str, ...]

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any], url: str) -> LayerInfo:
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


class ArcGISClient:
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
        failure = Failure("other", "unknown error", FIX_BROKEN_REPLY)
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
                raise self.error(context, f"{type(exc).__name__}: {exc}", FIX_REQUEST) from exc
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
        raise self.error(context, f"{failure.reason} (after {attempts} attempt(s))", failure.fix)

    def _parse(
        self, response: requests.Response, context: str
    ) -> tuple[dict[str, Any] | None, Failure]:
        """Return ``(body, _NO_FAILURE)``, or ``(None, failure)`` for a retryable failure."""
        if response.status_code >= 400:
            failure = http_failure(response.status_code, response.reason)
            if is_retryable_status(response.status_code):
                self.retry_after = retry_after_s(response)  # a minimum wait
                return None, failure
            raise self.error(context, failure.reason, FIX_REQUEST)
        try:
            body = response.json()
        except ValueError as exc:
            snippet = " ".join(response.text[:200].split())
            raise self.error(
                context,
                f"the reply is not valid JSON ({exc}; starts with {snippet!r})",
                "Fix: check the layer URL (the catalogue entry's [download] url) - an HTML "
                "page usually means a login, proxy or error page instead of the ArcGIS REST "
                "endpoint.",
            ) from exc
        if not isinstance(body, dict):
            raise self.error(
                context, f"expected a JSON object, got {type(body).__name__}", FIX_REQUEST
            )
        error = body.get("error")
        if error:
            reason = _describe_arcgis_error(error)
            code = error.get("code") if isinstance(error, Mapping) else None
            if isinstance(code, int) and is_retryable_status(code):
                return None, Failure("http", reason, http_failure(code, None).fix)
            raise self.error(context, reason, FIX_REQUEST)
        return body, _NO_FAILURE

    def error(self, context: str, reason: str, fix: str) -> FetchError:
        """Build the :class:`FetchError` for a failed request."""
        return FetchError(
            f"ArcGIS query of {self.layer_url} failed while {context}: {reason}. {fix}"
        )


@dataclass(frozen=True)
class Layer:
    """An open layer: the client that queries it, its metadata and the raw ``?f=json``."""

    client: ArcGISClient
    info: LayerInfo
    meta: dict[str, Any]


@contextlib.contextmanager
def open_layer(
    url: str,
    session: requests.Session | None,
    *,
    user_agent: str,
    timeout_s: float,
    retries: int,
    backoff_s: float,
) -> Iterator[Layer]:
    """Read the metadata of the layer at *url* (normalised) and yield it with its client.

    Without *session* a private one (sending *user_agent*) is made and closed afterwards;
    a given session is used as it is and not closed.
    """
    own = session is None
    http = requests.Session() if session is None else session
    if own:
        http.headers["User-Agent"] = user_agent
    try:
        client = ArcGISClient(http, url, timeout_s=timeout_s, retries=retries, backoff_s=backoff_s)
        meta = client.get_json(url, {"f": "json"}, context="reading the layer metadata")
        yield Layer(client, LayerInfo.from_metadata(meta, url), meta)
    finally:
        if own:
            http.close()


def normalise_layer_url(layer_url: str) -> str:
    """Strip whitespace, query string, trailing ``/`` and ``/query``."""
    url = layer_url.strip().split("?", 1)[0].rstrip("/")
    url = url.removesuffix("/query")
    if not url.lower().startswith(("http://", "https://")):
        raise ConfigError(
            f"Invalid layer_url {layer_url!r}: expected an http(s) URL of an ArcGIS "
            "layer such as https://host/arcgis/rest/services/NAME/MapServer/0."
        )
    return url


def check_bbox(
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


def out_fields_param(out_fields: str | Sequence[str], object_id_field: str | None) -> str:
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


def query_params(info: LayerInfo, where: str, out_fields: str | Sequence[str]) -> dict[str, str]:
    """Parameters of every ``/query`` of *info*: filter, fields, geometry in EPSG:4326, format."""
    return {
        "where": where,
        "outFields": out_fields_param(out_fields, info.object_id_field),
        "returnGeometry": "true",
        "outSR": "4326",
        "f": "geojson" if info.supports_geojson else "json",
    }


def bbox_params(box: Sequence[float]) -> dict[str, str]:
    """Spatial filter parameters: features intersecting the lon/lat *box*."""
    return {
        "geometry": ",".join(f"{value:.10g}" for value in box),
        "geometryType": "esriGeometryEnvelope",
        "inSR": "4326",
        "spatialRel": "esriSpatialRelIntersects",
    }


def _describe_arcgis_error(error: Any) -> str:
    """Format an ArcGIS ``{"error": {...}}`` object."""
    if not isinstance(error, Mapping):
        return f"ArcGIS error {error!r}"
    details = [str(d) for d in error.get("details") or [] if d]
    text = f"ArcGIS error {error.get('code', '?')}: {error.get('message', 'no message')}"
    return f"{text} ({'; '.join(details)})" if details else text
