"""What the staking plan's steps share: units, the plan type and the inputs of every target."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from prospector.analysis.stake_fees import DEFAULT_FEES, FeeSchedule

__all__ = ["FOOT_M", "SQFT_PER_ACRE", "StakeContext", "StakePlan", "features_near"]

#: The international foot (exact); see :mod:`prospector.analysis.stake`.
FOOT_M = 0.3048
SQFT_PER_ACRE = 43_560.0
#: Longest edge moved into a target's local projection as a straight line (m).
_SEGMENT_M = 50.0


@dataclass
class StakePlan:
    """A staking plan: claims, their corner monuments and centre lines, a summary per target.

    Every frame is in NAD83 longitude/latitude (EPSG:4269).
    """

    claims: gpd.GeoDataFrame
    corners: gpd.GeoDataFrame
    centrelines: gpd.GeoDataFrame
    targets: gpd.GeoDataFrame
    fees: FeeSchedule = DEFAULT_FEES
    notes: list[str] = field(default_factory=list)

    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """GeoPackage layers in writing order."""
        return {
            "claims": self.claims,
            "corners": self.corners,
            "centrelines": self.centrelines,
            "targets": self.targets,
        }

    def metadata(self) -> dict[str, Any]:
        """JSON-serialisable description (fees, notes, counts)."""
        return {
            "fees": asdict(self.fees) | {"per_claim_usd": self.fees.per_claim_usd},
            "notes": list(self.notes),
            "n_claims": len(self.claims),
            "n_targets": len(self.targets),
        }


def features_near(layer: gpd.GeoDataFrame | None, geom: shapely.Geometry) -> np.ndarray:
    if layer is None or len(layer) == 0:
        return np.array([], dtype=object)
    hits = layer.sindex.query(geom, predicate="intersects")
    return layer.geometry.to_numpy()[np.sort(hits)]


@dataclass
class StakeContext:
    """Inputs shared by every target."""

    crs: pyproj.CRS
    open_land: gpd.GeoDataFrame | None
    closed_land: gpd.GeoDataFrame | None
    withdrawals: gpd.GeoDataFrame | None
    restricting: gpd.GeoDataFrame | None
    claims: gpd.GeoDataFrame | None
    faults: gpd.GeoDataFrame | None
    plss: gpd.GeoDataFrame | None
    counties: gpd.GeoDataFrame | None
    fees: FeeSchedule
    land_check: str
    claims_check: str

    def open_ground(
        self,
        geom: shapely.Geometry,
        tm: pyproj.CRS,
        planned: list[shapely.Geometry],
        setback_m: float,
    ) -> tuple[shapely.Geometry, float]:
        """Open ground of one target in its local projection, shrunk by the setback.

        Returns the shrunk ground and the open area before shrinking (m²).
        """
        ground = geom
        if self.open_land is not None:
            ground = shapely.intersection(
                geom, shapely.union_all(features_near(self.open_land, geom))
            )
        # Land layers that overlap (PAD-US) are read conservatively: ground that any
        # polygon calls private, state or closed federal land is not open.
        blocked = [
            *features_near(self.closed_land, geom),
            *features_near(self.withdrawals, geom),
            *features_near(self.claims, geom),
        ]
        to_tm = pyproj.Transformer.from_crs(self.crs, tm, always_xy=True)

        def to_local(g: shapely.Geometry) -> shapely.Geometry:
            # A straight edge of the work CRS is a curve in the local projection: moving
            # only its vertices puts a 20 km edge up to ~2 m off (more than the setback),
            # so edges are first cut into short segments (chord error below 0.1 mm).
            g = shapely.segmentize(g, _SEGMENT_M)
            return shapely.transform(g, lambda xy: np.column_stack(to_tm.transform(*xy.T)))

        local = to_local(ground)
        if blocked:
            # Only the part of each closed polygon near the target matters.
            x0, y0, x1, y1 = shapely.bounds(geom)
            pad = 10.0 * _SEGMENT_M
            near = shapely.intersection(
                shapely.union_all(blocked), shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
            )
            local = shapely.difference(local, to_local(near))
        if planned:
            # Earlier targets' claims, already in lon/lat.
            from_ll = pyproj.Transformer.from_crs("EPSG:4269", tm, always_xy=True)
            local = shapely.difference(
                local,
                shapely.transform(
                    shapely.union_all(planned),
                    lambda xy: np.column_stack(from_ll.transform(*xy.T)),
                ),
            )
        area = float(shapely.area(local))
        return shapely.buffer(local, -setback_m, join_style="mitre"), area
