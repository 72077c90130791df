"""RankResult.criteria: rebuilt on first use, equal to the bit to the table the run scored with."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from prospector.analysis.criteria import build_criteria, criteria_inputs
from prospector.analysis.score import Weights
from prospector.config import load_config
from prospector.ranking import RankResult
from prospector.ranking.steps import make_parcels, measure_parcels

HAVE = {"deposits": True, "evidence": True, "road": True, "rail": True, "power": False}


def measured(n: int) -> pd.DataFrame:
    """Measured parcel columns (SYNTHETIC, random, with gaps) plus columns criteria ignore."""
    rng = np.random.default_rng(11)
    table = pd.DataFrame(
        {
            "parcel_id": [f"P{i:05d}" for i in range(n)],
            "land_status": rng.choice(["open", "unknown", "restricted"], n),
            "value_raw": rng.lognormal(0.0, 2.0, n),
            "dist_road_km": rng.random(n) * 20,
            "dist_rail_km": rng.random(n) * 90,
            "dist_power_km": np.full(n, np.nan),
            "dist_fault_km": rng.random(n) * 10,
            "slope_mean_deg": np.where(rng.random(n) < 0.1, np.nan, rng.random(n) * 30),
            "dem_coverage": np.where(rng.random(n) < 0.1, np.nan, 1.0),
            "ev_mag_mean": rng.normal(50.0, 20.0, n),
            "prospectivity": rng.random(n),
            "score": rng.random(n),
        }
    )
    return table


def split(
    table: pd.DataFrame, n_ranked: int, seed: int
) -> tuple[np.ndarray, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The rows in a run's order: a permutation, ranked first, as ``finish`` gathers them."""
    rows = np.random.default_rng(seed).permutation(len(table))
    frames = []
    for part in (rows[:n_ranked], rows[n_ranked:]):
        frame = table.take(part).reset_index(drop=True)
        frames.append(
            gpd.GeoDataFrame(frame, geometry=shapely.points(np.c_[part, part]), crs="EPSG:5070")
        )
    return rows, frames[0], frames[1]


@pytest.mark.parametrize("normalise", ["minmax", "rank", "z"])
@pytest.mark.parametrize("method", ["wlc", "topsis", "model"])
def test_rebuilt_criteria_equal_the_scored_ones_to_the_bit(normalise, method):
    table = measured(5_000)
    config = load_config({"score": {"normalise": normalise, "method": method}})
    expected, weights = build_criteria(table, config, have=HAVE)
    expected.index = pd.Index(table["parcel_id"].array, name="parcel_id")
    rows, ranked, excluded = split(table, 4_100, seed=5)
    result = RankResult(
        parcels=ranked,
        excluded=excluded,
        data=None,  # type: ignore[arg-type]  # not needed by the criteria
        config=config,
        weights=weights,
        available=HAVE,
        criteria_rows=rows,
    )
    assert result._criteria is None  # nothing held until asked
    got = result.criteria
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got is result.criteria  # built once
    assert got.columns[0] == ("prospectivity" if method == "model" else "value")


def test_parcel_order_matters_for_z_scores():
    """Why the run's order is kept: z-scores summed in another order differ in the last bits."""
    table = measured(5_000)
    config = load_config({"score": {"normalise": "z"}})
    expected, _ = build_criteria(table, config, have=HAVE)
    rows, ranked, excluded = split(table, 4_100, seed=5)
    other = pd.concat([ranked, excluded], ignore_index=True)  # rank order, not measured order
    shuffled, _ = build_criteria(other, config, have=HAVE)
    shuffled = shuffled.set_axis(rows).sort_index()
    assert not shuffled.equals(expected)
    np.testing.assert_allclose(shuffled.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)


def test_criteria_inputs_are_all_build_criteria_reads():
    table = measured(500)
    config = load_config({"score": {"method": "model"}})
    inputs = criteria_inputs(table.columns)
    # In the frame's order; parcel_id, land_status and score are not criteria inputs.
    assert inputs == [c for c in table.columns if c not in ("parcel_id", "land_status", "score")]
    full, w_full = build_criteria(table, config, have=HAVE)
    only, w_only = build_criteria(table[inputs], config, have=HAVE)
    pd.testing.assert_frame_equal(full, only, check_exact=True)
    assert w_full == w_only


def test_result_criteria_checks_its_rows():
    table = measured(50)
    config = load_config(None)
    rows, ranked, excluded = split(table, 40, seed=1)
    result = RankResult(
        parcels=ranked,
        excluded=excluded,
        data=None,  # type: ignore[arg-type]
        config=config,
        weights=Weights({}, {}, {}, {}),
        available=HAVE,
        criteria_rows=rows[:-1],
    )
    with pytest.raises(ValueError, match="criteria_rows has 49 positions for 50 parcels"):
        _ = result.criteria
    explicit = pd.DataFrame({"value": [1.0]})
    result.criteria = explicit  # set explicitly: used as is
    assert result.criteria is explicit


def test_utah_criteria_equal_an_independent_measurement(utah_result):
    """The sample run's criteria equal build_criteria of the parcels measured afresh."""
    data, config = utah_result.data, utah_result.config
    table, _ = measure_parcels(make_parcels(data, config), data, config)
    expected, weights = build_criteria(table, config, have=utah_result.available)
    expected.index = pd.Index(table["parcel_id"].array, name="parcel_id")
    pd.testing.assert_frame_equal(utah_result.criteria, expected, check_exact=True)
    assert weights.effective == utah_result.weights.effective
    assert len(expected) == 85_584


def test_criteria_refused_after_the_frames_were_reordered():
    table = measured(300)
    config = load_config(None)
    expected, weights = build_criteria(table, config, have=HAVE)
    rows, ranked, excluded = split(table, 200, seed=2)

    def result() -> RankResult:
        return RankResult(
            parcels=ranked.copy(),
            excluded=excluded.copy(),
            data=None,  # type: ignore[arg-type]
            config=config,
            weights=weights,
            available=HAVE,
            criteria_rows=rows,
        )

    changed = result()
    order = np.argsort(changed.parcels["parcel_id"].to_numpy())
    changed.parcels["parcel_id"] = changed.parcels["parcel_id"].to_numpy()[order]  # ids moved
    with pytest.raises(ValueError, match="reordered, added to or cut after the run"):
        _ = changed.criteria
    cut = result()
    cut._excluded = cut.excluded.iloc[2:]
    with pytest.raises(ValueError, match="criteria_rows has 300 positions for 298 parcels"):
        _ = cut.criteria
    # A new column does not matter; the criteria are as scored.
    added = result()
    added.parcels["note"] = "checked"
    assert np.array_equal(added.criteria.to_numpy(), expected.to_numpy())
