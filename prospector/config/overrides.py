"""Apply a table of keys to a configuration: type checks, partial tables, dotted overrides.

The machinery shared by :func:`~prospector.config.load_config` (a TOML file or a dict
applied to the defaults) and :meth:`~prospector.config.Config.with_overrides`.  It works on
any configuration dataclass through its type hints, so it does not import the classes.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin, get_type_hints

from prospector._util import did_you_mean
from prospector.config.checks import config_problems, raise_problems

if TYPE_CHECKING:
    from prospector.config.model import Config

__all__ = ["apply_overrides", "build"]


def apply_overrides(config: Config, overrides: Mapping[str, Any]) -> Config:
    """Return a validated copy of *config* with dotted or nested keys replaced.

    See :func:`~prospector.config.with_overrides` (also :meth:`Config.with_overrides`).
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
    new = build(type(config), data, config, "", problems)
    raise_problems(problems + config_problems(new), "the overrides")
    return new


def build(cls: type, data: Mapping[str, Any], base: Any, prefix: str, problems: list[str]) -> Any:
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
            kwargs[key] = build(
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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Scalar field types: the test a value must pass and what the message says is expected.
_SCALARS: dict[type, tuple[Callable[[Any], bool], str]] = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    float: (_is_number, "a number"),
    str: (lambda v: isinstance(v, str), "text"),
}


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
        if not isinstance(value, list) or not all(_is_number(v) for v in value):
            problems.append(f"{name} must be a list of numbers; got {value!r}.")
            return _BAD
        return [float(v) for v in value]
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{name} must be a list of names (strings); got {value!r}.")
            return _BAD
        return list(value)
    if hint in _SCALARS:
        accepts, expected = _SCALARS[hint]
        if not accepts(value):
            problems.append(f"{name} must be {expected}; got {value!r}.")
            return _BAD
        return float(value) if hint is float else value
    return value  # pragma: no cover - every field type is handled above
