"""Done-when figures of issue 19 on a region (default: the embedded Utah sample).

Two steps, so the same figures can be computed for any version of Prospector::

    # 1. rank with the installed/importable Prospector, save every parcel
    python benchmarks/value_figures.py rank --out /tmp/after.parquet [--config cfg.toml]
    # 2. figures from saved parcels (needs prospector.analysis.targets)
    python benchmarks/value_figures.py figures /tmp/after.parquet [--json out.json]

Figures (all computed here from the saved parcels and the raw deposit file, independently
of the value code under test):

- targets (default :class:`~prospector.analysis.targets.TargetConfig`) holding the top 50
  ranked cells; "districts" among the top 20 targets = groups of targets whose best cells lie
  within 10 km of each other (single linkage);
- USGS significant deposits (records whose ``dataset`` is ``mrdata_major_deposits`` or
  ``mrdata_pp1802``): percentile of ranked area of the cell holding each (closed or unranked
  cells count as 100 %), median and share within the top 1 % / 2 %;
- uranium sites in closed cells, and the status of named uranium mines of the Henry
  Mountains and White Canyon (Tony M, Daneros);
- ranks of named sites (Apex, Spor Mountain, Great Salt Lake, Pandora).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import connected_components

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DEPOSITS = REPO / "layers" / "sample" / "mineral_sites_utah_minmod.gpkg"
SIGNIFICANT = ("mrdata_major_deposits", "mrdata_pp1802")
#: Named sites: (name pattern, commodity pattern) — several UMOS sites share a name.
NAMED = {
    "Apex (Ga-Ge)": (r"^Apex Mine$", r"(?i)\bga(?:llium)?\b"),
    "Spor Mountain (Be)": (r"^Spor Mountain$", r"(?i)\bbe(?:ryllium)?\b"),
    "Great Salt Lake (Li-K-Mg brine)": (r"Great Salt Lake", r"(?i)\bli(?:thium)?\b"),
    "Pandora (V)": (r"Pandora", r"(?i)\bv(?:anadium)?\b"),
}
URANIUM_MINES = r"^(?:Tony M|Daneros)"


def _rank(args: argparse.Namespace) -> None:
    import prospector

    result = prospector.rank(args.region, args.config)
    parcels = result.all_parcels
    keep = [
        c
        for c in (
            "parcel_id",
            "rank",
            "score",
            "score_value",
            "area_km2",
            "land_status",
            "status_reason",
            "n_deposits",
            "commodities",
            "critical_commodities",
            "withdrawals",
            "why",
            "geometry",
        )
        if c in parcels.columns
    ]
    parcels[keep].to_parquet(args.out)
    print(f"wrote {len(parcels)} parcels to {args.out}")


def _districts(points: np.ndarray, km: float) -> np.ndarray:
    tree = shapely.STRtree(points)
    a, b = tree.query(points, predicate="dwithin", distance=km * 1000.0)
    graph = np.zeros((len(points), len(points)), dtype=bool)
    graph[a, b] = True
    return connected_components(graph, directed=False)[1]


def figures(parcels: gpd.GeoDataFrame, deposits: gpd.GeoDataFrame) -> dict:
    """Compute the figures (see module docstring)."""
    from prospector.analysis.targets import find_targets

    rank = pd.to_numeric(parcels["rank"]).to_numpy(dtype=float)
    n_ranked = int(np.count_nonzero(~np.isnan(rank)))
    ranked = parcels[~np.isnan(rank)].sort_values("rank").reset_index(drop=True)
    targets = find_targets(ranked)
    # Which target holds each of the top 50 cells.
    top50 = ranked.iloc[:50]
    hit = gpd.sjoin(
        gpd.GeoDataFrame(geometry=top50.geometry.representative_point(), crs=ranked.crs),
        targets[["rank", "geometry"]],
        predicate="within",
    )
    best_cells = ranked.set_index("parcel_id").loc[targets["best_parcel_id"].iloc[:20]]
    best_pts = best_cells.geometry.representative_point().to_numpy()
    district = _districts(best_pts, 10.0)

    dep = deposits.to_crs(parcels.crs)
    joined = gpd.sjoin(dep, parcels[["rank", "land_status", "geometry"]], predicate="within")
    joined = joined[~joined.index.duplicated()]
    # Percentile of ranked area: the area of cells ranked at or above a cell, over the area
    # of every ranked cell (cells are ~equal, but border cells are smaller).
    cum = ranked["area_km2"].cumsum().to_numpy() / ranked["area_km2"].sum() * 100.0
    r = joined["rank"].astype(float).to_numpy()
    ok = ~np.isnan(r)
    pct_values = np.full(len(joined), 100.0)
    pct_values[ok] = cum[r[ok].astype(int) - 1]
    pct = pd.Series(pct_values, index=joined.index)
    sig = pct[joined["dataset"].isin(SIGNIFICANT)]
    n_sig = int(dep["dataset"].isin(SIGNIFICANT).sum())
    sig = sig.reindex(dep.index[dep["dataset"].isin(SIGNIFICANT)]).fillna(100.0)

    uranium = joined["commodities"].str.contains(r"(?:^|[ ;])(?:U|uranium)(?:$|[ ;])", regex=True)
    closed_u = joined[uranium & (joined["land_status"] == "closed")]
    mines = joined[joined["name"].fillna("").str.contains(URANIUM_MINES, regex=True)]

    def named_rank(name: str, commodity: str) -> dict:
        rows = joined[
            joined["name"].fillna("").str.contains(name, regex=True)
            & joined["commodities"].fillna("").str.contains(commodity, regex=True)
        ]
        r = rows["rank"].astype(float)
        if r.notna().any():
            best = float(r.min())
            return {"best_rank": int(best), "pct_area": round(float(cum[int(best) - 1]), 2)}
        return {"best_rank": None, "status": sorted(set(rows["land_status"]))}

    # Name each of the top 10 targets by the named site nearest its best cell.
    named_dep = dep[dep["name"].notna() & ~dep["name"].str.contains("Unknown", na=False)]
    tree = shapely.STRtree(named_dep.geometry.to_numpy())
    top10 = []
    for row in targets.iloc[:10].itertuples():
        cell = ranked.set_index("parcel_id").loc[row.best_parcel_id].geometry
        near = tree.nearest(cell.representative_point())
        top10.append(
            {
                "rank": int(row.rank),
                "near": str(named_dep.iloc[int(near)]["name"]),
                "n_cells": int(row.n_cells),
                "area_km2": round(float(row.area_km2), 1),
                "best_rank": int(row.best_rank),
                "best_score": round(float(row.best_score), 3),
                "critical": row.critical_commodities,
            }
        )
    return {
        "n_ranked": n_ranked,
        "n_targets": len(targets),
        "top50_cells_in_targets": int(hit["rank"].nunique()),
        "top20_targets_districts_10km": len(np.unique(district)),
        "significant_deposits": n_sig,
        "significant_median_pct_area": round(float(np.median(sig)), 2),
        "significant_within_top1pct": round(float((sig <= 1.0).mean() * 100), 1),
        "significant_within_top2pct": round(float((sig <= 2.0).mean() * 100), 1),
        "uranium_sites_in_closed_cells": len(closed_u),
        "uranium_mines_henry_white_canyon": {
            str(r.name): str(r.land_status) for r in mines.itertuples()
        },
        "named": {label: named_rank(*p) for label, p in NAMED.items()},
        "top10_targets": top10,
    }


def _figures(args: argparse.Namespace) -> None:
    parcels = gpd.read_parquet(args.parcels)
    deposits = gpd.read_file(args.deposits)
    out = figures(parcels, deposits)
    text = json.dumps(out, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("rank", help="rank a region and save every parcel")
    r.add_argument("--region", default=str(REPO / "layers" / "regions" / "utah-sample.toml"))
    r.add_argument("--config", default=None)
    r.add_argument("--out", required=True)
    f = sub.add_parser("figures", help="figures from saved parcels")
    f.add_argument("parcels")
    f.add_argument("--deposits", default=str(SAMPLE_DEPOSITS))
    f.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    {"rank": _rank, "figures": _figures}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
