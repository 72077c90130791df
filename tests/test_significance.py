"""Significance in value, commodity focus and import-reliance weighting (issue 19, 14).

Every expected value is computed by hand from the documented rule.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from prospector.analysis.value import (
    commodity_weight,
    deposit_weights,
    discounted_sums,
    parcel_value,
)
from prospector.config import load_config
from prospector.errors import ConfigError
from prospector.schema.commodities import load_import_reliance, load_vocabulary, resolve_focus


def _sites(commodities, *, status="producer", **columns):
    n = len(commodities)
    return gpd.GeoDataFrame(
        {"commodities": commodities, "dev_status": [status] * n, **columns},
        geometry=shapely.points(np.column_stack([np.arange(n) * 100.0 + 5, np.full(n, 5.0)])),
        crs="EPSG:5070",
    )


def test_discounted_sums_best_first():
    parcel = np.array([0, 0, 0, 1, 0])
    terms = np.array([0.2, 0.8, 0.4, 0.5, 0.4])
    sums, best = discounted_sums(parcel, terms, 3, 0.5)
    # Parcel 0: 0.8 + 0.4/2 + 0.4/4 + 0.2/8; parcel 1: 0.5; parcel 2: nothing.
    np.testing.assert_allclose(sums, [0.8 + 0.2 + 0.1 + 0.025, 0.5, 0.0])
    assert best.tolist() == [1, 3, -1]
    np.testing.assert_allclose(discounted_sums(parcel, terms, 3, 1.0)[0], [1.8, 0.5, 0.0])
    np.testing.assert_allclose(discounted_sums(parcel, terms, 3, 0.0)[0], [0.8, 0.5, 0.0])


def test_discounted_sums_ties_for_best_go_to_the_smallest_tiebreak_then_the_first():
    parcel = np.array([0, 0, 0, 1, 1, 2])
    terms = np.array([0.5, 0.8, 0.8, 0.3, 0.3, 0.25])
    tiebreak = np.array([0, 5, 2, 1, 1, 9])
    sums, best = discounted_sums(parcel, terms, 4, 0.5, tiebreak=tiebreak)
    # Parcel 0: 0.8 + 0.8/2 + 0.5/4; parcel 1: 0.3 + 0.3/2; parcel 2: 0.25.
    np.testing.assert_allclose(sums, [1.325, 0.45, 0.25, 0.0])
    # Parcel 0: the two 0.8 tie, tiebreak 2 < 5; parcel 1: equal tiebreaks, first row.
    assert best.tolist() == [2, 3, 5, -1]
    # Without a tiebreak, the first of the tied rows.
    assert discounted_sums(parcel, terms, 4, 0.5)[1].tolist() == [1, 3, 5, -1]


def test_one_significant_deposit_outweighs_a_camp_of_records():
    # Parcel A holds 100 UMOS-like records of one copper camp; parcel B one PP 1802 site.
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["A", "B"]},
        geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(50_000, 0, 51_000, 1000)],
        crs="EPSG:5070",
    )
    xy = np.vstack([np.full((100, 2), 500.0), [[50_500.0, 500.0]]])
    deposits = gpd.GeoDataFrame(
        {
            "name": [f"adit {i}" for i in range(100)] + ["Apex Mine"],
            "commodities": [["copper"]] * 100 + [["gallium"]],
            "dev_status": ["unknown"] * 101,
            "source": ["umos"] * 100 + ["mrdata_pp1802"],
        },
        geometry=shapely.points(xy),
        crs="EPSG:5070",
    )
    config = load_config(None).value
    weights = deposit_weights(deposits, load_vocabulary(2025), config)
    # Copper record: 0.3 unknown status x 0.8 (critical, base); gallium: x 2 compilation.
    assert weights["weight"].iloc[0] == pytest.approx(0.3 * 0.8)
    assert weights["weight"].iloc[100] == pytest.approx(0.3 * 0.8 * 2.0)
    value = parcel_value(parcels, deposits, weights, config)
    # A: 0.24 x (1 + 1/2 + ... + 1/2**99) = 0.24 x (2 - 2**-99); B: 0.48.
    assert value["value_raw"].iloc[0] == pytest.approx(0.24 * (2 - 2.0**-99))
    assert value["value_raw"].iloc[1] == pytest.approx(0.48)
    assert value["value_site"].tolist() == ["adit 0", "Apex Mine"]
    assert value["value_basis"].iloc[1] == "in a USGS significant-deposit compilation"
    # Plain sums let the count of records win: 100 x 0.24 = 24.
    summed = load_config({"value": {"aggregate": "sum"}}).value
    assert parcel_value(parcels, deposits, weights, summed)["value_raw"].iloc[0] == pytest.approx(
        24.0
    )


def test_nearby_sites_count_at_nearby_factor():
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["in", "next"]},
        geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)],
        crs="EPSG:5070",
    )
    deposits = _sites([["lithium"]])  # at (5, 5): inside "in", 995 m from "next"
    config = load_config(None).value
    weights = deposit_weights(deposits, load_vocabulary(2025), config)
    value = parcel_value(parcels, deposits, weights, config)
    k = (1 - (995.0 / 5000.0) ** 2) ** 2  # biweight kernel
    np.testing.assert_allclose(value["value_raw"], [1.0, 0.3 * k])


def test_corroboration_membership_and_size_factors():
    deposits = _sites(
        [["copper"]] * 4,
        source=["umos", "umos", "mrdata_major_deposits", "umos"],
        n_sources=[1, 3, 2, 7],
        size=["small", "large", None, "medium"],
    )
    weights = deposit_weights(deposits, load_vocabulary(2025), load_config(None).value)
    # 1 + 0.5 x min(n - 1, 2); compilation x 2; size large x 2, medium x 1.5.
    np.testing.assert_allclose(weights["significance"], [1.0, 2.0 * 2.0, 2.0 * 1.5, 2.0 * 1.5])
    np.testing.assert_allclose(weights["weight"], 0.8 * weights["significance"])
    assert weights["basis"].tolist() == [
        "",
        "3 independent sources; large deposit",
        "in a USGS significant-deposit compilation; 2 independent sources",
        "7 independent sources; medium deposit",
    ]


def test_merged_sources_list_earns_the_compilation_bonus():
    deposits = _sites(
        [["beryllium"], ["beryllium"]],
        source=["umos", "umos"],
        sources=[["umos", "MRDATA_PP1802"], ["umos"]],
        n_sources=[2, 1],
    )
    weights = deposit_weights(deposits, load_vocabulary(2025), load_config(None).value)
    np.testing.assert_allclose(weights["significance"], [2.0 * 1.5, 1.0])


def test_import_reliance_ranks_gallium_and_rare_earths_above_exports():
    vocab = load_vocabulary(2025)
    config = load_config({"value": {"commodity_weighting": "import_reliance"}}).value
    table = load_import_reliance()
    assert table["gallium"].published == "100" and table["gallium"].leading_source == "Japan"
    assert table["germanium"].percent == 50.0  # published ">50": the lower bound
    assert table["silicon"].percent == 25.0  # published "<50": the middle of 0..50
    assert "beryllium" not in table  # not in MCS 2025 figure 2: unknown
    w = {c: commodity_weight(c, vocab, config) for c in ("gallium", "neodymium", "copper")}
    # group weight x (0.1 + 0.9 x share): specialty 0.8, ree 1.0, base 0.8.
    assert w["gallium"] == pytest.approx(0.8 * 1.0)
    assert w["neodymium"] == pytest.approx(1.0 * (0.1 + 0.9 * 0.80))
    assert w["copper"] == pytest.approx(0.8 * (0.1 + 0.9 * 0.45))
    assert commodity_weight("beryllium", vocab, config) == pytest.approx(0.8 * 0.1)
    assert commodity_weight("gold", vocab, config) == pytest.approx(0.7 * 0.1)
    # Under the default (criticality) weighting gallium and copper weigh the same.
    default = load_config(None).value
    assert commodity_weight("gallium", vocab, default) == commodity_weight("copper", vocab, default)


def test_focus_zeroes_other_commodities():
    vocab = load_vocabulary(2025)
    config = load_config({"value": {"focus_commodities": ["W"]}}).value
    focus = resolve_focus(config.focus_commodities, vocabulary=vocab)
    assert focus == {"tungsten"}
    assert commodity_weight("tungsten", vocab, config, focus=focus) == pytest.approx(0.8)
    assert commodity_weight("copper", vocab, config, focus=focus) == 0.0
    deposits = _sites([["tungsten", "zinc"], ["copper"]])
    weights = deposit_weights(deposits, vocab, config)
    # Site 1: tungsten 0.8 x (1 + 0.1 diversity: zinc is still critical); site 2: nothing.
    np.testing.assert_allclose(weights["weight"], [0.8 * 1.1, 0.0])
    assert weights["group"].tolist() == ["specialty", "none"]


def test_focus_groups_and_umbrella_names():
    vocab = load_vocabulary(2025)
    assert resolve_focus(groups=["battery"], vocabulary=vocab) == {
        "cobalt",
        "graphite",
        "lithium",
        "manganese",
        "nickel",
    }
    assert resolve_focus("lithium,boron", vocabulary=vocab) == {"lithium", "boron"}
    ree = resolve_focus("rare earths", vocabulary=vocab)
    assert "neodymium" in ree and "yttrium" in ree and len(ree) == 16
    assert resolve_focus("Nd", vocabulary=vocab) == {"neodymium", "rare_earths"}
    assert resolve_focus(vocabulary=vocab) == frozenset()


def test_unknown_focus_names_say_did_you_mean():
    with pytest.raises(ConfigError, match=r"'tungstn'. Did you mean 'tungsten'"):
        load_config({"value": {"focus_commodities": ["tungstn"]}})
    with pytest.raises(ConfigError, match=r"'batery'. Did you mean 'battery'"):
        resolve_focus(groups=["batery"])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("discount", 1.5),
        ("nearby_factor", -0.1),
        ("import_floor", 2.0),
        ("corroboration_cap", -1),
        ("commodity_weighting", "supply"),
        ("aggregate", "max"),
    ],
)
def test_bad_value_settings_are_refused(key, value):
    with pytest.raises(ConfigError, match=f"value.{key}"):
        load_config({"value": {key: value}})
