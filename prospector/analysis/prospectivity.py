r"""The learned prospectivity of a run, its decision score and the evidence skill check.

With ``score.method = "model"`` a ranking run scores parcels by

.. math::

    \text{score} = w_p \, N(\text{prospectivity}) + w_a \, A

where :math:`N` is the configured normalisation (``score.normalise``) of the model's
prospectivity over all parcels, :math:`A` the access criteria combined with
``score.access_weights`` (road, rail, power, terrain, travel — the same criteria as the
weighted method) and :math:`w_p, w_a` the ``model.weights`` families (default 0.75 and
0.25).  Access criteria the region lacks are dropped and their weight shared by the
rest, exactly as for the weighted method; land status decides which parcels are ranked
(``score.status``), as always.

Whatever the method, every evidence criterion is checked against the known sites:
ranking the parcels by that criterion alone, which share of the (de-duplicated) sites
lies in the top 10 % of the area?  The criterion does not depend on the sites, so
random and spatial folds give the same figure (see :mod:`prospector.analysis.validate`).
A layer below chance (10 %) points *away* from the region's deposits and is flagged.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from prospector.analysis.baselines import brownfields_features
from prospector.analysis.model import (
    evidence_features,
    fit_prospectivity,
    predict_prospectivity,
    top_reasons,
)
from prospector.analysis.rates import PredictionRate, area_positions
from prospector.analysis.score import Weights, combine, effective_weights, normalise
from prospector.config import Config

__all__ = [
    "decision_criteria",
    "decision_score",
    "evidence_skill",
    "parcel_blocks",
    "run_model",
]

_ACCESS_CRITERIA = ("access_road", "access_rail", "access_power", "terrain", "travel")


def parcel_blocks(
    parcels: gpd.GeoDataFrame, *, block_km: float, n_folds: int, seed: int
) -> np.ndarray:
    """Fold of every parcel: square blocks of *block_km* (centroids) dealt into folds."""
    block_m = block_km * 1000.0
    centre = parcels.geometry.centroid
    xy = np.floor(np.c_[centre.x.to_numpy(), centre.y.to_numpy()] / block_m).astype(np.int64)
    blocks, inverse = np.unique(xy, axis=0, return_inverse=True)
    rng = np.random.default_rng(seed)
    fold_of_block = np.empty(len(blocks), dtype=np.int64)
    fold_of_block[rng.permutation(len(blocks))] = np.arange(len(blocks)) % n_folds
    return fold_of_block[inverse.reshape(-1)]


def run_model(
    table: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    owner: np.ndarray,
    learn: np.ndarray,
    config: Config,
    *,
    eligible: np.ndarray | None = None,
    threads: int = 1,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit the prospectivity model on a run's parcels and predict every parcel.

    Parameters
    ----------
    table
        Measured parcels (``parcel_id``, evidence columns, ``area_km2``).
    sites
        De-duplicated known sites, in the parcels' CRS.
    owner
        Positional index of each site's parcel (−1: none).
    learn
        Sites the model learns from (targets of ``model.targets`` and the focus).
    config
        Run configuration (``model``, ``seed``).
    eligible
        Ranked parcels, for the model card's cross-validation (default all).
    threads
        LightGBM threads.

    Returns
    -------
    (pandas.DataFrame, dict)
        Per parcel ``prospectivity``, ``prospectivity_lo``, ``prospectivity_hi``,
        ``shap_<feature>`` and ``prospectivity_why`` (the two features that raise it
        most, in words); and the model card.
    """
    owner = np.asarray(owner)
    use = np.asarray(learn, dtype=bool) & (owner >= 0)
    positive = np.bincount(owner[use], minlength=len(table))
    features = evidence_features(table)
    if config.model.brownfields:
        extra = brownfields_features(table, sites, owner, radii_km=config.model.brownfields_km)
        features = pd.concat([features, extra], axis=1)
    blocks = parcel_blocks(
        table, block_km=config.model.block_km, n_folds=config.model.folds, seed=config.seed
    )
    model = fit_prospectivity(
        features, positive, key=table["parcel_id"].to_numpy(), config=config.model,
        seed=config.seed, blocks=blocks, threads=threads,
    )  # fmt: skip
    out = predict_prospectivity(model, features, threads=threads)
    shap = out[[c for c in out.columns if c.startswith("shap_")]]
    out["prospectivity_why"] = top_reasons(shap, features[model.features])
    card = dict(model.card)
    card["training_sites"] = int(use.sum())
    card["cv"] = _oof_summary(model.oof, blocks, table, owner[use], eligible, config)
    return out, card


def _oof_summary(
    oof: np.ndarray | None,
    blocks: np.ndarray,
    table: pd.DataFrame,
    site_parcel: np.ndarray,
    eligible: np.ndarray | None,
    config: Config,
) -> dict[str, Any]:
    """Capture of the training sites by the fold models that did not see their block."""
    if oof is None:
        return {}
    area = table["area_km2"].to_numpy(dtype=float)
    mask = np.ones(len(table), dtype=bool) if eligible is None else np.asarray(eligible, bool)
    parts = []
    for k in range(int(blocks.max()) + 1):
        fold = mask & (blocks == k) & np.isfinite(oof)
        if not fold.any():
            continue
        lo, hi = area_positions(np.nan_to_num(oof), area, fold)
        where = site_parcel[fold[site_parcel]]
        parts.append(PredictionRate(lo[where], hi[where]))
    summary = PredictionRate.pool(parts).summary()
    summary["scheme"] = (
        f"{config.model.folds} folds of {config.model.block_km:g} km blocks, no buffer; "
        "each site ranked among its block's parcels by the model that did not see the block"
    )
    return summary


def decision_score(
    criteria: pd.DataFrame,
    prospectivity: pd.Series,
    config: Config,
    *,
    available: dict[str, bool],
    reasons: dict[str, str] | None = None,
) -> tuple[pd.Series, pd.DataFrame, Weights, pd.DataFrame]:
    """Combine prospectivity with access (see the module docstring for the formula).

    Parameters
    ----------
    criteria
        Criteria table of :func:`~prospector.analysis.criteria.build_criteria` (its
        access columns are used).
    prospectivity
        Model output per parcel, indexed like *criteria*.
    config
        ``model.weights``, ``score.access_weights`` and ``score.normalise``.
    available
        Which criteria exist (access ones as for the weighted method).
    reasons
        Why unavailable criteria are missing.

    Returns
    -------
    (pandas.Series, pandas.DataFrame, Weights, pandas.DataFrame)
        Score, contributions, weights, and the criteria table used (``prospectivity``
        plus the access criteria).
    """
    family = config.model.weights
    access_w = config.score.access_weights
    keys = ("road", "rail", "power", "terrain", "travel")
    sub_total = sum(access_w.get(k, 0.0) for k in keys) or 1.0
    configured = {"prospectivity": family.get("prospectivity", 0.0)}
    for k, name in zip(keys, _ACCESS_CRITERIA, strict=True):
        configured[name] = family.get("access", 0.0) * access_w.get(k, 0.0) / sub_total
    table = pd.DataFrame(index=criteria.index)
    table["prospectivity"] = normalise(prospectivity, config.score.normalise)
    for name in _ACCESS_CRITERIA:
        table[name] = criteria.get(name, 0.0)
    weights = effective_weights(
        configured, {"prospectivity": True, **{k: available.get(k, False) for k in _ACCESS_CRITERIA}},
        reasons,
    )  # fmt: skip
    score, contrib = combine(table, weights.effective, method="wlc")
    return score, contrib, weights, table


def decision_criteria(
    parcels: pd.DataFrame, config: Config, *, have: dict[str, bool]
) -> tuple[pd.DataFrame, Weights]:
    """Criteria (``prospectivity`` and access) and weights of the decision score.

    *parcels* carry the measured columns and ``prospectivity``; ``have`` says which
    criterion inputs exist.  Used to re-score (validation folds, weight sensitivity).
    """
    from prospector.analysis.criteria import build_criteria

    weighted = dataclasses.replace(config, score=dataclasses.replace(config.score, method="wlc"))
    criteria, weights = build_criteria(parcels, weighted, have=have)
    available = {f"access_{k}": bool(have.get(k)) for k in ("road", "rail", "power")}
    for name in ("terrain", "travel"):
        available[name] = name not in weights.redistributed and bool(criteria[name].gt(0).any())
    _, _, decision, table = decision_score(
        criteria, parcels["prospectivity"], config, available=available,
        reasons=weights.redistributed,
    )  # fmt: skip
    return table, decision


def evidence_skill(
    criteria: pd.DataFrame,
    names: list[str],
    site_parcel: np.ndarray,
    area: np.ndarray,
    eligible: np.ndarray,
    *,
    fraction: float = 0.1,
) -> dict[str, float]:
    """Share of known sites in the top *fraction* of ranked area, per evidence criterion.

    Parameters
    ----------
    criteria
        Criteria table (benefit columns in [0, 1]).
    names
        Evidence criteria to check.
    site_parcel
        Positional parcel of every target site (inside ranked parcels).
    area, eligible
        Area per parcel and the ranked parcels.
    """
    out = {}
    for name in names:
        if name not in criteria or len(site_parcel) == 0 or not eligible.any():
            continue
        lo, hi = area_positions(criteria[name].to_numpy(dtype=float), area, eligible)
        out[name] = float(PredictionRate(lo[site_parcel], hi[site_parcel]).capture(fraction))
    return out
