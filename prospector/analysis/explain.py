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


def _km(value: float) -> str:
    return f"{value:.0f} km" if value >= 10 else f"{value:.1f} km"


def explain(parcels: pd.DataFrame, *, radius_km: float) -> pd.Series:
    """Build the ``why`` sentence of every parcel.

    Uses the canonical parcel columns (rank, n_deposits, commodities, critical_commodities,
    dist_*_km, land_status, agency, withdrawals, contrib_*).  Example:
    ``"#12: 3 sites inside (uranium, vanadium; critical: uranium, vanadium); 4.2 km to
    rail; 0.8 km to a Quaternary fault; ownership unknown. Driven by known deposits."``
    """
    contrib_cols = [c for c in parcels.columns if c.startswith("contrib_")]
    top = (
        parcels[contrib_cols].idxmax(axis=1).str.removeprefix("contrib_")
        if contrib_cols
        else pd.Series("", index=parcels.index)
    )
    has_contrib = parcels[contrib_cols].max(axis=1) > 0 if contrib_cols else top == ""
    sentences = []
    cols = parcels.columns
    for i, row in enumerate(parcels.itertuples(index=False)):
        r = row._asdict()
        parts: list[str] = []
        n = int(r.get("n_deposits", 0) or 0)
        crit = r.get("critical_commodities") or ""
        comm = r.get("commodities") or ""
        if n:
            listed = ", ".join(comm.split("; ")[:4]) + ("…" if comm.count("; ") >= 4 else "")
            text = f"{n} known site{'s' if n != 1 else ''} inside ({listed})" if listed else f"{n} known sites inside (commodity unidentified)"
            if crit:
                text += f"; critical: {', '.join(crit.split('; ')[:4])}"
            parts.append(text)
        elif "value_raw" in cols and (r.get("value_raw") or 0) > 0:
            parts.append(f"known sites within {radius_km:g} km")
        else:
            parts.append(f"no known site within {radius_km:g} km")
        for kind in ("road", "rail", "power"):
            d = r.get(f"dist_{kind}_km")
            if d is not None and not np.isnan(d):
                parts.append(f"{_km(d)} to {kind}")
        d = r.get("dist_fault_km")
        if d is not None and not np.isnan(d):
            parts.append(f"{_km(d)} to a Quaternary fault")
        status = r.get("land_status", "unknown")
        agency = r.get("agency") or ""
        if status == "open":
            parts.append(f"open {agency} ground".replace("  ", " "))
        elif status == "partly_open":
            parts.append(f"partly open {agency} ground".replace("  ", " "))
        elif status == "closed":
            parts.append("closed to mineral entry")
        else:
            parts.append("ownership unknown")
        w = r.get("withdrawals") or ""
        frac = r.get("withdrawn_frac") or 0.0
        if w and frac > 0:
            parts.append(f"{frac:.0%} withdrawn ({w})")
        rank = r.get("rank")
        head = f"#{int(rank)}: " if rank is not None and not pd.isna(rank) else ""
        tail = (
            f" Driven by {CRITERION_LABELS.get(top.iloc[i], top.iloc[i].replace('_', ' '))}."
            if has_contrib.iloc[i]
            else ""
        )
        sentences.append(head + "; ".join(parts) + "." + tail)
    return pd.Series(sentences, index=parcels.index, dtype=object)
