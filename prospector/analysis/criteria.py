"""Criteria: measured parcel columns → normalised benefit criteria and their weights.

Pure: a (Geo)DataFrame of measurements in, a criteria table and :class:`Weights` out.
Shared by the ranking spine, sensitivity analysis and validation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from prospector.analysis.access import decay
from prospector.analysis.score import Weights, effective_weights, normalise
from prospector.config import Config
from prospector.schema.columns import ACCESS_KINDS

__all__ = [
    "ACCESS_KINDS",
    "CRITERIA_COLUMNS",
    "build_criteria",
    "criteria_inputs",
    "criterion_shares",
]

_ACCESS = ACCESS_KINDS


#: Measured columns :func:`build_criteria` reads; also ``travel_cost_km``, ``prospectivity``
#: and every ``ev_<raster>_mean`` when present (:func:`criteria_inputs`).
CRITERIA_COLUMNS: tuple[str, ...] = (
    "value_raw",
    *(f"dist_{kind}_km" for kind in _ACCESS),
    "dist_fault_km",
    "slope_mean_deg",
    "dem_coverage",
)
_OPTIONAL_INPUTS = frozenset({"travel_cost_km", "prospectivity"})


def criteria_inputs(columns: Iterable[str]) -> list[str]:
    """Return the columns of *columns* that :func:`build_criteria` reads, in their order.

    ``build_criteria(parcels[criteria_inputs(parcels.columns)], ...)`` equals
    ``build_criteria(parcels, ...)``: a caller rebuilding criteria need gather only these.
    """
    return [
        c
        for c in columns
        if c in CRITERIA_COLUMNS or c in _OPTIONAL_INPUTS or re.fullmatch(r"ev_(.+)_mean", c)
    ]


def criterion_shares(criteria: list[str], config: Config) -> dict[str, tuple[str, float, float]]:
    """Family of each criterion and its share of the family weight, as :func:`build_criteria` uses.

    A criterion's configured weight is ``score.weights[family] * numerator / denominator``,
    computed in that order (so a re-implementation, such as the map's live re-weighting,
    reproduces it to the bit).  ``value`` is its own family; ``access_<kind>``, ``terrain``
    and ``travel`` share ``access`` by ``score.access_weights`` (over the sum of all of them);
    ``evidence_*`` criteria share ``evidence`` equally.  Any other criterion (a learned
    ``prospectivity``, say) is its own family when ``score.weights`` names it, else belongs to
    the family named by its prefix before ``_``; members of such a family share it equally.

    Parameters
    ----------
    criteria
        Criterion names (the columns of :func:`build_criteria`'s table), in order.
    config
        The run's configuration.

    Returns
    -------
    dict
        Criterion → ``(family, numerator, denominator)``, in the order of *criteria*.
    """
    access_w = config.score.access_weights
    access_names = [f"access_{k}" for k in _ACCESS] + ["terrain", "travel"]
    sub_total = sum(access_w.get(k, 0.0) for k in (*_ACCESS, "terrain", "travel")) or 1.0
    families: dict[str, str] = {}
    for name in criteria:
        if name in access_names:
            families[name] = "access"
        elif name == "value" or name in config.score.weights:
            families[name] = name
        elif name.startswith("evidence_"):
            families[name] = "evidence"
        else:
            families[name] = name.split("_", 1)[0]
    size = {f: sum(1 for v in families.values() if v == f) for f in set(families.values())}
    shares: dict[str, tuple[str, float, float]] = {}
    for name, family in families.items():
        if family == "access":
            key = name.removeprefix("access_")
            shares[name] = (family, access_w.get(key, 0.0), sub_total)
        elif family == name:
            shares[name] = (family, 1.0, 1.0)
        else:
            shares[name] = (family, 1.0, float(size[family]))
    return shares


def build_criteria(
    parcels: pd.DataFrame, config: Config, *, have: dict[str, bool]
) -> tuple[pd.DataFrame, Weights]:
    """Turn measured parcel columns into normalised benefit criteria and their weights.

    Returns the criteria table (columns ``value``, ``access_<kind>``, ``terrain``,
    ``evidence_fault`` and ``evidence_<raster>`` for every continuous evidence raster, from its
    ``ev_<raster>_mean`` column) and the effective weights per criterion.  With
    ``score.method = "model"`` the table starts with the normalised ``prospectivity`` of the
    parcels (their ``prospectivity`` column) and only it and the access criteria are weighted
    (:func:`~prospector.analysis.prospectivity.decision_criteria`).
    """
    how = config.score.normalise
    crit = pd.DataFrame(index=parcels.index)
    reasons: dict[str, str] = {}
    crit["value"] = normalise(np.log1p(parcels["value_raw"]), how)
    for kind in _ACCESS:
        crit[f"access_{kind}"] = normalise(
            pd.Series(
                decay(
                    parcels[f"dist_{kind}_km"].to_numpy(), config.access.decay_km.get(kind, 10.0)
                ),
                index=parcels.index,
            ),
            how,
        )
        if not have[kind]:
            reasons[f"access_{kind}"] = f"no {kind} layer"
    coverage = parcels["dem_coverage"].notna().mean() if "dem_coverage" in parcels else 0.0
    terrain_ok = coverage >= config.access.min_raster_coverage
    if "slope_mean_deg" in parcels:
        terrain = 1.0 - (parcels["slope_mean_deg"] / config.access.max_slope_deg).clip(0, 1)
        crit["terrain"] = normalise(terrain, how)
    else:
        crit["terrain"] = 0.0
    if not terrain_ok:
        reasons["terrain"] = (
            f"DEM covers {coverage:.1%} of parcels (< {config.access.min_raster_coverage:.0%})"
            if "dem_coverage" in parcels
            else "no DEM"
        )
    travel_ok = False
    if "travel_cost_km" in parcels:
        crit["travel"] = normalise(
            pd.Series(
                decay(
                    parcels["travel_cost_km"].to_numpy(), config.access.decay_km.get("road", 5.0)
                ),
                index=parcels.index,
            ),
            how,
        )
        travel_cover = parcels["travel_cost_km"].notna().mean()
        travel_ok = travel_cover >= config.access.min_raster_coverage
        if not travel_ok:
            reasons["travel"] = (
                f"travel cost covers {travel_cover:.1%} of parcels "
                f"(< {config.access.min_raster_coverage:.0%}; DEM and roads must overlap)"
            )
    else:
        crit["travel"] = 0.0
        reasons["travel"] = "no travel cost (needs access.travel_cost, a DEM and roads)"
    crit["evidence_fault"] = normalise(
        pd.Series(
            decay(parcels["dist_fault_km"].to_numpy(), config.evidence.decay_km),
            index=parcels.index,
        ),
        how,
    )
    if not have["evidence"]:
        reasons["evidence_fault"] = "no vector evidence layer"
    raster_evidence: dict[str, bool] = {}
    for column in parcels.columns:
        match = re.fullmatch(r"ev_(.+)_mean", column)
        if not match:
            continue
        name = match.group(1)
        values = parcels[column]
        if config.evidence.raster_direction.get(name, "high") == "low":
            values = -values
        crit[f"evidence_{name}"] = normalise(values, how)
        covered = parcels[column].notna().mean()
        raster_evidence[f"evidence_{name}"] = covered >= config.access.min_raster_coverage
        if not raster_evidence[f"evidence_{name}"]:
            reasons[f"evidence_{name}"] = (
                f"raster covers {covered:.1%} of parcels (< {config.access.min_raster_coverage:.0%})"
            )
    if not have["deposits"]:
        reasons["value"] = "no deposit layer"

    available = {
        "value": have["deposits"],
        **{f"access_{k}": have[k] for k in _ACCESS},
        "terrain": bool(terrain_ok),
        "travel": bool(travel_ok),
        "evidence_fault": have["evidence"],
        **raster_evidence,
    }
    family = config.score.family_weights()
    access_w = config.score.access_weights
    configured: dict[str, float] = {"value": family.get("value", 0.0)}
    sub_total = sum(access_w.get(k, 0.0) for k in (*_ACCESS, "terrain", "travel")) or 1.0
    for k in (*_ACCESS, "terrain", "travel"):
        name = f"access_{k}" if k in _ACCESS else k
        configured[name] = family.get("access", 0.0) * access_w.get(k, 0.0) / sub_total
    # The evidence weight is shared equally by the fault criterion and each evidence raster.
    evidence_criteria = ["evidence_fault", *raster_evidence]
    for name in evidence_criteria:
        configured[name] = family.get("evidence", 0.0) / len(evidence_criteria)
    if config.score.method == "model":  # learned prospectivity and access (docs/model.md)
        from prospector.analysis.prospectivity import decision_criteria
        from prospector.errors import ConfigError

        if "prospectivity" not in parcels:
            raise ConfigError(
                "score.method = 'model' needs the parcels' 'prospectivity' column, which a "
                "ranking run fits (prospector.rank); these parcels lack it. Rank with "
                "score.method = 'model', or use 'wlc'."
            )
        prospectivity = parcels["prospectivity"]
        return decision_criteria(crit, prospectivity, config, available=available, reasons=reasons)
    weights = effective_weights(configured, available, reasons)
    return crit, weights
