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
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from prospector._compat import tomllib
from prospector._util import did_you_mean
from prospector.config.checks import config_problems, raise_problems
from prospector.config.model import Config
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
        data = _read_toml(path)
    problems: list[str] = []
    score = data.get("score")
    if isinstance(score, Mapping) and score.get("ahp") and "weights" in score:
        problems.append(
            "score.ahp and score.weights are both given; the AHP judgements decide the "
            "family weights. Remove one of them."
        )
    config = _build(Config, data, Config(), "", problems)
    raise_problems(problems + config_problems(config), where)
    return config


def _read_toml(path: Path) -> dict[str, Any]:
    if path.is_dir():
        raise ConfigError(f"config {path} is a directory; give a TOML file.")
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}.") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not a text file (byte {exc.start} is not UTF-8); give a TOML config."
        ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}). Fix the syntax.") from exc


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


def apply_overrides(config: Config, overrides: Mapping[str, Any]) -> Config:
    """Return a validated copy of *config* with dotted or nested keys replaced.

    See :func:`with_overrides` (also :meth:`Config.with_overrides`).
    """
    problems: list[str] = []
    data: dict[str, Any] = {}
    for dotted, value in overrides.items():
        parts = str(dotted).split(".")
        node = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                problems.append(f"override {dotted!r}: {part!r} is given twice.")
                break
        else:
            if isinstance(value, Mapping) and isinstance(node.get(parts[-1]), dict):
                node[parts[-1]].update(value)
            else:
                node[parts[-1]] = dict(value) if isinstance(value, Mapping) else value
    score = data.get("score", {})
    if isinstance(score, dict) and "weights" in score and config.score.ahp and "ahp" not in score:
        problems.append(
            "override score.weights: score.ahp is set and decides the family weights; "
            "override score.ahp = {} as well."
        )
    new = _build(Config, data, config, "", problems)
    raise_problems(problems + config_problems(new), "the overrides")
    return new


def _build(cls: type, data: Mapping[str, Any], base: Any, prefix: str, problems: list[str]) -> Any:
    """Build a new *cls* from *base* (an instance) with the keys of *data* applied.

    *prefix* is the dotted path of the table (``score.``) in messages.
    """
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            table = f"[{prefix.rstrip('.')}]" if prefix else "top level"
            problems.append(
                f"{table}: unknown key {key!r}.{did_you_mean(str(key), names)} "
                f"Allowed: {', '.join(names)}."
            )
            continue
        hint, current = hints[key], getattr(base, key)
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, Mapping):
                problems.append(f"{prefix}{key} must be a table; got {value!r}.")
                continue
            kwargs[key] = _build(
                hint,  # type: ignore[arg-type]
                value,
                current,
                f"{prefix}{key}.",
                problems,
            )
            continue
        checked = _check_type(value, hint, f"{prefix}{key}", problems)
        if checked is _BAD:
            continue
        if isinstance(current, dict):
            checked = {**current, **checked}  # a partial table overrides only its keys
        kwargs[key] = checked
    # Unchanged fields are copied so the new config shares no table or list with *base*.
    for name in names:
        if name not in kwargs:
            kwargs[name] = _copy(getattr(base, name))
    return cls(**kwargs)


def _copy(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _copy(getattr(value, f.name))
                                             for f in dataclasses.fields(value)})  # fmt: skip
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def _as_float(value: Any) -> Any:
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


class _Bad:
    pass


_BAD = _Bad()


def _check_type(value: Any, hint: Any, name: str, problems: list[str]) -> Any:
    """*value* checked against the type *hint* (numbers as float where float is wanted)."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        if value not in args:
            choices = [str(c) for c in args]
            problems.append(
                f"{name} must be one of {', '.join(choices)}; got {value!r}."
                f"{did_you_mean(str(value), choices)}"
            )
            return _BAD
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _check_type(value, inner, name, problems)
    if origin is dict:
        if not isinstance(value, Mapping):
            problems.append(f"{name} must be a table of names; got {value!r}.")
            return _BAD
        if args and args[1] is float:  # whole numbers as floats; others are checked later
            return {str(k): _as_float(v) for k, v in value.items()}
        return {str(k): v for k, v in value.items()}  # values are checked by validate()
    if origin is list and args and args[0] is float:
        if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            problems.append(f"{name} must be a list of numbers; got {value!r}.")
            return _BAD
        return [float(v) for v in value]
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{name} must be a list of names (strings); got {value!r}.")
            return _BAD
        return list(value)
    if hint is bool:
        if not isinstance(value, bool):
            problems.append(f"{name} must be true or false; got {value!r}.")
            return _BAD
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{name} must be a whole number; got {value!r}.")
            return _BAD
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            problems.append(f"{name} must be a number; got {value!r}.")
            return _BAD
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            problems.append(f"{name} must be text; got {value!r}.")
            return _BAD
        return value
    return value  # pragma: no cover - every field type is handled above


def with_focus(config: Config, commodities: str | None = None, groups: str | None = None) -> Config:
    """Return *config* with a commodity focus (comma-separated names / groups), validated.

    ``None`` leaves that part of the configured focus as it is; a given value replaces it.
    Unknown names raise :class:`~prospector.errors.ConfigError` with a "did you mean".
    """
    if commodities is None and groups is None:
        return config

    def split(text: str | None, current: list[str]) -> list[str]:
        return current if text is None else [p.strip() for p in text.split(",") if p.strip()]

    value = dataclasses.replace(
        config.value,
        focus_commodities=split(commodities, config.value.focus_commodities),
        focus_groups=split(groups, config.value.focus_groups),
    )
    return dataclasses.replace(config, value=value).validate()
