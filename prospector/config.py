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
from prospector.schema.commodities import DEFAULT_GROUP_WEIGHTS

__all__ = [
    "AccessConfig",
    "Config",
    "EvidenceConfig",
    "ParcelConfig",
    "ScoreConfig",
    "TargetConfig",
    "ValueConfig",
    "config_to_dict",
    "load_config",
    "with_focus",
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
    # Multiplies the commodity weight; defaults and reasons in prospector.schema.commodities
    # (DEFAULT_GROUP_WEIGHTS) and docs/commodities.md.
    return dict(DEFAULT_GROUP_WEIGHTS)


def _significance_sources() -> dict[str, float]:
    # USGS compilations of significant deposits, matched against a site's `source` (shell
    # patterns): the major-deposits database and Professional Paper 1802's critical-mineral
    # deposits.  Membership doubles a site's weight.
    return {"*major_deposits*": 1.0, "*pp1802*": 1.0}


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
    commodity_weighting: Literal["criticality", "import_reliance"] = "criticality"
    """How a commodity's weight is set before group weights: by membership of the critical
    list (``critical_weight`` / ``noncritical_weight``), or by U.S. net import reliance
    (USGS Mineral Commodity Summaries 2025): ``import_floor + (1 - import_floor) × share``."""
    import_floor: float = 0.1
    """Commodity factor at 0 % net import reliance (``commodity_weighting = "import_reliance"``)."""
    unknown_import_reliance: float = 0.0
    """Net import reliance (percent) assumed for commodities the bundled table does not list."""
    focus_commodities: list[str] = field(default_factory=list)
    """Commodity focus: canonical names or published aliases (``["tungsten"]``); empty = all."""
    focus_groups: list[str] = field(default_factory=list)
    """Commodity focus by scoring group (``["battery"]``); adds every member commodity."""
    off_focus_weight: float = 0.0
    """Factor on the weight of commodities outside the focus (0: only the focus counts)."""
    nearby_factor: float = 0.3
    """Factor on the kernel weight of sites outside the parcel (1: no preference for the
    parcel holding the site; the kernel alone gives its neighbours ~95 % of its value)."""
    aggregate: Literal["discounted", "sum"] = "discounted"
    """How the kernel-weighted sites near a parcel add up: ``"discounted"`` takes the best
    site in full, the second times ``discount``, the third times ``discount²``... (many records
    of one camp cannot outweigh one significant deposit); ``"sum"`` adds them all."""
    discount: float = 0.5
    """Geometric discount of the 2nd, 3rd... best site (``aggregate = "discounted"``)."""
    significance_sources: dict[str, float] = field(default_factory=_significance_sources)
    """Compilations of significant deposits, as shell patterns on a site's ``source``: a site
    in one gets ``× (1 + bonus)`` (the largest bonus when several match)."""
    corroboration_bonus: float = 0.5
    """Extra weight per additional independent source of a merged site (``n_sources``)."""
    corroboration_cap: int = 2
    """At most this many additional sources count (default: up to × 2)."""
    size_weights: dict[str, float] = field(
        default_factory=lambda: {"large": 2.0, "medium": 1.5, "small": 1.0, "unknown": 1.0}
    )
    """Factor by published deposit size, when the deposits carry a ``size`` column."""


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

    method: Literal["wlc", "gamma", "topsis"] = "wlc"
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


@dataclass
class TargetConfig:
    """How high-scoring parcels are merged into target areas."""

    top_percent: float = 2.0
    """Cells ranked in the top this-many percent of ranked parcels are high-scoring."""
    min_cells: int = 50
    """At least this many of the best-ranked cells are high-scoring (small regions)."""
    min_score: float = 0.0
    """High-scoring cells must also score at least this (0: no score threshold)."""
    adjacency: Literal["queen", "rook"] = "queen"
    """Cells sharing an edge or a corner (queen) or only an edge (rook) are contiguous."""
    gap_m: float = 0.0
    """Cells up to this distance apart (metres) also join one target (bridges small gaps)."""
    rank_by: Literal["best", "sum"] = "best"
    """Rank targets by their best cell's score or by the summed score of their cells."""

    def problems(self) -> list[str]:
        """Return one message per invalid setting (empty when valid)."""
        problems: list[str] = []
        numbers = {
            "top_percent": self.top_percent,
            "gap_m": self.gap_m,
            "min_score": self.min_score,
        }
        for name, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"targets.{name} must be a number; got {value!r}.")
        if problems:
            return problems
        if not (0.0 < self.top_percent <= 100.0):
            problems.append(f"targets.top_percent must be in (0, 100]; got {self.top_percent!r}.")
        if not isinstance(self.min_cells, int) or self.min_cells < 1:
            problems.append(f"targets.min_cells must be an integer >= 1; got {self.min_cells!r}.")
        if not math.isfinite(self.gap_m) or self.gap_m < 0:
            problems.append(f"targets.gap_m must be a finite number >= 0; got {self.gap_m!r}.")
        if not math.isfinite(self.min_score):
            problems.append(f"targets.min_score must be finite; got {self.min_score!r}.")
        if self.adjacency not in ("queen", "rook"):
            problems.append(f"targets.adjacency must be 'queen' or 'rook'; got {self.adjacency!r}.")
        if self.rank_by not in ("best", "sum"):
            problems.append(f"targets.rank_by must be 'best' or 'sum'; got {self.rank_by!r}.")
        return problems


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
    targets: TargetConfig = field(default_factory=TargetConfig)

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
        _check_weights(self.value.significance_sources, "value.significance_sources", problems)
        _check_weights(self.value.size_weights, "value.size_weights", problems)
        for name, value, low, high in [
            ("value.import_floor", self.value.import_floor, 0.0, 1.0),
            ("value.unknown_import_reliance", self.value.unknown_import_reliance, 0.0, 100.0),
            ("value.off_focus_weight", self.value.off_focus_weight, 0.0, 1.0),
            ("value.discount", self.value.discount, 0.0, 1.0),
            ("value.nearby_factor", self.value.nearby_factor, 0.0, 1.0),
            ("value.corroboration_bonus", self.value.corroboration_bonus, 0.0, 10.0),
        ]:
            if not (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and low <= value <= high
            ):
                problems.append(f"{name} must be a number in [{low:g}, {high:g}]; got {value!r}.")
        if not isinstance(self.value.corroboration_cap, int) or self.value.corroboration_cap < 0:
            problems.append(
                f"value.corroboration_cap must be an integer >= 0; "
                f"got {self.value.corroboration_cap!r}."
            )
        if self.value.focus_commodities or self.value.focus_groups:
            from prospector.schema.commodities import load_vocabulary, resolve_focus

            try:
                resolve_focus(
                    self.value.focus_commodities,
                    self.value.focus_groups,
                    vocabulary=load_vocabulary(self.list_year),
                )
            except ConfigError as exc:
                problems.append(f"value.focus: {exc}")
        _check_weights(self.access.decay_km, "access.decay_km", problems, strictly=True)
        for name, value in [
            ("parcels.cell_m", self.parcels.cell_m),
            ("value.radius_km", self.value.radius_km),
            ("evidence.decay_km", self.evidence.decay_km),
            ("access.search_km", self.access.search_km),
        ]:
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                problems.append(f"{name} must be a positive number; got {value!r}.")
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
        problems += self.targets.problems()
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


def with_focus(config: Config, commodities: str | None = None, groups: str | None = None) -> Config:
    """Return *config* with a commodity focus (comma-separated names / groups), validated.

    ``None`` leaves that part of the configured focus as it is; a given value replaces it.
    Unknown names raise :class:`~prospector.errors.ConfigError` with a "did you mean".
    """
    if commodities is None and groups is None:
        return config

    def split(text: str | None, current: list[str]) -> list[str]:
        return current if text is None else [p.strip() for p in text.split(",") if p.strip()]

    value = dataclasses.replace(
        config.value,
        focus_commodities=split(commodities, config.value.focus_commodities),
        focus_groups=split(groups, config.value.focus_groups),
    )
    return dataclasses.replace(config, value=value).validate()
