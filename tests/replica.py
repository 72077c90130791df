"""A local replica of the official publishers' interfaces, on 127.0.0.1, for tests.

SYNTHETIC DATA: every feature served here is made up in code for tests; the field names,
codes and protocols follow the publishers' published interfaces:

* ArcGIS REST layers (BLM SMA, BLM NLCS wilderness/WSAs, BLM MLRS claims, PAD-US, HIFLD):
  layer metadata at ``<layer>?f=json``; ``<layer>/query`` with ``where`` (``1=1``,
  ``F = 'v'``, ``F <> 'v'``, ``F IN ('a', 'b')`` joined by ``AND``), an envelope filter,
  ``returnCountOnly``, ``orderByFields``, ``resultOffset``/``resultRecordCount`` capped at
  ``maxRecordCount`` with ``exceededTransferLimit``, ``f=geojson`` or Esri ``f=json``.
* File downloads (TIGER zips, USGS files) with ``Range`` requests (206 + Content-Range).
* An ArcGIS ImageServer (3DEP) with ``exportImage`` returning GeoTIFFs.

Every URL is served as ``/<publisher host>/<path>``, the layout of
``PROSPECTOR_MIRROR``.  Faults are queued per path (``replica.fail(path, *faults)``) and
consumed one per request.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import shapely
from shapely.geometry import mapping

from tests.httpd import QuietHandler, Request

_FIELD_TYPES = {
    "oid": "esriFieldTypeOID",
    "str": "esriFieldTypeString",
    "int": "esriFieldTypeInteger",
    "float": "esriFieldTypeDouble",
}


_PAGE_FAULTS = frozenset({"empty-page", "endless"})


@dataclass
class ArcLayer:
    """One ArcGIS REST layer: its published fields and features (lon/lat geometries)."""

    name: str
    geometry_type: str  # esriGeometryPolygon | esriGeometryPolyline | esriGeometryPoint
    fields: list[tuple[str, str]]  # (name, "str" | "int" | "float"); OBJECTID is added
    features: list[tuple[dict[str, Any], shapely.Geometry]] = field(default_factory=list)
    max_record_count: int = 1000
    pagination: bool = True
    geojson: bool = True

    def metadata(self) -> dict[str, Any]:
        return {
            "currentVersion": 11.3,
            "id": 0,
            "name": self.name,
            "type": "Feature Layer",
            "geometryType": self.geometry_type,
            "objectIdField": "OBJECTID",
            "maxRecordCount": self.max_record_count,
            "supportedQueryFormats": "JSON, geoJSON, PBF" if self.geojson else "JSON",
            "advancedQueryCapabilities": {"supportsPagination": self.pagination},
            "fields": [{"name": "OBJECTID", "type": _FIELD_TYPES["oid"], "alias": "OBJECTID"}]
            + [{"name": n, "type": _FIELD_TYPES[t], "alias": n} for n, t in self.fields],
        }

    def rows(self) -> list[tuple[dict[str, Any], shapely.Geometry]]:
        return [({"OBJECTID": i + 1, **a}, g) for i, (a, g) in enumerate(self.features)]


class Replica:
    """The server: register layers and files, queue faults, read the request log."""

    def __init__(self) -> None:
        self.layers: dict[str, ArcLayer] = {}
        self.files: dict[str, bytes] = {}
        self.images: dict[str, dict[str, Any]] = {}
        self.faults: dict[str, deque[str]] = defaultdict(deque)
        self.log: list[Request] = []
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.replica = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Replica:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail(self, path: str, *faults: str) -> None:
        """Queue faults for requests whose path starts with ``path`` (one per request).

        ``"503"``, ``"429:2"`` (status and Retry-After seconds), ``"408:1"``, ``"drop"``
        (close without answering), ``"redirect"`` (302 to the same URL with ``_r=1``),
        ``"truncate"`` (half the bytes, honest Content-Length), ``"cut"`` (half the bytes,
        full Content-Length), ``"416"`` / ``"bad-range"`` (for a resumed download),
        ``"empty-page"`` (no features but exceededTransferLimit), ``"endless"`` (always
        the first page with exceededTransferLimit), ``"down"`` (503 for good).
        """
        with self.lock:
            self.faults[path].extend(faults)

    def requests_to(self, prefix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.path.startswith(prefix)]

    def _next_fault(self, path: str, *, page: bool) -> str | None:
        """The next queued fault for ``path``; page faults wait for a page request."""
        with self.lock:
            for prefix, queue in self.faults.items():
                if path.startswith(prefix) and queue:
                    fault = queue[0]
                    if fault in _PAGE_FAULTS and not page:
                        return None
                    if fault != "down":
                        queue.popleft()
                    return fault
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    replica: Replica

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-answer (faults, cut transfers) are expected here."""


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def dispatch(self, params: dict[str, str]) -> None:
        """Answer as the publisher would, or with the next queued fault."""
        replica = self.server.replica
        path = urlsplit(self.path).path
        with replica.lock:
            replica.log.append(Request(self.command, path, params, dict(self.headers)))
        page = path.endswith("/query") and "true" not in (
            params.get("returnCountOnly"),
            params.get("returnIdsOnly"),
        )
        fault = replica._next_fault(path, page=page)
        if fault is not None and self._general_fault(fault, params):
            return
        layer_path = path.removesuffix("/query")
        if layer_path in replica.layers:
            layer = replica.layers[layer_path]
            if path.endswith("/query"):
                self._query(layer, params, fault)
            else:
                self._json(layer.metadata())
        elif path in replica.files:
            self._file(replica.files[path], fault)
        elif path.removesuffix("/exportImage") in replica.images:
            image = replica.images[path.removesuffix("/exportImage")]
            if path.endswith("/exportImage"):
                self._export(image, params)
            else:
                self._json({"name": "3DEPElevation", "maxImageWidth": image["max"],
                            "maxImageHeight": image["max"], "bandCount": 1})  # fmt: skip
        else:
            self._send(404, b"not found", "text/plain")

    # ------------------------------------------------------------------ responses
    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None,
              length: int | None = None) -> None:  # fmt: skip
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
            self.wfile.flush()

    def _json(self, payload: Any, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _general_fault(self, fault: str, params: dict[str, str]) -> bool:
        """Faults that replace the whole response; False for content faults."""
        code, _, wait = fault.partition(":")
        if code in ("503", "down"):
            self._send(503, b"service unavailable", "text/plain")
            return True
        if code in ("429", "408"):
            self._send(int(code), b"slow down", "text/plain", {"Retry-After": wait or "1"})
            return True
        if code == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if code == "redirect" and "_r" not in params:
            sep = "&" if "?" in self.path else "?"
            self._send(302, b"", "text/plain", {"Location": f"{self.path}{sep}_r=1"})
            return True
        return False

    def _file(self, data: bytes, fault: str | None) -> None:
        start = 0
        match = re.match(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
            if fault == "416" or start >= len(data):
                self._send(416, b"", "text/plain", {"Content-Range": f"bytes */{len(data)}"})
                return
            if fault == "bad-range":
                # Claims to resume at byte 0 while the client asked for a later byte.
                self._send(206, data, "application/zip",
                           {"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"})  # fmt: skip
                return
        body = data[start:]
        headers = {"Accept-Ranges": "bytes"}
        status = 200
        if match:
            status = 206
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        if fault == "truncate":
            self._send(status, body[: len(body) // 2], "application/zip", headers)
            return
        if fault == "cut":
            self.close_connection = True
            self._send(status, body[: len(body) // 2], "application/zip", headers, len(body))
            return
        self._send(status, body, "application/zip", headers)

    def _query(self, layer: ArcLayer, params: dict[str, str], fault: str | None) -> None:
        rows = [r for r in layer.rows() if _matches(r[0], params.get("where", "1=1"))]
        if "geometry" in params:
            box = shapely.box(*map(float, params["geometry"].split(",")))
            rows = [r for r in rows if r[1].intersects(box)]
        if "objectIds" in params:
            wanted = {int(v) for v in params["objectIds"].split(",") if v}
            rows = [r for r in rows if r[0]["OBJECTID"] in wanted]
        if params.get("returnCountOnly") == "true":
            self._json({"count": len(rows)})
            return
        if params.get("returnIdsOnly") == "true":
            self._json({"objectIdFieldName": "OBJECTID",
                        "objectIds": [r[0]["OBJECTID"] for r in rows]})  # fmt: skip
            return
        size = min(int(params.get("resultRecordCount", layer.max_record_count)),
                   layer.max_record_count)  # fmt: skip
        offset = int(params.get("resultOffset", 0)) if layer.pagination else 0
        if fault == "endless":
            offset = 0
        page = rows[offset : offset + size]
        exceeded = offset + size < len(rows) or fault == "endless"
        if fault == "empty-page":
            page, exceeded = [], True
        fmt = params.get("f", "json")
        if fmt == "geojson":
            payload: dict[str, Any] = {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "id": a["OBJECTID"],
                        "properties": a,
                        "geometry": mapping(g),
                    }
                    for a, g in page
                ],
            }
            if exceeded:
                payload["properties"] = {"exceededTransferLimit": True}
        else:
            payload = {
                "objectIdFieldName": "OBJECTID",
                "geometryType": layer.geometry_type,
                "features": [{"attributes": a, "geometry": _esri(g)} for a, g in page],
                "exceededTransferLimit": exceeded,
            }
        self._json(payload)

    def _export(self, image: dict[str, Any], params: dict[str, str]) -> None:
        import rasterio
        from rasterio.transform import from_bounds

        west, south, east, north = map(float, params["bbox"].split(","))
        width, height = map(int, params["size"].split(","))
        cols = west + (np.arange(width) + 0.5) * (east - west) / width
        rows = north - (np.arange(height) + 0.5) * (north - south) / height
        lon, lat = np.meshgrid(cols, rows)
        elevation = image["elevation"](lon, lat).astype("float32")
        buffer = io.BytesIO()
        with rasterio.MemoryFile() as memfile:
            with memfile.open(
                driver="GTiff", width=width, height=height, count=1, dtype="float32",
                crs="EPSG:4326", transform=from_bounds(west, south, east, north, width, height),
            ) as dst:  # fmt: skip
                dst.write(elevation, 1)
            buffer.write(memfile.read())
        self._send(200, buffer.getvalue(), "image/tiff")


def _esri(geom: shapely.Geometry) -> dict[str, Any]:
    if geom.geom_type == "Point":
        return {"x": geom.x, "y": geom.y}
    if geom.geom_type in ("LineString", "MultiLineString"):
        parts = [geom] if geom.geom_type == "LineString" else list(geom.geoms)
        return {"paths": [list(map(list, p.coords)) for p in parts]}
    polys = [geom] if geom.geom_type == "Polygon" else list(geom.geoms)
    rings = []
    for poly in polys:
        poly = shapely.geometry.polygon.orient(poly, sign=-1.0)  # Esri: shells clockwise
        rings.append(list(map(list, poly.exterior.coords)))
        rings += [list(map(list, r.coords)) for r in poly.interiors]
    return {"rings": rings}


def _matches(attrs: dict[str, Any], where: str) -> bool:
    """Evaluate the small SQL subset Prospector sends (see module docstring)."""
    for clause in re.split(r"\s+AND\s+", where.strip(), flags=re.IGNORECASE):
        clause = clause.strip()
        if clause == "1=1":
            continue
        m = re.fullmatch(r"(\w+)\s+IN\s*\((.*)\)", clause, flags=re.IGNORECASE)
        if m:
            values = [v.strip().strip("'") for v in m.group(2).split(",")]
            if str(attrs.get(m.group(1))) not in values:
                return False
            continue
        m = re.fullmatch(r"(\w+)\s*(=|<>)\s*'([^']*)'", clause)
        if m:
            equal = str(attrs.get(m.group(1))) == m.group(3)
            if equal != (m.group(2) == "="):
                return False
            continue
        raise ValueError(f"replica cannot evaluate where clause {clause!r}")
    return True
