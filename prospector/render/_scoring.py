"""What the page needs to re-score and re-rank every parcel in the browser.

The map re-weights live: the page holds the normalised criteria of every parcel and
repeats Python's scoring in JavaScript (``static/prospector-score.js``):

1. configured weight of a criterion = ``family weight * numerator / denominator``
   (:func:`prospector.analysis.criteria.criterion_shares`; a sub-criterion slider changes
   the numerator, the denominator is the sum of the family's numerators);
2. effective weights as :func:`prospector.analysis.score.effective_weights`: unavailable
   or zero-weight criteria dropped, the rest rescaled to sum 1, in the same order;
3. the score as :func:`prospector.analysis.score.combine` (``wlc``, ``gamma`` or
   ``topsis``; TOPSIS needs each column's Euclidean norm, maximum and minimum over every
   parcel normalisation saw, ranked or not, which travel in the payload);
4. ranks as :func:`prospector.analysis.score.rank_scores`: scores rounded to 12
   decimals, descending, ties by ascending parcel id (the page gets each parcel's
   position in parcel-id order, so it never compares strings itself).

Criteria travel as little-endian ``float64`` arrays (the very numbers Python used, so
ranks agree exactly) unless they would exceed :data:`FLOAT64_BUDGET_BYTES`; then as
``float32`` (≈ 7 significant digits: two parcels whose scores differ by less than
about 1e-7 may swap places).  The payload says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from prospector.errors import SchemaError
from prospector.render._payload import b64

__all__: list[str] = []

#: Largest criteria block sent as float64 (bytes before base64); beyond it, float32.
FLOAT64_BUDGET_BYTES = 8_000_000

#: Human names of criterion families and criteria (others are shown humanised).
FAMILY_LABELS: dict[str, str] = {
    "value": "Mineral value",
    "access": "Access",
    "evidence": "Geological evidence",
    "prospectivity": "Learned prospectivity",
}
CRITERION_LABELS: dict[str, str] = {
    "value": "Known deposits",
    "access_road": "Roads",
    "access_rail": "Railways",
    "access_power": "Power lines",
    "terrain": "Terrain (slope)",
    "travel": "Travel cost",
    "evidence_fault": "Faults",
    "prospectivity": "Model score",
}


@dataclass
class Scoring:
    """A run's scoring, for live re-weighting on the map.

    Parameters
    ----------
    criteria
        Normalised criteria (one column each, values in [0, 1]) of every parcel the run
        normalised over (ranked and excluded), indexed by ``parcel_id``.
    family_weights
        The run's ``score.weights`` (family → weight).
    shares
        Criterion → ``(family, numerator, denominator)``, as returned by
        :func:`prospector.analysis.criteria.criterion_shares`.
    available
        Criterion → whether the region supplied its input.
    reasons
        Criterion → why it is unavailable (shown beside its disabled slider).
    method, gamma
        ``score.method`` and ``score.gamma``.
    """

    criteria: pd.DataFrame
    family_weights: dict[str, float]
    shares: dict[str, tuple[str, float, float]]
    available: dict[str, bool]
    reasons: dict[str, str] = field(default_factory=dict)
    method: str = "wlc"
    gamma: float = 0.8


def scoring_payload(scoring: Scoring, parcel_ids: np.ndarray) -> dict[str, Any]:
    """Return the ``scoring`` part of the map payload for the map's parcels *parcel_ids*.

    Raises
    ------
    SchemaError
        If a map parcel has no row in ``scoring.criteria``, a criterion has no share, or
        a value is outside [0, 1].
    """
    crit = scoring.criteria
    problems = []
    if crit.index.has_duplicates:
        problems.append("scoring criteria have duplicate parcel ids")
    names = [str(c) for c in crit.columns]
    unknown = [c for c in names if c not in scoring.shares]
    if unknown:
        problems.append(f"criteria without a family share: {unknown}")
    if problems:
        raise SchemaError("Cannot build the map's scoring: " + "; ".join(problems) + ".")
    rows = crit.index.get_indexer(pd.Index(parcel_ids))
    if (rows < 0).any():
        missing = [str(v) for v in np.asarray(parcel_ids)[rows < 0][:5]]
        raise SchemaError(
            f"Cannot build the map's scoring: {int((rows < 0).sum())} map parcels have no "
            f"criteria row (e.g. {missing}); pass the criteria of every ranked parcel."
        )
    full = crit.to_numpy(dtype="float64", na_value=np.nan)
    if np.isnan(full).any() or (full < 0).any() or (full > 1).any():
        raise SchemaError(
            "Cannot build the map's scoring: normalised criteria must be in [0, 1] without "
            "missing values (as prospector.analysis.criteria.build_criteria returns them)."
        )
    used = [i for i, c in enumerate(names) if scoring.available.get(c, False)]
    block = full[rows][:, used]
    n, k = block.shape
    dtype = "float64" if n * k * 8 <= FLOAT64_BUDGET_BYTES else "float32"
    criteria: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        family, num, den = scoring.shares[name]
        col = full[:, i]
        norm = float(np.sqrt((col**2).sum()))
        criteria.append(
            {
                "key": name,
                "label": CRITERION_LABELS.get(name, name.replace("_", " ")),
                "family": family,
                "num": float(num),
                "den": float(den),
                "available": bool(scoring.available.get(name, False)),
                "reason": scoring.reasons.get(name),
                "column": used.index(i) if i in used else None,
                # TOPSIS needs the column statistics over every normalised parcel.
                "norm": norm,
                "max": float(col.max()) if len(col) else 0.0,
                "min": float(col.min()) if len(col) else 0.0,
            }
        )
    families = list(
        dict.fromkeys([*scoring.family_weights, *(share[0] for share in scoring.shares.values())])
    )
    return {
        "method": scoring.method,
        "gamma": float(scoring.gamma),
        "decimals": 12,
        "families": [
            {
                "key": f,
                "label": FAMILY_LABELS.get(f, f.replace("_", " ")),
                "weight": float(scoring.family_weights.get(f, 0.0)),
            }
            for f in families
        ],
        "criteria": criteria,
        "dtype": dtype,
        "n_columns": k,
        # Column-major: criterion j of parcel i at j * n + i.
        "values": b64(block.T.reshape(-1), dtype),
    }
