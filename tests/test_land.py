"""Land status per parcel: hand-checked cases, published schemas, properties, real layers."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prospector.analysis.land import land_status
from prospector.errors import MissingLayerWarning, UnmappedCodeWarning
from tests.conftest import CRS, X0, Y0, square, write_layer

KM = 1000.0


def _gdf(geoms, crs=CRS, **cols):
    return gpd.GeoDataFrame(cols, geometry=list(geoms), crs=crs)


@pytest.fixture
def two_parcels():
    return _gdf([square(0, 0, KM), square(KM, 0, KM)], parcel_id=["A", "B"])


def test_hand_checked_fractions(two_parcels):
    withdrawals = _gdf([shapely.box(-10, -10, 0.5 * KM, KM + 10)], name=["W"], kind=["wilderness"])
    land = _gdf(
        [shapely.box(-10, -10, 1.4 * KM, KM + 10), shapely.box(1.4 * KM, -10, 2.1 * KM, KM + 10)],
        agency=["BLM", "PRIVATE"],
        federal=[True, False],
    )
    claims = _gdf(
        [shapely.box(0.5 * KM, 0, 0.75 * KM, KM), shapely.box(KM, 0, 2 * KM, KM)],
        serial=["UMC1", "UMC2"],
        disposition=["active", "closed"],
    )
    out = land_status(two_parcels, land=land, withdrawals=withdrawals, claims=claims)
    a, b = out.iloc[0], out.iloc[1]
    assert a["area_km2"] == pytest.approx(1.0)
    assert a["withdrawn_frac"] == pytest.approx(0.5)
    assert a["federal_frac"] == pytest.approx(1.0)
    assert a["claimed_frac"] == pytest.approx(0.25)
    assert a["open_frac"] == pytest.approx(0.25)
    assert a["land_status"] == "partly_open"
    assert a["agency"] == "BLM"
    assert a["withdrawals"] == "W"
    assert a["n_active_claims"] == 1
    # B: 40 % BLM, 60 % private, the claim over it is closed and does not count.
    assert b["withdrawn_frac"] == 0.0
    assert b["federal_frac"] == pytest.approx(0.4)
    assert b["claimed_frac"] == 0.0
    assert b["n_active_claims"] == 0
    assert b["open_frac"] == pytest.approx(0.4)
    assert b["agency"] == "PRIVATE"
    assert b["withdrawals"] == ""


def test_statuses(two_parcels):
    land = _gdf([shapely.box(-10, -10, 2.1 * KM, KM + 10)], agency=["BLM"], federal=[True])
    wd = _gdf([shapely.box(-10, -10, KM, KM + 10)], name=["Park"], kind=["nps"])
    out = land_status(two_parcels, land=land, withdrawals=wd)
    assert out["land_status"].tolist() == ["closed", "open"]
    assert out["status_reason"].iloc[0].startswith("withdrawn from mineral entry")
    assert "claims not checked" in out["status_reason"].iloc[1]
    assert out["open_frac"].tolist() == pytest.approx([0.0, 1.0])


def test_without_ownership_is_unknown_not_federal(two_parcels):
    wd = _gdf([shapely.box(-10, -10, KM, KM + 10)], name=["Park"], kind=["nps"])
    out = land_status(two_parcels, withdrawals=wd)
    assert out["land_status"].tolist() == ["closed", "unknown"]
    assert out["federal_frac"].isna().all()
    assert out["open_frac"].isna().all()
    assert out["status_reason"].iloc[1] == "ownership unknown: no land-ownership layer supplied"


def test_overlapping_withdrawals_not_double_counted(two_parcels):
    wd = _gdf(
        [shapely.box(0, 0, 0.6 * KM, KM), shapely.box(0.4 * KM, 0, KM, KM)],
        name=["X", "Y"],
        kind=["wilderness", "nps"],
    )
    out = land_status(two_parcels, withdrawals=wd)
    assert out["withdrawn_frac"].iloc[0] == pytest.approx(1.0)
    assert out["withdrawals"].iloc[0] == "X; Y"


def test_slivers_ignored(two_parcels):
    wd = _gdf([shapely.box(KM - 0.5, 0, KM + 0.5, KM)], name=["edge"], kind=["other"])
    out = land_status(two_parcels, withdrawals=wd, min_sliver_m2=1000.0)
    assert out["withdrawn_frac"].tolist() == [0.0, 0.0]
    assert out["withdrawals"].tolist() == ["", ""]


def test_crs_mismatch_refused(two_parcels):
    wd = _gdf([shapely.box(0, 0, 1, 1)], crs="EPSG:4326", name=["W"], kind=["other"])
    with pytest.raises(ValueError, match="reproject"):
        land_status(two_parcels, withdrawals=wd)


boxes = st.tuples(
    st.floats(0, 4000), st.floats(0, 4000), st.floats(50, 3000), st.floats(50, 3000)
).map(lambda t: shapely.box(t[0], t[1], t[0] + t[2], t[1] + t[3]))


@settings(max_examples=40, deadline=None)
# Found by hypothesis: subnormal coordinates make GEOS overlays raise the divide-by-zero
# flag, which numpy reported as a RuntimeWarning (an error here).
@example(
    withdrawn=[],
    federal=[shapely.box(0, 0, 50, 50)],
    claimed=[
        shapely.box(0, 0, 50, 50),
        shapely.box(0, 51, 50, 101),
        shapely.box(4.2743600106147774e-166, 0, 50, 50),
        shapely.box(5e-324, 0, 50, 51),
    ],
    seed=0,
)
@example(
    withdrawn=[shapely.box(0, 0, 50, 50)],
    federal=[shapely.box(8.952986184622652e-228, 0, 50, 51)],
    claimed=[shapely.box(4.2743600106147774e-166, 0, 50, 50)],
    seed=0,
)
@given(
    withdrawn=st.lists(boxes, min_size=0, max_size=5),
    federal=st.lists(boxes, min_size=1, max_size=4),
    claimed=st.lists(boxes, min_size=0, max_size=4),
    seed=st.integers(0, 1000),
)
def test_properties(withdrawn, federal, claimed, seed):
    parcels = _gdf(
        [square(x * KM, y * KM, KM) for y in range(4) for x in range(4)],
        parcel_id=list("abcdefghijklmnop"),
    )
    wd = _gdf(
        withdrawn, name=[f"w{i}" for i in range(len(withdrawn))], kind=["other"] * len(withdrawn)
    )
    land = _gdf(federal, agency=["BLM"] * len(federal), federal=[True] * len(federal))
    cl = _gdf(
        claimed,
        serial=[f"c{i}" for i in range(len(claimed))],
        disposition=["active"] * len(claimed),
    )
    out = land_status(parcels, land=land, withdrawals=wd, claims=cl)
    for col in ("withdrawn_frac", "federal_frac", "claimed_frac", "open_frac"):
        assert ((out[col] >= 0) & (out[col] <= 1)).all()
    # Open ground is federal, not withdrawn and not claimed: the parts add up.
    assert (out["open_frac"] <= out["federal_frac"] + 1e-9).all()
    assert (out["open_frac"] + out["withdrawn_frac"] <= 1 + 1e-9).all()
    # Exact area check against an independent overlay for every parcel.
    with np.errstate(all="ignore"):  # the reference overlays meet subnormals too
        fed = shapely.union_all(federal)
        block = (
            shapely.union_all([*withdrawn, *claimed]) if withdrawn or claimed else shapely.Polygon()
        )
        expected = (
            shapely.area(shapely.intersection(parcels.geometry.to_numpy(), fed.difference(block)))
            / 1e6
        )
    np.testing.assert_allclose(out["open_frac"].to_numpy(), expected, atol=1e-9)
    # Input order does not matter.
    rng = np.random.default_rng(seed)
    shuffled = land_status(
        parcels,
        land=land.iloc[rng.permutation(len(land))],
        withdrawals=wd.iloc[rng.permutation(len(wd))],
        claims=cl.iloc[rng.permutation(len(cl))],
    )
    pd.testing.assert_frame_equal(
        out.drop(columns="withdrawals"), shuffled.drop(columns="withdrawals")
    )
    # Tiling does not matter: two halves computed apart equal the whole.
    halves = pd.concat(
        [
            land_status(parcels.iloc[:8], land=land, withdrawals=wd, claims=cl),
            land_status(parcels.iloc[8:], land=land, withdrawals=wd, claims=cl),
        ]
    )
    pd.testing.assert_frame_equal(out, halves)


# --- published schemas through the catalogue -------------------------------------------


def _published_fixtures(tmp_path):
    """SMA, PAD-US and MLRS fixtures with the publishers' own field names and codes."""
    sma = gpd.GeoDataFrame(
        {
            "ADMIN_AGENCY_CODE": ["BLM", "USFS", "PVT"],
            "ADMIN_UNIT_NAME": ["Cedar City Field Office", "Dixie National Forest", None],
            "ADMIN_DEPT_CODE": ["DOI", "USDA", "PVT"],
        },
        geometry=[
            shapely.box(X0 - 100, Y0 - 100, X0 + 5_000, Y0 + 10_100),
            shapely.box(X0 + 5_000, Y0 - 100, X0 + 8_000, Y0 + 10_100),
            shapely.box(X0 + 8_000, Y0 - 100, X0 + 10_100, Y0 + 10_100),
        ],
        crs=CRS,
    )
    padus = gpd.GeoDataFrame(
        {
            "Mang_Type": ["FED", "FED"],
            "Mang_Name": ["BLM", "BLM"],
            "Unit_Nm": ["Research Natural Area", "Grazing land"],
            "GAP_Sts": ["1", "4"],
            "Des_Tp": ["RNA", "UNK"],
        },
        geometry=[
            shapely.box(X0, Y0, X0 + 2_000, Y0 + 2_000),
            shapely.box(X0 + 2_000, Y0, X0 + 4_000, Y0 + 2_000),
        ],
        crs=CRS,
    )
    mlrs = gpd.GeoDataFrame(
        {
            "CSE_NR": ["UT105123456", "UT105999999"],
            "CSE_NAME": ["LUCKY 1", "OLD 7"],
            "CSE_DISP": ["ACTIVE", "CLOSED"],
            "BLM_PROD": ["LODE CLAIM", "PLACER CLAIM"],
        },
        geometry=[
            shapely.box(X0 + 2_000, Y0 + 2_000, X0 + 3_000, Y0 + 3_000),
            shapely.box(X0 + 3_000, Y0 + 3_000, X0 + 4_000, Y0 + 4_000),
        ],
        crs=CRS,
    )
    write_layer(sma, tmp_path / "sma.gpkg")
    write_layer(padus, tmp_path / "padus.gpkg")
    write_layer(mlrs, tmp_path / "mlrs.gpkg")
    return """
[[layers]]
source = "blm-sma"
path = "sma.gpkg"

[[layers]]
source = "padus-gap12"
path = "padus.gpkg"

[[layers]]
source = "blm-mlrs-claims"
path = "mlrs.gpkg"
"""


def _rank(region):
    from prospector.ranking import rank

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingLayerWarning)
        warnings.simplefilter("ignore", UnmappedCodeWarning)
        return rank(region, {"parcels": {"cell_m": 1000.0}})


def test_published_schemas_change_statuses(tiny_region, tmp_path):
    base = _rank(tiny_region()).all_parcels.set_index("parcel_id")
    assert set(base["land_status"]) == {"unknown", "closed"}
    result = _rank(tiny_region(_published_fixtures(tmp_path)))
    status = result.all_parcels.set_index("parcel_id")
    assert len(status) == 100
    row0, col0 = int(Y0 // 1000), int(X0 // 1000)

    def cell(dx, dy):
        return status.loc[f"r{row0 + dy}c{col0 + dx}"]

    # PAD-US GAP 1 (x 0-2 km, y 0-2 km) is withdrawn → closed.
    assert cell(0, 0)["land_status"] == "closed"
    assert cell(1, 1)["withdrawals"] == "Research Natural Area"
    # GAP 4 is not a withdrawal: BLM ground, open.
    assert cell(3, 0)["land_status"] == "open"
    assert cell(3, 0)["agency"] == "BLM"
    # Active MLRS lode claim (x 2-3, y 2-3) → closed (claimed); the closed claim does not count.
    assert cell(2, 2)["claimed_frac"] == pytest.approx(1.0)
    assert cell(2, 2)["n_active_claims"] == 1
    assert cell(2, 2)["land_status"] == "closed"
    assert cell(3, 3)["land_status"] == "open"
    # USFS ground is federal and open; private ground is closed (not federal).
    assert cell(6, 1)["agency"] == "USFS"
    assert cell(6, 1)["land_status"] == "open"
    assert cell(9, 1)["agency"] == "PRIVATE"
    assert cell(9, 1)["status_reason"] == "not federal land"
    # The tiny region's wilderness (x 6-10, y 6-10) stays closed.
    assert cell(7, 7)["land_status"] == "closed"
    assert "claims" not in {m["role"] for m in result.missing}


def test_open_status_filter(tiny_region, tmp_path):
    from prospector.ranking import rank

    region = tiny_region(_published_fixtures(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingLayerWarning)
        result = rank(region, {"parcels": {"cell_m": 1000.0}, "score": {"status": "open"}})
    assert set(result.parcels["land_status"]) <= {"open", "partly_open"}
    assert result.parcels["rank"].tolist() == list(range(1, len(result.parcels) + 1))


# --- real layers -------------------------------------------------------------------------


def test_real_withdrawn_area_matches_overlay(utah_result):
    parcels = utah_result.all_parcels
    withdrawals = utah_result.data.withdrawals
    hit = parcels[parcels["withdrawn_frac"] > 0]
    union = shapely.union_all(withdrawals.geometry.to_numpy())
    expected = shapely.area(shapely.intersection(hit.geometry.to_numpy(), union)) / 1e6
    actual = (hit["withdrawn_frac"] * hit["area_km2"]).to_numpy()
    # Exact to 0.1 % of parcel area (slivers under 1,000 m² are ignored by default).
    assert np.all(np.abs(actual - expected) <= 0.001 * hit["area_km2"].to_numpy() + 1e-3)


def test_real_no_ranked_parcel_inside_wilderness(utah_result):
    wild = utah_result.data.withdrawals.query("kind == 'wilderness'")
    ranked = utah_result.parcels
    inside = shapely.contains_properly(
        shapely.union_all(wild.geometry.to_numpy()), ranked.geometry.to_numpy()
    )
    assert not inside.any()
    assert (utah_result.excluded["land_status"] == "closed").all()
    # Zion National Park (both the 1:10M outline and the NPS boundary) closes its parcels.
    zion = utah_result.excluded[utah_result.excluded["withdrawals"].str.contains("Zion")]
    assert len(zion) > 200


def test_only_blm_and_usfs_land_is_open(two_parcels):
    land = _gdf(
        [shapely.box(-10, -10, KM, KM + 10), shapely.box(KM, -10, 2.1 * KM, KM + 10)],
        agency=["DOD", "USFS"],
        federal=[True, True],
    )
    out = land_status(two_parcels, land=land)
    assert out["federal_frac"].tolist() == pytest.approx([1.0, 1.0])
    assert out["open_frac"].tolist() == pytest.approx([0.0, 1.0])
    assert out["land_status"].tolist() == ["closed", "open"]
    assert out["status_reason"].iloc[0].startswith("managed by DOD: not open to mineral location")
    # A user may open other agencies' land explicitly.
    out = land_status(two_parcels, land=land, open_agencies={"BLM", "USFS", "DOD"})
    assert out["land_status"].tolist() == ["open", "open"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [([1, 0], [True, False]), (["Y", "N"], [True, False]), (["true", "FALSE"], [True, False])],
)
def test_federal_flag_parsing(values, expected):
    from pathlib import Path

    from prospector.catalog import inline_entry
    from prospector.ingest import normalize_layer

    entry = inline_entry({"role": "land"}, where="t", path=Path("t.gpkg"))
    layer = _gdf(
        [square(0, 0, 1), square(1, 0, 1)],
        agency=["BLM", "PRIVATE"],
        federal=values,
        unit_name=["a", "b"],
        source=["s", "s"],
    )
    out, _ = normalize_layer(layer, entry, where="t")
    assert out["federal"].tolist() == expected


def test_federal_flag_garbage_is_an_error():
    from pathlib import Path

    from prospector.catalog import inline_entry
    from prospector.errors import SchemaError
    from prospector.ingest import normalize_layer

    entry = inline_entry({"role": "land"}, where="t", path=Path("t.gpkg"))
    layer = _gdf(
        [square(0, 0, 1)], agency=["BLM"], federal=["maybe"], unit_name=["a"], source=["s"]
    )
    with pytest.raises(SchemaError, match="values of 'federal' are not yes/no"):
        normalize_layer(layer, entry, where="t")


def test_padus_land_uses_fee_polygons_only(tiny_region, tmp_path):
    # PAD-US published fields; an easement over private land must not make it federal.
    padus = gpd.GeoDataFrame(
        {
            "FeatClass": ["Fee", "Easement"],
            "Mang_Type": ["FED", "FED"],
            "Mang_Name": ["BLM", "NRCS"],
            "Unit_Nm": ["Grazing allotment", "Conservation easement"],
            "GAP_Sts": ["4", "3"],
        },
        geometry=[
            shapely.box(X0 - 100, Y0 - 100, X0 + 5_000, Y0 + 10_100),
            shapely.box(X0 + 5_000, Y0 - 100, X0 + 10_100, Y0 + 10_100),
        ],
        crs=CRS,
    )
    write_layer(padus, tmp_path / "padus_land.gpkg")
    result = _rank(tiny_region('\n[[layers]]\nsource = "padus"\npath = "padus_land.gpkg"\n'))
    status = result.all_parcels.set_index("parcel_id")
    row0, col0 = int(Y0 // 1000), int(X0 // 1000)
    assert status.loc[f"r{row0 + 1}c{col0 + 1}", "land_status"] == "open"
    assert status.loc[f"r{row0 + 1}c{col0 + 1}", "agency"] == "BLM"
    east = status.loc[f"r{row0 + 1}c{col0 + 7}"]
    assert east["federal_frac"] == 0.0
    assert east["land_status"] == "closed"
    assert east["status_reason"].startswith("not federal land")
