"""A DEM whose fill value is not declared: impossible elevations are NoData, with a note."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine

from prospector.errors import LayerReadError, ProspectorWarning
from prospector.ingest import read_dem_band

TRANSFORM = Affine(30.0, 0.0, -1_500_000.0, 0.0, -30.0, 1_900_000.0)


def _dem(path, values, nodata=None):
    with rasterio.open(
        path, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
        dtype=values.dtype, crs="EPSG:5070", transform=TRANSFORM, nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(values, 1)
    return path


def test_undeclared_fill_becomes_nodata_with_a_note(tmp_path):
    z = np.full((10, 10), 1500.0, dtype="float32")
    z[:, :3] = -9999.0  # 30 fill cells, NoData not declared
    z[0, 9] = -32768.0
    with pytest.warns(ProspectorWarning, match=r"31 DEM cells \(31.0%\).*-32768, -9999") as rec:
        band = read_dem_band(_dem(tmp_path / "dem.tif", z))
    assert "gdal_edit.py -a_nodata -32768 dem.tif" in str(rec[0].message)
    assert band.nodata is None and band.values.dtype == np.float64
    assert np.isnan(band.values).sum() == 31
    assert np.nanmin(band.values) == np.nanmax(band.values) == 1500.0


def test_declared_nodata_and_real_terrain_pass_quietly(tmp_path, recwarn):
    # Death Valley (-86 m) and Denali in feet (20,310 ft) are real; 65535 is declared.
    z = np.array([[0, 20310], [65535, 1200]], dtype="uint16")
    band = read_dem_band(_dem(tmp_path / "ok.tif", z, nodata=65535))
    assert band.nodata == 65535 and band.values.dtype == np.uint16
    low = np.array([[-86.0, 100.0]], dtype="float32")
    assert read_dem_band(_dem(tmp_path / "low.tif", low)).values.tolist() == [[-86.0, 100.0]]
    assert not [w for w in recwarn if issubclass(w.category, ProspectorWarning)]


def test_declared_nodata_plus_other_fill(tmp_path):
    z = np.array([[-9999.0, 10.0], [-3.4e38, 20.0]], dtype="float32")
    with pytest.warns(ProspectorWarning, match=r"1 DEM cells .* NoData -9999"):
        band = read_dem_band(_dem(tmp_path / "mixed.tif", z, nodata=-9999.0))
    assert np.isnan(band.values).tolist() == [[True, False], [True, False]]


def test_a_dem_of_nothing_but_fill_is_refused(tmp_path):
    z = np.full((3, 3), -9999.0, dtype="float32")
    with pytest.warns(ProspectorWarning), pytest.raises(LayerReadError, match="holds no terrain"):
        read_dem_band(_dem(tmp_path / "fill.tif", z))
