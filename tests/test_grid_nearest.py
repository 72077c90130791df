"""Ring search for nearest-line distances of grid parcels: equal to GEOS, every path."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from prospector.analysis import _grid_nearest
from prospector.analysis.access import nearest_distance_km
from prospector.analysis.index import ParcelIndex


def _grid(nx: int, ny: int, size: float, *, x0: float = 0.0, y0: float = 0.0, drop=()):
    cells = [
        shapely.box(x0 + i * size, y0 + j * size, x0 + (i + 1) * size, y0 + (j + 1) * size)
        for j in range(ny)
        for i in range(nx)
        if (i, j) not in drop
    ]
    return gpd.GeoDataFrame({"parcel_id": range(len(cells))}, geometry=cells, crs="EPSG:5070")


def _lines(geoms) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=list(geoms), crs="EPSG:5070")


def _both(parcels, lines, max_km=1e6):
    index = ParcelIndex.of(parcels.geometry.to_numpy())
    assert index.lattice is not None
    fast = nearest_distance_km(parcels, lines, max_km=max_km, index=index)
    geos = nearest_distance_km(parcels, lines, max_km=max_km)
    return fast, geos


def test_known_distances_including_a_corner():
    parcels = _grid(3, 3, 10.0)  # cells of 10 m, (0, 0) to (30, 30)
    # A vertical line at x = 35, and a diagonal x + y = 80 nearest to the corner (30, 30).
    lines = _lines(
        [shapely.LineString([(35, -50), (35, -40)]), shapely.LineString([(35, 45), (45, 35)])]
    )
    fast, geos = _both(parcels, lines)
    np.testing.assert_allclose(fast, geos, rtol=1e-12, atol=0)
    by_id = dict(zip(parcels["parcel_id"], fast, strict=True))
    assert by_id[8] * 1000 == pytest.approx(20 / np.sqrt(2), rel=1e-12)  # corner term
    assert by_id[6] * 1000 == pytest.approx(np.hypot(25, 15), rel=1e-12)  # end point term
    assert by_id[0] * 1000 == pytest.approx(60 / np.sqrt(2), rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_random_grids_and_lines_match_geos(seed):
    rng = np.random.default_rng(seed)
    nx, ny, size = int(rng.integers(5, 40)), int(rng.integers(5, 40)), float(rng.uniform(50, 2000))
    x0, y0 = rng.uniform(-1e6, 1e6, 2)
    drop = {(int(i), int(j)) for i, j in rng.integers(0, max(nx, ny), (nx * ny // 5, 2))}
    parcels = _grid(nx, ny, size, x0=x0, y0=y0, drop=drop)
    w, h = nx * size, ny * size
    lines = []
    for _ in range(int(rng.integers(1, 25))):
        n = int(rng.integers(2, 6))
        # Starts inside, around and well outside the grid; steps up to two cells.
        start = rng.uniform([x0 - w, y0 - h], [x0 + 2 * w, y0 + 2 * h])
        pts = start + np.cumsum(rng.normal(0, size, (n, 2)), axis=0)
        if rng.random() < 0.2:
            pts[1] = pts[0]  # a zero-length edge
        lines.append(shapely.LineString(pts))
    fast, geos = _both(parcels, _lines(lines))
    assert np.array_equal(np.isnan(fast), np.isnan(geos))
    # Coordinates near 1e6 m: agreement to a nanometre (a few ulps of the coordinates).
    np.testing.assert_allclose(fast, geos, rtol=1e-12, atol=1e-12)


def test_touching_parcels_are_zero_and_far_ones_fall_back_to_geos(monkeypatch):
    parcels = _grid(30, 30, 100.0)
    lines = _lines([shapely.LineString([(50, 50), (150, 60)])])  # crosses cells 0 and 1
    calls = []
    real = _grid_nearest.grid_nearest

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(out)
        return out

    monkeypatch.setattr("prospector.analysis.access.grid_nearest", spy)
    fast, geos = _both(parcels, lines)
    assert fast[0] == fast[1] == 0.0
    np.testing.assert_allclose(fast, geos, rtol=1e-12)
    (searched,) = calls
    # Cells beyond MAX_RINGS rings of the line's cells are left to GEOS (NaN from the search).
    assert np.isnan(searched).sum() > 0
    assert (~np.isnan(searched)).sum() > 0


def test_off_grid_parcels_and_point_features_use_geos():
    parcels = _grid(6, 6, 10.0)
    odd = gpd.GeoDataFrame(
        {"parcel_id": [99]},
        geometry=[shapely.Polygon([(70, 0), (80, 5), (75, 20)])],
        crs="EPSG:5070",
    )
    both = gpd.GeoDataFrame(gpd.pd.concat([parcels, odd], ignore_index=True), crs="EPSG:5070")
    lines = _lines([shapely.LineString([(100, 100), (120, 90)])])
    fast, geos = _both(both, lines)
    np.testing.assert_allclose(fast, geos, rtol=1e-12)
    points = _lines([shapely.Point(100, 100), shapely.Point(-5, 3)])
    fast, geos = _both(both, points)
    np.testing.assert_array_equal(fast, geos)


def test_long_edges_disable_the_search_but_not_the_result():
    parcels = _grid(80, 80, 10.0)
    # Its bounding box spans 80 x 80 = 6400 cells > MAX_EDGE_CELLS.
    lines = _lines([shapely.LineString([(-1, -1), (801, 801)])])
    index = ParcelIndex.of(parcels.geometry.to_numpy())
    edges = _grid_nearest._Edges(index.lattice, lines.geometry.to_numpy())
    assert not edges.ok
    fast, geos = _both(parcels, lines)
    np.testing.assert_array_equal(fast, geos)


def test_max_km_cut_off():
    parcels = _grid(10, 1, 1000.0)
    lines = _lines([shapely.LineString([(-500, 0), (-500, 1000)])])
    fast, geos = _both(parcels, lines, max_km=3.0)
    np.testing.assert_allclose(fast[:3], [0.5, 1.5, 2.5], rtol=1e-12)
    assert np.isnan(fast[3:]).all()
    np.testing.assert_allclose(fast, geos, rtol=1e-12)


def test_index_of_other_parcels_is_an_error():
    parcels = _grid(3, 3, 10.0)
    index = ParcelIndex.of(parcels.geometry.to_numpy()[:4])
    with pytest.raises(ValueError, match="index holds 4 parcels, not the 9 given"):
        nearest_distance_km(
            parcels, _lines([shapely.LineString([(0, 50), (1, 50)])]), max_km=9, index=index
        )


def test_cut_off_decided_like_geos():
    # A cell GEOS puts at exactly 50 m from the line; the ring search says
    # 50.00000000000009 m.  The last bit must not decide between 0.05 km and NaN.
    x, y, size = 3760.9554108750085, -494.89319848764455, 250.0
    i, j = (a.ravel() for a in np.meshgrid(np.arange(10), np.arange(8)))
    boxes = shapely.box(
        x + (i - 8) * size, y + (j - 6) * size, x + (i - 7) * size, y + (j - 5) * size
    )
    parcels = gpd.GeoDataFrame({"parcel_id": range(len(boxes))}, geometry=boxes, crs="EPSG:5070")
    line = shapely.LineString(
        [(2010.9554108750085, -1494.8931984876444), (4010.9554108750085, 5.106801512355446)]
    )
    fast, geos = _both(parcels, _lines([line]), max_km=0.05)
    cell = shapely.box(x, y, x + size, y + size)
    at = int(np.flatnonzero(shapely.equals(boxes, cell))[0])
    assert shapely.distance(cell, line) == 50.0
    assert fast[at] == geos[at] == 0.05
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(geos))


def test_empty_parcels_and_nan_lines_are_left_to_geos():
    parcels = _grid(5, 5, 100.0)
    parcels.loc[3, "geometry"] = None
    parcels.loc[7, "geometry"] = shapely.Polygon()
    lines = _lines([shapely.LineString([(700, 50), (800, 60)])])
    fast, geos = _both(parcels, lines)  # no RuntimeWarning from NaN bounds (-W error)
    np.testing.assert_array_equal(fast, geos)
    with np.errstate(invalid="ignore"):  # shapely warns when building a NaN vertex
        bad = np.array([shapely.LineString([(700, 50), (np.nan, 60), (800, 70)])], dtype=object)
    index = ParcelIndex.of(parcels.geometry.to_numpy())
    assert not _grid_nearest._Edges(index.lattice, bad).ok


def test_far_edges_are_not_piled_into_border_cells():
    parcels = _grid(20, 20, 100.0)
    rng = np.random.default_rng(3)
    # 2,000 short edges 5-50 km east of a 2 km grid, and one line near it.
    x = rng.uniform(7_000, 52_000, 2000)
    y = rng.uniform(-20_000, 20_000, 2000)
    far = [shapely.LineString([(a, b), (a + 30, b + 30)]) for a, b in zip(x, y, strict=True)]
    lines = _lines([*far, shapely.LineString([(2_050, 500), (2_150, 900)])])
    index = ParcelIndex.of(parcels.geometry.to_numpy())
    edges = _grid_nearest._Edges(index.lattice, lines.geometry.to_numpy())
    # Only edges within the padded grid (9 cells = 900 m around it) are bucketed.
    assert len(np.unique(edges.edge)) < 100
    fast, geos = _both(parcels, lines)
    np.testing.assert_allclose(fast, geos, rtol=1e-12, atol=1e-12)
