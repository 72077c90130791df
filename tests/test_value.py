"""Deposit weights and the sites inside each parcel, on small frames built in code."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from prospector.analysis.value import deposit_weights, deposits_in_parcels
from prospector.config import load_config
from prospector.schema.commodities import load_vocabulary


@pytest.fixture()
def frames():
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["a", "b", "c"]},
        geometry=[
            shapely.box(0, 0, 10, 10),
            shapely.box(10, 0, 20, 10),
            shapely.box(20, 0, 30, 10),
        ],
        crs="EPSG:5070",
    )
    deposits = gpd.GeoDataFrame(
        {
            "site_id": ["s1", "s2", "s3", "s4", "s5"],
            "commodities": [
                ["zinc", "copper"],
                ["copper", None, "lithium"],  # a None names no commodity
                [],
                ["gold"],
                ["copper"],
            ],
            "dev_status": ["producer", "prospect", "occurrence", "producer", "prospect"],
        },
        # s2 on the edge shared by a and b goes to a (first parcel touching it); s4 is outside.
        geometry=shapely.points([(5, 5), (10, 5), (15, 5), (50, 50), (25, 5)]),
        crs="EPSG:5070",
    )
    return parcels, deposits


def test_sites_inside_and_commodity_lists(frames):
    parcels, deposits = frames
    vocabulary = load_vocabulary(2025)
    out, owner = deposits_in_parcels(parcels, deposits, vocabulary)
    assert owner.tolist() == [0, 0, 1, -1, 2]
    assert out["n_deposits"].tolist() == [2, 1, 1]
    assert out["commodities"].tolist() == ["copper; lithium; zinc", "", "copper"]
    assert out["critical_commodities"].tolist() == ["copper; lithium; zinc", "", "copper"]
    assert out["n_critical_deposits"].tolist() == [2, 0, 1]


def test_weights_ignore_missing_commodities(frames):
    _, deposits = frames
    weights = deposit_weights(deposits, load_vocabulary(2025), load_config(None).value)
    assert weights["n_critical"].tolist() == [2, 2, 0, 0, 1]
    assert weights["group"].iloc[2] == "none"
    assert weights["weight"].iloc[2] == 0.0
    assert np.isfinite(weights["weight"]).all()


# --------------------------------------------------------------------------- kernel variants


def test_kernel_variants_hand_computed():
    from prospector.analysis.value import kernel

    d = np.array([0.0, 5000.0 / 3.0, 2500.0, 4999.0, 5000.0, 7000.0])
    # Gaussian with sigma = radius / 3, cut at the radius: exp(-u²/2) with u = 3d/R.
    np.testing.assert_allclose(
        kernel(d, 5000.0, "gaussian"),
        [1.0, np.exp(-0.5), np.exp(-1.125), np.exp(-0.5 * (3 * 0.9998) ** 2), 0.0, 0.0],
        rtol=1e-12,
    )
    np.testing.assert_allclose(kernel(d, 5000.0, "uniform"), [1, 1, 1, 1, 0, 0])
    np.testing.assert_allclose(
        kernel(d, 5000.0, "biweight"), [1.0, (8 / 9) ** 2, 0.5625, (1 - 0.9998**2) ** 2, 0, 0]
    )
    with pytest.raises(ValueError, match="unknown kernel 'cone'"):
        kernel(d, 5000.0, "cone")


def _sites(commodities, statuses, xy):
    return gpd.GeoDataFrame(
        {
            "site_id": [f"s{i}" for i in range(len(commodities))],
            "commodities": commodities,
            "dev_status": statuses,
        },
        geometry=shapely.points(xy),
        crs="EPSG:5070",
    )


def test_diversity_bonus_is_capped_and_group_weights_hand_computed():
    sites = _sites(
        [
            # Seven critical commodities: bonus 0.1 × 6 = 0.6, capped at +50 %.
            ["lithium", "cobalt", "nickel", "graphite", "copper", "zinc", "tungsten"],
            # Three critical commodities: +20 %.
            ["copper", "zinc", "silver"],
            # Gold is not critical (0.4 × precious 0.7), silver is (1.0 × 0.7).
            ["gold", "silver"],
        ],
        ["producer", "past_producer", "prospect"],
        [(0, 0), (10, 0), (20, 0)],
    )
    weights = deposit_weights(sites, load_vocabulary(2025), load_config(None).value)
    assert weights["n_critical"].tolist() == [7, 3, 1]
    # producer 1.0 × battery 1.0 × 1.5; past producer 0.8 × base 0.8 × 1.2; prospect 0.5 × 0.7.
    np.testing.assert_allclose(weights["weight"], [1.5, 0.8 * 0.8 * 1.2, 0.35])
    assert weights["group"].tolist() == ["battery", "base", "precious"]
    # Group sub-weights: status × best commodity weight within the group, no diversity bonus.
    first = weights.iloc[0]
    assert (first["w_battery"], first["w_base"], first["w_specialty"]) == pytest.approx(
        (1.0, 0.8, 0.8)
    )
    assert first["w_precious"] == 0.0 and first["w_ree"] == 0.0
    second = weights.iloc[1]
    assert (second["w_base"], second["w_precious"]) == pytest.approx((0.64, 0.56))
    assert weights.iloc[2]["w_precious"] == pytest.approx(0.35)


def test_commodity_and_group_overrides_hand_computed():
    sites = _sites([["gold", "silver"], ["lithium"]], ["producer", "producer"], [(0, 0), (9, 0)])
    config = load_config(
        {"value": {"commodity_weights": {"gold": 2.0}, "group_weights": {"battery": 0.5}}}
    ).value
    weights = deposit_weights(sites, load_vocabulary(2025), config)
    # Gold's override replaces its computed weight (0.28); lithium: 1.0 × battery 0.5.
    np.testing.assert_allclose(weights["weight"], [2.0, 0.5])
    assert weights["group"].tolist() == ["precious", "battery"]


def test_parcel_group_values_hand_computed():
    from prospector.analysis.value import parcel_value

    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["a", "b", "c"]},
        geometry=[
            shapely.box(0, 0, 1000, 1000),
            shapely.box(3500, 0, 4500, 1000),  # 2.5 km east of the site
            shapely.box(20_000, 0, 21_000, 1000),  # beyond the radius
        ],
        crs="EPSG:5070",
    )
    sites = _sites(
        [["lithium", "copper"], ["gold"]], ["producer", "occurrence"], [(1000, 500), (500, 500)]
    )
    # The plain kernel-weighted sum (aggregate = "sum", no preference for the parcel holding
    # the site).
    config = load_config({"value": {"aggregate": "sum", "nearby_factor": 1.0}}).value
    weights = deposit_weights(sites, load_vocabulary(2025), config)
    out = parcel_value(parcels, sites, weights, config)
    # Site 0 (on a's east edge): battery 1.0, base 0.8, weight 1.0 × 1.1 (two critical).
    # Site 1 (inside a): occurrence 0.3 × gold 0.4 × 0.7 = 0.084, group precious.
    # Parcel b: 2.5 km from site 0 (k = (1 - 0.25)² = 0.5625), 3 km from site 1 (k = 0.4096).
    k0, k1 = 0.5625, (1 - 0.36) ** 2
    np.testing.assert_allclose(out["value_raw"], [1.1 + 0.084, 1.1 * k0 + 0.084 * k1, 0.0])
    np.testing.assert_allclose(out["value_battery"], [1.0, k0, 0.0])
    np.testing.assert_allclose(out["value_base"], [0.8, 0.8 * k0, 0.0])
    np.testing.assert_allclose(out["value_precious"], [0.084, 0.084 * k1, 0.0])
    assert out["value_ree"].tolist() == [0.0, 0.0, 0.0]
    # The default rule: sites outside the parcel count 0.3 (nearby_factor), and the second
    # best site of a parcel half again (discount); each group column is discounted alone.
    default = load_config(None).value
    out = parcel_value(parcels, sites, weights, default)
    np.testing.assert_allclose(
        out["value_raw"],
        [1.1 + 0.5 * 0.084, 0.3 * 1.1 * k0 + 0.5 * (0.3 * 0.084 * k1), 0.0],
    )
    np.testing.assert_allclose(out["value_battery"], [1.0, 0.3 * k0, 0.0])
    np.testing.assert_allclose(out["value_precious"], [0.084, 0.3 * 0.084 * k1, 0.0])
    # Without a name column the site id names the site contributing most.
    assert out["value_site"].tolist() == ["s0", "s0", ""]
