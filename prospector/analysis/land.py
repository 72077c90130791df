"""Land status per parcel: federal share and agency, withdrawals, claims, open ground.

All areas are exact polygon intersections in the (equal-area) CRS of the inputs.  Candidate
pairs come from a spatial index; parcels lying wholly inside a polygon are resolved by a
prepared ``contains`` test without computing an intersection; only the remaining pairs are
intersected.  Nothing is dissolved into one large multipolygon.

**Coarse boundaries.**  A withdrawal whose source states a positional accuracy (the
``positional_accuracy_m`` column, from the catalogue entry; e.g. 5 km for Natural Earth's
1:10M park outlines) does not close ground within that distance of its boundary: a parcel
that is closed only because such a polygon covers it, and that is not covered once every
coarse polygon is shrunk by its accuracy (exact withdrawals unchanged), gets
``land_status = "verify_boundary"`` — ranked, flagged and explained — instead of
``closed``.  A coarse polygon at least half covered by exact polygons of the same ``kind``
(the official boundary of the same unit) is superseded by them and not used at all: the
official boundaries stay authoritative.
"""

from __future__ import annotations

import re
from collections.abc import Collection

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector._runtime import chunked, quiet
from prospector.analysis._arrays import runs
from prospector.analysis._boxes import intersect_pairs
from prospector.analysis._text import join_sorted, text_array
from prospector.analysis.index import ParcelIndex

__all__ = [
    "CLOSING_KINDS",
    "OPEN_AGENCIES",
    "OPEN_TOLERANCE",
    "RESTRICTING_KINDS",
    "SUPERSEDED_SHARE",
    "land_status",
    "status_at",
]

#: Agencies whose federal land is open to mineral location (Mining Law of 1872) unless
#: withdrawn: the BLM and the Forest Service.
OPEN_AGENCIES: frozenset[str] = frozenset({"BLM", "USFS"})

#: Withdrawal kinds that stay open to mineral location with restrictions, so they give the
#: ``restricted`` land status instead of ``closed``:
#:
#: * ``wsa`` - wilderness study areas: BLM Manual 6330 (Management of Wilderness Study Areas,
#:   rel. 6-134, 2012) manages them under the non-impairment standard of FLPMA section
#:   603(c); the mining laws still apply, new claims may be located, and operations must
#:   not impair wilderness suitability.
#: * ``acec`` - areas of critical environmental concern: 43 CFR 3809.11(c)(3) requires a
#:   plan of operations beyond casual use, but an ACEC is not by itself a withdrawal (a
#:   few are withdrawn by a public land order; such a withdrawal is mapped as ``plo``).
RESTRICTING_KINDS: frozenset[str] = frozenset({"wsa", "acec"})

#: Withdrawal kinds closed to mineral location (subject to valid existing rights):
#: designated wilderness (Wilderness Act s. 4(d)(3); 43 CFR 6304.11), National Park
#: Service units (54 U.S.C. 100731 ff.; parks are withdrawn by their acts), national
#: monuments whose proclamation withdrew the land (the proclamation's withdrawal clause),
#: public land order withdrawals under FLPMA s. 204 (e.g. PLO 7923, Chaco Culture, 2023;
#: PLO 7939, Thompson Divide, 2024), military lands (withdrawn for defence use), GAP 1-2
#: areas when a region chooses to treat them as withdrawn, and any other withdrawal.
CLOSING_KINDS: frozenset[str] = frozenset(
    {"wilderness", "nps", "monument", "plo", "military", "gap12", "other"}
)

#: A parcel is "open" when at least 1 - OPEN_TOLERANCE of it is open ground.
OPEN_TOLERANCE = 1e-3

#: A coarse withdrawal at least this share covered by exact ones of the same kind is dropped.
SUPERSEDED_SHARE = 0.5


def _accuracy(withdrawals: gpd.GeoDataFrame) -> np.ndarray:
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


def _supersede(withdrawals: gpd.GeoDataFrame, accuracy: np.ndarray) -> np.ndarray:
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
    shared = _area(quiet(shapely.intersection)(geoms[coarse[ci]], geoms[exact[ei]]))
    covered = np.bincount(ci, weights=shared, minlength=len(coarse))
    area = shapely.area(geoms[coarse])
    keep[coarse[covered >= SUPERSEDED_SHARE * np.maximum(area, 1e-300)]] = False
    return keep


def _union_by_parcel(
    n: int, pi: np.ndarray, pieces: np.ndarray, *, max_pad: int = 64
) -> np.ndarray:
    """Union the pieces of each parcel; parcels without pieces get None.

    Groups of up to *max_pad* pieces are unioned in one vectorised call on a None-padded
    (groups × max size) array; larger groups (rare) one by one.
    """
    out = np.full(n, None, dtype=object)
    if len(pi) == 0:
        return out
    order = np.argsort(pi, kind="stable")
    pi, pieces = pi[order], pieces[order]
    uniq, start, counts = np.unique(pi, return_index=True, return_counts=True)
    single = counts == 1
    out[uniq[single]] = pieces[start[single]]
    padded = ~single & (counts <= max_pad)
    if padded.any():
        c, s = counts[padded], start[padded]
        grid = np.full((len(c), int(c.max())), None, dtype=object)
        rows, cols = runs(c)
        grid[rows, cols] = pieces[s[rows] + cols]
        out[uniq[padded]] = chunked(quiet(lambda g: shapely.union_all(g, axis=1)), grid)
    for p, s0, c0 in zip(
        uniq[counts > max_pad], start[counts > max_pad], counts[counts > max_pad], strict=True
    ):
        out[p] = quiet(shapely.union_all)(pieces[s0 : s0 + c0])
    return out


def _open_area(
    federal: np.ndarray, blocked: np.ndarray, area: np.ndarray, min_sliver_m2: float
) -> np.ndarray:
    """Area of open-agency federal ground minus blocked ground, per parcel.

    Exact shortcuts avoid most overlays: nothing blocked (open = federal); wholly federal
    parcel (open = parcel - blocked, blocked within the parcel); no federal ground
    (open = 0).  Only the remaining parcels need a difference.
    """
    federal_area = _area(federal)
    unblocked = pd.isna(blocked)
    wholly_federal = federal_area >= area * (1.0 - 1e-12)
    open_area = np.where(
        unblocked, federal_area, np.where(wholly_federal, area - _area(blocked), 0.0)
    )
    mixed = ~unblocked & ~wholly_federal & (federal_area > 0)
    open_area[mixed] = _area(chunked(quiet(shapely.difference), federal[mixed], blocked[mixed]))
    return np.where(open_area < min_sliver_m2, 0.0, open_area)


def _area(geoms: np.ndarray) -> np.ndarray:
    area = shapely.area(geoms)
    return np.where(pd.isna(area), 0.0, area)


def _names_by_parcel(n: int, pi: np.ndarray, names: np.ndarray) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    if len(pi) == 0:
        return out
    frame = pd.DataFrame({"p": pi, "name": names}).drop_duplicates()
    frame = frame.sort_values(["p", "name"])
    keys, joined = join_sorted(frame["p"].to_numpy(), frame["name"].to_numpy(dtype=object))
    out[keys] = joined
    return out


def land_status(
    parcels: gpd.GeoDataFrame,
    *,
    land: gpd.GeoDataFrame | None = None,
    withdrawals: gpd.GeoDataFrame | None = None,
    claims: gpd.GeoDataFrame | None = None,
    min_sliver_m2: float = 0.0,
    open_agencies: Collection[str] = OPEN_AGENCIES,
    index: ParcelIndex | None = None,
) -> pd.DataFrame:
    """Compute land-status columns for every parcel.

    Parameters
    ----------
    parcels
        Parcels in an equal-area CRS.
    land
        Canonical ``land`` layer (agency, federal); None when not supplied.
    withdrawals
        Canonical ``withdrawals`` layer; None when not supplied.
    claims
        Canonical ``claims`` layer; only ``active`` and ``filed`` claims count.
    min_sliver_m2
        Intersections smaller than this are ignored.
    open_agencies
        Federal agencies whose land is open to mineral location under the Mining Law
        (default BLM and USFS); other federal land (NPS, FWS, DOD, DOE, BOR...) is federal but
        not open.
    index
        A :class:`~prospector.analysis.index.ParcelIndex` of *parcels*, when the caller
        already has one.

    Returns
    -------
    pandas.DataFrame
        Indexed like *parcels*: ``area_km2, federal_frac, withdrawn_frac, claimed_frac,
        open_frac, land_status, status_reason, agency, withdrawals, n_active_claims``.
        ``federal_frac``/``open_frac`` are NaN without a land layer, ``claimed_frac`` NaN
        and ``n_active_claims`` <NA> without a claims layer.
    """
    for name, layer in (("land", land), ("withdrawals", withdrawals), ("claims", claims)):
        if layer is not None and layer.crs != parcels.crs:
            raise ValueError(
                f"{name} CRS {layer.crs} differs from parcels CRS {parcels.crs}; "
                "reproject both to the work CRS first"
            )
    if index is None:
        index = ParcelIndex.of(parcels.geometry.to_numpy())
    geoms = index.geoms
    n = len(geoms)
    area = shapely.area(geoms)
    out = pd.DataFrame(index=parcels.index)
    out["area_km2"] = area / 1e6

    withdrawn = np.full(n, None, dtype=object)
    restricted = np.full(n, None, dtype=object)
    restriction_names = np.full(n, "", dtype=object)
    out["withdrawals"] = ""
    # Positional accuracy of the withdrawal touching each parcel that is least accurate.
    coarse_m = np.zeros(n)
    coarse_names = np.full(n, "", dtype=object)
    accuracy = np.zeros(0)
    if withdrawals is not None and len(withdrawals):
        accuracy = _accuracy(withdrawals)
        kept = _supersede(withdrawals, accuracy)
        if not kept.all():
            withdrawals, accuracy = withdrawals[kept], accuracy[kept]
    if withdrawals is not None and len(withdrawals):
        restricting = withdrawals["kind"].isin(list(RESTRICTING_KINDS)).to_numpy()
        if restricting.any():
            limits = withdrawals[restricting]
            pi, li, pieces = intersect_pairs(
                index, limits.geometry.to_numpy(), min_area_m2=min_sliver_m2
            )
            restricted = _union_by_parcel(n, pi, pieces)
            restriction_names = _names_by_parcel(
                n, pi, (limits["name"].astype(str) + " (" + limits["kind"] + ")").to_numpy()[li]
            )
            withdrawals, accuracy = withdrawals[~restricting], accuracy[~restricting]
        pi, li, pieces = intersect_pairs(
            index, withdrawals.geometry.to_numpy(), min_area_m2=min_sliver_m2
        )
        withdrawn = _union_by_parcel(n, pi, pieces)
        out["withdrawals"] = text_array(
            _names_by_parcel(n, pi, withdrawals["name"].astype(str).to_numpy()[li])
        )
        coarse = (accuracy[li] > 0) & (_area(pieces) > 0)
        np.maximum.at(coarse_m, pi[coarse], accuracy[li[coarse]])
        coarse_names = _names_by_parcel(
            n, pi[coarse], withdrawals["name"].astype(str).to_numpy()[li[coarse]]
        )
    withdrawn_area = _area(withdrawn)
    out["withdrawn_frac"] = np.clip(withdrawn_area / area, 0.0, 1.0)

    claimed = np.full(n, None, dtype=object)
    if claims is not None:
        active = claims[claims["disposition"].isin(["active", "filed"])]
        pi, _li, pieces = intersect_pairs(
            index, active.geometry.to_numpy(), min_area_m2=min_sliver_m2
        )
        claimed = _union_by_parcel(n, pi, pieces)
        out["claimed_frac"] = np.clip(_area(claimed) / area, 0.0, 1.0)
        out["n_active_claims"] = np.bincount(pi, minlength=n).astype("int64")
    else:
        out["claimed_frac"] = np.nan
        # Unknown without a claims layer: <NA>, not 0 (which would say "no claims").
        out["n_active_claims"] = pd.Series(pd.NA, index=out.index, dtype="Int64")

    out["agency"] = ""
    if land is not None:
        lgeoms = land.geometry.to_numpy()
        pi, li, pieces = intersect_pairs(index, lgeoms, min_area_m2=min_sliver_m2)
        is_fed = land["federal"].to_numpy(dtype=bool)[li]
        out["federal_frac"] = np.clip(
            _area(_union_by_parcel(n, pi[is_fed], pieces[is_fed])) / area, 0.0, 1.0
        )
        # Only land of agencies open to mineral location can be open ground.
        is_open = is_fed & np.isin(land["agency"].to_numpy()[li], list(open_agencies))
        federal = _union_by_parcel(n, pi[is_open], pieces[is_open])
        out["open_agency_frac"] = np.clip(_area(federal) / area, 0.0, 1.0)
        by_agency = (
            pd.DataFrame(
                {"p": pi, "agency": land["agency"].to_numpy()[li], "a": shapely.area(pieces)}
            )
            .groupby(["p", "agency"], sort=True)["a"]
            .sum()
            .reset_index()
            .sort_values(["p", "a", "agency"], ascending=[True, False, True])
            .drop_duplicates("p")
        )
        out.iloc[by_agency["p"].to_numpy(), out.columns.get_loc("agency")] = by_agency[
            "agency"
        ].to_numpy()
        has_w, has_c = ~pd.isna(withdrawn), ~pd.isna(claimed)
        blocked = np.where(has_w, withdrawn, claimed)
        both = has_w & has_c
        blocked[both] = chunked(quiet(shapely.union), withdrawn[both], claimed[both])
        open_area = _open_area(federal, blocked, area, min_sliver_m2)
        out["open_frac"] = np.clip(open_area / area, 0.0, 1.0)
        # Open ground outside restricted areas: the same overlay with restrictions blocked.
        has_r = ~pd.isna(restricted)
        free_area = open_area.copy()
        if has_r.any():
            blocked_r = blocked.copy()
            blocked_r[has_r & pd.isna(blocked)] = restricted[has_r & pd.isna(blocked)]
            both_r = has_r & ~pd.isna(blocked)
            blocked_r[both_r] = chunked(quiet(shapely.union), blocked[both_r], restricted[both_r])
            free_area[has_r] = _open_area(
                federal[has_r], blocked_r[has_r], area[has_r], min_sliver_m2
            )
        out["restricted_frac"] = np.clip((open_area - free_area) / area, 0.0, 1.0)
    else:
        out["federal_frac"] = np.nan
        out["open_agency_frac"] = np.nan
        out["open_frac"] = np.nan
        out["restricted_frac"] = np.clip(_area(restricted) / area, 0.0, 1.0)
    out["restrictions"] = restriction_names

    status, reason = _classify(out, have_land=land is not None, have_claims=claims is not None)
    if withdrawals is not None and (accuracy > 0).any():
        _verify_boundaries(
            out,
            status,
            reason,
            geoms,
            withdrawals,
            accuracy,
            (coarse_m, coarse_names),
            min_sliver_m2,
        )
    out["land_status"] = text_array(status)
    out["status_reason"] = text_array(reason)
    columns = [
        "area_km2",
        "federal_frac",
        "withdrawn_frac",
        "claimed_frac",
        "open_frac",
        "land_status",
        "status_reason",
        "agency",
        "withdrawals",
        "n_active_claims",
    ]
    return out[columns]


def _classify(
    frame: pd.DataFrame, *, have_land: bool, have_claims: bool
) -> tuple[np.ndarray, np.ndarray]:
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


def _verify_boundaries(
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
    covered = _area(_union_by_parcel(len(rows), pi, pieces)) / shapely.area(geoms[rows])
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


def status_at(parcels: gpd.GeoDataFrame, point: shapely.Point) -> pd.DataFrame:
    """Return the parcel rows (with their land status) containing *point* (same CRS)."""
    hits = parcels.sindex.query(point, predicate="intersects")
    return parcels.iloc[np.sort(hits)]
