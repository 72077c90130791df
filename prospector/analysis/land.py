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

from collections.abc import Collection

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector._runtime import chunked, quiet
from prospector.analysis._boxes import intersect_pairs
from prospector.analysis._land_boundaries import (
    SUPERSEDED_SHARE,
    positional_accuracy,
    supersede,
    verify_boundaries,
)
from prospector.analysis._land_rules import OPEN_TOLERANCE, classify
from prospector.analysis._parcel_overlay import (
    area_or_zero,
    names_by_parcel,
    open_ground_area,
    union_by_parcel,
)
from prospector.analysis._text import text_array
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
        accuracy = positional_accuracy(withdrawals)
        kept = supersede(withdrawals, accuracy)
        if not kept.all():
            withdrawals, accuracy = withdrawals[kept], accuracy[kept]
    if withdrawals is not None and len(withdrawals):
        restricting = withdrawals["kind"].isin(list(RESTRICTING_KINDS)).to_numpy()
        if restricting.any():
            limits = withdrawals[restricting]
            pi, li, pieces = intersect_pairs(
                index, limits.geometry.to_numpy(), min_area_m2=min_sliver_m2
            )
            restricted = union_by_parcel(n, pi, pieces)
            restriction_names = names_by_parcel(
                n, pi, (limits["name"].astype(str) + " (" + limits["kind"] + ")").to_numpy()[li]
            )
            del pi, li, pieces  # the pieces' geometries: freed before the next overlay
            withdrawals, accuracy = withdrawals[~restricting], accuracy[~restricting]
        pi, li, pieces = intersect_pairs(
            index, withdrawals.geometry.to_numpy(), min_area_m2=min_sliver_m2
        )
        withdrawn = union_by_parcel(n, pi, pieces)
        out["withdrawals"] = text_array(
            names_by_parcel(n, pi, withdrawals["name"].astype(str).to_numpy()[li])
        )
        coarse = (accuracy[li] > 0) & (area_or_zero(pieces) > 0)
        np.maximum.at(coarse_m, pi[coarse], accuracy[li[coarse]])
        coarse_names = names_by_parcel(
            n, pi[coarse], withdrawals["name"].astype(str).to_numpy()[li[coarse]]
        )
        del pi, li, pieces
    withdrawn_area = area_or_zero(withdrawn)
    out["withdrawn_frac"] = np.clip(withdrawn_area / area, 0.0, 1.0)
    if land is None:  # the shapes are needed again only for open ground: freed now
        withdrawn[:] = None

    claimed = np.full(n, None, dtype=object)
    if claims is not None:
        active = claims[claims["disposition"].isin(["active", "filed"])]
        pi, _li, pieces = intersect_pairs(
            index, active.geometry.to_numpy(), min_area_m2=min_sliver_m2
        )
        claimed = union_by_parcel(n, pi, pieces)
        out["claimed_frac"] = np.clip(area_or_zero(claimed) / area, 0.0, 1.0)
        out["n_active_claims"] = np.bincount(pi, minlength=n).astype("int64")
        del pi, _li, pieces
        if land is None:
            claimed[:] = None
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
            area_or_zero(union_by_parcel(n, pi[is_fed], pieces[is_fed])) / area, 0.0, 1.0
        )
        # Only land of agencies open to mineral location can be open ground.
        is_open = is_fed & np.isin(land["agency"].to_numpy()[li], list(open_agencies))
        federal = union_by_parcel(n, pi[is_open], pieces[is_open])
        out["open_agency_frac"] = np.clip(area_or_zero(federal) / area, 0.0, 1.0)
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
        open_area = open_ground_area(federal, blocked, area, min_sliver_m2)
        out["open_frac"] = np.clip(open_area / area, 0.0, 1.0)
        # Open ground outside restricted areas: the same overlay with restrictions blocked.
        has_r = ~pd.isna(restricted)
        free_area = open_area.copy()
        if has_r.any():
            blocked_r = blocked.copy()
            blocked_r[has_r & pd.isna(blocked)] = restricted[has_r & pd.isna(blocked)]
            both_r = has_r & ~pd.isna(blocked)
            blocked_r[both_r] = chunked(quiet(shapely.union), blocked[both_r], restricted[both_r])
            free_area[has_r] = open_ground_area(
                federal[has_r], blocked_r[has_r], area[has_r], min_sliver_m2
            )
        out["restricted_frac"] = np.clip((open_area - free_area) / area, 0.0, 1.0)
    else:
        out["federal_frac"] = np.nan
        out["open_agency_frac"] = np.nan
        out["open_frac"] = np.nan
        out["restricted_frac"] = np.clip(area_or_zero(restricted) / area, 0.0, 1.0)
    out["restrictions"] = restriction_names

    status, reason = classify(out, have_land=land is not None, have_claims=claims is not None)
    if withdrawals is not None and (accuracy > 0).any():
        verify_boundaries(
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


def status_at(parcels: gpd.GeoDataFrame, point: shapely.Point) -> pd.DataFrame:
    """Return the parcel rows (with their land status) containing *point* (same CRS)."""
    hits = parcels.sindex.query(point, predicate="intersects")
    return parcels.iloc[np.sort(hits)]
