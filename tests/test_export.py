"""Exports (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet, CSV, KML/KMZ).

Every format is read back with the library *and*, where GDAL's command-line tools are
installed (Debian ``gdal-bin``), with ``ogrinfo``: layer names, feature counts, field
names, CRS and geometry validity must match the source.  The GeoPackage styles are
checked in a real QGIS when ``python3-qgis`` is installed.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.testing import assert_geometries_equal

import prospector.export.geoparquet as geoparquet_mod
import prospector.export.kml as kml_mod
from prospector.errors import OutputExistsError, ProspectorError
from prospector.export import (
    export_layers,
    flatten_lists,
    holds_one_layer,
    read_field_mapping,
    read_manifest,
    read_ranked,
    read_styles,
    write_gpkg,
)
from prospector.export.dispatch import FORMATS
from prospector.export.shapefile import SHAPEFILE_FIELD_NAMES, shapefile_field_names
from prospector.schema.columns import PARCEL_COLUMNS

OGRINFO = shutil.which("ogrinfo")
needs_ogrinfo = pytest.mark.skipif(OGRINFO is None, reason="GDAL's ogrinfo is not installed")
HOSTILE = "<script>alert('x')</script> & \"quotes\" ]]> end"
LONG_WHY = "Ünïcödé — déposits " * 20  # 400 characters, > 254 bytes in UTF-8
MANIFEST = {"prospector_manifest": 1, "region": {"name": "tiny"}, "created": "2025-01-31"}


# --------------------------------------------------------------------------- fixtures


def make_layers() -> dict[str, gpd.GeoDataFrame]:
    """Tiny result layers with the canonical columns, in EPSG:5070 over Utah."""
    crs = "EPSG:5070"
    x0, y0 = -1_350_000.0, 1_900_000.0
    cells = [
        shapely.box(x0 + i * 1000, y0 + j * 1000, x0 + (i + 1) * 1000, y0 + (j + 1) * 1000)
        for j in range(3)
        for i in range(4)
    ]
    n = len(cells)
    score = np.linspace(0.95, 0.05, n)
    parcels = gpd.GeoDataFrame(
        {
            "parcel_id": [f"r{k // 4}c{k % 4}" for k in range(n)],
            "rank": np.arange(1, n + 1, dtype="int64"),
            "score": score,
            "score_value": score * 0.9,
            "score_access": np.full(n, 0.5),
            "score_evidence": np.linspace(0, 1, n),
            "area_km2": np.ones(n),
            "federal_frac": np.where(np.arange(n) % 3 == 0, np.nan, 0.75),
            "withdrawn_frac": np.where(np.arange(n) == 5, 0.4, 0.0),
            "claimed_frac": np.full(n, np.nan),
            "open_frac": np.full(n, np.nan),
            "land_status": ["open", "partly_open", "unknown"] * 4,
            "status_reason": ["ownership unknown: no land-ownership layer supplied"] * n,
            "agency": ["BLM"] * n,
            "withdrawals": [""] * 5 + ["Zion Wilderness"] + [""] * 6,
            "n_active_claims": np.zeros(n, dtype="int64"),
            "n_deposits": np.array([2, 1, 1, 1, 1] + [0] * 7, dtype="int64"),
            "n_critical_deposits": np.array([2, 1, 0, 0, 0] + [0] * 7, dtype="int64"),
            "commodities": [["copper", "lithium"], ["rare_earths"], [], ["gold"], ["zinc"]]
            + [[] for _ in range(7)],
            "critical_commodities": ["copper; lithium", "rare_earths"] + [""] * 10,
            "value_raw": score * 10,
            "dist_rail_km": np.linspace(1, 12, n),
            "dist_fault_km": np.linspace(0.5, 3, n),
            "nlcd_landcover_majority": np.full(n, 52.0),
            "nlcd_landcover_coverage": np.full(n, 1.0),
            "contrib_value": score * 0.5,
            "contrib_access_rail": score * 0.3,
            "why": [LONG_WHY, HOSTILE] + [f"#{k + 1}: short reason" for k in range(2, n)],
        },
        geometry=cells,
        crs=crs,
    )
    pts = [
        shapely.Point(x0 + 300, y0 + 400),
        shapely.Point(x0 + 700, y0 + 200),
        shapely.Point(x0 + 1500, y0 + 500),
        shapely.Point(x0 + 2500, y0 + 500),
        shapely.Point(x0 + 3500, y0 + 500),
        shapely.Point(x0 + 3500, y0 + 2500),
    ]
    deposits = gpd.GeoDataFrame(
        {
            "site_id": [f"ugs-{k}" for k in range(6)],
            "name": [HOSTILE, "Lisbon Valley", "Bingham", "Mercur", "Park City", "Tintic"],
            "commodities": [
                ["copper", "lithium"],
                ["rare_earths"],
                ["copper"],
                ["gold"],
                ["zinc"],
                ["silver"],
            ],
            "commodity_codes": ["CU, LI", "REE", "CU", "AU", "ZN", "AG"],
            "dev_status": [
                "producer",
                "prospect",
                "producer",
                "past_producer",
                "occurrence",
                "unknown",
            ],
            "source": ["UGS"] * 6,
            "weight": [1.0, 0.8, 1.0, 0.5, 0.2, 0.1],
            "group": ["battery", "ree", "base", "precious", "base", "none"],
            "critical": [True, True, True, False, True, False],
            "parcel_id": ["r0c0", "r0c0", "r0c1", "r0c2", "r0c3", None],
        },
        geometry=pts,
        crs=crs,
    )
    withdrawals = gpd.GeoDataFrame(
        {
            "name": ["Zion Wilderness"],
            "kind": ["wilderness"],
            "agency": ["NPS"],
            "source": ["National Atlas"],
        },
        geometry=[
            shapely.MultiPolygon(
                [
                    shapely.box(x0 + 1200, y0 + 1200, x0 + 1800, y0 + 1800),
                    shapely.box(x0 + 5000, y0, x0 + 6000, y0 + 500),
                ]
            )
        ],
        crs=crs,
    )
    access = gpd.GeoDataFrame(
        {"kind": ["rail", "road"], "class": ["rail", "primary"], "source": ["NE", "TIGER"]},
        geometry=[
            shapely.LineString([(x0 - 500, y0 - 500), (x0 + 4500, y0 + 3500)]),
            shapely.LineString([(x0, y0 + 3200), (x0 + 4000, y0 + 3200)]),
        ],
        crs=crs,
    )
    evidence = gpd.GeoDataFrame(
        {
            "kind": ["fault", "intrusion"],
            "name": ["Wasatch", "Little Cottonwood stock"],
            "weight": [1.0, 0.5],
            "source": ["NSHM23", "UGS"],
        },
        geometry=[
            shapely.LineString([(x0 + 100, y0 - 100), (x0 + 100, y0 + 3100)]),
            shapely.box(x0 + 2100, y0 + 2100, x0 + 2600, y0 + 2600),
        ],
        crs=crs,
    )
    return {
        "parcels": parcels,
        "deposits": deposits,
        "withdrawals": withdrawals,
        "access": access,
        "evidence": evidence,
    }


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    return make_layers()


def expected(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """What a file format stores: list columns '; '-joined."""
    return flatten_lists(gdf).reset_index(drop=True)


# --------------------------------------------------------------------------- ogrinfo


def ogrinfo(*args: str) -> str:
    proc = subprocess.run(
        [OGRINFO, "-ro", *args], capture_output=True, text=True, check=True, timeout=120
    )
    # A real client must open our files without complaint (e.g. GeoPackage version).
    assert "Warning" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr
    return proc.stdout


_FIELD = re.compile(
    r"^(?P<name>[^\s:][^:]*): (?P<type>String|Integer|Integer64|Real|Date|DateTime|Time)"
    r"(\((?P<sub>\w+)\))? \(\d+\.\d+\)( .*)?$"
)


def ogr_layers(path: Path | str) -> dict[str, dict]:
    """Summary of every layer per ``ogrinfo -so -al``: count, geometry, EPSG, fields."""
    out: dict[str, dict] = {}
    current: dict | None = None
    in_wkt = False
    wkt: list[str] = []
    for line in ogrinfo("-so", "-al", str(path)).splitlines():
        if line.startswith("Layer name: "):
            current = {"fields": {}, "epsg": None}
            out[line.removeprefix("Layer name: ")] = current
            continue
        if current is None:
            continue
        if line.startswith("Geometry: "):
            current["geometry"] = line.removeprefix("Geometry: ")
        elif line.startswith("Feature Count: "):
            current["count"] = int(line.removeprefix("Feature Count: "))
        elif line.startswith("Layer SRS WKT:"):
            in_wkt, wkt = True, []
        elif in_wkt and (line.startswith("Data axis") or line == "(unknown)"):
            in_wkt = False
            ids = re.findall(r'ID\["EPSG",(\d+)\]', "\n".join(wkt))
            current["epsg"] = int(ids[-1]) if ids else None  # the last ID is the CRS's own
        elif in_wkt:
            wkt.append(line)
        elif m := _FIELD.match(line):
            current["fields"][m["name"]] = m["type"] + (f"({m['sub']})" if m["sub"] else "")
    return out


def ogr_invalid_count(path: Path | str, layer: str, geom_column: str) -> int:
    sql = f'SELECT COUNT(*) AS n FROM "{layer}" WHERE NOT ST_IsValid("{geom_column}")'
    text = ogrinfo(str(path), "-dialect", "SQLite", "-sql", sql)
    return int(re.search(r"n \(Integer\) = (\d+)", text).group(1))


def assert_same_layer(back: gpd.GeoDataFrame, source: gpd.GeoDataFrame, **kw) -> None:
    kw.setdefault("check_less_precise", True)
    kw.setdefault("normalize", True)  # Shapefile rings are clockwise, GeoJSON's counter-
    assert_geodataframe_equal(back.reset_index(drop=True), expected(source), **kw)


# --------------------------------------------------------------------------- format lookup


def test_unknown_format_suggests_the_closest():
    with pytest.raises(
        ProspectorError, match=r"unknown export format 'geojsn'\. Did you mean 'geojson'\?"
    ):
        export_layers(make_layers(), "out", fmt="geojsn")


def test_aliases_and_inference(tmp_path, layers):
    (path,) = export_layers({"parcels": layers["parcels"]}, tmp_path / "p.geojson")
    assert path == tmp_path / "p.geojson" and path.is_file()
    (path,) = export_layers(layers, tmp_path / "all.zip", fmt="Shapefile")
    assert zipfile.is_zipfile(path)
    with pytest.raises(ProspectorError, match="cannot tell the export format"):
        export_layers(layers, tmp_path / "x.txt")


def test_nothing_to_export_is_explained(tmp_path):
    with pytest.raises(ProspectorError, match="nothing to export"):
        export_layers({"parcels": None}, tmp_path / "x.gpkg", fmt="gpkg")


# --------------------------------------------------------------------------- GeoPackage


def test_gpkg_round_trip_styles_and_manifest(tmp_path, layers):
    (path,) = export_layers(layers, tmp_path / "r.gpkg", fmt="gpkg", metadata=MANIFEST)
    names = [str(n) for n, g in pyogrio.list_layers(path) if g is not None]
    assert names == ["parcels", "deposits", "withdrawals", "access", "evidence"]
    back = read_ranked(path)
    assert list(back) == names  # layer_styles is not a spatial layer
    for name in names:
        assert_same_layer(back[name], layers[name])
        assert back[name].crs.to_epsg() == 5070
    assert read_manifest(path) == MANIFEST
    # The manifest is not attached to the frames (pandas deep-copies attrs on every access).
    assert all(frame.attrs == {} for frame in back.values())
    assert back["parcels"]["why"][0] == LONG_WHY  # full text lives in the GeoPackage

    styles = read_styles(path)
    # The evidence layer mixes lines and polygons: no single QGIS symbol fits, no style.
    assert set(styles) == {"parcels", "deposits", "withdrawals", "access"}
    renderers = {
        n: ET.fromstring(q.split("\n", 1)[1]).find("renderer-v2") for n, q in styles.items()
    }
    assert renderers["parcels"].get("type") == "graduatedSymbol"
    assert renderers["parcels"].get("attr") == "rank"
    ranges = renderers["parcels"].findall("ranges/range")
    # Rank-percentile classes of 12 ranks: ceil(12 p / 100) for p = 1, 5, 10, 25, 50, 100
    # is 1, 1, 2, 3, 6, 12; the empty top-5 % class is left out.
    bounds = [(float(r.get("lower")), float(r.get("upper"))) for r in ranges]
    assert bounds == [(0.5, 1.5), (1.5, 2.5), (2.5, 3.5), (3.5, 6.5), (6.5, 12.5)]
    assert ranges[0].get("label") == "Top 1 % (ranks 1–1)"
    parcel_fill = renderers["parcels"].find(".//layer[@class='SimpleFill']/Option")
    assert {o.get("name"): o.get("value") for o in parcel_fill}["outline_style"] == "no"
    assert renderers["deposits"].get("type") == "categorizedSymbol"
    assert renderers["deposits"].get("attr") == "group"
    values = [c.get("value") for c in renderers["deposits"].findall("categories/category")]
    assert values == ["ree", "battery", "base", "precious", "none", ""]  # legend order
    assert renderers["withdrawals"].get("type") == "singleSymbol"
    fill = renderers["withdrawals"].find(".//layer[@class='SimpleFill']/Option")
    assert {o.get("name"): o.get("value") for o in fill}["style"] == "b_diagonal"  # hatched
    assert renderers["access"].get("attr") == "kind"


def test_write_gpkg_styles_optional_and_keeps_signature(tmp_path, layers):
    path = write_gpkg(layers, tmp_path / "plain.gpkg", styles=False)
    assert read_styles(path) == {}
    assert read_manifest(path) is None
    path = write_gpkg(layers, tmp_path / "styled.gpkg", overwrite=False, metadata=MANIFEST)
    assert "parcels" in read_styles(path) and read_manifest(path) == MANIFEST


@pytest.mark.gdal
@needs_ogrinfo
def test_gpkg_in_ogrinfo(tmp_path, layers):
    path = export_layers(layers, tmp_path / "r.gpkg", fmt="gpkg", metadata=MANIFEST)[0]
    info = ogr_layers(path)
    assert list(info) == [
        "parcels",
        "deposits",
        "withdrawals",
        "access",
        "evidence",
        "layer_styles",
    ]
    for name, gdf in layers.items():
        assert info[name]["count"] == len(gdf)
        assert info[name]["epsg"] == 5070
        assert list(info[name]["fields"]) == [c for c in gdf.columns if c != "geometry"]
        assert ogr_invalid_count(path, name, "geom") == 0
    assert info["parcels"]["fields"]["rank"] == "Integer64"
    assert info["deposits"]["fields"]["critical"] == "Integer(Boolean)"
    assert info["layer_styles"]["count"] == 4
    assert {"f_table_name", "styleQML", "useAsDefault", "update_time"} <= set(
        info["layer_styles"]["fields"]
    )
    # The manifest is GeoPackage dataset metadata (gpkg_metadata) that ogrinfo prints.
    meta = ogrinfo("-so", str(path), "parcels")
    line = next(x for x in meta.splitlines() if "prospector_manifest=" in x)
    assert json.loads(line.split("=", 1)[1]) == MANIFEST
    rows = ogrinfo(str(path), "-sql", "SELECT md_scope FROM gpkg_metadata")
    assert "md_scope (String) = dataset" in rows


QGIS_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from qgis.core import QgsApplication, QgsVectorLayer
    app = QgsApplication([], False)
    app.initQgis()
    out = {}
    for uri in sys.argv[1:]:
        layer = QgsVectorLayer(uri, "layer", "ogr")
        r = layer.renderer()
        info = {"valid": layer.isValid(), "count": layer.featureCount(), "type": r.type(),
                "crs": layer.crs().authid()}
        if r.type() == "graduatedSymbol":
            info["attr"] = r.classAttribute()
            info["colors"] = [x.symbol().color().name() for x in r.ranges()]
        elif r.type() == "categorizedSymbol":
            info["attr"] = r.classAttribute()
            info["values"] = [c.value() for c in r.categories()]
        else:
            info["brush"] = int(r.symbol().symbolLayer(0).brushStyle())
        out[uri] = info
    print(json.dumps(out), flush=True)
    # QGIS 3.22 can crash while tearing down in a plain script; the answer is printed.
    os._exit(0)
    """
)


def _qgis_python() -> str | None:
    python = "/usr/bin/python3"
    if not Path(python).exists():
        return None
    ok = subprocess.run([python, "-c", "import qgis.core"], capture_output=True, timeout=60)
    return python if ok.returncode == 0 else None


@pytest.mark.gdal
def test_qgis_opens_exports_styled(tmp_path, layers):
    python = _qgis_python()
    if python is None:
        pytest.skip("QGIS (Debian python3-qgis) is not installed")
    gpkg = export_layers(layers, tmp_path / "r.gpkg", fmt="gpkg")[0]
    shp = tmp_path / "shp"
    export_layers(layers, shp, fmt="shp")
    uris = [f"{gpkg}|layername={n}" for n in ("parcels", "deposits", "withdrawals", "access")]
    uris += [str(shp / "parcels.shp"), str(shp / "deposits.shp")]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    proc = subprocess.run(
        [python, "-c", QGIS_SCRIPT, *uris], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    parcels = result[uris[0]]
    assert parcels["valid"] and parcels["count"] == 12 and parcels["crs"] == "EPSG:5070"
    assert parcels["type"] == "graduatedSymbol" and parcels["attr"] == "rank"
    assert parcels["colors"] == ["#fde725", "#21918c", "#3b528b", "#440154", "#d8d2e3"]
    deposits = result[uris[1]]
    assert deposits["type"] == "categorizedSymbol" and deposits["attr"] == "group"
    assert deposits["values"][:2] == ["ree", "battery"]
    assert (
        result[uris[2]]["type"] == "singleSymbol" and result[uris[2]]["brush"] == 12
    )  # Qt.BDiagPattern
    assert result[uris[3]]["type"] == "categorizedSymbol"
    # Shapefiles get the same styles from the .qml sidecar, on the short field names.
    assert result[uris[4]]["type"] == "graduatedSymbol" and result[uris[4]]["attr"] == "rank"
    assert result[uris[5]]["type"] == "categorizedSymbol" and result[uris[5]]["attr"] == "group"


# --------------------------------------------------------------------------- Shapefile


def test_field_names_short_unique_and_stable():
    columns = [
        *PARCEL_COLUMNS,
        "value_battery", "value_industrial", "contrib_access_road", "contrib_evidence_fault",
        "nlcd_landcover_majority", "nlcd_landcover_coverage", "NLCD_LANDCOVER_MAJORITY_2",
        "fed_frac", "Ünïcode name",
    ]  # fmt: skip
    mapping = shapefile_field_names(columns)
    assert list(mapping) == columns
    shorts = list(mapping.values())
    assert all(len(s) <= 10 and re.fullmatch(r"[A-Za-z0-9_]+", s) for s in shorts)
    assert len({s.lower() for s in shorts}) == len(shorts)  # dBASE compares case-insensitively
    # Canonical columns always get their documented short name ...
    for long, short in SHAPEFILE_FIELD_NAMES.items():
        if long in mapping:
            assert mapping[long] == short
    assert mapping["rank"] == "rank" and mapping["why"] == "why"
    # ... even when another column already has that name: the other one is suffixed.
    assert mapping["federal_frac"] == "fed_frac" and mapping["fed_frac"] == "fed_frac_2"
    assert mapping["nlcd_landcover_majority"] != mapping["nlcd_landcover_coverage"]
    # Stable: the same columns give the same names, and a canonical name does not depend
    # on which other columns are present.
    assert shapefile_field_names(columns) == mapping
    assert shapefile_field_names(["dist_rail_km"]) == {"dist_rail_km": "rail_km"}


def test_shapefile_folder_round_trip(tmp_path, layers):
    out = tmp_path / "shp"
    written = export_layers(layers, out, fmt="shp", metadata=MANIFEST)
    assert all(p.parent == out and p.exists() for p in written)
    # One file set per layer; mixed geometry families are split.
    for stem in ("parcels", "deposits", "withdrawals", "access", "evidence_lines",
                 "evidence_polygons"):  # fmt: skip
        for ext in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
            assert (out / f"{stem}{ext}").exists(), stem + ext
        assert (out / f"{stem}.cpg").read_text().strip() == "UTF-8"
        assert (out / f"{stem}_fields.csv").exists()
    assert json.loads((out / "manifest.json").read_text()) == MANIFEST

    parcels = layers["parcels"]
    mapping_file = out / "parcels_fields.csv"
    with mapping_file.open(encoding="utf-8", newline="") as f:
        rows = {r["long_name"]: r for r in csv.DictReader(f)}
    assert list(rows) == [c for c in parcels.columns if c != "geometry"]
    assert rows["dist_rail_km"]["short_name"] == "rail_km"
    assert "1 value(s) longer than 254 bytes" in rows["why"]["note"]
    assert "full text in the GeoPackage" in rows["why"]["note"]

    back = pyogrio.read_dataframe(out / "parcels.shp")
    assert back.crs.to_epsg() == 5070
    assert all(len(c) <= 10 for c in back.columns)
    back = back.rename(columns=read_field_mapping(mapping_file))
    want = expected(parcels)
    assert back["why"][0].endswith("…") and back["why"][0] != want["why"][0]
    assert len(back["why"][0].encode("utf-8")) <= 254
    assert want["why"][0].startswith(back["why"][0][:-1])
    back.loc[0, "why"] = want["why"][0]
    # dBASE cannot tell an empty string from a missing one: GDAL reads '' back as null.
    back = back.fillna({c: "" for c in ("withdrawals", "commodities", "critical_commodities")})
    # RESIZE=YES narrows numeric fields to their widest value: small int64 columns come
    # back as int32 (same values).
    assert_same_layer(back, parcels, check_dtype=False)
    assert back["rank"].tolist() == list(range(1, 13))

    deposits = pyogrio.read_dataframe(out / "deposits.shp")
    deposits = deposits.rename(columns=read_field_mapping(out / "deposits_fields.csv"))
    assert deposits["critical"].dtype == bool
    assert_same_layer(deposits, layers["deposits"])
    ev = layers["evidence"]
    lines = pyogrio.read_dataframe(out / "evidence_lines.shp")
    polys = pyogrio.read_dataframe(out / "evidence_polygons.shp")
    assert_geometries_equal(lines.geometry.values, ev.geometry.values[:1])
    assert_geometries_equal(polys.geometry.values, ev.geometry.values[1:], normalize=True)


def test_shapefile_dates_bools_big_integers(tmp_path):
    gdf = gpd.GeoDataFrame(
        {
            "surveyed_at": pd.to_datetime(["2024-05-01 10:30", None]),
            "flag": [True, False],
            "big": np.array([2**40, -(2**35)], dtype="int64"),
            "text": ["é" * 200, None],  # 400 bytes: cut at a character boundary
        },
        geometry=[shapely.Point(0, 0), shapely.Point(1, 1)],
        crs="EPSG:5070",
    )
    out = tmp_path / "t"
    export_layers({"sites": gdf}, out, fmt="shp")
    back = pyogrio.read_dataframe(out / "sites.shp")
    mapping = read_field_mapping(out / "sites_fields.csv")
    assert mapping == {"srvyd_at": "surveyed_at", "flag": "flag", "big": "big", "text": "text"}
    back = back.rename(columns=mapping)
    assert back["surveyed_at"][0] == "2024-05-01T10:30:00" and pd.isna(back["surveyed_at"][1])
    assert back["flag"].tolist() == [True, False]
    assert back["big"].tolist() == [2**40, -(2**35)]
    assert back["text"][0] == "é" * 125 + "…"
    with (out / "sites_fields.csv").open(encoding="utf-8") as f:
        notes = {r["long_name"]: r for r in csv.DictReader(f)}
    assert notes["surveyed_at"]["note"].startswith("date-time written as ISO 8601 text")
    assert notes["flag"]["type"] == "boolean" and notes["big"]["type"] == "integer"


@pytest.mark.gdal
@needs_ogrinfo
def test_shapefile_in_ogrinfo(tmp_path, layers):
    out = tmp_path / "shp"
    export_layers(layers, out, fmt="shp")
    for stem, source in [("parcels", layers["parcels"]), ("deposits", layers["deposits"]),
                         ("withdrawals", layers["withdrawals"]), ("access", layers["access"])]:  # fmt: skip
        info = ogr_layers(out / f"{stem}.shp")[stem]
        assert info["count"] == len(source)
        assert info["epsg"] == 5070
        mapping = shapefile_field_names(c for c in source.columns if c != "geometry")
        assert list(info["fields"]) == list(mapping.values())
        assert ogr_invalid_count(out / f"{stem}.shp", stem, "GEOMETRY") == 0
    # Zipped: GDAL reads every layer straight from the archive.
    (zipped,) = export_layers(layers, tmp_path / "r.zip", fmt="shp")
    info = ogr_layers(f"/vsizip/{zipped}")
    assert set(info) == {"parcels", "deposits", "withdrawals", "access", "evidence_lines",
                         "evidence_polygons"}  # fmt: skip
    assert info["parcels"]["count"] == 12 and info["parcels"]["epsg"] == 5070
    with zipfile.ZipFile(zipped) as archive:
        assert "parcels_fields.csv" in archive.namelist()
        assert all("/" not in n for n in archive.namelist())  # flat, no temp folder names


# --------------------------------------------------------------------------- GeoJSON, FGB


def test_geojson_is_rfc7946(tmp_path, layers):
    out = tmp_path / "gj"
    written = export_layers(layers, out, fmt="geojson")
    assert {p.name for p in written} >= {f"{n}.geojson" for n in layers}
    doc = json.loads((out / "parcels.geojson").read_text(encoding="utf-8"))
    assert "crs" not in doc  # RFC 7946: always WGS 84 lon/lat, no crs member
    lon, lat = doc["features"][0]["geometry"]["coordinates"][0][0]
    assert -115 < lon < -108 and 36 < lat < 43  # lon first, in Utah
    ring = shapely.LinearRing(doc["features"][0]["geometry"]["coordinates"][0])
    assert ring.is_ccw  # right-hand rule for exterior rings
    for name, source in layers.items():
        back = pyogrio.read_dataframe(out / f"{name}.geojson")
        assert back.crs.to_epsg() == 4326
        want = expected(source).to_crs("EPSG:4326")
        assert_geometries_equal(back.geometry.values, want.geometry.values, tolerance=1e-6,
                                normalize=True)  # fmt: skip
        assert list(back.columns) == list(want.columns)
        assert (
            back["name" if "name" in back else back.columns[0]].tolist()
            == want["name" if "name" in want else want.columns[0]].tolist()
        )


def test_flatgeobuf_round_trip(tmp_path, layers):
    out = tmp_path / "fgb"
    export_layers(layers, out, fmt="fgb")
    for name, source in layers.items():
        back = pyogrio.read_dataframe(out / f"{name}.fgb")
        assert back.crs.to_epsg() == 5070
        # The spatial index stores features in Hilbert-curve order: sort to compare.
        key = source.columns[0]
        back = back.sort_values(key).reset_index(drop=True)
        assert_same_layer(back, source.sort_values(key))
    assert (out / "parcels.qml").exists()


@pytest.mark.gdal
@needs_ogrinfo
@pytest.mark.parametrize("fmt, ext, epsg", [("geojson", ".geojson", 4326), ("fgb", ".fgb", 5070)])
def test_geojson_fgb_in_ogrinfo(tmp_path, layers, fmt, ext, epsg):
    out = tmp_path / fmt
    export_layers(layers, out, fmt=fmt)
    for name, source in layers.items():
        info = ogr_layers(out / f"{name}{ext}")[name]
        assert info["count"] == len(source)
        assert info["epsg"] == epsg
        assert list(info["fields"]) == [c for c in source.columns if c != "geometry"]
        assert ogr_invalid_count(out / f"{name}{ext}", name, "GEOMETRY") == 0


# --------------------------------------------------------------------------- GeoParquet, CSV


def test_geoparquet_round_trip(tmp_path, layers):
    out = tmp_path / "pq"
    export_layers(layers, out, fmt="parquet")
    for name, source in layers.items():
        path = out / f"{name}.parquet"
        geo = json.loads(pq.read_schema(path).metadata[b"geo"])
        assert geo["primary_column"] == "geometry"
        back = gpd.read_parquet(path)
        assert back.crs.to_epsg() == 5070
        assert_same_layer(back, source, check_less_precise=False)


def test_csv_centroids_and_wkt(tmp_path, layers):
    out = tmp_path / "csv"
    export_layers(layers, out, fmt="csv")
    table = pd.read_csv(out / "parcels.csv", keep_default_na=False, na_values=[""])
    source = expected(layers["parcels"])
    want = source.geometry.centroid.to_crs("EPSG:4326")
    np.testing.assert_allclose(table["lon"], want.x, atol=1e-7)
    np.testing.assert_allclose(table["lat"], want.y, atol=1e-7)
    geoms = shapely.from_wkt(table["wkt"].to_numpy())
    assert_geometries_equal(geoms, source.to_crs("EPSG:4326").geometry.values, tolerance=1e-6)
    assert table["why"].tolist() == source["why"].tolist()  # no truncation in CSV
    assert table.columns.tolist()[-3:] == ["lon", "lat", "wkt"]
    export_layers(layers, tmp_path / "nowkt", fmt="csv", csv_wkt=False)
    assert "wkt" not in pd.read_csv(tmp_path / "nowkt" / "deposits.csv").columns


@pytest.mark.gdal
@needs_ogrinfo
def test_csv_in_ogrinfo(tmp_path, layers):
    out = tmp_path / "csv"
    export_layers(layers, out, fmt="csv")
    for name, source in layers.items():
        info = ogr_layers(out / f"{name}.csv")[name]
        assert info["count"] == len(source)
        columns = [c for c in source.columns if c != "geometry"]
        assert list(info["fields"]) == [*columns, "lon", "lat", "wkt"]
        # GDAL reads the 'wkt' column as the geometry.
        assert ogr_invalid_count(out / f"{name}.csv", name, "GEOMETRY") == 0


# --------------------------------------------------------------------------- KML / KMZ


def _kml_root(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


def test_kml_names_descriptions_and_geometry(tmp_path, layers):
    (path,) = export_layers(layers, tmp_path / "r.kml", fmt="kml")
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    root = _kml_root(path.read_text(encoding="utf-8"))  # well-formed despite HOSTILE text
    folders = root.findall("k:Document/k:Folder", ns)
    assert [f.findtext("k:name", namespaces=ns) for f in folders] == list(layers)
    parcels = folders[0].findall("k:Placemark", ns)
    assert len(parcels) == 12
    assert parcels[0].findtext("k:name", namespaces=ns) == "#1 r0c0"
    desc = parcels[1].findtext("k:description", namespaces=ns)
    assert "&lt;script&gt;" in desc and "<script>" not in desc  # HTML-escaped for the balloon
    assert "]]&gt;" in desc
    dep = folders[1].findall("k:Placemark", ns)[0]
    assert dep.findtext("k:name", namespaces=ns) == HOSTILE  # text round-trips exactly
    assert dep.findtext("k:styleUrl", namespaces=ns) == "#deposit_battery"
    data = {
        d.get("name"): d.text
        for d in parcels[0].findall("k:ExtendedData/k:SchemaData/k:SimpleData", ns)
    }
    assert data["why"] == LONG_WHY and data["commodities"] == "copper; lithium"

    back = pyogrio.read_dataframe(path, layer="parcels")
    assert back.crs.to_epsg() == 4326 and len(back) == 12
    want = layers["parcels"].to_crs("EPSG:4326")
    assert_geometries_equal(back.geometry.values, want.geometry.values, tolerance=1e-6,
                            normalize=True)  # fmt: skip


def test_kmz_is_zipped_kml(tmp_path, layers):
    (kmz,) = export_layers(layers, tmp_path / "r.kmz", fmt="kmz")
    (kml,) = export_layers(layers, tmp_path / "r.kml", fmt="kml")
    with zipfile.ZipFile(kmz) as archive:
        assert archive.namelist() == ["doc.kml"]
        assert archive.read("doc.kml") == kml.read_bytes()


@pytest.mark.gdal
@needs_ogrinfo
@pytest.mark.parametrize("fmt", ["kml", "kmz"])
def test_kml_in_ogrinfo(tmp_path, layers, fmt):
    (path,) = export_layers(layers, tmp_path / f"r.{fmt}", fmt=fmt)
    info = ogr_layers(path)
    assert list(info) == list(layers)
    # GDAL's LIBKML reader drops <Schema> fields of a .kmz (Google Earth shows them);
    # read the fields from the zipped document itself.
    fields = ogr_layers(f"/vsizip/{path}/doc.kml") if fmt == "kmz" else info
    for name, source in layers.items():
        assert info[name]["count"] == len(source)
        assert info[name]["epsg"] == 4326
        # GDAL's LIBKML driver shows a 'name' attribute as the placemark's Name.
        columns = {c if c != "name" else "Name" for c in source.columns if c != "geometry"}
        assert columns <= set(fields[name]["fields"])
        assert ogr_invalid_count(path, name, "GEOMETRY") == 0
    doc = f"/vsizip/{path}/doc.kml" if fmt == "kmz" else str(path)
    names = ogrinfo(doc, "-sql", "SELECT Name FROM parcels WHERE rank = 1")
    assert "Name (String) = #1 r0c0" in names


# --------------------------------------------------------------------------- safety


SINGLE_FILE = ["gpkg", "kml", "kmz"]
ALL_OUTPUTS = [("gpkg", "r.gpkg"), ("shp", "shp"), ("shp", "r.zip"), ("geojson", "gj"),
               ("fgb", "fgb"), ("parquet", "pq"), ("csv", "csv"), ("kml", "r.kml"),
               ("kmz", "r.kmz")]  # fmt: skip


@pytest.mark.parametrize("fmt, name", ALL_OUTPUTS)
def test_existing_output_is_never_overwritten(tmp_path, layers, fmt, name):
    out = tmp_path / name
    export_layers(layers, out, fmt=fmt)
    before = _snapshot(out)
    with pytest.raises(OutputExistsError, match=r"already exists.*overwrite"):
        export_layers({"parcels": layers["parcels"]}, out, fmt=fmt)
    assert _snapshot(out) == before
    export_layers({"parcels": layers["parcels"]}, out, fmt=fmt, overwrite=True)
    assert _snapshot(out) != before
    assert _leftovers(tmp_path) == []


def _snapshot(path: Path) -> dict[str, bytes]:
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir())}
    return {path.name: path.read_bytes()}


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def _fail_after_first(monkeypatch, module, attr):
    """Make ``module.attr`` raise on its second call (after a first layer was written)."""
    real = getattr(module, attr)
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("disk on fire")
        return real(*args, **kwargs)

    monkeypatch.setattr(module, attr, flaky)
    return calls


@pytest.mark.parametrize("fmt, name, module, attr", [
    ("gpkg", "r.gpkg", pyogrio, "write_dataframe"),
    ("shp", "shp", pyogrio, "write_dataframe"),
    ("shp", "r.zip", pyogrio, "write_dataframe"),
    ("geojson", "gj", pyogrio, "write_dataframe"),
    ("fgb", "fgb", pyogrio, "write_dataframe"),
    ("parquet", "pq", geoparquet_mod, "write_geoparquet"),
    ("csv", "csv", pd.DataFrame, "to_csv"),
    ("kml", "r.kml", kml_mod, "_kml_geometry"),
    ("kmz", "r.kmz", kml_mod, "_kml_geometry"),
])  # fmt: skip
def test_failed_export_leaves_nothing(tmp_path, layers, monkeypatch, fmt, name, module, attr):
    out = tmp_path / name
    calls = _fail_after_first(monkeypatch, module, attr)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export_layers(layers, out, fmt=fmt)
    assert len(calls) == 2  # the first layer (feature) was written, the second failed
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no partial file, no temporary left behind


def test_failed_overwrite_keeps_the_old_output(tmp_path, layers, monkeypatch):
    out = tmp_path / "shp"
    export_layers(layers, out, fmt="shp")
    before = _snapshot(out)
    _fail_after_first(monkeypatch, pyogrio, "write_dataframe")
    with pytest.raises(RuntimeError):
        export_layers(layers, out, fmt="shp", overwrite=True)
    assert _snapshot(out) == before
    assert _leftovers(tmp_path) == []


def test_folder_with_other_files_is_not_replaced(tmp_path, layers):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    with pytest.raises(ProspectorError, match=r"refusing to replace the folder .*thesis\.docx"):
        export_layers(layers, out, fmt="geojson", overwrite=True)
    assert (out / "thesis.docx").read_text() == "precious"


def test_one_file_needs_one_layer(tmp_path, layers):
    with pytest.raises(ProspectorError, match=r"names one \.geojson file, but there are 5 layers"):
        export_layers(layers, tmp_path / "r.geojson", fmt="geojson")
    with pytest.raises(ProspectorError, match="Shapefile is a set of files"):
        export_layers(layers, tmp_path / "r.shp", fmt="shp")
    assert list(tmp_path.iterdir()) == []


def test_layer_names_cannot_escape_the_folder(tmp_path, layers):
    with pytest.raises(ProspectorError, match="cannot be a file name"):
        export_layers({"../evil": layers["parcels"]}, tmp_path / "out", fmt="geojson")


def test_every_format_is_documented():
    doc = Path(__file__).resolve().parents[1] / "docs" / "export.md"
    text = doc.read_text(encoding="utf-8")
    for name in FORMATS:
        assert f"`{name}`" in text, name


# --------------------------------------------------------------------------- CLI


def test_cli_export_carries_manifest(tmp_path, layers, capsys):
    from prospector.cli.main import main

    ranked = write_gpkg(layers, tmp_path / "prospects.gpkg", metadata=MANIFEST)
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(ranked), "--format", "shp", "-o", str(tmp_path / "shp")])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "parcels.shp" in printed and "parcels_fields.csv" in printed
    assert json.loads((tmp_path / "shp" / "manifest.json").read_text()) == MANIFEST
    # The export of an export is identical: the manifest and styles travel along.
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(ranked), "-f", "gpkg", "-o", str(tmp_path / "copy.gpkg")])
    assert exit_info.value.code == 0
    assert read_manifest(tmp_path / "copy.gpkg") == MANIFEST
    assert set(read_styles(tmp_path / "copy.gpkg")) == set(read_styles(ranked))

    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(ranked), "-f", "kmlz", "-o", str(tmp_path / "x")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "unknown export format 'kmlz'" in err and "Did you mean" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(ranked), "-f", "shp", "-o", str(tmp_path / "shp")])
    assert exit_info.value.code == 2
    assert "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".kml", ".kmz"])
def test_cli_kml_and_kmz_hold_every_layer(tmp_path, layers, capsys, suffix):
    """A .kml holds every layer, as a .kmz does (issue 18: .kml used to get parcels only)."""
    from prospector.cli.main import main

    ranked = write_gpkg(layers, tmp_path / "prospects.gpkg", metadata=MANIFEST)
    out = tmp_path / f"r{suffix}"
    with pytest.raises(SystemExit) as exit_info:
        main(["export", str(ranked), "-o", str(out)])
    assert exit_info.value.code == 0, capsys.readouterr().err
    if suffix == ".kmz":
        with zipfile.ZipFile(out) as archive:
            text = archive.read("doc.kml").decode("utf-8")
    else:
        text = out.read_text(encoding="utf-8")
    root = _kml_root(text)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    folders = {
        f.findtext("k:name", namespaces=ns): len(f.findall("k:Placemark", ns))
        for f in root.iter("{http://www.opengis.net/kml/2.2}Folder")
    }
    expected = {name: len(gdf) for name, gdf in layers.items() if gdf is not None and len(gdf)}
    assert folders == expected
    assert "exporting 'parcels'" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("output", "fmt", "one"),
    [
        ("top.geojson", None, True),
        ("top.json", "geojson", True),
        ("t.csv", None, True),
        ("t.fgb", None, True),
        ("t.parquet", None, True),
        ("t.kml", None, False),
        ("t.kmz", None, False),
        ("t.gpkg", None, False),
        ("t.zip", None, False),
        ("folder", "geojson", False),
        ("folder", "shp", False),
    ],
)
def test_holds_one_layer(output, fmt, one):
    assert holds_one_layer(output, fmt) is one


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
