"""Run configuration: one dataclass tree, loaded from TOML, with every default in one place.

Unknown keys are errors with a "did you mean"; weights must be finite, non-negative
and not all zero.  :func:`config_to_dict` gives the effective configuration for the
manifest.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import tomllib

from prospector._util import did_you_mean
from prospector.errors import ConfigError

__all__ = [
    "AccessConfig",
    "Config",
    "EvidenceConfig",
    "ModelConfig",
    "ParcelConfig",
    "ScoreConfig",
    "ValueConfig",
    "config_to_dict",
    "load_config",
]

MILE_M = 1609.344


def _status_weights() -> dict[str, float]:
    # Producers prove an economic deposit; an occurrence only proves mineralisation.
    return {
        "producer": 1.0,
        "past_producer": 0.8,
        "prospect": 0.5,
        "occurrence": 0.3,
        "unknown": 0.3,
    }


def _group_weights() -> dict[str, float]:
    # Multiplies the commodity weight. Bulk construction materials (sand & gravel, stone, clay,
    # limestone, cinders) are worth ~1/50 of a critical metal site so thousands of gravel pits
    # cannot swamp a handful of critical-mineral sites.
    return {
        "ree": 1.0,
        "battery": 1.0,
        "pgm": 1.0,
        "base": 0.8,
        "precious": 0.7,
        "energy": 0.8,
        "specialty": 0.8,
        "industrial": 0.3,
        "bulk": 0.02,
    }


@dataclass
class ParcelConfig:
    """How parcels are made when no parcel layer is given."""

    cell_m: float = MILE_M
    """Grid cell size in metres of the work CRS (default one statute mile)."""
    shape: Literal["square", "hex"] = "square"
    """Grid cells: squares of side ``cell_m`` or hexagons of the same area."""
    min_sliver_m2: float = 1000.0
    """Intersections smaller than this are ignored (slivers from generalised layers)."""


@dataclass
class ValueConfig:
    """Mineral value from known deposits."""

    radius_km: float = 5.0
    """Kernel radius: deposits farther than this from a parcel add nothing."""
    kernel: Literal["biweight", "gaussian", "uniform"] = "biweight"
    critical_weight: float = 1.0
    """Weight of a site's critical commodities (list year from `list_year`)."""
    noncritical_weight: float = 0.4
    """Weight of a site's non-critical commodities (before group weights)."""
    diversity_bonus: float = 0.1
    """Extra weight per additional critical commodity at a site (capped at +50 %)."""
    status_weights: dict[str, float] = field(default_factory=_status_weights)
    group_weights: dict[str, float] = field(default_factory=_group_weights)
    commodity_weights: dict[str, float] = field(default_factory=dict)
    """Per-commodity overrides (canonical names), replacing the computed commodity weight."""
    dedupe_m: float = 300.0
    """Records of known sites closer than this (metres) that share a commodity are one site
    (:func:`prospector.analysis.dedupe.dedupe_sites`); 0 keeps every record."""


@dataclass
class AccessConfig:
    """Access: distances to infrastructure and terrain."""

    decay_km: dict[str, float] = field(
        default_factory=lambda: {"road": 5.0, "rail": 30.0, "power": 15.0}
    )
    """Distance at which the access criterion falls to 1/e (≈0.37) of its maximum."""
    search_km: float = 200.0
    """Beyond this, distance is reported as NaN and the criterion is 0."""
    road_classes: list[str] = field(default_factory=list)
    """Road classes that count (empty: all)."""
    max_slope_deg: float = 35.0
    """Mean slope at which the terrain criterion reaches 0."""
    travel_cost: bool = False
    """Compute the least-cost travel distance from roads over the DEM (``travel_cost_km``);
    give it weight with ``score.access_weights.travel``."""
    min_raster_coverage: float = 0.8
    """A raster criterion is used only when it covers this share of parcels."""


@dataclass
class EvidenceConfig:
    """Geological evidence from vector layers (faults...) and rasters."""

    decay_km: float = 5.0
    """Distance to evidence features at which the criterion falls to 1/e."""
    raster_direction: dict[str, str] = field(default_factory=dict)
    """Per evidence raster (catalogue name with '-' as '_'): "high" (default) when high values
    are favourable, "low" when low values are."""
    density_radius_km: float = 10.0
    """Kernel radius of the evidence line density (``evidence_density``, reported column)."""


@dataclass
class ScoreConfig:
    """How criteria are combined."""

    method: Literal["wlc", "gamma", "topsis", "model"] = "wlc"
    """How criteria are combined: weighted linear combination, fuzzy gamma, TOPSIS, or
    ``model``: the learned prospectivity plus access (``model.weights``)."""
    normalise: Literal["minmax", "rank", "z"] = "minmax"
    gamma: float = 0.8
    weights: dict[str, float] = field(
        default_factory=lambda: {"value": 0.6, "access": 0.25, "evidence": 0.15}
    )
    """Top-level weights of the three criterion families (renormalised to sum 1)."""
    access_weights: dict[str, float] = field(
        default_factory=lambda: {
            "road": 0.5,
            "rail": 0.3,
            "power": 0.2,
            "terrain": 0.0,
            "travel": 0.0,
        }
    )
    """Split of the access weight between access criteria."""
    ahp: dict[str, float] = field(default_factory=dict)
    """Pairwise judgements of the families, e.g. ``{"value/access" = 3, "value/evidence" = 5,
    "access/evidence" = 2}``; when given they replace ``weights`` (Saaty's AHP, refused when
    the consistency ratio exceeds 0.1 unless ``ahp_force``)."""
    ahp_force: bool = False
    status: Literal["any", "open", "not_closed"] = "not_closed"
    """Which parcels are ranked: all, only open/partly open ones, or all but closed ones."""


def _model_weights() -> dict[str, float]:
    return {"prospectivity": 0.75, "access": 0.25}


@dataclass
class ModelConfig:
    """Learned prospectivity (``score.method = "model"``; :mod:`prospector.analysis.model`)."""

    weights: dict[str, float] = field(default_factory=_model_weights)
    """Families of the decision score when ``score.method = "model"``: ``prospectivity``
    (the learned model) and ``access`` (split by ``score.access_weights``)."""
    brownfields: bool = False
    """Add kernel densities of the known sites at ``brownfields_km`` as features.  That is
    interpolation between known sites, not geology; labelled so everywhere it shows."""
    brownfields_km: list[float] = field(default_factory=lambda: [2.0, 5.0, 10.0, 25.0])
    """Kernel radii of the brownfields features."""
    targets: Literal["commodity", "critical", "all"] = "commodity"
    """Which known sites the model learns from (the commodity focus narrows it further)."""
    n_estimators: int = 200
    """Boosting rounds."""
    learning_rate: float = 0.05
    num_leaves: int = 5
    """Leaves per tree (small trees: a few interactions, little room to fit noise)."""
    min_child_samples: int = 100
    max_background: int = 50_000
    """Unlabelled parcels sampled as background (all of them when fewer)."""
    folds: int = 5
    """Spatial-block fold models behind the uncertainty band and the model card's CV."""
    block_km: float = 25.0
    """Block side of those folds."""


@dataclass
class Config:
    """Everything a run needs besides the region."""

    list_year: int = 2025
    work_crs: str | None = None
    """Override the region's work CRS."""
    seed: int = 20251107
    open_agencies: list[str] = field(default_factory=lambda: ["BLM", "USFS"])
    """Federal agencies whose land is open to mineral location unless withdrawn."""
    parcels: ParcelConfig = field(default_factory=ParcelConfig)
    value: ValueConfig = field(default_factory=ValueConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    model: ModelConfig = field(default_factory=ModelConfig)

    def validate(self) -> Config:
        """Check values; raise one :class:`ConfigError` listing every problem."""
        problems: list[str] = []
        if self.score.ahp:
            from prospector.analysis.ahp import weights_from_judgements

            try:
                result = weights_from_judgements(
                    self.score.ahp, ["value", "access", "evidence"], force=self.score.ahp_force
                )
            except ConfigError as exc:
                problems.append(f"score.ahp: {exc}")
            else:
                self.score.weights = {k: float(v) for k, v in result.weights.items()}
        _check_weights(self.score.weights, "score.weights", problems, need_positive=True)
        _check_weights(self.score.access_weights, "score.access_weights", problems)
        _check_weights(self.value.status_weights, "value.status_weights", problems)
        _check_weights(self.value.group_weights, "value.group_weights", problems)
        _check_weights(self.value.commodity_weights, "value.commodity_weights", problems)
        _check_weights(self.access.decay_km, "access.decay_km", problems, strictly=True)
        for name, value in [
            ("parcels.cell_m", self.parcels.cell_m),
            ("value.radius_km", self.value.radius_km),
            ("evidence.decay_km", self.evidence.decay_km),
            ("access.search_km", self.access.search_km),
        ]:
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                problems.append(f"{name} must be a positive number; got {value!r}.")
        _check_weights(self.model.weights, "model.weights", problems, need_positive=True)
        for key in sorted(set(self.model.weights) - {"prospectivity", "access"}):
            problems.append(
                f"model.weights: unknown family {key!r}."
                f"{did_you_mean(key, ['prospectivity', 'access'])} Allowed: prospectivity, access."
            )
        for name, value in [
            ("model.learning_rate", self.model.learning_rate),
            ("model.block_km", self.model.block_km),
            *((f"model.brownfields_km[{i}]", r) for i, r in enumerate(self.model.brownfields_km)),
        ]:
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                problems.append(f"{name} must be a positive number; got {value!r}.")
        for name, count, least in [
            ("model.n_estimators", self.model.n_estimators, 1),
            ("model.num_leaves", self.model.num_leaves, 2),
            ("model.min_child_samples", self.model.min_child_samples, 1),
            ("model.max_background", self.model.max_background, 10),
            ("model.folds", self.model.folds, 2),
        ]:
            if not (isinstance(count, int) and not isinstance(count, bool) and count >= least):
                problems.append(f"{name} must be an integer >= {least}; got {count!r}.")
        dedupe = self.value.dedupe_m
        if not (
            isinstance(dedupe, (int, float))
            and not isinstance(dedupe, bool)
            and math.isfinite(dedupe)
            and dedupe >= 0
        ):
            problems.append(f"value.dedupe_m must be a number of metres >= 0; got {dedupe!r}.")
        for name, direction in self.evidence.raster_direction.items():
            if direction not in ("high", "low"):
                problems.append(
                    f"evidence.raster_direction.{name} must be 'high' or 'low'; got {direction!r}."
                )
        unknown = set(self.score.weights) - {"value", "access", "evidence"}
        for key in sorted(unknown):
            problems.append(
                f"score.weights: unknown criterion family {key!r}."
                f"{did_you_mean(key, ['value', 'access', 'evidence'])}"
            )
        if not 0.0 <= self.score.gamma <= 1.0:
            problems.append(f"score.gamma must be in [0, 1]; got {self.score.gamma!r}.")
        if problems:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
        return self


def _check_weights(
    weights: dict[str, float],
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
    if (
        need_positive
        and weights
        and all(isinstance(v, (int, float)) and v == 0 for v in weights.values())
    ):
        problems.append(f"{name}: all weights are zero; give at least one a positive weight.")


def _build(cls: type, data: dict[str, Any], where: str, problems: list[str]) -> Any:
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            problems.append(
                f"{where}: unknown key {key!r}.{did_you_mean(key, names)} "
                f"Allowed: {', '.join(names)}."
            )
            continue
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                problems.append(f"{where}.{key} must be a table; got {value!r}.")
                continue
            kwargs[key] = _build(hint, value, f"{where}.{key}", problems)  # type: ignore[arg-type]
            continue
        if get_origin(hint) is Literal and value not in get_args(hint):
            choices = [str(c) for c in get_args(hint)]
            problems.append(
                f"{where}.{key} must be one of {', '.join(choices)}; got {value!r}."
                f"{did_you_mean(str(value), choices)}"
            )
            continue
        kwargs[key] = value
    return cls(**kwargs)


def load_config(source: str | Path | dict[str, Any] | None = None) -> Config:
    """Load a :class:`Config` from a TOML file, a dict, or defaults (None).

    Every problem (unknown keys with suggestions, bad choices, bad weights) is reported
    at once in a :class:`~prospector.errors.ConfigError`.
    """
    if source is None:
        return Config().validate()
    where = "config"
    if isinstance(source, dict):
        data = source
    else:
        path = Path(source)
        where = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc}). Fix the syntax.") from exc
    problems: list[str] = []
    config = _build(Config, data, where, problems)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config.validate()


def config_to_dict(config: Config) -> dict[str, Any]:
    """Return the effective configuration as plain data (for manifests)."""
    return dataclasses.asdict(config)
