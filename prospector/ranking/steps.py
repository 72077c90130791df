"""The steps of a ranking: make parcels → measure → global scores → finish.

Each step is a public function on plain (Geo)DataFrames, so any step can be run and
inspected alone.  Measuring depends only on a parcel and the layers, never on the other
parcels, so it runs on any partition of the parcels (tiles) and the parts concatenate;
scoring needs every parcel (normalisation and ranks are global) and is cheap.
:func:`prospector.ranking.rank` composes them; nothing else does.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from prospector._runtime import n_threads, release_memory
from prospector._util import available_memory_bytes
from prospector.analysis.access import nearest_distance_km
from prospector.analysis.criteria import build_criteria
from prospector.analysis.evidence import line_density
from prospector.analysis.explain import explain
from prospector.analysis.index import ParcelIndex
from prospector.analysis.land import land_status
from prospector.analysis.parcels import (
    check_run_size,
    estimate_parcels,
    grid_parcels,
    split_parcels,
)
from prospector.analysis.score import Weights, combine, rank_scores
from prospector.analysis.targets import find_targets
from prospector.analysis.value import deposit_weights, deposits_in_parcels, parcel_value
from prospector.config import Config
from prospector.errors import ProspectorError
from prospector.ingest import RegionData
from prospector.ranking.rasters import RasterGrid, prepare_rasters, raster_columns
from prospector.ranking.result import RankResult
from prospector.ranking.sites import focus_notes
from prospector.ranking.sources import (
    MemoryLayers,
    access_features,
    available_inputs,
    missing_inputs,
)
from prospector.schema.columns import ACCESS_KINDS, PARCEL_COLUMNS
from prospector.schema.commodities import COMMODITY_GROUPS

__all__ = [
    "SCORING_COLUMNS",
    "annotate_deposits",
    "column_order",
    "empty_deposits",
    "finish",
    "global_scores",
    "make_parcels",
    "measure_parcels",
    "prepare",
    "redistribution_notes",
    "scoring_columns",
    "with_scores",
]

#: Measured columns global scoring reads (besides ``ev_<raster>_mean`` and travel cost).
SCORING_COLUMNS: tuple[str, ...] = (
    "parcel_id",
    "value_raw",
    "dist_road_km",
    "dist_rail_km",
    "dist_power_km",
    "dist_fault_km",
    "slope_mean_deg",
    "dem_coverage",
    "land_status",
)


def scoring_columns(columns: Any) -> list[str]:
    """List the measured *columns* global scoring reads.

    :data:`SCORING_COLUMNS` present, every ``ev_<raster>_mean`` and ``travel_cost_km``.
    """
    columns = list(columns)
    extra = [c for c in columns if (c.startswith("ev_") and c.endswith("_mean"))]
    extra += [c for c in columns if c == "travel_cost_km"]
    return [c for c in SCORING_COLUMNS if c in columns] + extra


#: pandas shares arrays between frames safely (copy-on-write): always from pandas 3.
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(
    getattr(pd.options.mode, "copy_on_write", False) is True
)


# --------------------------------------------------------------------------------------
# Make parcels
# --------------------------------------------------------------------------------------


def make_parcels(
    data: RegionData, config: Config, *, engine: Literal["memory", "streamed"] = "memory"
) -> gpd.GeoDataFrame:
    """Parcels to rank: the region's parcel layer (large ones split) or an aligned grid.

    The parcel count is estimated first and a run that would not fit the *engine* that
    will measure it is refused (:func:`~prospector.analysis.parcels.check_run_size`)
    before anything is built.
    """
    cell_m = config.parcels.cell_m
    given = None if data.parcels is None else data.parcels[["parcel_id", "geometry"]]
    estimate = estimate_parcels(
        data.boundary, cell_m=cell_m, shape=config.parcels.shape, parcels=given
    )
    check_run_size(
        estimate,
        max_parcels=config.parcels.max_parcels,
        available_bytes=available_memory_bytes(),
        engine=engine,
    )
    if given is not None:
        parcels = split_parcels(given, cell_m=cell_m)
    else:
        parcels = grid_parcels(
            data.boundary,
            cell_m=cell_m,
            min_area_m2=config.parcels.min_sliver_m2,
            shape=config.parcels.shape,
        )
    return parcels.reset_index(drop=True)


# --------------------------------------------------------------------------------------
# Measure
# --------------------------------------------------------------------------------------


def prepare(data: RegionData, config: Config) -> list[RasterGrid]:
    """Compute what a run needs once for all parcels: the rasters, slope and travel cost."""
    roads = access_features(data.access, config, "road")
    return prepare_rasters(data.rasters, config, roads=roads)


def measure_parcels(
    parcels: gpd.GeoDataFrame,
    data: RegionData,
    config: Config,
    *,
    rasters: list[RasterGrid] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Measure every parcel: land status, deposit value, distances, raster summaries.

    Parameters
    ----------
    parcels
        Parcels (``parcel_id``, geometry) in the work CRS.
    data
        The layers (whole, or the windows a tile needs).
    config
        Run configuration.
    rasters
        Grids from :func:`prepare` (made here when None).

    Returns
    -------
    (geopandas.GeoDataFrame, geopandas.GeoDataFrame)
        The parcels with their measured columns, and the deposits annotated with their
        ``weight``, ``group``, ``critical`` and the ``parcel_id`` holding them.
    """
    parcels = parcels.reset_index(drop=True)
    grids = prepare(data, config) if rasters is None else rasters
    index = ParcelIndex.of(parcels.geometry.to_numpy())

    def land() -> pd.DataFrame:
        return land_status(
            parcels,
            land=data.land,
            withdrawals=data.withdrawals,
            claims=data.claims,
            min_sliver_m2=config.parcels.min_sliver_m2,
            open_agencies=config.open_agencies,
            index=index,
        )

    # The families of measurements are independent: run them in two lanes side by side.
    # Much of each is GEOS or numpy work that releases the GIL, so the Python-bound
    # stretches of one lane overlap the native work of the other; two lanes rather than
    # four threads keep the families' temporaries from stacking (1M parcels on 2 cores:
    # the same time, peak 0.35 GB lower).
    lanes: list[list[Callable[[], Any]]] = [
        [land, lambda: raster_columns(parcels, grids)],
        [
            lambda: _deposit_columns(parcels, index, data, config),
            lambda: _distance_columns(parcels, index, data, config),
        ],
    ]
    if n_threads() > 1:
        with ThreadPoolExecutor(len(lanes)) as pool:
            (status, summaries), ((by_deposits, deposits), distances) = pool.map(_lane, lanes)
    else:
        (status, summaries), ((by_deposits, deposits), distances) = (
            [job() for job in lane] for lane in lanes
        )
    table = pd.concat([parcels, status, by_deposits, distances, summaries], axis=1)
    if "slope_mean_deg" not in table:
        table["slope_mean_deg"] = np.nan
    return gpd.GeoDataFrame(table, geometry="geometry", crs=parcels.crs, copy=False), deposits


def _lane(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run *jobs* in turn, handing the memory each freed back to the system after it.

    A lane runs on its own thread, so its garbage sits in its own malloc arena where the
    other lane cannot reuse it; returned at once, it does not add to the other's peak.
    """
    out = []
    for job in jobs:
        out.append(job())
        release_memory()
    return out


def empty_deposits(crs: Any) -> gpd.GeoDataFrame:
    """Return the deposits of a region without a deposit layer: no rows, the canonical columns."""
    return gpd.GeoDataFrame(
        {"site_id": [], "name": [], "commodities": [], "dev_status": [], "source": []},
        geometry=[],
        crs=crs,
    )


def annotate_deposits(
    deposits: gpd.GeoDataFrame, weights: pd.DataFrame, owner: np.ndarray, parcel_ids: np.ndarray
) -> gpd.GeoDataFrame:
    """Deposits with their weights, significance and holding ``parcel_id``.

    Adds ``weight``, ``significance``, ``basis``, ``group``, ``critical`` and ``parcel_id``.

    *weights* is :func:`~prospector.analysis.value.deposit_weights`' table; *owner* the
    position in *parcel_ids* of the parcel holding each deposit (-1: none).
    """
    return deposits.assign(
        weight=weights["weight"].to_numpy(),
        significance=weights["significance"].to_numpy(),
        basis=weights["basis"].to_numpy(),
        group=weights["group"].to_numpy(),
        critical=weights["critical"].to_numpy(),
        parcel_id=np.where(owner >= 0, parcel_ids[np.maximum(owner, 0)], None),
    )


def _deposit_columns(
    parcels: gpd.GeoDataFrame, index: ParcelIndex, data: RegionData, config: Config
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Deposit value and the sites inside each parcel; the deposits annotated."""
    deposits = data.deposits
    out = pd.DataFrame(index=parcels.index)
    if deposits is None:
        out["value_raw"] = 0.0
        for g in COMMODITY_GROUPS:
            out[f"value_{g}"] = 0.0
        out["value_site"] = ""
        out["value_basis"] = ""
        out["n_deposits"] = 0
        out["n_critical_deposits"] = 0
        out["commodities"] = ""
        out["critical_commodities"] = ""
        return out, empty_deposits(data.crs)
    weights_d = deposit_weights(deposits, data.vocabulary, config.value)
    value = parcel_value(parcels, deposits, weights_d, config.value, index=index)
    inside, owner = deposits_in_parcels(
        parcels,
        deposits,
        data.vocabulary,
        index=index,
        critical=weights_d["critical"].to_numpy(),
    )
    deposits = annotate_deposits(deposits, weights_d, owner, parcels["parcel_id"].to_numpy())
    return pd.concat([value, inside], axis=1), deposits


def _distance_columns(
    parcels: gpd.GeoDataFrame, index: ParcelIndex, data: RegionData, config: Config
) -> pd.DataFrame:
    """Distances to access features and faults, and fault density."""
    out = pd.DataFrame(index=parcels.index)
    for kind in ACCESS_KINDS:
        out[f"dist_{kind}_km"] = nearest_distance_km(
            parcels,
            access_features(data.access, config, kind),
            max_km=config.access.search_km,
            index=index,
        )
    out["evidence_density"] = line_density(
        parcels, data.evidence, radius_km=config.evidence.density_radius_km
    )
    out["dist_fault_km"] = nearest_distance_km(
        parcels, data.evidence, max_km=config.access.search_km, index=index
    )
    return out


# --------------------------------------------------------------------------------------
# Global scores
# --------------------------------------------------------------------------------------


def global_scores(
    table: pd.DataFrame, config: Config, *, have: dict[str, bool]
) -> tuple[pd.DataFrame, Weights, pd.DataFrame]:
    """Scores, family sub-scores, contributions and ranks of every parcel.

    The global part of scoring (normalisation and ranks need every parcel).  *table* needs
    the measured columns (:data:`SCORING_COLUMNS`, plus any ``ev_<raster>_mean`` and
    ``travel_cost_km``); *have* is :func:`~prospector.ranking.available_inputs`.

    Returns
    -------
    (pandas.DataFrame, Weights, pandas.DataFrame)
        ``score, score_value, score_access, score_evidence, contrib_*, rank`` indexed like
        *table*; the effective weights; the normalised criteria table.
    """
    criteria, weights = build_criteria(table, config, have=have)
    score, contrib = combine(
        criteria, weights.effective, method=config.score.method, gamma=config.score.gamma
    )
    out = pd.DataFrame(index=table.index)
    out["score"] = score
    out["score_value"] = criteria["value"]
    acc_cols = [
        c
        for c in ("access_road", "access_rail", "access_power", "terrain", "travel")
        if weights.effective.get(c, 0) > 0
    ]
    acc_w = np.array([weights.effective[c] for c in acc_cols])
    out["score_access"] = (criteria[acc_cols].to_numpy() @ acc_w / acc_w.sum()) if acc_cols else 0.0
    ev_cols = [
        c for c in criteria.columns if c.startswith("evidence_") and weights.effective.get(c, 0) > 0
    ]
    ev_w = np.array([weights.effective[c] for c in ev_cols])
    out["score_evidence"] = (criteria[ev_cols].to_numpy() @ ev_w / ev_w.sum()) if ev_cols else 0.0
    for c in criteria.columns:
        out[f"contrib_{c}"] = contrib.get(c, 0.0)
    eligible = _eligible(table, config.score.status)
    out["rank"] = rank_scores(out["score"], table["parcel_id"], eligible=eligible)
    return out, weights, criteria


def _eligible(table: pd.DataFrame, status: str) -> pd.Series:
    if status == "any":
        return pd.Series(True, index=table.index)
    if status == "open":
        return table["land_status"].isin(["open", "partly_open"])
    return table["land_status"] != "closed"


# --------------------------------------------------------------------------------------
# Finish
# --------------------------------------------------------------------------------------


def with_scores(
    table: gpd.GeoDataFrame,
    scores: pd.DataFrame,
    config: Config,
    *,
    rows: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Measured parcels plus their scores and ``why`` sentence, columns in canonical order.

    *scores* is indexed like *table* (the output of :func:`global_scores`, or a slice of it
    for a partition of the parcels).  With *rows* (positions), only those rows, in that
    order: the same as ``with_scores(table.take(rows), scores.take(rows), config)``, with
    each column gathered once, on parallel threads.
    """
    if not scores.index.equals(table.index):
        raise ValueError("scores must be indexed like table (same labels, same order)")
    if rows is not None:
        [taken] = _gather(_columns(table, scores), [rows])
        geometry = taken.pop(table.geometry.name)
        return _assemble(taken, geometry, table.index.take(rows), table.crs, config)
    # Whole Series, by reference: copy-on-write (pandas >= 3) keeps the result and the
    # inputs apart; older pandas would share the arrays, so copy there.
    names = [c for c in table.columns if c != table.geometry.name and c not in scores.columns]
    columns: dict[str, Any] = {c: table[c] for c in names} | {c: scores[c] for c in scores}
    if not _COPY_ON_WRITE:
        columns = {c: v.copy() for c, v in columns.items()}
    geometry = table.geometry.array.copy()
    return _assemble(columns, geometry, table.index, table.crs, config)


def _columns(table: gpd.GeoDataFrame, scores: pd.DataFrame) -> dict[str, Any]:
    """Return the arrays of *table*'s columns not in *scores*, then *scores*' (with geometry)."""
    names = [c for c in table.columns if c not in scores.columns]
    return {c: table[c].array for c in names} | {c: scores[c].array for c in scores}


def _gather(arrays: dict[str, Any], rows: list[np.ndarray]) -> list[dict[str, Any]]:
    """Take every array at each set of *rows*, column by column on parallel threads.

    *arrays* is emptied as the columns are gathered, so an array nobody else holds is
    freed as soon as its rows are taken.  numpy and Arrow gathers release the GIL, so they
    overlap; the gathered arrays are new: nothing is shared with the inputs.
    """
    names = list(arrays)

    def take(name: str) -> list[Any]:
        array = arrays.pop(name)
        return [array.take(r) for r in rows]

    with ThreadPoolExecutor(max(1, min(n_threads(), 4))) as pool:
        taken = list(pool.map(take, names))
    return [
        {name: parts[i] for name, parts in zip(names, taken, strict=True)} for i in range(len(rows))
    ]


def _assemble(
    columns: dict[str, Any], geometry: Any, index: pd.Index, crs: Any, config: Config
) -> gpd.GeoDataFrame:
    """Columns plus the ``why`` sentence, in canonical order, as a GeoDataFrame."""
    why = explain(pd.DataFrame(columns, index=index, copy=False), radius_km=config.value.radius_km)
    columns["why"] = why.array
    ordered = {c: columns[c] for c in column_order(list(columns))}
    return gpd.GeoDataFrame(ordered, geometry=geometry, crs=crs, index=index, copy=False)


def column_order(columns: list[str]) -> list[str]:
    """Canonical columns first (PARCEL_COLUMNS order), other measurements next, ``why`` last."""
    first = [c for c in PARCEL_COLUMNS if c in columns and c != "why"]
    rest = [c for c in columns if c not in first and c not in ("why", "geometry")]
    tail = [c for c in ("why", "geometry") if c in columns]
    return [*first, *rest, *tail]


def redistribution_notes(weights: Weights) -> list[str]:
    """One note per criterion whose weight was redistributed, saying why."""
    return [
        f"Criterion {name!r} not used ({why}); its weight was redistributed."
        for name, why in weights.redistributed.items()
    ]


def finish(
    table: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    data: RegionData,
    config: Config,
    *,
    have: dict[str, bool] | None = None,
    consume: bool = False,
) -> RankResult:
    """Score measured parcels and package the :class:`~prospector.ranking.RankResult`.

    Parameters
    ----------
    table, deposits
        The output of :func:`measure_parcels` (all parcels).
    data
        The region's layers (kept in the result for the run's outputs).
    config
        Run configuration.
    have
        :func:`~prospector.ranking.available_inputs` when already found.
    consume
        Empty *table* while its columns are gathered into the result (each is freed once
        gathered, so the measured table and the result are never both whole in memory).
    """
    source = MemoryLayers(data)
    have = available_inputs(source, config) if have is None else have
    scores, weights, criteria = global_scores(table, config, have=have)
    rank = scores["rank"].to_numpy(dtype=float, na_value=np.nan)
    eligible = np.flatnonzero(~np.isnan(rank))
    if len(eligible) == 0:
        counts = table["land_status"].value_counts().to_dict()
        raise ProspectorError(
            f"no parcel is eligible for ranking under score.status = {config.score.status!r} "
            f"(land status of the {len(table)} parcels: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            + "). 'open' needs a land-ownership layer (BLM SMA / PAD-US); use --status "
            "not_closed or any, or add the layer."
        )
    # Order first, then gather each output once (ranks are 1..N: the order is a permutation).
    ranked_rows = eligible[np.argsort(rank[eligible], kind="stable")]
    excluded_rows = np.flatnonzero(np.isnan(rank))
    crs, geometry_name = table.crs, table.geometry.name
    arrays = _columns(table, scores)
    ids = table["parcel_id"].to_numpy()
    if consume:  # the arrays are the only references left: each is freed once gathered
        for name in list(table.columns):
            del table[name]
    del scores
    ranked_cols, excluded_cols = _gather(arrays, [ranked_rows, excluded_rows])
    del excluded_cols["rank"]
    geometry = ranked_cols.pop(geometry_name)
    ranked = _assemble(ranked_cols, geometry, pd.RangeIndex(len(ranked_rows)), crs, config)
    ranked["rank"] = ranked["rank"].astype("int64")
    geometry = excluded_cols.pop(geometry_name)
    excluded = _assemble(excluded_cols, geometry, pd.RangeIndex(len(excluded_rows)), crs, config)
    criteria.index = pd.Index(ids, name="parcel_id")
    return RankResult(
        parcels=ranked,
        excluded=excluded,
        deposits=deposits,
        data=data,
        config=config,
        weights=weights,
        notes=[*data.region.notes, *focus_notes(data, config), *redistribution_notes(weights)],
        available=have,
        criteria=criteria,
        missing=missing_inputs(source, config),
        targets=find_targets(ranked, config.targets),
    )
