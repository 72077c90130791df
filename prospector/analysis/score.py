"""Combine criteria into a score and a rank.

Criteria are benefit columns in [0, 1] (higher is better).  They are normalised
(min-max, percentile rank or z-score), weighted, and combined by a weighted linear
combination (``wlc``), a fuzzy gamma overlay (``gamma``) or TOPSIS (``topsis``).
Missing criteria are dropped and their weight is redistributed proportionally over the
remaining ones; :class:`Weights` records both the configured and the effective weights so
the redistribution is visible in outputs.  Ranks are 1..N with ties broken by parcel id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import ndtr

from prospector.errors import ConfigError

__all__ = ["Weights", "combine", "effective_weights", "normalise", "rank_scores"]

Method = Literal["wlc", "gamma", "topsis", "model"]
Normalise = Literal["minmax", "rank", "z"]


@dataclass
class Weights:
    """Configured and effective criterion weights."""

    configured: dict[str, float]
    effective: dict[str, float]
    redistributed: dict[str, str] = field(default_factory=dict)
    """Criterion → why its weight was redistributed."""
    unavailable: dict[str, str] = field(default_factory=dict)
    """Criterion → why its input is missing, whatever its weight (the map disables it)."""


def effective_weights(
    configured: dict[str, float], available: dict[str, bool], reasons: dict[str, str] | None = None
) -> Weights:
    """Drop unavailable criteria and rescale the rest to sum to 1.

    Raises
    ------
    ConfigError
        When no criterion with a positive weight is available.
    """
    reasons = reasons or {}
    kept = {k: w for k, w in configured.items() if available.get(k, False) and w > 0}
    total = sum(kept.values())
    if total <= 0:
        weighted = sorted(k for k, w in configured.items() if w > 0)
        missing = "; ".join(f"{k}: {reasons[k]}" for k in weighted if k in reasons)
        raise ConfigError(
            "no criterion with a positive weight is available "
            f"(weighted: {', '.join(weighted) or 'none'}"
            + (f"; unavailable because {missing}" if missing else "")
            + "). Supply the missing layers or give weight to criteria the region has."
        )
    effective = {k: kept.get(k, 0.0) / total for k in configured}
    redistributed = {
        k: reasons.get(k, "layer missing")
        for k, w in configured.items()
        if w > 0 and not available.get(k, False)
    }
    unavailable = {
        k: reasons.get(k, "input missing") for k in configured if not available.get(k, False)
    }
    return Weights(dict(configured), effective, redistributed, unavailable)


def normalise(values: pd.Series, how: Normalise = "minmax") -> pd.Series:
    """Rescale a benefit criterion to [0, 1]; NaN becomes 0 (no evidence)."""
    x = values.astype(float)
    if x.isna().all():
        return x.fillna(0.0)
    if how == "minmax":
        lo, hi = np.nanmin(x), np.nanmax(x)
        out = (x - lo) / (hi - lo) if hi > lo else x * 0.0
    elif how == "rank":
        out = x.rank(method="average", pct=True)
        if out.nunique(dropna=True) <= 1:
            out = x * 0.0
    elif how == "z":
        sd = np.nanstd(x)
        out = pd.Series(ndtr((x - np.nanmean(x)) / sd), index=x.index) if sd > 0 else x * 0.0
    else:
        raise ValueError(f"unknown normalisation {how!r}")
    return out.fillna(0.0).clip(0.0, 1.0)


def combine(
    criteria: pd.DataFrame,
    weights: dict[str, float],
    *,
    method: Method = "wlc",
    gamma: float = 0.8,
) -> tuple[pd.Series, pd.DataFrame]:
    """Combine normalised criteria into one score in [0, 1].

    Parameters
    ----------
    criteria
        One column per criterion, values in [0, 1].
    weights
        Effective weights (summing to 1) keyed by column; zero-weight columns are ignored.
    method
        ``wlc``: Σ wᵢxᵢ (``model``, the decision score of learned prospectivity and access,
        is the same sum over its criteria).  ``gamma``: fuzzy gamma overlay of memberships wᵢ/max(w)·xᵢ,
        (algebraic sum)^γ · (algebraic product)^(1-γ).  ``topsis``: closeness to the ideal
        parcel, d⁻/(d⁺+d⁻) on weighted criteria.

    Returns
    -------
    (pandas.Series, pandas.DataFrame)
        The score and each criterion's contribution.  For ``wlc`` contributions sum to the
        score; for the other methods they are the WLC shares rescaled to sum to the score.
    """
    cols = [c for c, w in weights.items() if w > 0 and c in criteria]
    x = criteria[cols].to_numpy(dtype=float)
    w = np.array([weights[c] for c in cols])
    linear = x * w
    if method in ("wlc", "model"):
        score = linear.sum(axis=1)
    elif method == "gamma":
        mu = np.clip(x * (w / w.max()), 0.0, 1.0)
        fuzzy_sum = 1.0 - np.prod(1.0 - mu, axis=1)
        fuzzy_prod = np.prod(mu, axis=1)
        score = fuzzy_sum**gamma * fuzzy_prod ** (1.0 - gamma)
    elif method == "topsis":
        norm = np.sqrt((x**2).sum(axis=0))
        v = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0) * w
        best, worst = v.max(axis=0), v.min(axis=0)
        d_best = np.sqrt(((v - best) ** 2).sum(axis=1))
        d_worst = np.sqrt(((v - worst) ** 2).sum(axis=1))
        denom = d_best + d_worst
        score = np.divide(d_worst, denom, out=np.zeros_like(d_worst), where=denom > 0)
    else:
        raise ValueError(f"unknown scoring method {method!r}")
    total = linear.sum(axis=1, keepdims=True)
    shares = np.divide(linear, total, out=np.zeros_like(linear), where=total > 0)
    contrib = pd.DataFrame(shares * score[:, None], index=criteria.index, columns=cols)
    return pd.Series(score, index=criteria.index, name="score"), contrib


def rank_scores(
    score: pd.Series, parcel_id: pd.Series, *, eligible: pd.Series | None = None
) -> pd.Series:
    """Rank 1..N by descending score; ties broken by ascending parcel id.

    Parcels where *eligible* is False get no rank (``<NA>``).
    """
    ok = np.ones(len(score), dtype=bool) if eligible is None else eligible.to_numpy(dtype=bool)
    s = np.round(score.to_numpy(dtype=float, na_value=np.nan), 12)
    rows = np.flatnonzero(ok)
    order = rows[np.argsort(-s[rows], kind="stable")]  # NaN last
    # Ties (equal rounded scores, rare except for blank parcels) are ordered by parcel id;
    # only those rows need the (slow) string sort.
    ss = s[order]
    same = (ss[1:] == ss[:-1]) | (np.isnan(ss[1:]) & np.isnan(ss[:-1]))
    if same.any():
        tied = np.zeros(len(order), dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        run = np.cumsum(np.r_[True, ~same])  # run number of each sorted position
        pos = np.flatnonzero(tied)
        raw = parcel_id.to_numpy(dtype=object)[order[pos]]
        missing = pd.isna(raw)  # missing ids sort after all others, as in pandas
        ids = np.where(missing, "", raw).astype(str)
        order[pos] = order[pos][np.lexsort((ids, missing, run[pos]))]
    ranks = np.zeros(len(score), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return pd.Series(pd.arrays.IntegerArray(ranks, ~ok), index=score.index)
