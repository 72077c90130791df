"""Hostile inputs found by the CLI sweep of the `hostile` branch: each was a crash (exit 1)
or a silent success on nonsense before its fix.

Every fixture is built in code under tmp_path; each case runs the real entry point and
checks the exit code, the message (what, which file, how to fix), that no traceback is
printed and that a refused run leaves no file behind.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from prospector.export import read_ranked
from tests.conftest import CRS, X0, Y0, square, write_layer


def listing(directory: Path) -> list[str]:
    return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*"))


def _boundary(tmp_path: Path, geometry: shapely.Geometry) -> None:
    write_layer(
        gpd.GeoDataFrame({"name": ["b"]}, geometry=[geometry], crs=CRS), tmp_path / "b.gpkg"
    )


def _region_with_boundary(tiny_region, tmp_path: Path, geometry: shapely.Geometry) -> Path:
    region = tiny_region()
    _boundary(tmp_path, geometry)
    region.write_text(region.read_text().replace('"boundary.gpkg"', '"b.gpkg"'))
    return region


# ------------------------------------------------------------------ region boundary


@pytest.mark.parametrize(
    ("geometry", "kind"),
    [
        (shapely.Point(X0 + 5_000, Y0 + 5_000), "Point ×1"),
        (shapely.LineString(square(X0, Y0, 10_000).exterior.coords), "LineString ×1"),
    ],
    ids=["points", "lines"],
)
def test_rank_refuses_a_boundary_without_polygons(
    geometry, kind: str, cli, tmp_path: Path, tiny_region
) -> None:
    # Was: exit 1, "unexpected error (IndexError): index 0 is out of bounds".
    region = _region_with_boundary(tiny_region, tmp_path, geometry)
    before = listing(tmp_path)

    run = cli("rank", "--region", region, "--out", tmp_path / "out", "--no-map")

    assert run.code == 2, run.err
    assert run.err.startswith("error: ")
    for fragment in ("b.gpkg", "the boundary has no polygon", kind, "[boundary]"):
        assert fragment in run.err, run.err
    assert listing(tmp_path) == before


def test_rank_refuses_a_boundary_smaller_than_a_parcel(cli, tmp_path: Path, tiny_region) -> None:
    # A 10 m x 10 m box: every 1.6 km cell clipped to it is below parcels.min_sliver_m2.
    # Was: exit 1, "unexpected error (IndexError)".
    region = _region_with_boundary(tiny_region, tmp_path, square(X0 + 5_000, Y0 + 5_000, 10))
    before = listing(tmp_path)

    run = cli("rank", "--region", region, "--out", tmp_path / "out", "--no-map")

    assert run.code == 2, run.err
    for fragment in ("area 100 m²", "makes no parcel", "parcels.min_sliver_m2", "EPSG:5070"):
        assert fragment in run.err, run.err
    assert listing(tmp_path) == before


def test_rank_says_when_it_repairs_the_boundary(cli, tmp_path: Path, tiny_region) -> None:
    # A bow-tie over the tiny square: make_valid keeps its two triangles, half the area.
    # Was: repaired without a word (a quarter of the parcels ranked).
    bow_tie = shapely.Polygon(
        [(X0, Y0), (X0 + 10_000, Y0 + 10_000), (X0 + 10_000, Y0), (X0, Y0 + 10_000)]
    )
    region = _region_with_boundary(tiny_region, tmp_path, bow_tie)

    run = cli("rank", "--region", region, "--out", tmp_path / "out", "--no-map")

    assert run.code == 0, run.err
    assert "b.gpkg" in run.err
    assert "repaired 1 invalid boundary polygon(s)" in run.err
    assert "two triangles" in run.err
    boundary = read_ranked(tmp_path / "out" / "prospects.gpkg")["boundary"]
    assert boundary.geometry.area.sum() == pytest.approx(50e6, rel=1e-6)


# ----------------------------------------------------------------- deposits layer


@pytest.mark.parametrize(
    ("codes", "counts"),
    [([None, None, None], "3 have no commodity code at all, 0 only unmapped codes"),
     (["XYZ", "QQQ", ""], "1 have no commodity code at all, 2 only unmapped codes")],
    ids=["null", "unmapped"],
)  # fmt: skip
def test_deposits_without_a_known_commodity_are_announced(
    codes: list[str | None], counts: str, cli, tmp_path: Path
) -> None:
    # Was: "OK: ... a valid deposits layer" and a ranking whose value criterion was 0 for
    # every parcel, without a note.
    deposits = gpd.GeoDataFrame(
        {
            "site_id": ["a", "b", "c"],
            "commodity_codes": codes,
            "dev_status": ["prospect"] * 3,
            "source": ["test"] * 3,
        },
        geometry=shapely.points([(X0 + 1_000 * i, Y0 + 1_000) for i in range(1, 4)]),
        crs=CRS,
    )
    path = write_layer(deposits, tmp_path / "sites.gpkg")

    run = cli("layers", "check", path, "--as", "deposits")

    assert run.code == 0, run.err
    assert "sites.gpkg" in run.err
    assert "none of the 3 features has a commodity Prospector knows" in run.err
    assert counts in run.err
    assert "value criterion" in run.err


def test_deposits_with_a_known_commodity_get_no_such_note(cli, tmp_path: Path) -> None:
    deposits = gpd.GeoDataFrame(
        {"site_id": ["a", "b"], "commodity_codes": ["Cu", None],
         "dev_status": ["prospect"] * 2, "source": ["test"] * 2},
        geometry=shapely.points([(X0 + 1_000, Y0 + 1_000), (X0 + 2_000, Y0 + 1_000)]), crs=CRS,
    )  # fmt: skip
    path = write_layer(deposits, tmp_path / "sites.gpkg")

    run = cli("layers", "check", path, "--as", "deposits")

    assert run.code == 0, run.err
    assert "has a commodity Prospector knows" not in run.err


# ------------------------------------------------------------ a file with no layer


def _truncated_fgb(tmp_path: Path) -> Path:
    sites = gpd.GeoDataFrame(
        {"name": [f"s{i}" for i in range(50)]},
        geometry=shapely.points([(X0 + 100 * i, Y0) for i in range(50)]),
        crs=CRS,
    )
    whole = tmp_path / "whole.fgb"
    pyogrio.write_dataframe(sites, whole, driver="FlatGeobuf")
    cut = tmp_path / "cut.fgb"
    cut.write_bytes(whole.read_bytes()[:200])  # inside the header: GDAL lists no layer
    whole.unlink()
    assert len(pyogrio.list_layers(cut)) == 0
    return cut


@pytest.mark.parametrize("layer", [None, "sites"], ids=["first-layer", "named-layer"])
def test_a_file_without_any_layer_is_called_corrupt(layer: str | None, cli, tmp_path: Path) -> None:
    # Was: exit 1, IndexError (no --layer); "it has no layer 'sites'. Layers in the file: ."
    cut = _truncated_fgb(tmp_path)

    run = cli("layers", "check", cut, "--as", "deposits", *(["--layer", layer] if layer else []))

    assert run.code == 2, run.err
    for fragment in ("cut.fgb", "finds no vector layer", "truncated or corrupt", "again"):
        assert fragment in run.err, run.err
    assert "Layers in the file: ." not in run.err


# ------------------------------------------------------------------------- stake


def test_stake_refuses_counties_that_are_not_polygons(cli, tmp_path: Path, tiny_region) -> None:
    # Points with 'name' and 'state' columns given as counties. Was: a plan whose county
    # column was empty for every claim, without a note.
    ranked = tmp_path / "run"
    assert cli("rank", "--region", tiny_region(), "--out", ranked, "--no-map").code == 0
    counties = write_layer(
        gpd.GeoDataFrame(
            {"name": [f"County {i}" for i in range(100)], "state": ["UT"] * 100},
            geometry=shapely.points(
                [(X0 + 500 + 1_000 * (i % 10), Y0 + 500 + 1_000 * (i // 10)) for i in range(100)]
            ),
            crs=CRS,
        ),
        tmp_path / "counties.gpkg",
    )
    before = listing(tmp_path)

    run = cli("stake", ranked / "prospects.gpkg", "--output", tmp_path / "plan" / "plan.gpkg",
              "--counties", counties, "--allow-unknown-land", "--top", "1")  # fmt: skip

    assert run.code == 2, run.err
    for fragment in ("counties layer", "not polygons", "Point ×", "county polygons"):
        assert fragment in run.err, run.err
    assert listing(tmp_path) == before


# ------------------------------------------------- reading leaves no sidecar behind


@pytest.mark.parametrize(
    "command",
    [("status", "--parcel", "{pid}"), ("export", "-o", "{tmp}/x.geojson"),
     ("map", "-o", "{tmp}/x.html")],
    ids=["status", "export", "map"],
)  # fmt: skip
def test_reading_a_ranked_geopackage_writes_no_sidecar(
    command: tuple[str, ...], cli, tmp_path: Path, tiny_region
) -> None:
    # Was: GDAL wrote run/prospects.gpkg.aux.xml (a copy of the run manifest) on every read.
    ranked = tmp_path / "run" / "prospects.gpkg"
    assert cli("rank", "--region", tiny_region(), "--out", ranked.parent, "--no-map").code == 0
    before = listing(ranked.parent)
    pid = read_ranked(ranked)["parcels"]["parcel_id"].iloc[0]
    args = [a.format(pid=pid, tmp=tmp_path) for a in command]

    run = cli(args[0], ranked, *args[1:])

    assert run.code == 0, run.err
    assert listing(ranked.parent) == before
    assert not ranked.with_name("prospects.gpkg.aux.xml").exists()
