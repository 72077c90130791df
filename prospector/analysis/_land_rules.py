"""From a parcel's land fractions to its land status and the reason in words."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["OPEN_TOLERANCE", "classify"]

#: A parcel is "open" when at least 1 - OPEN_TOLERANCE of it is open ground.
OPEN_TOLERANCE = 1e-3


def classify(
    frame: pd.DataFrame, *, have_land: bool, have_claims: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Status (``open``, ``partly_open``, ``restricted``, ``closed``, ``unknown``) and reason."""
    withdrawn = frame["withdrawn_frac"].to_numpy()
    n = len(frame)
    status = np.full(n, "unknown", dtype=object)
    reason = np.full(n, "", dtype=object)
    fully_withdrawn = withdrawn >= 1.0 - OPEN_TOLERANCE
    if not have_land:
        status[fully_withdrawn] = "closed"
        reason[fully_withdrawn] = "withdrawn from mineral entry"
        reason[~fully_withdrawn] = "ownership unknown: no land-ownership layer supplied"
        inside = (
            ~fully_withdrawn
            & (frame["restricted_frac"].to_numpy() + withdrawn >= 1.0 - OPEN_TOLERANCE)
            & (frame["restricted_frac"].to_numpy() >= OPEN_TOLERANCE)
        )
        status[inside] = "restricted"
        reason[inside] = _restricted_text(frame["restrictions"].to_numpy(dtype=object)[inside])
        return status, reason
    open_frac = frame["open_frac"].to_numpy()
    federal = frame["federal_frac"].to_numpy()
    claimed = frame["claimed_frac"].fillna(0.0).to_numpy()
    is_open = open_frac >= 1.0 - OPEN_TOLERANCE
    partly = ~is_open & (open_frac >= OPEN_TOLERANCE)
    closed = ~is_open & ~partly
    status[is_open], status[partly], status[closed] = "open", "partly_open", "closed"
    reason[closed & fully_withdrawn] = "withdrawn from mineral entry"
    reason[closed & ~fully_withdrawn & (federal < OPEN_TOLERANCE)] = "not federal land"
    open_agency = frame["open_agency_frac"].to_numpy()
    agency = frame["agency"].to_numpy(dtype=object)
    not_open_agency = closed & (reason == "") & (open_agency < OPEN_TOLERANCE)
    reason[not_open_agency] = np.char.add(
        np.char.add("managed by ", agency[not_open_agency].astype(str)),
        ": not open to mineral location",
    ).astype(object)
    reason[closed & (reason == "") & (claimed > 0)] = "claimed"
    reason[closed & (reason == "")] = "withdrawn, claimed or not open to location"
    reason[partly] = "partly withdrawn, claimed, or not open to location"
    _mark_restricted(frame, status, reason)
    if not have_claims:
        note = "mining claims not checked: no claims layer supplied"
        reason = np.array([f"{r}; {note}" if r else note for r in reason], dtype=object)
    return status, reason


def _restricted_text(names: np.ndarray) -> np.ndarray:
    return np.array(
        [
            f"open to location with restrictions inside {n}: WSAs are managed to the BLM "
            "Manual 6330 non-impairment standard; ACECs need a plan of operations "
            "(43 CFR 3809.11)"
            for n in names
        ],
        dtype=object,
    )


def _mark_restricted(frame: pd.DataFrame, status: np.ndarray, reason: np.ndarray) -> None:
    """Open ground that lies wholly in WSAs/ACECs becomes ``restricted``; partly: noted."""
    open_frac = frame["open_frac"].to_numpy()
    limited = frame["restricted_frac"].to_numpy()
    names = frame["restrictions"].to_numpy(dtype=object)
    has_open = (status == "open") | (status == "partly_open")
    free = open_frac - limited
    whole = has_open & (limited >= OPEN_TOLERANCE) & (free < OPEN_TOLERANCE)
    status[whole] = "restricted"
    reason[whole] = _restricted_text(names[whole])
    part = has_open & (limited >= OPEN_TOLERANCE) & ~whole
    for i in np.flatnonzero(part):
        note = f"{limited[i]:.0%} of the parcel is open ground inside {names[i]} (restricted)"
        reason[i] = f"{reason[i]}; {note}" if reason[i] else note
