"""SYNTHETIC West-scale workload for the ranking benchmark (issue 8).

Everything here is SYNTHETIC: random geometry with plausible sizes and clustering, in
EPSG:5070 over a western-US-sized extent.  It says nothing about real land, deposits,
roads, withdrawals or claims.  Every feature carries ``source="synthetic"``, ids start
with ``SYN``, names with ``SYNTHETIC`` and cached files live in
``benchmarks/data/synthetic-west-F<F>-seed<seed>/`` (git-ignored).

At scale factor ``F`` (densities are constant; the extent grows with ``F``):

============  ==============  ======================================================
layer         count           shape
============  ==============  ======================================================
parcels       1,000,000 · F   1-mile (section) square cells, ids ``r<row>c<col>`` of
                              the aligned work-CRS grid, ~70 % of the extent's cells
                              (a patchy "federal" mask from a smooth random field)
deposits        300,000 · F   Thomas (Neyman-Scott) cluster process: 1,500·F district
                              centres with log-normal sizes and spreads + 15 % uniform
                              background; district commodity suites; dev_status mix
roads           500,000 · F   short segments (4 vertices, ~1.6 km) of persistent
                              random-walk routes, starting near districts and towns
withdrawals       5,000 · F   star-shaped polygons, log-normal areas (0.1 to 8,000
                              km²); the large ones have up to 2,000 vertices
claims          200,000 · F   ~20-acre rectangles (1500 × 600 ft) clustered around
                              deposits; 40 % active, 60 % closed
============  ==============  ======================================================

Use :func:`load` (generates on first use, then reads the GeoParquet cache) or run
``python benchmarks/_synthetic.py --scale F`` to pre-generate.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

CRS = "EPSG:5070"
MILE_M = 1609.344
#: South-west corner of the extent (EPSG:5070, metres): south-western Arizona/California.
X0, Y0 = -2_250_000.0, 1_150_000.0
#: Share of the extent's cells that are parcels (the rest is "not federal").
PARCEL_SHARE = 0.70
DATA = Path(__file__).parent / "data"
LAYERS = ("parcels", "deposits", "roads", "withdrawals", "claims", "boundary")

BASE = {
    "parcels": 1_000_000,
    "deposits": 300_000,
    "roads": 500_000,
    "withdrawals": 5_000,
    "claims": 200_000,
}

# District commodity suites (canonical names from prospector/schema/data/commodities.toml).
SUITES = [
    ["gold", "silver"],
    ["copper", "molybdenum", "gold", "silver"],
    ["lead", "zinc", "silver"],
    ["uranium", "vanadium"],
    ["lithium", "potash", "boron"],
    ["tungsten", "molybdenum", "tin"],
    ["rare_earths", "thorium", "niobium"],
    ["sand_gravel", "stone"],
    ["gypsum", "limestone", "clay"],
    ["antimony", "mercury", "arsenic"],
    ["beryllium", "fluorspar"],
    ["manganese", "iron"],
    ["platinum", "palladium", "nickel", "cobalt"],
]
SUITE_P = np.array([18, 12, 10, 8, 4, 4, 2, 20, 8, 4, 3, 5, 2], dtype=float)
STATUS = np.array(["occurrence", "prospect", "past_producer", "producer", "unknown"], dtype=object)
STATUS_P = np.array([0.55, 0.20, 0.15, 0.03, 0.07])
WKINDS = np.array(["wilderness", "wsa", "nps", "gap12", "military", "other"], dtype=object)
WAGENCY = np.array(["BLM", "USFS", "NPS", "FWS", "DOD", "BOR"], dtype=object)
RCLASS = np.array(["primary", "secondary", "local", "track"], dtype=object)
RCLASS_P = np.array([0.03, 0.12, 0.45, 0.40])


def counts(scale: float) -> dict[str, int]:
    """Feature counts at scale factor *scale*."""
    return {k: max(1, round(v * scale)) for k, v in BASE.items()}


def cache_dir(scale: float, seed: int) -> Path:
    """Directory of the cached GeoParquet files for (*scale*, *seed*)."""
    return DATA / f"synthetic-west-F{scale:g}-seed{seed}"


def _grid_shape(n_parcels: int) -> tuple[int, int, int, int]:
    """(c0, r0, ncols, nrows) of the aligned cell grid covering the extent."""
    side = math.ceil(math.sqrt(n_parcels / PARCEL_SHARE))
    c0, r0 = math.floor(X0 / MILE_M), math.floor(Y0 / MILE_M)
    return c0, r0, side, side


def extent(scale: float) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) of the synthetic extent at *scale*."""
    c0, r0, nc, nr = _grid_shape(counts(scale)["parcels"])
    return c0 * MILE_M, r0 * MILE_M, (c0 + nc) * MILE_M, (r0 + nr) * MILE_M


def make_parcels(n: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """*n* section-sized cells chosen by a smooth random "federal land" field."""
    from scipy import ndimage

    c0, r0, nc, nr = _grid_shape(n)
    # Smooth field on a coarse grid (~16 km), upsampled, plus a little cell-scale noise.
    coarse = max(4, nc // 10)
    field = ndimage.gaussian_filter(rng.normal(size=(coarse, coarse)), sigma=1.5, mode="wrap")
    zoom = nc / coarse
    fine = ndimage.zoom(field, zoom, order=1)[:nr, :nc]
    fine = fine / fine.std() + 0.25 * rng.normal(size=fine.shape)
    flat = fine.ravel()
    keep = np.argpartition(-flat, n - 1)[:n]
    rows = r0 + keep // nc
    cols = c0 + keep % nc
    order = np.lexsort((cols, -rows))  # like grid_parcels: north to south, then west to east
    rows, cols = rows[order], cols[order]
    geoms = shapely.box(cols * MILE_M, rows * MILE_M, (cols + 1) * MILE_M, (rows + 1) * MILE_M)
    ids = np.char.add(
        np.char.add("r", rows.astype(str)), np.char.add("c", cols.astype(str))
    ).astype(object)
    return gpd.GeoDataFrame({"parcel_id": ids, "source": "synthetic"}, geometry=geoms, crs=CRS)


def make_deposits(
    n: int, box: tuple[float, float, float, float], scale: float, rng: np.random.Generator
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Thomas cluster process; returns the deposits and the district centres."""
    xmin, ymin, xmax, ymax = box
    n_centres = max(1, round(1500 * scale))
    centres = np.column_stack(
        [rng.uniform(xmin, xmax, n_centres), rng.uniform(ymin, ymax, n_centres)]
    )
    size = rng.lognormal(0.0, 1.0, n_centres)
    spread = rng.lognormal(math.log(3_000.0), 0.6, n_centres)  # metres
    suite = rng.choice(len(SUITES), n_centres, p=SUITE_P / SUITE_P.sum())
    n_bg = int(0.15 * n)
    n_cl = n - n_bg
    parent = rng.choice(n_centres, n_cl, p=size / size.sum())
    xy = centres[parent] + rng.normal(size=(n_cl, 2)) * spread[parent, None]
    xy = np.vstack(
        [xy, np.column_stack([rng.uniform(xmin, xmax, n_bg), rng.uniform(ymin, ymax, n_bg)])]
    )
    xy[:, 0] = np.clip(xy[:, 0], xmin, xmax)
    xy[:, 1] = np.clip(xy[:, 1], ymin, ymax)
    dep_suite = np.r_[suite[parent], rng.choice(len(SUITES), n_bg, p=SUITE_P / SUITE_P.sum())]
    n_comm = rng.choice([1, 2, 3], n, p=[0.5, 0.35, 0.15])
    commodities = []
    for s, k in zip(dep_suite, n_comm, strict=True):
        names = SUITES[s]
        commodities.append(names[: min(k, len(names))])
    codes = [";".join(c.upper() for c in cs) for cs in commodities]
    ids = np.char.add("SYN-D", np.arange(n).astype(str)).astype(object)
    deposits = gpd.GeoDataFrame(
        {
            "site_id": ids,
            "name": np.char.add("SYNTHETIC site ", np.arange(n).astype(str)).astype(object),
            "commodities": pd.Series(commodities, dtype=object),
            "commodity_codes": codes,
            "dev_status": rng.choice(STATUS, n, p=STATUS_P),
            "source": "synthetic",
        },
        geometry=shapely.points(xy),
        crs=CRS,
    )
    return deposits, centres


def make_roads(
    n: int, box: tuple[float, float, float, float], centres: np.ndarray, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """*n* 4-vertex segments of persistent random-walk routes."""
    xmin, ymin, xmax, ymax = box
    per_route, sub = 50, 3
    n_routes = max(1, math.ceil(n / per_route))
    near = rng.random(n_routes) < 0.6
    start = np.column_stack([rng.uniform(xmin, xmax, n_routes), rng.uniform(ymin, ymax, n_routes)])
    pick = rng.integers(0, len(centres), n_routes)
    start[near] = centres[pick[near]] + rng.normal(size=(near.sum(), 2)) * 20_000.0
    steps = per_route * sub
    heading = rng.uniform(0, 2 * np.pi, n_routes)[:, None] + np.cumsum(
        rng.normal(0, 0.12, (n_routes, steps)), axis=1
    )
    step_len = rng.uniform(400.0, 680.0, (n_routes, steps))
    dx = np.cumsum(np.cos(heading) * step_len, axis=1)
    dy = np.cumsum(np.sin(heading) * step_len, axis=1)
    x = np.hstack([start[:, :1], start[:, :1] + dx])  # (routes, steps + 1)
    y = np.hstack([start[:, 1:], start[:, 1:] + dy])
    # Segment j of a route uses vertices j*sub .. j*sub + sub (shared end points).
    j = np.arange(per_route)[:, None] * sub + np.arange(sub + 1)[None, :]  # (per_route, sub+1)
    sx = x[:, j].reshape(-1, sub + 1)[:n]
    sy = y[:, j].reshape(-1, sub + 1)[:n]
    coords = np.stack([sx, sy], axis=-1)
    geoms = shapely.linestrings(coords)
    return gpd.GeoDataFrame(
        {
            "kind": "road",
            "class": rng.choice(RCLASS, n, p=RCLASS_P),
            "name": np.char.add("SYNTHETIC road ", (np.arange(n) // per_route).astype(str)).astype(
                object
            ),
            "source": "synthetic",
        },
        geometry=geoms,
        crs=CRS,
    )


def make_withdrawals(
    n: int, box: tuple[float, float, float, float], rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Star-shaped polygons with log-normal areas; big ones are detailed."""
    xmin, ymin, xmax, ymax = box
    area_km2 = np.clip(rng.lognormal(math.log(15.0), 1.8, n), 0.1, 8_000.0)
    radius = np.sqrt(area_km2 * 1e6 / np.pi)
    nv = np.clip((24 * np.sqrt(area_km2)).astype(int), 16, 2_000)
    cx, cy = rng.uniform(xmin, xmax, n), rng.uniform(ymin, ymax, n)
    total = int(nv.sum())
    owner = np.repeat(np.arange(n), nv)
    start = np.r_[0, np.cumsum(nv)[:-1]]
    k = np.arange(total) - np.repeat(start, nv)
    theta = 2 * np.pi * k / nv[owner]
    # Radial profile: a few random harmonics (lobes, bays) + vertex-scale jitter; stays > 0
    # so the star polygon is simple (valid).
    r = np.ones(total)
    for h in (2, 3, 5, 8, 13):
        amp = rng.uniform(0, 0.35 / math.sqrt(h), n)
        phase = rng.uniform(0, 2 * np.pi, n)
        r += amp[owner] * np.sin(h * theta + phase[owner])
    r += rng.normal(0, 0.03, total)
    r = np.clip(r, 0.15, None) * radius[owner]
    xy = np.column_stack([cx[owner] + r * np.cos(theta), cy[owner] + r * np.sin(theta)])
    # Close each ring by repeating its first vertex.
    last = np.r_[start[1:], total] - 1
    ins = last + 1
    xy = np.insert(xy, ins, xy[start], axis=0)
    idx = np.insert(owner, ins, np.arange(n))
    rings = shapely.linearrings(xy, indices=idx)
    polys = shapely.polygons(rings)
    polys = shapely.make_valid(polys)  # jitter can make tiny self-intersections
    polys = np.array([_polygonal(g) for g in polys], dtype=object)
    return gpd.GeoDataFrame(
        {
            "name": np.char.add("SYNTHETIC withdrawal ", np.arange(n).astype(str)).astype(object),
            "kind": rng.choice(WKINDS, n),
            "agency": rng.choice(WAGENCY, n),
            "source": "synthetic",
        },
        geometry=polys,
        crs=CRS,
    )


def _polygonal(g: shapely.Geometry) -> shapely.Geometry:
    if shapely.get_type_id(g) in (3, 6):
        return g
    parts = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def make_claims(n: int, deposits: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """~20-acre lode-claim rectangles clustered around deposits."""
    pts = shapely.get_coordinates(deposits.geometry.to_numpy())
    status = deposits["dev_status"].to_numpy()
    w = np.where(
        np.isin(status, ["producer", "past_producer"]),
        6.0,
        np.where(status == "prospect", 3.0, 1.0),
    )
    anchor = rng.choice(len(pts), n, p=w / w.sum())
    xy = pts[anchor] + rng.normal(size=(n, 2)) * 800.0
    long_, short = 1500 * 0.3048, 600 * 0.3048
    ew = rng.random(n) < 0.5
    hw = np.where(ew, long_, short) / 2
    hh = np.where(ew, short, long_) / 2
    geoms = shapely.box(xy[:, 0] - hw, xy[:, 1] - hh, xy[:, 0] + hw, xy[:, 1] + hh)
    return gpd.GeoDataFrame(
        {
            "serial": np.char.add("SYN-C", np.arange(n).astype(str)).astype(object),
            "disposition": np.where(rng.random(n) < 0.4, "active", "closed").astype(object),
            "claim_type": "lode",
            "source": "synthetic",
        },
        geometry=geoms,
        crs=CRS,
    )


def generate(scale: float = 1.0, seed: int = 8) -> dict[str, gpd.GeoDataFrame]:
    """Generate every SYNTHETIC layer at *scale* (deterministic for a given *seed*)."""
    rng = np.random.default_rng([seed, round(scale * 1000)])
    n = counts(scale)
    box = extent(scale)
    parcels = make_parcels(n["parcels"], rng)
    deposits, centres = make_deposits(n["deposits"], box, scale, rng)
    roads = make_roads(n["roads"], box, centres, rng)
    withdrawals = make_withdrawals(n["withdrawals"], box, rng)
    claims = make_claims(n["claims"], deposits, rng)
    boundary = gpd.GeoDataFrame(
        {"name": [f"SYNTHETIC West F={scale:g}"], "source": ["synthetic"]},
        geometry=[shapely.box(*box)],
        crs=CRS,
    )
    return {
        "parcels": parcels,
        "deposits": deposits,
        "roads": roads,
        "withdrawals": withdrawals,
        "claims": claims,
        "boundary": boundary,
    }


def ensure(scale: float = 1.0, seed: int = 8, *, verbose: bool = True) -> Path:
    """Generate and cache the layers as GeoParquet (with bbox covering columns) unless cached."""
    out = cache_dir(scale, seed)
    if all((out / f"{name}.parquet").exists() for name in LAYERS):
        return out
    t0 = time.perf_counter()
    layers = generate(scale, seed)
    out.mkdir(parents=True, exist_ok=True)
    for name, gdf in layers.items():
        tmp = out / f"{name}.parquet.tmp"
        gdf.to_parquet(tmp, write_covering_bbox=True, row_group_size=50_000)
        tmp.replace(out / f"{name}.parquet")
    (out / "README.txt").write_text(
        "SYNTHETIC data generated by benchmarks/_synthetic.py for the West-scale benchmark.\n"
        "Not real land, deposits, roads, withdrawals or claims.\n",
        encoding="utf-8",
    )
    if verbose:
        print(
            f"generated SYNTHETIC F={scale:g} seed={seed} in {time.perf_counter() - t0:.1f} s -> {out}"
        )
    return out


def load(
    scale: float = 1.0, seed: int = 8, *, bbox: tuple[float, float, float, float] | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """Read the cached SYNTHETIC layers (generating them first if needed)."""
    out = ensure(scale, seed)
    return {name: gpd.read_parquet(out / f"{name}.parquet", bbox=bbox) for name in LAYERS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=8)
    args = ap.parse_args()
    out = ensure(args.scale, args.seed)
    for name in LAYERS:
        path = out / f"{name}.parquet"
        print(f"{name:12s} {path.stat().st_size / 1e6:8.1f} MB")


if __name__ == "__main__":
    main()
