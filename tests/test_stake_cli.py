"""``prospector stake`` end to end: a ranked GeoPackage built in code, and the Utah demo."""

from __future__ import annotations

import shutil
import subprocess

import geopandas as gpd
import pyogrio
import pytest
import shapely

from prospector.analysis.stake import NOT_VERIFIED
from prospector.export import write_gpkg
from tests.test_cli import run
from tests.test_stake import CRS, _check_gpx, box, sides_m

PLSS_IDS = ["NV210200N0300E0SN010", "NV210200N0300E0SN020"]


@pytest.fixture
def ranked(tmp_path):
    """A ranked GeoPackage: two touching parcels and a third apart, land, withdrawals, claims."""
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["p1", "p2", "p3"], "rank": [1, 2, 3], "score": [0.9, 0.8, 0.7],
         "commodities": ["lithium", "tungsten", "gold"],
         "critical_commodities": ["lithium", "tungsten", ""]},
        geometry=[box(-1600, -800, 0, 800), box(0, -800, 1600, 800), box(6000, -800, 7600, 800)],
        crs=CRS,
    )  # fmt: skip
    land = gpd.GeoDataFrame(
        {"agency": ["BLM", "PRIVATE"], "federal": [True, False], "source": ["t", "t"]},
        geometry=[box(-9000, -9000, 9000, 9000).difference(box(-300, -300, 300, 300)),
                  box(-300, -300, 300, 300)],
        crs=CRS,
    )  # fmt: skip
    withdrawals = gpd.GeoDataFrame(
        {"name": ["W"], "kind": ["wilderness"], "agency": ["BLM"], "source": ["t"]},
        geometry=[box(1000, 300, 2000, 2000)], crs=CRS,
    )  # fmt: skip
    claims = gpd.GeoDataFrame(
        {"serial": ["NV1"], "disposition": ["active"], "claim_type": ["lode"], "source": ["t"]},
        geometry=[box(-1500, -700, -1300, -500)], crs=CRS,
    )  # fmt: skip
    full = {"parcels": parcels, "land": land, "withdrawals": withdrawals, "claims": claims}
    write_gpkg(full, tmp_path / "ranked.gpkg", styles=False)
    write_gpkg({"parcels": parcels}, tmp_path / "unknown.gpkg", styles=False)
    plss = gpd.GeoDataFrame(
        {"FRSTDIVID": PLSS_IDS}, geometry=[box(-3000, -3000, 0, 3000), box(0, -3000, 3000, 3000)],
        crs=CRS,
    ).to_crs("EPSG:4269")  # fmt: skip
    plss.to_file(tmp_path / "plss.gpkg", engine="pyogrio")
    return tmp_path


def test_stake_writes_plan(ranked):
    out = ranked / "plan" / "plan.gpkg"
    code, stdout, err = run(["stake", str(ranked / "ranked.gpkg"), "-o", str(out), "--top", "3",
                             "--azimuth", "90", "--plss", str(ranked / "plss.gpkg")])  # fmt: skip
    assert code == 0, err
    targets = pyogrio.read_dataframe(out, layer="stake_targets")
    assert list(targets["target_id"]) == ["T01", "T02"]
    assert list(targets["parcel_ids"]) == ["p1; p2", "p3"]
    claims = pyogrio.read_dataframe(out, layer="planned_claims").to_crs(CRS)
    assert (claims["azimuth_deg"] == 90.0).all()
    blocked = shapely.union_all([box(-300, -300, 300, 300), box(1000, 300, 2000, 2000),
                                 box(-1500, -700, -1300, -500)])  # fmt: skip
    assert not shapely.intersects(claims.geometry.buffer(0.5).to_numpy(), blocked).any()
    first = claims[claims["target_id"] == "T01"]
    assert set(first["section"]) == {"1", "2"}
    assert set(first["meridian"]) == {"Mount Diablo Meridian"}
    # The PLSS fixture does not reach the second target: no description is invented.
    assert set(claims.loc[claims["target_id"] == "T02", "plss"]) == {""}
    assert (claims["land_check"] != NOT_VERIFIED).all()
    for suffix in (".kml", ".kmz", ".gpx"):
        assert out.with_suffix(suffix).stat().st_size > 0
    assert (ranked / "plan" / "plan_corners.csv").stat().st_size > 0
    assert "T01" in stdout and "$274.00 per claim" in stdout
    # Never overwritten without --overwrite; the refusal names the file and the flag.
    before = out.read_bytes()
    code, _, err = run(["stake", str(ranked / "ranked.gpkg"), "-o", str(out)])
    assert code == 2 and "--overwrite" in err and out.read_bytes() == before
    code, _, err = run(["stake", str(ranked / "ranked.gpkg"), "-o", str(out), "--overwrite",
                        "--parcel", "p3", "--max-claims", "2"])  # fmt: skip
    assert code == 0, err
    assert len(pyogrio.read_dataframe(out, layer="planned_claims")) == 2


def test_stake_refuses_unknown_land(ranked):
    out = ranked / "plan.gpkg"
    code, _, err = run(["stake", str(ranked / "unknown.gpkg"), "-o", str(out)])
    assert code == 2
    assert "land-status" in err and "--allow-unknown-land" in err and "Traceback" not in err
    assert not out.exists() and not out.with_suffix(".kml").exists()
    code, _, err = run(
        ["stake", str(ranked / "unknown.gpkg"), "-o", str(out), "--allow-unknown-land"]
    )
    assert code == 0, err
    assert "OWNERSHIP NOT VERIFIED" in err
    for layer in ("planned_claims", "claim_corners", "claim_centrelines", "stake_targets"):
        assert (pyogrio.read_dataframe(out, layer=layer)["land_check"] == NOT_VERIFIED).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--azimuth", "north"], "neither 'auto' nor a number"),
        (["--azimuth", "400"], "outside 0..360"),
        (["--parcel", "p9"], "no ranked parcel 'p9'"),
        (["--top", "2", "--parcel", "p1"], "only one of"),
    ],
)
def test_stake_bad_input_exit_2(ranked, args, message):
    code, _, err = run(["stake", str(ranked / "ranked.gpkg"), "-o", str(ranked / "x.gpkg"), *args])
    assert code == 2 and message in err, err
    assert not (ranked / "x.gpkg").exists()


def test_stake_bad_fee_file(ranked):
    fees = ranked / "fees.toml"
    fees.write_text("[fees]\nlocation_usd = 60\nmaintanance_usd = 200\n")
    code, _, err = run(["stake", str(ranked / "ranked.gpkg"), "-o", str(ranked / "x.gpkg"),
                        "--fees", str(fees)])  # fmt: skip
    assert code == 2 and "maintenance_usd" in err and "source" in err


@pytest.mark.slow
def test_demo_plan_opens_in_gdal_and_gpx_is_valid(utah_result, tmp_path):
    from prospector.ranking import write_run

    write_run(utah_result, tmp_path / "demo", make_map=False)
    ranked = tmp_path / "demo" / "prospects.gpkg"
    out = tmp_path / "plan.gpkg"
    code, _, err = run(["stake", str(ranked), "-o", str(out), "--top", "5"])
    assert code == 2 and "land-status" in err
    code, _, err = run(["stake", str(ranked), "-o", str(out), "--top", "5", "--allow-unknown-land"])
    assert code == 0, err
    claims = pyogrio.read_dataframe(out, layer="planned_claims")
    assert len(claims) == 40 and (claims["land_check"] == NOT_VERIFIED).all()
    assert claims["azimuth_source"].iloc[0].startswith("faults:")
    for row in claims[claims["full_size"]].to_dict("records"):  # geodesic, GRS 1980
        s12, s23, s34, s41, _ = sides_m(row)
        assert max(abs(s12 - 182.88), abs(s34 - 182.88), abs(s23 - 457.2), abs(s41 - 457.2)) < 0.01
    kml = pyogrio.read_dataframe(out.with_suffix(".kml"), layer="Claims")
    assert len(kml) == 40
    _check_gpx(out.with_suffix(".gpx"), n_wpt=160, n_trk=40)
    if shutil.which("ogrinfo"):
        info = subprocess.run(["ogrinfo", "-ro", "-so", str(out.with_suffix(".kml"))],
                              capture_output=True, text=True, check=True)  # fmt: skip
        assert "Claims" in info.stdout and "Corners" in info.stdout


def test_stake_area_file(ranked):
    area = gpd.GeoDataFrame(geometry=[box(-1000, -500, 1000, 500)], crs=CRS).to_crs("EPSG:4326")
    area.to_file(ranked / "area.gpkg", engine="pyogrio")
    out = ranked / "area_plan.gpkg"
    code, _, err = run(["stake", str(ranked / "ranked.gpkg"), "-o", str(out), "--area",
                        str(ranked / "area.gpkg"), "--azimuth", "0"])  # fmt: skip
    assert code == 0, err
    targets = pyogrio.read_dataframe(out, layer="stake_targets")
    assert list(targets["parcel_ids"]) == ["p1; p2"] and list(targets["rank"]) == [1]
    claims = pyogrio.read_dataframe(out, layer="planned_claims").to_crs(CRS)
    assert shapely.within(claims.geometry.to_numpy(), box(-1000, -500, 1000, 500).buffer(0.5)).all()
    outside = gpd.GeoDataFrame(geometry=[box(20000, 0, 21000, 1000)], crs=CRS)
    outside.to_file(ranked / "outside.gpkg", engine="pyogrio")
    code, _, err = run(["stake", str(ranked / "ranked.gpkg"), "-o", str(ranked / "o.gpkg"),
                        "--area", str(ranked / "outside.gpkg")])  # fmt: skip
    assert code == 2 and "overlaps no ranked parcel" in err
