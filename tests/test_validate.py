"""Spatial block cross-validation: hand-computed curves and kernels, leakage, CLI."""

from __future__ import annotations

import dataclasses
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from prospector.analysis.parcels import grid_parcels
from prospector.analysis.validate import (
    PredictionRate,
    area_positions,
    block_folds,
    cross_validate,
    random_folds,
    training_value,
    validation_report,
)
from prospector.analysis.value import deposit_weights, deposits_in_parcels
from prospector.cli.analysis_cmds import validate
from prospector.config import Config, load_config
from prospector.errors import ConfigError, ProspectorError
from prospector.schema.commodities import load_vocabulary
from tests.conftest import write_sites_region

CRS = "EPSG:5070"
X0, Y0 = -1_400_000.0, 1_900_000.0  # central Utah in CONUS Albers
VOCAB = load_vocabulary(2025)
HAVE_VALUE_ONLY = {
    "deposits": True,
    "evidence": False,
    "road": False,
    "rail": False,
    "power": False,
}


def _config(**value) -> Config:
    # The synthetic sites are independent draws, not records of one deposit: no merging
    # (de-duplication has its own test below).
    value = {"dedupe_m": 0.0, **value}
    return load_config(
        {
            "score": {"weights": {"value": 1.0, "access": 0.0, "evidence": 0.0}},
            "value": {"commodity_weights": {"copper": 1.0}, **value},
        }
    )


def _grid(size_km: float, cell_km: float) -> gpd.GeoDataFrame:
    box = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, size_km * 1000, size_km * 1000)], crs=CRS)
    parcels = grid_parcels(box, cell_m=cell_km * 1000)
    parcels["area_km2"] = parcels.geometry.area / 1e6
    for col in ("dist_road_km", "dist_rail_km", "dist_power_km", "dist_fault_km"):
        parcels[col] = np.nan
    return parcels.reset_index(drop=True)


def _sites(xy_km: np.ndarray) -> gpd.GeoDataFrame:
    n = len(xy_km)
    return gpd.GeoDataFrame(
        {
            "site_id": [f"s{i}" for i in range(n)],
            "commodities": [["copper"] for _ in range(n)],
            "dev_status": ["producer"] * n,
        },
        geometry=shapely.points(np.asarray(xy_km, dtype=float) * 1000.0),
        crs=CRS,
    )


# --------------------------------------------------------------------------- curve maths


def test_area_positions_and_capture_hand_computed():
    # Scores 3 > 2 = 2 > 1 with areas 1, 1, 2, 4 (total 8); parcels 1 and 2 tie.
    lo, hi = area_positions(np.array([3.0, 2.0, 2.0, 1.0]), np.array([1.0, 1.0, 2.0, 4.0]))
    np.testing.assert_allclose(lo, [0.0, 1 / 8, 1 / 8, 4 / 8])
    np.testing.assert_allclose(hi, [1 / 8, 4 / 8, 4 / 8, 1.0])
    rate = PredictionRate(lo[[0, 1]], hi[[0, 1]])  # one site in parcel 0, one in parcel 1
    # At 25 % of area: parcel 0 fully (1), a third of the tie (0.125 of 0.375) → (1 + 1/3) / 2.
    assert rate.capture(0.25) == pytest.approx((1 + 1 / 3) / 2)
    assert rate.capture(0.5) == pytest.approx(1.0)
    assert rate.capture(0.1) == pytest.approx(0.8 / 2)
    # AUC = 1 − mean of tie mid-points = 1 − (1/16 + 5/16) / 2.
    assert rate.auc == pytest.approx(1 - (1 / 16 + 5 / 16) / 2)


def test_auc_of_perfect_and_random_ranking():
    area = np.ones(10)
    score = np.arange(10, 0, -1, dtype=float)
    lo, hi = area_positions(score, area)
    perfect = PredictionRate(lo[[0, 1]], hi[[0, 1]])  # sites in the two best parcels
    assert perfect.auc == pytest.approx(0.9)
    assert perfect.capture(0.1) == pytest.approx(0.5)
    assert perfect.capture(0.2) == pytest.approx(1.0)
    lo, hi = area_positions(np.zeros(10), area)  # no information: one big tie
    flat = PredictionRate(lo[[0, 3, 7]], hi[[0, 3, 7]])
    assert flat.auc == pytest.approx(0.5)
    np.testing.assert_allclose(flat.capture(np.array([0.05, 0.1, 0.2])), [0.05, 0.1, 0.2])
    rng = np.random.default_rng(1)
    aucs = []
    for _ in range(200):
        lo, hi = area_positions(rng.permutation(10).astype(float), area)
        aucs.append(PredictionRate(lo[[2, 5]], hi[[2, 5]]).auc)
    assert np.mean(aucs) == pytest.approx(0.5, abs=0.03)


def test_area_positions_only_over_evaluated_parcels():
    lo, hi = area_positions(
        np.array([5.0, 4.0, 3.0, 2.0]), np.ones(4), np.array([False, True, True, False])
    )
    assert np.isnan(lo[0]) and np.isnan(hi[3])
    np.testing.assert_allclose([lo[1], hi[1], lo[2], hi[2]], [0.0, 0.5, 0.5, 1.0])


# --------------------------------------------------------------------------- kernel


def test_training_value_hand_computed_and_excludes_held_out():
    parcels = _grid(3, 1)  # 3 × 3 cells of 1 km
    sites = _sites([[0.5, 0.5], [2.5, 2.5]])  # centres of the SW and NE cells
    config = _config(radius_km=2.0)
    weights = deposit_weights(sites, VOCAB, config.value)
    assert weights["weight"].tolist() == [1.0, 1.0]
    cell = {
        (round(g.bounds[0] / 1000), round(g.bounds[1] / 1000)): i
        for i, g in enumerate(parcels.geometry)
    }
    both = training_value(parcels, sites, weights, np.array([True, True]), config.value)
    # The value rule of ranking: sites outside a cell count x 0.3 (nearby_factor), the second
    # best x 0.5 (discount).  Centre cell: each site is sqrt(0.5² + 0.5²) km from its edge →
    # (1 − 0.125)² each.
    near = 0.3
    assert both[cell[1, 1]] == pytest.approx(near * 0.875**2 * (1 + 0.5))
    assert both[cell[0, 0]] == pytest.approx(1.0)  # inside; the other site is 2.12 km away
    # South-centre cell: 0.5 km from the SW site, sqrt(0.5² + 1.5²) km from the NE one.
    sw, ne = (1 - 0.5**2 / 4) ** 2, (1 - 2.5 / 4) ** 2
    assert both[cell[1, 0]] == pytest.approx(near * sw + 0.5 * near * ne)
    only_sw = training_value(parcels, sites, weights, np.array([True, False]), config.value)
    assert only_sw[cell[1, 1]] == pytest.approx(near * 0.875**2)
    assert only_sw[cell[2, 2]] == 0.0
    # A held-out site contributes nothing, whatever its weight.
    heavy = weights.copy()
    heavy.loc[1, ["weight", *[c for c in heavy if c.startswith("w_")]]] = 1e9
    again = training_value(parcels, sites, heavy, np.array([True, False]), config.value)
    pd.testing.assert_series_equal(again, only_sw)


# --------------------------------------------------------------------------- folds


def test_block_folds_follow_blocks_and_parcels():
    parcels = _grid(40, 2)
    rng = np.random.default_rng(3)
    sites = _sites(rng.uniform(0, 40, size=(200, 2)))
    _, owner = deposits_in_parcels(parcels, sites, VOCAB)
    p_fold, d_fold = block_folds(parcels, sites, owner, block_km=10, n_folds=4, seed=0)
    centre = parcels.geometry.centroid
    block = (centre.x // 10_000).astype(int) * 100 + (centre.y // 10_000).astype(int)
    assert (pd.Series(p_fold).groupby(block.to_numpy()).nunique() == 1).all()
    assert sorted(np.bincount(p_fold // 1)) == [100] * 4  # 16 blocks of 25 cells, 4 per fold
    np.testing.assert_array_equal(d_fold, p_fold[owner])
    again = block_folds(parcels, sites, owner, block_km=10, n_folds=4, seed=0)
    np.testing.assert_array_equal(again[0], p_fold)
    other = block_folds(parcels, sites, owner, block_km=10, n_folds=4, seed=1)
    assert not np.array_equal(other[0], p_fold)


def test_random_folds_are_balanced_and_seeded():
    folds = random_folds(103, n_folds=5, seed=7)
    assert sorted(np.bincount(folds)) == [20, 20, 21, 21, 21]
    np.testing.assert_array_equal(folds, random_folds(103, n_folds=5, seed=7))


def test_bad_fold_settings_are_config_errors():
    parcels = _grid(20, 2)
    sites = _sites([[1, 1], [15, 15]])
    with pytest.raises(ConfigError, match="fewer than the 5 folds"):
        cross_validate(parcels, sites, VOCAB, _config(), have=HAVE_VALUE_ONLY, block_km=20)
    with pytest.raises(ConfigError, match="block size"):
        cross_validate(parcels, sites, VOCAB, _config(), have=HAVE_VALUE_ONLY, block_km=0)
    with pytest.raises(ConfigError, match="folds"):
        cross_validate(parcels, sites, VOCAB, _config(), have=HAVE_VALUE_ONLY, n_folds=1)
    with pytest.raises(ConfigError, match="targets"):
        cross_validate(parcels, sites, VOCAB, _config(), have=HAVE_VALUE_ONLY, targets="gold")


# --------------------------------------------------------------------------- leakage


def _clustered_sites(size_km: float, block_km: float, seed: int) -> gpd.GeoDataFrame:
    """Clusters drawn independently for each block, wrapped around inside it.

    Wrapping (not clipping) keeps the density of sites uniform across each block, so ground
    near a block edge is as likely to hold a site as ground in the middle.
    """
    rng = np.random.default_rng(seed)
    points = []
    n_blocks = int(size_km // block_km)
    for bx in range(n_blocks):
        for by in range(n_blocks):
            origin = np.array([bx, by]) * block_km
            for _ in range(2):
                centre = rng.uniform(0, block_km, size=2)
                pts = np.mod(centre + rng.normal(0, 0.6, size=(8, 2)), block_km)
                points.append(origin + np.clip(pts, 0.001, block_km - 0.001))
    return _sites(np.concatenate(points))


@pytest.fixture(scope="module")
def clustered():
    return _grid(100, 1), _clustered_sites(100, 10, seed=11)


def test_deposit_only_spatial_cv_is_chance_when_blocks_are_independent(clustered):
    """Deposit proximity cannot predict sites in an independent block: capture ≈ area share.

    The random-fold control on the same sites shows the test can see leakage: there,
    neighbours of a held-out site in its own cluster are training sites.
    """
    parcels, sites = clustered
    config = _config(radius_km=2.0)
    kw = {"have": HAVE_VALUE_ONLY, "block_km": 10, "n_folds": 5, "seed": 0}
    spatial = cross_validate(parcels, sites, VOCAB, config, scheme="spatial", **kw)
    rnd = cross_validate(parcels, sites, VOCAB, config, scheme="random", **kw)
    assert spatial.rate.n_targets == rnd.rate.n_targets == len(sites)
    assert spatial.rate.capture(0.1) == pytest.approx(0.1, abs=0.05)
    assert spatial.rate.auc == pytest.approx(0.5, abs=0.06)
    assert rnd.rate.capture(0.1) > 0.4


def test_held_out_sites_never_reach_their_fold(clustered):
    """Sites far (> kernel radius) from every other block: their fold's value must be zero.

    With a buffer at the kernel radius no training site reaches a held-out parcel, so the
    fold's scores are one tie and capture equals the area share exactly; any leak of a
    held-out site into the value would put its own parcel at the top.
    """
    parcels, sites = clustered
    config = _config(radius_km=2.0)
    cv = cross_validate(
        parcels, sites, VOCAB, config, have=HAVE_VALUE_ONLY, block_km=10, buffer_km=2.0
    )
    np.testing.assert_allclose(cv.rate.capture(np.array([0.05, 0.1, 0.2])), [0.05, 0.1, 0.2])
    assert cv.rate.auc == pytest.approx(0.5)
    assert (cv.folds["n_train_sites"] < len(sites) - cv.folds["n_targets"]).all()


def test_report_schema_determinism_and_variants(clustered):
    parcels, sites = clustered
    parcels = parcels.assign(dist_fault_km=np.abs(parcels.geometry.centroid.x / 1000 - 50))
    have = {**HAVE_VALUE_ONLY, "evidence": True}
    config = _config(radius_km=2.0)
    config = dataclasses.replace(
        config, score=dataclasses.replace(config.score, weights={"value": 0.7, "evidence": 0.3})
    )
    kw = {"have": have, "block_km": 20, "n_folds": 5, "seed": 4}
    variants = {"value_only": {"value": 1.0}, "evidence_only": {"evidence": 1.0}}
    report = validation_report(parcels, sites, VOCAB, config, variants=variants, **kw)
    assert report["n_deposits"] == len(sites) and report["block_km"] == 20.0
    for scheme in ("spatial", "random"):
        assert set(report[scheme]["capture"]) == {"0.05", "0.1", "0.2"}
        assert 0 <= report[scheme]["auc"] <= 1
    for key in ("0.05", "0.1", "0.2"):
        gap = report["random"]["capture"][key] - report["spatial"]["capture"][key]
        assert report["gap"]["capture"][key] == pytest.approx(gap)
    assert len(report["curves"]["spatial"]) == len(report["curves"]["area_fraction"])
    assert report["curves"]["random"][0] == 0.0 and report["curves"]["random"][-1] == 1.0
    # Evidence-only does not use the sites: random folds equal the in-sample ranking.
    ev = report["variants"]["evidence_only"]
    assert ev["random"]["capture"] == pytest.approx(ev["in_sample"]["capture"])
    json.dumps(report)  # plain data
    again = validation_report(parcels, sites, VOCAB, config, variants=variants, **kw)
    assert again["spatial"] == report["spatial"] and again["random"] == report["random"]
    other = validation_report(parcels, sites, VOCAB, config, **{**kw, "seed": 5})
    assert other["spatial"]["auc"] != report["spatial"]["auc"]
    skipped = validation_report(
        parcels, sites, VOCAB, config, **{**kw, "have": HAVE_VALUE_ONLY},
        variants={"evidence_only": {"evidence": 1.0}},
    )  # fmt: skip
    assert "skipped" in skipped["variants"]["evidence_only"]


def test_closed_parcels_are_not_area_and_their_sites_not_targets():
    parcels = _grid(20, 1)
    sites = _sites([[0.5, 0.5], [10.5, 10.5], [15.5, 5.5], [5.5, 15.5]])
    eligible = np.ones(len(parcels), dtype=bool)
    first = parcels.geometry.intersects(shapely.Point(500, 500)).to_numpy()
    eligible[first] = False
    cv = cross_validate(
        parcels, sites, VOCAB, _config(), have=HAVE_VALUE_ONLY, eligible=eligible,
        scheme="random", n_folds=2,
    )  # fmt: skip
    assert cv.rate.n_targets == 3
    assert cv.folds["area_km2"].iloc[0] == pytest.approx(399.0)


# --------------------------------------------------------------------------- CLI


def _write_region(tmp_path) -> str:
    rng = np.random.default_rng(0)
    xy = np.concatenate(
        [rng.normal(c, 1500, size=(12, 2)) for c in ([6000, 6000], [22000, 20000], [8000, 24000])]
    )
    xy = np.clip(xy, 100, 29_900)
    n = len(xy)
    return write_sites_region(
        tmp_path, size_m=30_000, origin=(X0, Y0), sites_xy=xy,
        codes=["CU", "LI", "AU AG", ""] * (n // 4),
        statuses=["producer", "prospect", "occurrence", "unknown"] * (n // 4),
        faults=[[(5000, 0), (9000, 30000)], [(0, 21000), (30000, 19000)]],
    )  # fmt: skip


def test_cli_validate_writes_metrics_and_plot(tmp_path):
    region = _write_region(tmp_path)
    out = tmp_path / "out"
    args = ["--region", region, "--block-km", "10", "--folds", "3", "--seed", "1",
            "--json", str(out / "metrics.json"), "--plots", str(out)]  # fmt: skip
    result = CliRunner().invoke(validate, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_deposits"] == 27  # 36 sites, 9 without a commodity
    assert metrics["block_km"] == 10 and metrics["region"] == "tiny"
    for scheme in ("spatial", "random"):
        assert set(metrics[scheme]["capture"]) == {"0.05", "0.1", "0.2"}
    # The learned model is validated by default (--no-model leaves it out).
    assert set(metrics["variants"]) == {"value_only", "evidence_only", "model"}
    assert (out / "prediction_rate.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "spatial 10 km" in result.output and "chance" in result.output
    again = CliRunner().invoke(validate, args)  # refuses to overwrite
    assert isinstance(again.exception, ProspectorError)
    assert CliRunner().invoke(validate, [*args, "--overwrite"]).exit_code == 0


def test_cli_validate_bad_input(tmp_path):
    region = _write_region(tmp_path)
    json_path = str(tmp_path / "m.json")
    bad_folds = CliRunner().invoke(validate, ["-r", region, "--folds", "1", "--json", json_path])
    assert bad_folds.exit_code == 2
    bad_block = CliRunner().invoke(validate, ["-r", region, "--block-km", "0", "--json", json_path])
    assert isinstance(bad_block.exception, ConfigError)
    too_big = CliRunner().invoke(validate, ["-r", region, "--block-km", "100", "--json", json_path])
    assert isinstance(too_big.exception, ConfigError) and "fewer than the 5 folds" in str(
        too_big.exception
    )
    assert not (tmp_path / "m.json").exists()
