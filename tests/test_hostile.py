"""Hostile inputs through the real CLI: clear errors (exit 2) or counted repairs (exit 0).

Every fixture is built in code under tmp_path.  Each case runs ``prospector.cli.main.main``
(the console-script entry point, which maps errors to exit codes) and checks the exit
code, that the message names the file and the fix, that no traceback is printed, and
that a failed run leaves no new or partial file behind.  ``layers fetch`` is tested
against HTTP servers on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from affine import Affine

from prospector.errors import ProspectorWarning
from prospector.export import read_manifest, read_ranked
from prospector.ingest import read_vector
from tests.httpd import Request, send, send_json

# The tiny region of conftest.py: a 10 km square in EPSG:5070 from (X0, Y0), near
# (-113.5°, 38.9°).
X0, Y0 = -1_500_000.0, 1_900_000.0
LON0, LAT0 = -113.50, 38.93
TINY_SQUARE_KM2 = 100.0

# --------------------------------------------------------------------------- helpers


def listing(directory: Path) -> list[str]:
    """Every path below *directory*, hidden ones included."""
    if not directory.exists():
        return []
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*"))


def deposits_frame(points: list[tuple[float, float]], crs: Any = "EPSG:4326", **columns: Any):
    n = len(points)
    data = {
        "site_id": [f"s{i}" for i in range(n)],
        "name": [f"Site {i}" for i in range(n)],
        "commodity_codes": ["Cu"] * n,
        "dev_status": ["prospect"] * n,
        "source": ["test"] * n,
    }
    data.update(columns)
    return gpd.GeoDataFrame(data, geometry=shapely.points(points), crs=crs)


def areas_frame(n: int = 3, crs: Any = "EPSG:4326", **columns: Any) -> gpd.GeoDataFrame:
    """Withdrawals in lon/lat: every canonical column name fits a shapefile's 10 characters."""
    data = {
        "name": [f"Area {i}" for i in range(n)],
        "kind": ["wilderness"] * n,
        "agency": ["BLM"] * n,
        "source": ["test"] * n,
    }
    data.update(columns)
    geoms = [
        shapely.box(LON0 + 0.02 * i, LAT0, LON0 + 0.02 * i + 0.01, LAT0 + 0.01) for i in range(n)
    ]
    return gpd.GeoDataFrame(data, geometry=geoms, crs=crs)


def lonlat_points(n: int = 3) -> list[tuple[float, float]]:
    return [(LON0 + 0.01 * i, LAT0 + 0.01 * i) for i in range(n)]


def write_gpkg(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    pyogrio.write_dataframe(gdf, path, layer=path.stem, driver="GPKG")
    return path


def write_shp(gdf: gpd.GeoDataFrame, path: Path, **kwargs: Any) -> Path:
    pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", **kwargs)
    return path


# --------------------------------------------------------------- `layers check` cases


def _shapefile_without(part: str, name: str) -> Callable[[Path], Path]:
    """A case: the shapefile *name* written whole, then its *part* (``.prj``...) removed."""

    def build(tmp: Path) -> Path:
        path = write_shp(areas_frame(), tmp / name)
        path.with_suffix(part).unlink()
        return path

    return build


_missing_crs = _shapefile_without(".prj", "nocrs.shp")
_missing_shx = _shapefile_without(".shx", "noshx.shp")
_missing_dbf = _shapefile_without(".dbf", "nodbf.shp")


def _swapped(tmp: Path) -> Path:
    return write_gpkg(
        deposits_frame([(lat, lon) for lon, lat in lonlat_points()]), tmp / "swapped.gpkg"
    )


def _projected_as_4326(tmp: Path) -> Path:
    points = [(X0 + 1000.0 * i, Y0 + 1000.0 * i) for i in range(3)]
    return write_gpkg(deposits_frame(points, crs="EPSG:4326"), tmp / "metres.gpkg")


def _lonlat_as_projected(tmp: Path) -> Path:
    return write_gpkg(deposits_frame(lonlat_points(), crs="EPSG:5070"), tmp / "degrees.gpkg")


def _longitudes_0_360(tmp: Path) -> Path:
    points = [(lon + 360.0, lat) for lon, lat in lonlat_points()]
    return write_gpkg(deposits_frame(points), tmp / "east360.gpkg")


def _mixed_geometry(tmp: Path) -> Path:
    gdf = deposits_frame(lonlat_points())
    gdf.loc[1, "geometry"] = shapely.box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01)
    return write_gpkg(gdf, tmp / "mixed.gpkg")


def _empty(tmp: Path) -> Path:
    return write_gpkg(deposits_frame(lonlat_points()).iloc[:0], tmp / "empty.gpkg")


def _duplicate_ids(tmp: Path) -> Path:
    gdf = deposits_frame(lonlat_points(4))
    gdf.loc[[1, 3], "site_id"] = "dup-7"
    return write_gpkg(gdf, tmp / "dups.gpkg")


def _missing_field(tmp: Path) -> Path:
    return write_gpkg(deposits_frame(lonlat_points()).drop(columns="dev_status"), tmp / "nf.gpkg")


def _truncated_shp(tmp: Path) -> Path:
    path = write_shp(areas_frame(), tmp / "cut.shp")
    data = path.read_bytes()
    path.write_bytes(data[:-12])  # the last point loses its coordinates
    return path


def _not_a_gpkg(tmp: Path) -> Path:
    path = tmp / "garbage.gpkg"
    path.write_bytes(b"<html>502 Bad Gateway</html>" * 10)
    return path


def _absent(tmp: Path) -> Path:
    return tmp / "nowhere.gpkg"


def _polygons(tmp: Path, name: str, geoms: list[shapely.Geometry]) -> Path:
    gdf = gpd.GeoDataFrame(
        {
            "name": [f"Area {i}" for i in range(len(geoms))],
            "kind": ["wilderness"] * len(geoms),
            "agency": ["BLM"] * len(geoms),
            "source": ["test"] * len(geoms),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    return write_gpkg(gdf, tmp / name)


def _invalid_polygons(tmp: Path) -> Path:
    bowtie = shapely.Polygon([(LON0, LAT0), (LON0 + 0.02, LAT0 + 0.02),
                              (LON0 + 0.02, LAT0), (LON0, LAT0 + 0.02)])  # fmt: skip
    spike = shapely.Polygon([(LON0, LAT0), (LON0 + 0.03, LAT0), (LON0 + 0.03, LAT0 + 0.03),
                             (LON0, LAT0 + 0.03), (LON0 + 0.04, LAT0 + 0.015), (LON0, LAT0)])  # fmt: skip
    good = shapely.box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01)
    assert not bowtie.is_valid and not spike.is_valid
    return _polygons(tmp, "invalid.gpkg", [bowtie, good, spike])


def _null_geometries(tmp: Path) -> Path:
    gdf = deposits_frame(lonlat_points(3))
    gdf.loc[1, "geometry"] = None
    return write_gpkg(gdf, tmp / "nulls.gpkg")


def _unknown_codes(tmp: Path) -> Path:
    gdf = deposits_frame(lonlat_points(3), commodity_codes=["Cu", "XYZZY", "Cu; QQQ"])
    return write_gpkg(gdf, tmp / "codes.gpkg")


def _antimeridian(tmp: Path) -> Path:
    ring = [(179.5, 51.5), (-179.5, 51.5), (-179.5, 52.0), (179.5, 52.0)]
    return _polygons(tmp, "aleutians.gpkg", [shapely.Polygon(ring)])


def _latin1_no_cpg(tmp: Path) -> Path:
    gdf = areas_frame(2, name=["Peña Blanca", "Cañon"])
    path = write_shp(gdf, tmp / "latin1.shp", encoding="ISO-8859-1")
    path.with_suffix(".cpg").unlink()
    dbf = bytearray(path.with_suffix(".dbf").read_bytes())
    dbf[29] = 0  # no language driver id either: the code page is declared nowhere
    path.with_suffix(".dbf").write_bytes(bytes(dbf))
    return path


def _latin1_cpg_says_utf8(tmp: Path) -> Path:
    gdf = areas_frame(2, name=["Peña Blanca", "Cañon"])
    path = write_shp(gdf, tmp / "liar.shp", encoding="ISO-8859-1")
    path.with_suffix(".cpg").write_text("UTF-8")
    return path


def _utf8_no_cpg(tmp: Path) -> Path:
    gdf = areas_frame(2, name=["Peña Blanca", "Cañon"])
    path = write_shp(gdf, tmp / "utf8.shp")
    path.with_suffix(".cpg").unlink()
    return path


@dataclass
class CheckCase:
    build: Callable[[Path], Path]
    role: str
    code: int
    expect: tuple[str, ...]


CHECK_CASES: dict[str, CheckCase] = {
    "missing-crs": CheckCase(_missing_crs, "withdrawals", 2, ("nocrs.shp", "has no CRS", "ogr2ogr -a_srs")),
    "lonlat-swapped": CheckCase(_swapped, "deposits", 2, ("swapped.gpkg", "3 of 3 features", "look swapped", "Swap the coordinate columns")),
    "projected-labelled-4326": CheckCase(_projected_as_4326, "deposits", 2, ("metres.gpkg", "EPSG:4326 (degrees)", "projected metres or feet", "Assign the CRS")),
    "lonlat-labelled-projected": CheckCase(_lonlat_as_projected, "deposits", 2, ("degrees.gpkg", "EPSG:5070", "look like longitude/latitude", "Assign EPSG:4326")),
    "longitudes-0-360": CheckCase(_longitudes_0_360, "deposits", 2, ("east360.gpkg", "0..360", "subtract 360")),
    "mixed-geometry": CheckCase(_mixed_geometry, "deposits", 2, ("mixed.gpkg", "Polygon ×1", "need Point", "rows [1]", "Split the layer")),
    "empty-layer": CheckCase(_empty, "deposits", 2, ("empty.gpkg", "the layer is empty (0 features", "remove the layer")),
    "duplicate-ids": CheckCase(_duplicate_ids, "deposits", 2, ("dups.gpkg", "2 features share a 'site_id'", "dup-7", "rows [1, 3]", "Ids must be unique")),
    "missing-field": CheckCase(_missing_field, "deposits", 2, ("nf.gpkg", "column(s) 'dev_status' missing", "Fields in the file", "not in the canonical deposits schema")),
    "shapefile-no-shx": CheckCase(_missing_shx, "withdrawals", 2, ("noshx.shp", "missing its .shx", "Copy every file")),
    "shapefile-no-dbf": CheckCase(_missing_dbf, "withdrawals", 2, ("nodbf.shp", "missing its .dbf", "attribute table")),
    "shapefile-truncated": CheckCase(_truncated_shp, "withdrawals", 2, ("cut.shp", "truncated", "Re-download or re-export")),
    "not-a-geopackage": CheckCase(_not_a_gpkg, "deposits", 2, ("garbage.gpkg", "cannot read", "complete vector dataset")),
    "file-missing": CheckCase(_absent, "deposits", 2, ("nowhere.gpkg", "does not exist")),
    "invalid-polygons-repaired": CheckCase(_invalid_polygons, "withdrawals", 0, ("invalid.gpkg", "repaired 2 invalid geometries", "rows: [0, 2]", "3 of 3 features kept, 2 repaired")),
    "null-geometries-dropped": CheckCase(_null_geometries, "deposits", 0, ("nulls.gpkg", "dropped 1 of 3 features with null or empty geometry", "rows: [1]", "2 of 3 features kept")),
    "unknown-commodity-codes": CheckCase(_unknown_codes, "deposits", 0, ("codes.gpkg", "2 occurrences of 2 unmapped commodity codes", "XYZZY", "QQQ", "2 unmapped commodity codes")),
    "antimeridian-split": CheckCase(_antimeridian, "withdrawals", 0, ("aleutians.gpkg", "split 1 geometries that cross the antimeridian", "1 of 1 features kept")),
    "latin1-without-cpg": CheckCase(_latin1_no_cpg, "withdrawals", 0, ("latin1.shp", "2 of 2 features kept")),
    "latin1-cpg-says-utf8": CheckCase(_latin1_cpg_says_utf8, "withdrawals", 0, ("liar.shp", "read it as ISO-8859-1", ".cpg", "2 of 2 features kept")),
    "utf8-without-cpg": CheckCase(_utf8_no_cpg, "withdrawals", 0, ("utf8.shp", "the text is UTF-8", "Add a .cpg", "2 of 2 features kept")),
}  # fmt: skip


@pytest.mark.parametrize("case", CHECK_CASES.values(), ids=CHECK_CASES.keys())
def test_layers_check_hostile(case: CheckCase, cli, tmp_path: Path) -> None:
    path = case.build(tmp_path)
    before = listing(tmp_path)

    run = cli("layers", "check", path, "--as", case.role)

    assert run.code == case.code, run.text
    for fragment in case.expect:
        assert fragment in run.text, f"{fragment!r} not in:\n{run.text}"
    if case.code == 2:
        assert run.err.startswith("error: ")
        assert run.out == ""
    else:
        assert run.out.startswith("OK: ")
    assert listing(tmp_path) == before  # checking never writes


@pytest.mark.parametrize(
    ("build", "notes"),
    [
        (_latin1_no_cpg, 0),  # GDAL assumes ISO-8859-1 when nothing is declared: right
        (_latin1_cpg_says_utf8, 1),  # invalid UTF-8: detected, read again as ISO-8859-1
        (_utf8_no_cpg, 1),  # UTF-8 decoded as ISO-8859-1 ('PeÃ±a'): detected, read as UTF-8
    ],
    ids=["latin1-no-cpg", "latin1-cpg-says-utf8", "utf8-no-cpg"],
)
def test_shapefile_text_encoding_is_decoded(build, notes: int, tmp_path: Path) -> None:
    path = build(tmp_path)
    # filterwarnings = error: an unexpected warning fails the test.
    with pytest.warns(ProspectorWarning) if notes else contextlib.nullcontext():
        gdf = read_vector(path)
    assert gdf["name"].tolist() == ["Peña Blanca", "Cañon"]


def test_invalid_polygon_repair_keeps_area(tmp_path: Path) -> None:
    from prospector.catalog import inline_entry
    from prospector.errors import GeometryRepairWarning
    from prospector.ingest import normalize_layer

    path = _invalid_polygons(tmp_path)
    raw = read_vector(path)
    entry = inline_entry({"role": "withdrawals"}, where="test", path=path)
    with pytest.warns(GeometryRepairWarning, match="repaired 2 invalid geometries"):
        gdf, report = normalize_layer(raw, entry, where=str(path))
    assert report.n_repaired == 2 and report.n_repair_dropped == 0
    assert gdf.geometry.is_valid.all()
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    # The bowtie becomes its two triangles: half the bounding square each.
    assert gdf.geometry.iloc[0].area == pytest.approx(0.02 * 0.02 / 2)


def test_antimeridian_polygon_is_split_not_world_spanning(tmp_path: Path) -> None:
    from prospector.crs import split_antimeridian
    from prospector.errors import GeometryRepairWarning

    raw = read_vector(_antimeridian(tmp_path))
    assert raw.geometry.iloc[0].bounds[2] - raw.geometry.iloc[0].bounds[0] > 358  # as read
    with pytest.warns(GeometryRepairWarning, match="split 1 geometries"):
        fixed = split_antimeridian(raw, where="test")
    parts = shapely.get_parts(fixed.geometry.iloc[0])
    assert sorted(p.bounds for p in parts) == [
        (-180.0, 51.5, -179.5, 52.0),
        (179.5, 51.5, 180.0, 52.0),
    ]
    alaska = fixed.to_crs("EPSG:3338").geometry.iloc[0]
    width_km = (alaska.bounds[2] - alaska.bounds[0]) / 1000
    # 1° of longitude by 0.5° of latitude at 51.75°N: about 69 km by 56 km.
    assert 60 < width_km < 120  # bounds of a shape rotated ~20° in Alaska Albers
    assert alaska.area / 1e6 == pytest.approx(111.3 * 0.619 * 111.2 * 0.5, rel=0.02)


# ----------------------------------------------------------------- `rank` cases


def _dem(
    path: Path, *, crs: Any, transform: Any, data: np.ndarray, nodata: float = -9999.0
) -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
        dtype="float32", crs=crs, transform=transform, nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(data.astype("float32"), 1)
    return path


def _ramp(n: int = 12) -> np.ndarray:
    return np.add.outer(np.arange(n) * 40.0, np.arange(n) * 20.0) + 1500.0


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


DEM_5070 = {"crs": "EPSG:5070", "transform": from_origin(X0 - 1000, Y0 + 11_000, 1000, 1000)}
RASTER_LAYER = '\n[[layers]]\nrole = "raster"\npath = "{name}"\n[layers.raster]\nkind = "dem"\n'


def _config(tmp: Path, text: str) -> Path:
    path = tmp / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class RankCase:
    setup: Callable[[Path, Callable[..., Path]], tuple[Path, list[str]]]
    code: int
    expect: tuple[str, ...]
    out_name: str = "out"


def _typo_config(tmp, tiny_region):
    cfg = _config(tmp, '[score]\nwieghts = { value = 1.0 }\nmethod = "wlcc"\n')
    return tiny_region(), ["--config", cfg]


def _negative_weight(tmp, tiny_region):
    cfg = _config(tmp, "[score.weights]\nvalue = -1.0\naccess = 1.0\n")
    return tiny_region(), ["--config", cfg]


def _nan_weight(tmp, tiny_region):
    cfg = _config(tmp, "[score.weights]\nvalue = nan\naccess = 1.0\n")
    return tiny_region(), ["--config", cfg]


def _zero_weights(tmp, tiny_region):
    cfg = _config(tmp, "[score.weights]\nvalue = 0.0\naccess = 0.0\nevidence = 0.0\n")
    return tiny_region(), ["--config", cfg]


def _raster_all_nodata(tmp, tiny_region):
    _dem(tmp / "dem.tif", data=np.full((12, 12), -9999.0), **DEM_5070)
    return tiny_region(RASTER_LAYER.format(name="dem.tif")), []


def _raster_without_crs(tmp, tiny_region):
    _dem(tmp / "dem.tif", data=_ramp(), crs=None, transform=DEM_5070["transform"])
    return tiny_region(RASTER_LAYER.format(name="dem.tif")), []


def _raster_projected_labelled_degrees(tmp, tiny_region):
    _dem(tmp / "dem.tif", data=_ramp(), crs="EPSG:4326", transform=DEM_5070["transform"])
    return tiny_region(RASTER_LAYER.format(name="dem.tif")), []


def _raster_elsewhere(tmp, tiny_region):
    # A DEM of the Alps labelled correctly: it does not overlap the region at all.
    _dem(
        tmp / "dem.tif", data=_ramp(), crs="EPSG:4326", transform=from_origin(7.0, 46.5, 0.01, 0.01)
    )
    return tiny_region(RASTER_LAYER.format(name="dem.tif")), []


def _unwritable_output(tmp, tiny_region):
    (tmp / "afile").write_text("a regular file, not a folder")
    return tiny_region(), []


def _layer_with_missing_crs(tmp, tiny_region):
    _missing_crs(tmp)
    return tiny_region('\n[[layers]]\nrole = "withdrawals"\npath = "nocrs.shp"\n'), []


def _truncated_shapefile_layer(tmp, tiny_region):
    _truncated_shp(tmp)
    return tiny_region('\n[[layers]]\nrole = "withdrawals"\npath = "cut.shp"\n'), []


def _duplicate_ids_layer(tmp, tiny_region):
    deposits = deposits_frame(
        [(X0 + 1000.0, Y0 + 1000.0), (X0 + 2000.0, Y0 + 2000.0)], crs="EPSG:5070",
        site_id=["same", "same"],
    )  # fmt: skip
    return tiny_region(deposits=deposits), []


def _boundary_without_crs(tmp, tiny_region):
    region = tiny_region()
    gdf = read_vector(tmp / "boundary.gpkg")
    gdf = gdf.set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        pyogrio.write_dataframe(gdf, tmp / "boundary.gpkg", layer="boundary", driver="GPKG")
    return region, []


def _config_region_typo(tmp, tiny_region):
    region = tiny_region()
    region.write_text(region.read_text().replace('role = "withdrawals"', 'role = "withdrawls"'))
    return region, []


RANK_CASES: dict[str, RankCase] = {
    "config-typo": RankCase(_typo_config, 2, ("config.toml", "unknown key 'wieghts'. Did you mean 'weights'?", "Did you mean 'wlc'?")),
    "region-role-typo": RankCase(_config_region_typo, 2, ("tiny.toml", "[[layers]] #2", "Did you mean 'withdrawals'?")),
    "negative-weight": RankCase(_negative_weight, 2, ("score.weights.value must be a finite number >= 0; got -1.0",)),
    "nan-weight": RankCase(_nan_weight, 2, ("score.weights.value must be a finite number >= 0; got nan",)),
    "all-zero-weights": RankCase(_zero_weights, 2, ("score.weights: all weights are zero",)),
    "raster-all-nodata": RankCase(_raster_all_nodata, 2, ("dem.tif", "every cell is NoData (-9999.0)", "remove it from the region")),
    "raster-without-crs": RankCase(_raster_without_crs, 2, ("dem.tif", "the raster has no CRS", "gdal_edit.py -a_srs")),
    "raster-projected-labelled-degrees": RankCase(_raster_projected_labelled_degrees, 2, ("dem.tif", "(degrees)", "projected metres")),
    "raster-outside-region": RankCase(_raster_elsewhere, 2, ("dem.tif", "does not overlap the region", "Check its CRS")),
    "layer-missing-crs": RankCase(_layer_with_missing_crs, 2, ("nocrs.shp", "has no CRS")),
    "layer-truncated-shapefile": RankCase(_truncated_shapefile_layer, 2, ("cut.shp", "truncated")),
    "duplicate-ids": RankCase(_duplicate_ids_layer, 2, ("deposits.gpkg", "share a 'site_id'", "same")),
    "boundary-missing-crs": RankCase(_boundary_without_crs, 2, ("boundary.gpkg", "has no CRS")),
    "unwritable-output": RankCase(_unwritable_output, 2, ("cannot create the output folder", "afile"), out_name="afile/sub"),
}  # fmt: skip


@pytest.mark.parametrize("case", RANK_CASES.values(), ids=RANK_CASES.keys())
def test_rank_hostile(case: RankCase, cli, tmp_path: Path, tiny_region) -> None:
    region, extra = case.setup(tmp_path, tiny_region)
    out = tmp_path / case.out_name
    before = listing(tmp_path)

    run = cli("rank", "--region", region, "--out", out, "--no-map", *extra)

    assert run.code == case.code, run.text
    assert run.err.startswith("error: ")
    for fragment in case.expect:
        assert fragment in run.err, f"{fragment!r} not in:\n{run.err}"
    assert listing(tmp_path) == before  # no output folder, no partial or temporary file


def test_rank_refuses_to_overwrite_and_leaves_existing_output_untouched(
    cli, tmp_path: Path, tiny_region
) -> None:
    region = tiny_region()
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "prospects.gpkg"
    existing.write_bytes(b"results of last week's run")
    before = listing(tmp_path)

    run = cli("rank", "--region", region, "--out", out, "--no-map")

    assert run.code == 2
    assert f"{existing} already exists; pass --overwrite" in run.err
    assert existing.read_bytes() == b"results of last week's run"
    assert listing(tmp_path) == before

    run = cli("rank", "--region", region, "--out", out, "--no-map", "--overwrite")
    assert run.code == 0, run.text
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "prospects.gpkg",
        "targets.csv",
    ]
    assert read_ranked(existing)["parcels"]["rank"].tolist()[:3] == [1, 2, 3]


def test_rank_raster_in_another_crs_is_used(cli, tmp_path: Path, tiny_region) -> None:
    # A lon/lat DEM over a region in EPSG:5070: parcels are reprojected to the raster.
    _dem(tmp_path / "dem.tif", data=_ramp(30), crs="EPSG:4326",
         transform=from_origin(LON0 - 0.1, LAT0 + 0.1, 0.01, 0.01))  # fmt: skip
    region = tiny_region(RASTER_LAYER.format(name="dem.tif"))

    run = cli("rank", "--region", region, "--out", tmp_path / "out", "--no-map")

    assert run.code == 0, run.text
    parcels = read_ranked(tmp_path / "out" / "prospects.gpkg")["parcels"]
    assert parcels["slope_mean_deg"].notna().all()
    assert (parcels["slope_mean_deg"] > 0).all()


def test_rank_counts_features_outside_the_region(cli, tmp_path: Path, tiny_region) -> None:
    far = [(X0 + 1_000_000.0 + 1000.0 * i, Y0) for i in range(2)]  # 1,000 km east
    inside = [(X0 + 1500.0, Y0 + 1500.0), (X0 + 8500.0, Y0 + 8500.0)]
    deposits = deposits_frame(inside + far, crs="EPSG:5070")
    write_gpkg(deposits_frame(far, crs="EPSG:5070"), tmp_path / "faraway.gpkg")
    region = tiny_region(
        '\n[[layers]]\nrole = "deposits"\npath = "faraway.gpkg"\nname = "faraway"\n',
        deposits=deposits,
    )
    # Sites of the far layer must not collide with the main layer's ids.
    far_layer = read_vector(tmp_path / "faraway.gpkg")
    far_layer["site_id"] = ["f0", "f1"]
    write_gpkg(far_layer, tmp_path / "faraway.gpkg")

    run = cli("rank", "--region", region, "--out", tmp_path / "out", "--no-map")

    assert run.code == 0, run.text
    assert (
        "faraway.gpkg: dropped 2 of 2 deposits features that lie outside the search area" in run.err
    )
    assert "none is left, so the layer is not used" in run.err
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    layers = {layer["path"].rsplit("/", 1)[-1]: layer for layer in manifest["layers"]}
    assert layers["deposits.gpkg"]["n_read"] == 4
    assert layers["deposits.gpkg"]["n_outside_region"] == 2
    assert layers["deposits.gpkg"]["n_kept"] == 2
    assert layers["faraway.gpkg"]["n_outside_region"] == 2
    ranked = read_ranked(tmp_path / "out" / "prospects.gpkg")
    assert sorted(ranked["deposits"]["site_id"]) == ["s0", "s1"]


def _alaska_region(tmp: Path, work_crs: str | None) -> Path:
    ring = [(179.8, 51.5), (-179.8, 51.5), (-179.8, 51.7), (179.8, 51.7)]
    gpd.GeoDataFrame({"name": ["Aleutians"]}, geometry=[shapely.Polygon(ring)],
                     crs="EPSG:4326").to_file(tmp / "aleutians.gpkg", engine="pyogrio")  # fmt: skip
    write_gpkg(deposits_frame([(179.9, 51.6), (-179.9, 51.6)]), tmp / "sites.gpkg")
    text = 'name = "aleutians"\n' + (f'work_crs = "{work_crs}"\n' if work_crs else "")
    text += '[boundary]\npath = "aleutians.gpkg"\n\n[[layers]]\nrole = "deposits"\npath = "sites.gpkg"\n'
    path = tmp / "aleutians.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_rank_alaska_needs_alaska_albers(cli, tmp_path: Path) -> None:
    region = _alaska_region(tmp_path, None)
    before = listing(tmp_path)

    run = cli("rank", "--region", region, "--out", tmp_path / "out", "--no-map")

    assert run.code == 2
    assert "aleutians.gpkg" in run.err
    assert "outside the area of use of the work CRS EPSG:5070" in run.err
    assert "EPSG:3338 for Alaska" in run.err
    assert listing(tmp_path) == before


def test_rank_across_the_antimeridian_in_alaska_albers(cli, tmp_path: Path) -> None:
    region = _alaska_region(tmp_path, "EPSG:3338")

    run = cli("rank", "--region", region, "--out", tmp_path / "out", "--no-map")

    assert run.code == 0, run.text
    assert "split 1 geometries that cross the antimeridian" in run.err
    layers = read_ranked(tmp_path / "out" / "prospects.gpkg")
    boundary = layers["boundary"].geometry.iloc[0]
    assert layers["boundary"].crs.to_epsg() == 3338
    xmin, _, xmax, _ = boundary.bounds
    assert (xmax - xmin) / 1000 < 40  # 0.4° of longitude ≈ 28 km, not a world-wide sliver
    area_km2 = 111.3 * 0.4 * np.cos(np.radians(51.6)) * 111.2 * 0.2
    assert boundary.area / 1e6 == pytest.approx(area_km2, rel=0.02)
    parcels = layers["parcels"]
    total = (
        parcels["area_km2"].sum()
        + layers.get("excluded_parcels", parcels.iloc[:0])["area_km2"].sum()
    )
    assert total == pytest.approx(boundary.area / 1e6, rel=1e-6)
    assert parcels["n_deposits"].sum() == 2  # one site on each side of 180°


# ------------------------------------------------------------------ layers fetch

ZIP_SITES = [
    ("A-1", "Peña Blanca", "Cu", "Producer", (LON0 + 0.01, LAT0 + 0.01)),
    ("A-2", "Lucky Strike", "Li", "Occurrence", (LON0 + 0.05, LAT0 + 0.03)),
    ("A-3", "Far Away", "Cu", "Producer", (-81.0, 27.0)),  # Florida: outside the region
]


def _sites_zip(tmp: Path) -> bytes:
    folder = tmp / "zipsrc"
    folder.mkdir()
    gdf = gpd.GeoDataFrame(
        {"SITE_ID": [s[0] for s in ZIP_SITES], "SITE_NAME": [s[1] for s in ZIP_SITES],
         "COMMOD": [s[2] for s in ZIP_SITES], "DEV_STAT": [s[3] for s in ZIP_SITES]},
        geometry=shapely.points([s[4] for s in ZIP_SITES]), crs="EPSG:4326",
    )  # fmt: skip
    write_shp(gdf, folder / "sites.shp", encoding="ISO-8859-1")
    (folder / "sites.cpg").unlink()
    archive = tmp / "sites.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(folder.iterdir()):
            zf.write(file, arcname=f"SITES/{file.name}")
        zf.writestr("SITES/README.txt", "Test sites, public domain.")
    return archive.read_bytes()


def _catalog(tmp: Path, name: str, download: str, body: str) -> Path:
    layers = tmp / "layers"
    (layers / "catalog").mkdir(parents=True, exist_ok=True)
    (layers / "regions").mkdir(exist_ok=True)
    (layers / "catalog" / f"{name}.toml").write_text(
        f'name = "{name}"\ntitle = "Test {name}"\npublisher = "Test"\nlicence = "public domain"\n'
        f'url = "http://127.0.0.1/"\nformat = "test"\n{body}\n{download}\n',
        encoding="utf-8",
    )
    return layers


SITES_ENTRY = """role = "deposits"
[fields]
site_id = "SITE_ID"
name = "SITE_NAME"
commodity_codes = "COMMOD"
dev_status = "DEV_STAT"
[values.dev_status]
Producer = "producer"
Occurrence = "occurrence"
[options]
id_prefix = "test"
"""


def test_fetch_zipped_shapefile_then_rank(
    cli, server, tmp_path: Path, tiny_region, monkeypatch
) -> None:
    app, base = server.app, server.base
    payload = _sites_zip(tmp_path)
    app.routes["/dl/sites.zip"] = lambda h, r: send(h, 200, payload)
    sha = hashlib.sha256(payload).hexdigest()
    layers = _catalog(
        tmp_path,
        "test-sites",
        f'[download]\nkind = "file"\nurl = "{base}/dl/sites.zip"\nsha256 = "{sha}"',
        SITES_ENTRY,
    )
    monkeypatch.setenv("PROSPECTOR_LAYERS", str(layers))
    region = tiny_region()
    cache = tmp_path / "cache"

    run = cli("layers", "fetch", "test-sites", "--region", region, "--cache", cache)

    assert run.code == 0, run.text
    written = tmp_path / "data" / "test-sites.gpkg"
    assert f"wrote {written}: 2 features of 'test-sites'" in run.out
    assert 'source = "test-sites"\npath = "data/test-sites.gpkg"' in run.err
    fetched = read_vector(written)
    assert fetched["SITE_ID"].tolist() == ["A-1", "A-2"]  # Florida is not near the region
    assert fetched["SITE_NAME"].tolist() == ["Peña Blanca", "Lucky Strike"]  # latin-1 DBF
    assert fetched.crs.to_epsg() == 4326
    assert app.hits["/dl/sites.zip"] == 1
    assert listing(tmp_path / "data") == ["test-sites.gpkg"]

    # The region can use it straight away, with the catalogue's field mapping.
    region.write_text(
        region.read_text() + '\n[[layers]]\nsource = "test-sites"\npath = "data/test-sites.gpkg"\n'
    )
    run = cli("rank", "--region", region, "--out", tmp_path / "out", "--no-map")
    assert run.code == 0, run.text
    deposits = read_ranked(tmp_path / "out" / "prospects.gpkg")["deposits"]
    assert {"test:A-1", "test:A-2"} <= set(deposits["site_id"])
    assert "Peña Blanca" in set(deposits["name"])

    # Now that the region lists it, a second fetch leaves the file alone (nothing is
    # downloaded or overwritten without --overwrite).
    before = written.read_bytes()
    run = cli("layers", "fetch", "test-sites", "--region", region, "--cache", cache)
    assert run.code == 0 and "present" in run.err
    assert written.read_bytes() == before
    run = cli("layers", "fetch", "test-sites", "--region", region, "--cache", cache, "--overwrite")
    assert run.code == 0, run.text
    assert app.hits["/dl/sites.zip"] == 1  # served from the checksummed cache


def test_fetch_checksum_mismatch_writes_nothing(
    cli, server, tmp_path: Path, tiny_region, monkeypatch
) -> None:
    app, base = server.app, server.base
    payload = _sites_zip(tmp_path)
    app.routes["/dl/sites.zip"] = lambda h, r: send(h, 200, payload)
    layers = _catalog(
        tmp_path,
        "test-sites",
        f'[download]\nkind = "file"\nurl = "{base}/dl/sites.zip"\nsha256 = "{"0" * 64}"',
        SITES_ENTRY,
    )
    monkeypatch.setenv("PROSPECTOR_LAYERS", str(layers))
    region = tiny_region()

    run = cli("layers", "fetch", "test-sites", "--region", region, "--cache", tmp_path / "cache")

    assert run.code == 2
    assert "Checksum mismatch" in run.err or "checksum" in run.err.lower()
    assert listing(tmp_path / "cache") == []
    assert not (tmp_path / "data").exists()


def test_fetch_arcgis_pages(cli, server, tmp_path: Path, tiny_region, monkeypatch) -> None:
    app, base = server.app, server.base
    layer = "/arcgis/rest/services/Test/MapServer/0"
    rings = [
        shapely.box(LON0 + 0.01 * i, LAT0, LON0 + 0.01 * i + 0.005, LAT0 + 0.005) for i in range(5)
    ]
    features = [
        {"type": "Feature", "id": i + 1,
         "geometry": shapely.geometry.mapping(ring),
         "properties": {"OBJECTID": i + 1, "NAME": f"Closed area {i + 1}"}}
        for i, ring in enumerate(rings)
    ]  # fmt: skip
    meta = {
        "id": 0, "name": "Closed", "type": "Feature Layer",
        "geometryType": "esriGeometryPolygon", "objectIdField": "OBJECTID", "maxRecordCount": 2,
        "supportedQueryFormats": "JSON, geoJSON", "advancedQueryCapabilities": {"supportsPagination": True},
        "fields": [{"name": "OBJECTID", "type": "esriFieldTypeOID"}, {"name": "NAME", "type": "esriFieldTypeString"}],
    }  # fmt: skip
    app.routes[layer] = lambda h, r: send_json(h, meta)

    def query(handler: BaseHTTPRequestHandler, request: Request) -> None:
        offset, count = (
            int(request.params["resultOffset"]),
            int(request.params["resultRecordCount"]),
        )
        page = features[offset : offset + count]
        send_json(handler, {"type": "FeatureCollection", "features": page,
                             "exceededTransferLimit": offset + count < len(features)})  # fmt: skip

    app.routes[layer + "/query"] = query
    body = 'role = "withdrawals"\n[fields]\nname = "NAME"\n[constants]\nkind = "other"\n'
    layers = _catalog(
        tmp_path, "test-closed", f'[download]\nkind = "arcgis"\nurl = "{base}{layer}"', body
    )
    monkeypatch.setenv("PROSPECTOR_LAYERS", str(layers))
    region = tiny_region()
    out = tmp_path / "fetched" / "closed.gpkg"

    run = cli("layers", "fetch", "test-closed", "--region", region, "--out", out)

    assert run.code == 0, run.text
    fetched = read_vector(out)
    assert fetched["NAME"].tolist() == [f"Closed area {i}" for i in range(1, 6)]
    assert shapely.equals(fetched.geometry.values, np.array(rings)).all()
    queries = [r.params for r in app.requests(layer + "/query")]
    assert [q["resultOffset"] for q in queries] == ["0", "2", "4"]
    west, south, east, north = (float(v) for v in queries[0]["geometry"].split(","))
    # The region's envelope plus the 200 km access search radius, in lon/lat.
    assert west < LON0 - 2 and east > LON0 + 2 and south < LAT0 - 1.5 and north > LAT0 + 1.5
    assert west > LON0 - 3.5 and north < LAT0 + 2.5
    assert read_manifest(out) is None  # the raw layer carries no run manifest
    assert listing(tmp_path / "fetched") == ["closed.gpkg"]


@pytest.mark.parametrize(
    ("name", "download", "expect"),
    [
        ("test-sitez", None, "no catalogue entry 'test-sitez'. Did you mean 'test-sites'?"),
        ("test-sites", "", "has no [download] table"),
        (
            "test-sites",
            '[download]\nkind = "ftp"\nurl = "ftp://x"',
            'needs kind = "file" or "arcgis"',
        ),
    ],
    ids=["unknown-entry", "no-download-table", "bad-download-kind"],
)
def test_fetch_catalogue_errors(
    cli, tmp_path: Path, tiny_region, monkeypatch, name, download, expect
) -> None:
    layers = _catalog(tmp_path, "test-sites", download or "", SITES_ENTRY)
    monkeypatch.setenv("PROSPECTOR_LAYERS", str(layers))
    region = tiny_region()
    before = listing(tmp_path)

    run = cli("layers", "fetch", name, "--region", region)

    assert run.code == 2
    assert expect in run.err
    assert listing(tmp_path) == before


def test_fetch_server_error_is_clean(cli, server, tmp_path: Path, tiny_region, monkeypatch) -> None:
    app, base = server.app, server.base
    app.routes["/dl/sites.zip"] = lambda h, r: send(h, 503, b"maintenance")
    layers = _catalog(
        tmp_path,
        "test-sites",
        f'[download]\nkind = "file"\nurl = "{base}/dl/sites.zip"',
        SITES_ENTRY,
    )
    monkeypatch.setenv("PROSPECTOR_LAYERS", str(layers))
    region = tiny_region()

    run = cli(
        "layers",
        "fetch",
        "test-sites",
        "--region",
        region,
        "--cache",
        tmp_path / "cache",
        "--retries",
        "0",
    )

    assert run.code == 2
    assert f"{base}/dl/sites.zip" in run.err and "HTTP 503" in run.err and "Fix:" in run.err
    assert not (tmp_path / "data").exists()
