"""Import graph of the ``prospector`` package: package-level edges and module-level cycles.

Usage::

    python tools/import_graph.py [SOURCE_DIR] [--markdown]

SOURCE_DIR is a checkout holding ``prospector/`` (default: this one), so an old commit can
be read from a ``git worktree``.  The graph is built with grimp (installed with
import-linter) from the source text, as ``lint-imports`` does: imports inside functions
count, imports under ``if TYPE_CHECKING:`` do not (they are annotations, not run-time
dependencies).  A *module-level cycle* is a set of modules each reachable from every other
(a strongly connected component of more than one module).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

__all__ = ["build", "module_cycles", "package_edges", "report"]

ROOT = Path(__file__).resolve().parents[1]


def build(source: Path | str = ROOT, package: str = "prospector") -> dict[str, set[str]]:
    """Return the module import graph of *package* under *source*: module → modules it imports."""
    path = str(Path(source).resolve())
    sys.path.insert(0, path)
    try:
        stale = [m for m in sys.modules if m == package or m.startswith(f"{package}.")]
        saved = {m: sys.modules.pop(m) for m in stale}  # find the package under *source*
        try:
            graph = grimp.build_graph(
                package,
                include_external_packages=False,
                exclude_type_checking_imports=True,
                cache_dir=None,
            )
        finally:
            sys.modules.update(saved)
    finally:
        sys.path.remove(path)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def package_edges(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    """Collapse *graph* to the first level below the root: ``ranking → analysis`` etc.

    The root package's ``__init__`` is shown as ``__init__``.
    """

    def top(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else "__init__"

    edges: dict[str, set[str]] = {}
    for importer, imported in _pairs(graph):
        a, b = top(importer), top(imported)
        if a != b:
            edges.setdefault(a, set()).add(b)
    return edges


def module_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Return the module-level cycles of *graph* (Tarjan's strongly connected components)."""
    adjacency = {m: sorted(set(targets)) for m, targets in graph.items()}
    for targets in list(adjacency.values()):
        for t in targets:
            adjacency.setdefault(t, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(adjacency):
        if start in index:
            continue
        # Iterative depth-first search: (node, position in its adjacency list).
        work = [(start, 0)]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pos = work[-1]
            targets = adjacency[node]
            if pos < len(targets):
                work[-1] = (node, pos + 1)
                nxt = targets[pos]
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return sorted(cycles)


def report(source: Path | str = ROOT, *, markdown: bool = False) -> str:
    """Text (or Markdown) of the package-level edges and the module-level cycles."""
    graph = build(source)
    edges = package_edges(graph)
    cycles = module_cycles(graph)
    package_cycles = module_cycles(edges)
    n_edges = sum(len(targets) for targets in graph.values())
    lines = []
    if markdown:

        def listed(found: list[list[str]]) -> str:
            return "; ".join(" ↔ ".join(f"`{m}`" for m in c) for c in found)

        lines += ["| package | imports |", "| --- | --- |"]
        lines += [f"| `{a}` | {', '.join(sorted(edges[a]))} |" for a in sorted(edges)]
        lines += [
            "",
            f"- {len(graph)} modules, {n_edges} module-level imports",
            f"- **{len(cycles)} module-level cycle(s)**"
            + (f": {listed(cycles)}" if cycles else ""),
            f"- **{len(package_cycles)} package-level cycle(s)**"
            + (f": {listed(package_cycles)}" if package_cycles else ""),
        ]
    else:
        lines += [f"{a:12s} -> {', '.join(sorted(edges[a]))}" for a in sorted(edges)]
        lines.append(f"{len(graph)} modules, {n_edges} imports, {len(cycles)} module-level cycles")
        lines += ["  " + " <-> ".join(c) for c in cycles]
        lines.append(f"{len(package_cycles)} package-level cycles")
        lines += ["  " + " <-> ".join(c) for c in package_cycles]
    return "\n".join(lines)


def _pairs(graph: Mapping[str, Iterable[str]]) -> Iterable[tuple[str, str]]:
    for importer, targets in graph.items():
        for imported in targets:
            yield importer, imported


def main(argv: list[str] | None = None) -> None:
    """Print the report for a checkout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", nargs="?", default=str(ROOT), help="checkout holding prospector/")
    parser.add_argument("--markdown", action="store_true", help="Markdown table for the docs")
    args = parser.parse_args(argv)
    print(report(args.source, markdown=args.markdown))


if __name__ == "__main__":
    main()
