"""The command line through click's CliRunner: outputs, messages and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from prospector.cli.main import main


def run(args: list[str]) -> tuple[int, str, str]:
    """Run ``prospector ARGS`` like the console script (exit-code mapping included)."""
    runner = CliRunner()

    def entry() -> None:
        main(args)

    import click

    command = click.Command("prospector", callback=entry)
    result = runner.invoke(command, [], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def rank_args(region: object, out: Path, *extra: object) -> list[str]:
    """``prospector rank`` of *region* into *out*, then *extra* options."""
    return ["rank", "--region", str(region), "--out", str(out), *map(str, extra)]


def km_config(tmp_path: Path) -> Path:
    """A configuration with 1 km cells (quick ranks of the tiny region)."""
    config = tmp_path / "km.toml"
    config.write_text("[parcels]\ncell_m = 1000.0\n")
    return config


def test_layers_list_and_info():
    code, out, _ = run(["layers", "list"])
    assert code == 0
    assert "blm-mlrs-claims" in out and "utah-minmod" in out
    code, out, _ = run(["layers", "info", "blm-mlrs-claims"])
    assert code == 0
    assert "CSE_DISP" in out and "ACTIVE→active" in out


def test_layers_info_unknown_suggests():
    code, _, err = run(["layers", "info", "padus-gap"])
    assert code == 2
    assert "Did you mean 'padus-gap12'?" in err
    assert "Traceback" not in err


def test_layers_check_reports_every_problem(tmp_path):
    import geopandas as gpd
    import shapely

    bad = gpd.GeoDataFrame(
        {"site_id": ["1", "1", None], "commodity_codes": ["AU", "ZZZ", "CU"]},
        geometry=shapely.points([(-112, 39), (-112.1, 39.1), (-112.2, 39.2)]),
        crs="EPSG:4326",
    )
    path = tmp_path / "sites.gpkg"
    bad.to_file(path)
    code, _, err = run(["layers", "check", str(path), "--as", "deposits"])
    assert code == 2
    # Missing fields, duplicate ids and missing values are all reported at once.
    assert "column(s) 'dev_status' missing" in err
    assert "share a 'site_id'" in err
    assert str(path) in err


def test_layers_check_ok_with_counts(tmp_path):
    import geopandas as gpd
    import shapely

    good = gpd.GeoDataFrame(
        {
            "site_id": ["1", "2"],
            "name": ["A", "B"],
            "commodity_codes": ["AU AG", "QQQ"],
            "dev_status": ["producer", "prospect"],
            "source": ["me", "me"],
        },
        geometry=shapely.points([(-112, 39), (-112.1, 39.1)]),
        crs="EPSG:4326",
    )
    path = tmp_path / "sites.gpkg"
    good.to_file(path)
    code, out, err = run(["layers", "check", str(path), "--as", "deposits"])
    assert code == 0, err
    assert "2 of 2 features kept" in out
    assert "1 unmapped commodity codes" in out
    assert "QQQ" in err


def test_errors_have_one_prefix(tmp_path):
    """Usage errors (from click) and Prospector's errors both print ``error:``."""
    code, _, err = run(["layers", "check", str(tmp_path / "x.gpkg"), "--as", "bogus"])
    assert code == 2
    assert "error: Invalid value for '--as'" in err
    assert "Usage: prospector layers check" in err
    code, _, err2 = run(["layers", "info", "padus-gap"])
    assert code == 2 and err2.startswith("error: no catalogue entry 'padus-gap'")
    assert "Error:" not in err + err2


def test_rank_writes_outputs(tiny_region, tmp_path):
    region = tiny_region()
    out = tmp_path / "run"
    args = rank_args(region, out, "--no-map", "--config", km_config(tmp_path))
    code, stdout, err = run(args)
    assert code == 0, err
    assert (out / "prospects.gpkg").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["parcels_ranked"] == 84
    assert manifest["counts"]["parcels_excluded"] == 16
    roles = {m["role"] for m in manifest["layers_missing"]}
    assert {"land", "claims"} <= roles
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assert "missing layer:" in err and "No land-ownership layer" in err
    assert "Top 10 of 84 ranked parcels" in stdout
    # A second run refuses to overwrite and leaves the files untouched.
    before = (out / "prospects.gpkg").read_bytes()
    code, _, err = run(args)
    assert code == 2
    assert "already exists" in err and "--overwrite" in err
    assert (out / "prospects.gpkg").read_bytes() == before


def test_rank_bad_config_exit_2(tiny_region, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[score]\nweights = {value = -1, acess = 1}\n")
    code, _, err = run(rank_args(tiny_region(), tmp_path / "o", "--config", config))
    assert code == 2
    assert "score.weights.value must be a finite number >= 0" in err
    assert "Did you mean 'access'?" in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_unknown_region_exit_2(tmp_path):
    code, _, err = run(["rank", "--region", "nowhere", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "unknown region 'nowhere'" in err


def test_usage_error_exit_2():
    code, _, err = run(["rank"])
    assert code == 2
    assert "Missing option" in err


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    code, stdout, err = run(["demo", "--out", str(out)])
    assert code == 0, err
    for name in ("prospects.gpkg", "prospects.html", "manifest.json"):
        assert (out / name).stat().st_size > 0
    # 82,055 before issue 19, plus the cells closed only by a coarse (1:10M / 1:2M) outline,
    # now ranked as verify_boundary, and the cells under the superseded Natural Earth Zion.
    assert "Top 10 of 84,219 ranked parcels" in stdout
    targets = (out / "targets.csv").read_text(encoding="utf-8").splitlines()
    assert targets[0].startswith("target_id,rank,n_cells,area_km2,best_score")
    assert "No land-ownership layer" in err
    html = (out / "prospects.html").read_text(encoding="utf-8")
    assert "No land-ownership layer" in html
    assert "Faults (evidence)" in html  # the NSHM fault sections are drawn as evidence lines
    # the shortlist can switch to the run's targets: the first target of targets.csv is in the page
    first_target = targets[1].split(",")[0]
    assert '"targets"' in html and f'"{first_target}"' in html
    assert '<script src="http' not in html and "https://cdn" not in html
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["region"]["name"] == "utah-sample"
    # Re-rendering from the GeoPackage finds the run's DEM again through the manifest.
    code, _, err = run(["map", str(out / "prospects.gpkg"), "-o", str(out / "again.png")])
    assert code == 2 and "name the output .html" in err and not (out / "again.png").exists()
    code, _, err = run(["map", str(out / "prospects.gpkg"), "-o", str(out / "again.html")])
    assert code == 0, err
    again = (out / "again.html").read_text(encoding="utf-8")
    assert '"hillshade"' in again and "Faults (evidence)" in again
    # Both maps re-weight live from the same criteria, and show counties and towns.
    values = re.compile(r'"scoring":\{.*?"values":"([^"]+)"')
    assert values.search(html) and values.search(html).group(1) == values.search(again).group(1)
    assert '"counties_source":"US Census 2017 via us-atlas"' in again
    assert {o["path"] for o in manifest["outputs"]} == {
        "prospects.gpkg",
        "prospects.html",
        "targets.csv",
    }


def test_rank_engines_agree(tiny_region, tmp_path):
    region = str(tiny_region())
    config = km_config(tmp_path)
    outs = {}
    for engine in ("memory", "local"):
        out = tmp_path / engine
        args = rank_args(region, out, "--no-map", "--config", config)
        code, _, err = run([*args, "--engine", engine, "--workers", "1", "--tile-km", "4"])
        assert code == 0, err
        outs[engine] = json.loads((out / "manifest.json").read_text())
        assert f"--engine {engine}" in outs[engine]["command"]
    import geopandas as gpd

    a = gpd.read_file(tmp_path / "memory" / "prospects.gpkg", layer="parcels")
    b = gpd.read_file(tmp_path / "local" / "prospects.gpkg", layer="parcels")
    assert a["parcel_id"].tolist() == b["parcel_id"].tolist()
    assert a["rank"].tolist() == b["rank"].tolist()


def test_scheduler_needs_dask(tiny_region, tmp_path):
    args = rank_args(tiny_region(), tmp_path / "o", "--scheduler", "tcp://x:1")
    code, _, err = run(args)
    assert code == 2
    assert "--scheduler needs --engine dask" in err


def test_export_single_file_defaults_to_parcels(tiny_region, tmp_path):
    import geopandas as gpd

    out = tmp_path / "run"
    code, _, err = run(rank_args(tiny_region(), out, "--no-map", "--config", km_config(tmp_path)))
    assert code == 0, err
    target = tmp_path / "top.geojson"
    code, _, err = run(["export", str(out / "prospects.gpkg"), "-f", "geojson", "-o", str(target)])
    assert code == 0, err
    assert "exporting 'parcels'" in err
    assert len(gpd.read_file(target)) == 84
    code, _, err = run(
        [
            "export",
            str(out / "prospects.gpkg"),
            "-f",
            "geojson",
            "-o",
            str(tmp_path / "d.geojson"),
            "-l",
            "deposit",
        ]
    )
    assert code == 2
    assert "Did you mean 'deposits'?" in err


def test_map_lines_merge_access_and_line_evidence():
    import geopandas as gpd
    import shapely

    from prospector.ranking import map_lines

    access = gpd.GeoDataFrame(
        {"kind": ["rail"], "class": ["rail"], "name": ["RR"], "source": ["t"]},
        geometry=[shapely.LineString([(0, 0), (1, 1)])],
        crs="EPSG:5070",
    )
    evidence = gpd.GeoDataFrame(
        {
            "kind": ["fault", "intrusion"],
            "name": ["F", "I"],
            "weight": [1.0, 1.0],
            "source": ["t", "t"],
        },
        geometry=[shapely.LineString([(0, 1), (1, 0)]), shapely.box(0, 0, 1, 1)],
        crs="EPSG:5070",
    )
    lines = map_lines(access, evidence)
    assert lines["kind"].tolist() == ["rail", "fault"]
    assert map_lines(None, None) is None


def test_status_of_parcels_and_points(tiny_region, tmp_path):
    import geopandas as gpd
    import pyproj
    import shapely

    from tests.conftest import CRS, X0, Y0, write_layer

    # BLM ground west of x = 4.5 km, private land east of it; the wilderness (x, y 6-10 km)
    # lies on the private half.
    write_layer(
        gpd.GeoDataFrame(
            {"agency": ["BLM", "PRIVATE"], "federal": [True, False], "source": ["test"] * 2},
            geometry=[
                shapely.box(X0 - 1_000, Y0 - 1_000, X0 + 4_500, Y0 + 11_000),
                shapely.box(X0 + 4_500, Y0 - 1_000, X0 + 11_000, Y0 + 11_000),
            ],
            crs=CRS,
        ),
        tmp_path / "land.gpkg",
    )
    region = tiny_region('\n[[layers]]\nrole = "land"\npath = "land.gpkg"\n')
    out = tmp_path / "run"
    code, _, err = run(rank_args(region, out, "--no-map", "--config", km_config(tmp_path)))
    assert code == 0, err
    ranked = str(out / "prospects.gpkg")
    r0, c0 = 1_900_000 // 1000, -1_500_000 // 1000

    def status(*args: str) -> dict[str, str]:
        code, stdout, err = run(["status", ranked, *args])
        assert code == 0, err
        lines = stdout.splitlines()
        fields = dict(line.strip().split(": ", 1) for line in lines[1:])
        fields["header"] = lines[0]
        return fields

    note = "mining claims not checked: no claims layer supplied"
    # Cell (1, 1): wholly BLM, not withdrawn → open.
    open_cell = status("--parcel", f"r{r0 + 1}c{c0 + 1}")
    assert open_cell["header"].startswith(f"parcel r{r0 + 1}c{c0 + 1}  rank: ")
    assert open_cell["header"].split("rank: ")[1].isdigit()
    assert open_cell["land_status"] == "open"
    assert open_cell["status_reason"] == note
    assert open_cell["agency"] == "BLM"
    assert (open_cell["federal_frac"], open_cell["withdrawn_frac"]) == ("1.000", "0.000")
    assert (open_cell["open_frac"], open_cell["claimed_frac"]) == ("1.000", "unknown")
    assert open_cell["area_km2"] == "1.000"
    # Cell (4, 1), x 4-5 km: half BLM, half private → partly open (the tie names BLM).
    partly = status("--parcel", f"r{r0 + 1}c{c0 + 4}")
    assert partly["land_status"] == "partly_open"
    assert partly["status_reason"] == f"partly withdrawn, claimed, or not open to location; {note}"
    assert (partly["federal_frac"], partly["open_frac"], partly["agency"]) == (
        "0.500",
        "0.500",
        "BLM",
    )
    # Cell (7, 1): private → closed, and unranked (score.status "not_closed" excludes it).
    private = status("--parcel", f"r{r0 + 1}c{c0 + 7}")
    assert private["land_status"] == "closed"
    assert private["status_reason"] == f"not federal land; {note}"
    assert private["header"].endswith("rank: —")
    # A point in the wilderness (lon/lat of x, y = 7.5 km), computed with pyproj.
    lon, lat = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(
        X0 + 7_500, Y0 + 7_500
    )
    wild = status("--point", str(lon), str(lat))
    assert wild["header"] == f"parcel r{r0 + 7}c{c0 + 7}  rank: —"
    assert wild["land_status"] == "closed"
    assert wild["status_reason"] == f"withdrawn from mineral entry; {note}"
    assert (wild["withdrawn_frac"], wild["withdrawals"]) == ("1.000", "Test Wilderness")
    # Errors: no such parcel, a point outside, both or neither selector.
    code, _, err = run(["status", ranked, "--parcel", "nope"])
    assert code == 2 and "no parcel 'nope'" in err and "Traceback" not in err
    code, _, err = run(["status", ranked, "--point", "0", "0"])
    assert code == 2 and "outside every parcel" in err and "whose parcels span lon -" in err
    assert "swap" not in err
    code, _, err = run(["status", ranked, "--point", str(lat), str(lon)])  # lat, lon
    assert code == 2 and f"Did you swap them? Give longitude first: --point {lon} {lat}" in err
    code, _, err = run(["status", ranked])
    assert code == 2 and "exactly one of --point" in err


@pytest.mark.parametrize(
    ("option", "value", "suggestion"),
    [
        ("--commodity", "tungstn", "Did you mean 'tungsten'?"),
        ("--group", "batery", "'battery'"),
        ("--commodity", ",,", "names nothing"),  # was silently "no focus"
        ("--group", " , ", "names nothing"),
    ],
)
def test_unknown_focus_exit_2(tiny_region, tmp_path, option, value, suggestion):
    for command in (
        ["rank", "--out", str(tmp_path / "o")],
        ["validate", "--json", str(tmp_path / "m.json")],
    ):
        code, _, err = run([*command, "--region", str(tiny_region()), option, value])
        assert code == 2
        assert suggestion in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_rank_with_commodity_focus(tiny_region, tmp_path):
    # The tiny region has a U-V past producer, a Li-K prospect and a gravel pit: with a
    # lithium focus only the Li-K prospect carries value.
    out = tmp_path / "o"
    code, _, err = run(rank_args(tiny_region(), out, "--commodity", "lithium"))
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["value"]["focus_commodities"] == ["lithium"]
    assert any(n.startswith("Commodity focus: lithium ") for n in manifest["notes"])
    import geopandas as gpd

    ranked = gpd.read_file(out / "prospects.gpkg", layer="parcels")
    valued = ranked[ranked["value_raw"] > 0]
    # Bravo lies in the wilderness (closed); ranked parcels near it carry its value, and
    # only its value: the uranium-vanadium mine and the gravel pit count for nothing.
    assert len(valued) > 0 and set(valued["value_site"]) == {"Bravo prospect"}
    assert ranked.iloc[0]["why"].count("most value from Bravo prospect") == 1
