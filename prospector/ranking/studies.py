"""Studies of a finished ranking: weight sensitivity and spatial validation.

Both start from a :class:`~prospector.ranking.RankResult` and recompute nothing it holds:
the criteria table, the weights and the available inputs come from the run.  The
``write_*`` functions write their files atomically (a CSV or JSON and an optional PNG).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from prospector._runtime import atomic_outputs, n_threads
from prospector.analysis.criteria import build_criteria
from prospector.analysis.score import Weights
from prospector.analysis.sensitivity import weight_sensitivity
from prospector.analysis.validate import EvaluateOn, Targets, validation_report
from prospector.config import Config
from prospector.errors import ConfigError
from prospector.export import write_json
from prospector.ranking.result import RankResult

__all__ = [
    "VARIANTS",
    "result_criteria",
    "sensitivity",
    "validation",
    "write_sensitivity",
    "write_validation",
]

#: Weightings validated beside the configured one: what extrapolates and what does not.
VARIANTS: dict[str, dict[str, float]] = {
    "value_only": {"value": 1.0},
    "evidence_only": {"evidence": 1.0},
}


def result_criteria(
    result: RankResult, config: Config | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, Weights]:
    """Return a run's criteria table and weights (rebuilt only for another configuration).

    Parameters
    ----------
    result
        A ranking run.
    config
        Configuration to rebuild the criteria and weights with (default: the run's own,
        taken from the run without recomputing).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame, Weights)
        ``result.all_parcels`` (ranked and excluded, in parcel-id order; ``rank`` is NA for
        parcels that were not ranked), the criteria table aligned with it, and the weights.
    """
    parcels = result.all_parcels
    if config is None and result.criteria is not None:
        criteria = result.criteria.reindex(parcels["parcel_id"].to_numpy())
        criteria.index = parcels.index
        return parcels, criteria, result.weights
    criteria, weights = build_criteria(parcels, config or result.config, have=result.available)
    return parcels, criteria, weights


def sensitivity(
    result: RankResult,
    *,
    n_runs: int = 200,
    top_n: int = 100,
    concentration: float = 50.0,
    seed: int | None = None,
) -> pd.DataFrame:
    """Rank intervals of *result*'s parcels under perturbed weights.

    See :func:`~prospector.analysis.sensitivity.weight_sensitivity`; *seed* defaults to
    the run configuration's ``seed``.
    """
    parcels, criteria, weights = result_criteria(result)
    config = result.config
    return weight_sensitivity(
        criteria,
        weights.effective,
        parcels["parcel_id"],
        n_runs=n_runs,
        concentration=concentration,
        top_n=top_n,
        seed=config.seed if seed is None else seed,
        method=config.score.method,
        gamma=config.score.gamma,
        eligible=parcels["rank"].notna(),
    )


def validation(
    result: RankResult,
    *,
    block_km: float = 25.0,
    n_folds: int = 5,
    seed: int | None = None,
    buffer_km: float = 0.0,
    targets: Targets = "commodity",
    evaluate_on: EvaluateOn = "fold",
    variants: Mapping[str, Mapping[str, float]] | None = VARIANTS,
    models: bool = True,
    baselines: bool = True,
) -> dict[str, Any]:
    """Spatial vs random cross-validation of *result* against its held-out known sites.

    See :func:`~prospector.analysis.validate.validation_report`; *models* adds the learned
    prospectivity model refitted per fold (``variants.model``), *baselines* the site-only
    baselines (``baselines.kde``, ``baselines.nearest5``).  Raises
    :class:`~prospector.errors.ConfigError` for bad distances, a region without
    deposits, or no target site in a ranked parcel.
    """
    if not (block_km > 0):
        raise ConfigError(f"--block-km must be a positive number of km; got {block_km:g}.")
    if not (buffer_km >= 0):
        raise ConfigError(f"--buffer-km must be >= 0; got {buffer_km:g}.")
    deposits = result.data.deposits
    region = result.data.region.name
    if deposits is None or len(deposits) == 0:
        raise ConfigError(
            f"region {region!r} has no deposit layer: there are no known sites to hold out. "
            "Add a `deposits` layer to the region file."
        )
    started = time.perf_counter()
    parcels = result.all_parcels
    config = result.config
    if config.score.method == "model":
        # The learned model is refitted per fold and reported as variants.model; the
        # configured row is the weighted method's, with the same weights.
        config = dataclasses.replace(config, score=dataclasses.replace(config.score, method="wlc"))
        models = True
    report = validation_report(
        parcels,
        deposits,
        result.data.vocabulary,
        config,
        have=result.available,
        eligible=parcels["rank"].notna(),
        block_km=block_km,
        n_folds=n_folds,
        seed=result.config.seed if seed is None else seed,
        targets=targets,
        buffer_km=buffer_km,
        evaluate_on=evaluate_on,
        variants=variants,
        models=models,
        baselines=baselines,
        evidence=result.data.evidence,
        threads=n_threads(),
    )
    if report["n_deposits"] == 0:
        raise ConfigError(
            f"no {targets} site lies in a ranked parcel of {region!r}: nothing to validate. "
            "Try --targets all, or check the deposit layer and score.status."
        )
    if config is not result.config:
        report["method"] = "model"
        report["configured_as"] = "wlc: the learned model is variants.model"
    report["region"] = region
    report["runtime_s"] = round(time.perf_counter() - started, 2)
    return report


def write_sensitivity(
    table: pd.DataFrame, out_dir: str | Path, *, plot: bool = True, overwrite: bool = False
) -> dict[str, Path]:
    """Write ``sensitivity.csv`` (and ``sensitivity.png``) into *out_dir*, atomically."""
    out_dir = Path(out_dir)
    paths = {"csv": out_dir / "sensitivity.csv"}
    if plot:
        paths["png"] = out_dir / "sensitivity.png"
    with atomic_outputs(paths, overwrite=overwrite) as staged:
        table.to_csv(staged["csv"], index=False, float_format="%.6g")
        if plot:
            from prospector.render.plots import plot_sensitivity

            plot_sensitivity(table, staged["png"])
    return paths


def write_validation(
    report: dict[str, Any],
    json_path: str | Path,
    *,
    plots: str | Path | None = None,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write the validation *report* as JSON (and ``prediction_rate.png`` into *plots*)."""
    paths = {"json": Path(json_path)}
    if plots is not None:
        paths["png"] = Path(plots) / "prediction_rate.png"
    with atomic_outputs(paths, overwrite=overwrite) as staged:
        write_json(report, staged["json"])
        if plots is not None:
            from prospector.render.plots import plot_prediction_rate

            plot_prediction_rate(report, staged["png"])
    return paths
