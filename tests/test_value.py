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
