"""The steps of a ranking: make parcels → measure → global scores → finish.

Each step is a public function on plain (Geo)DataFrames, so any step can be run and
inspected alone.  Measuring depends only on a parcel and the layers, never on the other
parcels, so it runs on any partition of the parcels (tiles) and the parts concatenate;
scoring needs every parcel (normalisation and ranks are global) and is cheap.
This module holds the first half (make parcels, measure); the global half (global
scores, finish) is :mod:`prospector.ranking.assemble`, re-exported here.
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
from prospector.analysis.criteria import CRITERIA_COLUMNS
from prospector.analysis.evidence import line_density
from prospector.analysis.index import ParcelIndex
from prospector.analysis.land import land_status
from prospector.analysis.parcels import (
    check_run_size,
    estimate_parcels,
    grid_parcels,
    split_parcels,
)
from prospector.analysis.value import deposit_weights, deposits_in_parcels, parcel_value
from prospector.config import Config
from prospector.ingest import RegionData
from prospector.ranking.assemble import (
    column_order,
    finish,
    global_scores,
    redistribution_notes,
    with_scores,
)
from prospector.ranking.rasters import RasterGrid, prepare_rasters, raster_columns
from prospector.ranking.sources import access_features
from prospector.schema.columns import ACCESS_KINDS
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

#: Measured columns global scoring reads (besides ``ev_<raster>_mean`` and travel cost): the
#: criteria's inputs, the id and the land status that decides eligibility.
SCORING_COLUMNS: tuple[str, ...] = ("parcel_id", *CRITERIA_COLUMNS, "land_status")


def scoring_columns(columns: Any) -> list[str]:
    """List the measured *columns* global scoring reads.

    :data:`SCORING_COLUMNS` present, every ``ev_<raster>_mean`` and ``travel_cost_km``.
    """
    columns = list(columns)
    extra = [c for c in columns if (c.startswith("ev_") and c.endswith("_mean"))]
    extra += [c for c in columns if c == "travel_cost_km"]
    return [c for c in SCORING_COLUMNS if c in columns] + extra


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

    # The families of measurements are independent.  Land status and distances run side by
    # side in two lanes: much of each is GEOS or numpy work that releases the GIL, so the
    # Python-bound stretches of one lane overlap the native work of the other.  Deposit
    # value, the family with the largest temporaries (its kernel pairs and their sorts),
    # runs after them on its own, so its peak stacks on no other family's (1M parcels on 2
    # cores: peak 0.25-0.35 GB lower than beside land status; the same time within the
    # noise of a loaded machine).
    lanes: list[list[Callable[[], Any]]] = [
        [land, lambda: raster_columns(parcels, grids)],
        [lambda: _distance_columns(parcels, index, data, config)],
    ]
    if n_threads() > 1:
        with ThreadPoolExecutor(len(lanes)) as pool:
            (status, summaries), (distances,) = pool.map(_lane, lanes)
    else:
        (status, summaries), (distances,) = ([job() for job in lane] for lane in lanes)
    by_deposits, deposits = _deposit_columns(parcels, index, data, config)
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
    deposits: gpd.GeoDataFrame, weights: pd.DataFrame, owner: np.ndarray, parcel_ids: pd.Series
) -> gpd.GeoDataFrame:
    """Deposits with their weights, significance and holding ``parcel_id``.

    Adds ``weight``, ``significance``, ``basis``, ``group``, ``critical`` and ``parcel_id``.

    *weights* is :func:`~prospector.analysis.value.deposit_weights`' table; *owner* the
    position in *parcel_ids* (the parcels' id column) of the parcel holding each deposit
    (-1: none).  Only the holding parcels' ids are taken: the whole column as Python
    strings would be ~70 MB at 1M parcels.
    """
    inside = owner >= 0
    held = np.full(len(owner), None, dtype=object)
    held[inside] = parcel_ids.take(owner[inside]).to_numpy(dtype=object)
    return deposits.assign(
        weight=weights["weight"].to_numpy(),
        significance=weights["significance"].to_numpy(),
        basis=weights["basis"].to_numpy(),
        group=weights["group"].to_numpy(),
        critical=weights["critical"].to_numpy(),
        parcel_id=held,
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
    release_memory()  # the other lane runs on: give back what each step freed at once
    value = parcel_value(parcels, deposits, weights_d, config.value, index=index)
    release_memory()
    inside, owner = deposits_in_parcels(
        parcels,
        deposits,
        data.vocabulary,
        index=index,
        critical=weights_d["critical"].to_numpy(),
    )
    deposits = annotate_deposits(deposits, weights_d, owner, parcels["parcel_id"])
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
        release_memory()
    out["evidence_density"] = line_density(
        parcels, data.evidence, radius_km=config.evidence.density_radius_km
    )
    out["dist_fault_km"] = nearest_distance_km(
        parcels, data.evidence, max_km=config.access.search_km, index=index
    )
    return out
