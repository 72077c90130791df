"""Which inputs a region supplies, and what each missing one means: the one rule.

A ranking's inputs are the layers of :data:`~prospector.schema.columns.ROLES` plus
rasters; the access layer counts once per :data:`~prospector.schema.columns.ACCESS_KINDS`
kind it holds.  :func:`available_inputs` says which criterion inputs exist (what
``build_criteria``'s ``have`` needs) and :func:`missing_inputs` lists the absent ones with
what that means for the results.  Loading, ranking and the run manifest all use these two.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from prospector.schema.columns import ACCESS_KINDS

__all__ = ["MISSING_ROLE_MESSAGES", "VECTOR_ROLES", "available_inputs", "missing_inputs"]

#: The vector roles a region may supply besides parcels and its boundary.
VECTOR_ROLES: tuple[str, ...] = ("deposits", "land", "withdrawals", "claims", "access", "evidence")

#: What each missing role means for the results, in words a user reads.
MISSING_ROLE_MESSAGES: dict[str, str] = {
    "land": (
        "No land-ownership layer (BLM SMA / PAD-US): federal_frac and open_frac are unknown "
        "and land outside withdrawals is 'ownership unknown', not federal."
    ),
    "claims": "No mining-claims layer (BLM MLRS): claimed_frac is unknown.",
    "withdrawals": "No withdrawal layer: nothing is treated as closed to mineral entry.",
    "deposits": "No deposit layer: mineral value is zero everywhere.",
    "access": "No access layer: the access criterion is unavailable.",
    "evidence": "No vector evidence layer: the evidence criterion uses rasters only.",
    "raster": "No raster layer: no terrain or raster evidence criteria.",
}


def available_inputs(present: Mapping[str, bool], access_kinds: Collection[str]) -> dict[str, bool]:
    """Which criterion inputs exist: ``deposits``, ``evidence`` and each access kind.

    Parameters
    ----------
    present
        Role → whether the region has a layer for it (roles not given count as absent).
    access_kinds
        The ``kind`` values with at least one feature in the access layer (after any
        road-class filter).
    """
    have = {role: bool(present.get(role, False)) for role in ("deposits", "evidence")}
    for kind in ACCESS_KINDS:
        have[kind] = bool(present.get("access", False)) and kind in access_kinds
    return have


def missing_inputs(
    present: Mapping[str, bool], access_kinds: Collection[str], *, rasters: bool
) -> list[dict[str, str]]:
    """Roles (and access kinds) without a layer, each with what that means for the results.

    Parameters
    ----------
    present, access_kinds
        As for :func:`available_inputs`.
    rasters
        Whether the region has at least one raster.
    """
    out = [
        {"role": role, "message": MISSING_ROLE_MESSAGES[role]}
        for role in VECTOR_ROLES
        if not present.get(role, False)
    ]
    if not rasters:
        out.append({"role": "raster", "message": MISSING_ROLE_MESSAGES["raster"]})
    if present.get("access", False):
        have = available_inputs(present, access_kinds)
        out += [
            {"role": f"access:{kind}", "message": f"No {kind} layer: dist_{kind}_km is unknown."}
            for kind in ACCESS_KINDS
            if not have[kind]
        ]
    return out
