"""Validation of the learned model and the site-only baselines (SYNTHETIC data built here)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.ndimage import gaussian_filter

from prospector.analysis import validate_model
from prospector.analysis.baselines import (
    brownfields_features,
    kde_bandwidth_m,
    kde_score,
    nearest_score,
)
from prospector.analysis.model import evidence_features, fit_prospectivity, predict_prospectivity
from prospector.analysis.parcels import grid_parcels
from prospector.analysis.validate import block_folds, validation_report
from prospector.analysis.validate_model import training_cells
from prospector.analysis.value import deposits_in_parcels
from prospector.config import load_config
from prospector.schema.commodities import load_vocabulary

CRS = "EPSG:5070"
VOCAB = load_vocabulary(2025)
HAVE = {"deposits": True, "evidence": False, "road": False, "rail": False, "power": False}
SIDE = 60  # km, 1 km cells


def _sites(xy_m: np.ndarray) -> gpd.GeoDataFrame:
    n = len(xy_m)
    return gpd.GeoDataFrame(
        {
            "site_id": [f"s{i:04d}" for i in range(n)],
            "commodities": [["copper"]] * n,
            "dev_status": ["unknown"] * n,
            "source": ["synthetic"] * n,
        },
        geometry=shapely.points(xy_m),
        crs=CRS,
    )


@pytest.fixture(scope="module")
def world():
    """A magnetic-like field controls where sites are; a decoy field does not."""
    rng = np.random.default_rng(5)
    box = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, SIDE * 1000, SIDE * 1000)], crs=CRS)
    parcels = grid_parcels(box, cell_m=1000.0).reset_index(drop=True)
    centre = shapely.get_coordinates(parcels.geometry.centroid.to_numpy())
    col, row = (centre // 1000).astype(int).T

    def field() -> np.ndarray:
        f = gaussian_filter(rng.normal(size=(SIDE, SIDE)), sigma=4.0)
        f = (f - f.min()) / (f.max() - f.min())
        return f[row, col]

    signal, decoy = field(), field()
    parcels["area_km2"] = 1.0
    parcels["ev_mag_mean"] = signal
    parcels["ev_decoy_mean"] = decoy
    for c in ("dist_road_km", "dist_rail_km", "dist_power_km", "dist_fault_km"):
        parcels[c] = np.nan
    parcels["value_raw"] = 0.0
    p = np.exp(5.0 * signal)
    cells = rng.choice(len(parcels), size=400, p=p / p.sum())
    xy = centre[cells] + rng.uniform(-400, 400, size=(len(cells), 2))
    return parcels, _sites(xy)


def _config(**model):
    return load_config(
        {
            "score": {"weights": {"value": 0.0, "access": 0.0, "evidence": 1.0}},
            "value": {"dedupe_m": 0.0},
            "model": {"n_estimators": 100, **model},
        }
    )


def test_model_beats_fixed_weights_under_spatial_blocks(world):
    parcels, sites = world
    report = validation_report(
        parcels, sites, VOCAB, _config(), have=HAVE, block_km=10.0, n_folds=5, seed=0,
        buffer_km=2.0, variants={"value_only": {"value": 1.0}}, models=True, baselines=True,
    )  # fmt: skip
    model, configured = report["variants"]["model"], report
    # Same keys as every other variant.
    assert set(model) >= {"spatial", "random", "in_sample", "gap", "curves", "weights"}
    assert set(report["baselines"]) == {"kde", "nearest5"}
    # Fixed weights share the evidence weight equally between the signal and the decoy;
    # the model learns to lean on the signal.  Measured when written: model 25.9 %,
    # fixed weights 23.7 %, the signal alone (the ceiling here) 29.7 % at 10 % of area.
    m10 = model["spatial"]["capture"]["0.1"]
    c10 = configured["spatial"]["capture"]["0.1"]
    assert m10 > c10 + 0.015
    assert m10 > 0.24  # 2.4x chance in held-out, buffered blocks


def test_model_finds_the_signal_among_decoys_and_beats_fixed_weights(world):
    """SYNTHETIC truth: sites near the highs of one raster, three decoy rasters unrelated.

    Fixed weights give each of the four rasters a quarter of the evidence weight; the
    model is refitted per fold (blocks + buffer) and must rank held-out sites clearly
    better, and its full fit must put nearly all its SHAP weight on the signal.
    """
    parcels, sites = world
    rng = np.random.default_rng(21)
    shuffled = parcels["ev_decoy_mean"].to_numpy()
    more = parcels.assign(
        ev_decoy2_mean=rng.permutation(shuffled),  # same distribution, no relation
        ev_decoy3_mean=rng.uniform(size=len(parcels)),
    )
    report = validation_report(
        more, sites, VOCAB, _config(), have=HAVE, block_km=10.0, n_folds=5, seed=0,
        buffer_km=2.0, models=True,
    )  # fmt: skip
    m10 = report["variants"]["model"]["spatial"]["capture"]["0.1"]
    c10 = report["spatial"]["capture"]["0.1"]
    # Measured when written: model 25.5 %, fixed weights 13.5 % at 10 % of area.
    assert m10 > c10 + 0.08
    assert m10 > 0.22
    features = evidence_features(more)
    _, owner = deposits_in_parcels(more, sites, VOCAB)
    model = fit_prospectivity(
        features, np.bincount(owner[owner >= 0], minlength=len(more)),
        key=more["parcel_id"].to_numpy(), config=_config().model, seed=0,
    )  # fmt: skip
    shap = predict_prospectivity(model, features).filter(like="shap_").abs().mean()
    share = shap / shap.sum()
    # Measured: signal 64 % of the mean |SHAP|, decoys 9-15 % each (trees split on noise
    # too, a little); the signal outweighs every decoy more than fourfold.
    assert share["shap_ev_mag_mean"] > 0.5
    assert share["shap_ev_mag_mean"] > 3 * share.drop("shap_ev_mag_mean").max()


def test_model_learns_a_direction_the_fixed_weights_get_wrong(world):
    """Sites at the magnetic *lows* (say, magnetite destroyed by alteration).

    The weighted method assumes high is favourable unless told otherwise
    (``evidence.raster_direction``), so it ranks the sites below chance; the model learns
    the direction from the sites.
    """
    parcels, _ = world
    rng = np.random.default_rng(11)
    p = np.exp(5.0 * (1.0 - parcels["ev_mag_mean"].to_numpy()))
    cells = rng.choice(len(parcels), size=400, p=p / p.sum())
    centre = shapely.get_coordinates(parcels.geometry.centroid.to_numpy())[cells]
    sites = _sites(centre + rng.uniform(-400, 400, size=(len(cells), 2)))
    report = validation_report(
        parcels, sites, VOCAB, _config(), have=HAVE, block_km=10.0, n_folds=5, seed=0,
        buffer_km=2.0, models=True,
    )  # fmt: skip
    assert report["spatial"]["capture"]["0.1"] < 0.1
    assert report["variants"]["model"]["spatial"]["capture"]["0.1"] > 0.2
    assert report["below_chance"] == ["configured"]


def test_model_never_trains_on_held_out_cells_or_their_buffer(world, monkeypatch):
    parcels, sites = world
    calls = []
    real = validate_model.fit_prospectivity

    def spy(features, positive, **kw):
        calls.append((np.asarray(positive).copy(), np.asarray(kw["train"]).copy()))
        return real(features, positive, **kw)

    monkeypatch.setattr(validate_model, "fit_prospectivity", spy)
    buffer_km = 3.0
    validation_report(
        parcels, sites, VOCAB, _config(n_estimators=5), have=HAVE, block_km=10.0, n_folds=5,
        seed=0, buffer_km=buffer_km, models=True,
    )  # fmt: skip
    _, owner = deposits_in_parcels(parcels, sites, VOCAB)
    parcel_fold, site_fold = block_folds(parcels, sites, owner, block_km=10.0, n_folds=5, seed=0)
    geoms = parcels.geometry.to_numpy()
    spatial = [(p, t) for p, t in calls if not t.all()]
    assert len(spatial) == 5  # one fit per held-out fold
    seen = set()
    for positive, train in spatial:
        # The held-out fold: the one none of whose parcels trains (buffer parcels of other
        # folds are out too, so the first excluded parcel need not be in the held-out fold).
        (k,) = [j for j in range(5) if not (train & (parcel_fold == j)).any()]
        seen.add(int(k))
        held = parcel_fold == k
        # Every parcel within the buffer of the held-out block (exact GEOS distance) is out.
        union = shapely.union_all(geoms[held])
        near = shapely.distance(geoms, union) <= buffer_km * 1000.0
        assert not (train & near).any()
        # Held-out sites are never labelled: no positive parcel in the held-out block.
        assert not (positive[held] > 0).any()
        assert positive.sum() <= (site_fold != k).sum()
    assert seen == {0, 1, 2, 3, 4}
    # Random folds: held-out sites are unlabelled, never positive.
    random_calls = [(p, t) for p, t in calls if t.all()]
    assert len(random_calls) == 6  # 5 folds + the in-sample fit
    assert sorted(int(p.sum()) for p, _ in random_calls)[-1] == len(sites)


def test_training_cells_box_buffer_is_a_superset_of_the_exact_one(world):
    parcels, _ = world
    held = np.zeros(len(parcels), dtype=bool)
    held[:5] = True
    keep = training_cells(parcels, held, 2.5)
    geoms = parcels.geometry.to_numpy()
    exact = shapely.distance(geoms, shapely.union_all(geoms[held])) <= 2500.0
    assert not (keep & exact).any()
    assert not keep[held].any()
    assert keep.sum() >= len(parcels) - 200


def test_validation_uses_deduplicated_sites(world):
    parcels, sites = world
    twins = sites.iloc[:3].copy()
    twins["site_id"] = ["t0", "t1", "t2"]
    twins["source"] = "other"
    both = gpd.GeoDataFrame(__import__("pandas").concat([sites, twins], ignore_index=True), crs=CRS)
    config = load_config({"score": {"weights": {"value": 1.0}}, "value": {"dedupe_m": 300.0}})
    report = validation_report(
        parcels, both, VOCAB, config, have=HAVE, block_km=10.0, n_folds=5, seed=0
    )
    alone = validation_report(
        parcels, sites, VOCAB, config, have=HAVE, block_km=10.0, n_folds=5, seed=0
    )
    assert report["n_sites"] == alone["n_sites"]


def test_nearest_and_kde_baselines_hand_computed():
    sites = _sites(np.array([[0.0, 0.0], [3000.0, 0.0], [0.0, 4000.0]]))
    centres = shapely.points([[0.0, 0.0], [3000.0, 4000.0]])
    got = nearest_score(centres, sites, k=2)
    # (0, 0): nearest two at 0 and 3 km -> mean 1.5; (3000, 4000): 4 km and 3 km -> 3.5.
    np.testing.assert_allclose(got, [-1.5, -3.5])
    # Scott's rule: sigma = mean of the coordinate standard deviations, h = sigma n^(-1/6).
    sx, sy = np.std([0, 3000, 0], ddof=1), np.std([0, 0, 4000], ddof=1)
    assert kde_bandwidth_m(sites) == pytest.approx(max(1000.0, (sx + sy) / 2 * 3 ** (-1 / 6)))
    dense = kde_score(shapely.points([[1000.0, 1000.0], [50_000.0, 50_000.0]]), sites)
    assert dense[0] > 0 and dense[1] == pytest.approx(0.0, abs=1e-12)


def test_brownfields_leave_out_the_parcels_own_sites():
    box = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 3000, 1000)], crs=CRS)
    parcels = grid_parcels(box, cell_m=1000.0).reset_index(drop=True)  # 3 cells in a row
    sites = _sites(np.array([[500.0, 500.0]]))  # inside the first cell, at its centre
    _, owner = deposits_in_parcels(parcels, sites, VOCAB)
    out = brownfields_features(parcels, sites, owner, radii_km=[2.0])
    # Own cell: 0.  Next cell's centre is 1 km away: biweight (1 - 0.25)^2 = 0.5625 over the
    # kernel's effective area pi r^2 / 3 = 4.18879 km², per 100 km².
    expected = 0.5625 / (np.pi * 4 / 3) * 100
    np.testing.assert_allclose(out["brownfields_2km"], [0.0, expected, 0.0], atol=1e-12)


def test_brownfields_exclude_and_grid_radii_hand_computed():
    """exclude_km drops nearby sites; radii above 10 km are counted between cell centres."""
    box = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 5000, 1000)], crs=CRS)
    parcels = grid_parcels(box, cell_m=1000.0).reset_index(drop=True)  # centres x = 500..4500
    sites = _sites(np.array([[500.0, 500.0], [3500.0, 500.0]]))
    out = brownfields_features(parcels, sites, np.array([-1, -1]), radii_km=[4.0], exclude_km=1.5)
    # Cell 0 (x=500): its own site at 0 km is excluded (< 1.5 km), the other at 3 km counts:
    # (1 - (3/4)^2)^2 = 0.19140625.  Cell 2 (x=2500): sites at 2 and 1 km -> only the first;
    # cell 4 (x=4500): at 4 km (kernel 0) and 1 km (excluded) -> 0.
    per = 100 / (np.pi * 16 / 3)
    expected = np.array([0.19140625, 0.5625, 0.5625, 0.19140625, 0.0]) * per
    np.testing.assert_allclose(out["brownfields_4km"], expected, atol=1e-12)
    # 20 km radius: cells of 20 km / 32 = 625 m aligned to multiples of 625 m; the site at
    # (500, 500) sits in cell (0, 0), centre (312.5, 312.5) apart from the parcel centres
    # by the same cell offset, so distances between cell centres are multiples of 625 m.
    far = brownfields_features(parcels, sites.iloc[:1], np.array([-1]), radii_km=[20.0])
    cx = (np.floor(np.array([500, 1500, 2500, 3500, 4500]) / 625.0) - 0) * 625.0
    d = np.abs(cx - 0.0)
    expected = (1 - (d / 20_000) ** 2) ** 2 * 100 / (np.pi * 400 / 3)
    np.testing.assert_allclose(far["brownfields_20km"], expected, rtol=1e-9)


def test_site_only_rankings_are_at_chance_where_training_has_no_information():
    """Leak check.  SYNTHETIC: tight camps of sites at random places, unrelated to evidence.

    Under blocks with a buffer wider than a camp, no training site says anything about a
    held-out camp, so every site-based ranking (model with brownfields, kde, nearest5)
    must capture about chance.  Under random folds the same camps are split between
    training and held-out sites, and the same rankings find them (nearly 100 %): a ranking
    that sees a held-out camp's sites finds the camp, so a leak of held-out sites into
    the features or training rows lifts the blocked figures above chance.
    """
    rng = np.random.default_rng(8)
    box = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, SIDE * 1000, SIDE * 1000)], crs=CRS)
    parcels = grid_parcels(box, cell_m=1000.0).reset_index(drop=True)
    parcels["area_km2"] = 1.0
    parcels["ev_decoy_mean"] = rng.normal(size=len(parcels))
    for c in ("dist_road_km", "dist_rail_km", "dist_power_km", "dist_fault_km"):
        parcels[c] = np.nan
    parcels["value_raw"] = 0.0
    camps = rng.uniform(0, SIDE * 1000, size=(80, 2))
    xy = np.repeat(camps, 5, axis=0) + rng.normal(scale=300.0, size=(400, 2))
    xy = np.clip(xy, 1.0, SIDE * 1000 - 1.0)
    config = _config(brownfields=True, brownfields_km=[2.0, 5.0, 20.0])
    report = validation_report(
        parcels, _sites(xy), VOCAB, config, have=HAVE, block_km=10.0, n_folds=5, seed=0,
        buffer_km=3.0, models=True, baselines=True,
    )  # fmt: skip
    entries = {
        "model": report["variants"]["model"],
        "model_brownfields": report["variants"]["model_brownfields"],
        "kde": report["baselines"]["kde"],
        "nearest5": report["baselines"]["nearest5"],
    }
    got = {
        k: (e["spatial"]["capture"]["0.1"], e["random"]["capture"]["0.1"])
        for k, e in entries.items()
    }
    # Measured when written (seeds 100-102 of this world): 7-13 % for every ranking.
    for name, (blocked, _) in got.items():
        assert 0.02 < blocked < 0.2, (name, blocked)
    # Camps of 5 sites within ~300 m: a random split leaves most of each camp in training.
    assert got["model_brownfields"][1] > 0.5
    assert got["nearest5"][1] > 0.5
