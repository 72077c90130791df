"""Generate docs/schemas.md and docs/commodities.md from the code's own definitions.

Run ``python -m prospector.schema.docs`` after changing a schema or the vocabulary;
``tests/test_docs.py`` fails when the committed documents are stale.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from prospector._compat import tomllib
from prospector.schema.columns import schemas_markdown
from prospector.schema.commodities import LIST_YEARS, load_vocabulary

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
        "confirmed from the publisher (for example `SAO`, `AL3`, `CAR`, `SHO`) are deliberately "
        "left unmapped.",
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
    return "\n".join(lines) + "\n"


def write_docs(directory: str | Path = "docs") -> None:
    """Write schemas.md and commodities.md into *directory*."""
    directory = Path(directory)
    (directory / "schemas.md").write_text(schemas_markdown(), encoding="utf-8")
    (directory / "commodities.md").write_text(commodities_markdown(), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    write_docs()
