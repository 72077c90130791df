"""`region new` -> `rank --fetch` -> map against a local replica of the publishers.

SYNTHETIC DATA: the replica (tests/replica.py) serves made-up features under each
publisher's real field names, codes and protocols.  No test touches the internet: the
catalogue's real URLs are redirected with PROSPECTOR_MIRROR to 127.0.0.1.

The synthetic world (lon/lat, inside Nevada), region box -117.00..-116.90, 39.00..39.10:

* BLM SMA: BLM west of -116.95, private (PVT) east of it.
* BLM wilderness north of 39.06 (west of -116.96): closed.
* BLM WSA south of 39.02 (west of -116.96): open with restrictions.
* Open BLM between 39.02 and 39.06; three mining claims in it.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from prospector.cli.main import main
from tests.replica import ArcLayer, Replica

WEST, SOUTH, EAST, NORTH = -117.0, 39.0, -116.9, 39.1
SPLIT_LON = -116.95
WILD_SOUTH, WSA_NORTH, WILD_EAST = 39.06, 39.02, -116.96
CLAIMS = [(-116.985, 39.040), (-116.975, 39.045), (-116.990, 39.032)]
CLAIM_HALF = 0.0025

BLM = "/gis.blm.gov/arcgis/rest/services/lands"
SMA = f"{BLM}/BLM_Natl_SMA_LimitedScale/MapServer/1"
WILD = f"{BLM}/BLM_Natl_NLCS_Generalized/FeatureServer/1"
WSA = f"{BLM}/BLM_Natl_NLCS_Generalized/FeatureServer/2"
MLRS = "/gis.blm.gov/nlsdb/rest/services/HUB/BLM_Natl_MLRS_Mining_Claims_Not_Closed/FeatureServer/0"
PADUS = (
    "/services.arcgis.com/v01gqwM5QqNysAAi/arcgis/rest/services/"
    "PADUS_Protection_Status_by_GAP_Status_Code/FeatureServer/0"
)
HIFLD = (
    "/services1.arcgis.com/Hp6G80Pky0om7QvQ/arcgis/rest/services/"
    "Electric_Power_Transmission_Lines/FeatureServer/0"
)
TIGER = "/www2.census.gov/geo/tiger/TIGER2023/PRISECROADS/tl_2023_32_prisecroads.zip"
RAILS = "/www2.census.gov/geo/tiger/TIGER2023/RAILS/tl_2023_us_rails.zip"
MRDS = "/mrdata.usgs.gov/mrds/mrds-fGDB.zip"
FAULTS = (
    "/raw.githubusercontent.com/opensha/opensha/7f672128c75a4a51ea1cd1eae5ad596ec8be426c/"
    "src/main/resources/data/erf/nshm23/fault_models/v3/NSHM23_FSD_v3.geojson"
)
DEM = "/elevation.nationalmap.gov/arcgis/rest/services/3DEPElevation/ImageServer"


def _box(*bounds: float) -> shapely.Polygon:
    return shapely.box(*bounds)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        # Incompressible filler so that a transfer cut in half has delivered whole
        # 64 KiB chunks (a resumable partial file), as real downloads do.
        filler = np.random.default_rng(0).bytes(300_000)
        zf.writestr("README-filler.bin", filler, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def _vector_zip(gdf: gpd.GeoDataFrame, name: str, driver: str, tmp: Path) -> bytes:
    folder = tmp / f"{name}-src"
    folder.mkdir()
    suffix = {"ESRI Shapefile": ".shp", "OpenFileGDB": ".gdb"}[driver]
    pyogrio.write_dataframe(gdf, folder / f"{name}{suffix}", driver=driver, layer=name)
    return _zip({p.relative_to(folder).as_posix(): p.read_bytes()
                 for p in sorted(folder.rglob("*")) if p.is_file()})  # fmt: skip


def build_world(replica: Replica, tmp: Path) -> None:
    """Register the synthetic publishers' layers and files on the replica."""
    replica.layers[SMA] = ArcLayer(
        "Surface Management Agency", "esriGeometryPolygon",
        [("ADMIN_AGENCY_CODE", "str"), ("ADMIN_UNIT_NAME", "str")],
        [({"ADMIN_AGENCY_CODE": "BLM", "ADMIN_UNIT_NAME": "Test District"},
          _box(-117.2, 38.8, SPLIT_LON, 39.3)),
         ({"ADMIN_AGENCY_CODE": "PVT", "ADMIN_UNIT_NAME": None},
          _box(SPLIT_LON, 38.8, -116.7, 39.3))],
        max_record_count=1,  # two pages
    )  # fmt: skip
    replica.layers[WILD] = ArcLayer(
        "Wilderness Areas", "esriGeometryPolygon", [("NLCS_ID", "str"), ("NLCS_NAME", "str")],
        [({"NLCS_ID": "W1", "NLCS_NAME": "Test Peak Wilderness"},
          _box(-117.2, WILD_SOUTH, WILD_EAST, 39.3))],
    )  # fmt: skip
    replica.layers[WSA] = ArcLayer(
        "Wilderness Study Areas", "esriGeometryPolygon", [("NLCS_ID", "str"), ("NLCS_NAME", "str")],
        [({"NLCS_ID": "S1", "NLCS_NAME": "Test Flats WSA"},
          _box(-117.2, 38.8, WILD_EAST, WSA_NORTH))],
    )  # fmt: skip
    replica.layers[MLRS] = ArcLayer(
        "Mining Claims - Not Closed", "esriGeometryPolygon",
        [("CSE_NR", "str"), ("CSE_NAME", "str"), ("CSE_DISP", "str"), ("BLM_PROD", "str")],
        [({"CSE_NR": f"NV10{i}", "CSE_NAME": f"TEST {i}", "CSE_DISP": "ACTIVE",
           "BLM_PROD": "LODE CLAIM"},
          _box(x - CLAIM_HALF, y - CLAIM_HALF, x + CLAIM_HALF, y + CLAIM_HALF))
         for i, (x, y) in enumerate(CLAIMS)],
        max_record_count=2, geojson=False,  # Esri JSON, two pages
    )  # fmt: skip
    replica.layers[PADUS] = ArcLayer(
        "PAD-US", "esriGeometryPolygon",
        [("FeatClass", "str"), ("Des_Tp", "str"), ("Unit_Nm", "str"), ("Mang_Name", "str"),
         ("GAP_Sts", "str")],
        [({"FeatClass": "Designation", "Des_Tp": "WA", "Unit_Nm": "Test Peak Wilderness",
           "Mang_Name": "BLM", "GAP_Sts": "1"}, _box(-117.2, WILD_SOUTH, WILD_EAST, 39.3)),
         ({"FeatClass": "Fee", "Des_Tp": "NM", "Unit_Nm": "Not a designation",
           "Mang_Name": "BLM", "GAP_Sts": "2"}, _box(-117.2, 38.8, -116.7, 39.3))],
    )  # fmt: skip
    replica.layers[HIFLD] = ArcLayer(
        "Transmission Lines", "esriGeometryPolyline",
        [("ID", "str"), ("OWNER", "str"), ("STATUS", "str"), ("VOLTAGE", "float"),
         ("VOLT_CLASS", "str")],
        [({"ID": "1", "OWNER": "TEST POWER", "STATUS": "IN SERVICE", "VOLTAGE": 345.0,
           "VOLT_CLASS": "345"}, shapely.LineString([(-117.3, 39.08), (-116.6, 39.08)]))],
    )  # fmt: skip
    roads = gpd.GeoDataFrame(
        {"LINEARID": ["1", "2"], "FULLNAME": ["I- 80", "US Hwy 50"], "RTTYP": ["I", "U"],
         "MTFCC": ["S1100", "S1200"]},
        geometry=[shapely.LineString([(-117.1, 39.05), (-116.8, 39.05)]),
                  shapely.LineString([(-116.98, 38.9), (-116.98, 39.2)])],
        crs="EPSG:4269",
    )  # fmt: skip
    replica.files[TIGER] = _vector_zip(roads, "tl_2023_32_prisecroads", "ESRI Shapefile", tmp)
    rails = gpd.GeoDataFrame(
        {"LINEARID": ["9"], "FULLNAME": ["Test RR"], "MTFCC": ["R1011"]},
        geometry=[shapely.LineString([(-117.5, 38.95), (-116.5, 38.95)])], crs="EPSG:4269",
    )  # fmt: skip
    replica.files[RAILS] = _vector_zip(rails, "tl_2023_us_rails", "ESRI Shapefile", tmp)
    sites = gpd.GeoDataFrame(
        {"dep_id": ["10001", "10002", "10003"], "site_name": ["A", "B", "C"],
         "code_list": ["W", "LI", "AU AG"], "dev_stat": ["Prospect", "Occurrence", "Producer"]},
        geometry=[shapely.Point(-116.98, 39.04), shapely.Point(-116.93, 39.05),
                  shapely.Point(-116.99, 39.08)],
        crs="EPSG:4326",
    )  # fmt: skip
    replica.files[MRDS] = _vector_zip(sites, "MRDS", "OpenFileGDB", tmp)
    far = [  # far outside the region (dropped by the bbox filter); make the file big enough
        {"type": "Feature", "properties": {"FaultID": 100 + i, "FaultName": f"Far {i}"},
         "geometry": {"type": "LineString",
                      "coordinates": [[-100.0 - i * 1e-3, 30.0], [-100.0 - i * 1e-3, 30.1]]}}
        for i in range(2500)
    ]  # fmt: skip
    faults = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "properties": {"FaultID": 1, "FaultName": "Test Fault"},
                      "geometry": {"type": "LineString",
                                   "coordinates": [[-117.05, 38.95], [-116.85, 39.15]]}}, *far],
    }  # fmt: skip
    replica.files[FAULTS] = json.dumps(faults).encode()
    replica.images[DEM] = {"max": 50, "elevation": lambda lon, lat: 1500 + 1000 * (lon + 117)}


@pytest.fixture
def replica(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Replica]:
    server = Replica().start()
    build_world(server, tmp_path)
    monkeypatch.setenv("PROSPECTOR_MIRROR", server.url)
    monkeypatch.setenv("PROSPECTOR_CACHE", str(tmp_path / "cache"))
    try:
        yield server
    finally:
        server.stop()


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def new_region(tmp_path: Path) -> Path:
    region = tmp_path / "regions" / "testland.toml"
    code = run(["region", "new", "testland", "--bbox", str(WEST), str(SOUTH), str(EAST),
                str(NORTH), "--out", str(region)])  # fmt: skip
    assert code == 0
    return region


def fast_network(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """No real sleeping between retries; returns the waits asked for (seconds)."""
    import time

    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept


def test_region_new_state_lists_standard_sources(tmp_path: Path) -> None:
    region = tmp_path / "nv.toml"
    assert run(["region", "new", "nv", "--state", "NV", "--out", str(region)]) == 0
    text = region.read_text()
    for source in ("blm-sma", "blm-wilderness", "padus-designations", "blm-wsa",
                   "blm-mlrs-claims", "tiger-prisecroads", "tiger-rails", "hifld-transmission", "usgs-mrds",
                   "nshm23-fault-sections", "usgs-3dep-dem"):  # fmt: skip
        assert f'source = "{source}"' in text
    assert 'params = { statefp = "32" }' in text
    assert 'work_crs = "EPSG:5070"' in text
    outline = gpd.read_file(tmp_path / "nv" / "boundary.gpkg")
    # Nevada spans about -120.0..-114.0 W, 35.0..42.0 N.
    west, south, east, north = outline.total_bounds
    assert -120.1 < west < -119.9 and -114.1 < east < -113.9
    assert 34.9 < south < 35.1 and 41.9 < north < 42.1
    # Never overwritten without --overwrite; nothing is changed.
    before = region.read_bytes()
    assert run(["region", "new", "nv", "--state", "NV", "--out", str(region)]) == 2
    assert region.read_bytes() == before


def test_region_new_alaska_uses_alaska_albers(tmp_path: Path) -> None:
    region = tmp_path / "ak.toml"
    assert run(["region", "new", "ak", "--state", "AK", "--out", str(region),
                "--sources", "minimal"]) == 0  # fmt: skip
    assert 'work_crs = "EPSG:3338"' in region.read_text()


def test_region_new_rejects_bad_input(tmp_path: Path) -> None:
    out = str(tmp_path / "x.toml")
    assert run(["region", "new", "x", "--state", "ZZ", "--out", out]) == 2
    assert run(["region", "new", "x", "--bbox", "-116", "39", "-117", "40", "--out", out]) == 2
    assert run(["region", "new", "x", "--state", "NV", "--sources", "nope", "--out", out]) == 2
    assert run(["region", "new", "x", "--out", out]) == 2
    assert not (tmp_path / "x.toml").exists()


def test_rank_fetch_end_to_end(
    replica: Replica, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_network(monkeypatch)
    region = new_region(tmp_path)
    out = tmp_path / "out"
    code = run(["rank", "--region", str(region), "--fetch", "--out", str(out)])
    assert code == 0
    data = region.parent / "testland"
    files = json.loads(region.with_suffix(".fetch.json").read_text())["files"]
    manifest = {k.removeprefix("testland/"): v for k, v in files.items()}
    assert set(manifest) == {
        "blm-sma.gpkg", "blm-wilderness.gpkg", "padus-designations.gpkg", "blm-wsa.gpkg",
        "blm-mlrs-claims.gpkg", "tiger-prisecroads-32.gpkg", "tiger-rails.gpkg",
        "hifld-transmission.gpkg", "usgs-mrds.gpkg", "nshm23-fault-sections.gpkg",
        "usgs-3dep-dem.tif",
    }  # fmt: skip
    import hashlib

    for name, record in manifest.items():
        body = (data / name).read_bytes()
        assert record["sha256"] == hashlib.sha256(body).hexdigest()
        assert record["bytes"] == len(body)
        assert record["url"].startswith("https://")  # the publisher's URL, not the mirror
    assert manifest["blm-sma.gpkg"]["n_features"] == 2
    assert manifest["blm-mlrs-claims.gpkg"]["n_features"] == 3
    # The PAD-US Fee feature is filtered out by the catalogue's where clause.
    assert manifest["padus-designations.gpkg"]["n_features"] == 1
    # Pages: SMA has maxRecordCount 1 -> two query pages; claims 2 per page -> two.
    sma_pages = [r for r in replica.requests_to(f"{SMA}/query") if "resultOffset" in r.params]
    assert sorted(r.params["resultOffset"] for r in sma_pages) == ["0", "1"]

    parcels = pyogrio.read_dataframe(out / "prospects.gpkg", layer="parcels")
    excluded = pyogrio.read_dataframe(out / "prospects.gpkg", layer="excluded_parcels")
    every = gpd.GeoDataFrame(
        np.concatenate([parcels[["land_status", "n_active_claims", "withdrawn_frac",
                                 "status_reason"]].to_numpy(),
                        excluded[["land_status", "n_active_claims", "withdrawn_frac",
                                  "status_reason"]].to_numpy()]),
        columns=["land_status", "n_active_claims", "withdrawn_frac", "status_reason"],
        geometry=list(parcels.geometry) + list(excluded.geometry), crs=parcels.crs,
    )  # fmt: skip
    lonlat = every.to_crs("EPSG:4326").geometry

    def within(*bounds: float) -> np.ndarray:
        return lonlat.within(_box(*bounds)).to_numpy(dtype=bool, copy=True)

    wilderness = within(-117.2, WILD_SOUTH, WILD_EAST, 39.3)
    wsa = within(-117.2, 38.8, WILD_EAST, WSA_NORTH)
    private = within(SPLIT_LON, 38.8, -116.7, 39.3)
    claims = gpd.GeoSeries(
        [_box(x - CLAIM_HALF, y - CLAIM_HALF, x + CLAIM_HALF, y + CLAIM_HALF) for x, y in CLAIMS],
        crs="EPSG:4326",
    )  # fmt: skip
    touched = lonlat.intersects(claims.union_all()).to_numpy(dtype=bool, copy=True)
    open_band = within(-117.2, WSA_NORTH, SPLIT_LON, WILD_SOUTH) & ~touched
    split = shapely.LineString([(SPLIT_LON, 38.8), (SPLIT_LON, 39.3)])
    straddle = lonlat.crosses(split).to_numpy(dtype=bool) & within(
        -117.2, WSA_NORTH, -116.7, WILD_SOUTH
    )
    status = every["land_status"].to_numpy()
    for mask in (wilderness, wsa, private, open_band, straddle):
        assert mask.any()  # every situation occurs in the parcel grid
    assert (status[wilderness] == "closed").all()
    assert np.allclose(every["withdrawn_frac"].to_numpy(dtype=float)[wilderness], 1.0, atol=1e-9)
    assert (status[wsa] == "restricted").all()
    assert all("Test Flats WSA" in r and "6330" in r for r in every["status_reason"][wsa])
    assert (status[private] == "closed").all()
    assert (status[open_band] == "open").all()
    assert (status[straddle] == "partly_open").all()
    # Claims: each parcel counts the claims that touch it (independent sjoin count).
    counts = gpd.sjoin(
        gpd.GeoDataFrame(geometry=lonlat.reset_index(drop=True)),
        gpd.GeoDataFrame(geometry=claims), predicate="intersects",
    ).groupby(level=0).size()  # fmt: skip
    expected = np.zeros(len(every), dtype=int)
    expected[counts.index.to_numpy()] = counts.to_numpy()
    assert (every["n_active_claims"].to_numpy(dtype=int) == expected).all()
    assert expected.sum() >= len(CLAIMS)
    assert (out / "prospects.html").stat().st_size > 0
    # The run's manifest says where and when each input was downloaded.
    inputs = {i["name"]: i for i in json.loads((out / "manifest.json").read_text())["inputs"]}
    assert inputs["blm-sma"]["url"] == (
        "https://gis.blm.gov/arcgis/rest/services/lands/BLM_Natl_SMA_LimitedScale/MapServer/1"
    )
    assert inputs["blm-sma"]["sha256"] == manifest["blm-sma.gpkg"]["sha256"]
    assert inputs["blm-sma"]["fetched_at"] == manifest["blm-sma.gpkg"]["fetched_at"]


def test_source_with_nothing_in_the_area_is_fetched_empty_and_skipped(
    replica: Replica, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    fast_network(monkeypatch)
    replica.layers[WSA].features = []  # no WSA in this area
    region = tmp_path / "r.toml"
    assert run(["region", "new", "r", "--bbox", str(WEST), str(SOUTH), str(EAST), str(NORTH),
                "--sources", "blm-sma,blm-wsa,usgs-mrds", "--out", str(region)]) == 0  # fmt: skip
    code = run(["rank", "--region", str(region), "--fetch", "--out", str(tmp_path / "o"),
                "--no-map"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    assert pyogrio.read_info(tmp_path / "r" / "blm-wsa.gpkg")["features"] == 0
    assert "no blm-wsa feature in the area downloaded from https://gis.blm.gov/" in err


def test_fault_injection_then_retry_completes(
    replica: Replica, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    slept = fast_network(monkeypatch)
    region = new_region(tmp_path)
    data = region.parent / "testland"
    replica.fail(SMA, "down")  # a source down
    replica.fail(f"{MLRS}/query", "429:3", "408:1")  # rate limited, then recovers
    replica.fail(f"{WILD}/query", "drop", "redirect")  # dropped connection, a redirect
    replica.fail(f"{HIFLD}/query", "empty-page")  # more records announced, none sent
    replica.fail(f"{PADUS}/query", "endless", "endless", "endless")
    replica.fail(TIGER, "truncate")  # a truncated zip (complete as far as HTTP knows)
    replica.fail(MRDS, "cut", "bad-range")  # broken transfer, then a wrong Content-Range
    replica.fail(FAULTS, "cut", "416")  # broken transfer, then 416 on resume
    code = run(["layers", "fetch", "--all", "--region", str(region)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    present = {p.name for p in data.iterdir()}
    # Failed: SMA (down), HIFLD (empty page), PAD-US (endless), TIGER (truncated zip).
    for name in ("blm-sma.gpkg", "hifld-transmission.gpkg", "padus-designations.gpkg",
                 "tiger-prisecroads-32.gpkg"):  # fmt: skip
        assert name not in present
        assert f"{name.removesuffix('.gpkg').split('-32')[0]}" in err
    assert "retry: prospector layers fetch blm-sma --region" in err
    assert "(an endless page sequence)" in err
    assert "reports more records (exceededTransferLimit) but sent none" in err
    assert "neither a zip nor a tar archive" in err  # the truncated zip
    assert "HTTP 503" in err
    # Fetched despite the faults: the others.
    for name in ("blm-mlrs-claims.gpkg", "blm-wilderness.gpkg", "blm-wsa.gpkg",
                 "usgs-mrds.gpkg", "nshm23-fault-sections.gpkg", "usgs-3dep-dem.tif"):  # fmt: skip
        assert name in present
    # Retry-After was honoured: the wait after the 429 is at least its 3 seconds.
    assert max(slept) >= 3.0
    # No partial files anywhere in the region folder.
    assert not [p for p in present if p.endswith((".part", ".part.gpkg")) or p.startswith(".")]
    # The resumed MRDS download asked for the missing bytes.
    for path in (MRDS, FAULTS):
        ranges = [r.headers.get("Range") for r in replica.requests_to(path)]
        assert ranges[0] is None and ranges[1].startswith("bytes=") and ranges[1] != "bytes=0-"
        assert ranges[2] is None  # the 416 / wrong Content-Range made it start again

    replica.faults.clear()
    code = run(["rank", "--region", str(region), "--fetch", "--out", str(tmp_path / "out")])
    assert code == 0
    assert (tmp_path / "out" / "prospects.gpkg").exists()
    assert {p.name for p in data.iterdir()} >= {"blm-sma.gpkg", "tiger-prisecroads-32.gpkg"}


def test_connection_refused_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import socket

    fast_network(monkeypatch)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("PROSPECTOR_MIRROR", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("PROSPECTOR_CACHE", str(tmp_path / "cache"))
    region = tmp_path / "r.toml"
    assert run(["region", "new", "r", "--bbox", str(WEST), str(SOUTH), str(EAST), str(NORTH),
                "--sources", "blm-sma,usgs-mrds", "--out", str(region)]) == 0  # fmt: skip
    assert run(["layers", "fetch", "--all", "--region", str(region)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("retry: prospector layers fetch") == 2
    assert "connection" in err.lower()
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["boundary.gpkg"]


def test_layers_doctor_reports_renamed_field_and_new_code(
    replica: Replica, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    fast_network(monkeypatch)
    layer = replica.layers[SMA]
    layer.fields = [("ADMIN_AGCY_CODE", "str"), ("ADMIN_UNIT_NAME", "str")]
    layer.features = [({"ADMIN_AGCY_CODE": "BLM", "ADMIN_UNIT_NAME": "x"},
                       _box(-117.2, 38.8, -116.7, 39.3))]  # fmt: skip
    replica.layers[WSA].fields.append(("WSA_RCMND", "str"))
    region = tmp_path / "r.toml"
    assert (
        run(
            [
                "region",
                "new",
                "r",
                "--bbox",
                str(WEST),
                str(SOUTH),
                str(EAST),
                str(NORTH),
                "--sources",
                "blm-sma,blm-wsa,tiger-prisecroads",
                "--out",
                str(region),
            ]
        )
        == 0
    )
    assert run(["layers", "fetch", "--all", "--region", str(region)]) == 0
    capsys.readouterr()
    # A new road class the catalogue does not map.
    roads = tmp_path / "r" / "tiger-prisecroads-32.gpkg"
    gdf = gpd.read_file(roads)
    gdf.loc[0, "MTFCC"] = "S1999"
    gdf.to_file(roads, layer="tiger-prisecroads", driver="GPKG")
    assert run(["layers", "doctor", "--region", str(region)]) == 2
    out = capsys.readouterr().out
    assert (
        "'ADMIN_AGENCY_CODE' used by the catalogue is missing - renamed to 'ADMIN_AGCY_CODE'?"
        in out
    )
    assert "'S1999' (1)" in out
    assert "WSA_RCMND" in out  # an unused new field, for information
    assert "OK  blm-wsa" in out


def test_tabular_points_region_layer(tmp_path: Path, capsys: Any) -> None:
    """A USGS-style site table with Lat_NAD83/Long_NAD83 loads as a deposits layer."""
    from prospector.catalog import load_region
    from prospector.ingest import load_region_data

    table = tmp_path / "tungsten.csv"
    table.write_text(
        "Site_ID,Site_Name,Lat_NAD83,Long_NAD83,Commodity\n"
        "W1,Alpha,39.05,-116.98,W\n"
        "W2,No coordinates,,-116.97,W\n"
        "W3,Beta,39.04,-116.92,W\n"
        "W4,Typo,39.O4,-116.92,W\n"
    )
    shutil.copy(Path(__file__).parents[1] / "layers/sample/us_states_census_10m.gpkg",
                tmp_path / "states.gpkg")  # fmt: skip
    region = tmp_path / "t.toml"
    region.write_text(
        'name = "t"\n[boundary]\npath = "states.gpkg"\nlayer = "states"\nwhere = "name = \'Nevada\'"\n'
        '[[layers]]\nrole = "deposits"\npath = "tungsten.csv"\n'
        '[layers.fields]\nsite_id = "Site_ID"\nname = "Site_Name"\ncommodity_codes = "Commodity"\n'
        '[layers.constants]\ndev_status = "unknown"\nsource = "usgs-tungsten"\n'
    )
    with pytest.warns(Warning) as caught:
        data = load_region_data(load_region(region))
    messages = " ".join(str(w.message) for w in caught)
    assert "2 of 4 rows have no usable location" in messages
    assert "rows 2" in messages and "rows 4" in messages
    assert sorted(data.deposits["site_id"].str.split(":").str[-1]) == ["W1", "W3"]
    report = next(r for r in data.reports if r.role == "deposits")
    assert report.n_read == 4 and report.n_null_geometry == 2
