"""Version shims, in one place: the standard library's TOML reader from Python 3.11, ``tomli`` before."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised by the Python 3.10 job
    import tomli as tomllib

__all__ = ["tomllib"]
