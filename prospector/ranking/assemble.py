"""The global half of a ranking: global scores → finish.

Scoring needs every parcel (normalisation and ranks are global); finishing gathers the
measured columns and the scores into the ranked and excluded tables, in rank order, with
each parcel's ``why`` sentence.  The first half (make parcels, measure) is
:mod:`prospector.ranking.steps`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from prospector._runtime import n_threads, release_memory
from prospector.analysis.criteria import build_criteria
from prospector.analysis.explain import explain
from prospector.analysis.score import Weights, combine, rank_scores
from prospector.analysis.targets import TARGET_CELL_COLUMNS, find_targets, target_cell_count
from prospector.config import Config
from prospector.errors import ProspectorError
from prospector.ingest import RegionData
from prospector.ranking.prospect import evidence_check, prospect_notes, with_prospectivity
from prospector.ranking.result import RankResult
from prospector.ranking.sites import focus_notes
from prospector.ranking.sources import MemoryLayers, available_inputs, missing_inputs
from prospector.schema.columns import PARCEL_COLUMNS

__all__ = [
    "column_order",
    "finish",
    "global_scores",
    "redistribution_notes",
    "with_scores",
]

#: pandas shares arrays between frames safely (copy-on-write): always from pandas 3.
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(
    getattr(pd.options.mode, "copy_on_write", False) is True
)


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
        out = [array.take(r) for r in rows]
        del array
        release_memory()  # the column just gathered, if nobody else holds it
        return out

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


def _targets(
    table: gpd.GeoDataFrame, scores: pd.DataFrame, ranked_rows: np.ndarray, config: Config
) -> gpd.GeoDataFrame:
    """Return the run's targets, made from only the best rows that can be target cells.

    The same as ``find_targets(ranked, config.targets)`` on the finished ranked parcels,
    made before they are: its temporaries are freed before the result's columns are
    gathered, not left between them (1M parcels: ~40 MB less held after the run).
    """
    best = ranked_rows[: target_cell_count(len(ranked_rows), config.targets)]
    columns = {
        c: (scores if c in scores.columns else table)[c].array.take(best)
        for c in TARGET_CELL_COLUMNS
        if c in scores.columns or c in table.columns
    }
    cells = gpd.GeoDataFrame(
        columns, geometry=table.geometry.array.take(best), crs=table.crs, copy=False
    )
    cells["rank"] = cells["rank"].astype("int64")
    return find_targets(cells, config.targets, n_ranked=len(ranked_rows))


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
    card = None
    if config.score.method == "model":  # learned prospectivity (ranking/prospect.py)
        table, card = with_prospectivity(table, deposits, data, config)
    scores, weights, criteria = global_scores(table, config, have=have)
    skill = evidence_check(table, scores["rank"], criteria, weights, deposits, data, config)
    del criteria  # rebuilt on first use (RankResult.criteria): not held through the gather
    release_memory()
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
    targets = _targets(table, scores, ranked_rows, config)
    arrays = _columns(table, scores)
    if consume:  # the arrays are the only references left: each is freed once gathered
        for name in list(table.columns):
            del table[name]
    del scores
    ranked_cols, excluded_cols = _gather(arrays, [ranked_rows, excluded_rows])
    release_memory()
    del excluded_cols["rank"]
    geometry = ranked_cols.pop(geometry_name)
    ranked = _assemble(ranked_cols, geometry, pd.RangeIndex(len(ranked_rows)), crs, config)
    ranked["rank"] = ranked["rank"].astype("int64")
    geometry = excluded_cols.pop(geometry_name)
    excluded = _assemble(excluded_cols, geometry, pd.RangeIndex(len(excluded_rows)), crs, config)
    release_memory()
    result = RankResult(
        parcels=ranked,
        excluded=excluded,
        deposits=deposits,
        data=data,
        config=config,
        weights=weights,
        notes=[
            *data.region.notes,
            *focus_notes(data, config),
            *redistribution_notes(weights),
            *prospect_notes(card, skill),
        ],
        available=have,
        criteria_rows=np.concatenate([ranked_rows, excluded_rows]),
        missing=missing_inputs(source, config),
        targets=targets,
        model_card=card,
        evidence_skill=skill,
    )
    release_memory()  # what assembling the result freed: the run's outputs come next
    return result
