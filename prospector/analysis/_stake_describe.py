"""Describe planned claims: PLSS section/township/range/meridian and county.

PLSS first divisions come as BLM CadNSDI publishes them: the catalogue entry
``blm-plss-sections`` maps ``FRSTDIVID`` to the canonical ``parcel_id``.  A first-division
id is the township's ``PLSSID`` (state, principal-meridian code, township number,
fraction and direction, range number, fraction and direction, duplicate flag: 15
characters, e.g. ``UT260310S0030E0``) followed by ``SN`` and the section number
(``SN010`` = section 1).  Frames that already carry ``meridian``, ``township``, ``range``
and ``section`` columns are used as they are.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import shapely

__all__ = ["MERIDIANS", "describe_by_area", "parse_frstdivid", "plss_text"]

#: CadNSDI principal-meridian codes (alphabetical after the six numbered meridians).
MERIDIANS: dict[str, str] = {
    "01": "First Principal Meridian",
    "02": "Second Principal Meridian",
    "03": "Third Principal Meridian",
    "04": "Fourth Principal Meridian",
    "05": "Fifth Principal Meridian",
    "06": "Sixth Principal Meridian",
    "07": "Black Hills Meridian",
    "08": "Boise Meridian",
    "09": "Chickasaw Meridian",
    "10": "Choctaw Meridian",
    "11": "Cimarron Meridian",
    "12": "Copper River Meridian",
    "13": "Fairbanks Meridian",
    "14": "Gila and Salt River Meridian",
    "15": "Humboldt Meridian",
    "16": "Huntsville Meridian",
    "17": "Indian Meridian",
    "18": "Louisiana Meridian",
    "19": "Michigan Meridian",
    "20": "Principal Meridian Montana",
    "21": "Mount Diablo Meridian",
    "22": "Navajo Meridian",
    "23": "New Mexico Principal Meridian",
    "24": "St. Helena Meridian",
    "25": "St. Stephens Meridian",
    "26": "Salt Lake Meridian",
    "27": "San Bernardino Meridian",
    "28": "Seward Meridian",
    "29": "Tallahassee Meridian",
    "30": "Uintah Special Meridian",
    "31": "Ute Meridian",
    "32": "Washington Meridian",
    "33": "Willamette Meridian",
    "34": "Wind River Meridian",
}

_FRACTIONS = {"0": "", "1": "¼", "2": "½", "3": "¾"}
_FRSTDIVID = re.compile(
    r"^(?P<state>[A-Z]{2})(?P<pm>\d{2})(?P<twp>\d{3})(?P<twpf>\d)(?P<twpd>[NS])"
    r"(?P<rng>\d{3})(?P<rngf>\d)(?P<rngd>[EW])(?P<dup>\d)SN(?P<sec>\d{2})"
)


def parse_frstdivid(text: str) -> dict[str, str] | None:
    """Split a CadNSDI first-division id into meridian, township, range and section.

    Returns None for ids that are not sections (``SN``) in the CadNSDI layout.

    Examples
    --------
    >>> parse_frstdivid("UT260310S0030E0SN010")["township"]
    'T. 31 S.'
    """
    m = _FRSTDIVID.match(str(text).strip().upper())
    if m is None:
        return None
    g = m.groupdict()
    return {
        "meridian": MERIDIANS.get(g["pm"], f"meridian code {g['pm']}"),
        "township": f"T. {int(g['twp'])}{_FRACTIONS.get(g['twpf'], '')} {g['twpd']}.",
        "range": f"R. {int(g['rng'])}{_FRACTIONS.get(g['rngf'], '')} {g['rngd']}.",
        "section": str(int(g["sec"])),
    }


def plss_text(row: dict[str, str]) -> str:
    """``"Sec. 1, T. 31 S., R. 3 E., Salt Lake Meridian"``."""
    return f"Sec. {row['section']}, {row['township']}, {row['range']}, {row['meridian']}"


def plss_rows(plss: pd.DataFrame) -> pd.DataFrame:
    """Meridian/township/range/section text per PLSS row (empty strings when unknown)."""
    cols = ["meridian", "township", "range", "section"]
    if "section" in plss.columns:
        return plss.reindex(columns=cols).fillna("").astype(str)
    ids = plss["parcel_id"] if "parcel_id" in plss.columns else plss.get("FRSTDIVID")
    if ids is None:
        raise KeyError("parcel_id")
    parsed = [parse_frstdivid(v) or dict.fromkeys(cols, "") for v in ids.astype(str)]
    return pd.DataFrame(parsed, index=plss.index, columns=cols)


def describe_by_area(
    claims: np.ndarray, areas: np.ndarray, labels: np.ndarray, *, min_share: float = 1e-6
) -> tuple[np.ndarray, np.ndarray]:
    """Label each claim by the polygons it overlaps, largest share first.

    Parameters
    ----------
    claims
        Claim polygons (projected CRS).
    areas
        Polygons to describe them by (same CRS).
    labels
        One text label per polygon.
    min_share
        Overlaps below this share of the claim are ignored (edge contact).

    Returns
    -------
    tuple
        ``(majority label, all labels '; '-joined by decreasing share)`` per claim.
    """
    n = len(claims)
    majority = np.full(n, "", dtype=object)
    joined = np.full(n, "", dtype=object)
    if n == 0 or len(areas) == 0:
        return majority, joined
    ci, ai = shapely.STRtree(areas).query(claims, predicate="intersects")
    if len(ci) == 0:
        return majority, joined
    share = shapely.area(shapely.intersection(claims[ci], areas[ai])) / shapely.area(claims[ci])
    frame = pd.DataFrame({"c": ci, "label": labels[ai], "share": share})
    frame = frame[frame["share"] > min_share]
    frame = frame.groupby(["c", "label"], sort=False)["share"].sum().reset_index()
    frame = frame.sort_values(["c", "share", "label"], ascending=[True, False, True])
    for c, group in frame.groupby("c", sort=True):
        names = group["label"].tolist()
        majority[int(c)] = names[0]
        joined[int(c)] = "; ".join(names)
    return majority, joined
