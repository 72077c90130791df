"""No import cycles anywhere in prospector (tools/import_graph.py; lint-imports checks siblings)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def import_graph() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "import_graph", ROOT / "tools" / "import_graph.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cycle_finder_on_hand_made_graphs(import_graph: ModuleType) -> None:
    # a -> b -> c -> a is one cycle; d -> e -> d another; f only imports.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": {"e"}, "e": {"d"}, "f": {"a"}}
    assert import_graph.module_cycles(graph) == [["a", "b", "c"], ["d", "e"]]
    assert import_graph.module_cycles({"a": {"b"}, "b": {"c"}}) == []
    edges = import_graph.package_edges({"p.x.m": {"p.y.n", "p.x.k"}, "p.y.n": {"p"}})
    assert edges == {"x": {"y"}, "y": {"__init__"}}


def test_cycle_finder_reads_deferred_imports(
    import_graph: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cycle through an import inside a function counts; one under TYPE_CHECKING does not.
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclepkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclepkg import a\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nfrom cyclepkg import a\n"
        "if TYPE_CHECKING:\n    from cyclepkg import d\n"
    )
    (pkg / "d.py").write_text("from cyclepkg import c\n")
    graph = import_graph.build(tmp_path, package="cyclepkg")
    assert import_graph.module_cycles(graph) == [["cyclepkg.a", "cyclepkg.b"]]


def test_prospector_has_no_module_level_cycles(import_graph: ModuleType) -> None:
    graph = import_graph.build(ROOT)
    assert "prospector.ranking" in graph  # the graph was read
    assert import_graph.module_cycles(graph) == []
    assert import_graph.module_cycles(import_graph.package_edges(graph)) == []
