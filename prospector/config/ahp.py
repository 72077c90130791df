"""Criterion weights from pairwise judgements: Saaty's analytic hierarchy process (AHP).

A judgement ``a_ij`` says how many times more important criterion *i* is than *j* (Saaty's
1–9 scale; ``a_ji = 1 / a_ij``).  The weights are the principal (Perron) eigenvector of the
reciprocal matrix, scaled to sum to 1.  The consistency index ``CI = (λmax − n) / (n − 1)``
and the consistency ratio ``CR = CI / RI(n)`` (RI: Saaty's random index, the mean CI of
random reciprocal matrices) say how far the judgements are from a consistent set
(``a_ij · a_jk = a_ik``).  Weights from judgements with ``CR > 0.1`` are refused unless
forced: the error names the judgements that disagree most with the weights.

Judgements can be written TOML-style, one key per pair::

    {"value/access" = 3, "value/evidence" = 5, "access/evidence" = 2}

meaning "value is 3× as important as access", and so on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from prospector.errors import ConfigError

__all__ = [
    "RANDOM_INDEX",
    "AHPResult",
    "ahp_weights",
    "judgement_matrix",
    "weights_from_judgements",
]

#: Saaty's random consistency index by matrix order (Saaty 1980, *The Analytic Hierarchy
#: Process*, table 1.7).
RANDOM_INDEX: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
}

MAX_CR = 0.1
"""Saaty's threshold: judgements with a higher consistency ratio should be revised."""


@dataclass(frozen=True)
class AHPResult:
    """Weights and consistency of one pairwise comparison matrix."""

    criteria: tuple[str, ...]
    weights: dict[str, float]
    """Principal-eigenvector weights, summing to 1, keyed by criterion."""
    lambda_max: float
    ci: float
    """Consistency index (λmax − n) / (n − 1)."""
    cr: float
    """Consistency ratio CI / RI(n); 0 for n ≤ 2."""
    random_index: float
    matrix: np.ndarray

    def inconsistent_pairs(self, n: int = 3) -> list[tuple[str, str, float, float]]:
        """Return the *n* judgements that disagree most with the derived weights.

        Returns
        -------
        list of (criterion i, criterion j, judged a_ij, implied w_i / w_j)
            Sorted by decreasing ``|ln(a_ij · w_j / w_i)|``, one entry per pair (i < j).
        """
        w = np.array([self.weights[c] for c in self.criteria])
        k = len(w)
        pairs = []
        for i in range(k):
            for j in range(i + 1, k):
                implied = w[i] / w[j]
                error = abs(math.log(self.matrix[i, j] / implied))
                pairs.append(
                    (error, self.criteria[i], self.criteria[j], self.matrix[i, j], implied)
                )
        pairs.sort(key=lambda p: -p[0])
        return [(a, b, float(judged), float(implied)) for _, a, b, judged, implied in pairs[:n]]


def ahp_weights(
    matrix: np.ndarray | Sequence[Sequence[float]],
    criteria: Sequence[str] | None = None,
    *,
    force: bool = False,
    max_cr: float = MAX_CR,
) -> AHPResult:
    """Weights from a reciprocal pairwise comparison matrix (principal eigenvector).

    Parameters
    ----------
    matrix
        Square, positive, reciprocal matrix (``a_ii = 1``, ``a_ji = 1 / a_ij``);
        ``a_ij`` is how many times more important criterion *i* is than *j*.
    criteria
        Names of the rows/columns (default ``c0, c1, ...``).
    force
        Return the weights even when the consistency ratio exceeds *max_cr*.
    max_cr
        Largest acceptable consistency ratio (Saaty: 0.1).

    Returns
    -------
    AHPResult

    Raises
    ------
    prospector.errors.ConfigError
        When the matrix is not a positive reciprocal square matrix, has more than 10 rows
        (no random index), or is too inconsistent (``CR > max_cr``) and *force* is False.
    """
    a = np.asarray(matrix, dtype=float)
    problems: list[str] = []
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise ConfigError(f"AHP needs a square pairwise comparison matrix; got shape {a.shape}.")
    n = a.shape[0]
    names = tuple(criteria) if criteria is not None else tuple(f"c{i}" for i in range(n))
    if len(names) != n:
        raise ConfigError(f"AHP: {len(names)} criterion names for a {n}×{n} matrix.")
    if len(set(names)) != n:
        raise ConfigError(f"AHP: criterion names must be unique; got {list(names)}.")
    if n > max(RANDOM_INDEX):
        raise ConfigError(
            f"AHP: {n} criteria; Saaty's random index is tabulated up to {max(RANDOM_INDEX)}. "
            "Group the criteria hierarchically (e.g. weight the families, then within each)."
        )
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        problems.append("every judgement must be a finite positive number")
    else:
        for i in range(n):
            if not math.isclose(a[i, i], 1.0, rel_tol=1e-9):
                problems.append(f"a[{names[i]}, {names[i]}] must be 1; got {a[i, i]:g}")
            for j in range(i + 1, n):
                if not math.isclose(a[i, j] * a[j, i], 1.0, rel_tol=1e-6):
                    problems.append(
                        f"a[{names[i]}, {names[j]}] = {a[i, j]:g} and a[{names[j]}, {names[i]}] = "
                        f"{a[j, i]:g} are not reciprocal (expected {1 / a[i, j]:g})"
                    )
    if problems:
        raise ConfigError("invalid AHP matrix:\n  " + "\n  ".join(problems))

    values, vectors = np.linalg.eig(a)
    k = int(np.argmax(values.real))
    lambda_max = float(values[k].real)
    w = np.abs(vectors[:, k].real)
    w = w / w.sum()
    ci = max((lambda_max - n) / (n - 1), 0.0) if n > 2 else 0.0
    ri = RANDOM_INDEX[n]
    cr = ci / ri if ri > 0 else 0.0
    result = AHPResult(
        criteria=names,
        weights={c: float(x) for c, x in zip(names, w, strict=True)},
        lambda_max=lambda_max,
        ci=ci,
        cr=cr,
        random_index=ri,
        matrix=a,
    )
    if cr > max_cr and not force:
        worst = "; ".join(
            f"{i}/{j} judged {judged:.3g} but the weights imply {implied:.3g}"
            for i, j, judged, implied in result.inconsistent_pairs(3)
        )
        raise ConfigError(
            f"AHP judgements are too inconsistent: consistency ratio CR = {cr:.3f} "
            f"(CI = {ci:.3f}, λmax = {lambda_max:.3f}, random index {ri:.2f} for n = {n}) "
            f"exceeds {max_cr:g}. Most inconsistent judgements: {worst}. Revise these "
            "judgements, or pass force=True to use the weights anyway."
        )
    return result


def judgement_matrix(
    judgements: Mapping[str, float], criteria: Sequence[str] | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Build the reciprocal matrix from ``{"a/b": value}`` judgements.

    Parameters
    ----------
    judgements
        One entry per pair of criteria, ``"a/b" = x`` meaning *a* is *x* times as important
        as *b* (use a fraction, e.g. ``1/3``, when *b* is the more important).
    criteria
        Criterion order (default: order of first appearance in the keys).

    Returns
    -------
    (numpy.ndarray, tuple of str)
        The matrix and the criterion names of its rows/columns.

    Raises
    ------
    prospector.errors.ConfigError
        Listing every malformed key, bad value, repeated or missing pair at once.
    """
    problems: list[str] = []
    parsed: list[tuple[str, str, float]] = []
    order: list[str] = list(criteria) if criteria is not None else []
    for key, value in judgements.items():
        parts = [p.strip() for p in str(key).split("/")]
        if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
            problems.append(f"{key!r}: expected a key 'a/b' naming two different criteria")
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not (math.isfinite(value) and value > 0)
        ):
            problems.append(
                f"{key!r}: the judgement must be a finite positive number; got {value!r}"
            )
            continue
        parsed.append((parts[0], parts[1], float(value)))
        if criteria is None:
            order += [p for p in parts if p not in order]
    known = set(order)
    seen: dict[frozenset[str], str] = {}
    for a, b, _ in parsed:
        for name in (a, b):
            if name not in known:
                problems.append(f"{a}/{b}: unknown criterion {name!r}; expected one of {order}")
        pair = frozenset((a, b))
        if pair in seen:
            problems.append(f"{a}/{b}: the pair is already judged as {seen[pair]!r}; give it once")
        seen[pair] = f"{a}/{b}"
    n = len(order)
    missing = [
        f"{order[i]}/{order[j]}"
        for i in range(n)
        for j in range(i + 1, n)
        if frozenset((order[i], order[j])) not in seen
    ]
    if missing:
        problems.append(f"missing judgements: {', '.join(missing)}")
    if n < 2:
        problems.append(f"AHP needs at least two criteria; got {order}")
    if problems:
        raise ConfigError("invalid AHP judgements:\n  " + "\n  ".join(problems))
    index = {name: i for i, name in enumerate(order)}
    matrix = np.ones((n, n))
    for a, b, x in parsed:
        matrix[index[a], index[b]] = x
        matrix[index[b], index[a]] = 1.0 / x
    return matrix, tuple(order)


def weights_from_judgements(
    judgements: Mapping[str, float],
    criteria: Sequence[str] | None = None,
    *,
    force: bool = False,
    max_cr: float = MAX_CR,
) -> AHPResult:
    """AHP weights from ``{"a/b": value}`` judgements (see :func:`judgement_matrix`).

    The resulting ``weights`` can be used directly as ``score.weights`` when the criteria
    are the families ``value``, ``access`` and ``evidence``.
    """
    matrix, names = judgement_matrix(judgements, criteria)
    return ahp_weights(matrix, names, force=force, max_cr=max_cr)
