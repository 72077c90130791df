"""Continuous evidence rasters (e.g. geophysics) become criteria; DEMs become slope."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine

from prospector.errors import MissingLayerWarning
from prospector.ranking import rank
from tests.conftest import X0, Y0


def _write_raster(path, values, *, nodata=-9999.0):
    # SYNTHETIC test grid: 100 m cells over the tiny region (EPSG:5070).
    transform = Affine(100.0, 0.0, X0, 0.0, -100.0, Y0 + 10_000)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=values.shape[1],
        height=values.shape[0],
        count=1,
        dtype="float32",
        crs="EPSG:5070",
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(values.astype("float32"), 1)


def _rank(region, config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingLayerWarning)
        return rank(region, config)


@pytest.mark.parametrize("direction", ["high", "low"])
def test_evidence_raster_is_a_criterion(tiny_region, tmp_path, direction):
    # Values rise from west (0) to east (99): a synthetic "anomaly" gradient.
    values = np.tile(np.arange(100, dtype=float), (100, 1))
    values[:10, :10] = -9999.0  # NoData corner is excluded from the means
    _write_raster(tmp_path / "mag.tif", values)
    region = tiny_region(
        '\n[[layers]]\nrole = "raster"\nname = "mag"\npath = "mag.tif"\n'
        '[layers.raster]\nkind = "evidence"\n'
    )
    config = {
        "parcels": {"cell_m": 1000.0},
        "score": {"weights": {"value": 0.0, "access": 0.0, "evidence": 1.0}},
        "evidence": {"raster_direction": {"mag": direction}},
    }
    result = _rank(region, config)
    table = result.all_parcels.set_index("parcel_id")
    r0, c0 = int(Y0 // 1000), int(X0 // 1000)
    # A 1 km cell spans 10 raster columns: cell column j has mean 10 j + 4.5.
    assert table.loc[f"r{r0 + 2}c{c0 + 3}", "ev_mag_mean"] == pytest.approx(34.5)
    # The NoData corner (top-left 1 km) holds no valid cells.
    assert np.isnan(table.loc[f"r{r0 + 9}c{c0}", "ev_mag_mean"])
    w = result.weights.effective
    assert w["evidence_mag"] == pytest.approx(0.5)
    assert w["evidence_fault"] == pytest.approx(0.5)
    east = table.loc[f"r{r0 + 2}c{c0 + 9}", "contrib_evidence_mag"]
    west = table.loc[f"r{r0 + 2}c{c0}", "contrib_evidence_mag"]
    assert (east > west) if direction == "high" else (east < west)


def test_partial_raster_weight_redistributed(tiny_region, tmp_path):
    values = np.full((100, 100), -9999.0)
    values[:20, :20] = 1.0  # covers 4 of 100 parcels
    _write_raster(tmp_path / "grav.tif", values)
    region = tiny_region(
        '\n[[layers]]\nrole = "raster"\nname = "grav"\npath = "grav.tif"\n'
        '[layers.raster]\nkind = "evidence"\n'
    )
    result = _rank(region, {"parcels": {"cell_m": 1000.0}})
    assert result.weights.effective["evidence_grav"] == 0.0
    assert "raster covers 4.0% of parcels" in result.weights.redistributed["evidence_grav"]
