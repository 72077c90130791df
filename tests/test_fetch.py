"""Tests for prospector.ingest.download and prospector.ingest.arcgis against local servers.

Every test talks to a real ``ThreadingHTTPServer`` bound to 127.0.0.1 on a free
port; nothing here touches the internet.
"""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely

from prospector.errors import ConfigError, FetchError
from prospector.ingest._esri_json import esri_geometry
from prospector.ingest.arcgis import query_features
from prospector.ingest.download import CACHE_ENV_VAR, default_cache_dir, fetch_file
from tests.httpd import Handler, Request, Server, send, send_cut, send_json, send_ranged

# --------------------------------------------------------------------------- server

PAYLOAD = random.Random(20240601).randbytes(200_000)
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def fetch(server: Server, path: str, cache: Path, **kwargs: Any) -> Path:
    kwargs.setdefault("backoff_s", 0.01)
    return fetch_file(server.url(path), cache_dir=cache, **kwargs)


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_fetch_downloads_verifies_and_reuses_cache(server: Server, tmp_path: Path) -> None:
    server.route("/data/sma.zip")(lambda h, r: send(h, 200, PAYLOAD))
    server.route("/other/sma.zip")(lambda h, r: send(h, 200, b"different file"))

    first = fetch(server, "/data/sma.zip", tmp_path, sha256=PAYLOAD_SHA)
    again = fetch(server, "/data/sma.zip", tmp_path, sha256=f"SHA256:{PAYLOAD_SHA.upper()}")
    other = fetch(server, "/other/sma.zip", tmp_path)

    assert first == again
    assert first.parent == tmp_path.resolve()
    assert first.name.endswith("-sma.zip")
    assert first.read_bytes() == PAYLOAD
    assert server.app.hits["/data/sma.zip"] == 1  # second call served from cache
    assert other != first  # same base name, different URL: no collision
    assert other.read_bytes() == b"different file"
    assert files_in(tmp_path) == sorted([first.name, other.name])  # no .part left


def test_fetch_uses_given_filename(server: Server, tmp_path: Path) -> None:
    server.route("/f")(lambda h, r: send(h, 200, b"abc"))
    path = fetch(server, "/f", tmp_path, filename="claims.csv")
    assert path == tmp_path.resolve() / "claims.csv"
    assert path.read_bytes() == b"abc"


def test_fetch_retries_5xx_then_succeeds(server: Server, tmp_path: Path) -> None:
    @server.route("/flaky.bin")
    def flaky(handler: Handler, request: Request) -> None:
        if server.app.hits["/flaky.bin"] <= 2:
            send(handler, 503 if server.app.hits["/flaky.bin"] == 1 else 500, b"busy")
        else:
            send(handler, 200, PAYLOAD)

    path = fetch(server, "/flaky.bin", tmp_path, sha256=PAYLOAD_SHA, retries=3)

    assert server.app.hits["/flaky.bin"] == 3
    assert hashlib.sha256(path.read_bytes()).hexdigest() == PAYLOAD_SHA


def test_fetch_always_500_raises_and_caches_nothing(server: Server, tmp_path: Path) -> None:
    server.route("/down.bin")(lambda h, r: send(h, 500, b"Internal Server Error"))
    cache = tmp_path / "cache"

    with pytest.raises(FetchError) as info:
        fetch(server, "/down.bin", cache, retries=2)

    message = str(info.value)
    assert server.url("/down.bin") in message
    assert "3 attempt(s)" in message
    assert "HTTP 500" in message
    assert "Fix:" in message
    assert server.app.hits["/down.bin"] == 3
    assert files_in(cache) == []
    assert isinstance(info.value, OSError)


def test_fetch_does_not_retry_404(server: Server, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch(server, "/missing.zip", tmp_path, retries=3)
    assert server.app.hits["/missing.zip"] == 1
    assert files_in(tmp_path) == []


def test_fetch_resumes_dropped_connection_with_range(server: Server, tmp_path: Path) -> None:
    half = len(PAYLOAD) // 2

    @server.route("/drop.bin")
    def drop(handler: Handler, request: Request) -> None:
        if "range" in request.headers:
            send_ranged(handler, request, PAYLOAD)
            return
        send_cut(handler, PAYLOAD, half)

    path = fetch(server, "/drop.bin", tmp_path, sha256=PAYLOAD_SHA, retries=2)

    log = server.app.requests("/drop.bin")
    assert len(log) == 2
    assert "range" not in log[0].headers
    start = int(log[1].headers["range"].removeprefix("bytes=").removesuffix("-"))
    assert 0 < start <= half  # only the missing bytes were asked for
    assert path.read_bytes() == PAYLOAD
    assert files_in(tmp_path) == [path.name]


def test_fetch_keeps_partial_download_for_the_next_call(server: Server, tmp_path: Path) -> None:
    cut = 150_000

    @server.route("/cut.bin")
    def cut_off(handler: Handler, request: Request) -> None:
        if server.app.hits["/cut.bin"] > 1:
            send_ranged(handler, request, PAYLOAD)
            return
        send_cut(handler, PAYLOAD, cut)

    with pytest.raises(FetchError, match="connection dropped") as info:
        fetch(server, "/cut.bin", tmp_path, filename="cut.bin", retries=0)
    part = tmp_path / "cut.bin.part"
    kept = part.stat().st_size
    assert 0 < kept <= cut
    assert part.read_bytes() == PAYLOAD[:kept]
    assert "next call resumes" in str(info.value)

    path = fetch(server, "/cut.bin", tmp_path, filename="cut.bin", sha256=PAYLOAD_SHA)

    assert server.app.requests("/cut.bin")[1].headers["range"] == f"bytes={kept}-"
    assert path.read_bytes() == PAYLOAD
    assert files_in(tmp_path) == ["cut.bin"]


def test_fetch_resumes_partial_file_from_earlier_run(server: Server, tmp_path: Path) -> None:
    server.route("/big.bin")(lambda h, r: send_ranged(h, r, PAYLOAD))
    (tmp_path / "big.bin.part").write_bytes(PAYLOAD[:1234])

    path = fetch(server, "/big.bin", tmp_path, filename="big.bin", sha256=PAYLOAD_SHA)

    assert server.app.requests("/big.bin")[0].headers["range"] == "bytes=1234-"
    assert path.read_bytes() == PAYLOAD
    assert files_in(tmp_path) == ["big.bin"]


def test_fetch_restarts_when_server_ignores_range(server: Server, tmp_path: Path) -> None:
    server.route("/norange.bin")(lambda h, r: send(h, 200, PAYLOAD))
    (tmp_path / "n.bin.part").write_bytes(b"stale bytes from another version")

    path = fetch(server, "/norange.bin", tmp_path, filename="n.bin", sha256=PAYLOAD_SHA)

    assert "range" in server.app.requests("/norange.bin")[0].headers
    assert path.read_bytes() == PAYLOAD


def test_fetch_timeout_raises_fetch_error(server: Server, tmp_path: Path) -> None:
    @server.route("/slow.bin")
    def slow(handler: Handler, request: Request) -> None:
        if not server.app.stop.wait(2.0):
            send(handler, 200, b"too late")

    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out") as info:
        fetch(server, "/slow.bin", tmp_path, timeout_s=0.5, retries=1)
    elapsed = time.monotonic() - started

    assert "2 attempt(s)" in str(info.value)
    assert server.app.hits["/slow.bin"] == 2
    assert elapsed < 1.9
    assert files_in(tmp_path) == []


def test_fetch_wrong_checksum_deletes_download(server: Server, tmp_path: Path) -> None:
    server.route("/file.bin")(lambda h, r: send(h, 200, PAYLOAD))
    wrong = "0" * 64

    with pytest.raises(FetchError) as info:
        fetch(server, "/file.bin", tmp_path, sha256=wrong)

    message = str(info.value)
    assert server.url("/file.bin") in message
    assert wrong in message
    assert PAYLOAD_SHA in message
    assert "Fix:" in message
    assert files_in(tmp_path) == []


def test_fetch_wrong_checksum_removes_stale_cached_copy(server: Server, tmp_path: Path) -> None:
    server.route("/file.bin")(lambda h, r: send(h, 200, PAYLOAD))
    cached = fetch(server, "/file.bin", tmp_path)  # no checksum: cached as is
    assert cached.exists()

    with pytest.raises(FetchError, match="Checksum mismatch"):
        fetch(server, "/file.bin", tmp_path, sha256="f" * 64)

    assert files_in(tmp_path) == []


@pytest.mark.parametrize(
    ("url", "kwargs"),
    [
        ("ftp://example.invalid/a.zip", {}),
        ("http://127.0.0.1:9/a.zip", {"sha256": "xyz"}),
        ("http://127.0.0.1:9/a.zip", {"filename": "../a.zip"}),
        ("http://127.0.0.1:9/a.zip", {"timeout_s": 0}),
        ("http://127.0.0.1:9/a.zip", {"retries": -1}),
    ],
)
def test_fetch_rejects_bad_arguments(url: str, kwargs: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        fetch_file(url, cache_dir=tmp_path, **kwargs)
    assert files_in(tmp_path) == []


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "pc"))
    assert default_cache_dir() == tmp_path / "pc"
    monkeypatch.delenv(CACHE_ENV_VAR)
    assert "prospector" in default_cache_dir().parts


# ------------------------------------------------------------------- query_features

LAYER = "/arcgis/rest/services/BLM_Natl_MLRS_Mining_Claims/FeatureServer/0"
BBOX = (-117.0, 39.0, -115.0, 41.0)
FIELDS = [
    {"name": "OBJECTID", "type": "esriFieldTypeOID", "alias": "OBJECTID"},
    {"name": "CSE_NR", "type": "esriFieldTypeString", "alias": "Case Number"},
    {"name": "CSE_NAME", "type": "esriFieldTypeString", "alias": "Case Name"},
    {"name": "CSE_DISP", "type": "esriFieldTypeString", "alias": "Case Disposition"},
    {"name": "BLM_PROD", "type": "esriFieldTypeString", "alias": "BLM Product"},
    {"name": "LOC_DT", "type": "esriFieldTypeDate", "alias": "Location Date"},
]
LOC_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z


def claim_ring(i: int) -> list[list[float]]:
    x0, y0 = -116.5 + 0.01 * i, 40.0
    # Clockwise, as in Esri JSON; GeoJSON consumers accept either orientation.
    return [[x0, y0], [x0, y0 + 0.01], [x0 + 0.01, y0 + 0.01], [x0 + 0.01, y0], [x0, y0]]


CLAIMS = [
    {
        "OBJECTID": i + 1,
        "CSE_NR": f"NV10521{i:04d}",
        "CSE_NAME": f"LUCKY STRIKE #{i + 1}",
        "CSE_DISP": "ACTIVE" if i % 2 == 0 else "CLOSED",
        "BLM_PROD": "LODE CLAIM",
        "LOC_DT": LOC_MS + i * 86_400_000,
    }
    for i in range(5)
]


def metadata(**overrides: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "id": 0,
        "name": "Mining Claims",
        "type": "Feature Layer",
        "geometryType": "esriGeometryPolygon",
        "objectIdField": "OBJECTID",
        "maxRecordCount": 2,
        "supportedQueryFormats": "JSON, geoJSON, PBF",
        "advancedQueryCapabilities": {"supportsPagination": True},
        "fields": FIELDS,
    }
    meta.update(overrides)
    return meta


def geojson_feature(index: int) -> dict[str, Any]:
    props = CLAIMS[index]
    return {
        "type": "Feature",
        "id": props["OBJECTID"],
        "geometry": {"type": "Polygon", "coordinates": [claim_ring(index)]},
        "properties": props,
    }


def serve_layer(server: Server, meta: dict[str, Any]) -> None:
    server.route(LAYER)(lambda h, r: send_json(h, meta))


def test_query_features_pages_merges_and_deduplicates(server: Server) -> None:
    serve_layer(server, metadata())

    @server.route(LAYER + "/query")
    def query(handler: Handler, request: Request) -> None:
        offset = int(request.params["resultOffset"])
        count = int(request.params["resultRecordCount"])
        indices = list(range(offset, min(offset + count, len(CLAIMS))))
        if offset == 4:
            indices.insert(0, 3)  # a record repeated across pages
        body: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": [geojson_feature(i) for i in indices],
        }
        more = offset + count < len(CLAIMS)
        if offset == 0:
            body["exceededTransferLimit"] = more
        else:  # newer servers report the flag under "properties"
            body["properties"] = {"exceededTransferLimit": more}
        send_json(handler, body)

    gdf = query_features(server.url(LAYER), bbox=BBOX, retries=0)

    assert gdf.crs is not None and gdf.crs.to_epsg() == 4326
    assert len(gdf) == 5
    assert gdf["OBJECTID"].tolist() == [1, 2, 3, 4, 5]
    assert gdf["CSE_NR"].tolist() == [c["CSE_NR"] for c in CLAIMS]
    assert gdf["CSE_NAME"].tolist() == [c["CSE_NAME"] for c in CLAIMS]
    assert gdf["CSE_DISP"].tolist() == ["ACTIVE", "CLOSED", "ACTIVE", "CLOSED", "ACTIVE"]
    assert set(gdf["BLM_PROD"]) == {"LODE CLAIM"}
    assert gdf["LOC_DT"].iloc[0] == pd.Timestamp("2020-01-01", tz="UTC")
    assert gdf["LOC_DT"].iloc[4] == pd.Timestamp("2020-01-05", tz="UTC")
    expected = shapely.polygons([claim_ring(i) for i in range(5)])
    assert shapely.equals(gdf.geometry.values, expected).all()
    assert shapely.area(gdf.geometry.values).round(6).tolist() == [0.0001] * 5

    queries = server.app.requests(LAYER + "/query")
    assert [q.params["resultOffset"] for q in queries] == ["0", "2", "4"]
    for q in queries:
        assert q.params["resultRecordCount"] == "2"
        assert q.params["f"] == "geojson"
        assert q.params["geometry"] == "-117,39,-115,41"
        assert q.params["geometryType"] == "esriGeometryEnvelope"
        assert q.params["spatialRel"] == "esriSpatialRelIntersects"
        assert q.params["inSR"] == q.params["outSR"] == "4326"
        assert q.params["where"] == "1=1"
        assert q.params["orderByFields"] == "OBJECTID ASC"
    assert server.app.requests(LAYER)[0].params == {"f": "json"}


def test_query_features_esri_json_fallback(server: Server) -> None:
    serve_layer(server, metadata(supportedQueryFormats="JSON", maxRecordCount=1000))
    shell = [[0, 0], [0, 10], [10, 10], [10, 0], [0, 0]]  # clockwise: outer ring
    hole = [[2, 2], [4, 2], [4, 4], [2, 4], [2, 2]]  # anticlockwise: hole
    far = [[20, 0], [20, 1], [21, 1], [21, 0], [20, 0]]  # second outer ring
    features = [
        {"attributes": CLAIMS[0], "geometry": {"rings": [shell, hole]}},
        {"attributes": CLAIMS[1], "geometry": {"rings": [shell, far]}},
        {"attributes": CLAIMS[2], "geometry": None},
    ]

    @server.route(LAYER + "/query")
    def query(handler: Handler, request: Request) -> None:
        send_json(
            handler,
            {
                "objectIdFieldName": "OBJECTID",
                "geometryType": "esriGeometryPolygon",
                "spatialReference": {"wkid": 4326},
                "fields": FIELDS,
                "features": features,
            },
        )

    gdf = query_features(server.url(LAYER), out_fields=["CSE_NR", "CSE_NAME"], retries=0)

    sent = server.app.requests(LAYER + "/query")[0]
    assert sent.params["f"] == "json"
    assert sent.params["outFields"] == "CSE_NR,CSE_NAME,OBJECTID"
    assert "geometry" not in sent.params  # no bbox, no spatial filter
    assert gdf["CSE_NR"].tolist() == [c["CSE_NR"] for c in CLAIMS[:3]]
    assert gdf.geometry.iloc[0].equals(shapely.Polygon(shell, [hole]))
    assert gdf.geometry.iloc[0].area == pytest.approx(96.0)
    assert gdf.geometry.iloc[1].equals(
        shapely.MultiPolygon([shapely.Polygon(shell), shapely.Polygon(far)])
    )
    assert gdf.geometry.iloc[2] is None


@pytest.mark.parametrize(
    ("esri", "expected"),
    [
        ({"x": -116.0, "y": 40.0}, shapely.Point(-116, 40)),
        ({"x": None, "y": None}, None),
        # Esri JSON: "a point is empty when its x field is present and has the value null
        # or the string 'NaN'" (ArcGIS REST geometry objects).
        ({"x": "NaN", "y": 22.2}, None),
        ({"x": -116.0, "y": "NaN"}, None),
        ({"x": None}, None),
        ({"points": [[1, 2], [3, 4]]}, shapely.MultiPoint([(1, 2), (3, 4)])),
        ({"paths": [[[0, 0], [1, 1]]]}, shapely.LineString([(0, 0), (1, 1)])),
        (
            {"paths": [[[0, 0], [1, 1]], [[2, 2], [3, 3]]]},
            shapely.MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]]),
        ),
        (
            {"hasZ": True, "paths": [[[0, 0, 5], [1, 1, 6]]]},
            shapely.LineString([(0, 0), (1, 1)]),
        ),
        ({"xmin": 0, "ymin": 0, "xmax": 1, "ymax": 2}, shapely.box(0, 0, 1, 2)),
    ],
)
def test_esri_geometry_conversion(esri: dict[str, Any], expected: Any) -> None:
    result = esri_geometry(esri, None)
    if expected is None:
        assert result is None
    else:
        assert result is not None
        assert result.equals(expected)
        assert not result.has_z


def test_query_features_without_pagination_uses_object_ids(server: Server) -> None:
    serve_layer(server, metadata(advancedQueryCapabilities={"supportsPagination": False}))

    @server.route(LAYER + "/query")
    def query(handler: Handler, request: Request) -> None:
        assert request.method == "POST"
        if request.params.get("returnIdsOnly") == "true":
            send_json(handler, {"objectIdFieldName": "OBJECTID", "objectIds": [5, 3, 1, 2, 4]})
            return
        ids = [int(v) for v in request.params["objectIds"].split(",")]
        send_json(handler, {"features": [geojson_feature(i - 1) for i in ids]})

    gdf = query_features(server.url(LAYER), bbox=BBOX, retries=0)

    queries = server.app.requests(LAYER + "/query")
    assert [q.params.get("objectIds") for q in queries] == [None, "1,2", "3,4", "5"]
    assert queries[0].params["geometry"] == "-117,39,-115,41"
    assert gdf["OBJECTID"].tolist() == [1, 2, 3, 4, 5]
    assert gdf["CSE_NAME"].tolist() == [c["CSE_NAME"] for c in CLAIMS]


def test_query_features_json_error_body(server: Server) -> None:
    serve_layer(server, metadata())
    error = {
        "error": {
            "code": 400,
            "message": "Unable to complete operation.",
            "details": ["'where' parameter is invalid"],
        }
    }
    server.route(LAYER + "/query")(lambda h, r: send_json(h, error))

    with pytest.raises(FetchError) as info:
        query_features(server.url(LAYER), where="CSE_DISP = ", retries=2, backoff_s=0.01)

    message = str(info.value)
    assert server.url(LAYER) in message
    assert "resultOffset=0" in message
    assert "Unable to complete operation." in message
    assert "'where' parameter is invalid" in message
    assert "Fix:" in message
    assert server.app.hits[LAYER + "/query"] == 1  # a 400 is not retried


def test_query_features_500_on_page_two_raises(server: Server) -> None:
    serve_layer(server, metadata())

    @server.route(LAYER + "/query")
    def query(handler: Handler, request: Request) -> None:
        offset = int(request.params["resultOffset"])
        if offset >= 2:
            send(handler, 500, b"<html>Server Error</html>", content_type="text/html")
            return
        send_json(
            handler,
            {"features": [geojson_feature(0), geojson_feature(1)], "exceededTransferLimit": True},
        )

    with pytest.raises(FetchError) as info:
        query_features(server.url(LAYER), retries=1, backoff_s=0.01)

    message = str(info.value)
    assert "page 2 (resultOffset=2)" in message
    assert "HTTP 500" in message
    assert "2 attempt(s)" in message
    offsets = [q.params["resultOffset"] for q in server.app.requests(LAYER + "/query")]
    assert offsets == ["0", "2", "2"]


def test_query_features_invalid_json_and_timeout(server: Server) -> None:
    server.route(LAYER)(
        lambda h, r: send(h, 200, b"<html>Sign in</html>", content_type="text/html")
    )

    @server.route("/slow/MapServer/0")
    def slow(handler: Handler, request: Request) -> None:
        if not server.app.stop.wait(2.0):
            send_json(handler, metadata())

    with pytest.raises(FetchError, match="not valid JSON"):
        query_features(server.url(LAYER), retries=0)
    with pytest.raises(FetchError, match="timed out") as info:
        query_features(server.url("/slow/MapServer/0"), timeout_s=0.5, retries=0)
    assert "layer metadata" in str(info.value)


def test_query_features_rejects_service_url_and_bad_bbox(server: Server) -> None:
    server.route("/svc/MapServer")(
        lambda h, r: send_json(h, {"layers": [{"id": 0, "name": "SMA"}, {"id": 1, "name": "x"}]})
    )
    with pytest.raises(ConfigError, match=r"MapServer/0"):
        query_features(server.url("/svc/MapServer"), retries=0)
    with pytest.raises(ConfigError, match="bbox"):
        query_features(server.url(LAYER), bbox=(-115.0, 39.0, -117.0, 41.0))
    assert server.app.hits[LAYER] == 0


def test_query_features_empty_result_keeps_schema(server: Server) -> None:
    serve_layer(server, metadata())
    server.route(LAYER + "/query")(
        lambda h, r: send_json(h, {"type": "FeatureCollection", "features": []})
    )

    gdf = query_features(server.url(LAYER), bbox=BBOX, retries=0)

    assert len(gdf) == 0
    assert gdf.crs is not None and gdf.crs.to_epsg() == 4326
    assert [f["name"] for f in FIELDS] == [c for c in gdf.columns if c != "geometry"]
