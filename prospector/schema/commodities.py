"""Commodity vocabulary: published codes and names → canonical commodities.

The vocabulary lives in ``data/commodities.toml``, the criticality in
``data/usgs_critical_minerals.csv`` (USGS List of Critical Minerals 2018, 2022
and 2025) and U.S. net import reliance in ``data/mcs2025_import_reliance.csv``
(USGS Mineral Commodity Summaries 2025, figure 2).  Codes that cannot be mapped are
counted and reported by :func:`parse_commodities`, never silently dropped.
:func:`resolve_focus` turns a user's commodity focus (names and groups) into canonical
commodities.
"""

from __future__ import annotations

import csv
import difflib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from prospector._compat import tomllib
from prospector.errors import ConfigError

__all__ = [
    "COMMODITY_GROUPS",
    "DEFAULT_GROUP_WEIGHTS",
    "GROUP_DESCRIPTIONS",
    "IMPORT_RELIANCE_SOURCE",
    "LIST_YEARS",
    "CommodityVocabulary",
    "ImportReliance",
    "ParsedCommodities",
    "load_import_reliance",
    "load_vocabulary",
    "parse_commodities",
    "resolve_focus",
]

#: List years of the USGS List of Critical Minerals that Prospector knows.
LIST_YEARS: tuple[int, ...] = (2018, 2022, 2025)

#: Scoring groups, from most to least exploration-relevant by default.  A site's group is
#: that of its best-weighted commodity; equal weights go to the group listed first here.
COMMODITY_GROUPS: tuple[str, ...] = (
    "ree",
    "battery",
    "pgm",
    "specialty",
    "base",
    "precious",
    "energy",
    "fertilizer",
    "industrial",
    "bulk",
)

#: Default weight of each group (``value.group_weights``; docs/commodities.md explains them).
#: Bulk construction materials (sand & gravel, stone, clay, limestone, cinders) are worth ~1/50
#: of a critical metal site so thousands of gravel pits cannot swamp a handful of critical
#: sites.
DEFAULT_GROUP_WEIGHTS: dict[str, float] = {
    "ree": 1.0,
    "battery": 1.0,
    "pgm": 1.0,
    "specialty": 0.8,
    "base": 0.8,
    "precious": 0.7,
    "energy": 0.8,
    "fertilizer": 0.8,
    "industrial": 0.3,
    "bulk": 0.02,
}

#: One line per group, for docs and ``--group`` help.
GROUP_DESCRIPTIONS: dict[str, str] = {
    "ree": "rare earth elements (the lanthanides, yttrium) and the `rare_earths` group name",
    "battery": "battery metals: lithium, cobalt, nickel, manganese, graphite",
    "pgm": "platinum-group metals",
    "specialty": "specialty and technology metals, mostly by-products: gallium, germanium, "
    "indium, tellurium, beryllium, tungsten, antimony, niobium, tantalum...",
    "base": "base metals: copper, lead, zinc, tin, molybdenum, iron, cadmium",
    "precious": "gold and silver",
    "energy": "uranium, vanadium, thorium, helium, coal, geothermal",
    "fertilizer": "potash and phosphate (both critical in 2025)",
    "industrial": "industrial minerals: barite, fluorspar, boron, gypsum, salt, zeolites...",
    "bulk": "bulk construction materials: sand and gravel, stone, clay, limestone, cinders",
}

#: Where the bundled import-reliance figures come from (printed in docs and manifests).
IMPORT_RELIANCE_SOURCE = (
    "USGS Mineral Commodity Summaries 2025 (doi:10.3133/mcs2025), figure 2: 2024 U.S. net "
    "import reliance and major import sources 2020-23"
)

_SPLIT_LISTS = re.compile(r"[;,|]")
_SPLIT_TOKENS = re.compile(r"\s+")


@dataclass(frozen=True)
class CommodityVocabulary:
    """Canonical commodities, their aliases, groups and criticality for one list year."""

    list_year: int
    groups: dict[str, str]
    aliases: dict[str, str]
    ignored: frozenset[str]
    critical: frozenset[str]
    compounds: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Published codes naming an ore of several commodities (``AL3`` alunite → Al, K)."""
    forms: frozenset[str] = frozenset()
    """Tokens naming a deposit form, not a commodity (``BRI`` brine)."""

    def lookup(self, token: str) -> str | None:
        """Return the canonical commodity for a published *token*, or None."""
        return self.aliases.get(token.strip().lower())

    def lookup_all(self, token: str) -> tuple[str, ...]:
        """Return every canonical commodity a published *token* names (empty if none)."""
        key = token.strip().lower()
        one = self.aliases.get(key)
        if one is not None:
            return (one,)
        return self.compounds.get(key, ())

    def members(self, group: str) -> frozenset[str]:
        """Return the canonical commodities of scoring *group*."""
        return frozenset(c for c, g in self.groups.items() if g == group)

    def is_critical(self, commodity: str) -> bool:
        """Return True when *commodity* is on the critical-minerals list of this year."""
        return commodity in self.critical


@dataclass
class ParsedCommodities:
    """Result of parsing a column of published commodity codes."""

    commodities: list[list[str]]
    unmapped: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)

    @property
    def n_unmapped(self) -> int:
        """Number of unmapped code occurrences."""
        return sum(self.unmapped.values())

    def summary(self, limit: int = 12) -> str:
        """Describe the unmapped codes in one line (most frequent first)."""
        if not self.unmapped:
            return "all commodity codes mapped"
        top = ", ".join(f"{code} ×{n}" for code, n in self.unmapped.most_common(limit))
        more = len(self.unmapped) - limit
        tail = f" and {more} more" if more > 0 else ""
        return (
            f"{self.n_unmapped} occurrences of {len(self.unmapped)} unmapped commodity codes "
            f"({top}{tail})"
        )


@lru_cache(maxsize=8)
def load_vocabulary(list_year: int = 2025) -> CommodityVocabulary:
    """Load the commodity vocabulary with criticality from the USGS list of *list_year*.

    Parameters
    ----------
    list_year
        Year of the USGS List of Critical Minerals: 2018, 2022 or 2025.

    Returns
    -------
    CommodityVocabulary
    """
    if list_year not in LIST_YEARS:
        raise ConfigError(
            f"list_year must be one of {', '.join(map(str, LIST_YEARS))}; got {list_year!r}. "
            "Set `list_year` in the config to a published USGS list year."
        )
    data = resources.files("prospector.schema").joinpath("data")
    spec = tomllib.loads(data.joinpath("commodities.toml").read_text(encoding="utf-8"))
    groups: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for name, entry in spec["commodity"].items():
        group = entry["group"]
        if group not in COMMODITY_GROUPS and group != "pgm":
            raise ConfigError(f"commodities.toml: unknown group {group!r} for {name!r}")
        groups[name] = group
        for alias in [name, name.replace("_", " "), *entry.get("aliases", [])]:
            key = alias.lower()
            if key in aliases and aliases[key] != name:
                raise ConfigError(
                    f"commodities.toml: alias {alias!r} maps to both {aliases[key]!r} and {name!r}"
                )
            aliases[key] = name
    compounds: dict[str, tuple[str, ...]] = {}
    for name, entry in spec.get("compound", {}).items():
        parts = tuple(entry["commodities"])
        if not parts or set(parts) - groups.keys():
            raise ConfigError(f"commodities.toml: compound {name!r} names unknown {parts!r}")
        for key in dict.fromkeys(a.lower() for a in [name, *entry.get("aliases", [])]):
            alias = key
            if key in aliases or key in compounds:
                raise ConfigError(f"commodities.toml: alias {alias!r} defined twice")
            compounds[key] = parts
    forms = frozenset(t.lower() for t in spec.get("forms", {}).get("tokens", []))
    ignored = frozenset(t.lower() for t in spec.get("ignore", {}).get("tokens", [])) | forms

    critical: set[str] = set()
    with data.joinpath("usgs_critical_minerals.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row[f"list_{list_year}"] == "1":
                critical.add(row["commodity"])
    # Group names count as critical when their members are (REE and PGM are listed per element).
    if any(groups.get(c) == "ree" for c in critical):
        critical.add("rare_earths")
    if any(groups.get(c) == "pgm" for c in critical):
        critical.add("platinum_group_metals")
    unknown = critical - groups.keys()
    if unknown:
        raise ConfigError(f"critical minerals missing from commodities.toml: {sorted(unknown)}")
    return CommodityVocabulary(
        list_year, groups, aliases, ignored, frozenset(critical), compounds, forms
    )


def parse_commodities(
    values: Iterable[object], vocabulary: CommodityVocabulary
) -> ParsedCommodities:
    """Parse published commodity strings into sorted lists of canonical commodities.

    Lists may be separated by ``;``, ``,`` or ``|`` (USGS) and codes inside a list item by
    whitespace (MRDS/UMOS: ``"AU AG"``).  A whole item is looked up first, so multi-word
    names (``"sand and gravel"``) map before being split.

    Parameters
    ----------
    values
        One published string (or None) per record.
    vocabulary
        Vocabulary from :func:`load_vocabulary`.

    Returns
    -------
    ParsedCommodities
        One sorted, de-duplicated list per record plus counters of unmapped and ignored codes.
    """
    out: list[list[str]] = []
    unmapped: Counter[str] = Counter()
    ignored: Counter[str] = Counter()
    cache: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}
    for value in values:
        if value is None or (isinstance(value, float) and value != value):
            out.append([])
            continue
        text = str(value)
        hit = cache.get(text)
        if hit is None:
            found: set[str] = set()
            bad: list[str] = []
            skip: list[str] = []
            for item in _SPLIT_LISTS.split(text):
                item = item.strip()
                if not item:
                    continue
                whole = vocabulary.lookup_all(item)
                if whole:
                    found.update(whole)
                    continue
                if item.lower() in vocabulary.ignored:
                    skip.append(item)
                    continue
                for token in _SPLIT_TOKENS.split(item):
                    canonical = vocabulary.lookup_all(token)
                    if canonical:
                        found.update(canonical)
                    elif token.lower() in vocabulary.ignored:
                        skip.append(token)
                    else:
                        bad.append(token)
            hit = (tuple(sorted(found)), tuple(bad), tuple(skip))
            cache[text] = hit
        out.append(list(hit[0]))
        unmapped.update(hit[1])
        ignored.update(hit[2])
    return ParsedCommodities(out, unmapped, ignored)


@dataclass(frozen=True)
class ImportReliance:
    """U.S. net import reliance of one commodity, as published."""

    commodity: str
    published: str
    """The figure as published: ``"100"``, ``">75"``, ``"<50"``."""
    percent: float
    """The number used: the published value; ``>x`` counts as x (a lower bound) and ``<x``
    as x / 2 (the middle of 0..x)."""
    sources: tuple[str, ...]
    """Major import sources, in descending order of import share."""
    mcs_commodity: str
    """The row of the publication the figure was read from."""

    @property
    def leading_source(self) -> str:
        """The leading import source ("" when none is listed)."""
        return self.sources[0] if self.sources else ""


@lru_cache(maxsize=1)
def load_import_reliance() -> dict[str, ImportReliance]:
    """Load the bundled U.S. net import reliance table (see :data:`IMPORT_RELIANCE_SOURCE`).

    Returns
    -------
    dict
        Canonical commodity → :class:`ImportReliance`.  Commodities the publication does
        not list are absent: their reliance is unknown.
    """
    data = resources.files("prospector.schema").joinpath("data/mcs2025_import_reliance.csv")
    text = data.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    out: dict[str, ImportReliance] = {}
    for row in csv.DictReader(lines):
        published = row["net_import_reliance_pct"].strip()
        value = float(published.lstrip("<>"))
        if published.startswith("<"):
            value /= 2.0
        sources = tuple(s.strip() for s in row["import_sources"].split(",") if s.strip())
        out[row["commodity"]] = ImportReliance(
            row["commodity"], published, value, sources, row["mcs_commodity"]
        )
    return out


def resolve_focus(
    commodities: Iterable[str] = (),
    groups: Iterable[str] = (),
    *,
    vocabulary: CommodityVocabulary | None = None,
) -> frozenset[str]:
    """Resolve a commodity focus into canonical commodity names.

    Parameters
    ----------
    commodities
        Commodity names or published aliases (``"tungsten"``, ``"W"``, ``"rare earths"``);
        a comma-separated string is split.
    groups
        Scoring groups (``"battery"``, ``"ree"``...; see :data:`COMMODITY_GROUPS`); every
        commodity of the group is included.
    vocabulary
        Vocabulary to resolve against (default: the 2025 vocabulary).

    Returns
    -------
    frozenset of str
        Canonical commodities; empty when nothing was asked (no focus).  Asking for
        ``rare_earths`` includes every REE and asking for a single REE includes
        ``rare_earths`` (sites published as "REE"), and likewise for the PGM.

    Raises
    ------
    ConfigError
        Listing every unknown name, each with a "did you mean".
    """
    vocabulary = vocabulary or load_vocabulary(2025)

    def split(values: Iterable[str] | str) -> list[str]:
        items = [values] if isinstance(values, str) else list(values)
        return [p.strip() for v in items for p in str(v).split(",") if p.strip()]

    found: set[str] = set()
    problems: list[str] = []
    names = sorted({*vocabulary.groups, *vocabulary.aliases})
    for name in split(commodities):
        hit = vocabulary.lookup_all(name)
        if not hit:
            problems.append(
                f"unknown commodity {name!r}.{_did_you_mean(name.lower(), names)} "
                "Commodities are listed in docs/commodities.md."
            )
        found.update(hit)
    for group in split(groups):
        key = group.lower()
        if key not in COMMODITY_GROUPS:
            problems.append(
                f"unknown commodity group {group!r}.{_did_you_mean(key, COMMODITY_GROUPS)} "
                f"Groups: {', '.join(COMMODITY_GROUPS)}."
            )
            continue
        found.update(vocabulary.members(key))
    if problems:
        raise ConfigError("commodity focus:\n  " + "\n  ".join(problems))
    for umbrella, group in (("rare_earths", "ree"), ("platinum_group_metals", "pgm")):
        members = vocabulary.members(group)
        if umbrella in found:
            found.update(members)
        elif found & members:
            found.add(umbrella)
    return frozenset(found)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest choice, or "" (schema/ imports no helpers)."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {match[0]!r}?" if match else ""
