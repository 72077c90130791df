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
    part = gpd.GeoDataFrame(geometry=[shapely.box(1_000, 1_000, 9_000, 4_000)], crs="EPSG:5070")
    sub = grid_parcels(part, cell_m=1000.0, shape="hex").set_index("parcel_id")
    # A flat-topped hexagon of area 1 km² has circumradius R = sqrt(2e6 / (3 sqrt 3)); column
    # c, row r is centred at (1.5 R c, sqrt3 R (r + c mod 2 / 2)).  Count the hexagons lying
    # strictly inside the 8 km × 3 km box (x extent ±R, y extent ±sqrt3 R / 2) by hand.
    radius = np.sqrt(2e6 / (3 * np.sqrt(3)))
    dx, dy = 1.5 * radius, np.sqrt(3) * radius
    whole = {}
    for c in range(-5, 15):
        for r in range(-5, 10):
            cx, cy = c * dx, (r + (c % 2) / 2) * dy
            inside_x = cx - radius > 1_000 and cx + radius < 9_000
            if inside_x and cy - dy / 2 > 1_000 and cy + dy / 2 < 4_000:
                angles = np.deg2rad(np.arange(0, 360, 60))
                whole[f"h{c}_{r}"] = shapely.Polygon(
                    np.c_[cx + radius * np.cos(angles), cy + radius * np.sin(angles)]
                )
    interior = sub[np.isclose(sub.area, 1e6)]
    assert len(whole) >= 10
    assert set(interior.index) == set(whole)
    for pid, geom in interior.geometry.items():
        # Same id, same cell in the smaller region, the whole region and by hand.
        assert shapely.equals_exact(full.loc[pid].geometry, geom, tolerance=1e-6)
        assert shapely.equals_exact(geom.normalize(), whole[pid].normalize(), tolerance=1e-6)
        assert geom.area == pytest.approx(1e6, rel=1e-12)


def test_min_area_drops_slivers(boundary):
    cells = grid_parcels(boundary, cell_m=1000.0, min_area_m2=200_000.0)
    assert (cells.area > 200_000.0).all()
    assert "r0c0" in set(cells["parcel_id"])  # 637,500 m²
