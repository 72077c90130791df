"""Small synthetic layers around Zion (Utah) for tests, docs and benchmarks.

Everything here is made up: scores, names and statuses are random or invented
and say nothing about the real land.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

__all__: list[str] = []

#: A hostile string: must show as text everywhere on the map.
HOSTILE = "<img src=x onerror=alert(1)>"
#: Approximate lon/lat near Zion National Park, Utah.
ZION = (-113.03, 37.25)
MILE_M = 1609.344


def grid_parcels(
    n_cols: int, n_rows: int, *, origin_lonlat: tuple[float, float] = ZION, seed: int = 0
) -> gpd.GeoDataFrame:
    """Return a square-mile grid of synthetic ranked parcels in EPSG:5070.

    Parameters
    ----------
    n_cols, n_rows
        Grid size; ``n_cols * n_rows`` parcels.
    origin_lonlat
        Lower-left corner of the grid.
    seed
        Random seed of the scores and attributes.
    """
    rng = np.random.default_rng(seed)
    x0, y0 = Transformer.from_crs(4326, 5070, always_xy=True).transform(*origin_lonlat)
    col_grid, row_grid = np.meshgrid(np.arange(n_cols), np.arange(n_rows))
    col, row = col_grid.ravel(), row_grid.ravel()
    xmin, ymin = x0 + col * MILE_M, y0 + row * MILE_M
    geoms = shapely.box(xmin, ymin, xmin + MILE_M, ymin + MILE_M)
    n = len(geoms)
    value, access, evidence = rng.random(n), rng.random(n), rng.random(n)
    score = np.round(0.5 * value + 0.3 * access + 0.2 * evidence, 4)
    order = np.argsort(-score, kind="stable")
    rank = np.empty(n, dtype="int64")
    rank[order] = np.arange(1, n + 1)
    status = rng.choice(
        ["open", "partly_open", "closed", "unknown"], size=n, p=[0.5, 0.2, 0.2, 0.1]
    )
    withdrawn = np.where(status == "closed", 1.0, np.where(status == "partly_open", 0.5, 0.0))
    commodities = rng.choice(["lithium; boron", "copper; gold", "uranium; vanadium", ""], size=n)
    data: dict[str, Any] = {
        "parcel_id": [f"{r}_{c}" for r, c in zip(row, col, strict=True)],
        "rank": rank,
        "score": score,
        "score_value": np.round(value, 4),
        "score_access": np.round(access, 4),
        "score_evidence": np.round(evidence, 4),
        "contrib_value": np.round(0.5 * value, 4),
        "contrib_access_road": np.round(0.2 * access, 4),
        "contrib_access_rail": np.round(0.1 * access, 4),
        "contrib_evidence_fault": np.round(0.2 * evidence, 4),
        "area_km2": np.full(n, MILE_M**2 / 1e6),
        "federal_frac": np.round(rng.random(n), 3),
        "withdrawn_frac": withdrawn,
        "claimed_frac": np.round(rng.random(n) * 0.3, 3),
        "open_frac": 1.0 - withdrawn,
        "land_status": status,
        "status_reason": np.where(
            status == "closed", "inside a wilderness area", "federal, not withdrawn"
        ),
        "agency": rng.choice(["BLM", "USFS", "NPS"], size=n),
        "withdrawals": np.where(status == "closed", "Zion Wilderness", ""),
        "n_active_claims": rng.integers(0, 12, size=n),
        "n_deposits": np.zeros(n, dtype="int64"),
        "n_critical_deposits": np.zeros(n, dtype="int64"),
        "commodities": commodities,
        "critical_commodities": np.where(commodities == "copper; gold", "", commodities),
        "dist_rail_km": np.round(rng.random(n) * 80, 2),
        "dist_road_km": np.round(rng.random(n) * 10, 2),
        "dist_power_km": np.round(rng.random(n) * 30, 2),
        "dist_fault_km": np.round(rng.random(n) * 20, 2),
        "slope_mean_deg": np.round(rng.random(n) * 25, 1),
        "why": [f"Synthetic parcel ranked {r} of {n}." for r in rank],
    }
    return gpd.GeoDataFrame(pd.DataFrame(data), geometry=geoms, crs=5070)


def demo_layers(*, hostile: bool = True) -> dict[str, Any]:
    """Return a small Zion-ish map input: parcels, deposits, a withdrawal, access lines, info.

    With *hostile*, one parcel, one deposit, one withdrawal and the region carry
    :data:`HOSTILE` so escaping can be checked.
    """
    parcels = grid_parcels(8, 6, seed=42)
    parcels.loc[parcels["rank"] <= 2, "land_status"] = "open"
    parcels.loc[parcels.index[parcels["rank"] == 2], "parcel_id"] = "hostile" if hostile else "2_2"
    if hostile:
        parcels.loc[parcels["rank"] == 2, "why"] = HOSTILE
    parcels.loc[parcels["rank"] == 3, "score_access"] = np.nan
    bounds = parcels.total_bounds
    rng = np.random.default_rng(7)
    n_dep = 40
    dx = rng.uniform(bounds[0], bounds[2], n_dep)
    dy = rng.uniform(bounds[1], bounds[3], n_dep)
    groups = ["ree", "battery", "base", "precious", "pgm", "energy", "specialty", "industrial"]
    deposits = gpd.GeoDataFrame(
        {
            "site_id": [f"MRDS-{i:05d}" for i in range(n_dep)],
            "name": [f"Synthetic mine {i}" for i in range(n_dep)],
            "commodities": rng.choice(
                ["lithium", "copper; gold", "uranium; vanadium", "beryllium"], n_dep
            ),
            "dev_status": rng.choice(
                ["producer", "past_producer", "prospect", "occurrence"], n_dep
            ),
            "source": "synthetic",
            "group": [groups[i % len(groups)] for i in range(n_dep)],
            "critical": rng.random(n_dep) < 0.4,
        },
        geometry=gpd.points_from_xy(dx, dy),
        crs=5070,
    )
    best = parcels.loc[parcels["rank"] == 1].geometry.iloc[0].centroid
    # Inside the best parcel but off its centre (tests click the centre).
    deposits.loc[0, "geometry"] = shapely.Point(best.x + 450, best.y + 450)
    if hostile:
        deposits.loc[1, "name"] = HOSTILE
        second = parcels.loc[parcels["rank"] == 2].geometry.iloc[0].centroid
        deposits.loc[1, "geometry"] = shapely.Point(second.x + 450, second.y - 450)
    inside = gpd.sjoin(deposits, parcels[["parcel_id", "geometry"]], predicate="within")
    # As a ranking run annotates them: the parcel holding each site.
    deposits["parcel_id"] = inside["parcel_id"].reindex(deposits.index).astype(object)
    counts = inside.groupby("parcel_id").size()
    critical = inside[inside["critical"]].groupby("parcel_id").size()
    parcels["n_deposits"] = parcels["parcel_id"].map(counts).fillna(0).astype("int64")
    parcels["n_critical_deposits"] = parcels["parcel_id"].map(critical).fillna(0).astype("int64")
    x0, y0, x1, y1 = bounds
    wx, wy = x0 + (x1 - x0) * 0.55, y0 + (y1 - y0) * 0.45
    withdrawals = gpd.GeoDataFrame(
        {
            "name": [HOSTILE if hostile else "Zion Wilderness"],
            "kind": ["wilderness"],
            "agency": ["NPS"],
        },
        geometry=[
            shapely.Polygon(
                [(wx, wy), (x1 - 500, wy + 800), (x1 - 900, y1 - 700), (wx + 1200, y1 - 300)]
            )
        ],
        crs=5070,
    )
    access = gpd.GeoDataFrame(
        {
            "kind": ["road", "rail", "power"],
            "class": ["primary", "rail", "138 kV"],
            "name": ["State Route 9", "Synthetic railway", "Synthetic line"],
        },
        geometry=[
            shapely.LineString(
                [(x0 - 2000, y0 + 3000), (x0 + 6000, y0 + 4500), (x1 + 1000, y1 - 2500)]
            ),
            shapely.LineString([(x0 - 1000, y0 + 800), (x1 + 1000, y0 + 1500)]),
            shapely.LineString([(x0 + 2500, y0 - 500), (x0 + 4000, y1 + 500)]),
        ],
        crs=5070,
    )
    info = {
        "region": "Zion (synthetic)" + (f" {HOSTILE}" if hostile else ""),
        "layers_used": ["deposits", "withdrawals", "access"],
        "layers_missing": [
            {
                "role": "land",
                "message": "No land-ownership layer: land outside withdrawals is "
                "'ownership unknown'.",
            },
            {"role": "claims", "message": "No mining-claims layer."},
        ],
        "weights": {"value": 0.5, "access": 0.3, "evidence": 0.2},
        "created": "2025-01-31",
        "manifest": "manifest.json",
        "list_year": 2022,
        "notes": [
            "No land-ownership layer: land outside withdrawals is 'ownership unknown', not federal."
        ],
    }
    return {
        "parcels": parcels,
        "deposits": deposits,
        "withdrawals": withdrawals,
        "access": access,
        "info": info,
    }
