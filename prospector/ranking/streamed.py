"""The streamed runner: rank a file-backed region with bounded memory.

Nothing holds every parcel's geometry: each tile reads its parcels and layer windows from
spatially sorted GeoParquet (bbox covering columns), its measurements are spilled to
GeoParquet, the global scoring runs on a slim numeric table (:func:`~prospector.ranking.steps.scoring_columns`), and
a second pass writes the ranked tiles as a GeoParquet dataset (``part-NNNNN.parquet``).
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from prospector.analysis.dedupe import dedupe_sites
from prospector.analysis.targets import TARGET_CELL_COLUMNS, find_targets, target_cell_count
from prospector.config import Config
from prospector.export.geoparquet import write_geoparquet
from prospector.ranking.assemble import global_scores, redistribution_notes, with_scores
from prospector.ranking.executors import make_executor
from prospector.ranking.rasters import RasterGrid, prepare_rasters
from prospector.ranking.result import RankResult
from prospector.ranking.sites import focus_notes
from prospector.ranking.sources import (
    ParquetLayers,
    access_features,
    available_inputs,
    missing_inputs,
    sort_spatially,
)
from prospector.ranking.steps import scoring_columns
from prospector.ranking.tiles import Tile, TileContext, measure_task, read_tile_parcels, tile_keys

__all__ = ["parcel_tiles", "rank_streamed", "streamed_targets"]


def parcel_tiles(path: Path, tile_m: float) -> tuple[list[Tile], int]:
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
        Tile(int(k), (float(lo[i, 0]), float(lo[i, 1]), float(hi[i, 0]), float(hi[i, 1])), tile_m)
        for i, k in enumerate(uniq)
    ]
    return tiles, len(keys)


def rank_streamed(
    source: ParquetLayers,
    config: Config,
    *,
    out: Path,
    tile_km: float,
    executor: str,
    workers: int,
    scheduler: Any,
    access_margin_m: float,
    timings: dict[str, float],
    rasters: list[RasterGrid] | None = None,
) -> RankResult:
    """Rank *source* tile by tile into the GeoParquet dataset *out* (see the module doc).

    *rasters* are the prepared grids (read here from ``source.rasters`` when None).
    """
    tile_m = tile_km * 1000.0
    t0 = time.perf_counter()
    tiles, n_parcels = parcel_tiles(source.paths["parcels"], tile_m)
    timings["plan_s"] = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("part-*.parquet"):
        old.unlink()
    spill = Path(tempfile.mkdtemp(prefix="prospector-tiles-", dir=out))
    try:
        source = _with_sites(source, config, spill)
    except BaseException:
        shutil.rmtree(spill, ignore_errors=True)
        raise
    have = available_inputs(source, config)  # once: it reads the access layer's kind/class
    if rasters is None:
        rasters = _prepare(source, config)
    context = TileContext(source, config, access_margin_m, have, rasters)
    try:
        # One pool for both passes, its workers forked now, while this process is small:
        # forked later they would map (copy-on-write) the global score table.
        with make_executor(executor, context, workers=workers, scheduler=scheduler) as pool:
            t0 = time.perf_counter()
            slims: list[pd.DataFrame] = []
            n_fallback = 0
            tile_s = 0.0
            for i, res in enumerate(pool.map(measure_task, tiles)):
                res.table.reset_index(drop=True).to_parquet(spill / f"tile-{i:05d}.parquet")
                slim = res.table[scoring_columns(res.table.columns)].copy()
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
            scores, weights, _ = global_scores(
                slim.assign(land_status=slim["land_status"].astype(object)), config, have=have
            )
            del slim
            timings["score_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            bounds = np.cumsum([0, *sizes])
            jobs = [
                (
                    i,
                    tiles[i],
                    scores.iloc[bounds[i] : bounds[i + 1]].reset_index(drop=True),
                    spill,
                    out,
                )
                for i in range(len(sizes))
            ]
            del scores
            if executor == "local":
                n_ranked = sum(pool.map(_write_tile, jobs))
            else:  # dask: the second pass runs here (the spill folder is local to this machine)
                n_ranked = sum(_write_tile(context, job) for job in jobs)
            timings["write_s"] = time.perf_counter() - t0
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    t0 = time.perf_counter()
    targets = streamed_targets(out, config, n_ranked)
    timings["targets_s"] = time.perf_counter() - t0
    base = source.base()
    return RankResult(  # streamed: the parcels are read from the dataset when asked for
        data=base,
        config=config,
        weights=weights,
        notes=[*source.region.notes, *focus_notes(base, config), *redistribution_notes(weights)],
        targets=targets,
        available=have,
        missing=missing_inputs(source, config),
        dataset=out,
        counts=(n_parcels, n_ranked),
        timings=dict(timings),
    )


def _with_sites(source: ParquetLayers, config: Config, folder: Path) -> ParquetLayers:
    """*source* with its deposit records de-duplicated into sites (``value.dedupe_m``).

    The same step as an in-memory run (:func:`~prospector.ranking.with_sites`): the deposit
    file is read whole (points: small beside the parcels), merged, and written spatially
    sorted into *folder*.  Files that already hold sites (``n_sources``) are used as they are.
    """
    path = source.paths.get("deposits")
    if path is None or config.value.dedupe_m <= 0:
        return source
    if "n_sources" in pq.read_schema(path).names:
        return source
    records = gpd.read_parquet(path).set_crs(source.crs, allow_override=True)
    sites = dedupe_sites(records, distance_m=config.value.dedupe_m)
    paths = {**source.paths, "deposits": sort_spatially(sites, folder / "sites.parquet")}
    return dataclasses.replace(source, paths=paths)


def streamed_targets(out: Path, config: Config, n_ranked: int) -> gpd.GeoDataFrame:
    """Targets of a streamed run, read from its dataset without loading every parcel.

    Only the :func:`~prospector.analysis.targets.target_cell_count` best ranked parcels can
    be target cells, so only the rows with a rank up to that count are read (a filter on
    the ``rank`` column), with the columns :func:`~prospector.analysis.targets.find_targets`
    summarises: the same targets as an in-memory run of the same parcels.
    """
    keep = target_cell_count(n_ranked, config.targets)
    parts = sorted(out.glob("part-*.parquet"))
    if not parts:  # no parcel at all: an empty table of targets
        empty = gpd.GeoDataFrame({"parcel_id": [], "rank": [], "score": []}, geometry=[])
        return find_targets(empty, config.targets, n_ranked=0)
    names = set(pq.read_schema(parts[0]).names)
    wanted = [c for c in (*TARGET_CELL_COLUMNS, "geometry") if c in names]
    frames = [gpd.read_parquet(p, columns=wanted, filters=[("rank", "<=", keep)]) for p in parts]
    best = pd.concat(frames, ignore_index=True).sort_values("rank", kind="stable")
    best = gpd.GeoDataFrame(best.reset_index(drop=True), crs=frames[0].crs)
    return find_targets(best, config.targets, n_ranked=n_ranked)


def _write_tile(context: TileContext, job: tuple[int, Tile, pd.DataFrame, Path, Path]) -> int:
    """Second pass for one tile: measured columns + global scores → ranked GeoParquet part."""
    i, tile, scores, spill, out = job
    assert isinstance(context.source, ParquetLayers)
    table = pd.read_parquet(spill / f"tile-{i:05d}.parquet")
    parcels = read_tile_parcels(context.source, tile)
    measured = gpd.GeoDataFrame(
        table, geometry=parcels.geometry.to_numpy(), crs=parcels.crs, copy=False
    )
    ranked = with_scores(measured, scores, context.config)
    write_geoparquet(ranked, out / f"part-{i:05d}.parquet", overwrite=True)
    return int(ranked["rank"].notna().sum())


def _prepare(source: ParquetLayers, config: Config) -> list[RasterGrid]:
    """Read the source's rasters once (roads read whole only when a DEM needs them)."""
    if not source.rasters:
        return []
    roads = None
    if config.access.travel_cost and source.has("access"):
        access = gpd.read_parquet(source.paths["access"]).set_crs(source.crs, allow_override=True)
        roads = access_features(access, config, "road")
    return prepare_rasters(source.rasters, config, roads=roads)
