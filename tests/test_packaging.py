"""environment.yml (conda-forge) and pyproject.toml (pip) must list the same dependencies."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from prospector._compat import tomllib

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI names.
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower()


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    # Environment markers (`; python_version < "3.11"`) have no conda form: compare without.
    pip_deps = {_name(d): d.split(";")[0].replace(" ", "") for d in project["dependencies"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for extra in dep["pip"]:
                if not extra.startswith("-e"):
                    conda[_name(extra)] = extra.replace(" ", "")
        elif _name(dep) not in ("python", "pip"):
            name = CONDA_TO_PYPI.get(_name(dep), _name(dep))
            conda[name] = name + dep.replace(" ", "")[len(_name(dep)) :]
    assert set(conda) == set(pip_deps)
    # Same lower bounds on both sides.
    assert {k: v.lower() for k, v in conda.items()} == {k: v.lower() for k, v in pip_deps.items()}


def test_python_floor_matches():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    floor = project["requires-python"].removeprefix(">=")
    assert f"python>={floor}" in env["dependencies"]
