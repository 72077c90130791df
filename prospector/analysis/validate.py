"""Does the ranking find deposits it has not seen?  Spatial block cross-validation.

Known sites are split into folds.  For each fold the held-out sites are removed from the
value evidence (the kernel value is rebuilt from the training sites only), every parcel is
scored again with the same criteria and weights, and the held-out sites are located in the
ranked parcels.  Pooled over the folds this gives a *prediction-rate curve*: the share of
held-out sites captured against the share of ranked area, parcels taken by decreasing score.

Two fold schemes are compared:

``spatial``
    Square blocks of ``block_km`` in the work CRS (aligned to its origin) are shuffled with
    the seed and dealt round-robin into folds; a parcel belongs to the block of its centroid
    and a site to the block of its parcel.  Each fold is evaluated on its own blocks: the
    question is "how well does the ranking find sites in ground where no site was used?".
``random``
    Sites are dealt into folds at random (no blocking) and evaluated over the whole ranked
    area.  Neighbouring and duplicate records of one deposit land in different folds, so
    proximity to a training site "predicts" the held-out one.

The gap between the two measures how much of the apparent skill is spatial leakage.  A
deposit-only ranking (kernel value) should be near chance (capture at 10 % ≈ 10 %) under
spatial blocks much larger than the kernel radius; far above chance means a leak.

Parcels with equal scores are one step of the curve: the capture inside a tie is
interpolated linearly (the expected capture if tied parcels were visited in random order).
Breaking ties by parcel id instead would order zero-value ground north to south and invent
skill.  Parcels that are not ranked (closed ground under the default ``score.status``) are
not part of the area, and sites inside them are not targets.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from prospector.analysis.crossval import (
    CrossValidation,
    EvaluateOn,
    Scheme,
    Targets,
    cross_validate,
    prepare_sites,
    run_folds,
    score_parcels,
    training_value,
    uses_value,
)
from prospector.analysis.folds import block_folds, check_folds, random_folds
from prospector.analysis.rates import (
    CAPTURE_AT,
    CURVE_POINTS,
    PredictionRate,
    area_positions,
    capture_key,
)
from prospector.analysis.structure import structural_features
from prospector.analysis.validate_model import Scorer, baseline_scorer, model_scorer
from prospector.config import Config
from prospector.errors import ConfigError
from prospector.schema.commodities import CommodityVocabulary

__all__ = [
    "CAPTURE_AT",
    "CrossValidation",
    "EvaluateOn",
    "PredictionRate",
    "Scheme",
    "Targets",
    "area_positions",
    "below_chance",
    "block_folds",
    "cross_validate",
    "random_folds",
    "training_value",
    "validation_report",
]


def validation_report(
    parcels: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame,
    vocabulary: CommodityVocabulary,
    config: Config,
    *,
    have: dict[str, bool],
    eligible: pd.Series | np.ndarray | None = None,
    block_km: float = 25.0,
    n_folds: int = 5,
    seed: int = 0,
    targets: Targets = "commodity",
    buffer_km: float = 0.0,
    evaluate_on: EvaluateOn = "fold",
    variants: Mapping[str, Mapping[str, float]] | None = None,
    models: bool = False,
    baselines: bool = False,
    evidence: gpd.GeoDataFrame | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Spatial vs random cross-validation of a ranking, with optional re-weighted variants.

    Parameters
    ----------
    parcels, deposits, vocabulary, config, have, eligible, block_km, n_folds, seed, targets
        As in :func:`cross_validate`.
    buffer_km, evaluate_on
        As in :func:`cross_validate` (spatial scheme only).
    variants
        Extra weightings to validate the same way, name → ``score.weights`` families, e.g.
        ``{"value_only": {"value": 1}, "evidence_only": {"evidence": 1}}``.  A variant whose
        criteria are unavailable is reported with a ``skipped`` reason.
    models
        Also validate the learned prospectivity model (``variants.model``; and
        ``variants.model_brownfields`` when ``config.model.brownfields``), refitted per fold
        on the fold's training sites and cells (:mod:`prospector.analysis.validate_model`).
    baselines
        Also validate the site-only baselines ``baselines.kde`` and ``baselines.nearest5``.
    evidence
        The region's vector evidence: its derived structural features
        (:func:`~prospector.analysis.structure.structural_features`) are added for the
        model when *parcels* lack them.
    threads
        LightGBM threads for the model.

    Returns
    -------
    dict
        ``spatial`` and ``random`` (``auc``, ``capture`` at 5/10/20 % of area, ``n_targets``,
        per-fold records), ``gap`` (random − spatial), ``chance``, ``in_sample`` (scored and
        evaluated with every site: the fully leaked upper bound), ``curves``
        (``area_fraction``, ``spatial``, ``random``), ``block_km``, ``n_folds``, ``seed``,
        ``targets``, ``n_deposits`` (target sites pooled over folds), ``n_sites``,
        ``weights`` (the family weights), ``variants`` (same keys, per variant),
        ``baselines`` (same keys, with *baselines*) and ``below_chance`` (variants and
        baselines whose spatial capture at 10 % of area is below chance).
    """
    check_folds(block_km, n_folds, buffer_km, evaluate_on)
    if models and evidence is not None and not parcels.columns.str.startswith("struct_").any():
        extra = structural_features(parcels, evidence, radius_km=config.evidence.density_radius_km)
        parcels = pd.concat([parcels, extra], axis=1)
    prep = prepare_sites(
        parcels, deposits, vocabulary, config, have=have, eligible=eligible, targets=targets
    )
    parcel_fold, spatial_fold = block_folds(
        prep.parcels, prep.deposits, prep.owner, block_km=block_km, n_folds=n_folds, seed=seed
    )
    random_fold = random_folds(len(prep.deposits), n_folds=n_folds, seed=seed)

    def one(cfg: Config, scorer: Scorer | None = None) -> dict[str, Any]:
        spatial = run_folds(
            prep, cfg, scheme="spatial", parcel_fold=parcel_fold, deposit_fold=spatial_fold,
            n_folds=n_folds, buffer_km=buffer_km, evaluate_on=evaluate_on, scorer=scorer,
        )  # fmt: skip
        rnd = run_folds(
            prep, cfg, scheme="random", parcel_fold=None, deposit_fold=random_fold,
            n_folds=n_folds, scorer=scorer,
        )  # fmt: skip
        every = np.ones(len(prep.deposits), bool)
        if scorer is not None:
            full = scorer(every, np.ones(len(prep.parcels), bool))
        else:
            full_value = (
                training_value(prep.parcels, prep.deposits, prep.site_weights, every, cfg.value)
                if uses_value(cfg, prep.have) else None
            )  # fmt: skip
            full = score_parcels(prep, cfg, full_value)
        lo, hi = area_positions(full, prep.area, prep.eligible)
        where = prep.owner[prep.target]
        in_sample = PredictionRate(lo[where], hi[where])
        s, r = spatial.summary(), rnd.summary()
        f = np.linspace(0.0, 1.0, CURVE_POINTS)
        return {
            "weights": cfg.score.family_weights(),
            "spatial": s,
            "random": r,
            "in_sample": in_sample.summary(),
            "gap": {
                "auc": r["auc"] - s["auc"],
                "capture": {k: r["capture"][k] - s["capture"][k] for k in s["capture"]},
            },
            "curves": {
                "area_fraction": f.tolist(),
                "spatial": np.asarray(spatial.rate.capture(f)).tolist(),
                "random": np.asarray(rnd.rate.capture(f)).tolist(),
                "in_sample": np.asarray(in_sample.capture(f)).tolist(),
            },
        }

    report = one(config)
    report.update(
        {
            "chance": {"auc": 0.5, "capture": {capture_key(f): f for f in CAPTURE_AT}},
            "block_km": float(block_km),
            "buffer_km": float(buffer_km),
            "evaluate_on": evaluate_on,
            "n_folds": int(n_folds),
            "seed": int(seed),
            "targets": targets,
            "n_deposits": int(prep.target.sum()),
            "n_sites": len(prep.deposits),
            "method": config.score.method,
        }
    )
    out_variants: dict[str, Any] = {}
    for name, family in (variants or {}).items():
        cfg = dataclasses.replace(
            config, score=dataclasses.replace(config.score, weights=dict(family), ahp={})
        )
        try:
            out_variants[name] = one(cfg)
        except ConfigError as exc:
            out_variants[name] = {"weights": dict(family), "skipped": str(exc)}
    if models:
        sites = prep.deposits
        for name, brownfields in (("model", False), ("model_brownfields", True)):
            if name == "model_brownfields" and not config.model.brownfields:
                continue
            scorer = model_scorer(
                prep.parcels, sites, prep.owner, prep.learn, config,
                brownfields=brownfields, threads=threads,
            )  # fmt: skip
            try:
                entry = one(config, scorer)
            except ConfigError as exc:
                out_variants[name] = {"skipped": str(exc)}
                continue
            entry["weights"] = {}
            entry["features"] = (
                "evidence + brownfields kernels (interpolation)" if brownfields else "evidence"
            )
            out_variants[name] = entry
    report["variants"] = out_variants
    if baselines:
        report["baselines"] = {
            kind: {**one(config, baseline_scorer(prep.parcels, prep.deposits, kind)), "weights": {}}
            for kind in ("kde", "nearest5")
        }
    report["below_chance"] = below_chance(report)
    return report


def below_chance(report: Mapping[str, Any]) -> list[str]:
    """Variants and baselines whose spatial capture at 10 % of area is below chance."""
    chance = CAPTURE_AT[1]
    out = []
    entries = [("configured", report)] + [
        (f"variants.{k}", v) for k, v in report.get("variants", {}).items()
    ]
    entries += [(f"baselines.{k}", v) for k, v in report.get("baselines", {}).items()]
    for name, entry in entries:
        capture = entry.get("spatial", {}).get("capture", {}).get(capture_key(chance))
        # A tolerance: a ranking that is exactly chance (ties) must not be flagged.
        if capture is not None and np.isfinite(capture) and capture < chance - 1e-9:
            out.append(name)
    return out
