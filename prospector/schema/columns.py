"""Canonical schemas: the one vocabulary of column names used everywhere.

Every loader maps a publisher's fields onto these columns, every analysis step
reads and writes them, and every renderer and exporter relies on them.  The
tables here are also the documentation (``docs/schemas.md`` is generated from
the same definitions by :func:`schemas_markdown`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "AGENCIES",
    "DEV_STATUSES",
    "LAND_STATUSES",
    "PARCEL_COLUMNS",
    "ROLES",
    "SCHEMAS",
    "WITHDRAWAL_KINDS",
    "Column",
    "RoleSchema",
    "schemas_markdown",
]

Role = Literal["deposits", "land", "withdrawals", "claims", "access", "evidence", "parcels"]

#: Layer roles a catalogue entry can have (``raster`` layers are described separately).
ROLES: tuple[str, ...] = (
    "deposits",
    "land",
    "withdrawals",
    "claims",
    "access",
    "evidence",
    "parcels",
    "raster",
)

DEV_STATUSES: tuple[str, ...] = ("producer", "past_producer", "prospect", "occurrence", "unknown")
AGENCIES: tuple[str, ...] = (
    "BLM",
    "USFS",
    "NPS",
    "FWS",
    "DOD",
    "DOE",
    "BOR",
    "BIA",
    "OTHER_FED",
    "STATE",
    "LOCAL",
    "PRIVATE",
    "TRIBAL",
    "OTHER",
)
FEDERAL_AGENCIES: frozenset[str] = frozenset(
    {"BLM", "USFS", "NPS", "FWS", "DOD", "DOE", "BOR", "OTHER_FED"}
)
WITHDRAWAL_KINDS: tuple[str, ...] = (
    "wilderness",
    "wsa",
    "nps",
    "gap12",
    "military",
    "monument",
    "plo",
    "acec",
    "other",
)
CLAIM_DISPOSITIONS: tuple[str, ...] = ("active", "filed", "closed")
ACCESS_KINDS: tuple[str, ...] = ("road", "rail", "power")
LAND_STATUSES: tuple[str, ...] = (
    "open",
    "partly_open",
    "restricted",
    "verify_boundary",
    "closed",
    "unknown",
)


@dataclass(frozen=True)
class Column:
    """One canonical column."""

    name: str
    dtype: Literal["str", "int", "float", "bool", "list[str]"]
    description: str
    required: bool = True
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RoleSchema:
    """Canonical schema of one layer role."""

    role: str
    geometry: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str
    unique: tuple[str, ...] = field(default_factory=tuple)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in canonical order (geometry last)."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        """Return the column called *name*."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _source(what: str) -> Column:
    return Column("source", "str", f"Dataset the {what} came from.")


_POLY = ("Polygon", "MultiPolygon")
_LINE = ("LineString", "MultiLineString")

_ROLES: tuple[RoleSchema, ...] = (
    RoleSchema(
        role="deposits",
        geometry=("Point",),
        description="Known mineral sites: mines, prospects and occurrences.",
        unique=("site_id",),
        columns=(
            Column(
                "site_id", "str", "Identifier, unique within the layer (source prefix + record id)."
            ),
            Column("name", "str", "Site name as published.", required=False),
            Column(
                "commodities", "list[str]", "Canonical commodity names (see docs/commodities.md)."
            ),
            Column("commodity_codes", "str", "Commodity codes exactly as published."),
            Column("dev_status", "str", "Development status.", allowed=DEV_STATUSES),
            _source("record"),
        ),
    ),
    RoleSchema(
        role="land",
        geometry=_POLY,
        description="Surface management / ownership polygons (BLM SMA, PAD-US, National Atlas).",
        columns=(
            Column("agency", "str", "Managing agency.", allowed=AGENCIES),
            Column("federal", "bool", "True when a federal agency manages the surface."),
            Column("unit_name", "str", "Administrative unit name.", required=False),
            _source("polygon"),
        ),
    ),
    RoleSchema(
        role="withdrawals",
        geometry=_POLY,
        description="Areas withdrawn from mineral entry (wilderness, NPS units, PAD-US GAP 1-2...).",
        columns=(
            Column("name", "str", "Name of the withdrawn area."),
            Column("kind", "str", "Kind of withdrawal.", allowed=WITHDRAWAL_KINDS),
            Column("agency", "str", "Managing agency.", required=False, allowed=AGENCIES),
            _source("polygon"),
        ),
    ),
    RoleSchema(
        role="claims",
        geometry=_POLY,
        description="Mining claims (BLM MLRS).",
        columns=(
            Column("serial", "str", "Case serial number."),
            Column("disposition", "str", "Case disposition.", allowed=CLAIM_DISPOSITIONS),
            Column("claim_type", "str", "Lode, placer, mill site, tunnel site.", required=False),
            _source("claim"),
        ),
    ),
    RoleSchema(
        role="access",
        geometry=_LINE,
        description="Access features: roads, railways and power lines.",
        columns=(
            Column("kind", "str", "Kind of feature.", allowed=ACCESS_KINDS),
            Column(
                "class",
                "str",
                "Class within the kind (primary, secondary, local, track; rail; kV band).",
                required=False,
            ),
            Column("name", "str", "Feature name.", required=False),
            _source("feature"),
        ),
    ),
    RoleSchema(
        role="evidence",
        geometry=_LINE + _POLY + ("Point", "MultiPoint"),
        description="Vector geological evidence: faults, contacts, intrusions, alteration.",
        columns=(
            Column("kind", "str", "Kind of evidence, e.g. fault, contact, intrusion."),
            Column("name", "str", "Feature name.", required=False),
            Column("weight", "float", "Relative strength (e.g. slip rate); 1 when unknown."),
            _source("feature"),
        ),
    ),
    RoleSchema(
        role="parcels",
        geometry=_POLY,
        description="Units to rank, when given instead of a grid (PLSS sections, SMA polygons...).",
        unique=("parcel_id",),
        columns=(Column("parcel_id", "str", "Identifier preserved from the source."),),
    ),
)

#: Canonical schema of every layer role, by role.
SCHEMAS: dict[str, RoleSchema] = {schema.role: schema for schema in _ROLES}

#: Columns of the ranked ``parcels`` output layer, in order, with their meaning.
PARCEL_COLUMNS: dict[str, str] = {
    "parcel_id": "Parcel identifier (grid: 'row_col' in the work CRS grid; given parcels: source id).",
    "rank": "1 = best; ranks are 1..N without gaps over ranked parcels.",
    "score": "Combined score in [0, 1].",
    "score_value": "Mineral-value criterion in [0, 1].",
    "score_access": "Access criterion in [0, 1].",
    "score_evidence": "Geological-evidence criterion in [0, 1].",
    "area_km2": "Parcel area in the equal-area work CRS.",
    "federal_frac": "Fraction of area managed by a federal agency (NaN: no land layer).",
    "withdrawn_frac": "Fraction of area withdrawn from mineral entry.",
    "claimed_frac": "Fraction of area under active or filed mining claims (NaN: no claims layer).",
    "open_frac": "Fraction federal, not withdrawn and not claimed (NaN: unknown).",
    "land_status": (
        "open | partly_open | restricted | verify_boundary | closed | unknown; verify_boundary: "
        "closed only by a boundary coarser than the parcel (see status_reason)."
    ),
    "status_reason": "Why the status is what it is (e.g. which layer is missing).",
    "agency": "Majority managing agency by area ('' when unknown).",
    "withdrawals": "Names of withdrawn areas touching the parcel, '; '-joined.",
    "n_active_claims": "Active or filed claims touching the parcel (empty: no claims layer, unknown).",
    "n_deposits": "Known sites inside the parcel.",
    "n_critical_deposits": "Sites inside the parcel with at least one critical commodity.",
    "commodities": "Canonical commodities of the sites inside, '; '-joined, sorted.",
    "critical_commodities": "The critical ones among them (list year in the manifest).",
    "value_raw": (
        "Deposit value before normalisation: kernel-weighted site weights, best first with a "
        "geometric discount (value.aggregate; docs/value.md)."
    ),
    "value_site": "Name of the site contributing most to value_raw ('' when none).",
    "value_basis": "What made that site significant (compilation, sources, size; '' if none).",
    "dist_rail_km": "Distance to the nearest railway (NaN: no rail layer or beyond search radius).",
    "dist_road_km": "Distance to the nearest road.",
    "dist_power_km": "Distance to the nearest power line.",
    "dist_fault_km": "Distance to the nearest evidence fault.",
    "evidence_density": (
        "Weight × length of evidence lines (km) per km² within evidence.density_radius_km "
        "(biweight kernel); for the sample faults the weight is the slip rate in mm/yr."
    ),
    "slope_mean_deg": "Mean slope from the DEM (NaN outside DEM coverage).",
    "travel_cost_km": (
        "Mean least-cost travel from the nearest road over the DEM, in km of flat walking "
        "(only with access.travel_cost; NaN outside the DEM or where unreachable)."
    ),
    "why": "One-sentence explanation of the rank.",
}


def schemas_markdown() -> str:
    """Render the canonical schemas as a Markdown document."""
    lines = [
        "# Canonical schemas",
        "",
        "Generated from `prospector/schema/columns.py` (regenerate with "
        "`python -m prospector.schema.docs`; a test checks it is current).",
        "",
        "Every layer a region lists is mapped onto the schema of its role on the way in "
        "(`prospector.ingest`): a catalogue entry (`layers/catalog/NAME.toml`) maps published "
        "fields and codes onto these columns; a file given by `role` alone must already use "
        "them. `prospector layers check FILE --as ROLE [--source NAME]` checks one file the "
        "way a run loads it, and names the catalogue source whose fields the file has when "
        "it lacks the canonical columns.",
        "",
    ]
    for schema in SCHEMAS.values():
        lines += [
            f"## `{schema.role}`",
            "",
            schema.description,
            "",
            f"Geometry: {', '.join(schema.geometry)}.",
            "",
            "| column | type | required | meaning | allowed values |",
            "|---|---|---|---|---|",
        ]
        for c in schema.columns:
            allowed = ", ".join(c.allowed) if c.allowed else ""
            lines.append(
                f"| `{c.name}` | {c.dtype} | {'yes' if c.required else 'no'} | "
                f"{c.description} | {allowed} |"
            )
        lines.append("")
    lines += ["## `parcels` (ranked output)", "", "| column | meaning |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in PARCEL_COLUMNS.items()]
    return "\n".join(lines) + "\n"
