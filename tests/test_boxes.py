"""Box fast paths (_boxes.py): every result checked against the plain GEOS answer."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import affinity

from prospector._runtime import n_threads
from prospector.analysis._boxes import (
    _clip_by_rects,
    box_mask,
    box_point_distance,
    intersect_pairs,
)
from prospector.analysis.index import ParcelIndex
from tests.conftest import X0, Y0

# ---------------------------------------------------------------------------------------------
# Builders


def _objects(geoms) -> np.ndarray:
    geoms = list(geoms)
    out = np.empty(len(geoms), dtype=object)
    out[:] = geoms
    return out


def _grid(nx: int, ny: int, size: float = 10.0, x0: float = 0.0, y0: float = 0.0) -> np.ndarray:
    """Row-major grid of box cells: cell (i, j) has index j * nx + i."""
    return _objects(
        shapely.box(x0 + i * size, y0 + j * size, x0 + (i + 1) * size, y0 + (j + 1) * size)
        for j in range(ny)
        for i in range(nx)
    )


def _hexagon(cx: float, cy: float, r: float) -> shapely.Polygon:
    t = np.arange(6) * np.pi / 3
    return shapely.Polygon(np.c_[cx + r * np.cos(t), cy + r * np.sin(t)])


def _not_boxes(x0: float = 0.0, y0: float = 0.0) -> np.ndarray:
    """Hexagons (a small tiling with shared edges) and rotated squares over [0, 50]²."""
    r = 6.0
    hexes = [
        _hexagon(x0 + 1.5 * r * i, y0 + np.sqrt(3) * r * (j + 0.5 * (i % 2)), r)
        for i in range(5)
        for j in range(4)
    ]
    rotated = [
        affinity.rotate(shapely.box(x0 + x, y0 + y, x0 + x + 10, y0 + y + 10), angle)
        for x, y, angle in [(0, 30, 10), (15, 30, 45), (30, 30, 30), (10, 5, 60), (35, 5, 5)]
    ]
    return _objects(hexes + rotated)


def _mixed(x0: float = 0.0, y0: float = 0.0) -> np.ndarray:
    return np.concatenate([_grid(5, 5, 10.0, x0, y0), _not_boxes(x0, y0)])


def _star(rng, cx, cy, r_min, r_max, n) -> shapely.Polygon:
    """A simple star-shaped polygon: *n* vertices at increasing angles around (cx, cy)."""
    t = (np.arange(n) + rng.uniform(-0.3, 0.3, n)) * (2 * np.pi / n)
    r = rng.uniform(r_min, r_max, n)
    return shapely.Polygon(np.c_[cx + r * np.cos(t), cy + r * np.sin(t)])


def _random_polygon(rng, kind: str, cx: float, cy: float, scale: float):
    """One polygon of *kind* around (cx, cy), *scale* being about one grid cell."""
    n = int(rng.integers(3, 120))
    if kind == "star":
        geom = _star(rng, cx, cy, 0.05 * scale, 2.5 * scale, n)
    elif kind == "holed":
        n = max(n, 12)
        outer = _star(rng, cx, cy, 1.2 * scale, 2.5 * scale, n)
        hole = _star(rng, cx, cy, 0.1 * scale, 0.6 * scale, int(rng.integers(3, 30)))
        geom = shapely.Polygon(outer.exterior.coords, [hole.exterior.coords])
    elif kind == "multi":
        a = _star(rng, cx, cy, 0.2 * scale, 1.0 * scale, n)
        b = _star(rng, cx + 2.5 * scale, cy + 0.5 * scale, 0.2 * scale, 1.0 * scale, n)
        geom = shapely.MultiPolygon([a, b])
    elif kind == "small":
        geom = _star(rng, cx, cy, 0.01 * scale, 0.2 * scale, n)
    elif kind == "huge":
        geom = _star(rng, cx, cy, 6 * scale, 9 * scale, max(n, 8))
    else:  # pragma: no cover - a typo in a test
        raise ValueError(kind)
    assert geom.is_valid, shapely.is_valid_reason(geom)
    return geom


KINDS = ["star", "holed", "multi", "small", "huge"]


def _random_polygons(rng, n: int, x0: float, y0: float, extent: float, scale: float):
    kinds = rng.choice(KINDS, n)
    centres = rng.uniform(-0.2 * extent, 1.2 * extent, (n, 2)) + np.array([x0, y0])
    return _objects(
        _random_polygon(rng, k, cx, cy, scale) for k, (cx, cy) in zip(kinds, centres, strict=True)
    )


# ---------------------------------------------------------------------------------------------
# References


def _reference_pairs(parcels, polygons, min_area_m2: float = 0.0):
    """GEOS answer: STRtree intersects pairs sorted by (parcel, polygon), area-filtered."""
    li, pi = shapely.STRtree(parcels).query(polygons, predicate="intersects")
    order = np.lexsort((li, pi))
    pi, li = pi[order], li[order]
    area = shapely.area(shapely.intersection(parcels[pi], polygons[li]))
    keep = area >= min_area_m2
    return pi[keep], li[keep], area[keep]


def _assert_intersections(parcels, polygons, min_area_m2: float = 0.0, index=None):
    parcels, polygons = _objects(parcels), _objects(polygons)
    if index is None:
        index = ParcelIndex.of(parcels)
    pi, li, pieces = intersect_pairs(index, polygons, min_area_m2=min_area_m2)
    rpi, rli, rarea = _reference_pairs(parcels, polygons, min_area_m2)
    np.testing.assert_array_equal(pi, rpi)
    np.testing.assert_array_equal(li, rli)
    assert pieces.dtype == object
    assert len(pieces) == len(pi)
    invalid = ~shapely.is_valid(pieces)
    assert not invalid.any(), [shapely.is_valid_reason(p) for p in pieces[invalid]]
    np.testing.assert_allclose(shapely.area(pieces), rarea, rtol=1e-9, atol=1e-6)
    return pi, li, pieces


def _reference_points_in(parcels, points):
    di, pi = shapely.STRtree(parcels).query(points, predicate="intersects")
    order = np.lexsort((pi, di))
    return di[order], pi[order]


# ---------------------------------------------------------------------------------------------
# box_mask


def _ring(x0, y0, x1, y1, start: int, reverse: bool):
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    if reverse:
        corners = corners[::-1]
    corners = corners[start:] + corners[:start]
    return shapely.Polygon(corners)


@pytest.mark.parametrize("ccw", [True, False])
def test_box_mask_shapely_box(ccw):
    geoms = _objects(
        [shapely.box(0, 0, 1, 1, ccw=ccw), shapely.box(X0, Y0, X0 + 1000.0, Y0 + 250.5, ccw=ccw)]
    )
    np.testing.assert_array_equal(box_mask(geoms), [True, True])


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("start", [0, 1, 2, 3])
def test_box_mask_ring_from_any_corner(start, reverse):
    geom = _ring(-3.5, 2.0, 7.25, 9.0, start, reverse)
    assert shapely.equals(geom, shapely.box(-3.5, 2.0, 7.25, 9.0))
    corners = [[-3.5, 2.0], [7.25, 2.0], [7.25, 9.0], [-3.5, 9.0]]
    assert (
        shapely.get_coordinates(geom)[0].tolist() == (corners[::-1] if reverse else corners)[start]
    )
    np.testing.assert_array_equal(box_mask(_objects([geom])), [True])


NOT_BOXES = {
    "rotated 10°": affinity.rotate(shapely.box(0, 0, 2, 1), 10),
    "bowtie on corners": shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)]),
    "degenerate back-track": shapely.Polygon([(0, 0), (1, 0), (1, 1), (1, 0), (0, 0)]),
    "repeated vertex triangle": shapely.Polygon([(0, 0), (1, 0), (1, 0), (1, 1), (0, 0)]),
    "zero width": shapely.box(0, 0, 0, 1),
    "zero height": shapely.box(0, 0, 1, 0),
    "box with a hole": shapely.Polygon(
        shapely.box(0, 0, 4, 4).exterior.coords, [shapely.box(1, 1, 2, 2).exterior.coords]
    ),
    "collinear extra vertex": shapely.Polygon([(0, 0), (0.5, 0), (1, 0), (1, 1), (0, 1)]),
    "multipolygon of one box": shapely.MultiPolygon([shapely.box(0, 0, 1, 1)]),
    "point": shapely.Point(0, 0),
    "box outline as a line": shapely.LineString(shapely.box(0, 0, 1, 1).exterior.coords),
    "box outline as a ring": shapely.box(0, 0, 1, 1).exterior,
    "none": None,
    "empty polygon": shapely.Polygon(),
    "empty collection": shapely.GeometryCollection(),
    "triangle": shapely.Polygon([(0, 0), (1, 0), (0, 1)]),
    "quadrilateral, three corners": shapely.Polygon([(0, 0), (2, 0), (2, 2), (1, 1)]),
}


@pytest.mark.parametrize("name", list(NOT_BOXES))
def test_box_mask_rejects(name):
    geom = NOT_BOXES[name]
    if name == "collinear extra vertex":
        assert shapely.get_num_coordinates(geom) == 6
        assert shapely.equals(geom, shapely.box(0, 0, 1, 1))
    np.testing.assert_array_equal(box_mask(_objects([geom])), [False])


def test_box_mask_mixed_array_in_order():
    boxes = [
        shapely.box(0, 0, 1, 1),
        shapely.box(5, 5, 6, 9, ccw=False),
        _ring(X0, Y0, X0 + 10.0, Y0 + 20.0, 2, True),
    ]
    mixed, expected = [], []
    rng = np.random.default_rng(3)
    for k, name in enumerate(rng.permutation(list(NOT_BOXES))):
        mixed.append(NOT_BOXES[name])
        expected.append(False)
        if k < len(boxes):
            mixed.append(boxes[k])
            expected.append(True)
    geoms = _objects(mixed)
    np.testing.assert_array_equal(box_mask(geoms), expected)
    np.testing.assert_array_equal(box_mask(geoms, shapely.bounds(geoms)), expected)
    np.testing.assert_array_equal(box_mask(_objects(NOT_BOXES.values())), False)
    assert box_mask(_objects([])).shape == (0,)
    assert box_mask(_objects([])).dtype == bool


def test_parcel_index_of():
    geoms = _mixed()
    index = ParcelIndex.of(geoms)
    assert len(index) == len(geoms)
    np.testing.assert_array_equal(index.bounds, shapely.bounds(geoms))
    np.testing.assert_array_equal(index.is_box, [True] * 25 + [False] * (len(geoms) - 25))
    assert len(index.tree) == len(geoms)


# ---------------------------------------------------------------------------------------------
# Distances


def test_box_point_distance_hand_checked():
    bounds = np.array([[0.0, 0.0, 3.0, 4.0]] * 6)
    xy = np.array([[6.0, 8.0], [1.0, 1.0], [3.0, 2.0], [-2.0, 2.0], [0.0, 0.0], [1.5, -7.0]])
    np.testing.assert_array_equal(box_point_distance(bounds, xy), [5.0, 0.0, 0.0, 2.0, 0.0, 7.0])
    assert box_point_distance(np.empty((0, 4)), np.empty((0, 2))).shape == (0,)


def _points_around(rng, bounds: np.ndarray) -> np.ndarray:
    """Per box: a point inside, on an edge, at a corner, or outside (near or far)."""
    n = len(bounds)
    x0, y0, x1, y1 = bounds.T
    w, h = x1 - x0, y1 - y0
    u, v = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    kind = rng.integers(0, 5, n)
    x = x0 + u * w
    y = y0 + v * h
    # 1: on an edge (one coordinate on a side, exactly)
    side = rng.integers(0, 4, n)
    edge = kind == 1
    x = np.where(edge & (side == 0), x0, np.where(edge & (side == 1), x1, x))
    y = np.where(edge & (side == 2), y0, np.where(edge & (side == 3), y1, y))
    # 2: a corner
    corner = kind == 2
    x = np.where(corner, np.where(u < 0.5, x0, x1), x)
    y = np.where(corner, np.where(v < 0.5, y0, y1), y)
    # 3, 4: outside, near or far
    out = kind >= 3
    spread = np.where(kind == 3, 0.3, 5.0)
    x = np.where(out, x0 + (rng.uniform(-1, 2, n) * (1 + spread)) * w, x)
    y = np.where(out, y0 + (rng.uniform(-1, 2, n) * (1 + spread)) * h, y)
    return np.c_[x, y]


@pytest.mark.parametrize("origin", [(0.0, 0.0), (X0, Y0)])
def test_box_point_distance_equals_shapely(origin):
    rng = np.random.default_rng(5)
    n = 4000
    lo = rng.uniform(0, 5000, (n, 2)) + origin
    bounds = np.c_[lo, lo + rng.uniform(0.5, 2000, (n, 2))]
    xy = _points_around(rng, bounds)
    got = box_point_distance(bounds, xy)
    expected = shapely.distance(shapely.box(*bounds.T), shapely.points(xy))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    # every kind of point was drawn: some at distance 0 (inside/edge/corner), most outside
    assert 0.2 < (got == 0).mean() < 0.8


@pytest.mark.parametrize("mixed", [False, True])
def test_parcel_index_point_distance_equals_shapely(mixed):
    geoms = _mixed(X0, Y0) if mixed else _grid(6, 5, 10.0, X0, Y0)
    index = ParcelIndex.of(geoms)
    assert index.is_box.all() != mixed
    rng = np.random.default_rng(6)
    # points: parcel vertices, points around the box parcels' boxes, random points
    vertices = shapely.get_coordinates(geoms)
    around = _points_around(rng, np.repeat(index.bounds, 20, axis=0))
    scattered = rng.uniform(-20, 80, (500, 2)) + np.array([X0, Y0])
    xy = np.concatenate([vertices, around, scattered])
    points = shapely.points(xy)
    pi = rng.integers(0, len(geoms), 6000)
    di = rng.integers(0, len(points), 6000)
    got = index.point_distance(pi, points, xy, di)
    np.testing.assert_allclose(got, shapely.distance(geoms[pi], points[di]), rtol=0, atol=1e-9)
    assert (got == 0).any() and (got > 0).any()
    empty = np.empty(0, dtype=np.int64)
    assert index.point_distance(empty, points, xy, empty).shape == (0,)


# ---------------------------------------------------------------------------------------------
# points_in


def _lattice(nx, ny, size, x0=0.0, y0=0.0, step=0.5):
    xs = x0 + np.arange(0, nx + step, step) * size
    ys = y0 + np.arange(0, ny + step, step) * size
    return np.array([(x, y) for x in xs for y in ys])


def test_points_in_grid_hand_checked():
    grid = _grid(4, 4)
    index = ParcelIndex.of(grid)
    points = shapely.points([(10, 10), (0, 0), (40, 40), (20, 5), (5, 5), (-1, 5), (40.5, 40)])
    di, pi = index.points_in(points)
    assert list(zip(di.tolist(), pi.tolist(), strict=True)) == [
        (0, 0),  # interior corner: the four cells around it
        (0, 1),
        (0, 4),
        (0, 5),
        (1, 0),  # outer corner: one cell
        (2, 15),
        (3, 1),  # shared edge: both cells
        (3, 2),
        (4, 0),
        # points 5 and 6 lie outside every cell
    ]


@pytest.mark.parametrize("origin", [(0.0, 0.0), (X0, Y0)])
def test_points_in_grid_equals_strtree(origin):
    size = 10.0 if origin == (0.0, 0.0) else 1000.0
    grid = _grid(5, 4, size, *origin)
    rng = np.random.default_rng(7)
    xy = np.concatenate(
        [
            _lattice(5, 4, size, *origin),  # every corner, edge midpoint and cell centre
            rng.uniform(-1, 6, (300, 2)) * size + origin,
            _lattice(5, 4, size, *origin)[:10],  # duplicates
        ]
    )
    points = shapely.points(rng.permutation(xy))
    di, pi = ParcelIndex.of(grid).points_in(points)
    rdi, rpi = _reference_points_in(grid, points)
    np.testing.assert_array_equal(di, rdi)
    np.testing.assert_array_equal(pi, rpi)
    # interior lattice corners touch exactly four cells
    counts = np.bincount(di, minlength=len(points))
    assert counts.max() == 4
    assert (counts == 0).any()


def test_points_in_mixed_equals_strtree():
    geoms = _mixed()
    index = ParcelIndex.of(geoms)
    rng = np.random.default_rng(8)
    xy = np.concatenate(
        [
            shapely.get_coordinates(geoms),  # every vertex of every parcel
            _lattice(5, 5, 10.0),
            rng.uniform(-10, 60, (500, 2)),
        ]
    )
    # a corner of a rotated square's bounding box: inside the bbox, outside the square
    rotated = geoms[-1]
    b = shapely.bounds(rotated)
    xy = np.concatenate([xy, [[b[0], b[1]]]])
    points = shapely.points(xy)
    di, pi = index.points_in(points)
    rdi, rpi = _reference_points_in(geoms, points)
    np.testing.assert_array_equal(di, rdi)
    np.testing.assert_array_equal(pi, rpi)
    assert not ((di == len(points) - 1) & (pi == len(geoms) - 1)).any()
    assert (~index.is_box[pi]).any() and index.is_box[pi].any()


def test_points_in_no_points_or_no_hits():
    index = ParcelIndex.of(_grid(2, 2))
    for points in (shapely.points(np.empty((0, 2))), shapely.points([(100.0, 100.0)])):
        di, pi = index.points_in(points)
        assert di.shape == pi.shape == (0,)
        assert di.dtype.kind == pi.dtype.kind == "i"


# ---------------------------------------------------------------------------------------------
# intersect_pairs: hand-checked cases


def test_intersect_pairs_hand_checked():
    grid = _grid(2, 2)  # cells 0..3 over [0, 20]²
    polygon = shapely.box(5, 5, 15, 15)
    pi, li, pieces = _assert_intersections(grid, [polygon])
    assert pi.tolist() == [0, 1, 2, 3]
    assert li.tolist() == [0, 0, 0, 0]
    expected = [
        shapely.box(5, 5, 10, 10),
        shapely.box(10, 5, 15, 10),
        shapely.box(5, 10, 10, 15),
        shapely.box(10, 10, 15, 15),
    ]
    assert shapely.equals(pieces, expected).all()


def test_intersect_pairs_small_polygon_inside_one_cell_is_the_piece():
    grid = _grid(3, 3)
    rng = np.random.default_rng(9)
    small = _star(rng, 15.0, 15.0, 0.5, 4.0, 40)
    # also a small polygon lying on the cell's boundary from the inside
    flush = shapely.Polygon([(20, 20), (18, 20), (20, 17)])
    pi, li, pieces = _assert_intersections(grid, [small, flush])
    # the flush triangle touches cells 5 and 7 along an edge and cell 8 at (20, 20)
    assert list(zip(pi.tolist(), li.tolist(), strict=True)) == [
        (4, 0),
        (4, 1),
        (5, 1),
        (7, 1),
        (8, 1),
    ]
    assert shapely.equals_exact(pieces[0], small, tolerance=0.0)
    assert shapely.equals(pieces[1], flush)
    assert shapely.area(pieces[2:]).tolist() == [0.0, 0.0, 0.0]


def test_intersect_pairs_huge_polygon_gives_whole_parcels():
    parcels = _mixed()
    rng = np.random.default_rng(10)
    huge = _star(rng, 25.0, 25.0, 100.0, 150.0, 200)
    pi, li, pieces = _assert_intersections(parcels, [huge])
    np.testing.assert_array_equal(pi, np.arange(len(parcels)))
    np.testing.assert_array_equal(li, 0)
    assert shapely.equals(pieces, parcels).all()
    np.testing.assert_allclose(shapely.area(pieces), shapely.area(parcels), rtol=1e-12)


TOUCHING = {
    "edge": shapely.box(10, 0, 20, 10),
    "part of an edge": shapely.box(10, 2, 12, 7),
    "corner from outside": shapely.Polygon([(10, 10), (20, 12), (12, 20)]),
    "vertex on an edge": shapely.Polygon([(5, 10), (10, 20), (0, 20)]),
    "U around the cell": shapely.Polygon(
        [(-5, -5), (15, -5), (15, 15), (10, 15), (10, 0), (0, 0), (0, 15), (-5, 15)]
    ),
    "frame around the cell": shapely.box(-5, -5, 15, 15).difference(shapely.box(0, 0, 10, 10)),
}


@pytest.mark.parametrize("name", list(TOUCHING))
@pytest.mark.parametrize("parcel", ["box", "six-vertex square"])
def test_intersect_pairs_touching_only(name, parcel):
    cell = (
        shapely.box(0, 0, 10, 10)
        if parcel == "box"
        else shapely.Polygon([(0, 0), (5, 0), (10, 0), (10, 10), (0, 10)])
    )
    index = ParcelIndex.of(_objects([cell]))
    assert index.is_box.tolist() == [parcel == "box"]
    polygon = TOUCHING[name]
    assert shapely.touches(polygon, cell)
    pi, li, pieces = _assert_intersections([cell], [polygon], index=index)
    assert (pi.tolist(), li.tolist()) == ([0], [0])
    assert shapely.area(pieces[0]) == 0.0
    pi, li, pieces = _assert_intersections([cell], [polygon], min_area_m2=1e-9, index=index)
    assert len(pi) == len(li) == len(pieces) == 0


EXACT_CASES = {
    "diagonal through two corners": (shapely.Polygon([(-5, -5), (15, 15), (15, -5)]), 50.0),
    "diamond through edge midpoints": (
        shapely.Polygon([(-5, 5), (5, -5), (15, 5), (5, 15)]),
        100.0,
    ),
    "bent path between opposite corners": (
        shapely.Polygon([(-5, -5), (0, 0), (2, 8), (10, 10), (15, 15), (15, -5)]),
        80.0,
    ),
    "half-cell notch (PLSS-like)": (
        shapely.Polygon([(-5, 0), (0, 0), (0, 5), (10, 5), (10, 0), (15, 0), (15, 15), (-5, 15)]),
        50.0,
    ),
    "hole equal to the cell": (
        shapely.Polygon(
            shapely.box(-5, -5, 15, 15).exterior.coords,
            [shapely.box(0, 0, 10, 10).exterior.coords],
        ),
        0.0,
    ),
    "hole inside the cell": (
        shapely.Polygon(
            shapely.box(-5, -5, 15, 15).exterior.coords, [shapely.box(2, 3, 6, 8).exterior.coords]
        ),
        80.0,
    ),
    "cell inside a hole": (
        shapely.Polygon(
            shapely.box(-9, -9, 19, 19).exterior.coords,
            [shapely.box(-2, -2, 12, 12).exterior.coords],
        ),
        0.0,
    ),
    # clip_by_rect gives an invalid piece (the hole cuts the cell's interior in two):
    # intersect_pairs falls back on GEOS intersection
    "hole touching three sides": (
        shapely.Polygon(
            shapely.box(-5, -5, 15, 15).exterior.coords, [[(0, 2), (5, 0), (10, 2), (5, 5)]]
        ),
        75.0,
    ),
    "diamond hole touching four sides": (
        shapely.Polygon(
            shapely.box(-5, -5, 15, 15).exterior.coords, [[(0, 5), (5, 0), (10, 5), (5, 10)]]
        ),
        50.0,
    ),
    "corner notch from one corner": (
        shapely.Polygon([(-5, 5), (5, 5), (10, 0), (15, 5), (15, 15), (-5, 15)]),
        62.5,
    ),
}


@pytest.mark.parametrize("name", list(EXACT_CASES))
def test_intersect_pairs_tricky_box_cases(name):
    polygon, area = EXACT_CASES[name]
    assert polygon.is_valid
    cell = shapely.box(0, 0, 10, 10)
    if "touching" in name:
        assert not shapely.is_valid(shapely.clip_by_rect(polygon, 0, 0, 10, 10))
    pi, _, pieces = _assert_intersections([cell], [polygon])
    if shapely.intersects(cell, polygon):
        assert shapely.area(pieces).tolist() == pytest.approx([area])
    else:
        assert len(pi) == 0


# A polygon whose boundary enters and leaves a box cell exactly at two adjacent corners of
# the cell, dipping into the cell in between (the polygon covering the rest of the cell):
# GEOS clip_by_rect (3.14.1) returns the valid but *complementary* piece - the notch that
# the polygon leaves out - so the is_valid check does not catch it.
CLIP_CORNER_BUG = {
    "V notch on the bottom side": shapely.Polygon([(-5, -5), (5, 5), (15, -5), (15, 15), (-5, 15)]),
    "V notch on the left side": shapely.Polygon(
        [(-5, -5), (0, 0), (5, 5), (0, 10), (-5, 15), (20, 15), (20, -5)]
    ),
    "triangular hole on the bottom side": shapely.Polygon(
        shapely.box(-5, -5, 15, 15).exterior.coords, [[(0, 0), (10, 0), (5, 5)]]
    ),
}


@pytest.mark.parametrize("name", list(CLIP_CORNER_BUG))
@pytest.mark.parametrize("origin", [(0.0, 0.0), (X0, Y0)])
def test_intersect_pairs_boundary_through_two_corners(name, origin):
    polygon = affinity.translate(CLIP_CORNER_BUG[name], *origin)
    cell = shapely.box(origin[0], origin[1], origin[0] + 10, origin[1] + 10)
    assert polygon.is_valid
    assert shapely.area(shapely.intersection(cell, polygon)) == pytest.approx(75.0)
    _, _, pieces = intersect_pairs(ParcelIndex.of(_objects([cell])), _objects([polygon]))
    assert shapely.area(pieces).tolist() == pytest.approx([75.0])


# The same clip_by_rect corner bug, on polygons snapped to the cell lattice.
def test_intersect_pairs_lattice_snapped_polygons():
    grid = _grid(5, 5)
    rng = np.random.default_rng(0)
    polygons = [
        shapely.make_valid(shapely.set_precision(p, 5.0))
        for p in _random_polygons(rng, 200, 0.0, 0.0, 50.0, 10.0)
    ]
    polygons = [p for p in polygons if not p.is_empty]
    _assert_intersections(grid, polygons)


# ---------------------------------------------------------------------------------------------
# intersect_pairs: random polygons against the GEOS answer


@pytest.mark.parametrize("parcels", ["grid", "not boxes", "mixed"])
@pytest.mark.parametrize("origin", [(0.0, 0.0), (X0, Y0)])
def test_intersect_pairs_random_polygons(parcels, origin):
    geoms = {"grid": _grid(5, 5, 10.0, *origin), "not boxes": _not_boxes(*origin)}.get(
        parcels, _mixed(*origin)
    )
    rng = np.random.default_rng(11)
    polygons = _random_polygons(rng, 60, origin[0], origin[1], 50.0, 10.0)
    pi, li, pieces = _assert_intersections(geoms, polygons)
    # every kind of pair turned up: whole parcels, polygons inside a parcel, partial pieces
    whole = shapely.equals(pieces, geoms[pi])
    assert whole.any() and not whole.all()
    if parcels != "not boxes":
        assert shapely.equals(pieces, polygons[li]).any()


def test_intersect_pairs_min_area():
    grid = _grid(5, 5)
    rng = np.random.default_rng(12)
    polygons = _random_polygons(rng, 40, 0.0, 0.0, 50.0, 10.0)
    pi0, li0, pieces0 = _assert_intersections(grid, polygons)
    area0 = shapely.area(pieces0)
    for threshold in (1e-9, 0.5, 5.0, 50.0, 100.0, 1e9):
        pi, li, pieces = _assert_intersections(grid, polygons, min_area_m2=threshold)
        keep = area0 >= threshold
        np.testing.assert_array_equal(pi, pi0[keep])
        np.testing.assert_array_equal(li, li0[keep])
        assert (shapely.area(pieces) >= threshold).all()
    assert 0 < (area0 >= 5.0).sum() < len(area0)
    # whole 100 m² cells survive a 100 m² threshold, nothing survives 1e9
    assert len(_assert_intersections(grid, polygons, min_area_m2=100.0)[0]) > 0
    assert len(_assert_intersections(grid, polygons, min_area_m2=1e9)[0]) == 0


def test_intersect_pairs_empty_inputs():
    grid = _grid(2, 2)
    far = _objects([shapely.box(100, 100, 110, 110)])
    for index, polygons in [
        (ParcelIndex.of(grid), _objects([])),
        (ParcelIndex.of(_objects([])), far),
        (ParcelIndex.of(_objects([])), _objects([])),
        (ParcelIndex.of(grid), far),  # no pair intersects
        (ParcelIndex.of(grid), _objects([None, shapely.Polygon()])),
    ]:
        pi, li, pieces = intersect_pairs(index, polygons)
        assert pi.shape == li.shape == pieces.shape == (0,)
        assert pi.dtype.kind == li.dtype.kind == "i"
        assert pieces.dtype == object


def test_intersect_pairs_skips_missing_polygons_keeping_positions():
    grid = _grid(2, 2)
    polygons = _objects(
        [None, shapely.box(1, 1, 2, 2), shapely.Polygon(), shapely.box(12, 1, 14, 3)]
    )
    pi, li, pieces = _assert_intersections(grid, polygons)
    assert list(zip(pi.tolist(), li.tolist(), strict=True)) == [(0, 1), (1, 3)]
    assert shapely.area(pieces).tolist() == [1.0, 4.0]


@settings(max_examples=60, deadline=None)
@given(
    nx=st.integers(1, 5),
    ny=st.integers(1, 5),
    size=st.floats(0.5, 5000.0),
    # millimetre origins: GEOS overlay (the reference) goes wrong on subnormal coordinates
    origin=st.tuples(st.floats(-2e6, 2e6), st.floats(-2e6, 2e6)).map(
        lambda xy: (round(xy[0], 3), round(xy[1], 3))
    ),
    boxes=st.booleans(),
    n=st.integers(1, 12),
    min_area_frac=st.sampled_from([0.0, 0.0, 1e-6, 0.05, 0.5]),
    seed=st.integers(0, 2**32 - 1),
)
def test_intersect_pairs_property(nx, ny, size, origin, boxes, n, min_area_frac, seed):
    rng = np.random.default_rng(seed)
    parcels = _grid(nx, ny, size, *origin)
    if not boxes:  # rotate a random share of the cells about their centres
        turn = rng.uniform(0, 1, len(parcels)) < 0.5
        parcels[turn] = [affinity.rotate(p, rng.uniform(1, 89)) for p in parcels[turn]]
    extent = max(nx, ny) * size
    polygons = _random_polygons(rng, n, origin[0], origin[1], extent, size)
    _assert_intersections(parcels, polygons, min_area_m2=min_area_frac * size * size)


# ---------------------------------------------------------------------------------------------
# Threads


def _shared_polygon_case():
    rng = np.random.default_rng(13)
    big = _star(rng, 0.0, 0.0, 950.0, 1050.0, 64)
    parcels = _objects(
        [
            shapely.box(-50, -50, 50, 50),  # inside: the parcel itself
            _hexagon(300.0, 0.0, 100.0),  # inside, not a box
            shapely.box(900, -50, 1100, 50),  # across the boundary: clipped
        ]
    )
    # One polygon object shared by 40 000 rows: enough rows for query_pairs to split them
    # over two threads, and 120 000 pairs, so a step that ran chunked() over all the pairs
    # would span two blocks on two threads.
    polygons = _objects([big] * 40_000)
    return big, parcels, polygons


def test_intersect_pairs_threads_share_one_polygon(monkeypatch):
    big, parcels, polygons = _shared_polygon_case()
    index = ParcelIndex.of(parcels)
    results = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("PROSPECTOR_THREADS", threads)
        assert n_threads() == int(threads)
        results[threads] = intersect_pairs(index, polygons)
    (pi1, li1, pieces1), (pi2, li2, pieces2) = results["1"], results["2"]
    np.testing.assert_array_equal(pi1, pi2)
    np.testing.assert_array_equal(li1, li2)
    assert shapely.equals_exact(pieces1, pieces2, tolerance=0.0).all()
    # and both are right: every row gives the three pieces of the one polygon
    np.testing.assert_array_equal(pi1, np.repeat([0, 1, 2], len(polygons)))
    np.testing.assert_array_equal(li1, np.tile(np.arange(len(polygons)), 3))
    expected = shapely.area(shapely.intersection(parcels, big))
    assert 0 < expected[2] < shapely.area(parcels[2])
    np.testing.assert_allclose(
        shapely.area(pieces1), np.repeat(expected, len(polygons)), rtol=1e-9, atol=1e-6
    )
    assert not shapely.is_prepared(polygons).any()


# Regression: STRtree.query on two threads sharing one polygon the caller had prepared
# segfaulted (GEOS builds prepared geometries lazily; they are not thread-safe).
def test_intersect_pairs_threads_with_prepared_input():
    code = textwrap.dedent(
        """
        import numpy as np, shapely
        from prospector.analysis._boxes import intersect_pairs
        from prospector.analysis.index import ParcelIndex
        t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
        r = 1000 * (1 + 0.05 * np.sin(7 * t))
        big = shapely.Polygon(np.c_[r * np.cos(t), r * np.sin(t)])
        parcels = np.array(
            [shapely.box(x, -1100, x + 50, 1100) for x in range(-1100, 1100, 500)], dtype=object
        )
        polygons = np.array([big] * 40_000, dtype=object)
        shapely.prepare(polygons)
        pi, li, pieces = intersect_pairs(ParcelIndex.of(parcels), polygons)
        hits = shapely.intersects(parcels, big).sum()
        assert 0 < hits < len(parcels)
        assert len(pi) == hits * len(polygons), (len(pi), hits)
        print("done")
        """
    )
    _run_on_two_threads(code)


# Regression: several threads overlaying the same polygon objects (tiles of one layer on a
# threaded dask worker) used to prepare and free them under each other (a segfault).
def test_intersect_pairs_shared_polygons_on_many_threads():
    code = textwrap.dedent(
        """
        import threading
        import numpy as np, shapely
        from prospector.analysis._boxes import intersect_pairs
        from prospector.analysis.index import ParcelIndex
        rng = np.random.default_rng(0)
        polys = shapely.buffer(shapely.points(rng.uniform(0, 100, (40, 2))), 15, quad_segs=64)

        def cells(off):
            xs, ys = np.meshgrid(np.arange(off, off + 60.0), np.arange(off, off + 60.0))
            return shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 1, ys.ravel() + 1)

        ref = {o: shapely.area(intersect_pairs(ParcelIndex.of(cells(o)), polys)[2]).sum()
               for o in (0, 20)}
        errors = []

        def work(off):
            index = ParcelIndex.of(cells(off))
            for _ in range(15):
                got = shapely.area(intersect_pairs(index, polys)[2]).sum()
                if not np.isclose(got, ref[off], rtol=1e-12):
                    errors.append((off, got))

        threads = [threading.Thread(target=work, args=(o,)) for o in (0, 20, 0, 20)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert not errors, errors
        assert not shapely.is_prepared(polys).any()
        print("done")
        """
    )
    _run_on_two_threads(code)


def _run_on_two_threads(code: str) -> None:
    """Run *code* in a fresh interpreter with two Prospector threads; it must print "done".

    A subprocess, so that a segfault fails the test instead of ending the test run.
    """
    env = {"PROSPECTOR_THREADS": "2", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "done"


def test_runs_expands_run_lengths():
    from prospector.analysis._arrays import runs

    group, position = runs(np.array([2, 0, 3, 1]))
    assert group.tolist() == [0, 0, 2, 2, 2, 3]
    assert position.tolist() == [0, 1, 0, 1, 2, 0]
    group, position = runs(np.array([], dtype=np.int64))
    assert group.shape == position.shape == (0,)


@pytest.mark.parametrize("vector", [True, False])
def test_clip_by_rects_one_rectangle_per_geometry(vector):
    # vector=False is the loop that shapely < 2.2 (the newest on Python 3.10) needs.
    geoms = np.array(
        [
            shapely.box(0, 0, 2, 2),
            shapely.Polygon([(0, 0), (4, 0), (0, 4)]),
            shapely.box(5, 5, 6, 6),
        ]
    )
    rects = np.array([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    clipped = _clip_by_rects(geoms, rects, vector=vector)
    # By hand: the overlap of each geometry with its own rectangle (the third: none).
    assert shapely.equals(clipped[0], shapely.box(1, 1, 2, 2))
    assert shapely.equals(clipped[1], shapely.box(0, 0, 1, 1))
    assert shapely.is_empty(clipped[2])
