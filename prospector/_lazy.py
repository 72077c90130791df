"""Public names of a package imported from their modules on first use (PEP 562).

``import prospector`` or ``from prospector.ranking import rank`` should load what a ranking
needs, not the map (folium, jinja2, requests), GDAL's readers and writers (pyogrio,
rasterio) or the raster tools: together ~100 MB of memory and ~1 s of start-up that a run
on in-memory data never uses.  A package lists its names and the module of each;
``from package import name``, ``package.name`` and ``dir(package)`` work as with eager
imports, and type checkers see the names through an ``if TYPE_CHECKING:`` import block.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["attach"]


def attach(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the ``__getattr__`` and ``__dir__`` of *package*.

    Parameters
    ----------
    package
        The package's ``__name__``.
    names
        Public name → module it lives in (absolute, e.g. ``"prospector.ranking.run"``).

    Notes
    -----
    A name is looked up once: the value is stored in the package's namespace, so later
    access is an ordinary attribute read.
    """
    names = dict(names)

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__
