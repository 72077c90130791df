"""Run configuration: one dataclass tree, loaded from TOML, with every default in one place.

* :mod:`~prospector.config.model` — the dataclasses: every key, default and meaning;
* :mod:`~prospector.config.checks` — validation of values and of the names inside tables;
* :mod:`~prospector.config.load` — TOML/dict/override → validated :class:`Config`;
* :mod:`~prospector.config.ahp` — family weights from pairwise judgements (pure);
* :mod:`~prospector.config.render` — the effective TOML and the Markdown reference.

Unknown keys and unknown names are errors with a "did you mean"; a partial table overrides
only the keys it gives; validation has no side effects.
"""

from __future__ import annotations

from prospector.config import model
from prospector.config.load import config_to_dict, load_config, with_focus, with_overrides
from prospector.config.model import *  # noqa: F403 (model.__all__, re-exported as listed there)
from prospector.config.render import config_reference, config_to_toml

__all__ = [
    *model.__all__,
    "config_reference",
    "config_to_dict",
    "config_to_toml",
    "load_config",
    "with_focus",
    "with_overrides",
]
