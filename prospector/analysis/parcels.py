"""Parcels to rank: a square grid aligned in the work CRS, or given polygons split to size."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import shapely

from prospector.errors import RunTooLargeError, SchemaError

__all__ = [
    "BYTES_PER_PARCEL",
    "ParcelEstimate",
    "check_run_size",
    "estimate_parcels",
    "grid_parcels",
    "split_parcels",
]

#: Peak memory per ranked parcel, measured (docs/scale.md): in memory ~2.8 KB at 1M parcels;
#: the streamed engine ~0.7 KB (4M parcels in 2.8 GB).  Rounded up.
BYTES_PER_PARCEL: dict[str, int] = {"memory": 3_000, "streamed": 800}
#: Memory per cell of the bounding grid built before clipping (polygon + ids).
BYTES_PER_GRID_CELL = 600
#: Share of the available memory a run may plan to use.
MEMORY_SHARE = 0.8


@dataclass(frozen=True)
class ParcelEstimate:
    """How many parcels a tessellation makes, estimated before building any of them."""

    n_parcels: int
    """Parcels expected: cells inside the region plus those along its edge."""
    n_grid_cells: int
    """Cells of the region's bounding grid, which the tessellation builds before clipping."""
    area_km2: float
    """Area to tessellate."""
    cell_m: float


def estimate_parcels(
    boundary: gpd.GeoDataFrame,
    *,
    cell_m: float,
    shape: Literal["square", "hex"] = "square",
    parcels: gpd.GeoDataFrame | None = None,
) -> ParcelEstimate:
    """Estimate the parcels of a run from the region's area and bounds (no allocation).

    With *parcels* (a given parcel layer), those larger than four cells are counted as
    the cells :func:`split_parcels` cuts them into.  Cheap: areas, lengths and bounds only.
    """
    if not (math.isfinite(cell_m) and cell_m > 0):
        raise ValueError(f"cell_m must be a positive number; got {cell_m!r}")
    cell_area = cell_m * cell_m
    geoms = boundary.geometry.to_numpy()
    area = float(shapely.area(geoms).sum())
    xmin, ymin, xmax, ymax = boundary.total_bounds
    if parcels is not None:
        sizes = shapely.area(parcels.geometry.to_numpy())
        big = sizes > 4.0 * cell_area
        n = int((~big).sum()) + math.ceil(float(sizes[big].sum()) / cell_area)
        n += math.ceil(float(shapely.length(parcels.geometry.to_numpy()[big]).sum()) / cell_m)
        grid = 0
    else:
        edge = float(shapely.length(geoms).sum())
        n = math.ceil(area / cell_area + edge / cell_m)
        if shape == "hex":
            radius = math.sqrt(2.0 * cell_area / (3.0 * math.sqrt(3.0)))
            dx, dy = 1.5 * radius, math.sqrt(3.0) * radius
            grid = math.ceil((xmax - xmin) / dx + 3) * math.ceil((ymax - ymin) / dy + 3)
        else:
            grid = math.ceil((xmax - xmin) / cell_m + 1) * math.ceil((ymax - ymin) / cell_m + 1)
    return ParcelEstimate(
        n_parcels=n, n_grid_cells=max(grid, 0), area_km2=area / 1e6, cell_m=float(cell_m)
    )


def check_run_size(
    estimate: ParcelEstimate,
    *,
    max_parcels: int = 0,
    available_bytes: int | None = None,
    engine: Literal["memory", "streamed"] = "memory",
) -> None:
    """Refuse a run that would not fit, before anything is allocated.

    Parameters
    ----------
    estimate
        From :func:`estimate_parcels`.
    max_parcels
        Explicit limit on the parcel count (``parcels.max_parcels``); 0 lets the memory
        decide.
    available_bytes
        Memory available to the run (None: unknown, no memory check).
    engine
        ``"memory"`` keeps every measured parcel in memory; ``"streamed"`` measures and
        writes tile by tile (both build the parcel grid first).

    Raises
    ------
    prospector.errors.RunTooLargeError
        With the numbers and the ways round (larger cells, a smaller area, the streamed
        engine, ``parcels.max_parcels``).
    """
    grid = estimate.n_grid_cells  # every engine builds the grid before it splits the work
    need = grid * BYTES_PER_GRID_CELL + estimate.n_parcels * BYTES_PER_PARCEL[engine]
    ways = []
    if max_parcels > 0:
        if estimate.n_parcels <= max_parcels:
            return
        ratio = estimate.n_parcels / max_parcels
        why = f"more than parcels.max_parcels = {max_parcels:,}"
        force = "raise parcels.max_parcels"
    else:
        if available_bytes is None or need <= MEMORY_SHARE * available_bytes:
            return
        ratio = need / max(MEMORY_SHARE * available_bytes, 1.0)
        kind = "in-memory" if engine == "memory" else "streamed"
        why = (
            f"needing about {_gb(need)} of memory with the {kind} engine while "
            f"{_gb(available_bytes)} is available"
        )
        size = 10 ** math.ceil(math.log10(estimate.n_parcels))
        force = f"set parcels.max_parcels (e.g. {size:,}) to run anyway"
        if engine == "memory":
            ways.append("the streamed engine (about 0.8 KB per parcel; docs/scale.md)")
    # The parcel count scales with 1 / cell²: the cell size that fits, to two digits.
    fit = estimate.cell_m * math.sqrt(ratio)
    step = 10.0 ** (math.floor(math.log10(fit)) - 1)
    fit = math.ceil(fit / step) * step
    ways = [f"larger cells (parcels.cell_m = {fit:,.4g} or more)", "a smaller region", *ways]
    raise RunTooLargeError(
        f"the run would make about {estimate.n_parcels:,} parcels (cells of "
        f"{estimate.cell_m:,.4g} m over {estimate.area_km2:,.1f} km²), {why}. Nothing was "
        f"built. Ways round: {'; '.join(ways)}; or {force}."
    )


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e8 else f"{n / 1e6:,.0f} MB"


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

    Raises
    ------
    prospector.errors.SchemaError
        No cell clipped to the boundary is larger than *min_area_m2*: nothing to rank.
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
    if not ok.any():
        raise SchemaError(
            f"the region boundary (area {shapely.area(region):,.0f} m², bounds "
            f"{', '.join(f'{v:,.0f}' for v in region.bounds)} in {boundary.crs.to_string()}) "
            f"makes no parcel: no {shape} cell of {cell_m:,.4g} m clipped to it is larger than "
            f"{max(min_area_m2, 0.0):,.4g} m² (parcels.min_sliver_m2). Check that the boundary "
            "is the study area you meant (its CRS and units), or lower parcels.cell_m or "
            "parcels.min_sliver_m2."
        )
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
