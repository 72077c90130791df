"""Coarse withdrawal boundaries: superseded by exact ones, or ``verify_boundary``.

See :mod:`prospector.analysis.land` for the rule.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector._runtime import quiet
from prospector.analysis._boxes import intersect_pairs
from prospector.analysis._land_rules import OPEN_TOLERANCE
from prospector.analysis._parcel_overlay import area_or_zero, union_by_parcel
from prospector.analysis.index import ParcelIndex

__all__ = ["SUPERSEDED_SHARE", "positional_accuracy", "supersede", "verify_boundaries"]

#: A coarse withdrawal at least this share covered by exact ones of the same kind is dropped.
SUPERSEDED_SHARE = 0.5


def positional_accuracy(withdrawals: gpd.GeoDataFrame) -> np.ndarray:
    """Positional accuracy (metres) of every withdrawal; 0 where not stated."""
    if "positional_accuracy_m" not in withdrawals:
        return np.zeros(len(withdrawals))
    acc = pd.to_numeric(withdrawals["positional_accuracy_m"], errors="coerce")
    return np.nan_to_num(acc.to_numpy(dtype=float), nan=0.0).clip(min=0.0)


#: Words of unit names that say what kind of unit it is, not which (ignored when names of
#: coarse and exact withdrawals are compared).
_UNIT_WORDS = frozenset(
    [
        "n",
        "np",
        "nm",
        "nra",
        "nhp",
        "nhs",
        "pres",
        "preserve",
        "national",
        "park",
        "monument",
        "recreation",
        "area",
        "historical",
        "historic",
        "site",
        "wilderness",
        "wsa",
        "study",
        "the",
        "and",
        "of",
        "&",
    ]
)


def _unit_key(name: object) -> str:
    """``"Zion NP"`` and ``"Zion National Park"`` → ``"zion"``."""
    words = re.findall(r"[a-z0-9&]+", str(name).lower()) if isinstance(name, str) else []
    return " ".join(w for w in words if w not in _UNIT_WORDS)


def supersede(withdrawals: gpd.GeoDataFrame, accuracy: np.ndarray) -> np.ndarray:
    """Mask of the withdrawals to keep.

    A coarse withdrawal goes when exact withdrawals of the same ``kind`` cover at least
    :data:`SUPERSEDED_SHARE` of it, or when one has the same unit name ("Zion NP" and "Zion
    National Park"): the exact boundary of the same unit is authoritative, wherever the
    generalised outline was drawn.
    """
    keep = np.ones(len(withdrawals), dtype=bool)
    coarse = np.flatnonzero(accuracy > 0)
    exact = np.flatnonzero(accuracy == 0)
    if len(coarse) == 0 or len(exact) == 0:
        return keep
    geoms = withdrawals.geometry.to_numpy()
    kinds = (
        withdrawals["kind"].astype(str).to_numpy()
        if "kind" in withdrawals
        else np.full(len(withdrawals), "", dtype=object)
    )
    if "name" in withdrawals:
        keys = np.array([_unit_key(v) for v in withdrawals["name"].to_numpy()], dtype=object)
        exact_units = {(kinds[i], keys[i]) for i in exact if keys[i]}
        named = np.array([bool(keys[i]) and (kinds[i], keys[i]) in exact_units for i in coarse])
        keep[coarse[named]] = False
    tree = shapely.STRtree(geoms[exact])
    ci, ei = tree.query(geoms[coarse], predicate="intersects")
    same = kinds[coarse[ci]] == kinds[exact[ei]]
    ci, ei = ci[same], ei[same]
    if len(ci) == 0:
        return keep
    shared = area_or_zero(quiet(shapely.intersection)(geoms[coarse[ci]], geoms[exact[ei]]))
    covered = np.bincount(ci, weights=shared, minlength=len(coarse))
    area = shapely.area(geoms[coarse])
    keep[coarse[covered >= SUPERSEDED_SHARE * np.maximum(area, 1e-300)]] = False
    return keep


def verify_boundaries(
    frame: pd.DataFrame,
    status: np.ndarray,
    reason: np.ndarray,
    geoms: np.ndarray,
    withdrawals: gpd.GeoDataFrame,
    accuracy: np.ndarray,
    coarse: tuple[np.ndarray, np.ndarray],
    min_sliver_m2: float,
) -> None:
    """Turn ``closed`` into ``verify_boundary`` where only coarse boundaries close a parcel.

    Candidates are closed parcels that are wholly withdrawn, touch a coarse withdrawal and,
    with a land layer, hold ground of an agency open to location (otherwise the land layer
    closes them whatever the withdrawals).  A candidate stays closed when it is also wholly
    covered by the exact withdrawals plus every coarse one shrunk by its accuracy.
    """
    coarse_m, coarse_names = coarse
    withdrawn = frame["withdrawn_frac"].to_numpy()
    open_agency = frame["open_agency_frac"].to_numpy()
    cand = (status == "closed") & (withdrawn >= 1.0 - OPEN_TOLERANCE) & (coarse_m > 0)
    cand &= np.isnan(open_agency) | (open_agency >= OPEN_TOLERANCE)
    rows = np.flatnonzero(cand)
    if len(rows) == 0:
        return
    polys = withdrawals.geometry.to_numpy()
    sure = np.where(
        accuracy > 0, quiet(lambda g, d: shapely.buffer(g, d, quad_segs=4))(polys, -accuracy), polys
    )
    sure = sure[~shapely.is_empty(sure) & ~pd.isna(sure)]
    sub = ParcelIndex.of(geoms[rows])
    pi, _li, pieces = intersect_pairs(sub, sure, min_area_m2=min_sliver_m2)
    covered = area_or_zero(union_by_parcel(len(rows), pi, pieces)) / shapely.area(geoms[rows])
    verify = rows[covered < 1.0 - OPEN_TOLERANCE]
    if len(verify) == 0:
        return
    status[verify] = "verify_boundary"
    km = coarse_m[verify] / 1000.0
    names = coarse_names[verify]
    tail = reason[verify]
    reason[verify] = np.array(
        [
            f"inside {name} only by a boundary known to ±{k:g} km: check the official "
            f"boundary before treating it as closed"
            + (f"; {t.split('; ', 1)[1]}" if "; " in t else "")
            for name, k, t in zip(names, km, tail, strict=True)
        ],
        dtype=object,
    )
