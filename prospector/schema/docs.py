"""Generate docs/schemas.md and docs/commodities.md from the code's own definitions.

Run ``python -m prospector.schema.docs`` after changing a schema or the vocabulary;
``tests/test_docs.py`` fails when the committed documents are stale.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from prospector._compat import tomllib
from prospector.schema.columns import schemas_markdown
from prospector.schema.commodities import (
    COMMODITY_GROUPS,
    DEFAULT_GROUP_WEIGHTS,
    GROUP_DESCRIPTIONS,
    IMPORT_RELIANCE_SOURCE,
    LIST_YEARS,
    load_import_reliance,
    load_vocabulary,
)

__all__ = ["commodities_markdown", "write_docs"]


def commodities_markdown() -> str:
    """Render the commodity vocabulary as a Markdown table."""
    data = resources.files("prospector.schema").joinpath("data/commodities.toml")
    spec = tomllib.loads(data.read_text(encoding="utf-8"))
    vocabs = [load_vocabulary(year) for year in LIST_YEARS]
    lines = [
        "# Commodity vocabulary",
        "",
        "Generated from `prospector/schema/data/commodities.toml` and `usgs_critical_minerals.csv` "
        "(regenerate with `python -m prospector.schema.docs`; a test checks it is current).",
        "",
        "Published commodity strings are split on `;`, `,` or `|` (USGS lists) and then on "
        "whitespace (MRDS/UMOS code lists such as `AU AG`); a whole item is looked up before it is "
        "split, so multi-word names map. Matching is case-insensitive. Codes that match nothing are "
        "**counted and reported** (CLI, manifest `layers[].unmapped_commodity_codes`) and kept in "
        "`commodity_codes`; they never silently disappear. UMOS codes whose meaning could not be "
        "confirmed (for example `SAO`, `CAR`, `SHO`) are deliberately left unmapped.",
        "",
        *_groups_section(),
        *_special_codes_section(spec),
        "## Commodities",
        "",
        f"| commodity | group | critical {' / '.join(map(str, LIST_YEARS))} | published aliases |",
        "|---|---|---|---|",
    ]
    for name, entry in sorted(spec["commodity"].items()):
        critical = " / ".join("yes" if name in v.critical else "—" for v in vocabs)
        aliases = ", ".join(f"`{a}`" for a in entry.get("aliases", []))
        lines.append(f"| `{name}` | {entry['group']} | {critical} | {aliases} |")
    tokens = ", ".join(f"`{t}`" for t in spec["ignore"]["tokens"])
    lines += ["", f"Recognised non-commodity tokens (counted as ignored, not unmapped): {tokens}."]
    lines += _import_reliance_section(sorted(spec["commodity"]))
    return "\n".join(lines) + "\n"


def _groups_section() -> list[str]:
    lines = [
        "## Scoring groups and their weights",
        "",
        "A commodity's weight is its group weight × 1.0 when it is on the critical list of the "
        "configured year (`value.critical_weight`), × 0.4 otherwise "
        '(`value.noncritical_weight`); with `value.commodity_weighting = "import_reliance"` '
        "the critical/non-critical factor is replaced by `import_floor + (1 - import_floor) × "
        "U.S. net import reliance` (table below). A site is valued by its best commodity "
        "(docs/value.md); its group is that commodity's group, equal weights going to the group "
        "listed first here. `--group NAME` focuses a run on a group's commodities.",
        "",
        "| group | weight | what it holds | why this weight |",
        "|---|---|---|---|",
    ]
    why = {
        "ree": "critical, nearly all imported; the reason the list exists",
        "battery": "critical, demand growth, concentrated supply",
        "pgm": "critical, imported",
        "specialty": "mostly critical by-product metals; ties with base metals go to specialty "
        "(a Ga-Ge host is graded as one)",
        "base": "copper, lead, zinc critical in 2025; large domestic production",
        "precious": "not critical (silver is, in 2025)",
        "energy": "uranium critical in 2018 and 2025; vanadium critical",
        "fertilizer": "potash and phosphate critical in 2025; potash 93 % imported (MCS 2025)",
        "industrial": "mostly not critical (barite, fluorspar, boron are)",
        "bulk": "local construction materials: thousands of pits must not swamp a metal site",
    }
    for group in COMMODITY_GROUPS:
        lines.append(
            f"| `{group}` | {DEFAULT_GROUP_WEIGHTS[group]:g} | {GROUP_DESCRIPTIONS[group]} "
            f"| {why[group]} |"
        )
    return [*lines, ""]


def _special_codes_section(spec: dict) -> list[str]:
    lines = ["## Codes naming several commodities, and deposit forms", ""]
    for name, entry in sorted(spec.get("compound", {}).items()):
        aliases = ", ".join(f"`{a}`" for a in entry.get("aliases", []))
        lines.append(
            f"- `{name}` ({aliases}) names **{' and '.join(entry['commodities'])}**: "
            "alunite was mined at Marysvale, Utah, for potassium sulfate and studied as an ore "
            "of alumina; the sample's UMOS `AL3` records include the Winkleman Alunite Mine, "
            "Modena Alunite Vein and Walker Day Alunite Prospect."
        )
    forms = ", ".join(f"`{t}`" for t in spec.get("forms", {}).get("tokens", []))
    lines += [
        f"- Deposit forms ({forms}) name no commodity: a brine record counts for the "
        "commodities stated with it (`LI BRI` is lithium; `K MG BRI HAL` potash, magnesium and "
        "salt), never as an industrial mineral of its own; a bare `BRI` names no commodity.",
        "",
    ]
    return lines


def _import_reliance_section(names: list[str]) -> list[str]:
    table = load_import_reliance()
    lines = [
        "",
        '## U.S. net import reliance (`value.commodity_weighting = "import_reliance"`)',
        "",
        f"Source: {IMPORT_RELIANCE_SOURCE}; bundled as "
        "`prospector/schema/data/mcs2025_import_reliance.csv` (its header cites the data file "
        "read). `>x` counts as x, `<x` as x/2. Commodities the figure does not list (its "
        "smallest value is 22 %, cement) have **no value here**: their reliance is unknown to "
        "Prospector and `value.unknown_import_reliance` (default 0 %) is used. The supply-risk "
        "scores behind the 2025 critical list (USGS OFR 2025-1047) could not be verified from a "
        "source read for this table and are not bundled.",
        "",
        "| commodity | net import reliance 2024 (%) | leading import source | MCS 2025 row |",
        "|---|---|---|---|",
    ]
    for name in names:
        item = table.get(name)
        if item is None:
            lines.append(f"| `{name}` | — | — | not listed |")
        else:
            lines.append(
                f"| `{name}` | {item.published} | {item.leading_source} | {item.mcs_commodity} |"
            )
    return lines


def write_docs(directory: str | Path = "docs") -> None:
    """Write schemas.md and commodities.md into *directory*."""
    directory = Path(directory)
    (directory / "schemas.md").write_text(schemas_markdown(), encoding="utf-8")
    (directory / "commodities.md").write_text(commodities_markdown(), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    write_docs()
