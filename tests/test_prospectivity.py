"""Learned prospectivity in ranking runs: decision score, evidence skill, a SYNTHETIC region."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine

from prospector.analysis.criteria import build_criteria
from prospector.analysis.prospectivity import (
    decision_criteria,
    evidence_skill,
    learning_sites,
    parcel_folds,
)
from prospector.analysis.score import combine
from prospector.config import Config, load_config
from prospector.errors import ConfigError, MissingLayerWarning
from prospector.ranking import map_info, rank
from prospector.ranking.outputs import map_scoring
from prospector.schema.commodities import load_vocabulary
from tests.browser import CHROMIUM, open_run_map
from tests.conftest import CRS, square, write_layer, write_sites_region

ACCESS = ["access_road", "access_rail", "access_power", "terrain", "travel"]


def _criteria() -> tuple[pd.DataFrame, pd.Series]:
    criteria = pd.DataFrame(
        {
            "value": [0.3, 0.2, 0.1],
            "access_road": [1.0, 0.0, 0.5],
            "access_rail": [0.0, 1.0, 0.5],
            "access_power": [0.5, 0.5, 0.5],
            "terrain": [0.0, 0.0, 0.0],
            "travel": [0.0, 0.0, 0.0],
            "evidence_fault": [0.9, 0.1, 0.0],
        }
    )
    # min-max over the parcels: 0.2 -> 0, 0.6 -> 0.5, 1.0 -> 1
    return criteria, pd.Series([0.2, 0.6, 1.0])


def test_decision_score_by_hand():
    criteria, prospectivity = _criteria()
    config = load_config({"score": {"method": "model"}})
    available = {"access_road": True, "access_rail": True, "access_power": True}
    table, weights = decision_criteria(
        criteria, prospectivity, config, available=available, reasons={}
    )
    # 0.75 prospectivity; access 0.25 split road 0.5, rail 0.3, power 0.2 (terrain/travel 0).
    assert weights.configured == pytest.approx(
        {
            "prospectivity": 0.75,
            "access_road": 0.125,
            "access_rail": 0.075,
            "access_power": 0.05,
            "terrain": 0.0,
            "travel": 0.0,
        }
    )
    assert table.columns[0] == "prospectivity"
    score, contrib = combine(table, weights.effective, method="model")
    # p0: 0 + .125*1 + .075*0 + .05*.5 = .15; p1: .75*.5 + 0 + .075 + .025 = .475;
    # p2: .75 + .125*.5 + .075*.5 + .05*.5 = .875
    assert score.to_numpy() == pytest.approx([0.15, 0.475, 0.875])
    assert contrib["prospectivity"].to_numpy() == pytest.approx([0.0, 0.375, 0.75])
    # value and evidence stay in the table for reference but weigh nothing.
    assert "value" not in weights.effective and "evidence_fault" not in weights.effective


def test_missing_access_layer_is_redistributed():
    criteria, prospectivity = _criteria()
    config = load_config({"score": {"method": "model"}})
    available = {"access_road": False, "access_rail": True, "access_power": True}
    table, weights = decision_criteria(
        criteria,
        prospectivity,
        config,
        available=available,
        reasons={"access_road": "no road layer", "evidence_fault": "no vector evidence layer"},
    )
    # Without roads: 0.75 + 0.075 + 0.05 = 0.875 remain, rescaled to sum 1.
    assert weights.effective["prospectivity"] == pytest.approx(0.75 / 0.875)
    assert weights.effective["access_rail"] == pytest.approx(0.075 / 0.875)
    assert weights.effective["access_road"] == 0.0
    assert weights.redistributed == {"access_road": "no road layer"}
    assert weights.unavailable["evidence_fault"] == "no vector evidence layer"
    score, _ = combine(table, weights.effective, method="model")
    assert score.iloc[2] == pytest.approx((0.75 + 0.075 * 0.5 + 0.05 * 0.5) / 0.875)


def test_build_criteria_needs_the_model_column():
    table = pd.DataFrame(
        {
            "value_raw": [0.0, 1.0],
            "dist_road_km": [1.0, 2.0],
            "dist_rail_km": [1.0, 2.0],
            "dist_power_km": [1.0, 2.0],
            "dist_fault_km": [1.0, 2.0],
        }
    )
    have = {"deposits": True, "evidence": True, "road": True, "rail": True, "power": True}
    config = load_config({"score": {"method": "model"}})
    with pytest.raises(ConfigError, match="needs the parcels' 'prospectivity' column"):
        build_criteria(table, config, have=have)
    criteria, weights = build_criteria(table.assign(prospectivity=[0.1, 0.9]), config, have=have)
    assert criteria["prospectivity"].tolist() == [0.0, 1.0]
    assert list(weights.configured) == ["prospectivity", *ACCESS]


def test_evidence_skill_flags_a_layer_pointing_away():
    n = 10
    criteria = pd.DataFrame(
        {
            "evidence_toward": np.linspace(1.0, 0.0, n),  # best at parcel 0
            "evidence_away": np.linspace(0.0, 1.0, n),  # best at parcel 9
            "evidence_flat": np.zeros(n),  # no information: all parcels tied
        }
    )
    area = np.ones(n)
    eligible = np.ones(n, dtype=bool)
    eligible[5] = False  # a closed parcel: its site is not counted
    sites = np.array([0, 1, 5, -1])  # parcel 0, parcel 1, the closed parcel, outside
    skill = evidence_skill(criteria, list(criteria.columns), sites, area, eligible)
    assert skill["n_sites"] == 2
    got = {k: v["capture"] for k, v in skill["criteria"].items()}
    # Top 10 % of 9 ranked unit parcels = 0.9 parcel: the best parcel (0) counts 0.9 / 1.
    # toward: parcel 0's site is captured with weight 0.9 of its tie-free step -> 0.9 / 2.
    assert got["evidence_toward"] == pytest.approx(0.45)
    assert got["evidence_away"] == 0.0
    assert got["evidence_flat"] == pytest.approx(0.1)  # ties: exactly chance, not flagged
    assert skill["below_chance"] == ["evidence_away"]


def test_parcel_folds_are_blocks():
    # 4 x 4 parcels of 1 km; 2 km blocks -> 4 blocks of 4 parcels.
    geoms = np.array([square(x * 1000.0, y * 1000.0, 1000.0) for y in range(4) for x in range(4)])
    folds = parcel_folds(geoms, block_km=2.0, n_folds=2, seed=1)
    assert folds is not None
    block = [(x // 2) * 2 + y // 2 for y in range(4) for x in range(4)]
    for b in range(4):
        assert len(set(folds[np.array(block) == b])) == 1  # a block stays in one fold
    assert sorted(np.bincount(folds)) == [8, 8]  # 2 blocks per fold
    assert parcel_folds(geoms, block_km=10.0, n_folds=2, seed=1) is None


# --------------------------------------------------------------------------------------
# A SYNTHETIC region: tungsten sites drawn near the highs of a raster, copper sites on
# a fault far away, a railway.  The truth is known: with a tungsten focus the model must
# rank ground near the raster's high first.
# --------------------------------------------------------------------------------------

SIZE = 30_000.0
ORIGIN = (-1_500_000.0, 1_900_000.0)
BLOB = (8_000.0, 20_000.0)  # raster high, offsets from ORIGIN (m)
SIGMA = 3_000.0


def _blob(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.exp(-((x - BLOB[0]) ** 2 + (y - BLOB[1]) ** 2) / (2 * SIGMA**2))


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synthetic_region")
    rng = np.random.default_rng(7)
    x0, y0 = ORIGIN
    # SYNTHETIC raster: 200 m cells, a Gaussian high plus weak noise.
    cells = int(SIZE // 200)
    cx = (np.arange(cells) + 0.5) * 200.0
    gx, gy = np.meshgrid(cx, SIZE - cx)
    values = 100.0 * _blob(gx, gy) + rng.normal(0.0, 1.0, gx.shape)
    with rasterio.open(
        tmp / "mag.tif", "w", driver="GTiff", width=cells, height=cells, count=1,
        dtype="float32", crs=CRS, transform=Affine(200.0, 0.0, x0, 0.0, -200.0, y0 + SIZE),
        nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(values.astype("float32"), 1)
    # 60 tungsten sites near the high (rejection sampling on the blob), 15 copper on the fault.
    xy = []
    while len(xy) < 60:
        p = rng.uniform(0, SIZE, 2)
        if rng.random() < _blob(p[0], p[1]):
            xy.append(p)
    fault_x = 26_000.0
    copper = np.c_[fault_x + rng.normal(0, 300, 15), rng.uniform(2_000, 28_000, 15)]
    n_w = len(xy)
    path = write_sites_region(
        tmp, size_m=SIZE, origin=ORIGIN, sites_xy=np.r_[np.array(xy), copper],
        codes=["W"] * n_w + ["CU"] * len(copper), statuses=["occurrence"] * (n_w + len(copper)),
        faults=[[(fault_x, 0.0), (fault_x, SIZE)]],
    )  # fmt: skip
    write_layer(
        gpd.GeoDataFrame(
            {"kind": ["rail"], "class": ["rail"], "name": ["SYNTHETIC RR"], "source": ["t"]},
            geometry=[shapely.LineString([(x0, y0 + 15_000), (x0 + SIZE, y0 + 15_000)])],
            crs=CRS,
        ),
        tmp / "rail.gpkg",
    )
    with open(path, "a", encoding="utf-8") as region_file:
        region_file.write(
            '\n[[layers]]\nrole = "access"\npath = "rail.gpkg"\n\n'
            '[[layers]]\nrole = "raster"\nname = "mag"\npath = "mag.tif"\n'
            '[layers.raster]\nkind = "evidence"\n'
        )
    return path, n_w


CONFIG = {
    "parcels": {"cell_m": 1000.0},
    "score": {"method": "model", "status": "any"},
    "value": {"focus_commodities": ["tungsten"], "dedupe_m": 0.0},
    "model": {"n_estimators": 60, "min_child_samples": 20, "block_km": 10.0},
}


def _rank(path: str, config=CONFIG, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingLayerWarning)
        return rank(path, config, **kw)


@pytest.fixture(scope="module")
def result(region):
    return _rank(region[0], engine="memory")


def test_model_run_ranks_the_signal_first(result, region):
    top = result.parcels.head(20)
    centre = shapely.centroid(top.geometry.to_numpy())
    dx = shapely.get_x(centre) - ORIGIN[0] - BLOB[0]
    dy = shapely.get_y(centre) - ORIGIN[1] - BLOB[1]
    # The sites were drawn with P ~ blob: 95 % of them within 2.45 sigma (7.3 km).
    assert np.hypot(dx, dy).max() < 2.45 * SIGMA
    card = result.model_card
    assert card["training_sites"] == region[1]  # the tungsten focus only
    # The raster's mean or its within-parcel variability (highest on the high's flanks).
    assert max(card["importance"], key=card["importance"].get).startswith("ev_mag_")
    assert card["cv"]["capture"]["0.1"] > 0.3  # chance: 0.1
    assert "not a probability" in card["output"]
    # The model's columns, one shap_ column per feature; the why names the raster.
    for column in ("prospectivity", "prospectivity_lo", "prospectivity_hi", "prospectivity_why"):
        assert column in result.parcels
    assert {f"shap_{f}" for f in card["features"]} <= set(result.parcels.columns)
    first = result.parcels.iloc[0]
    assert first["prospectivity_lo"] <= first["prospectivity"] <= first["prospectivity_hi"]
    reasons = first["why"].split("raised by ", 1)[1].split(";", 1)[0]
    assert "mag" in reasons  # "mag high" / "high mag variability"
    assert "km to rail" in first["why"]


def test_brownfields_run_is_labelled_interpolation(region):
    config = {**CONFIG, "model": {**CONFIG["model"], "brownfields": True}}
    got = _rank(region[0], config, engine="memory")
    card = got.model_card
    assert card["brownfields"] is True
    kernels = [f for f in card["features"] if f.startswith("brownfields_")]
    assert len(kernels) == len(load_config(None).model.brownfields_km)
    assert "optimistic" in card["cv"]["caveat"]
    note = " ".join(got.notes)
    assert "interpolation, not geology" in note and "optimistic" in note


def test_manifest_card_flags_and_map(result):
    manifest = json.loads(json.dumps(result.manifest()))  # JSON-safe
    assert manifest["model"]["training_sites"] == result.model_card["training_sites"]
    # The fault lies 18 km from the tungsten high: no tungsten site in its top 10 %.
    skill = manifest["evidence_skill"]
    assert skill["criteria"]["evidence_fault"]["capture"] == 0.0
    assert "evidence_fault" in skill["below_chance"]
    info = map_info(manifest)
    assert info["evidence_flags"] and info["evidence_flags"][0].startswith("fault: 0.0%")
    assert info["model"]["Training sites"] == str(result.model_card["training_sites"])
    # A model with skill (CV 0.3+ against 0.1) on evidence covering the region: no warning.
    assert result.model_card["coverage_any"] == 1.0
    assert result.model_card["warnings"] == [] and info["model_flags"] == []
    assert any("below chance" in note for note in result.notes)
    scoring = map_scoring(result)
    assert list(scoring.criteria.columns) == ["prospectivity", *ACCESS]
    assert {share[0] for share in scoring.shares.values()} == {"prospectivity", "access"}
    assert scoring.family_weights == {"prospectivity": 0.75, "access": 0.25}


@pytest.mark.parametrize("engine", ["memory", "local"])
def test_same_run_twice_and_tiled_engine_agree(result, region, engine):
    # local: tiles measured on 2 forked processes; its tiles hold only copper sites in
    # places (off the focus: no live value term), which must not break the value step.
    again = _rank(region[0], engine=engine, workers=2, tile_km=12.0)
    assert again.parcels["parcel_id"].tolist() == result.parcels["parcel_id"].tolist()
    for column in ("score", "prospectivity", "prospectivity_hi", "why"):
        np.testing.assert_array_equal(again.parcels[column], result.parcels[column])
    assert again.model_card == result.model_card


def test_streamed_engine_is_refused(region, tmp_path):
    with pytest.raises(ConfigError, match="needs engine memory or local"):
        _rank(region[0], engine="stream", out=tmp_path / "s")


def test_model_config_checks():
    config = load_config(None)
    with pytest.raises(ConfigError) as exc:
        config.with_overrides(
            {
                "score.method": "model",
                "model.weights": {"prospectivity": 0.0, "acess": 1.0},
                "model.folds": 1,
                "model.block_km": 0.0,
            }
        )
    text = str(exc.value)
    assert "model.weights: unknown decision-score family 'acess'. Did you mean 'access'?" in text
    assert "model.weights.prospectivity must be > 0 with score.method = 'model'" in text
    assert "model.folds must be an integer >= 2; got 1." in text
    assert "model.block_km must be a positive number; got 0.0." in text
    ok = config.with_overrides({"score.method": "model", "model.weights.access": 0.5})
    assert ok.model.weights == {"prospectivity": 0.75, "access": 0.5}


def test_validation_of_a_model_run(result):
    from prospector.ranking.studies import validation

    report = validation(result, block_km=10.0, n_folds=3, variants=None, baselines=False)
    assert report["method"] == "model"
    assert report["variants"]["model"]["spatial"]["n_targets"] > 0


def test_saved_run_map_rebuilds_the_decision_sliders(result):
    from prospector.ranking.outputs import manifest_scoring

    layers = {"parcels": result.parcels, "excluded_parcels": result.excluded}
    manifest = json.loads(json.dumps(result.manifest()))
    scoring = manifest_scoring(layers, manifest)
    assert scoring is not None
    assert list(scoring.criteria.columns) == ["prospectivity", *ACCESS]
    live = map_scoring(result)
    pd.testing.assert_frame_equal(
        scoring.criteria.sort_index(), live.criteria.sort_index(), check_names=False
    )


def test_weight_sensitivity_of_a_model_run(result):
    from prospector.ranking.studies import sensitivity

    table = sensitivity(result, n_runs=20, top_n=10)
    assert table["rank"].head(10).tolist() == list(range(1, 11))


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
def test_model_run_map_in_a_browser(result, tmp_path, browser):
    import copy

    from prospector.ranking import global_scores

    page = open_run_map(browser, result, tmp_path / "prospects.html")
    header = page.locator("#pm-header")
    assert "1 evidence layer below chance here" in header.inner_text()
    assert "Learned prospectivity model" in header.text_content()
    assert "Training sites" in header.text_content()
    n = len(result.parcels)
    assert page.evaluate(f"window.prospector.topIds({n})") == list(result.parcels["parcel_id"])
    # Prospectivity alone: the page re-ranks as Python does with model.weights changed.
    page.evaluate("(w) => window.prospector.setWeights(w)", {"prospectivity": 1, "access": 0})
    config = copy.deepcopy(result.config)
    config.model.weights = {"prospectivity": 1.0, "access": 0.0}
    scores, *_ = global_scores(result.all_parcels, config, have=result.available)
    order = scores["rank"].to_numpy(dtype=float, na_value=np.nan).argsort(kind="stable")
    expected = result.all_parcels["parcel_id"].to_numpy()[order][:n].tolist()
    assert page.evaluate(f"window.prospector.topIds({n})") == expected
    assert page.log.errors == []


def test_no_site_of_the_focus_is_a_clear_error(region):
    config = {**CONFIG, "value": {"focus_commodities": ["lithium"], "dedupe_m": 0.0}}
    with pytest.raises(ConfigError, match=r"no site of the commodity focus \(lithium\) lies"):
        _rank(region[0], config, engine="memory")


def test_learning_sites_by_hand():
    """critical (default): sites with a 2025-critical commodity; commodity: any; focus wins."""
    vocabulary = load_vocabulary(2025)
    sites = pd.DataFrame(
        {"commodities": [["sand_gravel"], ["gold"], ["lithium", "gold"], [], "copper; stone"]}
    )
    assert learning_sites(sites, vocabulary, Config()).tolist() == [
        False, False, True, False, True,
    ]  # fmt: skip
    every = Config().with_overrides({"model.learn_from": "commodity"})
    assert learning_sites(sites, vocabulary, every).tolist() == [True, True, True, False, True]
    gold = Config().with_overrides({"value.focus_commodities": ["gold"]})
    assert learning_sites(sites, vocabulary, gold).tolist() == [False, True, True, False, False]
    with pytest.raises(ConfigError, match="learn_from must be one of critical, commodity"):
        Config().with_overrides({"model.learn_from": "gravel"})
