"""Partitioned ranking: the same measurements, tile by tile, on one machine or a dask cluster.

:func:`prospector.pipeline.measure_parcels` depends only on a parcel and the layers, so
parcels can be measured in spatial partitions and the measurements concatenated; only the
normalisation and the ranks (:func:`prospector.pipeline.finish`) need every parcel.

Tiles
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

Engines
    ``local``   tiles in this process (``workers=1``) or in ``workers`` forked processes
                (Linux/macOS ``fork``: the layers are shared copy-on-write, not pickled);
    ``dask``    the same tile tasks on ``dask.distributed``: a scheduler address, a
                ``Client``, or a ``LocalCluster`` started for the run.  In-memory layers are
                scattered to every worker once; file-backed layers (:class:`ParquetLayers`)
                are read by the workers themselves (paths must be visible to them).

Bounded memory
    With :class:`ParquetLayers` and ``out=``, nothing holds every parcel's geometry: each
    tile reads its parcels and layer windows from spatially sorted GeoParquet (bbox covering
    columns), its measurements are spilled to GeoParquet, the global scoring runs on a slim
    numeric table, and a second pass writes the ranked tiles as a GeoParquet dataset.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import shapely

from prospector import pipeline as _pl
from prospector.analysis._parallel import single_threaded
from prospector.analysis.access import nearest_distance_km
from prospector.analysis.value import deposit_weights, deposits_in_parcels
from prospector.catalog import Region
from prospector.config import Config, load_config
from prospector.errors import ConfigError
from prospector.export.geoparquet import write_geoparquet
from prospector.ingest import RegionData
from prospector.schema.commodities import CommodityVocabulary

__all__ = [
    "ParquetLayers",
    "StreamedRank",
    "plan_tiles",
    "rank_partitioned",
    "sort_spatially",
]

ROLES = ("deposits", "land", "withdrawals", "claims", "access", "evidence")
_DIST = {"road": "access", "rail": "access", "power": "access", "fault": "evidence"}


# --------------------------------------------------------------------------------------
# Layer sources
# --------------------------------------------------------------------------------------


@dataclass
class ParquetLayers:
    """Layers kept on disk as GeoParquet (EPSG work CRS, canonical columns, bbox covering).

    Windows are read with ``geopandas.read_parquet(bbox=...)``; write the files spatially
    sorted (:func:`sort_spatially`) with small row groups so a window reads few of them.
    ``paths`` maps a role (``parcels`` and those in :data:`ROLES`) to a file.
    """

    region: Region
    crs: Any
    vocabulary: CommodityVocabulary
    boundary: gpd.GeoDataFrame
    paths: dict[str, Path]

    def has(self, role: str) -> bool:
        """Return True when a file is given for *role*."""
        return role in self.paths

    def window(self, role: str, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame | None:
        """Features of *role* whose bounding box meets *bbox* (file order), or None."""
        if role not in self.paths:
            return None
        gdf = gpd.read_parquet(self.paths[role], bbox=bbox)
        return gdf.set_crs(self.crs, allow_override=True)

    def base(self) -> RegionData:
        """Return a RegionData without vector layers (region, CRS, boundary, vocabulary)."""
        return RegionData(
            region=self.region, crs=self.crs, boundary=self.boundary, vocabulary=self.vocabulary
        )

    def have(self, config: Config) -> dict[str, bool]:
        """Which criteria the layers supply (as :func:`~prospector.pipeline.available_criteria`).

        Reads the access layer's ``kind``/``class`` columns: call it once per run (the
        partitioned runs pass the answer to every tile).
        """
        have = {"deposits": self.has("deposits"), "evidence": self.has("evidence")}
        kinds = pd.DataFrame(columns=["kind", "class"])
        if self.has("access"):
            kinds = pd.read_parquet(
                self.paths["access"], columns=["kind", "class"]
            ).drop_duplicates()
        for kind in ("road", "rail", "power"):
            sel = kinds[kinds["kind"] == kind]
            if kind == "road" and config.access.road_classes:
                sel = sel[sel["class"].isin(config.access.road_classes)]
            have[kind] = len(sel) > 0
        return have


class _MemoryLayers:
    """Windows of in-memory layers through their spatial index (original row order kept)."""

    def __init__(self, data: RegionData):
        self.data = data

    def has(self, role: str) -> bool:
        return getattr(self.data, role) is not None

    def have(self, config: Config) -> dict[str, bool]:
        return _pl.available_criteria(self.data, config)

    def window(self, role: str, bbox: tuple[float, float, float, float]) -> gpd.GeoDataFrame | None:
        layer = getattr(self.data, role)
        if layer is None:
            return None
        hits = np.sort(layer.sindex.query(shapely.box(*bbox)))
        return layer.iloc[hits]

    def base(self) -> RegionData:
        return dataclasses.replace(
            self.data,
            deposits=None,
            land=None,
            withdrawals=None,
            claims=None,
            access=None,
            evidence=None,
            parcels=None,
        )


def _grow(bounds: np.ndarray, margin: float) -> tuple[float, float, float, float]:
    return (
        float(bounds[0] - margin),
        float(bounds[1] - margin),
        float(bounds[2] + margin),
        float(bounds[3] + margin),
    )


# --------------------------------------------------------------------------------------
# Tiles
# --------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------
# One tile
# --------------------------------------------------------------------------------------


@dataclass
class _TileOut:
    table: pd.DataFrame
    """Measured columns without geometry, rows in the tile's parcel order."""
    owners: pd.DataFrame
    """Deposit row (``_row``) or ``site_id`` → ``parcel_id`` of the deposits inside the tile's parcels."""
    seconds: float = 0.0
    n_fallback: int = 0


def _measure_tile(
    parcels: gpd.GeoDataFrame,
    source: Any,
    config: Config,
    access_margin_m: float,
    have: dict[str, bool],
) -> _TileOut:
    """Measure one tile's parcels against the layer windows they need (see module doc)."""
    t0 = time.perf_counter()
    parcels = parcels.reset_index(drop=True)
    pb = np.asarray(parcels.total_bounds)
    radius_m = config.value.radius_km * 1000.0
    windows = {
        "deposits": source.window("deposits", _grow(pb, radius_m + 1.0)),
        "land": source.window("land", _grow(pb, 1.0)),
        "withdrawals": source.window("withdrawals", _grow(pb, 1.0)),
        "claims": source.window("claims", _grow(pb, 1.0)),
        "access": source.window("access", _grow(pb, access_margin_m)),
        "evidence": source.window("evidence", _grow(pb, access_margin_m)),
    }
    data = dataclasses.replace(source.base(), **windows)
    table, deposits = _pl.measure_parcels(parcels, data, config)
    table = pd.DataFrame(table.drop(columns="geometry"))
    # Distances beyond the margin (or none found) may have a nearer feature outside the
    # window: measure those parcels again against everything within search_km of them.
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
        feats = source.window(role, _grow(np.asarray(sub.total_bounds), search_m + 1.0))
        if role == "access":
            feats = _pl._access_features(dataclasses.replace(data, access=feats), config, kind)
        table.loc[redo, col] = nearest_distance_km(sub, feats, max_km=config.access.search_km)
        n_fallback += int(redo.sum())
    key = "_row" if "_row" in deposits else "site_id"
    inside = deposits["parcel_id"].notna().to_numpy() if len(deposits) else np.zeros(0, dtype=bool)
    owners = pd.DataFrame(
        {
            "key": deposits[key].to_numpy()[inside],
            "parcel_id": deposits["parcel_id"].to_numpy()[inside],
        }
    )
    return _TileOut(table, owners, time.perf_counter() - t0, n_fallback)


# Process-pool plumbing: the source is inherited by fork, never pickled.
_FORKED: dict[str, Any] = {}


def _single_threaded() -> None:
    """Worker processes already use every core between them: no threads inside each."""
    os.environ["PROSPECTOR_THREADS"] = "1"


def _forked_task(positions: np.ndarray) -> _TileOut:
    parcels = _FORKED["parcels"].iloc[positions]
    return _measure_tile(
        parcels, _FORKED["source"], _FORKED["config"], _FORKED["margin"], _FORKED["have"]
    )


def _dask_task(
    parcels: gpd.GeoDataFrame, data: Any, config: Config, margin: float, have: dict[str, bool]
) -> _TileOut:
    # Dask runs tasks on worker threads and processes already: no threads inside a task.
    with single_threaded():
        source = _MemoryLayers(data) if isinstance(data, RegionData) else data
        return _measure_tile(parcels, source, config, margin, have)


def _run_tiles(
    tasks: list[Any],
    load: Callable[[Any], gpd.GeoDataFrame],
    source: Any,
    config: Config,
    margin: float,
    *,
    engine: str,
    workers: int,
    scheduler: Any,
    have: dict[str, bool],
    parcels: gpd.GeoDataFrame | None = None,
    pool: ProcessPoolExecutor | None = None,
) -> Iterator[_TileOut]:
    """Measure every tile, yielding results in task order.

    *have* is ``source.have(config)``, found once by the caller and handed to every tile.
    File-backed runs with the local engine use *pool* (see :func:`_worker_pool`).
    """
    if engine == "local" and workers <= 1:
        for task in tasks:
            yield _measure_tile(load(task), source, config, margin, have)
    elif engine == "local":
        if parcels is None:  # file-backed: each worker reads its own windows
            assert pool is not None
            yield from pool.map(
                _measure_tile_file,
                tasks,
                [source] * len(tasks),
                [config] * len(tasks),
                [margin] * len(tasks),
                [have] * len(tasks),
            )
            return
        _FORKED.update(parcels=parcels, source=source, config=config, margin=margin, have=have)
        try:
            with ProcessPoolExecutor(
                workers, mp_context=mp.get_context("fork"), initializer=_single_threaded
            ) as pool:
                yield from pool.map(_forked_task, tasks)
        finally:
            _FORKED.clear()
    elif engine == "dask":
        yield from _run_dask(
            tasks, load, source, config, margin, have, workers=workers, scheduler=scheduler
        )
    else:
        raise ValueError(f"unknown engine {engine!r}; use 'local' or 'dask'")


def _worker_pool(workers: int) -> ProcessPoolExecutor:
    """Start a pool of *workers* forked, single-threaded processes (forked now)."""
    pool = ProcessPoolExecutor(
        workers, mp_context=mp.get_context("fork"), initializer=_single_threaded
    )
    # Fork the workers now (the pool would fork them at the first submit).
    try:
        for f in [pool.submit(os.getpid) for _ in range(workers)]:
            f.result()
    except BaseException:
        pool.shutdown(cancel_futures=True)
        raise
    return pool


def _measure_tile_file(
    task: Any, source: Any, config: Config, margin: float, have: dict[str, bool]
) -> _TileOut:
    return _measure_tile(_read_tile_parcels(source, task), source, config, margin, have)


def _run_dask(
    tasks, load, source, config, margin, have, *, workers, scheduler
) -> Iterator[_TileOut]:
    from distributed import Client, LocalCluster

    own_cluster = own_client = None
    if scheduler is None:
        try:
            from distributed import get_client

            client = get_client()
        except ValueError:
            own_cluster = LocalCluster(
                n_workers=max(1, workers),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
            client = own_client = Client(own_cluster)
    elif isinstance(scheduler, Client):
        client = scheduler
    else:
        client = own_client = Client(scheduler)
    try:
        payload = source.data if isinstance(source, _MemoryLayers) else source
        [shared] = client.scatter([payload], broadcast=True)
        if isinstance(source, _MemoryLayers):
            futures = [
                client.submit(_dask_task, load(t), shared, config, margin, have, pure=False)
                for t in tasks
            ]
        else:
            futures = [
                client.submit(_measure_tile_file, t, shared, config, margin, have, pure=False)
                for t in tasks
            ]
        for fut in futures:
            yield fut.result()
            fut.release()
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


# --------------------------------------------------------------------------------------
# In-memory partitioned ranking
# --------------------------------------------------------------------------------------


def rank_partitioned(
    data: RegionData | ParquetLayers,
    config: Config | dict[str, Any] | str | Path | None = None,
    *,
    tile_km: float = 150.0,
    engine: str = "local",
    workers: int | None = None,
    scheduler: Any = None,
    out: str | Path | None = None,
    access_margin_km: float = 25.0,
    timings: dict[str, float] | None = None,
) -> _pl.RankResult | StreamedRank:
    """Rank parcels tile by tile; identical results to :func:`prospector.pipeline.rank`.

    Parameters
    ----------
    data
        Loaded :class:`RegionData` (parcels in memory, measured per tile, one
        :class:`~prospector.pipeline.RankResult` returned), or :class:`ParquetLayers`
        with ``out`` (bounded memory: ranked tiles are written as a GeoParquet dataset and a
        :class:`StreamedRank` summary returned).
    tile_km
        Tile side in km of the work CRS.
    engine
        ``"local"`` or ``"dask"``.
    workers
        Local processes (default: all cores) or, for a LocalCluster started for the run,
        its worker count.
    scheduler
        ``engine="dask"`` only: a scheduler address (``"tcp://host:8786"``), a
        ``distributed.Client``, or None (the current client, else a LocalCluster).
    out
        Directory for the streamed GeoParquet dataset (required with ParquetLayers).
    access_margin_km
        Window margin for nearest-feature distances (see the module doc; any value gives
        the same results, it only moves work between the first and the fallback search).
    timings
        A dict filled with seconds per stage.
    """
    if not isinstance(config, Config):
        config = load_config(config)
    workers = workers or os.cpu_count() or 1
    margin = access_margin_km * 1000.0
    timings = timings if timings is not None else {}
    if isinstance(data, ParquetLayers):
        if out is None:
            raise ValueError("ParquetLayers need `out`: the streamed result is written there")
        if config.score.method == "model":
            raise ConfigError(
                "score.method = 'model' needs every parcel in memory (the model is fitted on "
                "all of them); the streamed engine does not support it. Rank in memory."
            )
        return _rank_streamed(
            data,
            config,
            tile_km=tile_km,
            engine=engine,
            workers=workers,
            scheduler=scheduler,
            out=Path(out),
            margin=margin,
            timings=timings,
        )
    t0 = time.perf_counter()
    data = _pl.dedupe_region(data, config)
    parcels = _pl.make_parcels(data, config)
    tiles = plan_tiles(parcels, tile_km)
    source = _MemoryLayers(
        dataclasses.replace(
            data,
            deposits=None
            if data.deposits is None
            else data.deposits.assign(_row=np.arange(len(data.deposits))),
        )
    )
    timings["plan_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    parts: list[pd.DataFrame] = []
    owner_parts: list[pd.DataFrame] = []
    n_fallback = 0
    for positions, res in zip(
        tiles,
        _run_tiles(
            tiles,
            lambda p: parcels.iloc[p],
            source,
            config,
            margin,
            engine=engine,
            workers=workers,
            scheduler=scheduler,
            have=source.have(config),
            parcels=parcels,
        ),
        strict=True,
    ):
        res.table.index = positions
        parts.append(res.table)
        owner_parts.append(res.owners)
        n_fallback += res.n_fallback
    timings["measure_s"] = time.perf_counter() - t0
    timings["fallback_parcels"] = n_fallback
    t0 = time.perf_counter()
    columns = _column_order(parts, parcels)
    measured = pd.concat(parts).sort_index() if parts else pd.DataFrame(index=pd.RangeIndex(0))
    del parts  # free the per-tile copies before the global step
    measured = measured.drop(columns="parcel_id")
    measured.insert(0, "parcel_id", parcels["parcel_id"].to_numpy())
    measured["geometry"] = parcels.geometry.to_numpy()
    table = gpd.GeoDataFrame(measured[columns], geometry="geometry", crs=parcels.crs)
    del measured
    owners = (
        pd.concat(owner_parts, ignore_index=True)
        if owner_parts
        else pd.DataFrame(columns=["key", "parcel_id"])
    )
    if data.deposits is not None and len(owners):
        table = _fix_edge_deposits(table, owners, parcels, data)
    if data.deposits is None:
        deposits = gpd.GeoDataFrame(
            {"site_id": [], "name": [], "commodities": [], "dev_status": [], "source": []},
            geometry=[],
            crs=data.crs,
        )
    else:
        deposits = _finish_deposits(data, config, owners, parcels)
    result = _pl.finish(table, deposits, data, config)
    timings["finish_s"] = time.perf_counter() - t0
    return result


def _column_order(parts: list[pd.DataFrame], parcels: gpd.GeoDataFrame) -> list[str]:
    """measure_parcels' column order: parcel columns (incl. geometry), then measurements."""
    measured = [c for c in (parts[0].columns if parts else []) if c not in parcels.columns]
    return [*parcels.columns, *measured]


def _global_owner(owners: pd.DataFrame, parcels: gpd.GeoDataFrame) -> pd.DataFrame:
    """Every tile's claim (deposit row → parcel position) and the first claiming parcel."""
    pos = pd.Series(np.arange(len(parcels)), index=parcels["parcel_id"].to_numpy())
    o = owners.assign(pos=pos.reindex(owners["parcel_id"].to_numpy()).to_numpy())
    return o.assign(first=o.groupby("key")["pos"].transform("min"))


def _fix_edge_deposits(
    table: gpd.GeoDataFrame, owners: pd.DataFrame, parcels: gpd.GeoDataFrame, data: RegionData
) -> gpd.GeoDataFrame:
    """Recount the sites of parcels that claimed a site owned by a parcel of another tile.

    A site on an edge shared by parcels of two tiles is "inside" in both tiles; globally it
    belongs to the first parcel (in parcel order) only.
    """
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


def _finish_deposits(
    data: RegionData, config: Config, owners: pd.DataFrame, parcels: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    deposits = data.deposits
    assert deposits is not None
    w = deposit_weights(deposits, data.vocabulary, config.value)
    owner = np.full(len(deposits), -1, dtype=np.int64)
    if len(owners):
        first = (
            _global_owner(owners, parcels).groupby("key")["pos"].min()
        )  # a site on a tile edge: first parcel
        owner[first.index.to_numpy(dtype=np.int64)] = first.to_numpy(dtype=np.int64)
    ids = parcels["parcel_id"].to_numpy()
    return deposits.assign(
        weight=w["weight"].to_numpy(),
        group=w["group"].to_numpy(),
        critical=w["critical"].to_numpy(),
        parcel_id=np.where(owner >= 0, ids[np.maximum(owner, 0)], None),
    )


# --------------------------------------------------------------------------------------
# Streamed (bounded-memory) ranking
# --------------------------------------------------------------------------------------


@dataclass
class StreamedRank:
    """Summary of a streamed ranking; the ranked parcels are in ``path`` (GeoParquet dataset)."""

    path: Path
    n_parcels: int
    n_ranked: int
    weights: Any
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def read(self, **kwargs: Any) -> gpd.GeoDataFrame:
        """Read the ranked parcels (all tiles; excluded parcels have a null rank)."""
        return gpd.read_parquet(self.path, **kwargs)


def sort_spatially(
    gdf: gpd.GeoDataFrame,
    path: str | Path,
    *,
    row_group_size: int | None = None,
    row_group_bytes: int = 1 << 20,
) -> Path:
    """Write *gdf* as GeoParquet ordered along a Hilbert curve, with bbox covering columns.

    Bbox-filtered reads (``read_parquet(bbox=...)``) then touch only the row groups near
    the window.  Row groups hold *row_group_size* rows; by default as many as make about
    *row_group_bytes* of geometry (between 128 and 20,000 rows), so a layer of large
    polygons (withdrawals) is not one row group that every tile must read whole.  Row order
    changes, so give parcels ids (ranks tie-break on ``parcel_id``).
    """
    geoms = gdf.geometry.to_numpy()
    if row_group_size is None and len(geoms) == 0:
        row_group_size = 20_000
    elif row_group_size is None:
        mean_bytes = 16.0 * float(np.mean(shapely.get_num_coordinates(geoms))) + 32.0
        row_group_size = int(np.clip(row_group_bytes / mean_bytes, 128, 20_000))
    order = np.argsort(gdf.geometry.hilbert_distance(), kind="stable")
    return write_geoparquet(gdf.iloc[order], path, overwrite=True, row_group_size=row_group_size)


def _parcel_index(
    path: Path, tile_m: float
) -> tuple[list[tuple[int, tuple[float, float, float, float]]], int]:
    """Tiles of a parcel file from its bbox covering column only (no geometry read)."""
    bbox = pq.read_table(path, columns=["bbox"]).column("bbox").combine_chunks()
    b = np.column_stack([bbox.field(k).to_numpy() for k in ("xmin", "ymin", "xmax", "ymax")])
    keys = tile_keys(b, tile_m)
    order = np.argsort(keys, kind="stable")
    uniq, start = np.unique(keys[order], return_index=True)
    sb = b[order]
    lo = np.column_stack(
        [np.minimum.reduceat(sb[:, 0], start), np.minimum.reduceat(sb[:, 1], start)]
    )
    hi = np.column_stack(
        [np.maximum.reduceat(sb[:, 2], start), np.maximum.reduceat(sb[:, 3], start)]
    )
    tiles = [
        (int(k), (float(lo[i, 0]), float(lo[i, 1]), float(hi[i, 0]), float(hi[i, 1])))
        for i, k in enumerate(uniq)
    ]
    return tiles, len(keys)


def _read_tile_parcels(
    source: ParquetLayers, task: tuple[int, tuple[float, float, float, float], float]
) -> gpd.GeoDataFrame:
    key, tb, tile_m = task
    gdf = source.window("parcels", tb)
    assert gdf is not None
    mine = tile_keys(shapely.bounds(gdf.geometry.to_numpy()), tile_m) == key
    parcels = gdf.loc[mine, ["parcel_id", "geometry"]].reset_index(drop=True)
    return parcels


def _rank_streamed(
    source: ParquetLayers,
    config: Config,
    *,
    tile_km: float,
    engine: str,
    workers: int,
    scheduler: Any,
    out: Path,
    margin: float,
    timings: dict[str, float],
) -> StreamedRank:
    tile_m = tile_km * 1000.0
    t0 = time.perf_counter()
    index, n_parcels = _parcel_index(source.paths["parcels"], tile_m)
    tasks = [(key, tb, tile_m) for key, tb in index]
    timings["plan_s"] = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.parquet"):
        old.unlink()
    spill = Path(tempfile.mkdtemp(prefix="prospector-tiles-", dir=out))
    slim_cols = [
        "parcel_id",
        "value_raw",
        "dist_road_km",
        "dist_rail_km",
        "dist_power_km",
        "dist_fault_km",
        "slope_mean_deg",
        "dem_coverage",
        "land_status",
    ]
    # One pool for both passes, its workers forked now, while this process is small: forked
    # later they would map (copy-on-write) the global score table of every parcel.
    pool: ProcessPoolExecutor | None = None
    try:
        have = source.have(config)  # once: it reads the access layer's kind/class columns
        pool = _worker_pool(workers) if engine == "local" and workers > 1 else None
        t0 = time.perf_counter()
        slims: list[pd.DataFrame] = []
        n_fallback = 0
        tile_s = 0.0
        for i, res in enumerate(
            _run_tiles(
                tasks,
                lambda t: _read_tile_parcels(source, t),
                source,
                config,
                margin,
                engine=engine,
                workers=workers,
                scheduler=scheduler,
                have=have,
                pool=pool,
            )
        ):
            res.table.reset_index(drop=True).to_parquet(spill / f"tile-{i:05d}.parquet")
            slim = res.table[[c for c in slim_cols if c in res.table]].copy()
            slim["land_status"] = slim["land_status"].astype("category")
            slims.append(slim)
            n_fallback += res.n_fallback
            tile_s += res.seconds
        timings["measure_s"] = time.perf_counter() - t0
        timings["tiles_busy_s"] = tile_s  # summed over workers: compare with measure_s
        timings["fallback_parcels"] = n_fallback
        t0 = time.perf_counter()
        slim = pd.concat(slims, ignore_index=True)
        sizes = [len(s) for s in slims]
        del slims
        scores, weights = _global_scores(slim, config, have)
        del slim
        timings["score_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        bounds = np.cumsum([0, *sizes])
        jobs = [
            (i, tasks[i], scores.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True), spill, out)
            for i in range(len(sizes))
        ]
        del scores
        if pool is not None:
            n_ranked = sum(pool.map(_write_tile, jobs, [source] * len(jobs), [config] * len(jobs)))
        else:  # dask: the second pass runs here (the spill directory is local to this machine)
            n_ranked = sum(_write_tile(job, source, config) for job in jobs)
        timings["write_s"] = time.perf_counter() - t0
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        shutil.rmtree(spill, ignore_errors=True)
    notes = list(source.region.notes)
    for name, why in weights.redistributed.items():
        notes.append(f"Criterion {name!r} not used ({why}); its weight was redistributed.")
    return StreamedRank(out, n_parcels, n_ranked, weights, notes, dict(timings))


def _write_tile(
    job: tuple[int, Any, pd.DataFrame, Path, Path], source: ParquetLayers, config: Config
) -> int:
    """Second pass for one tile: measured columns + global scores → ranked GeoParquet part."""
    i, task, part, spill, out = job
    table = pd.read_parquet(spill / f"tile-{i:05d}.parquet")
    parcels = _read_tile_parcels(source, task)
    ranked = _finish_tile(table, part, parcels, config)
    write_geoparquet(ranked, out / f"part-{i:05d}.parquet", overwrite=True)
    return int(ranked["rank"].notna().sum())


def _global_scores(
    slim: pd.DataFrame, config: Config, have: dict[str, bool]
) -> tuple[pd.DataFrame, Any]:
    """Run :func:`~prospector.pipeline.global_scores` on a slim (categorical) table."""
    return _pl.global_scores(
        slim.assign(land_status=slim["land_status"].astype(object)), config, have=have
    )


def _finish_tile(
    table: pd.DataFrame, scores: pd.DataFrame, parcels: gpd.GeoDataFrame, config: Config
) -> gpd.GeoDataFrame:
    """Run the row-wise rest of :func:`~prospector.pipeline.score_parcels` for one tile."""
    geo = gpd.GeoDataFrame(table, geometry=parcels.geometry.to_numpy(), crs=parcels.crs, copy=False)
    return _pl.with_scores(geo, scores, config)


def read_streamed(path: str | Path) -> gpd.GeoDataFrame:
    """All parcels of a streamed run, ranked ones first in rank order (like ``RankResult.parcels``)."""
    gdf = gpd.read_parquet(path)
    ranked = gdf[gdf["rank"].notna()].sort_values("rank")
    rest = gdf[gdf["rank"].isna()].sort_values("parcel_id")
    return gpd.GeoDataFrame(pd.concat([ranked, rest], ignore_index=True), crs=gdf.crs)
