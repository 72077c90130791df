"""One human sentence per parcel saying why it ranks where it does."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["CRITERION_LABELS", "explain"]

#: Plain-language names of criteria, used in sentences, legends and popups.
CRITERION_LABELS: dict[str, str] = {
    "value": "known deposits",
    "access_road": "road access",
    "access_rail": "rail access",
    "access_power": "power access",
    "terrain": "gentle terrain",
    "evidence_fault": "nearby faults",
}


def _km(values: pd.Series) -> pd.Series:
    text = values.map(lambda v: f"{v:.0f} km" if v >= 10 else f"{v:.1f} km")
    return text.where(values.notna(), "")


def _first(items: pd.Series, n: int) -> pd.Series:
    """First *n* entries of '; '-joined lists, comma-separated, with an ellipsis if cut."""
    parts = items.fillna("").str.split("; ")
    head = parts.str[:n].str.join(", ")
    return head + np.where(parts.str.len() > n, "…", "")


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
    land[status == "closed"] = "closed to mineral entry"
    parts.append(land)
    withdrawn = parcels.get("withdrawn_frac", pd.Series(0.0, index=index)).fillna(0.0)
    names = parcels.get("withdrawals", empty).fillna("")
    pct = (withdrawn * 100).round().astype(int).astype(str)
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
