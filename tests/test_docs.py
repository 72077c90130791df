"""Generated documents must match the code."""

from pathlib import Path

from prospector.schema.columns import schemas_markdown
from prospector.schema.docs import commodities_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_schemas_doc_current():
    assert (DOCS / "schemas.md").read_text(encoding="utf-8") == schemas_markdown()


def test_commodities_doc_current():
    text = (DOCS / "commodities.md").read_text(encoding="utf-8")
    assert text == commodities_markdown()
    assert "| `copper` | base | — / — / yes |" in text
