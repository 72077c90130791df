"""Turn laid-out claims into the plan's frames: claims, corners, centre lines, targets."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from prospector.analysis._stake_context import FOOT_M, SQFT_PER_ACRE, StakeContext, StakePlan
from prospector.analysis._stake_describe import describe_by_area, plss_rows, plss_text
from prospector.analysis._stake_layout import Lattice, utm_crs
from prospector.errors import SchemaError

__all__ = ["PlanBuilder"]

_LL = "EPSG:4269"
_TARGET_FIELDS = ("parcel_ids", "score", "commodities", "critical_commodities")


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        return "; ".join(str(v) for v in value)
    return str(value)


def _require(frame: gpd.GeoDataFrame, what: str, *, any_of: tuple[str, ...], fix: str) -> None:
    if not any(c in frame.columns for c in any_of):
        raise SchemaError(
            f"the {what} has none of the columns {', '.join(any_of)} (it has "
            f"{', '.join(map(str, frame.columns[:12]))}); {fix}."
        )
    if frame.crs is None:
        raise SchemaError(f"the {what} has no CRS; assign one in a GIS (e.g. EPSG:4269).")
    kinds = frame.geometry.geom_type
    other = kinds.notna() & ~kinds.isin(["Polygon", "MultiPolygon"])
    if other.any():
        found = ", ".join(f"{kind} ×{n}" for kind, n in kinds[other].value_counts().items())
        raise SchemaError(
            f"the {what} holds {int(other.sum())} features that are not polygons ({found}): "
            f"claims are labelled by the polygon they fall in; {fix}."
        )


class PlanBuilder:
    """Collect claims target by target, then build the plan's frames once."""

    def __init__(self, ctx: StakeContext) -> None:
        self.ctx = ctx
        self.planned: list[shapely.Geometry] = []
        self._claims: list[dict[str, Any]] = []
        self._corners: list[dict[str, Any]] = []
        self._lines: list[dict[str, Any]] = []
        self._targets: list[dict[str, Any]] = []
        self._plss = None
        if ctx.plss is not None and len(ctx.plss):
            _require(ctx.plss, "PLSS layer", any_of=("parcel_id", "FRSTDIVID", "section"),
                     fix="pass BLM CadNSDI first divisions (FRSTDIVID) or columns meridian, "
                         "township, range, section")  # fmt: skip
            rows = plss_rows(ctx.plss)
            labels = np.array(
                [plss_text(r) if r["section"] else "" for r in rows.to_dict("records")],
                dtype=object,
            )
            self._plss = (ctx.plss.geometry.to_crs(_LL).to_numpy(), labels, rows)
        self._restrictions = None
        if ctx.restricting is not None and len(ctx.restricting):
            r = ctx.restricting
            labels = r["name"].astype(str) + " (" + r["kind"].astype(str) + ")"
            self._restrictions = (r.geometry.to_crs(_LL).to_numpy(), labels.to_numpy(dtype=object))
        self._counties = None
        if ctx.counties is not None and len(ctx.counties):
            _require(ctx.counties, "counties layer", any_of=("name",),
                     fix="pass county polygons with a 'name' (and 'state') column")  # fmt: skip
            c = ctx.counties
            names = c["name"].astype(str)
            if "state" in c.columns:
                names = names + ", " + c["state"].astype(str)
            self._counties = (c.geometry.to_crs(_LL).to_numpy(), names.to_numpy(dtype=object))

    def add_target(
        self,
        target: dict[str, Any],
        tm: pyproj.CRS,
        lattice: Lattice,
        azimuth: float,
        azimuth_source: str,
        open_area_m2: float,
    ) -> None:
        """Add one target's claims (corners in its local projection *tm*)."""
        fees = self.ctx.fees
        tid = str(target["target_id"])
        n = len(lattice.corners)
        to_ll = pyproj.Transformer.from_crs(tm, _LL, always_xy=True)
        centre_ll = to_ll.transform(0.0, 0.0)
        utm, zone = utm_crs(*centre_ll)
        to_utm = pyproj.Transformer.from_crs(tm, utm, always_xy=True)
        flat = lattice.corners.reshape(-1, 2)
        lon, lat = (a.reshape(n, 4) for a in to_ll.transform(flat[:, 0], flat[:, 1]))
        east, north = (a.reshape(n, 4) for a in to_utm.transform(flat[:, 0], flat[:, 1]))
        polys = shapely.polygons(np.stack([lon, lat], axis=-1)) if n else np.array([], dtype=object)
        self.planned.extend(polys)
        mid = (lattice.corners[:, [0, 3]] + lattice.corners[:, [1, 2]]) / 2.0  # ends of centre line
        mlon, mlat = (
            a.reshape(n, 2) for a in to_ll.transform(mid[..., 0].ravel(), mid[..., 1].ravel())
        )
        length_ft = lattice.lengths / FOOT_M
        width_ft = lattice.widths / FOOT_M
        acres = length_ft * width_ft / SQFT_PER_ACRE
        plss_major, plss_all = self._describe(polys, self._plss)
        county, counties = self._describe(polys, self._counties)
        restrictions = self._describe(polys, self._restrictions)[1]
        carried: dict[str, Any] = {k: _text(target.get(k)) for k in _TARGET_FIELDS}
        score = target.get("score")
        carried["score"] = np.nan if score is None else float(score)
        rank = int(target["rank"])
        for k in range(n):
            cid = f"{tid}-{k + 1:02d}"
            row: dict[str, Any] = {
                "claim_id": cid, "target_id": tid, "claim_no": k + 1, "block": int(lattice.block[k]) + 1,
                "rank": rank, **carried,
                "full_size": bool(lattice.full[k]), "length_ft": round(float(length_ft[k]), 3),
                "width_ft": round(float(width_ft[k]), 3), "acres": round(float(acres[k]), 4),
                "azimuth_deg": round(azimuth, 3), "azimuth_source": azimuth_source,
                "utm_zone": zone,
            }  # fmt: skip
            for c in range(4):
                row[f"c{c + 1}_lon"] = float(lon[k, c])
                row[f"c{c + 1}_lat"] = float(lat[k, c])
                row[f"c{c + 1}_e"] = round(float(east[k, c]), 3)
                row[f"c{c + 1}_n"] = round(float(north[k, c]), 3)
            row |= self._plss_columns(plss_major[k], plss_all[k])
            row |= {"county": county[k], "counties": counties[k], "restrictions": restrictions[k]}
            row |= {
                "fee_location_usd": fees.location_usd,
                "fee_processing_usd": fees.processing_usd,
                "fee_maintenance_usd": fees.maintenance_usd,
                "fee_total_usd": fees.per_claim_usd,
                "land_check": self.ctx.land_check,
                "claims_check": self.ctx.claims_check,
                "geometry": polys[k],
            }
            self._claims.append(row)
            for c in range(4):
                self._corners.append({
                    "claim_id": cid, "target_id": tid, "corner": c + 1, "label": f"{cid} C{c + 1}",
                    "lon": row[f"c{c + 1}_lon"], "lat": row[f"c{c + 1}_lat"], "utm_zone": zone,
                    "easting": row[f"c{c + 1}_e"], "northing": row[f"c{c + 1}_n"],
                    "land_check": self.ctx.land_check,
                    "geometry": shapely.Point(lon[k, c], lat[k, c]),
                })  # fmt: skip
            self._lines.append({
                "claim_id": cid, "target_id": tid, "azimuth_deg": round(azimuth, 3),
                "length_ft": row["length_ft"], "land_check": self.ctx.land_check,
                "geometry": shapely.LineString(np.column_stack([mlon[k], mlat[k]])),
            })  # fmt: skip
        target_geom = gpd.GeoSeries([target["geometry"]], crs=self.ctx.crs).to_crs(_LL).iloc[0]
        n_full = int(lattice.full.sum())
        self._targets.append({
            "target_id": tid, "rank": rank, **carried, "azimuth_deg": round(azimuth, 3),
            "azimuth_source": azimuth_source, "n_claims": n, "n_full": n_full,
            "n_shortened": n - n_full, "acres": round(float(acres.sum()), 4),
            "open_acres": round(open_area_m2 / (FOOT_M**2 * SQFT_PER_ACRE), 2),
            "fees_total_usd": round(n * fees.per_claim_usd, 2), "utm_zone": zone,
            "land_check": self.ctx.land_check, "claims_check": self.ctx.claims_check,
            "note": "" if n else "no open ground large enough for a claim",
            "geometry": target_geom,
        })  # fmt: skip

    def _describe(self, polys: np.ndarray, layer: tuple | None) -> tuple[np.ndarray, np.ndarray]:
        if layer is None:
            empty = np.full(len(polys), "", dtype=object)
            return empty, empty.copy()
        return describe_by_area(polys, layer[0], layer[1])

    def _plss_columns(self, major: str, everything: str) -> dict[str, str]:
        out = {"plss": everything, "meridian": "", "township": "", "range": "", "section": ""}
        if self._plss is not None and major:
            labels, rows = self._plss[1], self._plss[2]
            hit = rows[labels == major].iloc[0]
            out |= {k: str(hit[k]) for k in ("meridian", "township", "range", "section")}
        return out

    def finish(self, notes: list[str]) -> StakePlan:
        """Build the plan."""
        claim_cols = (
            list(self._claims[0]) if self._claims else ["claim_id", "target_id", "geometry"]
        )
        frames = [
            gpd.GeoDataFrame(
                pd.DataFrame(rows, columns=None if rows else cols), geometry="geometry", crs=_LL
            )
            for rows, cols in (
                (self._claims, claim_cols),
                (self._corners, ["claim_id", "target_id", "corner", "geometry"]),
                (self._lines, ["claim_id", "target_id", "geometry"]),
                (self._targets, ["target_id", "rank", "n_claims", "geometry"]),
            )
        ]
        claims, corners, lines, targets = frames
        return StakePlan(claims, corners, lines, targets, fees=self.ctx.fees, notes=notes)
