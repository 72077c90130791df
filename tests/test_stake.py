"""Staking plans: claim geometry measured on the ellipsoid, open ground, PLSS, fees, outputs.

Every layer here is synthetic, built in code around lon -117, lat 40 (Nevada): a BLM
block with a private inholding and a strip of NPS land, a wilderness area, an active
and a closed claim, and a 3 x 3 grid of made-up PLSS sections.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import pytest
import shapely

from prospector.analysis._stake_describe import parse_frstdivid
from prospector.analysis._stake_layout import axial_mean_azimuth
from prospector.analysis.stake import (
    DEFAULT_FEES,
    NOT_VERIFIED,
    FeeSchedule,
    stake_plan,
)
from prospector.analysis.stake_targets import select_targets
from prospector.errors import ConfigError, LandStatusUnknownError

CRS = "EPSG:5070"
LON, LAT = -117.0, 40.0
X, Y = pyproj.Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(LON, LAT)
GEOD = pyproj.Geod(ellps="GRS80")
FT = 0.3048
L_M, W_M = 1500 * FT, 600 * FT  # 457.2 m, 182.88 m


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X + x0, Y + y0, X + x1, Y + y1)


TARGET = box(-1200, -1200, 1200, 1200)
PRIVATE = box(200, 200, 600, 500)
NPS = box(-1200, 900, 1200, 1500)
WILDERNESS = box(-1500, -1500, -700, -700)
ACTIVE = box(700, -1000, 900, -800)
CLOSED = box(-300, -300, -100, -100)


def gdf(rows: dict, geoms: list) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    blm = box(-5000, -5000, 5000, 5000).difference(PRIVATE).difference(NPS)
    sections, ids = [], []
    size = 1609.344
    for r in range(3):
        for c in range(3):
            sections.append(
                box(
                    -2400 + c * size, 2400 - (r + 1) * size, -2400 + (c + 1) * size, 2400 - r * size
                )
            )
            ids.append(f"NV210200N0300E0SN{r * 3 + c + 1:02d}0")
    return {
        "targets": gdf({"target_id": ["T01"], "rank": [1], "commodities": ["lithium; tungsten"]}, [TARGET]),
        "land": gdf({"agency": ["BLM", "PRIVATE", "NPS"], "federal": [True, False, True]},
                    [blm, PRIVATE, NPS.intersection(box(-5000, -5000, 5000, 5000))]),
        "withdrawals": gdf({"name": ["Test Wilderness"], "kind": ["wilderness"]}, [WILDERNESS]),
        "claims": gdf({"serial": ["NV1", "NV2"], "disposition": ["active", "closed"]}, [ACTIVE, CLOSED]),
        "plss": gdf({"parcel_id": ids}, sections),
    }  # fmt: skip


def plan_for(layers, **kwargs):
    args = {k: layers[k] for k in ("land", "withdrawals", "claims", "plss")}
    return stake_plan(layers["targets"], **(args | {"max_claims": None} | kwargs))


def sides_m(row) -> list[float]:
    """Geodesic lengths of sides 1-2, 2-3, 3-4, 4-1 and diagonal 1-3 on GRS 1980."""
    lon = [row[f"c{i}_lon"] for i in (1, 2, 3, 4, 1, 3)]
    lat = [row[f"c{i}_lat"] for i in (1, 2, 3, 4, 1, 3)]
    out = []
    for a, b in ((0, 1), (1, 2), (2, 3), (3, 4)):
        out.append(GEOD.inv(lon[a], lat[a], lon[b], lat[b])[2])
    out.append(GEOD.inv(lon[0], lat[0], lon[5], lat[5])[2])
    return out


def local_tm_of(plan_target_geom) -> pyproj.CRS:
    c = gpd.GeoSeries([plan_target_geom], crs=CRS).centroid.to_crs("EPSG:4269").iloc[0]
    return pyproj.CRS.from_proj4(
        f"+proj=tmerc +lat_0={c.y} +lon_0={c.x} +k_0=1 +datum=NAD83 +units=m +type=crs"
    )


def test_full_claims_are_1500_by_600_ft_on_the_ellipsoid(layers):
    plan = plan_for(layers, azimuth=30.0)
    full = plan.claims[plan.claims["full_size"]]
    assert len(full) >= 20
    diag = math.hypot(L_M, W_M)
    for row in full.to_dict("records"):
        s12, s23, s34, s41, d13 = sides_m(row)
        for end in (s12, s34):
            assert end == pytest.approx(W_M, abs=0.01)
        for side in (s23, s41):
            assert side == pytest.approx(L_M, abs=0.01)
        assert d13 == pytest.approx(diag, abs=0.01)  # right angles
        assert row["acres"] == pytest.approx(1500 * 600 / 43560, abs=1e-4)
        assert row["acres"] <= 20.6612


def test_shortened_claims_never_exceed_and_record_their_size(layers):
    plan = plan_for(layers, azimuth=30.0)
    short = plan.claims[~plan.claims["full_size"]]
    assert len(short) > 0
    for row in short.to_dict("records"):
        s12, s23, s34, s41, _ = sides_m(row)
        assert s23 == pytest.approx(row["length_ft"] * FT, abs=0.01)
        assert s41 <= L_M + 0.01 and s12 <= W_M + 0.01 and s34 <= W_M + 0.01
        assert 300 <= row["length_ft"] < 1500
        assert row["acres"] == pytest.approx(row["length_ft"] * row["width_ft"] / 43560, abs=1e-4)


@pytest.mark.parametrize("azimuth", [0.0, 30.0, 95.5, 150.0])
def test_azimuth_honoured_and_end_lines_parallel(layers, azimuth):
    plan = plan_for(layers, azimuth=azimuth)
    tm = local_tm_of(TARGET)
    to_tm = pyproj.Transformer.from_crs("EPSG:4269", tm, always_xy=True)
    for row in plan.claims.to_dict("records"):
        xy = np.array([to_tm.transform(row[f"c{i}_lon"], row[f"c{i}_lat"]) for i in (1, 2, 3, 4)])
        end1, end2, side = xy[1] - xy[0], xy[2] - xy[3], xy[3] - xy[0]
        # End lines parallel (measured in the local transverse Mercator built here).
        cross = (end1[0] * end2[1] - end1[1] * end2[0]) / (np.hypot(*end1) * np.hypot(*end2))
        assert abs(cross) < 1e-7
        trend = math.degrees(math.atan2(side[0], side[1])) % 180.0
        off = abs(trend - azimuth % 180.0)
        assert min(off, 180.0 - off) < 1e-4
        # Geodesic azimuth of the long side (true north) within 0.02°.
        fwd = GEOD.inv(row["c1_lon"], row["c1_lat"], row["c4_lon"], row["c4_lat"])[0] % 180.0
        assert min(abs(fwd - azimuth), 180 - abs(fwd - azimuth)) < 0.02


def tm_polygons(frame, tm) -> np.ndarray:
    to_tm = pyproj.Transformer.from_crs("EPSG:4269", tm, always_xy=True)
    lon = frame[[f"c{i}_lon" for i in (1, 2, 3, 4)]].to_numpy()
    lat = frame[[f"c{i}_lat" for i in (1, 2, 3, 4)]].to_numpy()
    x, y = to_tm.transform(lon, lat)
    return shapely.polygons(np.stack([x, y], axis=-1))


def test_no_overlap_and_nothing_outside_open_ground(layers):
    plan = plan_for(layers, azimuth=30.0)
    # Overlaps are measured in the local transverse Mercator, where claims are exact
    # rectangles (in EPSG:5070 a corner lying on a neighbour's side is off that side's
    # straight chord by a fraction of a millimetre).
    local = tm_polygons(plan.claims, local_tm_of(TARGET))
    a, b = shapely.STRtree(local).query(local, predicate="intersects")
    pairs = a < b
    assert pairs.sum() >= len(local)  # a contiguous block: claims share lines
    assert shapely.area(shapely.intersection(local[a[pairs]], local[b[pairs]])).max() < 1e-6
    claims = plan.claims.to_crs(CRS).geometry.to_numpy()
    blocked = shapely.union_all([PRIVATE, NPS, WILDERNESS, ACTIVE])
    assert not shapely.intersects(shapely.buffer(claims, 0.5), blocked).any()
    assert shapely.within(claims, shapely.buffer(TARGET, -0.5)).all()
    # The closed claim does not block ground: the plan covers it.
    assert shapely.area(shapely.intersection(claims, CLOSED)).sum() > 0.9 * CLOSED.area


def test_overlapping_private_polygon_wins_over_blm(layers):
    # A PAD-US-like layer: a private parcel drawn over the BLM polygon without a hole.
    private = box(-900, -200, -500, 200)
    land = gpd.GeoDataFrame(
        gpd.pd.concat(
            [layers["land"], gdf({"agency": ["PRIVATE"], "federal": [False]}, [private])]
        ),
        crs=CRS,
    )
    plan = plan_for(layers | {"land": land}, azimuth=0.0)
    claims = plan.claims.to_crs(CRS).geometry.to_numpy()
    assert len(claims) > 10
    assert not shapely.intersects(shapely.buffer(claims, 0.5), private).any()


def test_restricted_areas_do_not_block_but_are_listed(layers):
    wsa = box(-1200, -1200, 0, 0)
    withdrawals = gpd.GeoDataFrame(
        gpd.pd.concat([layers["withdrawals"], gdf({"name": ["Test WSA"], "kind": ["wsa"]}, [wsa])]),
        crs=CRS,
    )
    plan = plan_for(layers | {"withdrawals": withdrawals}, azimuth=0.0)
    claims = plan.claims.to_crs(CRS)
    inside = shapely.area(shapely.intersection(claims.geometry.to_numpy(), wsa)) > 1.0
    assert inside.sum() >= 3  # planned inside the WSA (outside the wilderness)
    assert (claims.loc[inside, "restrictions"] == "Test WSA (wsa)").all()
    assert (claims.loc[~inside, "restrictions"] == "").all()
    assert not shapely.intersects(claims.geometry.buffer(0.5).to_numpy(), WILDERNESS).any()


def test_later_targets_avoid_earlier_claims(layers):
    second = gdf({"target_id": ["T02"], "rank": [2]}, [box(-600, -600, 1800, 1800)])
    targets = gpd.GeoDataFrame(
        gpd.pd.concat([layers["targets"], second], ignore_index=True), crs=CRS
    )
    plan = stake_plan(targets, land=layers["land"], azimuth=45.0, max_claims=None)
    claims = plan.claims.to_crs(CRS)
    first = claims[claims["target_id"] == "T01"].geometry.to_numpy()
    later = claims[claims["target_id"] == "T02"].geometry.to_numpy()
    assert len(first) and len(later)
    assert not shapely.intersects(shapely.buffer(later, 0.5)[:, None], first[None, :]).any()


def test_blocks_grow_contiguously_from_the_centre(layers):
    plan = plan_for(layers, azimuth=0.0, max_claims=6)
    claims = plan.claims.to_crs(CRS)
    assert len(claims) == 6 and (claims["block"] == 1).all()
    geoms = claims.geometry.to_numpy()
    # Each claim after the first shares a side or end line with an earlier one.
    for k in range(1, len(geoms)):
        shared = shapely.length(shapely.intersection(geoms[k], geoms[:k]))
        assert shared.max() > 100.0
    centre = shapely.Point(X, Y)
    assert shapely.distance(geoms[0], centre) <= shapely.distance(geoms, centre).max()
    # With an anchor in the south-east, the block starts and grows there instead.
    targets = layers["targets"].assign(anchor_x=X + 1000, anchor_y=Y - 400)
    moved = stake_plan(targets, land=layers["land"], azimuth=0.0, max_claims=3).claims.to_crs(CRS)
    anchor = shapely.Point(X + 1000, Y - 400)
    assert shapely.distance(moved.geometry.to_numpy(), anchor).max() < 700


def test_auto_azimuth_follows_length_weighted_axial_mean_of_faults(layers):
    tm = local_tm_of(TARGET)
    to_work = pyproj.Transformer.from_crs(tm, CRS, always_xy=True)

    def fault(az, length, x, y, reverse=False):
        dx, dy = math.sin(math.radians(az)) * length / 2, math.cos(math.radians(az)) * length / 2
        pts = [(x - dx, y - dy), (x + dx, y + dy)][:: -1 if reverse else 1]
        return shapely.LineString([to_work.transform(*p) for p in pts])

    faults = gdf(
        {"kind": ["fault", "fault", "contact"]},
        [fault(40, 3000, 0, 0), fault(50, 1000, 500, 0, reverse=True), fault(120, 2000, 0, 0)],
    )
    # Hand computation: doubled angles 80° (3 km) and 100° (1 km); the contact is ignored.
    c = 3 * math.cos(math.radians(80)) + math.cos(math.radians(100))
    s = 3 * math.sin(math.radians(80)) + math.sin(math.radians(100))
    expected = math.degrees(math.atan2(s, c)) / 2  # 42.48°
    plan = plan_for(layers, faults=faults)
    assert plan.targets["azimuth_deg"].iloc[0] == pytest.approx(expected, abs=0.01)
    assert plan.targets["azimuth_source"].iloc[0].startswith("faults: 4.0 km")
    # Axial: a fault drawn the other way gives the same trend.
    az, length, conc = axial_mean_azimuth(np.array([shapely.LineString([(0, 0), (-1, -1)])]))
    assert az == pytest.approx(45.0) and length == pytest.approx(math.sqrt(2)) and conc == 1.0


def test_auto_azimuth_falls_back_to_the_long_axis_of_open_ground(layers):
    long_target = gdf({"target_id": ["T01"], "rank": [1]}, [box(-2000, -1000, 1000, -100)])
    plan = stake_plan(long_target, land=layers["land"], max_claims=None)
    # The long axis runs along EPSG:5070's x axis; its true azimuth there is 90° minus the
    # grid convergence (about 12.4° at lon -117).
    to_ll = pyproj.Transformer.from_crs(CRS, "EPSG:4269", always_xy=True)
    (lon0, lon1), (lat0, lat1) = to_ll.transform([X - 1000, X + 1000], [Y - 550, Y - 550])
    expected = GEOD.inv(lon0, lat0, lon1, lat1)[0] % 180.0
    assert 75 < expected < 80
    assert plan.targets["azimuth_deg"].iloc[0] == pytest.approx(expected, abs=0.05)
    assert "no faults within 3 km" in plan.targets["azimuth_source"].iloc[0]


def test_plss_descriptions(layers):
    assert parse_frstdivid("UT260310S0030E0SN010") == {
        "meridian": "Salt Lake Meridian", "township": "T. 31 S.", "range": "R. 3 E.", "section": "1",
    }  # fmt: skip
    assert parse_frstdivid("CA210252S0381E0SN360")["township"] == "T. 25½ S."
    assert parse_frstdivid("not an id") is None
    plan = plan_for(layers, azimuth=30.0)
    claims = plan.claims.to_crs(CRS)
    sections = layers["plss"]
    for row, geom in zip(claims.to_dict("records"), claims.geometry, strict=True):
        share = shapely.area(shapely.intersection(geom, sections.geometry.to_numpy())) / geom.area
        best = int(np.argmax(share))
        sec = str(int(sections["parcel_id"].iloc[best][-3:-1]))
        assert (row["section"], row["township"], row["range"]) == (sec, "T. 20 N.", "R. 30 E.")
        assert row["meridian"] == "Mount Diablo Meridian"
        listed = {p.split(",")[0] for p in row["plss"].split("; ")}
        expected = {
            f"Sec. {int(sections['parcel_id'].iloc[i][-3:-1])}"
            for i in np.flatnonzero(share > 1e-4)
        }
        assert expected <= listed
    one = claims[claims["plss"].str.count(";") == 0].iloc[0]
    assert one["plss"] == f"Sec. {one['section']}, T. 20 N., R. 30 E., Mount Diablo Meridian"


def test_county_is_the_majority_county(layers):
    counties = gdf({"name": ["West", "East"], "state": ["NV", "NV"]},
                   [box(-9000, -9000, 0, 9000), box(0, -9000, 9000, 9000)]).to_crs("EPSG:4326")  # fmt: skip
    plan = plan_for(layers, azimuth=0.0, counties=counties)
    centroid_x = plan.claims.to_crs(CRS).centroid.x.to_numpy()
    expected = np.where(centroid_x < X, "West, NV", "East, NV")
    assert (plan.claims["county"].to_numpy() == expected).all()


def test_fees_summed(layers):
    fees = FeeSchedule.from_mapping(
        {
            "location_usd": 10,
            "processing_usd": 5.5,
            "maintenance_usd": 100,
            "source": "test schedule",
        }
    )
    plan = plan_for(layers, azimuth=30.0, fees=fees, max_claims=7)
    assert len(plan.claims) == 7
    assert (plan.claims["fee_total_usd"] == 115.5).all()
    assert plan.targets["fees_total_usd"].iloc[0] == pytest.approx(7 * 115.5)
    assert DEFAULT_FEES.per_claim_usd == 49 + 25 + 200
    with pytest.raises(ConfigError, match="location_us"):
        FeeSchedule.from_mapping({"location_us": 49})
    with pytest.raises(ConfigError, match="need a `source`"):
        FeeSchedule.from_mapping({"location_usd": 60})
    with pytest.raises(ConfigError, match=">= 0"):
        FeeSchedule.from_mapping({"maintenance_usd": -1, "source": "x"})


def test_unknown_land_refused_unless_allowed(layers):
    with pytest.raises(LandStatusUnknownError, match="land-status"):
        stake_plan(layers["targets"], azimuth=0.0)
    plan = stake_plan(layers["targets"], azimuth=0.0, allow_unknown_land=True, max_claims=3)
    assert (plan.claims["land_check"] == NOT_VERIFIED).all()
    assert (plan.corners["land_check"] == NOT_VERIFIED).all()
    assert any("OWNERSHIP NOT VERIFIED" in n for n in plan.notes)


def test_bad_parameters(layers):
    with pytest.raises(ConfigError, match="at most 1,500 × 600"):
        plan_for(layers, length_ft=1600)
    with pytest.raises(ConfigError, match="azimuth"):
        plan_for(layers, azimuth=float("nan"))
    with pytest.raises(Exception, match="CRS"):
        plan_for(layers, land=layers["land"].to_crs("EPSG:4326"))


def test_select_targets_merges_touching_parcels():
    cells = [box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000), box(5000, 0, 6000, 1000)]
    parcels = gdf(
        {"parcel_id": ["a", "b", "c"], "rank": [1, 3, 2], "score": [0.9, 0.7, 0.8],
         "commodities": ["copper; gold", "zinc", "lithium"]},
        cells,
    )  # fmt: skip
    targets = select_targets(parcels, top=3)
    assert list(targets["target_id"]) == ["T01", "T02"]
    assert list(targets["parcel_ids"]) == ["a; b", "c"]
    assert list(targets["rank"]) == [1, 2]
    assert targets["commodities"].iloc[0] == "copper; gold; zinc"
    assert targets.geometry.iloc[0].area == pytest.approx(2e6)
    # The block of a merged target starts at the centre of its best parcel.
    assert (targets["anchor_x"].iloc[0], targets["anchor_y"].iloc[0]) == pytest.approx(
        (X + 500, Y + 500)
    )
    with pytest.raises(Exception, match="Did you mean 'a'"):
        select_targets(parcels, parcel_ids=["aa"])


def test_writers(layers, tmp_path):
    from prospector.errors import OutputExistsError
    from prospector.export.stake import write_plan

    plan = stake_plan(layers["targets"], azimuth=20.0, allow_unknown_land=True, max_claims=4)
    paths = write_plan(plan, tmp_path / "plan.gpkg")
    info = {name: n for name, n in pyogrio.list_layers(paths["gpkg"])}
    assert set(info) == {"planned_claims", "claim_corners", "claim_centrelines", "stake_targets"}
    claims = pyogrio.read_dataframe(paths["gpkg"], layer="planned_claims")
    assert len(claims) == 4 and (claims["land_check"] == NOT_VERIFIED).all()
    kml = pyogrio.read_dataframe(paths["kml"], layer="Claims")
    assert len(kml) == 4 and kml["Name"].str.endswith("[OWNERSHIP NOT VERIFIED]").all()
    assert len(pyogrio.read_dataframe(f"/vsizip/{paths['kmz']}/doc.kml", layer="Corners")) == 16
    csv_lines = paths["csv"].read_text().splitlines()
    assert len(csv_lines) == 17 and csv_lines[1].endswith(NOT_VERIFIED)
    _check_gpx(paths["gpx"], n_wpt=16, n_trk=4)
    before = paths["gpx"].read_bytes()
    with pytest.raises(OutputExistsError):
        write_plan(plan, tmp_path / "plan.gpkg")
    assert paths["gpx"].read_bytes() == before


def _check_gpx(path, *, n_wpt: int, n_trk: int) -> None:
    """Structural GPX 1.1 check (element order and required attributes of the schema)."""
    ns = "{http://www.topografix.com/GPX/1/1}"
    root = ET.parse(path).getroot()
    assert root.tag == f"{ns}gpx" and root.get("version") == "1.1" and root.get("creator")
    order = {"metadata": 0, "wpt": 1, "rte": 2, "trk": 3, "extensions": 4}
    ranks = [order[child.tag.removeprefix(ns)] for child in root]
    assert ranks == sorted(ranks)
    wpt_order = {"ele": 0, "time": 1, "name": 4, "cmt": 5, "desc": 6, "sym": 9, "type": 10}
    wpts = root.findall(f"{ns}wpt")
    assert len(wpts) == n_wpt and len(root.findall(f"{ns}trk")) == n_trk
    for w in [*wpts, *root.iter(f"{ns}trkpt")]:
        assert -90 <= float(w.get("lat")) <= 90 and -180 <= float(w.get("lon")) < 180
        ranks = [wpt_order[c.tag.removeprefix(ns)] for c in w]
        assert ranks == sorted(ranks)
    for trk in root.findall(f"{ns}trk"):
        assert [c.tag.removeprefix(ns) for c in trk] == ["name", "desc", "type", "trkseg"]
        pts = trk.find(f"{ns}trkseg").findall(f"{ns}trkpt")
        assert len(pts) == 5 and pts[0].attrib == pts[-1].attrib  # closed outline


def test_plss_and_county_layers_without_their_columns_are_refused(layers):
    from prospector.errors import SchemaError

    with pytest.raises(SchemaError, match="FRSTDIVID"):
        plan_for(layers, plss=layers["plss"].rename(columns={"parcel_id": "id"}), azimuth=0.0)
    with pytest.raises(SchemaError, match="'name'"):
        plan_for(layers, counties=layers["plss"], azimuth=0.0)
    explicit = layers["plss"].assign(meridian="Boise Meridian", township="T. 1 N.", range="R. 2 E.",
                                     section="7")  # fmt: skip
    plan = plan_for(layers, plss=explicit, azimuth=0.0, max_claims=1)
    assert plan.claims["plss"].iloc[0] == "Sec. 7, T. 1 N., R. 2 E., Boise Meridian"
