"""Grid tessellation: alignment, stable ids, exact coverage, squares and hexagons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from prospector.analysis.parcels import grid_parcels


@pytest.fixture
def boundary():
    # A non-aligned L-shaped region in EPSG:5070.
    shape = shapely.union(shapely.box(150, 250, 10_150, 4_250), shapely.box(150, 250, 4_150, 9_250))
    return gpd.GeoDataFrame(geometry=[shape], crs="EPSG:5070")


@pytest.mark.parametrize("shape", ["square", "hex"])
def test_cells_cover_region_exactly_without_overlap(boundary, shape):
    cells = grid_parcels(boundary, cell_m=1000.0, shape=shape)
    region = boundary.geometry.iloc[0]
    assert cells["parcel_id"].is_unique
    assert cells.area.sum() == pytest.approx(region.area, rel=1e-12)
    assert shapely.union_all(cells.geometry.to_numpy()).area == pytest.approx(
        region.area, rel=1e-12
    )
    assert cells.area.max() == pytest.approx(1e6, rel=1e-9)
    assert shapely.is_valid(cells.geometry.to_numpy()).all()


def test_square_ids_are_aligned_to_the_crs_origin(boundary):
    cells = grid_parcels(boundary, cell_m=1000.0).set_index("parcel_id")
    # The cell with lower-left corner (1000, 1000) is row 1, column 1 wherever the region is.
    cell = cells.loc["r1c1"].geometry
    assert shapely.equals(cell, shapely.box(1000, 1000, 2000, 2000))
    # Clipped edge cell: x 150-1000, y 250-1000.
    assert cells.loc["r0c0"].geometry.area == pytest.approx(850 * 750)
    # Rows run north to south.
    rows = cells.index.str.extract(r"r(-?\d+)c")[0].astype(int).to_numpy()
    assert np.all(np.diff(rows) <= 0)


def test_hex_ids_stable_across_regions(boundary):
    full = grid_parcels(boundary, cell_m=1000.0, shape="hex").set_index("parcel_id")
    part = gpd.GeoDataFrame(geometry=[shapely.box(3_000, 3_000, 8_000, 4_000)], crs="EPSG:5070")
    sub = grid_parcels(part, cell_m=1000.0, shape="hex").set_index("parcel_id")
    interior = sub[np.isclose(sub.area, 1e6)]
    for pid, geom in interior.geometry.items():
        assert shapely.equals_exact(full.loc[pid].geometry, geom, tolerance=1e-6)


def test_min_area_drops_slivers(boundary):
    cells = grid_parcels(boundary, cell_m=1000.0, min_area_m2=200_000.0)
    assert (cells.area > 200_000.0).all()
    assert "r0c0" in set(cells["parcel_id"])  # 637,500 m²
