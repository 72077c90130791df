"""Commodity vocabulary: published codes and names → canonical commodities.

The vocabulary lives in ``data/commodities.toml`` and the criticality in
``data/usgs_critical_minerals.csv`` (USGS List of Critical Minerals 2018, 2022
and 2025).  Codes that cannot be mapped are counted and reported by
:func:`parse_commodities`, never silently dropped.
"""

from __future__ import annotations

import csv
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
    "LIST_YEARS",
    "CommodityVocabulary",
    "ParsedCommodities",
    "load_vocabulary",
    "parse_commodities",
]

#: List years of the USGS List of Critical Minerals that Prospector knows.
LIST_YEARS: tuple[int, ...] = (2018, 2022, 2025)

#: Scoring groups, from most to least exploration-relevant by default.
COMMODITY_GROUPS: tuple[str, ...] = (
    "ree",
    "battery",
    "pgm",
    "base",
    "precious",
    "energy",
    "specialty",
    "industrial",
    "bulk",
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

    def lookup(self, token: str) -> str | None:
        """Return the canonical commodity for a published *token*, or None."""
        return self.aliases.get(token.strip().lower())

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
    ignored = frozenset(t.lower() for t in spec.get("ignore", {}).get("tokens", []))

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
    return CommodityVocabulary(list_year, groups, aliases, ignored, frozenset(critical))


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
                whole = vocabulary.lookup(item)
                if whole is not None:
                    found.add(whole)
                    continue
                if item.lower() in vocabulary.ignored:
                    skip.append(item)
                    continue
                for token in _SPLIT_TOKENS.split(item):
                    canonical = vocabulary.lookup(token)
                    if canonical is not None:
                        found.add(canonical)
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
