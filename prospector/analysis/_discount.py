"""Discounted sums: per group, its terms sorted best first, the k-th times ``discount**(k-1)``.

Deposit value (:func:`prospector.analysis.value.parcel_value`) adds the sites near a parcel
this way, so one significant deposit outweighs many records of one camp.
"""

from __future__ import annotations

import numpy as np

__all__ = ["discounted_sums"]


def discounted_sums(
    parcel: np.ndarray,
    terms: np.ndarray,
    n: int,
    discount: float,
    *,
    tiebreak: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per parcel, the sum of its terms sorted best first, the k-th times ``discount**(k-1)``.

    Parameters
    ----------
    parcel
        Parcel position of each term.
    terms
        Non-negative contributions.
    tiebreak
        Order of equal terms (smaller first); default: their input order.
    n
        Number of parcels.
    discount
        Geometric discount in [0, 1] (1: plain sum; 0: the best term only).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The discounted sums (length *n*) and, per parcel, the input position of its best
        term (-1 for parcels without terms).
    """
    out = np.zeros(n)
    best = np.full(n, -1, dtype=np.int64)
    if len(terms) == 0:
        return out, best
    # Each parcel's terms, largest first (NaN last).  Equal terms give equal products
    # whatever their order, so the sums do not depend on how ties fall; only the best term
    # does (found below).  The terms are ranked by one unstable sort, then (parcel, rank)
    # pairs, packed into one integer each (n × len(terms) < 2**63 for any run that fits in
    # memory), are sorted by value: much faster than a stable multi-key sort.
    m = len(terms)
    by_term = np.argsort(-terms)
    rank = np.empty(m, dtype=np.int64)
    rank[by_term] = np.arange(m)
    packed = parcel.astype(np.int64) * m + rank
    del rank
    packed.sort()
    order = by_term[packed % m]
    del by_term
    p = packed // m
    del packed
    starts = np.r_[True, p[1:] != p[:-1]]
    group_start = np.flatnonzero(starts)
    del starts
    size = np.diff(np.r_[group_start, len(p)])
    k = np.arange(len(p)) - np.repeat(group_start, size)
    factor = np.power(discount, k.astype(float)) if discount != 1.0 else np.ones(len(p))
    del k
    ordered = terms[order]
    sums: np.ndarray = np.bincount(p, weights=ordered * factor, minlength=n)
    del factor
    # The best term: among the terms equal to the parcel's largest (a prefix of its run),
    # the one with the smallest tiebreak, then the first in input order.
    top = np.repeat(ordered[group_start], size)
    tied = (ordered == top) | (np.isnan(ordered) & np.isnan(top))
    del top
    ties = np.flatnonzero(tied)
    del tied
    tie_parcel, tie_rows = p[ties], order[ties]
    # Most parcels have one largest term: only those with several are sorted.
    lone = (
        np.r_[True, tie_parcel[1:] != tie_parcel[:-1]]
        & np.r_[tie_parcel[1:] != tie_parcel[:-1], True]
    )
    best[tie_parcel[lone]] = tie_rows[lone]
    tie_parcel, tie_rows = tie_parcel[~lone], tie_rows[~lone]
    if len(tie_rows):
        key = tie_rows if tiebreak is None else tiebreak[tie_rows]
        first = np.lexsort((tie_rows, key, tie_parcel))
        lead = np.r_[True, tie_parcel[first][1:] != tie_parcel[first][:-1]]
        best[tie_parcel[first][lead]] = tie_rows[first][lead]
    return sums, best
