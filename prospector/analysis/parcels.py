"""Parcels to rank: a square grid aligned in the work CRS, or given polygons split to size."""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["grid_parcels", "split_parcels"]


def grid_parcels(
    boundary: gpd.GeoDataFrame,
    *,
    cell_m: float,
    min_area_m2: float = 0.0,
    shape: Literal["square", "hex"] = "square",
) -> gpd.GeoDataFrame:
    """Tessellate *boundary* into cells of ``cell_m`` × ``cell_m`` area, clipped to it.

    Cells are aligned to the origin of the boundary's (projected) CRS, so the same cell
    always gets the same ``parcel_id`` whatever the region: ``"r<row>c<col>"`` for squares
    of side ``cell_m``; ``"h<col>_<row>"`` for flat-topped hexagons of the same area (odd
    columns shifted half a row up).  Only cells crossing the boundary are clipped; interior
    cells are kept whole.

    Parameters
    ----------
    boundary
        Region outline in a projected CRS (metres).
    cell_m
        Square side in metres; hexagons get the same area (``cell_m²``).
    min_area_m2
        Clipped cells smaller than this are dropped (slivers along the boundary).
    shape
        ``"square"`` or ``"hex"``.

    Returns
    -------
    geopandas.GeoDataFrame
        ``parcel_id`` and polygon geometry, sorted by row (north to south) then column.
    """
    if boundary.crs is None or not boundary.crs.is_projected:
        raise ValueError("grid_parcels needs a boundary in a projected CRS (metres)")
    if shape not in ("square", "hex"):
        raise ValueError(f"shape must be 'square' or 'hex'; got {shape!r}")
    region = shapely.make_valid(boundary.geometry.union_all())
    if shape == "square":
        cells, rows, cols, prefix, sep = _square_cells(region.bounds, cell_m)
    else:
        cells, rows, cols, prefix, sep = _hex_cells(region.bounds, cell_m)
    shapely.prepare(region)
    inside = shapely.contains_properly(region, cells)
    touches = ~inside & shapely.intersects(region, cells)
    keep = inside | touches
    geoms = cells.copy()
    # Keep only the polygonal part of clipped cells (intersections may add lines/points).
    geoms[touches] = np.array(
        [_polygonal(g) for g in shapely.intersection(cells[touches], region)], dtype=object
    ).reshape(-1)
    geoms, rows, cols = geoms[keep], rows[keep], cols[keep]
    ok = (shapely.area(geoms) > max(min_area_m2, 0.0)) & ~shapely.is_empty(geoms)
    ids = np.char.add(
        np.char.add(prefix, (cols if shape == "hex" else rows)[ok].astype(str)),
        np.char.add(sep, (rows if shape == "hex" else cols)[ok].astype(str)),
    )
    order = np.lexsort((cols[ok], -rows[ok]))
    return gpd.GeoDataFrame(
        {"parcel_id": ids[order].astype(object)}, geometry=geoms[ok][order], crs=boundary.crs
    ).reset_index(drop=True)


def _square_cells(
    bounds: tuple[float, float, float, float], cell_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, str]:
    xmin, ymin, xmax, ymax = bounds
    c0, c1 = int(np.floor(xmin / cell_m)), int(np.ceil(xmax / cell_m))
    r0, r1 = int(np.floor(ymin / cell_m)), int(np.ceil(ymax / cell_m))
    col_grid, row_grid = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
    cols, rows = col_grid.ravel(), row_grid.ravel()
    cells = shapely.box(cols * cell_m, rows * cell_m, (cols + 1) * cell_m, (rows + 1) * cell_m)
    return cells, rows, cols, "r", "c"


def _hex_cells(
    bounds: tuple[float, float, float, float], cell_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str, str]:
    # Flat-topped hexagon of circumradius R has area 3√3/2 R²; match the square's area.
    radius = np.sqrt(2.0 * cell_m**2 / (3.0 * np.sqrt(3.0)))
    dx, dy = 1.5 * radius, np.sqrt(3.0) * radius
    xmin, ymin, xmax, ymax = bounds
    c0, c1 = int(np.floor(xmin / dx)) - 1, int(np.ceil(xmax / dx)) + 1
    r0, r1 = int(np.floor(ymin / dy)) - 1, int(np.ceil(ymax / dy)) + 1
    col_grid, row_grid = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
    cols, rows = col_grid.ravel(), row_grid.ravel()
    cx = cols * dx
    cy = rows * dy + np.where(cols % 2 == 1, dy / 2.0, 0.0)
    angles = np.deg2rad(np.arange(0, 360, 60))
    ring = np.stack(
        [cx[:, None] + radius * np.cos(angles), cy[:, None] + radius * np.sin(angles)], axis=-1
    )
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    return shapely.polygons(ring), rows, cols, "h", "_"


def split_parcels(
    parcels: gpd.GeoDataFrame, *, cell_m: float, max_area_factor: float = 4.0
) -> gpd.GeoDataFrame:
    """Split given parcels larger than ``max_area_factor`` grid cells along the grid.

    Large polygons (a whole BLM district from an SMA layer) must not be ranked as one
    blob: they are cut by the same aligned grid, and pieces get ids ``"<id>/r<row>c<col>"``.
    Smaller parcels keep their ids and geometry.
    """
    limit = max_area_factor * cell_m * cell_m
    area = parcels.geometry.area.to_numpy()
    big = area > limit
    if not big.any():
        return parcels.reset_index(drop=True)
    pieces = []
    for pid, geom in zip(parcels.loc[big, "parcel_id"], parcels.geometry[big], strict=True):
        grid = grid_parcels(gpd.GeoDataFrame(geometry=[geom], crs=parcels.crs), cell_m=cell_m)
        grid["parcel_id"] = str(pid) + "/" + grid["parcel_id"]
        pieces.append(grid)
    small = parcels.loc[~big, ["parcel_id", "geometry"]]
    out = gpd.GeoDataFrame(
        np.concatenate(
            [small.to_numpy(), *[p[["parcel_id", "geometry"]].to_numpy() for p in pieces]]
        ),
        columns=["parcel_id", "geometry"],
        geometry="geometry",
        crs=parcels.crs,
    )
    return out.reset_index(drop=True)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) == 3]
    return shapely.multipolygons(parts) if parts else shapely.Polygon()
