"""The names the configuration weighs: criterion families and access criteria.

A module of its own, below :mod:`~prospector.config.model` and
:mod:`~prospector.config.checks`, so that both can use the names without importing each
other.
"""

from __future__ import annotations

from prospector.schema.columns import ACCESS_KINDS

__all__ = ["ACCESS_CRITERIA", "MODEL_FAMILIES", "SCORE_FAMILIES"]

#: Criterion families weighted by ``score.weights`` (and judged by ``score.ahp``).
SCORE_FAMILIES: tuple[str, ...] = ("value", "access", "evidence")

#: Families of the decision score of ``score.method = "model"`` (``model.weights``).
MODEL_FAMILIES: tuple[str, ...] = ("prospectivity", "access")

#: Access criteria sharing the access weight (``score.access_weights``).
ACCESS_CRITERIA: tuple[str, ...] = (*ACCESS_KINDS, "terrain", "travel")
