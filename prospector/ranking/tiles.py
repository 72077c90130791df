"""Tiles: measure parcels in spatial partitions with results identical to one pass.

Parcels are assigned to square tiles of ``tile_km`` by the centre of their bounding box
(tile ``(floor(x / tile), floor(y / tile))`` in the work CRS).  A tile's task gets the
features of each layer whose bounding box meets the tile's parcel bounds grown by a
margin:

* land, withdrawals, claims, deposits-inside: no margin (they must touch a parcel);
* deposits for the value kernel: ``value.radius_km`` (+1 m), exactly the candidates
  :func:`~prospector.analysis.value.parcel_value` considers;
* access and vector evidence: ``access_margin_km`` (default 25 km).  A distance found
  within the margin is exact (a nearer feature would also lie within the margin, so in
  the window).  Parcels whose nearest feature is farther than the margin, or not found,
  are measured again against the features within ``access.search_km`` of them — the
  complete set that can matter — so results are identical to the in-memory run while
  tiles stay small where features are dense.

Rasters (and slope and travel cost) are prepared once per run and shared by every tile.
A site on an edge shared by parcels of two tiles is "inside" in both tiles; globally it
belongs to the first parcel in parcel order (:func:`fix_edge_deposits`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector.analysis.access import nearest_distance_km
from prospector.analysis.value import deposit_weights, deposits_in_parcels
from prospector.config import Config
from prospector.ingest import RegionData
from prospector.ranking.rasters import RasterGrid
from prospector.ranking.sources import LayerSource, ParquetLayers, access_features
from prospector.ranking.steps import annotate_deposits, measure_parcels

__all__ = [
    "Tile",
    "TileContext",
    "TileResult",
    "fix_edge_deposits",
    "measure_task",
    "measure_tile",
    "owned_deposits",
    "plan_tiles",
    "read_tile_parcels",
    "tile_keys",
]

#: Distance columns and the role they measure against.
_DIST = {"road": "access", "rail": "access", "power": "access", "fault": "evidence"}


def grow(bounds: np.ndarray, margin: float) -> tuple[float, float, float, float]:
    """Bounds ``(xmin, ymin, xmax, ymax)`` grown by *margin* on every side."""
    return (
        float(bounds[0] - margin),
        float(bounds[1] - margin),
        float(bounds[2] + margin),
        float(bounds[3] + margin),
    )


def tile_keys(bounds: np.ndarray, tile_m: float) -> np.ndarray:
    """Tile key (int64) of each feature from the centre of its bounding box."""
    cx = (bounds[:, 0] + bounds[:, 2]) / 2.0
    cy = (bounds[:, 1] + bounds[:, 3]) / 2.0
    ix = np.floor(cx / tile_m).astype(np.int64)
    iy = np.floor(cy / tile_m).astype(np.int64)
    return (ix + (1 << 31)) * (1 << 32) + (iy + (1 << 31))


def plan_tiles(parcels: gpd.GeoDataFrame, tile_km: float) -> list[np.ndarray]:
    """Positions of the parcels of each non-empty tile (ascending), tiles in key order."""
    keys = tile_keys(shapely.bounds(parcels.geometry.to_numpy()), tile_km * 1000.0)
    order = np.argsort(keys, kind="stable")
    _, start = np.unique(keys[order], return_index=True)
    return np.split(order, start[1:]) if len(order) else []


@dataclass(frozen=True)
class Tile:
    """A tile of a file-backed parcel layer: its key, its parcels' bounds, the tile side."""

    key: int
    bounds: tuple[float, float, float, float]
    tile_m: float


def read_tile_parcels(source: ParquetLayers, tile: Tile) -> gpd.GeoDataFrame:
    """Read the parcels of *tile* (``parcel_id``, geometry), in file order."""
    gdf = source.window("parcels", tile.bounds)
    assert gdf is not None
    mine = tile_keys(shapely.bounds(gdf.geometry.to_numpy()), tile.tile_m) == tile.key
    return gdf.loc[mine, ["parcel_id", "geometry"]].reset_index(drop=True)


@dataclass
class TileContext:
    """What every tile task of a run shares (inherited by forked workers, or scattered)."""

    source: LayerSource
    config: Config
    access_margin_m: float
    have: dict[str, bool]
    rasters: list[RasterGrid]
    parcels: gpd.GeoDataFrame | None = None
    """All parcels of an in-memory run (tasks are positions into it)."""


@dataclass
class TileResult:
    """A measured tile."""

    table: pd.DataFrame
    """Measured columns without geometry, rows in the tile's parcel order."""
    owners: pd.DataFrame
    """``key`` (deposit row ``_row``, or ``site_id``) → ``parcel_id`` of the sites inside."""
    seconds: float = 0.0
    n_fallback: int = 0


def measure_tile(
    parcels: gpd.GeoDataFrame,
    source: LayerSource,
    config: Config,
    *,
    access_margin_m: float,
    have: dict[str, bool],
    rasters: list[RasterGrid],
) -> TileResult:
    """Measure one tile's parcels against the layer windows they need (see module doc)."""
    t0 = time.perf_counter()
    parcels = parcels.reset_index(drop=True)
    pb = np.asarray(parcels.total_bounds)
    radius_m = config.value.radius_km * 1000.0
    windows: dict[str, Any] = {
        "deposits": source.window("deposits", grow(pb, radius_m + 1.0)),
        "land": source.window("land", grow(pb, 1.0)),
        "withdrawals": source.window("withdrawals", grow(pb, 1.0)),
        "claims": source.window("claims", grow(pb, 1.0)),
        "access": source.window("access", grow(pb, access_margin_m)),
        "evidence": source.window("evidence", grow(pb, access_margin_m)),
    }
    data = dataclasses.replace(source.base(), **windows)
    table, deposits = measure_parcels(parcels, data, config, rasters=rasters)
    table = pd.DataFrame(table.drop(columns="geometry"))
    n_fallback = _far_distances(table, parcels, source, config, access_margin_m, have)
    key = "_row" if "_row" in deposits else "site_id"
    inside = deposits["parcel_id"].notna().to_numpy() if len(deposits) else np.zeros(0, dtype=bool)
    owners = pd.DataFrame(
        {
            "key": deposits[key].to_numpy()[inside],
            "parcel_id": deposits["parcel_id"].to_numpy()[inside],
        }
    )
    return TileResult(table, owners, time.perf_counter() - t0, n_fallback)


def measure_task(context: TileContext, item: Any) -> TileResult:
    """Measure one tile.

    *item* is positions into ``context.parcels``, a :class:`Tile` of a file-backed source,
    or the tile's parcels themselves.
    """
    if isinstance(item, gpd.GeoDataFrame):
        parcels = item
    elif isinstance(item, Tile):
        assert isinstance(context.source, ParquetLayers)
        parcels = read_tile_parcels(context.source, item)
    else:
        assert context.parcels is not None
        parcels = context.parcels.iloc[item]
    return measure_tile(
        parcels,
        context.source,
        context.config,
        access_margin_m=context.access_margin_m,
        have=context.have,
        rasters=context.rasters,
    )


def _far_distances(
    table: pd.DataFrame,
    parcels: gpd.GeoDataFrame,
    source: LayerSource,
    config: Config,
    access_margin_m: float,
    have: dict[str, bool],
) -> int:
    """Measure again, against everything within search_km, distances beyond the margin.

    A distance beyond the margin (or none found) may have a nearer feature outside the
    window.  Returns the number of parcel distances measured again.
    """
    search_m = config.access.search_km * 1000.0
    margin_km = access_margin_m / 1000.0
    n_fallback = 0
    for kind, role in _DIST.items():
        if not have["evidence" if kind == "fault" else kind]:
            continue  # NaN everywhere, in the window as in the whole layer
        col = f"dist_{kind}_km"
        d = table[col].to_numpy()
        redo = np.isnan(d) | (d > margin_km)
        if not redo.any() or access_margin_m >= search_m:
            continue
        sub = parcels[redo]
        feats = source.window(role, grow(np.asarray(sub.total_bounds), search_m + 1.0))
        if role == "access":
            feats = access_features(feats, config, kind)
        table.loc[redo, col] = nearest_distance_km(sub, feats, max_km=config.access.search_km)
        n_fallback += int(redo.sum())
    return n_fallback


def _global_owner(owners: pd.DataFrame, parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """Every tile's claim (deposit row → parcel position) and the first claiming parcel."""
    pos = pd.Series(np.arange(len(parcels)), index=parcels["parcel_id"].to_numpy())
    o = owners.assign(pos=pos.reindex(owners["parcel_id"].to_numpy()).to_numpy())
    return o.assign(first=o.groupby("key")["pos"].transform("min"))


def fix_edge_deposits(
    table: gpd.GeoDataFrame, owners: pd.DataFrame, parcels: gpd.GeoDataFrame, data: RegionData
) -> gpd.GeoDataFrame:
    """Recount the sites of parcels that claimed a site owned by a parcel of another tile."""
    o = _global_owner(owners, parcels)
    wrong = o[o["pos"] != o["first"]]
    if wrong.empty:
        return table
    assert data.deposits is not None
    affected = np.unique(wrong["pos"].to_numpy(dtype=np.int64))
    firsts = o.drop_duplicates("key")
    mine = firsts[np.isin(firsts["first"].to_numpy(), affected)]["key"].to_numpy(dtype=np.int64)
    inside, _ = deposits_in_parcels(
        parcels.iloc[affected], data.deposits.iloc[np.sort(mine)], data.vocabulary
    )
    for col in inside.columns:
        table.iloc[affected, table.columns.get_loc(col)] = inside[col].to_numpy()
    return table


def owned_deposits(
    data: RegionData, config: Config, owners: pd.DataFrame, parcels: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Annotate the region's deposits, each owned by the first parcel holding it."""
    deposits = data.deposits
    assert deposits is not None
    weights = deposit_weights(deposits, data.vocabulary, config.value)
    owner = np.full(len(deposits), -1, dtype=np.int64)
    if len(owners):
        first = _global_owner(owners, parcels).groupby("key")["pos"].min()
        owner[first.index.to_numpy(dtype=np.int64)] = first.to_numpy(dtype=np.int64)
    return annotate_deposits(deposits, weights, owner, parcels["parcel_id"])
