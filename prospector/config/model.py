"""The configuration dataclasses: every key, its default and its meaning, in one place.

Each field's docstring (the string literal under it) is its documentation: ``docs/config.md``
is generated from them (:func:`prospector.config.config_reference`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from prospector.config.ahp import weights_from_judgements
from prospector.config.checks import config_problems, raise_problems
from prospector.config.families import ACCESS_CRITERIA, MODEL_FAMILIES, SCORE_FAMILIES
from prospector.config.overrides import apply_overrides
from prospector.schema.commodities import DEFAULT_GROUP_WEIGHTS

__all__ = [
    "ACCESS_CRITERIA",
    "MILE_M",
    "MODEL_FAMILIES",
    "SCORE_FAMILIES",
    "AccessConfig",
    "Config",
    "EvidenceConfig",
    "ModelConfig",
    "ParcelConfig",
    "ScoreConfig",
    "TargetConfig",
    "ValueConfig",
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
    """Intersections smaller than this (m²) are ignored (slivers from generalised layers)."""
    max_parcels: int = 0
    """Refuse a run estimated (from the region's area, before anything is built) to make more
    parcels than this; 0: as many as fit in the memory available. Set it to run a larger
    grid anyway."""


@dataclass
class ValueConfig:
    """Mineral value from known deposits."""

    radius_km: float = 5.0
    """Kernel radius: deposits farther than this from a parcel add nothing."""
    kernel: Literal["biweight", "gaussian", "uniform"] = "biweight"
    """Distance-decay kernel: ``biweight`` (1 − u²)², ``gaussian`` (σ = radius / 3, cut at
    the radius) or ``uniform`` (1 within the radius)."""
    critical_weight: float = 1.0
    """Weight of a site's critical commodities (list year from ``list_year``)."""
    noncritical_weight: float = 0.4
    """Weight of a site's non-critical commodities (before group weights)."""
    diversity_bonus: float = 0.1
    """Extra weight per additional critical commodity at a site (capped at +50 %)."""
    status_weights: dict[str, float] = field(default_factory=_status_weights)
    """Weight of a site by development status; keys are statuses."""
    group_weights: dict[str, float] = field(default_factory=_group_weights)
    """Multiplier of a commodity's weight by commodity group; keys are groups."""
    commodity_weights: dict[str, float] = field(default_factory=dict)
    """Per-commodity overrides replacing the computed commodity weight; keys are canonical
    commodity names (docs/commodities.md)."""
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
    """Distance at which the access criterion falls to 1/e (≈0.37) of its maximum, per kind
    of infrastructure (the travel criterion uses ``road``'s)."""
    search_km: float = 200.0
    """Beyond this, distance is reported as NaN and the criterion is 0."""
    road_classes: list[str] = field(default_factory=list)
    """Road classes that count (empty: all), as in the access layer's ``class`` column."""
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
    """Combination: weighted linear combination, fuzzy gamma overlay, TOPSIS, or ``model``:
    learned prospectivity combined with access by ``model.weights`` (docs/model.md)."""
    normalise: Literal["minmax", "rank", "z"] = "minmax"
    """Rescaling of each criterion to [0, 1]: min-max, percentile rank or normal CDF of the
    z-score."""
    gamma: float = 0.8
    """Exponent of the fuzzy gamma overlay (``method = "gamma"``), in [0, 1]."""
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
    """Use the AHP weights even when the judgements are inconsistent (CR > 0.1)."""
    status: Literal["any", "open", "not_closed"] = "not_closed"
    """Which parcels are ranked: all, only open/partly open ones, or all but closed ones."""

    def family_weights(self) -> dict[str, float]:
        """Return the weights of the criterion families: from ``ahp`` when given, else ``weights``.

        Pure: the configuration is not changed.

        Raises
        ------
        prospector.errors.ConfigError
            When the AHP judgements are invalid or too inconsistent (not after
            :meth:`Config.validate`).
        """
        if not self.ahp:
            return dict(self.weights)
        result = weights_from_judgements(self.ahp, SCORE_FAMILIES, force=self.ahp_force)
        return {k: float(v) for k, v in result.weights.items()}


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
class ModelConfig:
    """Learned prospectivity (:mod:`prospector.analysis.model`, docs/model.md).

    With ``score.method = "model"`` a ranking run fits the model on the region's known sites
    and scores parcels by ``model.weights``: prospectivity and access.  ``prospector
    validate`` refits it on each fold's training sites (``variants.model``).
    """

    weights: dict[str, float] = field(
        default_factory=lambda: {"prospectivity": 0.75, "access": 0.25}
    )
    """Families of the decision score of ``score.method = "model"``: learned prospectivity
    and access (split by ``score.access_weights``); renormalised to sum 1."""
    folds: int = 5
    """Fold models of a ranking run (uncertainty band, model card's cross-validation)."""
    block_km: float = 25.0
    """Side of the square spatial blocks dealt into the run's folds."""
    explain_parcels: int = 100_000
    """The uncertainty band (``prospectivity_lo`` / ``_hi``), TreeSHAP contributions
    (``shap_<feature>``) and reasons are computed for this many parcels of highest
    prospectivity (every parcel when fewer); the others get none (NaN)."""
    learn_from: Literal["critical", "commodity"] = "critical"
    """Known sites the model of a ranking run learns from when no commodity focus is set:
    ``"critical"``, sites with a commodity on the critical-minerals list of ``list_year``
    (a tool for critical minerals should not learn where gravel pits are); ``"commodity"``,
    every site with an identified commodity.  With a focus (``value.focus_*``) it learns
    from the focus commodities' sites."""
    brownfields: bool = False
    """Also validate ``variants.model_brownfields``: the model with kernel densities of the
    known sites at ``brownfields_km`` as features.  That is interpolation between known sites,
    not geology; labelled so everywhere it shows."""
    brownfields_km: list[float] = field(default_factory=lambda: [2.0, 5.0, 10.0, 25.0, 50.0, 100.0])
    """Kernel radii of the brownfields features (local camps up to regional mineral belts)."""
    n_estimators: int = 200
    """Boosting rounds."""
    learning_rate: float = 0.05
    """Shrinkage of each boosting round."""
    num_leaves: int = 5
    """Leaves per tree (small trees: a few interactions, little room to fit noise)."""
    min_child_samples: int = 100
    """Fewest parcels in a leaf."""
    max_background: int = 50_000
    """Unlabelled parcels sampled as background (all of them when fewer)."""


@dataclass
class Config:
    """Everything a run needs besides the region."""

    list_year: int = 2025
    """Year of the USGS List of Critical Minerals deciding which commodities are critical."""
    work_crs: str | None = None
    """Override the region's work CRS (any pyproj input, e.g. ``"EPSG:5070"``)."""
    seed: int = 20251107
    """Seed of every random step (reproducible runs)."""
    open_agencies: list[str] = field(default_factory=lambda: ["BLM", "USFS"])
    """Federal agencies whose land is open to mineral location unless withdrawn."""
    parcels: ParcelConfig = field(default_factory=ParcelConfig)
    value: ValueConfig = field(default_factory=ValueConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    evidence: EvidenceConfig = field(default_factory=EvidenceConfig)
    score: ScoreConfig = field(default_factory=ScoreConfig)
    targets: TargetConfig = field(default_factory=TargetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)

    def validate(self) -> Config:
        """Check every value and name; return this configuration, unchanged.

        Raises
        ------
        prospector.errors.ConfigError
            Listing every problem at once.
        """
        raise_problems(config_problems(self))
        return self

    def with_overrides(self, overrides: Mapping[str, Any]) -> Config:
        """Return a validated copy with dotted keys replaced, e.g. ``{"score.status": "open"}``.

        A table value (``{"value.group_weights": {"battery": 0.5}}``) overrides only the keys
        it gives, as in a TOML file.  This configuration is not changed.

        Raises
        ------
        prospector.errors.ConfigError
            Naming unknown keys (with a suggestion) and every invalid value.
        """
        return apply_overrides(self, overrides)
