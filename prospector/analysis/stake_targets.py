"""Targets to stake: the best ranked parcels (touching ones merged), named parcels, or areas."""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector._util import did_you_mean
from prospector.errors import SchemaError

__all__ = ["select_targets"]

_LISTS = ("commodities", "critical_commodities")


def _merge_lists(values: pd.Series) -> str:
    names: set[str] = set()
    for v in values.dropna():
        items = v if isinstance(v, (list, tuple, np.ndarray)) else str(v).split(";")
        names.update(s.strip() for s in items if str(s).strip())
    return "; ".join(sorted(names))


def _summarise(
    groups: list[pd.DataFrame], geoms: list[shapely.Geometry], crs: object
) -> gpd.GeoDataFrame:
    rows = []
    for members, geom in zip(groups, geoms, strict=True):
        members = members.sort_values("rank")
        best = shapely.intersection(members.geometry.iloc[0], geom)
        anchor = shapely.centroid(best)
        if not shapely.contains(geom, anchor):
            anchor = shapely.point_on_surface(best)
        row = {
            "rank": int(members["rank"].iloc[0]),
            "parcel_ids": "; ".join(members["parcel_id"].astype(str)),
            "score": float(members["score"].max()) if "score" in members else np.nan,
        }
        for col in _LISTS:
            row[col] = _merge_lists(members[col]) if col in members else ""
        rows.append(row | {"anchor_x": anchor.x, "anchor_y": anchor.y, "geometry": geom})
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)
    out = out.sort_values("rank", kind="stable").reset_index(drop=True)
    out.insert(0, "target_id", [f"T{i + 1:02d}" for i in range(len(out))])
    return out


def select_targets(
    parcels: gpd.GeoDataFrame,
    *,
    top: int | None = None,
    parcel_ids: Sequence[str] = (),
    area: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Choose what to stake from ranked parcels.

    Exactly one of *top*, *parcel_ids* or *area*:

    * ``top=N``: the N best-ranked parcels; parcels that touch are merged into one
      target (a claim block does not stop at a grid line);
    * ``parcel_ids``: the named parcels, merged likewise;
    * ``area``: each polygon of *area* is a target, with the best rank and the
      commodities of the ranked parcels it overlaps.

    Parameters
    ----------
    parcels
        Ranked parcels (``parcel_id``, ``rank``; optionally ``score``, ``commodities``,
        ``critical_commodities``) in the projected work CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``target_id`` (T01, T02... by rank), ``rank``, ``parcel_ids``, ``score``,
        ``commodities``, ``critical_commodities``, ``anchor_x``/``anchor_y`` (centre of
        the best parcel, where the claim block starts) and the target polygon.
    """
    chosen = sum(x is not None and (not isinstance(x, Sequence) or len(x) > 0)
                 for x in (top, parcel_ids or None, area))  # fmt: skip
    if chosen != 1:
        raise ValueError("give exactly one of top, parcel_ids or area")
    for col in ("parcel_id", "rank"):
        if col not in parcels.columns:
            raise SchemaError(f"ranked parcels have no {col!r} column; pass a ranked parcels layer")
    ranked = parcels[parcels["rank"].notna()].sort_values("rank", kind="stable")
    if area is not None:
        area = area.to_crs(parcels.crs) if area.crs is not None else area
        if area.crs is None:
            raise SchemaError("the area file has no CRS; assign one (e.g. EPSG:4326) in a GIS")
        polys = area.geometry.make_valid()
        polys = polys[polys.geom_type.isin(["Polygon", "MultiPolygon"]) & ~polys.is_empty]
        if polys.empty:
            raise SchemaError("the area file holds no polygon; draw the area to stake as a polygon")
        groups, geoms = [], []
        for geom in polys:
            hits = ranked.iloc[ranked.sindex.query(geom, predicate="intersects")]
            if hits.empty:
                raise SchemaError(
                    "an area polygon overlaps no ranked parcel; draw it inside the ranked region"
                )
            groups.append(hits)
            geoms.append(geom)
        return _summarise(groups, geoms, parcels.crs)
    if top is not None:
        if top < 1:
            raise ValueError(f"top must be at least 1; got {top}")
        picked = ranked.head(top)
    else:
        known = set(parcels["parcel_id"].astype(str))
        missing = [p for p in parcel_ids if p not in known]
        if missing:
            raise SchemaError(
                f"no ranked parcel {missing[0]!r}.{did_you_mean(missing[0], known)} Parcel ids "
                f"look like {parcels['parcel_id'].iloc[0]!r}."
            )
        picked = ranked[ranked["parcel_id"].astype(str).isin(list(parcel_ids))]
        if picked.empty:
            raise SchemaError("the named parcels are not ranked (closed or filtered out)")
    merged = shapely.get_parts(shapely.union_all(picked.geometry.to_numpy()))
    # Parcels belong to the merged polygon that holds their representative point.
    reps = picked.geometry.representative_point().to_numpy()
    owner = shapely.STRtree(merged).query(reps, predicate="within")
    member = np.full(len(picked), -1)
    member[owner[0]] = owner[1]
    groups = [picked.iloc[np.flatnonzero(member == k)] for k in range(len(merged))]
    keep = [k for k, g in enumerate(groups) if len(g)]
    return _summarise([groups[k] for k in keep], [merged[k] for k in keep], parcels.crs)
