"""Build a :class:`~prospector.config.Config` from TOML, a dict or dotted overrides.

Rules, the same for a file, a dict and overrides:

* unknown keys are errors with a "did you mean";
* every value is checked against the field's type (numbers, text, lists, tables, choices);
* a table of names (``[value.group_weights]``, ``[score.access_weights]``...) overrides only
  the keys it gives: the others keep their defaults (or their current values, for
  overrides);
* the result is validated (:meth:`Config.validate`); every problem is reported at once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prospector._util import read_toml
from prospector.config.checks import config_problems, raise_problems
from prospector.config.model import Config
from prospector.config.overrides import apply_overrides, build
from prospector.errors import ConfigError

__all__ = ["apply_overrides", "config_to_dict", "load_config", "with_focus", "with_overrides"]


def load_config(source: str | Path | Mapping[str, Any] | None = None) -> Config:
    """Load a :class:`Config` from a TOML file, a dict, or defaults (None).

    Tables of names override only the keys they give (``[value.group_weights] battery =
    0.5`` keeps every other group's default).  Every problem (unknown keys with
    suggestions, wrong types, bad choices, unknown names, bad weights) is reported at once in
    a :class:`~prospector.errors.ConfigError`.
    """
    if source is None:
        return Config().validate()
    where = None
    if isinstance(source, Mapping):
        data: Mapping[str, Any] = source
    else:
        path = Path(source)
        where = str(path)
        data = read_toml(path, what="config", give="give a TOML config file", error=ConfigError)
    problems: list[str] = []
    score = data.get("score")
    if isinstance(score, Mapping) and score.get("ahp") and "weights" in score:
        problems.append(
            "score.ahp and score.weights are both given; the AHP judgements decide the "
            "family weights. Remove one of them."
        )
    config = build(Config, data, Config(), "", problems)
    raise_problems(problems + config_problems(config), where)
    return config


def config_to_dict(config: Config) -> dict[str, Any]:
    """Return the effective configuration as plain data (for manifests and ``config show``)."""
    return dataclasses.asdict(config)


def with_overrides(config: Config, overrides: Mapping[str, Any]) -> Config:
    """Return a validated copy of *config* with *overrides* applied; *config* is unchanged.

    Keys are dotted (``{"score.status": "open"}``) or nested (``{"score": {"status":
    "open"}}``); a table overrides only the keys it gives, as in a TOML file.

    Raises
    ------
    prospector.errors.ConfigError
        Naming unknown keys (with a suggestion) and every invalid value.
    """
    return apply_overrides(config, overrides)


def with_focus(config: Config, commodities: str | None = None, groups: str | None = None) -> Config:
    """Return *config* with a commodity focus (comma-separated names / groups), validated.

    ``None`` leaves that part of the configured focus as it is; a given value replaces it,
    and ``""`` clears it.  Unknown names raise :class:`~prospector.errors.ConfigError` with a
    "did you mean"; so does a value of separators only (``",,"``).
    """
    if commodities is None and groups is None:
        return config

    def split(text: str | None, current: list[str]) -> list[str]:
        if text is None:
            return current
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if text.strip() and not parts:
            raise ConfigError(
                f"commodity focus {text!r} names nothing: give names separated by commas "
                "(tungsten,lithium), or '' to clear the configured focus."
            )
        return parts

    value = dataclasses.replace(
        config.value,
        focus_commodities=split(commodities, config.value.focus_commodities),
        focus_groups=split(groups, config.value.focus_groups),
    )
    return dataclasses.replace(config, value=value).validate()
