r"""Learned prospectivity in a ranking run: the model's columns, its decision score, and skill.

With ``score.method = "model"`` a ranking run fits the prospectivity model
(:mod:`prospector.analysis.model`) on the run's own parcels and known sites, and ranks
parcels by the **decision score**

.. math::

    \text{score} = w_p \, N(p) + w_a \sum_k \frac{a_k}{\sum_j a_j} \, A_k

* :math:`p` is the model's ``prospectivity`` of the parcel (a relative likelihood in [0, 1],
  not a probability) and :math:`N` the configured normalisation (``score.normalise``,
  min–max by default) over every parcel;
* :math:`A_k` are the access criteria of the weighted method (``access_road``,
  ``access_rail``, ``access_power``, ``terrain``, ``travel``), normalised as there, and
  :math:`a_k` their ``score.access_weights``;
* :math:`w_p, w_a` are ``model.weights`` (``prospectivity`` 0.75, ``access`` 0.25 by default).

Criteria the region lacks (no road layer, no DEM...) are dropped and the remaining weights
rescaled to sum 1, exactly as for the weighted method
(:func:`~prospector.analysis.score.effective_weights`); which parcels are ranked is decided by
land status (``score.status``), as always.

Whatever the method, :func:`evidence_skill` checks every evidence criterion against the
known sites: ranking the ranked parcels by that criterion alone, which share of the
(de-duplicated) sites lies in the top 10 % of the ranked area?  An evidence criterion does
not depend on the sites, so this needs no folds; below chance (10 %) it points *away* from
the region's deposits and is flagged.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector.analysis.baselines import brownfields_features
from prospector.analysis.model import (
    ProspectivityModel,
    evidence_features,
    fit_prospectivity,
    model_warnings,
    top_reasons,
)
from prospector.analysis.rates import PredictionRate, area_positions, capture_key
from prospector.analysis.score import Weights, effective_weights, normalise
from prospector.config import Config
from prospector.schema.commodities import CommodityVocabulary, resolve_focus

__all__ = [
    "CHANCE",
    "DECISION_CRITERIA",
    "OUTPUT_MEANING",
    "decision_criteria",
    "evidence_skill",
    "learning_sites",
    "model_note",
    "parcel_folds",
    "run_model",
    "skill_notes",
]

#: Criteria of the decision score, in order: the learned prospectivity, then access.
DECISION_CRITERIA: tuple[str, ...] = (
    "prospectivity",
    "access_road",
    "access_rail",
    "access_power",
    "terrain",
    "travel",
)

#: Share of ranked area (and of sites, by chance) of the evidence skill check.
CHANCE = 0.1

#: What ``prospectivity`` means, in the model card.
OUTPUT_MEANING = (
    "relative likelihood in [0, 1] that a parcel's geology resembles that of the known "
    "sites; not a probability that a deposit exists"
)

_ACCESS_KEYS = ("road", "rail", "power", "terrain", "travel")


def learning_sites(
    deposits: pd.DataFrame, vocabulary: CommodityVocabulary, config: Config
) -> np.ndarray:
    """Sites the model learns from (and the skill check counts): a boolean mask.

    The sites of the commodity focus (``value.focus_commodities`` / ``focus_groups``) when
    one is set; else, by ``model.learn_from``, the sites with a critical commodity of
    ``list_year`` (``"critical"``) or every site with an identified commodity
    (``"commodity"``).
    """
    if "commodities" not in deposits or not len(deposits):
        return np.zeros(len(deposits), dtype=bool)
    focus = resolve_focus(
        config.value.focus_commodities, config.value.focus_groups, vocabulary=vocabulary
    )
    # One row per (site position, commodity): lists explode, '; '-joined text is split.
    values = pd.Series(deposits["commodities"].to_numpy(), dtype=object)
    text = values.map(lambda v: isinstance(v, str))
    if text.any():
        values[text] = values[text].str.split(";")
    names = values.explode().dropna().astype(str).str.strip()
    names = names[names != ""]
    if focus:
        wanted = names.isin(focus)
    elif config.model.learn_from == "critical":
        wanted = names.isin(vocabulary.critical)
    else:
        wanted = pd.Series(True, index=names.index)
    out = np.zeros(len(deposits), dtype=bool)
    out[np.unique(names.index[wanted.to_numpy()].to_numpy())] = True
    return out


def run_model(
    table: gpd.GeoDataFrame,
    sites: gpd.GeoDataFrame,
    owner: np.ndarray,
    learn: np.ndarray,
    config: Config,
    *,
    threads: int = 1,
    timings: dict[str, float] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit the prospectivity model on a run's parcels and known sites; predict every parcel.

    Parameters
    ----------
    table
        Measured parcels in the projected work CRS (``parcel_id``, the evidence columns of
        :func:`~prospector.analysis.model.evidence_features`, ``area_km2`` or polygons).
    sites
        De-duplicated known sites, in the parcels' CRS.
    owner
        Positional index in *table* of each site's parcel (−1: none).
    learn
        Sites the model learns from (:func:`learning_sites`).
    config
        ``model`` settings and ``seed``.
    threads
        LightGBM threads (results do not depend on it).
    timings
        A dict filled with seconds per stage (``blocks_s``, ``fit_s``, ``predict_s``,
        ``reasons_s``).

    Returns
    -------
    (pandas.DataFrame, dict)
        Indexed like *table*: ``prospectivity``, ``prospectivity_lo``, ``prospectivity_hi``,
        ``shap_<feature>`` (float32) and ``prospectivity_why`` (the two features that raise
        it most, in words; band, contributions and reasons only for the
        ``model.explain_parcels`` parcels of highest prospectivity, NaN / "" elsewhere);
        and the model card.

    Raises
    ------
    ConfigError
        No evidence feature, or no parcel holding a training site.
    """
    timings = timings if timings is not None else {}
    clock = time.perf_counter()
    owner = np.asarray(owner, dtype=np.int64)
    use = np.asarray(learn, dtype=bool) & (owner >= 0)
    positive = np.bincount(owner[use], minlength=len(table))
    features = evidence_features(table)
    if config.model.brownfields:
        learned = np.asarray(learn, dtype=bool)
        extra = brownfields_features(
            table, sites[learned], owner[learned], radii_km=config.model.brownfields_km
        )
        features = pd.concat([features, extra], axis=1)
    blocks = parcel_folds(
        table.geometry.to_numpy(), block_km=config.model.block_km, n_folds=config.model.folds,
        seed=config.seed,
    )  # fmt: skip
    clock = _lap(timings, "blocks_s", clock)
    # One LightGBM thread per model: its OpenMP threads spin-wait, and on shared cores
    # two threads trained 10-17x slower than one (docs/model.md); results do not depend on it.
    model = fit_prospectivity(
        features, positive, key=table["parcel_id"].to_numpy(), config=config.model,
        seed=config.seed, blocks=blocks, threads=1,
    )  # fmt: skip
    clock = _lap(timings, "fit_s", clock)
    out, explained = _predict(model, features, config.model.explain_parcels, threads)
    clock = _lap(timings, "predict_s", clock)
    shap_cols = [f"shap_{f}" for f in model.features]
    why = np.full(len(out), "", dtype=object)
    if len(explained):
        why[explained] = top_reasons(
            out[shap_cols].iloc[explained],
            features[model.features].iloc[explained],
            medians=np.nanmedian(features[model.features].to_numpy(dtype=float), axis=0),
        )
    out["prospectivity_why"] = why
    _lap(timings, "reasons_s", clock)
    card = dict(model.card)
    card["output"] = OUTPUT_MEANING
    card["training_sites"] = int(use.sum())
    card["parameters"] = {
        "n_estimators": config.model.n_estimators,
        "learning_rate": config.model.learning_rate,
        "num_leaves": config.model.num_leaves,
        "min_child_samples": config.model.min_child_samples,
        "max_background": config.model.max_background,
        "folds": config.model.folds,
        "block_km": config.model.block_km,
    }
    card["decision_weights"] = dict(config.model.weights)
    if blocks is None or model.oof is None:
        card["cv"] = {
            "skipped": f"the parcels span fewer than model.folds = {config.model.folds} blocks "
            f"of model.block_km = {config.model.block_km:g} km; use smaller blocks or fewer folds"
            if blocks is None
            else "no fold model could be trained"
        }
    else:
        area = _area(table)
        card["cv"] = _oof_summary(model.oof, blocks, area, owner[use], config)
        if config.model.brownfields:
            card["cv"]["caveat"] = (
                "optimistic: the brownfields kernels of this run count the sites of every "
                "block, held-out ones included; `prospector validate` rebuilds them per fold"
            )
    card["warnings"] = model_warnings(card, chance=CHANCE)
    return out, card


def parcel_folds(
    geometry: np.ndarray, *, block_km: float, n_folds: int, seed: int
) -> np.ndarray | None:
    """Fold of every parcel: square blocks of *block_km* dealt at random into *n_folds*.

    A parcel belongs to the block holding the centre of its bounding box (blocks aligned
    to multiples of *block_km* from the CRS origin); the blocks are shuffled with *seed*
    and numbered modulo *n_folds*, so fold sizes differ by at most one block.  None when
    fewer blocks than folds hold parcels.
    """
    if len(geometry) == 0:
        return None
    bounds = shapely.bounds(geometry)
    cell = np.floor(
        np.c_[bounds[:, 0] + bounds[:, 2], bounds[:, 1] + bounds[:, 3]] / (2000.0 * block_km)
    ).astype(np.int64)
    cell -= cell.min(axis=0)
    key = cell[:, 0] * (int(cell[:, 1].max()) + 1) + cell[:, 1]
    blocks, inverse = np.unique(key, return_inverse=True)
    if len(blocks) < n_folds:
        return None
    fold_of_block = np.random.default_rng(seed).permutation(len(blocks)) % n_folds
    return fold_of_block[inverse.reshape(-1)].astype(np.int64)


def _predict(
    model: ProspectivityModel, features: pd.DataFrame, n_explain: int, threads: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Prospectivity of every parcel; band and TreeSHAP of the *n_explain* highest.

    The same numbers as :func:`~prospector.analysis.model.predict_prospectivity` (full
    model; min / max over it and the fold models; exact contributions of the full model),
    computed in row chunks on *threads* threads of one LightGBM thread each, and with the
    costly band and contributions only for the parcels that lead the ranking (1M parcels:
    the fold models' and TreeSHAP's predictions of every parcel took 80 % of the step).
    Returns the columns (band and ``shap_*`` NaN where not explained; ``shap_*`` float32)
    and the explained positions.
    """
    x = features[model.features].to_numpy(dtype=np.float64)
    n = len(x)
    width = len(model.features) + 1  # contributions, then the bias

    def predict(booster: Any, rows: np.ndarray, contrib: bool = False) -> np.ndarray:
        if len(rows) == 0:
            return np.zeros((0, width)) if contrib else np.zeros(0)
        parts = np.array_split(rows, max(1, min(threads * 4, len(rows) // 50_000 + 1)))
        with ThreadPoolExecutor(max(1, threads)) as pool:  # LightGBM releases the GIL
            done = pool.map(
                lambda r: booster.predict(x[r], pred_contrib=contrib, num_threads=1), parts
            )
            return np.concatenate([np.asarray(d, dtype=float) for d in done])

    p = predict(model.booster, np.arange(n))
    # Highest prospectivity first; ties by position (deterministic).
    explained = np.sort(np.argsort(-p, kind="stable")[: min(n_explain, n)])
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    lo[explained] = hi[explained] = p[explained]
    for fold in model.fold_boosters:
        q = predict(fold, explained)
        lo[explained] = np.minimum(lo[explained], q)
        hi[explained] = np.maximum(hi[explained], q)
    out = pd.DataFrame(
        {"prospectivity": p, "prospectivity_lo": lo, "prospectivity_hi": hi}, index=features.index
    )
    contrib = np.full((n, len(model.features)), np.nan, dtype=np.float32)
    if len(explained):
        contrib[explained] = predict(model.booster, explained, contrib=True)[:, :-1]
    for j, name in enumerate(model.features):
        out[f"shap_{name}"] = contrib[:, j]
    return out, explained


def _lap(timings: dict[str, float], name: str, since: float) -> float:
    now = time.perf_counter()
    timings[name] = now - since
    return now


def _area(table: pd.DataFrame) -> np.ndarray:
    if "area_km2" in table:
        return table["area_km2"].to_numpy(dtype=float)
    return np.asarray(table.geometry.area, dtype=float) / 1e6


def _oof_summary(
    oof: np.ndarray, blocks: np.ndarray, area: np.ndarray, site_parcel: np.ndarray, config: Config
) -> dict[str, Any]:
    """Capture of the training sites by the fold models that did not see their block."""
    parts = []
    for k in range(int(blocks.max()) + 1):
        fold = (blocks == k) & np.isfinite(oof)
        if not fold.any():
            continue
        lo, hi = area_positions(np.nan_to_num(oof), area, fold)
        where = site_parcel[fold[site_parcel]]
        parts.append(PredictionRate(lo[where], hi[where]))
    summary = PredictionRate.pool(parts).summary()
    summary["scheme"] = (
        f"{config.model.folds} folds of {config.model.block_km:g} km blocks, no buffer: each "
        "site ranked among its own block's parcels by the fold model that did not see the block"
    )
    summary["chance"] = {key: float(key) for key in summary["capture"]}
    return summary


def decision_criteria(
    criteria: pd.DataFrame,
    prospectivity: pd.Series,
    config: Config,
    *,
    available: dict[str, bool],
    reasons: dict[str, str],
) -> tuple[pd.DataFrame, Weights]:
    """Criteria and weights of the decision score (formula in the module docstring).

    Parameters
    ----------
    criteria
        The weighted method's criteria (its ``access_*``, ``terrain`` and ``travel`` columns
        are used; the others are kept for reference, with no weight).
    prospectivity
        The model's output per parcel, indexed like *criteria*.
    config
        ``model.weights``, ``score.access_weights`` and ``score.normalise``.
    available, reasons
        Which criteria the region supplies, and why the others are missing (as the
        weighted method finds them).

    Returns
    -------
    (pandas.DataFrame, Weights)
        *criteria* with ``prospectivity`` (normalised) first, and the weights of
        :data:`DECISION_CRITERIA` (configured, effective, redistributed); ``unavailable``
        also names every other criterion the region lacks.
    """
    family = config.model.weights
    access_w = config.score.access_weights
    sub_total = sum(access_w.get(k, 0.0) for k in _ACCESS_KEYS) or 1.0
    # Family weight × numerator / denominator, in that order (as the map's sliders do).
    configured = {"prospectivity": family.get("prospectivity", 0.0) * 1.0 / 1.0}
    for key, name in zip(_ACCESS_KEYS, DECISION_CRITERIA[1:], strict=True):
        configured[name] = family.get("access", 0.0) * access_w.get(key, 0.0) / sub_total
    table = criteria.drop(columns=["prospectivity"], errors="ignore")
    table.insert(0, "prospectivity", normalise(prospectivity, config.score.normalise))
    usable = {"prospectivity": True, **{k: bool(available.get(k)) for k in DECISION_CRITERIA[1:]}}
    weights = effective_weights(configured, usable, reasons)
    for name in table.columns:
        if name not in configured and not available.get(name, False):
            weights.unavailable[name] = reasons.get(name, "input missing")
    return table, weights


def evidence_skill(
    criteria: pd.DataFrame,
    names: list[str],
    site_parcel: np.ndarray,
    area: np.ndarray,
    eligible: np.ndarray,
    *,
    fraction: float = CHANCE,
) -> dict[str, Any]:
    """Share of known sites in the top *fraction* of ranked area, per evidence criterion.

    Parameters
    ----------
    criteria
        Criteria table (benefit columns in [0, 1], higher is better), one row per parcel.
    names
        Evidence criteria to check (missing columns are skipped).
    site_parcel
        Positional parcel of every counted site (one entry per site; sites in parcels that
        are not ranked are ignored).
    area, eligible
        Area of each parcel and the ranked parcels (boolean mask).
    fraction
        Share of ranked area; chance capture equals it.

    Returns
    -------
    dict
        ``fraction``, ``chance``, ``n_sites`` (sites in ranked parcels), ``criteria``
        (name → ``{"capture", "below_chance"}``) and ``below_chance`` (the flagged names).
        Tied parcels count as visited in random order, so a criterion that is constant
        over the parcels captures exactly chance and is not flagged.
    """
    eligible = np.asarray(eligible, dtype=bool)
    site_parcel = np.asarray(site_parcel, dtype=np.int64)
    site_parcel = site_parcel[(site_parcel >= 0)]
    site_parcel = site_parcel[eligible[site_parcel]]
    out: dict[str, Any] = {
        "fraction": float(fraction),
        "chance": float(fraction),
        "n_sites": len(site_parcel),
        "criteria": {},
        "below_chance": [],
    }
    if len(site_parcel) == 0 or not eligible.any():
        return out
    for name in names:
        if name not in criteria:
            continue
        lo, hi = area_positions(criteria[name].to_numpy(dtype=float), area, eligible)
        capture = float(PredictionRate(lo[site_parcel], hi[site_parcel]).capture(fraction))
        below = capture < fraction - 1e-9
        out["criteria"][name] = {"capture": capture, "below_chance": bool(below)}
        if below:
            out["below_chance"].append(name)
    return out


def skill_notes(skill: dict[str, Any]) -> list[str]:
    """One note per evidence criterion that ranks the known sites below chance."""
    notes = []
    for name in skill.get("below_chance", []):
        capture = skill["criteria"][name]["capture"]
        notes.append(
            f"Evidence layer {name.removeprefix('evidence_')!r} ranks the known sites below "
            f"chance here: {capture:.1%} of the {skill['n_sites']} sites lie in its top "
            f"{skill['fraction']:.0%} of ranked area (chance {skill['chance']:.0%}). It points "
            "away from this region's deposits; consider giving it no weight."
        )
    return notes


def model_note(card: dict[str, Any]) -> str:
    """Summarise of the model card (training sites, top features, CV)."""
    top = sorted(card.get("importance", {}).items(), key=lambda kv: -kv[1])[:3]
    words = ", ".join(f"{k} {v:.0%}" for k, v in top)
    text = (
        f"Learned prospectivity (LightGBM {card.get('lightgbm', '?')}, seed {card.get('seed')}): "
        f"{card.get('training_sites', 0):,} training sites, {len(card.get('features', []))} "
        f"evidence features; most important: {words or 'none'}."
    )
    cv = card.get("cv", {})
    key = capture_key(CHANCE)
    if "capture" in cv:
        text += (
            f" Spatial-block CV: {cv['capture'][key]:.1%} of {cv['n_targets']} sites in the "
            f"top {CHANCE:.0%} of their block's area (chance {CHANCE:.0%})."
        )
    elif "skipped" in cv:
        text += f" No cross-validation: {cv['skipped']}"
    if card.get("brownfields"):
        text += (
            " Includes brownfields kernels of known sites: interpolation, not geology (the CV"
            " figure is optimistic; see prospector validate)."
        )
    return text + f" Prospectivity is a {OUTPUT_MEANING}."
