"""Prediction-rate curves: where held-out sites fall in a ranking, as shares of its area.

Shared by cross-validation (:mod:`prospector.analysis.validate`) and the out-of-fold
figures of the prospectivity model (:mod:`prospector.analysis.model`).
Parcels with equal scores are one step of the curve: capture inside a tie is interpolated
linearly (the expected capture if tied parcels were visited in random order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CAPTURE_AT", "CURVE_POINTS", "PredictionRate", "area_positions", "capture_key"]

#: Shares of ranked area at which capture is reported.
CAPTURE_AT: tuple[float, ...] = (0.05, 0.1, 0.2)

CURVE_POINTS = 201


def capture_key(fraction: float) -> str:
    """Key of a share of area in capture dicts (``0.1`` -> ``"0.1"``)."""
    return f"{fraction:g}"


@dataclass(frozen=True)
class PredictionRate:
    """Where held-out sites fall in a ranking, as shares of the ranked area.

    For each target site, ``lo`` is the share of the evaluated area scored strictly higher
    than its parcel and ``hi`` the share scored higher or equal (``hi − lo`` is the tie).
    """

    lo: np.ndarray
    hi: np.ndarray

    @property
    def n_targets(self) -> int:
        """Number of target sites."""
        return len(self.lo)

    def capture(self, fraction: float | np.ndarray) -> float | np.ndarray:
        """Return the expected share of targets captured in the top *fraction* of the area."""
        f = np.atleast_1d(np.asarray(fraction, dtype=float))
        if self.n_targets == 0:
            out = np.full(f.shape, np.nan)
        else:
            width = self.hi - self.lo
            safe = np.where(width > 0, width, 1.0)
            part = np.where(
                width[None, :] > 0,
                np.clip((f[:, None] - self.lo[None, :]) / safe[None, :], 0.0, 1.0),
                (f[:, None] >= self.hi[None, :]).astype(float),
            )
            out = part.mean(axis=1)
        return float(out[0]) if np.ndim(fraction) == 0 else out

    @property
    def auc(self) -> float:
        """Area under the prediction-rate curve (0.5: chance; 1: every site at the top)."""
        if self.n_targets == 0:
            return float("nan")
        return float(1.0 - np.mean((self.lo + self.hi) / 2.0))

    def curve(self, n_points: int = CURVE_POINTS) -> pd.DataFrame:
        """Return the prediction-rate curve at *n_points* evenly spaced area shares."""
        f = np.linspace(0.0, 1.0, n_points)
        return pd.DataFrame({"area_fraction": f, "capture": self.capture(f)})

    def summary(self) -> dict[str, Any]:
        """``{"auc", "capture": {"0.05", "0.1", "0.2"}, "n_targets"}``."""
        return {
            "auc": self.auc,
            "capture": {capture_key(f): float(self.capture(f)) for f in CAPTURE_AT},
            "n_targets": self.n_targets,
        }

    @classmethod
    def pool(cls, parts: Sequence[PredictionRate]) -> PredictionRate:
        """Pool the targets of several folds into one curve."""
        if not parts:
            return cls(np.zeros(0), np.zeros(0))
        return cls(np.concatenate([p.lo for p in parts]), np.concatenate([p.hi for p in parts]))


def area_positions(
    score: np.ndarray, area: np.ndarray, evaluate: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Area shares above each parcel in a ranking by decreasing score.

    Parameters
    ----------
    score
        Score per parcel (compared after rounding to 12 decimals, as in ranking).
    area
        Area per parcel (any unit).
    evaluate
        Boolean mask of the parcels that form the ranked area (default: all).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Per parcel, the share of evaluated area with a strictly higher score (``lo``) and
        with a higher or equal score (``hi``); NaN for parcels not evaluated.
    """
    score = np.asarray(score, dtype=float)
    area = np.asarray(area, dtype=float)
    mask = np.ones(len(score), dtype=bool) if evaluate is None else np.asarray(evaluate, bool)
    lo = np.full(len(score), np.nan)
    hi = np.full(len(score), np.nan)
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return lo, hi
    s = np.round(score[idx], 12)
    order = np.argsort(-s, kind="stable")
    s_sorted, a_sorted = s[order], area[idx][order]
    total = a_sorted.sum()
    if not total > 0:
        raise ValueError("the evaluated parcels have no area")
    group = np.cumsum(np.r_[True, s_sorted[1:] != s_sorted[:-1]]) - 1
    end = np.cumsum(np.bincount(group, weights=a_sorted))
    start = np.r_[0.0, end[:-1]]
    lo[idx[order]] = start[group] / total
    hi[idx[order]] = end[group] / total
    return lo, hi
