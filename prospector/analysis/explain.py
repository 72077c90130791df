"""One human sentence per parcel saying why it ranks where it does."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["CRITERION_LABELS", "explain"]

#: Plain-language names of criteria, used in sentences, legends and popups.
CRITERION_LABELS: dict[str, str] = {
    "value": "known deposits",
    "access_road": "road access",
    "access_rail": "rail access",
    "access_power": "power access",
    "terrain": "gentle terrain",
    "travel": "short travel from roads",
    "evidence_fault": "nearby faults",
}


def _int_text(values: np.ndarray) -> pa.Array:
    """Decimal text of integers, through Arrow's C cast."""
    return pc.cast(pa.array(values, type=pa.int64()), pa.string())


def _concat(*parts: pa.Array | str) -> np.ndarray:
    """Element-wise concatenation of Arrow string arrays and literals (object array)."""
    return pc.binary_join_element_wise(*parts, "").to_numpy(zero_copy_only=False)


def _km(values: pd.Series) -> pd.Series:
    """``f"{v:.0f} km"`` from 10 km, ``f"{v:.1f} km"`` below, "" for NaN (vectorised).

    ``np.rint`` rounds half to even on the exact binary value, as ``format`` does, so whole
    kilometres are exact; tenths come from ``rint(v * 10)`` except within 1e-6 of a half
    (where the product may round), which are formatted by Python like the rest used to be.
    """
    v = values.to_numpy(dtype=float, na_value=np.nan)
    out = np.full(len(v), "", dtype=object)
    finite = np.isfinite(v) & (v >= 0) & (v < 1e15)
    big = finite & (v >= 10)
    if big.any():
        out[big] = _concat(_int_text(np.rint(v[big]).astype(np.int64)), " km")
    tenths = v * 10.0
    frac = tenths - np.floor(tenths)
    small = finite & ~big & (np.abs(frac - 0.5) > 1e-6)
    if small.any():
        r = np.rint(tenths[small]).astype(np.int64)
        out[small] = _concat(_int_text(r // 10), ".", _int_text(r % 10), " km")
    other = ~np.isnan(v) & ~big & ~small
    for i in np.flatnonzero(other):
        out[i] = f"{v[i]:.0f} km" if v[i] >= 10 else f"{v[i]:.1f} km"
    return pd.Series(out, index=values.index, dtype=object)


def _first(items: pd.Series, n: int) -> pd.Series:
    """First *n* entries of '; '-joined lists, comma-separated, with an ellipsis if cut."""
    text = items.fillna("").to_numpy(dtype=object)
    out = np.full(len(text), "", dtype=object)
    for i in np.flatnonzero(text != ""):  # most parcels list nothing
        parts = text[i].split("; ")
        out[i] = ", ".join(parts[:n]) + ("…" if len(parts) > n else "")
    return pd.Series(out, index=items.index, dtype=object)


def explain(parcels: pd.DataFrame, *, radius_km: float) -> pd.Series:
    """Build the ``why`` sentence of every parcel (vectorised over columns).

    Uses the canonical parcel columns (rank, n_deposits, commodities, critical_commodities,
    dist_*_km, land_status, agency, withdrawals, withdrawn_frac, contrib_*).  Example:
    ``"#12: 3 known sites inside (uranium, vanadium; critical: uranium, vanadium); 4.2 km to
    rail; 0.8 km to a Quaternary fault; ownership unknown. Driven by known deposits."``
    """
    index = parcels.index
    empty = pd.Series("", index=index, dtype=object)
    n = parcels.get("n_deposits", pd.Series(0, index=index)).fillna(0).astype(int)
    comm = parcels.get("commodities", empty).fillna("")
    crit = parcels.get("critical_commodities", empty).fillna("")
    value = parcels.get("value_raw", pd.Series(0.0, index=index)).fillna(0.0)

    sites = n.astype(str) + " known site" + np.where(n == 1, "", "s") + " inside"
    listed = _first(comm, 4)
    sites = sites + np.where(listed != "", " (" + listed + ")", " (commodity unidentified)")
    sites = sites + np.where(crit != "", "; critical: " + _first(crit, 4), "")
    nearby = np.where(
        value > 0, f"known sites within {radius_km:g} km", f"no known site within {radius_km:g} km"
    )
    parts = [pd.Series(np.where(n > 0, sites, nearby), index=index)]

    for kind, label in (
        ("road", "road"),
        ("rail", "rail"),
        ("power", "power"),
        ("fault", "a Quaternary fault"),
    ):
        col = f"dist_{kind}_km"
        if col in parcels:
            km = _km(parcels[col])
            parts.append(km.where(km == "", km + f" to {label}"))

    status = parcels.get("land_status", pd.Series("unknown", index=index))
    agency = parcels.get("agency", empty).fillna("")
    ground = (agency + " ground").str.strip()
    land = pd.Series("ownership unknown", index=index, dtype=object)
    land[status == "open"] = ("open " + ground)[status == "open"]
    land[status == "partly_open"] = ("partly open " + ground)[status == "partly_open"]
    reason = parcels.get("status_reason", empty).fillna("").str.split(";").str[0].str.strip()
    closed = status == "closed"
    land[closed] = np.where(reason[closed] != "", "closed: " + reason[closed], "closed")
    parts.append(land)
    withdrawn = parcels.get("withdrawn_frac", pd.Series(0.0, index=index)).fillna(0.0)
    names = parcels.get("withdrawals", empty).fillna("")
    pct = (withdrawn * 100).round().astype(int).astype(str).where(withdrawn >= 0.005, "<1")
    parts.append(
        pd.Series(
            np.where((withdrawn > 0) & (names != ""), pct + "% withdrawn (" + names + ")", ""),
            index=index,
        )
    )

    body = parts[0]
    for part in parts[1:]:
        body = body + np.where(part != "", "; " + part, "")

    rank = parcels.get("rank")
    if rank is not None:
        head = pd.Series(
            np.where(rank.notna(), "#" + rank.astype("string").fillna("") + ": ", ""), index=index
        )
    else:
        head = empty
    contrib_cols = [c for c in parcels.columns if c.startswith("contrib_")]
    tail = empty
    if contrib_cols:
        top = parcels[contrib_cols].idxmax(axis=1).str.removeprefix("contrib_")
        label = top.map(lambda c: CRITERION_LABELS.get(c, c.replace("_", " ")))
        tail = pd.Series(
            np.where(parcels[contrib_cols].max(axis=1) > 0, " Driven by " + label + ".", ""),
            index=index,
        )
    return (head + body + "." + tail).astype(object)
