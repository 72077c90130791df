"""Least-cost travel from roads over slope (scikit-image MCP), hand-checked on grids."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine

from prospector.analysis.travel import friction, travel_cost_km
from prospector.errors import MissingLayerWarning
from tests.conftest import X0, Y0, write_layer

ROAD = gpd.GeoDataFrame(geometry=[shapely.LineString([(0.5, 0), (0.5, 5000)])], crs="EPSG:5070")
BOUNDS = (0.0, 0.0, 10_000.0, 5_000.0)  # 100 x 50 cells of 100 m


def test_flat_ground_costs_distance():
    cost = travel_cost_km(np.zeros((50, 100)), ROAD, bounds=BOUNDS, crs="EPSG:5070")
    # Road in column 0 (cost 0.2/m): next cell centre is 100 m away, half of it on the road.
    assert cost[25, 0] == 0.0
    assert cost[25, 1] == pytest.approx((50 * 0.2 + 50 * 1.0) / 1000)
    assert cost[25, 99] == pytest.approx((50 * 0.2 + 50 + 98 * 100) / 1000)


def test_slope_multiplies_cost_and_cliffs_block():
    steep = travel_cost_km(np.full((50, 100), 15.0), ROAD, bounds=BOUNDS, crs="EPSG:5070")
    flat = travel_cost_km(np.zeros((50, 100)), ROAD, bounds=BOUNDS, crs="EPSG:5070")
    # 15° doubles the off-road cost: 1 + (15/15)².
    assert steep[25, 99] - steep[25, 1] == pytest.approx(2 * (flat[25, 99] - flat[25, 1]))
    wall = np.zeros((50, 100))
    wall[:, 50] = 40.0  # steeper than 35°: impassable
    blocked = travel_cost_km(wall, ROAD, bounds=BOUNDS, crs="EPSG:5070")
    assert np.isnan(blocked[:, 51:]).all()
    assert np.isfinite(blocked[:, :50]).all()
    assert np.isinf(friction(np.array([np.nan, 36.0]))).all()


def test_no_road_in_grid_is_nan():
    far = gpd.GeoDataFrame(
        geometry=[shapely.LineString([(50_000, 0), (50_000, 10)])], crs="EPSG:5070"
    )
    assert np.isnan(travel_cost_km(np.zeros((5, 5)), far, bounds=BOUNDS, crs="EPSG:5070")).all()


def test_pipeline_travel_criterion(tiny_region, tmp_path):
    # SYNTHETIC flat DEM over the tiny region and a road along its western edge.
    transform = Affine(100.0, 0.0, X0, 0.0, -100.0, Y0 + 10_000)
    with rasterio.open(
        tmp_path / "dem.tif",
        "w",
        driver="GTiff",
        width=100,
        height=100,
        count=1,
        dtype="float32",
        crs="EPSG:5070",
        transform=transform,
        nodata=-9999.0,
    ) as dst:
        dst.write(np.full((1, 100, 100), 1500.0, dtype="float32"))
    write_layer(
        gpd.GeoDataFrame(
            {"kind": ["road"], "class": ["local"], "name": ["Test Rd"], "source": ["test"]},
            geometry=[shapely.LineString([(X0 + 50, Y0), (X0 + 50, Y0 + 10_000)])],
            crs="EPSG:5070",
        ),
        tmp_path / "road.gpkg",
    )
    region = tiny_region(
        '\n[[layers]]\nrole = "raster"\nname = "dem"\npath = "dem.tif"\n[layers.raster]\nkind = "dem"\n'
        '\n[[layers]]\nrole = "access"\npath = "road.gpkg"\n'
    )
    from prospector.ranking import rank

    config = {
        "parcels": {"cell_m": 1000.0},
        "access": {"travel_cost": True},
        "score": {"access_weights": {"road": 0.0, "rail": 0.0, "power": 0.0, "travel": 1.0}},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingLayerWarning)
        result = rank(region, config)
    table = result.all_parcels.set_index("parcel_id")
    r0, c0 = int(Y0 // 1000), int(X0 // 1000)
    # Flat ground: the mean travel cost of a 1 km cell grows by ~1 km per cell eastwards.
    west = table.loc[f"r{r0 + 5}c{c0}", "travel_cost_km"]
    east = table.loc[f"r{r0 + 5}c{c0 + 5}", "travel_cost_km"]
    assert east - west == pytest.approx(5.0, abs=0.05)
    assert result.weights.effective["travel"] > 0
    assert result.weights.effective.get("access_road", 0.0) == 0.0
