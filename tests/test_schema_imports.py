"""Import rules of the ingest side, read from the source (no import of the package needed).

``prospector.schema`` holds definitions only (canonical columns, commodity vocabulary,
generated docs): it may import errors and _compat, nothing else of ours, so that every
layer of the architecture can use it.  ``prospector.ingest`` reads files and URLs into
canonical frames: it never imports the analysis, the ranking, the map or the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "prospector"


def _our_imports(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every ``prospector...`` module *path* imports (absolute or relative), at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "prospector"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module.split(".")[0] == "prospector":
                found.add(module)
                if module == "prospector":  # from prospector import x: x may be a module
                    found |= {f"prospector.{a.name}" for a in node.names}
    return found


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


def test_helper_finds_imports(tmp_path):
    """The reader sees absolute, relative, nested and aliased imports (so the rules can fail)."""
    pkg = tmp_path / "prospector" / "schema"
    pkg.mkdir(parents=True)
    module = pkg / "x.py"
    module.write_text(
        "import prospector.config as c\n"
        "from . import columns\n"
        "from ..catalog import entries\n"
        "def f():\n    from prospector.ingest import read_vector\n"
    )
    found = _our_imports(module, root=tmp_path / "prospector")
    assert found == {
        "prospector.config",
        "prospector.schema",
        "prospector.catalog",
        "prospector.ingest",
    }


@pytest.mark.parametrize("path", _modules("schema"), ids=lambda p: p.name)
def test_schema_imports_only_definitions(path):
    allowed = {"prospector.errors", "prospector._compat"}
    wrong = {
        m for m in _our_imports(path) if m not in allowed and not m.startswith("prospector.schema")
    }
    assert not wrong, f"{path.name} imports {sorted(wrong)}; schema/ may use only errors, _compat"


@pytest.mark.parametrize("path", _modules("ingest"), ids=lambda p: p.name)
def test_ingest_does_not_import_downstream(path):
    downstream = ("analysis", "ranking", "render", "cli", "pipeline", "engine", "outputs")
    wrong = {m for m in _our_imports(path) if m.split(".")[1:2] and m.split(".")[1] in downstream}
    assert not wrong, f"{path.name} imports {sorted(wrong)}"


def test_old_modules_are_gone():
    for old in (
        "layers.py",
        "io",
        "schema/normalize.py",
        "schema/validate.py",
        "export/formats.py",
    ):
        assert not (PACKAGE / old).exists(), old
