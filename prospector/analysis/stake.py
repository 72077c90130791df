"""Staking plan: blocks of lode claims over the open ground of the best targets.

A ranked parcel is not yet an action; on open BLM or Forest Service land the action is
to locate lode claims.  :func:`stake_plan` lays, for each target, a contiguous block of
claims at most 1,500 ft along the trend by 600 ft across (30 U.S.C. 23; 20.66 acres)
over the target's *open ground* — federal land of an agency open to location, minus any
land polygon that is not (overlapping land layers are read conservatively), minus
withdrawals, minus active or filed claims, minus claims already planned for an earlier
target — kept ``setback_m`` inside it so that no claim touches closed ground.

Units and projection
--------------------
Feet are international feet (0.3048 m exactly).  The US survey foot (1200/3937 m) was
retired on 31 December 2022 and is 2 parts per million longer, so a claim laid out at
1,500 international feet (457.2000 m) is also within 1,500 survey feet (457.2009 m).
Each target is laid out in its own transverse Mercator projection centred on the target
(see :mod:`prospector.analysis._stake_layout`): sides are exact there, and within 1 cm of
their nominal length when measured geodesically on the GRS 1980 ellipsoid.  With
``ground_height_m`` the projection is scaled to that height, so lengths are horizontal
ground distances there (on the ellipsoid, a 1,500 ft side at 2,000 m would measure
1,500.47 ft on the ground).

Orientation
-----------
``azimuth="auto"`` follows the local structural trend: the length-weighted mean axial
azimuth of evidence faults within ``fault_radius_km`` of the target's centre (directions
modulo 180°, by doubled angles).  When there is no fault there, or the faults show no
preferred direction (mean resultant length below ``MIN_TREND_CONCENTRATION``), the
long axis of the open ground's minimum rotated rectangle is used, north-south when that
rectangle is square.  Each target records which rule decided.

This is a plan, not a location: the locator must still mark the corners on the ground,
post a notice and record the claims with the county and the BLM.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from numbers import Real
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from prospector.analysis._stake_context import (
    FOOT_M,
    StakeContext,
    StakePlan,
    features_near,
)
from prospector.analysis._stake_frames import PlanBuilder
from prospector.analysis._stake_layout import (
    Lattice,
    axial_mean_azimuth,
    layout_claims,
    local_tm,
)
from prospector.analysis.land import OPEN_AGENCIES, RESTRICTING_KINDS
from prospector.analysis.stake_fees import DEFAULT_FEES, FeeSchedule
from prospector.errors import ConfigError, LandStatusUnknownError, SchemaError

__all__ = [
    "CLAIM_LENGTH_FT",
    "CLAIM_WIDTH_FT",
    "DEFAULT_FEES",
    "FOOT_M",
    "NOT_VERIFIED",
    "FeeSchedule",
    "StakePlan",
    "stake_plan",
    "structural_azimuth",
]

CLAIM_LENGTH_FT = 1500.0
CLAIM_WIDTH_FT = 600.0
MIN_TREND_CONCENTRATION = 0.2
NOT_VERIFIED = "ownership not verified"
CLAIMS_NOT_CHECKED = "existing claims not checked"


def structural_azimuth(
    centre: shapely.Point, faults: np.ndarray, *, radius_m: float, weights: np.ndarray | None = None
) -> tuple[float, float, float]:
    """Mean axial azimuth of *faults* within *radius_m* of *centre* (same projected CRS).

    Returns ``(azimuth_deg, length_m, concentration)`` as
    :func:`~prospector.analysis._stake_layout.axial_mean_azimuth`.
    """
    disc = shapely.buffer(centre, radius_m, quad_segs=32)
    near = shapely.intersection(np.asarray(faults, dtype=object), disc)
    keep = ~shapely.is_empty(near)
    w = None if weights is None else np.asarray(weights, dtype=float)[keep]
    return axial_mean_azimuth(near[keep], weights=w)


def _shape_azimuth(ground: shapely.Geometry) -> float:
    """Long axis of the minimum rotated rectangle (0 = north-south when square)."""
    rect = shapely.minimum_rotated_rectangle(ground)
    xy = np.asarray(shapely.get_coordinates(rect))
    if len(xy) < 4:
        return 0.0
    a, b = xy[1] - xy[0], xy[2] - xy[1]
    la, lb = np.hypot(*a), np.hypot(*b)
    if abs(la - lb) <= 0.01 * max(la, lb):
        return 0.0
    d = a if la > lb else b
    return float(np.degrees(np.arctan2(d[0], d[1])) % 180.0)


def _check_inputs(targets: gpd.GeoDataFrame, layers: Mapping[str, gpd.GeoDataFrame | None]) -> None:
    problems = []
    if targets.crs is None or not targets.crs.is_projected:
        problems.append("targets must be in a projected work CRS (metres), e.g. EPSG:5070.")
    for col in ("target_id", "rank"):
        if col not in targets.columns:
            problems.append(f"targets have no {col!r} column.")
    for name, layer in layers.items():
        if layer is not None and layer.crs != targets.crs:
            problems.append(
                f"{name} CRS {layer.crs} differs from the targets' CRS {targets.crs}; "
                "reproject both to the work CRS first."
            )
    if problems:
        raise SchemaError(" ".join(problems))


def stake_plan(
    targets: gpd.GeoDataFrame,
    *,
    land: gpd.GeoDataFrame | None = None,
    withdrawals: gpd.GeoDataFrame | None = None,
    claims: gpd.GeoDataFrame | None = None,
    faults: gpd.GeoDataFrame | None = None,
    plss: gpd.GeoDataFrame | None = None,
    counties: gpd.GeoDataFrame | None = None,
    azimuth: Literal["auto"] | float = "auto",
    max_claims: int | None = 40,
    fees: FeeSchedule = DEFAULT_FEES,
    allow_unknown_land: bool = False,
    setback_m: float = 1.0,
    min_length_ft: float = 300.0,
    length_ft: float = CLAIM_LENGTH_FT,
    width_ft: float = CLAIM_WIDTH_FT,
    fault_radius_km: float = 3.0,
    ground_height_m: float = 0.0,
    open_agencies: Collection[str] = OPEN_AGENCIES,
) -> StakePlan:
    """Lay a contiguous block of lode claims over each target's open ground.

    Parameters
    ----------
    targets
        One polygon per target in the projected work CRS, with ``target_id`` and
        ``rank``; optional ``parcel_ids``, ``score``, ``commodities``,
        ``critical_commodities`` are carried into the plan; optional ``anchor_x``,
        ``anchor_y`` say where the block starts growing (default: the centroid; it is
        also the centre of the local projection and of the fault search).  Targets are
        staked in ``rank`` order; later targets avoid earlier targets' claims.
    land
        Canonical ``land`` layer (``agency``, ``federal``).  Without it the plan is refused
        unless *allow_unknown_land*, and every claim is then marked ``NOT_VERIFIED``.
    withdrawals, claims
        Canonical layers; only ``active`` and ``filed`` claims block ground.  Withdrawal
        kinds that stay open with restrictions (``RESTRICTING_KINDS``: wilderness study
        areas, ACECs) do not block: claims there list them in ``restrictions``.
    faults
        Evidence lines (``kind`` containing "fault" when the column exists) for
        ``azimuth="auto"``.
    plss
        PLSS sections (canonical ``parcel_id`` = CadNSDI ``FRSTDIVID``, or ``meridian``,
        ``township``, ``range``, ``section`` columns), any CRS.
    counties
        County polygons with ``name`` (and ``state``), any CRS.
    azimuth
        ``"auto"`` or the trend in degrees clockwise from true north (at the target).
    max_claims
        Most claims per target (None: every claim that fits).
    fees
        Fee schedule; each claim carries its fees.
    allow_unknown_land
        Plan without a land layer; every claim says ``"ownership not verified"``.
    setback_m
        Claims stay this far inside open ground, so none touches closed ground.
    min_length_ft
        Shortest shortened claim kept (where the open ground ends).
    length_ft, width_ft
        Full claim size (at most 1,500 × 600 ft).
    fault_radius_km
        Radius searched for faults around each target's centre.
    ground_height_m
        Mean ground height above the ellipsoid: lengths become ground distances there.
    open_agencies
        Federal agencies whose land is open to location.

    Returns
    -------
    StakePlan
        Claims, corners, centre lines and a per-target summary (EPSG:4269), the fee
        schedule and notes (what was not verified).

    Raises
    ------
    LandStatusUnknownError
        Without *land*, unless *allow_unknown_land*.
    SchemaError
        Targets not in a projected CRS or missing columns; layers in another CRS; PLSS or
        county layers without the columns they need.
    ConfigError
        Claim size above 1,500 × 600 ft, a bad azimuth, ``max_claims`` < 1, a negative
        setback, a ground height off the Earth, or open ground too large to lay out.
    """
    _check_inputs(targets, {"land": land, "withdrawals": withdrawals, "claims": claims,
                            "faults": faults})  # fmt: skip
    if land is None and not allow_unknown_land:
        raise LandStatusUnknownError(
            "no land-status (surface management) layer: a staking plan needs one to keep "
            "claims on open federal land. Rank with a land layer (e.g. the blm-sma catalogue "
            "entry in the region file), or accept a plan marked 'ownership not verified' "
            "(allow_unknown_land=True, `--allow-unknown-land`)."
        )
    if not (0 < width_ft <= CLAIM_WIDTH_FT and 0 < length_ft <= CLAIM_LENGTH_FT):
        raise ConfigError(
            f"claims are at most {CLAIM_LENGTH_FT:,.0f} × {CLAIM_WIDTH_FT:,.0f} ft (30 U.S.C. 23); "
            f"got {length_ft:g} × {width_ft:g} ft."
        )
    if not (
        azimuth == "auto"
        or (isinstance(azimuth, Real) and not isinstance(azimuth, bool) and np.isfinite(azimuth))
    ):
        raise ConfigError(f"azimuth must be 'auto' or degrees from north; got {azimuth!r}.")
    if max_claims is not None and max_claims < 1:
        raise ConfigError(f"max_claims must be at least 1; got {max_claims}.")
    if not (np.isfinite(setback_m) and setback_m >= 0):
        raise ConfigError(f"setback_m must be a distance >= 0 in metres; got {setback_m!r}.")
    if not (np.isfinite(ground_height_m) and -1_000.0 <= ground_height_m <= 9_000.0):
        raise ConfigError(
            "ground_height_m must be the ground's height above the ellipsoid in metres "
            f"(-1,000 to 9,000); got {ground_height_m!r}."
        )
    if not 0 <= min_length_ft <= length_ft:
        raise ConfigError(f"min_length_ft must be in 0..{length_ft:g}; got {min_length_ft:g}.")
    if faults is not None and "kind" in faults.columns:
        faults = faults[faults["kind"].astype(str).str.contains("fault", case=False)]
    if faults is not None:
        faults = faults[faults.geom_type.isin(["LineString", "MultiLineString"])]
    closing = restricting = None
    if withdrawals is not None:
        limits = withdrawals["kind"].isin(list(RESTRICTING_KINDS))
        closing, restricting = withdrawals[~limits], withdrawals[limits]
    open_land = closed_land = None
    if land is not None:
        is_open = land["federal"].astype(bool) & land["agency"].isin(list(open_agencies))
        open_land, closed_land = land[is_open], land[~is_open]
    active = None if claims is None else claims[claims["disposition"].isin(["active", "filed"])]
    notes = []
    land_check = NOT_VERIFIED if land is None else "federal land open to location (land layer)"
    if land is None:
        notes.append(
            "OWNERSHIP NOT VERIFIED: no land-status layer was given; claims may lie on "
            "private, state or other closed land."
        )
    if claims is None:
        notes.append("Existing mining claims not checked: no claims layer was given.")
    notes.append(
        "A plan, not a location: mark the corners on the ground, post a notice and record "
        "the claims with the county and the BLM; check the land status in MLRS first."
    )
    ctx = StakeContext(
        crs=pyproj.CRS(targets.crs), open_land=open_land, closed_land=closed_land,
        withdrawals=closing, restricting=restricting,
        claims=active, faults=faults, plss=plss, counties=counties, fees=fees,
        land_check=land_check, claims_check="" if claims is not None else CLAIMS_NOT_CHECKED,
    )  # fmt: skip
    builder = PlanBuilder(ctx)
    for row in targets.sort_values(["rank", "target_id"]).itertuples(index=False):
        geom = row.geometry
        if geom is None or shapely.is_empty(geom):
            continue
        anchor = _anchor(row._asdict(), geom)
        centre_ll = gpd.GeoSeries([anchor], crs=targets.crs).to_crs("EPSG:4269").iloc[0]
        tm = local_tm(centre_ll.x, centre_ll.y, ground_height_m=ground_height_m)
        ground, ground_area = ctx.open_ground(geom, tm, builder.planned, setback_m)
        if azimuth == "auto":
            az, source = _auto_azimuth(ctx, anchor, tm, ground, fault_radius_km)
        else:
            az, source = float(azimuth) % 180.0, "given"
        lattice = layout_claims(
            ground, azimuth_deg=az, length_m=length_ft * FOOT_M, width_m=width_ft * FOOT_M,
            min_length_m=min_length_ft * FOOT_M, centre=(0.0, 0.0), max_claims=max_claims,
        )  # fmt: skip
        lattice, n_cut = _drop_antimeridian(lattice, tm)
        if n_cut:
            notes.append(
                f"{row.target_id}: {n_cut} claim(s) crossing the 180° meridian were left out "
                "(longitude/latitude outputs such as KML and GPX cannot carry them); lay "
                "them out by hand."
            )
        builder.add_target(row._asdict(), tm, lattice, az, source, ground_area)
    return builder.finish(notes)


def _drop_antimeridian(lattice: Lattice, tm: pyproj.CRS) -> tuple[Lattice, int]:
    """Leave out claims whose corners lie on both sides of the 180° meridian."""
    if not len(lattice.corners):
        return lattice, 0
    to_ll = pyproj.Transformer.from_crs(tm, "EPSG:4269", always_xy=True)
    flat = lattice.corners.reshape(-1, 2)
    lon = np.asarray(to_ll.transform(flat[:, 0], flat[:, 1])[0]).reshape(-1, 4)
    keep = (lon.max(axis=1) - lon.min(axis=1)) < 180.0
    if keep.all():
        return lattice, 0
    kept = Lattice(
        corners=lattice.corners[keep], lengths=lattice.lengths[keep],
        widths=lattice.widths[keep], full=lattice.full[keep], block=lattice.block[keep],
    )  # fmt: skip
    return kept, int((~keep).sum())


def _anchor(target: Mapping[str, Any], geom: shapely.Geometry) -> shapely.Point:
    """Where a target's block starts: ``anchor_x``/``anchor_y`` when given, else the centroid."""
    x, y = target.get("anchor_x"), target.get("anchor_y")
    if x is not None and y is not None and np.isfinite([x, y]).all():
        return shapely.Point(float(x), float(y))
    return shapely.centroid(geom)


def _auto_azimuth(
    ctx: StakeContext,
    centre: shapely.Point,
    tm: pyproj.CRS,
    ground: shapely.Geometry,
    radius_km: float,
) -> tuple[float, str]:
    radius_m = radius_km * 1000.0
    near = features_near(ctx.faults, shapely.buffer(centre, radius_m * 1.01))
    if len(near):
        local = gpd.GeoSeries(near, crs=ctx.crs).to_crs(tm).to_numpy()
        az, length, conc = structural_azimuth(shapely.Point(0, 0), local, radius_m=radius_m)
        if length > 0 and conc >= MIN_TREND_CONCENTRATION:
            return az, (
                f"faults: {length / 1000:.1f} km within {radius_km:g} km, concentration {conc:.2f}"
            )
        why = f"faults within {radius_km:g} km show no trend (concentration {conc:.2f})"
    else:
        why = f"no faults within {radius_km:g} km"
    if ground is None or shapely.is_empty(ground):
        return 0.0, f"north-south ({why}; no open ground)"
    return _shape_azimuth(ground), f"long axis of the open ground ({why})"
