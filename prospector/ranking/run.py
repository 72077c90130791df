"""The one entry point of a ranking run: :func:`rank`.

Engines
    ``memory``  one pass over every parcel in this process (threads inside each step).
    ``local``   the same measurements tile by tile (:mod:`prospector.ranking.tiles`) on
                ``workers`` forked processes; results identical to ``memory``.
    ``dask``    tiles on dask.distributed (:mod:`prospector.ranking.executors`).
    ``stream``  bounded memory (:mod:`prospector.ranking.streamed`): layers on disk as
                GeoParquet, ranked tiles written to a GeoParquet dataset in ``out``.
    ``auto``    ``memory``, unless the estimated working set would not fit comfortably in
                the memory available now: then ``stream``.

File-backed layers (:class:`~prospector.ranking.ParquetLayers`) are always streamed, on
local processes or, with ``engine="dask"``, on a cluster.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd

from prospector._runtime import malloc_arrow_pool, release_memory
from prospector._util import available_memory_bytes
from prospector.catalog import Region
from prospector.config import Config, load_config
from prospector.ingest import RegionData, load_region_data
from prospector.ranking.assemble import finish
from prospector.ranking.executors import make_executor
from prospector.ranking.prospect import check_engine
from prospector.ranking.result import RankResult
from prospector.ranking.sites import with_sites
from prospector.ranking.sources import (
    LayerSource,
    MemoryLayers,
    ParquetLayers,
    available_inputs,
    sort_spatially,
)
from prospector.ranking.steps import (
    empty_deposits,
    make_parcels,
    measure_parcels,
    prepare,
)
from prospector.ranking.streamed import rank_streamed
from prospector.ranking.tiles import (
    TileContext,
    fix_edge_deposits,
    measure_task,
    owned_deposits,
    plan_tiles,
)

__all__ = ["ENGINES", "Engine", "estimated_bytes", "rank"]

_log = logging.getLogger(__name__)

Engine = Literal["auto", "memory", "local", "dask", "stream"]
#: The engines :func:`rank` accepts.
ENGINES: tuple[str, ...] = get_args(Engine)

#: Peak bytes per parcel of an in-memory run (measured at 1M parcels; see benchmarks/).
BYTES_PER_PARCEL = 2_500
#: Share of the available memory an in-memory run may plan to use.
_MEMORY_SHARE = 0.6


@malloc_arrow_pool()  # memory freed between a run's steps goes back (_runtime)
def rank(
    region_or_data: Region | RegionData | LayerSource | str | Path,
    config: Config | dict[str, Any] | str | Path | None = None,
    *,
    engine: Engine = "auto",
    workers: int | None = None,
    tile_km: float = 150.0,
    scheduler: Any = None,
    out: str | Path | None = None,
    access_margin_km: float = 25.0,
    timings: dict[str, float] | None = None,
) -> RankResult:
    """Rank the parcels of a region.

    Parameters
    ----------
    region_or_data
        A region name (``layers/regions/NAME.toml``), a region file path, a loaded
        :class:`~prospector.catalog.Region`, loaded :class:`~prospector.ingest.RegionData`,
        or file-backed :class:`~prospector.ranking.ParquetLayers`.
    config
        A :class:`~prospector.config.Config`, a dict or TOML path for
        :func:`~prospector.config.load_config`, or None for defaults.
    engine
        ``"auto"``, ``"memory"``, ``"local"``, ``"dask"`` or ``"stream"`` (module doc).
    workers
        Worker processes of the tiled engines (default: all cores).
    tile_km
        Tile side in km of the work CRS (tiled engines).
    scheduler
        ``engine="dask"``: a scheduler address (``"tcp://host:8786"``), a
        ``distributed.Client``, or None (the current client, else a LocalCluster).
    out
        Folder of a streamed run's GeoParquet dataset (default for ``auto``/``stream`` on
        in-memory data: a new temporary folder, see ``RankResult.dataset``).
    access_margin_km
        Window margin for nearest-feature distances of the tiled engines (any value gives
        the same results; it only moves work between the first and the fallback search).
    timings
        A dict filled with seconds per stage.

    Returns
    -------
    RankResult
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    if scheduler is not None and engine != "dask":
        raise ValueError("a dask scheduler needs engine='dask'")
    if not isinstance(config, Config):
        config = load_config(config)
    workers = workers or os.cpu_count() or 1
    margin_m = access_margin_km * 1000.0
    timings = timings if timings is not None else {}
    if isinstance(region_or_data, ParquetLayers):
        check_engine(config, "stream")
        if engine == "memory":
            raise ValueError("file-backed layers are ranked streamed: use engine='auto'")
        if out is None:
            raise ValueError("ParquetLayers need `out`: the streamed result is written there")
        return rank_streamed(
            region_or_data,
            config,
            out=Path(out),
            tile_km=tile_km,
            executor="dask" if engine == "dask" else "local",
            workers=workers,
            scheduler=scheduler,
            access_margin_m=margin_m,
            timings=timings,
        )
    if isinstance(region_or_data, RegionData):
        data = region_or_data
    else:
        _log.info("reading the region's layers")
        data = load_region_data(region_or_data, config)  # type: ignore[arg-type]
    data = with_sites(data, config)
    # Hand back what reading the layers and merging the sites freed (Arrow's pool, glibc's
    # free lists) before the run's own peak: at 1M parcels about 0.2 GB.
    release_memory()
    if engine == "auto":
        engine = "stream" if estimated_bytes(data, config) > _available_bytes() else "memory"
    check_engine(config, engine)
    _log.info("making parcels")
    t0 = time.perf_counter()
    parcels = make_parcels(data, config, engine="memory" if engine == "memory" else "streamed")
    timings["plan_s"] = time.perf_counter() - t0
    _log.info("measuring %s parcels (%s engine)", f"{len(parcels):,}", engine)
    if engine == "memory":
        t0 = time.perf_counter()
        table, deposits = measure_parcels(parcels, data, config)
        del parcels
        release_memory()
        timings["measure_s"] = time.perf_counter() - t0
        _log.info("scoring and ranking")
        t0 = time.perf_counter()
        result = finish(table, deposits, data, config, consume=True)
        timings["finish_s"] = time.perf_counter() - t0
        result.timings = dict(timings)
        return result
    if engine == "stream":
        return _stream_memory(data, parcels, config, out, tile_km, workers, margin_m, timings)
    return _rank_tiled(
        data, parcels, config, engine, tile_km, workers, scheduler, margin_m, timings
    )


def estimated_bytes(data: RegionData, config: Config) -> int:
    """Estimated peak memory of an in-memory run of *data* (parcels × measured per-parcel)."""
    if data.parcels is not None:
        n = len(data.parcels)
    else:
        area = float(data.boundary.geometry.area.sum())
        n = int(area / (config.parcels.cell_m**2)) + 1
    return n * BYTES_PER_PARCEL


def _available_bytes() -> int:
    """Memory an in-memory run may plan to use: a share of what is available now."""
    available = available_memory_bytes()
    return 1 << 62 if available is None else int(available * _MEMORY_SHARE)


def _rank_tiled(
    data: RegionData,
    parcels: gpd.GeoDataFrame,
    config: Config,
    executor: str,
    tile_km: float,
    workers: int,
    scheduler: Any,
    margin_m: float,
    timings: dict[str, float],
) -> RankResult:
    """Measure in-memory parcels tile by tile, then finish as one pass does."""
    t0 = time.perf_counter()
    tiles = plan_tiles(parcels, tile_km)
    # Deposits carry their row so tiles can say which site each parcel holds.
    if data.deposits is not None:
        rows = np.arange(len(data.deposits))
        source = MemoryLayers(dataclasses.replace(data, deposits=data.deposits.assign(_row=rows)))
    else:
        source = MemoryLayers(data)
    have = available_inputs(source, config)
    context = TileContext(source, config, margin_m, have, prepare(data, config), parcels)
    timings["plan_s"] += time.perf_counter() - t0
    t0 = time.perf_counter()
    parts: list[pd.DataFrame] = []
    owner_parts: list[pd.DataFrame] = []
    n_fallback = 0
    with make_executor(executor, context, workers=workers, scheduler=scheduler) as pool:
        for positions, res in zip(tiles, pool.map(measure_task, tiles), strict=True):
            res.table.index = positions
            parts.append(res.table)
            owner_parts.append(res.owners)
            n_fallback += res.n_fallback
    timings["measure_s"] = time.perf_counter() - t0
    timings["fallback_parcels"] = n_fallback
    t0 = time.perf_counter()
    measured_cols = [c for c in (parts[0].columns if parts else []) if c not in parcels.columns]
    measured = pd.concat(parts).sort_index() if parts else pd.DataFrame(index=pd.RangeIndex(0))
    del parts  # free the per-tile copies before the global step
    measured = measured.drop(columns="parcel_id")
    measured.insert(0, "parcel_id", parcels["parcel_id"].to_numpy())
    measured["geometry"] = parcels.geometry.to_numpy()
    columns = [*parcels.columns, *measured_cols]
    table = gpd.GeoDataFrame(measured[columns], geometry="geometry", crs=parcels.crs)
    del measured
    owners = (
        pd.concat(owner_parts, ignore_index=True)
        if owner_parts
        else pd.DataFrame(columns=["key", "parcel_id"])
    )
    if data.deposits is None:
        deposits = empty_deposits(data.crs)
    else:
        if len(owners):
            table = fix_edge_deposits(table, owners, parcels, data)
        deposits = owned_deposits(data, config, owners, parcels)
    result = finish(table, deposits, data, config, have=have, consume=True)
    timings["finish_s"] = time.perf_counter() - t0
    result.timings = dict(timings)
    return result


def _stream_memory(
    data: RegionData,
    parcels: gpd.GeoDataFrame,
    config: Config,
    out: str | Path | None,
    tile_km: float,
    workers: int,
    margin_m: float,
    timings: dict[str, float],
) -> RankResult:
    """Stream in-memory data: its layers spilled to sorted GeoParquet, then :func:`rank_streamed`."""
    out_dir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="prospector-rank-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    layers = Path(tempfile.mkdtemp(prefix="prospector-layers-", dir=out_dir))
    try:
        paths = {"parcels": sort_spatially(parcels, layers / "parcels.parquet")}
        del parcels
        for role in ("deposits", "land", "withdrawals", "claims", "access", "evidence"):
            layer = getattr(data, role)
            if layer is not None:
                paths[role] = sort_spatially(layer, layers / f"{role}.parquet")
        source = ParquetLayers(
            region=data.region,
            crs=data.crs,
            vocabulary=data.vocabulary,
            boundary=data.boundary,
            paths=paths,
            rasters=list(data.rasters),
        )
        timings["spill_s"] = time.perf_counter() - t0
        result = rank_streamed(
            source,
            config,
            out=out_dir,
            tile_km=tile_km,
            executor="local",
            workers=workers,
            scheduler=None,
            access_margin_m=margin_m,
            timings=timings,
            rasters=prepare(data, config),
        )
    finally:
        shutil.rmtree(layers, ignore_errors=True)
    result.data = data
    return result
