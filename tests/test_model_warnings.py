"""The learned model's warnings: no demonstrable skill, evidence over little of the region."""

from __future__ import annotations

import json
import math
import warnings

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from prospector.analysis.model import model_warnings
from prospector.errors import MissingLayerWarning
from prospector.ranking import map_info, rank
from tests.browser import CHROMIUM, open_run_map
from tests.conftest import CRS, square, write_layer


def _card(capture=None, n=0, coverage_any=1.0):
    card = {"coverage_any": coverage_any, "coverage": {"ev_mag_mean": coverage_any}}
    if capture is not None:
        card["cv"] = {"capture": {"0.05": 0.0, "0.1": capture, "0.2": 0.0}, "n_targets": n}
    return card


def test_no_skill_threshold_is_two_standard_errors():
    # 3,000 sites: 2 * sqrt(0.1 * 0.9 / 3000) = 1.095 points above chance.
    assert 2 * math.sqrt(0.09 / 3000) == pytest.approx(0.01095, abs=1e-5)
    (within,) = model_warnings(_card(0.105, 3000))
    assert "10.5% of 3,000 held-out sites" in within
    assert "within two standard errors of chance (10% ± 1.1%)" in within
    assert "score.method = 'wlc'" in within
    (below,) = model_warnings(_card(0.095, 3000))
    assert "below chance" in below
    assert model_warnings(_card(0.111, 3000)) == []  # 11.1 % > 10 % + 1.095 %
    # 200 sites: the margin is 4.24 points, so 13 % is not yet skill.
    (few,) = model_warnings(_card(0.13, 200))
    assert "± 4.2%" in few
    assert model_warnings(_card(0.15, 200)) == []
    # No cross-validation (too few blocks): nothing is claimed either way.
    assert model_warnings(_card(None)) == []


def test_low_coverage_warning():
    (text,) = model_warnings(_card(0.3, 3000, coverage_any=0.3))
    assert "covers only 30.0% of the parcels (ev_mag_mean 30.0%)" in text
    assert "the other 70.0% all get the same prospectivity" in text
    assert model_warnings(_card(0.3, 3000, coverage_any=0.5)) == []


SIZE = 30_000.0
ORIGIN = (-1_500_000.0, 1_900_000.0)


@pytest.fixture(scope="module")
def partial_region(tmp_path_factory):
    """SYNTHETIC: 80 random tungsten sites; a noise raster over the western quarter only."""
    tmp = tmp_path_factory.mktemp("partial_region")
    rng = np.random.default_rng(11)
    x0, y0 = ORIGIN
    write_layer(
        gpd.GeoDataFrame({"name": ["Test"]}, geometry=[square(x0, y0, SIZE)], crs=CRS),
        tmp / "outline.gpkg",
    )
    xy = rng.uniform(0, SIZE, (80, 2)) + np.array(ORIGIN)
    write_layer(
        gpd.GeoDataFrame(
            {
                "site_id": [f"t{i}" for i in range(80)],
                "name": [f"site {i}" for i in range(80)],
                "commodity_codes": ["W"] * 80,
                "dev_status": ["occurrence"] * 80,
                "source": ["test"] * 80,
            },
            geometry=shapely.points(xy),
            crs=CRS,
        ),
        tmp / "sites.gpkg",
    )
    width, height = int(SIZE / 4 / 200), int(SIZE / 200)  # 7.5 km x 30 km of 200 m cells
    with rasterio.open(
        tmp / "mag.tif", "w", driver="GTiff", width=width, height=height, count=1,
        dtype="float32", crs=CRS, transform=Affine(200.0, 0.0, x0, 0.0, -200.0, y0 + SIZE),
        nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(rng.normal(0.0, 1.0, (height, width)).astype("float32"), 1)
    path = tmp / "partial.toml"
    path.write_text(
        'name = "partial"\ntitle = "SYNTHETIC partial evidence"\nwork_crs = "EPSG:5070"\n\n'
        '[boundary]\npath = "outline.gpkg"\n\n'
        '[[layers]]\nrole = "deposits"\npath = "sites.gpkg"\n\n'
        '[[layers]]\nrole = "raster"\nname = "mag"\npath = "mag.tif"\n'
        '[layers.raster]\nkind = "evidence"\n',
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture(scope="module")
def partial_result(partial_region):
    config = {
        "parcels": {"cell_m": 1000.0},
        "score": {"method": "model", "status": "any"},
        "value": {"dedupe_m": 0.0},
        "model": {"n_estimators": 60, "min_child_samples": 20, "block_km": 10.0},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingLayerWarning)
        return rank(partial_region, config, engine="memory")


def test_a_run_on_partial_evidence_warns_in_notes_manifest_and_map(partial_result):
    result = partial_result
    card = result.model_card
    # 30 x 30 one-km parcels; the raster covers the 7.5 km western strip: parcels whose
    # centre-window touches it (columns 0-7 of 30: 8/30 = 26.7 %).
    assert card["coverage_any"] == pytest.approx(8 / 30, abs=0.01)
    coverage = [w for w in card["warnings"] if "covers only" in w]
    assert len(coverage) == 1 and "26.7% of the parcels" in coverage[0]
    assert all(w in result.notes for w in card["warnings"])
    info = map_info(json.loads(json.dumps(result.manifest())))
    assert info["model_flags"] == card["warnings"]
    assert info["model"]["Evidence coverage"] == "26.7% of parcels have a feature"
    # Every parcel outside the strip has the same prospectivity.
    x = shapely.get_x(shapely.centroid(result.parcels.geometry.to_numpy())) - ORIGIN[0]
    assert result.parcels.loc[x > 8_000.0, "prospectivity"].nunique() == 1


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")
def test_model_warnings_in_the_map_header(partial_result, tmp_path, browser):
    page = open_run_map(browser, partial_result, tmp_path / "prospects.html")
    box = page.locator(".pm-model-flags")
    n = len(partial_result.model_card["warnings"])
    assert box.get_attribute("role") == "alert"
    assert f"learned model: {n} warning" in box.inner_text()
    assert box.locator("li").count() == n
    assert "covers only 26.7% of the parcels" in box.inner_text()
    assert page.log.errors == []
