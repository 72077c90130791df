"""How much do the ranks depend on the criterion weights?  Monte-Carlo weight perturbation.

Weights are drawn from a Dirichlet distribution centred on the effective weights
(``alpha = weights × concentration``: the larger the concentration, the tighter the draws;
at 50 a weight of 0.6 has a standard deviation of about 0.07).  The criteria table does not
depend on the weights, so it is computed once and only re-combined: for the weighted
linear combination all runs are one matrix product and one ``argsort`` per block of runs.
Per parcel the result gives the 5th–95th percentile rank interval, the median rank and the
share of runs in which the parcel stays in the top N.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from prospector.analysis.score import combine, rank_scores

__all__ = ["dirichlet_weights", "weight_sensitivity"]


Method = Literal["wlc", "gamma", "topsis", "model"]

_CELLS_PER_BLOCK = 4_000_000
"""Runs × parcels scored at once (bounds memory to ~100 MB for the score and sort arrays)."""


def dirichlet_weights(
    weights: dict[str, float],
    *,
    n_runs: int = 200,
    concentration: float = 50.0,
    seed: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Draw criterion weights from a Dirichlet distribution around *weights*.

    Parameters
    ----------
    weights
        Effective weights; criteria with weight 0 stay at 0 in every draw.
    n_runs
        Number of draws.
    concentration
        Dirichlet concentration: ``alpha = weights / sum(weights) × concentration``.
    seed
        Seed or :class:`numpy.random.Generator`.

    Returns
    -------
    pandas.DataFrame
        One row per run, one column per criterion (all criteria of *weights*); rows sum to 1.
    """
    if n_runs < 1:
        raise ValueError(f"n_runs must be at least 1; got {n_runs}")
    if not (np.isfinite(concentration) and concentration > 0):
        raise ValueError(f"concentration must be a positive number; got {concentration!r}")
    active = [c for c, w in weights.items() if w > 0]
    if not active:
        raise ValueError("no criterion has a positive weight")
    w = np.array([weights[c] for c in active], dtype=float)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if len(active) == 1:
        draws = np.ones((n_runs, 1))
    else:
        draws = rng.dirichlet(w / w.sum() * concentration, size=n_runs)
    out = pd.DataFrame(0.0, index=pd.RangeIndex(n_runs, name="run"), columns=list(weights))
    out[active] = draws
    return out


def weight_sensitivity(
    criteria: pd.DataFrame,
    weights: dict[str, float],
    parcel_id: pd.Series,
    *,
    n_runs: int = 200,
    concentration: float = 50.0,
    top_n: int = 100,
    seed: int | np.random.Generator | None = 0,
    method: Method = "wlc",
    gamma: float = 0.8,
    eligible: pd.Series | np.ndarray | None = None,
) -> pd.DataFrame:
    """Rank intervals of parcels under Monte-Carlo perturbation of the criterion weights.

    Parameters
    ----------
    criteria
        Normalised criteria, one column per criterion (e.g. from
        :func:`prospector.analysis.criteria.build_criteria`).
    weights
        Effective weights (summing to 1) keyed by criterion column.
    parcel_id
        Parcel identifiers aligned with *criteria*; ties are broken by ascending id, as in
        :func:`~prospector.analysis.score.rank_scores`.
    n_runs
        Number of weight draws.
    concentration
        Dirichlet concentration (see :func:`dirichlet_weights`).
    top_n
        Size of the shortlist whose stability is measured.
    seed
        Seed or :class:`numpy.random.Generator`; the same seed gives the same result.
    method, gamma
        Scoring method, as in :func:`~prospector.analysis.score.combine`.
    eligible
        Parcels that are ranked (default: all); the others are left out of the result.

    Returns
    -------
    pandas.DataFrame
        One row per eligible parcel, ordered by ``rank`` (the rank under the unperturbed
        weights): ``parcel_id, rank, rank_p5, rank_median, rank_p95, top_n_share``.
    """
    if top_n < 1:
        raise ValueError(f"top_n must be at least 1; got {top_n}")
    missing = [c for c, w in weights.items() if w > 0 and c not in criteria]
    if missing:
        raise ValueError(f"criteria table has no column for weighted criteria {missing}")
    if len(parcel_id) != len(criteria):
        raise ValueError("parcel_id and criteria must have the same length")
    if eligible is None:
        mask = np.ones(len(criteria), dtype=bool)
    else:
        mask = np.asarray(eligible, dtype=bool)
    ids = pd.Series(np.asarray(parcel_id), index=criteria.index)
    base_score, _ = combine(criteria, weights, method=method, gamma=gamma)
    base_rank = rank_scores(base_score, ids, eligible=pd.Series(mask, index=criteria.index))

    draws = dirichlet_weights(weights, n_runs=n_runs, concentration=concentration, seed=seed)
    # Parcels in id order, so a stable sort on descending score breaks ties by id.
    sub = criteria.loc[mask]
    sub_ids = ids[mask].astype(str).to_numpy()
    by_id = np.argsort(sub_ids, kind="stable")
    n = len(by_id)
    ranks = np.empty((n_runs, n), dtype=np.int32)
    if method in ("wlc", "model"):  # the decision score of "model" is a weighted sum
        cols = [c for c in draws.columns if c in sub]
        x = sub[cols].to_numpy(dtype=float)[by_id]
        w = draws[cols].to_numpy()
        step = max(1, _CELLS_PER_BLOCK // max(n, 1))
        for start in range(0, n_runs, step):
            block = slice(start, min(start + step, n_runs))
            scores = np.round(w[block] @ x.T, 12)
            ranks[block] = _ranks_of(scores)
    else:
        for r in range(n_runs):
            run_w = {c: float(v) for c, v in draws.iloc[r].items() if v > 0}
            score, _ = combine(sub, run_w, method=method, gamma=gamma)
            ranks[r] = _ranks_of(np.round(score.to_numpy()[by_id], 12)[None, :])[0]

    p5, p50, p95 = np.percentile(ranks, [5, 50, 95], axis=0)
    share = (ranks <= top_n).mean(axis=0)
    out = pd.DataFrame(
        {
            "parcel_id": ids[mask].to_numpy()[by_id],
            "rank": base_rank[mask].to_numpy(dtype="int64")[by_id],
            "rank_p5": p5,
            "rank_median": p50,
            "rank_p95": p95,
            "top_n_share": share,
        }
    )
    return out.sort_values("rank", kind="stable").reset_index(drop=True)


def _ranks_of(scores: np.ndarray) -> np.ndarray:
    """Ranks 1..n per row of *scores* (higher is better; ties keep column order)."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order, dtype=np.int32)
    rows = np.arange(scores.shape[0])[:, None]
    ranks[rows, order] = np.arange(1, scores.shape[1] + 1, dtype=np.int32)
    return ranks
