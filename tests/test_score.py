"""Normalisation, combination methods and decay functions against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from prospector.analysis.access import decay
from prospector.analysis.criteria import build_criteria
from prospector.analysis.score import combine, normalise
from prospector.config import load_config

# --------------------------------------------------------------------------- normalise


def test_minmax_rescales_and_missing_is_no_evidence():
    out = normalise(pd.Series([2.0, 4.0, np.nan, 6.0]), "minmax")
    assert out.tolist() == [0.0, 0.5, 0.0, 1.0]


def test_rank_is_average_percentile_rank():
    # Four values: ranks 4, 1, 2.5, 2.5 (the tie shares ranks 2 and 3) over 4; NaN → 0.
    out = normalise(pd.Series([3.0, 1.0, 2.0, 2.0, np.nan]), "rank")
    np.testing.assert_allclose(out, [1.0, 0.25, 0.625, 0.625, 0.0])


def test_z_is_normal_cdf_of_population_z_score():
    # Mean 2, population standard deviation sqrt(2/3): z = ∓sqrt(3/2), 0.
    z = math.sqrt(1.5)
    phi = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
    out = normalise(pd.Series([1.0, 2.0, 3.0, np.nan]), "z")
    np.testing.assert_allclose(out, [1.0 - phi, 0.5, phi, 0.0], rtol=1e-12)
    assert phi == pytest.approx(0.889664, abs=1e-6)  # tables: Φ(1.2247) = 0.88966


@pytest.mark.parametrize("how", ["minmax", "rank", "z"])
def test_constant_or_empty_criterion_carries_no_information(how):
    assert normalise(pd.Series([5.0, 5.0, 5.0]), how).tolist() == [0.0, 0.0, 0.0]
    assert normalise(pd.Series([np.nan, np.nan]), how).tolist() == [0.0, 0.0]


def test_unknown_normalisation_is_refused():
    with pytest.raises(ValueError, match="unknown normalisation 'log'"):
        normalise(pd.Series([1.0, 2.0]), "log")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- combine

CRITERIA = pd.DataFrame({"a": [1.0, 0.5, 0.5], "b": [0.5, 1.0, 0.5]}, index=["p", "q", "r"])
WEIGHTS = {"a": 0.75, "b": 0.25}


def test_wlc_is_the_weighted_sum_and_contributions_add_up():
    score, contrib = combine(CRITERIA, {**WEIGHTS, "unused": 0.0}, method="wlc")
    # p: .75 + .125; q: .375 + .25; r: .375 + .125.
    assert score.tolist() == [0.875, 0.625, 0.5]
    assert list(contrib.columns) == ["a", "b"]  # zero-weight criteria are left out
    np.testing.assert_allclose(contrib["a"], [0.75, 0.375, 0.375])
    np.testing.assert_allclose(contrib["b"], [0.125, 0.25, 0.125])


def test_gamma_overlay_hand_computed():
    score, contrib = combine(CRITERIA, WEIGHTS, method="gamma", gamma=0.8)
    # Memberships: a × 1, b × 1/3 (weights relative to the largest).
    # p: mu = (1, 1/6): algebraic sum 1, product 1/6.
    # q: mu = (1/2, 1/3): sum 1 - (1/2)(2/3) = 2/3, product 1/6.
    # r: mu = (1/2, 1/6): sum 1 - (1/2)(5/6) = 7/12, product 1/12.
    expected = [
        1.0**0.8 * (1 / 6) ** 0.2,
        (2 / 3) ** 0.8 * (1 / 6) ** 0.2,
        (7 / 12) ** 0.8 * (1 / 12) ** 0.2,
    ]
    np.testing.assert_allclose(score, expected, rtol=1e-12)
    # Contributions are the WLC shares (p: .75 and .125 of .875) rescaled to the score.
    np.testing.assert_allclose(contrib.loc["p"], [expected[0] * 6 / 7, expected[0] / 7])
    np.testing.assert_allclose(contrib.sum(axis=1), expected, rtol=1e-12)


def test_gamma_extremes_are_product_and_sum():
    x = pd.DataFrame({"a": [0.5], "b": [0.4]})
    w = {"a": 0.5, "b": 0.5}
    assert combine(x, w, method="gamma", gamma=0.0)[0].iloc[0] == pytest.approx(0.2)
    assert combine(x, w, method="gamma", gamma=1.0)[0].iloc[0] == pytest.approx(1 - 0.5 * 0.6)


def test_topsis_hand_computed():
    # Both columns have norm sqrt(1.5) = 1/s.  Weighted: p (.75s, .125s), q (.375s, .25s),
    # r (.375s, .125s); ideal (.75s, .25s), anti-ideal (.375s, .125s).
    # p: d+ = .125s, d- = .375s → .75.  q: d+ = .375s, d- = .125s → .25.  r: d- = 0 → 0.
    score, contrib = combine(CRITERIA, WEIGHTS, method="topsis")
    np.testing.assert_allclose(score, [0.75, 0.25, 0.0], atol=1e-12)
    np.testing.assert_allclose(contrib.loc["q"], [0.25 * 0.375 / 0.625, 0.25 * 0.25 / 0.625])


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown scoring method 'owa'"):
        combine(CRITERIA, WEIGHTS, method="owa")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- decay


def test_access_decay_is_exponential_and_nan_is_zero():
    out = decay(np.array([0.0, 5.0, 10.0, np.nan]), 5.0)
    np.testing.assert_allclose(out, [1.0, math.exp(-1.0), math.exp(-2.0), 0.0], rtol=1e-15)


def test_criteria_from_distances_hand_computed():
    """Distances → decay → min-max → family weights split by the access weights."""
    parcels = pd.DataFrame(
        {
            "value_raw": [0.0, math.e - 1.0, 3.0 * (math.e - 1.0)],
            "dist_road_km": [0.0, 5.0, np.nan],
            "dist_rail_km": [0.0, 30.0, 60.0],
            "dist_power_km": [np.nan, np.nan, np.nan],
            "dist_fault_km": [10.0, 5.0, 0.0],
        }
    )
    config = load_config(None)
    have = {"deposits": True, "road": True, "rail": True, "power": False, "evidence": True}
    crit, weights = build_criteria(parcels, config, have=have)
    # value: log1p → 0, 1, log(3e - 2); min-max over that range.
    top = math.log(3.0 * math.e - 2.0)
    np.testing.assert_allclose(crit["value"], [0.0, 1.0 / top, 1.0])
    # road (scale 5 km): e^0, e^-1, 0 → min-max over [0, 1].
    np.testing.assert_allclose(crit["access_road"], [1.0, math.exp(-1.0), 0.0])
    # rail (scale 30 km): 1, e^-1, e^-2 → (x - e^-2) / (1 - e^-2).
    lo = math.exp(-2.0)
    np.testing.assert_allclose(crit["access_rail"], [1.0, (math.exp(-1.0) - lo) / (1 - lo), 0.0])
    assert crit["access_power"].tolist() == [0.0, 0.0, 0.0]
    # fault (scale 5 km): e^-2, e^-1, 1.
    np.testing.assert_allclose(crit["evidence_fault"], [0.0, (math.exp(-1.0) - lo) / (1 - lo), 1.0])
    # Configured: value .6; access .25 split road .5 / rail .3 / power .2; evidence .15.
    assert weights.configured["access_road"] == pytest.approx(0.125)
    assert weights.configured["access_rail"] == pytest.approx(0.075)
    assert weights.configured["access_power"] == pytest.approx(0.05)
    # Without a power layer (nor DEM or travel cost) its .05 is spread over the rest (.95).
    assert weights.redistributed == {"access_power": "no power layer"}
    assert weights.effective["value"] == pytest.approx(0.6 / 0.95)
    assert weights.effective["access_road"] == pytest.approx(0.125 / 0.95)
    assert weights.effective["evidence_fault"] == pytest.approx(0.15 / 0.95)
    assert weights.effective["access_power"] == 0.0
