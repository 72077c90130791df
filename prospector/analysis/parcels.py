"""Parcels to rank: a square grid aligned in the work CRS, or given polygons split to size."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["grid_parcels", "split_parcels"]


def grid_parcels(
    boundary: gpd.GeoDataFrame, *, cell_m: float, min_area_m2: float = 0.0
) -> gpd.GeoDataFrame:
    """Tessellate *boundary* into square cells of ``cell_m`` metres, clipped to it.

    Cells are aligned to multiples of ``cell_m`` in the boundary's (projected) CRS, so the
    same cell always gets the same ``parcel_id`` (``"r<row>c<col>"`` counted from the CRS
    origin), whatever the region.  Only cells crossing the boundary are clipped; interior
    cells are kept whole.

    Parameters
    ----------
    boundary
        Region outline in a projected CRS (metres).
    cell_m
        Cell size in metres.
    min_area_m2
        Clipped cells smaller than this are dropped (slivers along the boundary).

    Returns
    -------
    geopandas.GeoDataFrame
        ``parcel_id`` and polygon geometry, sorted by row (north to south) then column.
    """
    if boundary.crs is None or not boundary.crs.is_projected:
        raise ValueError("grid_parcels needs a boundary in a projected CRS (metres)")
    region = shapely.make_valid(boundary.geometry.union_all())
    xmin, ymin, xmax, ymax = region.bounds
    c0, c1 = int(np.floor(xmin / cell_m)), int(np.ceil(xmax / cell_m))
    r0, r1 = int(np.floor(ymin / cell_m)), int(np.ceil(ymax / cell_m))
    col_grid, row_grid = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
    cols, rows = col_grid.ravel(), row_grid.ravel()
    cells = shapely.box(cols * cell_m, rows * cell_m, (cols + 1) * cell_m, (rows + 1) * cell_m)
    shapely.prepare(region)
    inside = shapely.contains_properly(region, cells)
    touches = ~inside & shapely.intersects(region, cells)
    keep = inside | touches
    geoms = cells.copy()
    geoms[touches] = shapely.intersection(cells[touches], region)
    geoms = geoms[keep]
    rows, cols = rows[keep], cols[keep]
    # Keep only the polygonal part of clipped cells (intersections may add lines/points).
    geoms = np.array([_polygonal(g) for g in geoms], dtype=object) if touches.any() else geoms
    area = shapely.area(geoms)
    ok = (area > max(min_area_m2, 0.0)) & ~shapely.is_empty(geoms)
    ids = np.char.add(
        np.char.add("r", rows[ok].astype(str)), np.char.add("c", cols[ok].astype(str))
    )
    order = np.lexsort((cols[ok], -rows[ok]))
    return gpd.GeoDataFrame(
        {"parcel_id": ids[order].astype(object)}, geometry=geoms[ok][order], crs=boundary.crs
    ).reset_index(drop=True)


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
