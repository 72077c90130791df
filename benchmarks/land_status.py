"""Benchmark: land status of 1M parcels against 10k withdrawals and 200k claims (SYNTHETIC).

    python benchmarks/land_status.py [--parcels 1000000] [--withdrawals 10000] [--claims 200000]

All inputs are synthetic and labelled so: a square-mile grid in EPSG:5070 over a western-US
sized extent, withdrawal polygons of varied size with jagged (many-vertex) outlines, claims
as ~20-acre rectangles clustered in districts, and a BLM-like land layer of large blocks.
Prints timings and peak RSS and writes benchmarks/results/land-status.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from prospector.analysis.land import land_status

MILE = 1609.344
CRS = "EPSG:5070"


def synthetic_parcels(n: int) -> gpd.GeoDataFrame:
    side = int(np.ceil(np.sqrt(n)))
    cols, rows = np.meshgrid(np.arange(side), np.arange(side))
    cols, rows = cols.ravel()[:n], rows.ravel()[:n]
    x0, y0 = -2_000_000.0, 1_200_000.0
    geoms = shapely.box(
        x0 + cols * MILE, y0 + rows * MILE, x0 + (cols + 1) * MILE, y0 + (rows + 1) * MILE
    )
    return gpd.GeoDataFrame(
        {"parcel_id": np.char.add("s", np.arange(n).astype(str))}, geometry=geoms, crs=CRS
    )


def _jagged(cx, cy, radius, rng, vertices=64):
    angles = np.sort(rng.uniform(0, 2 * np.pi, vertices))
    r = radius * rng.uniform(0.6, 1.0, vertices)
    return shapely.Polygon(np.c_[cx + r * np.cos(angles), cy + r * np.sin(angles)])


def synthetic_layers(extent, n_withdrawals: int, n_claims: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = extent
    # Withdrawals: log-normal radii from ~1 km to ~40 km, jagged outlines.
    radius = np.clip(rng.lognormal(np.log(3000), 0.9, n_withdrawals), 500, 40_000)
    cx, cy = rng.uniform(xmin, xmax, n_withdrawals), rng.uniform(ymin, ymax, n_withdrawals)
    wd = [shapely.make_valid(_jagged(x, y, r, rng)) for x, y, r in zip(cx, cy, radius, strict=True)]
    withdrawals = gpd.GeoDataFrame(
        {
            "name": [f"synthetic withdrawal {i}" for i in range(n_withdrawals)],
            "kind": "other",
            "source": "synthetic",
        },
        geometry=wd,
        crs=CRS,
    )
    # Claims: 20-acre (≈ 450 m x 180 m) rectangles clustered around 2,000 district centres.
    centres = np.c_[rng.uniform(xmin, xmax, 2000), rng.uniform(ymin, ymax, 2000)]
    pick = rng.integers(0, len(centres), n_claims)
    xy = centres[pick] + rng.normal(0, 3000, (n_claims, 2))
    claims = gpd.GeoDataFrame(
        {
            "serial": [f"SYN{i}" for i in range(n_claims)],
            "disposition": np.where(rng.random(n_claims) < 0.7, "active", "closed"),
            "source": "synthetic",
        },
        geometry=shapely.box(xy[:, 0], xy[:, 1], xy[:, 0] + 457, xy[:, 1] + 177),
        crs=CRS,
    )
    # Land: 25 km blocks, 70 % BLM (federal), the rest private.
    bx = np.arange(xmin, xmax, 25_000)
    by = np.arange(ymin, ymax, 25_000)
    gx, gy = np.meshgrid(bx, by)
    gx, gy = gx.ravel(), gy.ravel()
    federal = rng.random(len(gx)) < 0.7
    land = gpd.GeoDataFrame(
        {"agency": np.where(federal, "BLM", "PRIVATE"), "federal": federal, "source": "synthetic"},
        geometry=shapely.box(gx, gy, gx + 25_000, gy + 25_000),
        crs=CRS,
    )
    return land, withdrawals, claims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--withdrawals", type=int, default=10_000)
    parser.add_argument("--claims", type=int, default=200_000)
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "land-status.json")
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    parcels = synthetic_parcels(args.parcels)
    land, withdrawals, claims = synthetic_layers(
        tuple(parcels.total_bounds), args.withdrawals, args.claims
    )
    t_gen = time.perf_counter() - t0
    t1 = time.perf_counter()
    status = land_status(
        parcels, land=land, withdrawals=withdrawals, claims=claims, min_sliver_m2=1000.0
    )
    t_land = time.perf_counter() - t1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "synthetic": True,
        "n_parcels": len(parcels),
        "n_withdrawals": len(withdrawals),
        "n_withdrawal_vertices": int(
            shapely.get_num_coordinates(withdrawals.geometry.to_numpy()).sum()
        ),
        "n_claims": len(claims),
        "n_land": len(land),
        "generate_s": round(t_gen, 2),
        "land_status_s": round(t_land, 2),
        "peak_rss_mb": round(peak_mb, 1),
        "status_counts": status["land_status"].value_counts().to_dict(),
        "mean_withdrawn_frac": round(float(status["withdrawn_frac"].mean()), 4),
        "mean_claimed_frac": round(float(status["claimed_frac"].mean()), 4),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
