"""What the map carries for live re-weighting, and the bundled orientation layers."""

from __future__ import annotations

import base64

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from prospector.analysis.criteria import build_criteria, criterion_shares
from prospector.catalog.context import ContextMissing, load_context
from prospector.config import load_config
from prospector.errors import SchemaError
from prospector.render import Scoring, build_map
from prospector.render._demo import grid_parcels
from prospector.render._payload import as_text, id_order, parcel_groups, text_values
from prospector.render._scoring import FLOAT64_BUDGET_BYTES, scoring_payload


def measured(n: int = 30, *, rasters: int = 0) -> pd.DataFrame:
    """Measured parcel columns (SYNTHETIC, random) as build_criteria reads them."""
    rng = np.random.default_rng(3)
    table = pd.DataFrame(
        {
            "value_raw": rng.random(n) * 5,
            "dist_road_km": rng.random(n) * 20,
            "dist_rail_km": rng.random(n) * 90,
            "dist_power_km": rng.random(n) * 40,
            "dist_fault_km": rng.random(n) * 10,
            "slope_mean_deg": rng.random(n) * 30,
            "dem_coverage": np.ones(n),
        }
    )
    for i in range(rasters):
        table[f"ev_grid{i}_mean"] = rng.random(n)
    return table


HAVE = {"deposits": True, "evidence": True, "road": True, "rail": True, "power": False}


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"score": {"weights": {"value": 0.3, "access": 0.3, "evidence": 0.4}}},
        {"score": {"access_weights": {"road": 0.7, "rail": 0.1, "power": 0.1, "terrain": 0.3}}},
        {"score": {"access_weights": {"road": 0.0, "rail": 0.0, "power": 0.0}}},
    ],
)
@pytest.mark.parametrize("rasters", [0, 3])
def test_criterion_shares_reproduce_build_criteria_to_the_bit(overrides, rasters):
    config = load_config(overrides)
    criteria, weights = build_criteria(measured(rasters=rasters), config, have=HAVE)
    shares = criterion_shares(list(criteria.columns), config)
    assert list(shares) == list(criteria.columns)
    for name, (family, num, den) in shares.items():
        # Exactly (not approximately) the configured weight: the page repeats this product.
        assert config.score.weights.get(family, 0.0) * num / den == weights.configured[name]
    assert shares["access_road"][0] == "access" and shares["terrain"][0] == "access"
    assert shares["value"] == ("value", 1.0, 1.0)
    assert shares["evidence_fault"] == ("evidence", 1.0, float(1 + rasters))


def test_criterion_shares_other_families_follow_their_name():
    config = load_config({})
    shares = criterion_shares(["value", "prospectivity", "model_a", "model_b"], config)
    assert shares["prospectivity"] == ("prospectivity", 1.0, 1.0)
    assert shares["model_a"] == ("model", 1.0, 2.0) and shares["model_b"] == ("model", 1.0, 2.0)


def test_weights_record_why_each_criterion_is_missing():
    config = load_config({})
    _, weights = build_criteria(measured(), config, have=HAVE)
    assert weights.unavailable == {
        "access_power": "no power layer",
        "travel": "no travel cost (needs access.travel_cost, a DEM and roads)",
    }


def _scoring(criteria: pd.DataFrame) -> Scoring:
    config = load_config({})
    return Scoring(
        criteria=criteria,
        family_weights=dict(config.score.weights),
        shares=criterion_shares(list(criteria.columns), config),
        available=dict.fromkeys(criteria.columns, True),
    )


def test_scoring_payload_carries_the_exact_values_in_map_order():
    crit = pd.DataFrame(
        {"value": [0.1, 0.2, 0.3], "evidence_fault": [1.0, 0.0, 0.5]}, index=["a", "b", "c"]
    )
    out = scoring_payload(_scoring(crit), np.array(["c", "a"]))  # map rows: c, a
    assert out["dtype"] == "float64" and out["n_columns"] == 2
    values = np.frombuffer(base64.b64decode(out["values"]), dtype="<f8")
    np.testing.assert_array_equal(values, [0.3, 0.1, 0.5, 1.0])  # column-major
    fault = next(c for c in out["criteria"] if c["key"] == "evidence_fault")
    # TOPSIS statistics over every normalised parcel, the unmapped "b" included.
    assert fault["norm"] == pytest.approx(np.sqrt(1.25)) and fault["min"] == 0.0
    assert [f["key"] for f in out["families"]] == ["value", "access", "evidence"]


def test_scoring_payload_falls_back_to_float32_beyond_the_budget():
    n = FLOAT64_BUDGET_BYTES // 8 + 1
    crit = pd.DataFrame({"value": np.linspace(0, 1, n)}, index=np.arange(n).astype(str))
    out = scoring_payload(_scoring(crit), crit.index.to_numpy())
    assert out["dtype"] == "float32"


def test_scoring_payload_refuses_bad_criteria():
    crit = pd.DataFrame({"value": [0.1, 1.5]}, index=["a", "b"])
    with pytest.raises(SchemaError, match=r"\[0, 1\]"):
        scoring_payload(_scoring(crit), np.array(["a", "b"]))
    crit = pd.DataFrame({"value": [0.1, 0.5]}, index=["a", "b"])
    with pytest.raises(SchemaError, match="1 map parcels have no criteria row"):
        scoring_payload(_scoring(crit), np.array(["a", "zz"]))


def test_id_order_sorts_like_rank_scores_ties():
    ids = np.array(["b", "a10", None, "a2"], dtype=object)
    # String order (a10 < a2 < b), missing last.
    assert id_order(ids).tolist() == [2, 0, 3, 1]


def test_commodity_lists_are_text_not_python_reprs():
    frame = pd.DataFrame({"commodities": [["copper", "lead", "silver"], None, "gold"]})
    assert text_values(frame, "commodities", "").tolist() == ["copper, lead, silver", "", "gold"]
    assert as_text(("a", None, "b")) == "a, b"


def test_parcel_groups_from_deposit_parcel_ids():
    parcels = grid_parcels(2, 1)
    deposits = gpd.GeoDataFrame(
        {"group": ["battery", "ree", "battery"], "parcel_id": ["0_1", "0_1", None]},
        geometry=[shapely.Point(0, 0)] * 3,
        crs=5070,
    )
    mask = parcel_groups(parcels, deposits)
    # DEPOSIT_GROUPS order: ree = bit 0, battery = bit 1.
    assert mask.tolist() == [0, 0b11]


def test_build_map_with_scoring_and_context():
    parcels = grid_parcels(3, 2)
    crit = pd.DataFrame(
        {"value": np.linspace(0, 1, 6), "evidence_fault": np.linspace(1, 0, 6)},
        index=parcels["parcel_id"].to_numpy(),
    )
    lonlat = parcels.to_crs(4326).total_bounds
    counties = gpd.GeoDataFrame(
        {"geoid": ["49053"], "name": ["Washington"], "state": ["UT"]},
        geometry=[shapely.box(*lonlat)],
        crs=4326,
    )
    places = gpd.GeoDataFrame(
        {"name": ["<b>Springdale</b>"], "kind": ["village"], "population": [500]},
        geometry=[shapely.Point((lonlat[0] + lonlat[2]) / 2, (lonlat[1] + lonlat[3]) / 2)],
        crs=4326,
    )
    counties.attrs["source"] = "test counties"
    html = (
        build_map(parcels, scoring=_scoring(crit), context={"counties": counties, "places": places})
        .get_root()
        .render()
    )
    assert "<b>Springdale" not in html  # escaped in the JSON
    assert '"counties_source":"test counties"' in html
    assert '"min_zoom":[11]' in html


def test_load_context_bundled_bbox():
    ctx = load_context((-113.7, 37.0, -113.0, 37.5))  # around St. George, Utah
    counties, places = ctx["counties"], ctx["places"]
    assert "Washington" in set(counties["name"]) and set(counties["state"]) >= {"UT"}
    assert counties.crs.to_epsg() == 4326 and places.crs.to_epsg() == 4326
    assert {"geoid", "name", "state"} <= set(counties.columns)
    assert {"name", "kind", "population"} <= set(places.columns)
    assert "Saint George" in set(places["name"])  # GeoNames spelling
    assert set(places["kind"]) <= {"city", "town", "village"}
    assert counties.attrs["source"].startswith("US Census")


def test_load_context_errors(tmp_path):
    with pytest.raises(SchemaError, match="west < east"):
        load_context((10, 0, 5, 1))
    with pytest.raises(SchemaError, match="west, south, east, north"):
        load_context("utah")  # type: ignore[arg-type]
    with pytest.raises(ContextMissing, match=r"build_context\.py"):
        load_context((-113.5, 37.0, -113.0, 37.5), path=tmp_path / "none.gpkg")


def test_terrain_reason_says_no_dem_or_its_coverage():
    config = load_config(None)
    no_dem = measured().drop(columns="dem_coverage").assign(slope_mean_deg=np.nan)
    _, weights = build_criteria(no_dem, config, have=HAVE)
    assert weights.unavailable["terrain"] == "no DEM"
    partial = measured(20).assign(dem_coverage=[1.0] * 5 + [np.nan] * 15)
    _, weights = build_criteria(partial, config, have=HAVE)
    assert weights.unavailable["terrain"] == "DEM covers 25.0% of parcels (< 80%)"
