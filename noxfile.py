"""Test matrix over the Python versions prospector claims (``requires-python >= 3.10``).

``nox`` runs the suite on every version found on PATH (pyenv: ``pyenv local 3.10.13 3.11.7
3.12.1 3.13.0`` puts them there); ``nox -s tests-3.10`` one version; ``nox -s lint`` the
linters; arguments after ``--`` go to pytest (``nox -s tests-3.13 -- tests/test_config.py``).
"""

from __future__ import annotations

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
LINTED = ["prospector", "tests", "benchmarks", "tools", "noxfile.py"]

nox.options.sessions = [*(f"tests-{v}" for v in PYTHONS), "lint"]
nox.options.reuse_existing_virtualenvs = True


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run pytest on one Python version (the whole suite unless paths are given)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """Ruff (lint and format), mypy and the import contracts."""
    session.install("-e", ".[test]")
    session.run("ruff", "check", *LINTED)
    session.run("ruff", "format", "--check", *LINTED)
    session.run("mypy")
    session.run("lint-imports")
