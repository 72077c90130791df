"""Validation of a :class:`~prospector.config.Config`: values and the names inside tables.

Every problem is collected and reported at once.  Names inside tables (families, access
criteria, statuses, commodity groups, commodities, agencies) are checked against the
library's own vocabularies, so a typo cannot silently weigh nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prospector._util import did_you_mean
from prospector.config.families import ACCESS_CRITERIA, MODEL_FAMILIES, SCORE_FAMILIES
from prospector.errors import ConfigError
from prospector.schema.columns import ACCESS_KINDS, AGENCIES, DEV_STATUSES
from prospector.schema.commodities import (
    COMMODITY_GROUPS,
    LIST_YEARS,
    load_vocabulary,
    resolve_focus,
)

if TYPE_CHECKING:
    from prospector.config.model import Config

__all__ = ["NAME_TABLES", "config_problems", "raise_problems"]

#: Keys whose names come from a vocabulary of the library: dotted key → accepted names.
#: (``value.commodity_weights`` takes canonical commodity names of the ``list_year``.)
NAME_TABLES: dict[str, tuple[str, ...]] = {
    "open_agencies": AGENCIES,
    "value.status_weights": DEV_STATUSES,
    "value.group_weights": COMMODITY_GROUPS,
    "access.decay_km": ACCESS_KINDS,
    "score.weights": SCORE_FAMILIES,
    "score.access_weights": ACCESS_CRITERIA,
    "model.weights": MODEL_FAMILIES,
}

_NAME_KINDS: dict[str, str] = {
    "open_agencies": "agency",
    "value.status_weights": "development status",
    "value.group_weights": "commodity group",
    "access.decay_km": "kind of infrastructure",
    "score.weights": "criterion family",
    "score.access_weights": "access criterion",
    "model.weights": "decision-score family",
}


def raise_problems(problems: list[str], source: str | None = None) -> None:
    """Raise one :class:`ConfigError` listing *problems*, if any, naming their *source*."""
    if problems:
        where = f" in {source}" if source else ""
        raise ConfigError(f"invalid configuration{where}:\n  " + "\n  ".join(problems))


def config_problems(config: Config) -> list[str]:
    """Return every problem of *config* (empty when it is valid); *config* is not changed."""
    problems: list[str] = []
    p = problems.append
    if config.list_year not in LIST_YEARS:
        p(
            f"list_year must be one of {', '.join(map(str, LIST_YEARS))} (years of the USGS "
            f"List of Critical Minerals); got {config.list_year!r}."
        )
    if config.work_crs is not None:
        _check_crs(config.work_crs, problems)
    if isinstance(config.seed, int) and config.seed < 0:
        p(f"seed must be a whole number >= 0; got {config.seed!r}.")

    _positive(config.parcels.cell_m, "parcels.cell_m", problems)
    _non_negative(config.parcels.min_sliver_m2, "parcels.min_sliver_m2", problems)
    if isinstance(config.parcels.max_parcels, int) and config.parcels.max_parcels < 0:
        p(f"parcels.max_parcels must be 0 (automatic) or a positive whole number; "
          f"got {config.parcels.max_parcels!r}.")  # fmt: skip

    value = config.value
    _positive(value.radius_km, "value.radius_km", problems)
    for name in ("critical_weight", "noncritical_weight", "diversity_bonus"):
        _non_negative(getattr(value, name), f"value.{name}", problems)
    if not (_finite(value.dedupe_m) and value.dedupe_m >= 0):
        p(f"value.dedupe_m must be a number of metres >= 0; got {value.dedupe_m!r}.")
    _check_weights(value.status_weights, "value.status_weights", problems)
    _check_weights(value.group_weights, "value.group_weights", problems)
    _check_weights(value.commodity_weights, "value.commodity_weights", problems)
    year = config.list_year if config.list_year in LIST_YEARS else LIST_YEARS[-1]
    _check_commodities(value.commodity_weights, year, problems)
    _check_weights(value.significance_sources, "value.significance_sources", problems)
    _check_weights(value.size_weights, "value.size_weights", problems)
    for name, number, low, high in [
        ("value.import_floor", value.import_floor, 0.0, 1.0),
        ("value.unknown_import_reliance", value.unknown_import_reliance, 0.0, 100.0),
        ("value.off_focus_weight", value.off_focus_weight, 0.0, 1.0),
        ("value.discount", value.discount, 0.0, 1.0),
        ("value.nearby_factor", value.nearby_factor, 0.0, 1.0),
        ("value.corroboration_bonus", value.corroboration_bonus, 0.0, 10.0),
    ]:
        if not (
            isinstance(number, (int, float))
            and not isinstance(number, bool)
            and low <= number <= high
        ):
            p(f"{name} must be a number in [{low:g}, {high:g}]; got {number!r}.")
    if not isinstance(value.corroboration_cap, int) or value.corroboration_cap < 0:
        problems.append(
            f"value.corroboration_cap must be an integer >= 0; got {value.corroboration_cap!r}."
        )
    if value.focus_commodities or value.focus_groups:
        try:
            resolve_focus(
                value.focus_commodities,
                value.focus_groups,
                vocabulary=load_vocabulary(year),
            )
        except ConfigError as exc:
            problems.append(f"value.focus: {exc}")

    access = config.access
    _check_weights(access.decay_km, "access.decay_km", problems, strictly=True)
    _positive(access.search_km, "access.search_km", problems)
    if _finite(access.max_slope_deg) and not 0 < access.max_slope_deg <= 90:
        p(f"access.max_slope_deg must be in (0, 90] degrees; got {access.max_slope_deg!r}.")
    if _finite(access.min_raster_coverage) and not 0 <= access.min_raster_coverage <= 1:
        p(
            "access.min_raster_coverage must be a share in [0, 1]; "
            f"got {access.min_raster_coverage!r}."
        )

    evidence = config.evidence
    _positive(evidence.decay_km, "evidence.decay_km", problems)
    _positive(evidence.density_radius_km, "evidence.density_radius_km", problems)
    for name, direction in evidence.raster_direction.items():
        if direction not in ("high", "low"):
            p(f"evidence.raster_direction.{name} must be 'high' or 'low'; got {direction!r}.")

    score = config.score
    if _finite(score.gamma) and not 0.0 <= score.gamma <= 1.0:
        p(f"score.gamma must be in [0, 1]; got {score.gamma!r}.")
    _check_weights(score.weights, "score.weights", problems, need_positive=not score.ahp)
    _check_weights(score.access_weights, "score.access_weights", problems)
    for key, allowed in NAME_TABLES.items():
        section, _, name = key.rpartition(".")
        table = getattr(getattr(config, section) if section else config, name)
        _check_names(table, allowed, key, problems, kind=_NAME_KINDS[key])
    if score.ahp:
        try:
            score.family_weights()
        except ConfigError as exc:
            p(f"score.ahp: {exc}")
    problems += config.targets.problems()
    model = config.model
    _check_weights(model.weights, "model.weights", problems, need_positive=True)
    w_p = model.weights.get("prospectivity", 0.0)
    if score.method == "model" and _finite(w_p) and not w_p > 0:
        p(
            "model.weights.prospectivity must be > 0 with score.method = 'model' (the "
            f"learned model is what the method ranks by); got {model.weights!r}."
        )
    _positive(model.block_km, "model.block_km", problems)
    _positive(model.learning_rate, "model.learning_rate", problems)
    for i, radius in enumerate(model.brownfields_km):
        _positive(radius, f"model.brownfields_km[{i}]", problems)
    for name, count, least in [
        ("model.folds", model.folds, 2),
        ("model.explain_parcels", model.explain_parcels, 0),
        ("model.n_estimators", model.n_estimators, 1),
        ("model.num_leaves", model.num_leaves, 2),
        ("model.min_child_samples", model.min_child_samples, 1),
        ("model.max_background", model.max_background, 10),
    ]:
        if not (isinstance(count, int) and not isinstance(count, bool) and count >= least):
            p(f"{name} must be an integer >= {least}; got {count!r}.")
    return problems


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any, name: str, problems: list[str]) -> None:
    if not (_finite(value) and value > 0):
        problems.append(f"{name} must be a positive number; got {value!r}.")


def _non_negative(value: Any, name: str, problems: list[str]) -> None:
    if not (_finite(value) and value >= 0):
        problems.append(f"{name} must be a finite number >= 0; got {value!r}.")


def _check_crs(text: str, problems: list[str]) -> None:
    import pyproj

    try:
        crs = pyproj.CRS.from_user_input(text)
    except pyproj.exceptions.CRSError as exc:
        problems.append(f"work_crs: {text!r} is not a coordinate reference system ({exc}).")
        return
    units = {axis.unit_name for axis in crs.axis_info}
    if not crs.is_projected or units != {"metre"}:
        problems.append(
            f"work_crs: {text!r} is not a projected CRS in metres (axis units: "
            f"{', '.join(sorted(units)) or 'none'}); areas and distances need one, e.g. "
            "'EPSG:5070' (CONUS Albers) or 'EPSG:3338' (Alaska Albers)."
        )


def _check_weights(
    weights: Mapping[str, Any],
    name: str,
    problems: list[str],
    *,
    need_positive: bool = False,
    strictly: bool = False,
) -> None:
    for key, value in weights.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            problems.append(f"{name}.{key} must be a number; got {value!r}.")
        elif not math.isfinite(value) or value < 0 or (strictly and value == 0):
            problems.append(
                f"{name}.{key} must be a finite number {'>' if strictly else '>='} 0; got {value!r}."
            )
    if need_positive and weights and all(_finite(v) and v == 0 for v in weights.values()):
        problems.append(f"{name}: all weights are zero; give at least one a positive weight.")


def _check_names(
    names: Iterable[str], allowed: Iterable[str], where: str, problems: list[str], *, kind: str
) -> None:
    allowed = list(allowed)
    for key in names:
        if key not in allowed:
            problems.append(
                f"{where}: unknown {kind} {key!r}.{did_you_mean(str(key), allowed)} "
                f"Known: {', '.join(allowed)}."
            )


def _check_commodities(weights: Mapping[str, Any], list_year: int, problems: list[str]) -> None:
    vocabulary = load_vocabulary(list_year)
    canonical = sorted(vocabulary.groups)
    for key in weights:
        if key in vocabulary.groups:
            continue
        alias = vocabulary.aliases.get(str(key).lower())
        hint = f" Did you mean {alias!r}?" if alias else did_you_mean(str(key), canonical)
        problems.append(
            f"value.commodity_weights: unknown commodity {key!r}.{hint} Use the canonical "
            "names listed in docs/commodities.md."
        )
