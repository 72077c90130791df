import geopandas as gpd
import numpy as np
import pytest
import shapely

from prospector.analysis.evidence import line_density

CRS = "EPSG:5070"


def test_line_density_matches_analytic_integral():
    parcels = gpd.GeoDataFrame(
        geometry=[shapely.box(-500, -500, 500, 500), shapely.box(20_000, 0, 21_000, 1_000)], crs=CRS
    )
    fault = gpd.GeoDataFrame(
        {"weight": [2.0]}, geometry=[shapely.LineString([(0, -50_000), (0, 50_000)])], crs=CRS
    )
    got = line_density(parcels, fault, radius_km=5.0)
    # ∫ biweight(max(|y| - 500, 0) / 5000) dy over the line, in km, × weight / (π 5² / 3).
    y = np.linspace(-6000, 6000, 120_001)
    d = np.maximum(np.abs(y) - 500, 0)
    k = np.where(d < 5000, (1 - (d / 5000) ** 2) ** 2, 0)
    expected = 2.0 * np.trapezoid(k, y) / 1000 / (np.pi * 25 / 3)
    assert got[0] == pytest.approx(expected, rel=1e-6)
    assert got[1] == 0.0


def test_line_density_without_features_is_zero():
    parcels = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=CRS)
    assert line_density(parcels, None, radius_km=5.0).tolist() == [0.0]


def test_sample_density_follows_slip_rate(utah_result):
    parcels = utah_result.all_parcels
    assert (parcels["evidence_density"] >= 0).all()
    # Parcels on a fault have density; parcels 50 km from any fault have none.
    assert (parcels.loc[parcels["dist_fault_km"] == 0, "evidence_density"] > 0).all()
    assert (parcels.loc[parcels["dist_fault_km"] > 50, "evidence_density"] == 0).all()
