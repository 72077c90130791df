"""Cross-validation of one fold scheme: sites prepared once, each fold scored again.

For each fold the held-out sites are removed from the value evidence, every parcel is
scored with the same criteria and weights, and the held-out sites are located in the
ranked parcels; see :mod:`prospector.analysis.validate` for the method.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector.analysis.criteria import build_criteria
from prospector.analysis.dedupe import dedupe_sites
from prospector.analysis.folds import block_folds, check_folds, random_folds
from prospector.analysis.rates import PredictionRate, area_positions
from prospector.analysis.score import combine
from prospector.analysis.validate_model import Scorer, training_cells
from prospector.analysis.value import deposit_weights, deposits_in_parcels, parcel_value
from prospector.config import Config, ValueConfig
from prospector.errors import ConfigError
from prospector.schema.commodities import CommodityVocabulary, resolve_focus

__all__ = [
    "CrossValidation",
    "EvaluateOn",
    "PreparedSites",
    "Scheme",
    "Targets",
    "cross_validate",
    "prepare_sites",
    "run_folds",
    "score_parcels",
    "training_value",
    "uses_value",
]

Scheme = Literal["spatial", "random"]
Targets = Literal["commodity", "critical", "all"]
EvaluateOn = Literal["fold", "region"]

_MEASURED = (
    "value_raw", "dist_road_km", "dist_rail_km", "dist_power_km", "dist_fault_km",
    "slope_mean_deg", "dem_coverage",
)  # fmt: skip


def training_value(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    weights: pd.DataFrame,
    train: np.ndarray,
    config: ValueConfig,
) -> pd.Series:
    """Kernel value per parcel from the training sites only (``value_raw``).

    Held-out sites (``train`` False) are not passed to the kernel at all, so they cannot
    contribute to the value of any parcel.
    """
    train = np.asarray(train, dtype=bool)
    value = parcel_value(parcels, deposits[train], weights[train], config)
    return value["value_raw"]


@dataclass(frozen=True)
class CrossValidation:
    """Pooled prediction rate of one fold scheme, with per-fold detail."""

    scheme: str
    rate: PredictionRate
    folds: pd.DataFrame
    """``fold, n_train_sites, n_targets, area_km2, auc, capture_0.1`` per fold."""

    def summary(self) -> dict[str, Any]:
        """Pooled AUC and capture, plus the per-fold table as records."""
        out = self.rate.summary()
        out["folds"] = self.folds.to_dict(orient="records")
        return out


@dataclass
class PreparedSites:
    """Everything about the sites that does not depend on the weights."""

    parcels: gpd.GeoDataFrame
    measured: pd.DataFrame
    deposits: gpd.GeoDataFrame
    site_weights: pd.DataFrame
    owner: np.ndarray
    target: np.ndarray
    learn: np.ndarray
    """Sites a model may learn from (targets, wherever their parcel's status)."""
    eligible: np.ndarray
    area: np.ndarray
    have: dict[str, bool]
    value_cache: dict[tuple[str, int, float], pd.Series] = dataclasses.field(default_factory=dict)


def prepare_sites(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    vocabulary: CommodityVocabulary,
    config: Config,
    *,
    have: dict[str, bool],
    eligible: pd.Series | np.ndarray | None,
    targets: Targets,
) -> PreparedSites:
    """Deduplicate the sites, weigh them, find their parcels and mark the targets.

    Done once per report: nothing here depends on the weights or the folds.
    """
    if targets not in ("commodity", "critical", "all"):
        raise ConfigError(f"targets must be one of commodity, critical, all; got {targets!r}.")
    parcels = parcels.reset_index(drop=True)
    # Records of one deposit from several sources become one site before any fold is
    # dealt, so twins cannot land on both sides of a split.
    deposits = dedupe_sites(deposits.reset_index(drop=True), distance_m=config.value.dedupe_m)
    site_weights = deposit_weights(deposits, vocabulary, config.value)
    _, owner = deposits_in_parcels(parcels, deposits, vocabulary)
    mask = (
        np.ones(len(parcels), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    )
    if targets == "commodity":
        is_target = deposits["commodities"].map(len).to_numpy() > 0
    elif targets == "critical":
        is_target = site_weights["critical"].to_numpy(dtype=bool)
    else:
        is_target = np.ones(len(deposits), dtype=bool)
    focus = resolve_focus(
        config.value.focus_commodities, config.value.focus_groups, vocabulary=vocabulary
    )
    if focus and targets != "all":
        # With a commodity focus, the targets are the sites of the focus commodities.
        is_target &= (
            deposits["commodities"].map(lambda cs: not focus.isdisjoint(cs)).to_numpy(dtype=bool)
        )
    in_ranked = np.zeros(len(deposits), dtype=bool)
    in_ranked[owner >= 0] = mask[owner[owner >= 0]]
    area = (
        parcels["area_km2"].to_numpy(dtype=float)
        if "area_km2" in parcels
        else parcels.geometry.area.to_numpy() / 1e6
    )
    # Evidence rasters (ev_<name>_mean) are criteria too.
    wanted = [*_MEASURED, *(c for c in parcels.columns if re.fullmatch(r"ev_.+_mean", str(c)))]
    measured = pd.DataFrame({c: parcels[c] for c in wanted if c in parcels}, index=parcels.index)
    if "value_raw" not in measured:  # only read when the value criterion is unused
        measured["value_raw"] = 0.0
    return PreparedSites(
        parcels=parcels,
        measured=measured,
        deposits=deposits,
        site_weights=site_weights,
        owner=owner,
        target=is_target & in_ranked,
        learn=is_target,
        eligible=mask,
        area=area,
        have=dict(have),
    )


def score_parcels(prep: PreparedSites, config: Config, value_raw: pd.Series | None) -> np.ndarray:
    """Score every parcel with *config*'s criteria and weights (*value_raw* replaces the value)."""
    table = prep.measured if value_raw is None else prep.measured.assign(value_raw=value_raw)
    try:
        criteria, weights = build_criteria(table, config, have=prep.have)
    except ValueError as exc:
        raise ConfigError(
            f"cannot score with weights {config.score.family_weights()}: {exc}"
        ) from exc
    score, _ = combine(
        criteria,
        weights.effective,
        method=config.score.method,
        gamma=config.score.gamma,
    )
    return score.to_numpy()


def _near(deposits: gpd.GeoDataFrame, parcels: gpd.GeoDataFrame, distance_m: float) -> np.ndarray:
    """Sites within *distance_m* of any of *parcels*."""
    near = np.zeros(len(deposits), dtype=bool)
    if len(deposits) and len(parcels):
        tree = shapely.STRtree(parcels.geometry.to_numpy())
        hit, _ = tree.query(deposits.geometry.to_numpy(), predicate="dwithin", distance=distance_m)
        near[hit] = True
    return near


def uses_value(config: Config, have: dict[str, bool]) -> bool:
    """Whether the configured score reads the deposit value (so folds must rebuild it)."""
    return bool(have.get("deposits")) and config.score.family_weights().get("value", 0.0) > 0


def run_folds(
    prep: PreparedSites,
    config: Config,
    *,
    scheme: Scheme,
    parcel_fold: np.ndarray | None,
    deposit_fold: np.ndarray,
    n_folds: int,
    buffer_km: float = 0.0,
    evaluate_on: EvaluateOn = "fold",
    scorer: Scorer | None = None,
) -> CrossValidation:
    """Score each fold without its held-out sites and pool the folds' prediction rates.

    With *scorer* (a learned model or baseline) the fold's scores come from it instead of
    the configured criteria.
    """
    rebuild_value = uses_value(config, prep.have) and scorer is None
    parts = []
    rows = []
    for k in range(n_folds):
        held_out = deposit_fold == k
        fold_area = prep.eligible if parcel_fold is None else prep.eligible & (parcel_fold == k)
        train = ~held_out
        if buffer_km > 0 and parcel_fold is not None:
            train &= ~_near(prep.deposits, prep.parcels[fold_area], buffer_km * 1000.0)
        value = None
        if scorer is not None:
            held_cells = (
                np.zeros(len(prep.parcels), dtype=bool) if parcel_fold is None else parcel_fold == k
            )
            cells = training_cells(prep.parcels, held_cells, buffer_km)
            score = np.asarray(scorer(train, cells), dtype=float)
        elif rebuild_value:
            key = (scheme, k, buffer_km)
            if key not in prep.value_cache:
                prep.value_cache[key] = training_value(
                    prep.parcels, prep.deposits, prep.site_weights, train, config.value
                )
            value = prep.value_cache[key]
        if scorer is None:
            score = score_parcels(prep, config, value)
        evaluate = prep.eligible if evaluate_on == "region" else fold_area
        lo, hi = area_positions(score, prep.area, evaluate) if evaluate.any() else (None, None)
        targets = held_out & prep.target
        if lo is None or hi is None:
            rate = PredictionRate(np.zeros(0), np.zeros(0))
        else:
            where = prep.owner[targets]
            rate = PredictionRate(lo[where], hi[where])
        parts.append(rate)
        rows.append(
            {
                "fold": k,
                "n_train_sites": int(train.sum()),
                "n_targets": rate.n_targets,
                "area_km2": float(prep.area[evaluate].sum()),
                "auc": rate.auc,
                "capture_0.1": float(rate.capture(0.1)),
            }
        )
    return CrossValidation(scheme, PredictionRate.pool(parts), pd.DataFrame(rows))


def cross_validate(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    vocabulary: CommodityVocabulary,
    config: Config,
    *,
    have: dict[str, bool],
    eligible: pd.Series | np.ndarray | None = None,
    scheme: Scheme = "spatial",
    block_km: float = 25.0,
    n_folds: int = 5,
    seed: int = 0,
    targets: Targets = "commodity",
    buffer_km: float = 0.0,
    evaluate_on: EvaluateOn = "fold",
) -> CrossValidation:
    """Cross-validate a ranking against held-out known sites.

    Parameters
    ----------
    parcels
        Parcels with their measured columns (``value_raw``, ``dist_*_km``, ...,
        ``area_km2``), e.g. :attr:`prospector.ranking.RankResult.all_parcels`.
    deposits
        Known sites in the canonical schema (``commodities``, ``dev_status``), in the
        parcels' CRS, e.g. ``RegionData.deposits``.
    vocabulary
        Commodity vocabulary (criticality for the list year).
    config
        Configuration: value kernel, criteria, weights and scoring method.
    have
        Which criterion inputs exist (see :attr:`prospector.ranking.RankResult.available`).
    eligible
        Parcels that are ranked (default all); the others are not part of the area and
        sites inside them are not targets.
    scheme
        ``spatial`` (block folds) or ``random`` (site folds).
    block_km, n_folds, seed
        Block side, number of folds and seed of the fold assignment.
    targets
        Which sites are held-out targets: ``commodity`` (at least one commodity; default),
        ``critical`` (at least one critical commodity) or ``all``.
    buffer_km
        Spatial scheme only: also drop from training every site within this distance of the
        fold's ranked parcels (a dead zone; at or beyond the value-kernel radius no training
        site reaches a held-out parcel).
    evaluate_on
        Spatial scheme only: rank each fold's held-out sites among the fold's own parcels
        (``fold``, default) or among all ranked parcels (``region``; biased low, because the
        top of the ranking is then the training sites' surroundings, which hold no targets).

    Returns
    -------
    CrossValidation
    """
    prep = prepare_sites(
        parcels, deposits, vocabulary, config, have=have, eligible=eligible, targets=targets
    )
    check_folds(block_km, n_folds, buffer_km, evaluate_on)
    if scheme == "spatial":
        parcel_fold, deposit_fold = block_folds(
            prep.parcels, prep.deposits, prep.owner, block_km=block_km, n_folds=n_folds, seed=seed
        )
    elif scheme == "random":
        parcel_fold, deposit_fold = (
            None,
            random_folds(len(prep.deposits), n_folds=n_folds, seed=seed),
        )
    else:
        raise ConfigError(f"scheme must be 'spatial' or 'random'; got {scheme!r}.")
    return run_folds(
        prep, config, scheme=scheme, parcel_fold=parcel_fold, deposit_fold=deposit_fold,
        n_folds=n_folds, buffer_km=buffer_km, evaluate_on=evaluate_on,
    )  # fmt: skip
