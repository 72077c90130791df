"""West-scale ranking benchmark (issue 8) on a SYNTHETIC workload.

SYNTHETIC DATA (``benchmarks/_synthetic.py``): 1,000,000·F section-sized parcels,
300,000·F clustered deposits, 500,000·F road segments, 5,000·F withdrawals and 200,000·F
claims in EPSG:5070 over a western-US-sized extent.  Nothing in it is real.

Each measured run is a separate subprocess (clean peak memory); the parent polls
``/proc`` for the whole process tree (workers included): the summed RSS every 50 ms
(``statm``; conservative: pages shared by forked workers count twice) and the summed PSS
every 0.5 s (``smaps_rollup``, costly for the kernel to produce, hence less often).

* ``prospector``: read the GeoParquet inputs, rank with :func:`prospector.rank`
  (default ``--engine memory``; ``--engine local|dask``: tiles), write the ranked and
  excluded parcels as GeoParquet.
  No HTML map (benchmarked separately).
* ``stream`` (``--stream``): the bounded-memory path: layers stay on disk (spatially
  sorted GeoParquet, prepared once and cached), tiles are read, measured, spilled, scored
  globally and written as a GeoParquet dataset.
* ``baseline``: the straightforward geopandas script an analyst would write:
  ``gpd.overlay`` for withdrawn/claimed fractions, ``sjoin`` for deposits inside and the
  value kernel, ``sjoin_nearest`` for roads, a weighted sum and a rank.  Its numbers are
  checked against Prospector's on a sample of parcels.

Usage::

    python benchmarks/west.py --scale 0.25 --scale 1          # rank() and the baseline
    python benchmarks/west.py --scale 1 --engine local        # tiles in 2 processes
    python benchmarks/west.py --scale 4 --stream --no-baseline

Writes ``benchmarks/results/west-F[-ENGINE][-stream].json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))


# --------------------------------------------------------------------------------------
# Memory polling of a process tree
# --------------------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return out


def _mem_kb(pid: int) -> tuple[int, int]:
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def run_child(args: list[str]) -> dict:
    """Run ``west.py --child ...`` in a subprocess; return its JSON plus peak memory."""
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), *args], stdout=subprocess.PIPE, text=True
    )
    peak = {"rss": 0, "pss": 0}
    stop = threading.Event()

    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024

    def poll() -> None:
        # RSS from /proc/PID/statm every 50 ms (cheap); PSS from smaps_rollup every 0.5 s
        # (the kernel walks every mapping for it: polling it at 50 ms took ~20 % of a core).
        tick = 0
        while not stop.is_set():
            pids = _tree(proc.pid)
            rss = 0
            for p in pids:
                try:
                    with open(f"/proc/{p}/statm") as fh:
                        rss += int(fh.read().split()[1]) * page_kb
                except (OSError, IndexError, ValueError):
                    pass
            peak["rss"] = max(peak["rss"], rss)
            if tick % 10 == 0:
                peak["pss"] = max(peak["pss"], sum(_mem_kb(p)[1] for p in pids))
            tick += 1
            stop.wait(0.05)

    t = threading.Thread(target=poll, daemon=True)
    t0 = time.perf_counter()
    t.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    t.join()
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed ({proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["process_wall_s"] = round(wall, 2)
    result["peak_rss_mb"] = round(peak["rss"] / 1024, 1)
    result["peak_pss_mb"] = round(peak["pss"] / 1024, 1)
    return result


# --------------------------------------------------------------------------------------
# Children
# --------------------------------------------------------------------------------------


def _region_data(layers: dict):
    import pyproj

    from prospector.catalog import Region
    from prospector.ingest import RegionData
    from prospector.schema.commodities import load_vocabulary

    region = Region(
        name="synthetic-west",
        title="SYNTHETIC West-scale workload (not real data)",
        boundary_path=Path("synthetic"),
        boundary_layer=None,
        boundary_where=None,
        layers=(),
        notes=("SYNTHETIC benchmark data generated by benchmarks/_synthetic.py.",),
    )
    return RegionData(
        region=region,
        crs=pyproj.CRS("EPSG:5070"),
        boundary=layers["boundary"],
        vocabulary=load_vocabulary(2025),
        deposits=layers["deposits"],
        withdrawals=layers["withdrawals"],
        claims=layers["claims"],
        access=layers["roads"],
        parcels=layers["parcels"][["parcel_id", "geometry"]],
    )


def _sample_ids(n_sample: int, parcels_ids) -> list[str]:
    """*n_sample* ids drawn at random (seed 0) from the sorted *parcels_ids*.

    Sorted as Arrow strings, by position: no million-element copy of the ids as Python or
    fixed-width NumPy strings (that copy was the child's peak memory at F=1).
    """
    import numpy as np
    import pandas as pd

    ids = pd.Series(parcels_ids, dtype="str").reset_index(drop=True)
    order = ids.argsort().to_numpy()
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(ids), min(n_sample, len(ids)), replace=False))
    return [str(v) for v in ids.iloc[order[pick]]]


SAMPLE_COLS = [
    "parcel_id",
    "withdrawn_frac",
    "claimed_frac",
    "n_deposits",
    "value_raw",
    "dist_road_km",
    "score",
    "rank",
]


def child_prospector(scale: float, seed: int, engine: str, workers: int, tile_km: float) -> dict:
    import _synthetic as syn
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from prospector.config import load_config
    from prospector.export import write_geoparquet
    from prospector.ranking import rank

    syn.ensure(scale, seed, verbose=False)
    stages: dict[str, float] = {}
    t00 = time.perf_counter()
    d = syn.cache_dir(scale, seed)
    layers = {name: gpd.read_parquet(d / f"{name}.parquet") for name in syn.LAYERS}
    data = _region_data(layers)
    del layers
    stages["read_s"] = time.perf_counter() - t00
    # The parcels compared with the baseline, drawn from the input ids (the same ids as the
    # ranked and excluded ones together) before the run: the harness's sorting of a million
    # ids is not part of the measured peak.
    assert data.parcels is not None
    t0 = time.perf_counter()
    ids = _sample_ids(2000, data.parcels["parcel_id"])
    sample_s = time.perf_counter() - t0  # not part of the timed work
    config = load_config(None)
    t0 = time.perf_counter()
    result = rank(data, config, engine=engine, workers=workers, tile_km=tile_km, timings=stages)
    stages["rank_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_geoparquet(result.parcels, syn.DATA / f"west-ranked-F{scale:g}.parquet", overwrite=True)
    write_geoparquet(
        result.excluded, syn.DATA / f"west-excluded-F{scale:g}.parquet", overwrite=True
    )
    stages["write_s"] = time.perf_counter() - t0
    wall = time.perf_counter() - t00 - sample_s
    # Only the sampled rows of the compared columns (a copy of whole columns would inflate
    # the peak memory).
    frames = ((result.parcels, SAMPLE_COLS), (result.excluded, SAMPLE_COLS[:-1]))
    n_parcels = sum(len(f) for f, _ in frames)

    def picked(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
        # Arrow's is_in on the Arrow-backed ids, then the picked rows column by column:
        # Series.isin (a million Python strings) and frame.loc[mask, cols] (which copied
        # whole columns) each added ~90 MB to the child's peak once the run was done.
        mask = pc.is_in(pa.array(frame["parcel_id"].array), value_set=pa.array(ids))
        rows = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
        return pd.DataFrame({c: frame[c].take(rows).to_numpy() for c in cols})

    sample = (
        pd.concat([picked(f, cols) for f, cols in frames], ignore_index=True)
        .set_index("parcel_id")
        .loc[ids, SAMPLE_COLS[1:]]
        .reset_index()
    )
    sample.to_parquet(syn.DATA / f"west-sample-prospector-F{scale:g}.parquet")
    return {
        "wall_s": round(wall, 2),
        "n_parcels": n_parcels,
        "n_ranked": len(result.parcels),
        "stages": {k: round(v, 2) for k, v in stages.items()},
    }


def child_stream(
    scale: float, seed: int, engine: str, workers: int, tile_km: float, *, prepare_only: bool
) -> dict:
    import _synthetic as syn
    import geopandas as gpd
    import pyproj

    from prospector.config import load_config
    from prospector.ranking import ParquetLayers, rank, sort_spatially
    from prospector.schema.commodities import load_vocabulary

    d = syn.ensure(scale, seed, verbose=False)
    sorted_dir = d / "sorted"
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    # One-time preparation, cached ("done-v2": row groups sized by geometry bytes).
    if not (sorted_dir / "done-v2").exists():
        sorted_dir.mkdir(exist_ok=True)
        for name in ("parcels", "deposits", "roads", "withdrawals", "claims"):
            sort_spatially(gpd.read_parquet(d / f"{name}.parquet"), sorted_dir / f"{name}.parquet")
        (sorted_dir / "done-v2").write_text("ok")
        return {"prepare_s": round(time.perf_counter() - t0, 2)}
    if prepare_only:
        return {}
    t00 = time.perf_counter()
    region = _region_data(
        {k: None for k in ("deposits", "withdrawals", "claims", "roads")}
        | {
            "boundary": gpd.read_parquet(d / "boundary.parquet"),
            "parcels": gpd.GeoDataFrame({"parcel_id": []}, geometry=[]),
        }
    ).region
    source = ParquetLayers(
        region=region,
        crs=pyproj.CRS("EPSG:5070"),
        vocabulary=load_vocabulary(2025),
        boundary=gpd.read_parquet(d / "boundary.parquet"),
        paths={
            "parcels": sorted_dir / "parcels.parquet",
            "deposits": sorted_dir / "deposits.parquet",
            "withdrawals": sorted_dir / "withdrawals.parquet",
            "claims": sorted_dir / "claims.parquet",
            "access": sorted_dir / "roads.parquet",
        },
    )
    out = syn.DATA / f"west-stream-F{scale:g}"
    res = rank(
        source,
        load_config(None),
        engine=engine,
        workers=workers,
        tile_km=tile_km,
        out=out,
        timings=stages,
    )
    wall = time.perf_counter() - t00
    return {
        "wall_s": round(wall, 2),
        "n_parcels": res.n_parcels,
        "n_ranked": res.n_ranked,
        "stages": {k: round(v, 2) for k, v in stages.items()},
        "out": str(out),
    }


def child_baseline(scale: float, seed: int) -> dict:
    """What an analyst would write with plain geopandas (no Prospector measurement code)."""
    import _synthetic as syn
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from prospector.config import load_config
    from prospector.schema.commodities import load_vocabulary

    syn.ensure(scale, seed, verbose=False)
    stages: dict[str, float] = {}
    t00 = time.perf_counter()
    d = syn.cache_dir(scale, seed)
    parcels = gpd.read_parquet(d / "parcels.parquet")[["parcel_id", "geometry"]]
    deposits = gpd.read_parquet(d / "deposits.parquet")
    roads = gpd.read_parquet(d / "roads.parquet")
    withdrawals = gpd.read_parquet(d / "withdrawals.parquet")
    claims = gpd.read_parquet(d / "claims.parquet")
    stages["read_s"] = time.perf_counter() - t00
    parcels["area"] = parcels.area

    def covered_frac(polys: gpd.GeoDataFrame) -> pd.Series:
        inter = gpd.overlay(
            parcels[["parcel_id", "geometry"]], polys[["geometry"]], how="intersection"
        )
        inter = inter[inter.area >= 1000.0]  # ignore slivers
        merged = inter.dissolve("parcel_id")  # overlapping polygons counted once
        return (
            (merged.area / parcels.set_index("parcel_id")["area"])
            .reindex(parcels["parcel_id"])
            .fillna(0.0)
            .clip(0, 1)
        )

    t0 = time.perf_counter()
    parcels["withdrawn_frac"] = covered_frac(withdrawals).to_numpy()
    stages["withdrawals_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    parcels["claimed_frac"] = covered_frac(claims[claims["disposition"] == "active"]).to_numpy()
    stages["claims_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    inside = gpd.sjoin(
        deposits[["site_id", "geometry"]], parcels[["parcel_id", "geometry"]], predicate="within"
    )
    parcels["n_deposits"] = (
        parcels["parcel_id"].map(inside.groupby("parcel_id").size()).fillna(0).astype(int)
    )
    # Value: deposit weight (commodity criticality x status) with a 5 km biweight kernel.
    cfg = load_config(None).value
    vocab = load_vocabulary(2025)

    def site_weight(row) -> float:
        best = 0.0
        ncrit = 0
        for c in row.commodities:
            crit = vocab.is_critical(c)
            ncrit += crit
            g = vocab.groups.get(c, "industrial")
            w = (cfg.critical_weight if crit else cfg.noncritical_weight) * cfg.group_weights.get(
                g, 0.0
            )
            best = max(best, w)
        return (
            cfg.status_weights.get(row.dev_status, 0.3)
            * best
            * (1 + min(0.5, cfg.diversity_bonus * max(ncrit - 1, 0)))
        )

    deposits["w"] = deposits.apply(site_weight, axis=1)
    buffered = parcels[["parcel_id", "geometry"]].copy()
    buffered["geometry"] = buffered.buffer(cfg.radius_km * 1000.0)
    near = gpd.sjoin(deposits[["w", "geometry"]], buffered, predicate="within")
    owner = gpd.GeoSeries(
        parcels.set_index("parcel_id").geometry.loc[near["parcel_id"]].to_numpy(),
        index=near.index,
        crs=parcels.crs,
    )
    dist = near.geometry.distance(owner)
    u = np.clip(dist.to_numpy() / (cfg.radius_km * 1000.0), 0, 1)
    near["k"] = near["w"] * (1 - u**2) ** 2
    parcels["value_raw"] = (
        parcels["parcel_id"].map(near.groupby("parcel_id")["k"].sum()).fillna(0.0)
    )
    stages["deposits_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    nearest = gpd.sjoin_nearest(
        parcels[["parcel_id", "geometry"]], roads[["geometry"]], distance_col="d"
    )
    parcels["dist_road_km"] = parcels["parcel_id"].map(
        nearest.groupby("parcel_id")["d"].min() / 1000.0
    )
    stages["roads_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    v = np.log1p(parcels["value_raw"])
    value = (v - v.min()) / (v.max() - v.min())
    road = np.exp(-parcels["dist_road_km"] / 5.0)
    road = (road - road.min()) / (road.max() - road.min())
    w_value, w_road = 0.6, 0.25 * 0.5 / (0.5 + 0.3 + 0.2)
    parcels["score"] = (w_value * value + w_road * road) / (w_value + w_road)
    closed = parcels["withdrawn_frac"] >= 0.999
    parcels["rank"] = parcels["score"].where(~closed).rank(ascending=False, method="first")
    stages["score_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    parcels.to_parquet(syn.DATA / f"west-baseline-F{scale:g}.parquet")
    stages["write_s"] = time.perf_counter() - t0
    wall = time.perf_counter() - t00
    ids = _sample_ids(2000, parcels["parcel_id"].to_numpy())
    parcels.set_index("parcel_id").loc[ids, [c for c in SAMPLE_COLS[1:]]].reset_index().to_parquet(
        syn.DATA / f"west-sample-baseline-F{scale:g}.parquet"
    )
    return {
        "wall_s": round(wall, 2),
        "n_parcels": len(parcels),
        "stages": {k: round(v, 2) for k, v in stages.items()},
    }


def compare(scale: float) -> dict:
    """Compare Prospector's and the baseline's measurements on the 2,000-parcel sample."""
    import _synthetic as syn
    import numpy as np
    import pandas as pd

    a = pd.read_parquet(syn.DATA / f"west-sample-prospector-F{scale:g}.parquet").set_index(
        "parcel_id"
    )
    b = (
        pd.read_parquet(syn.DATA / f"west-sample-baseline-F{scale:g}.parquet")
        .set_index("parcel_id")
        .loc[a.index]
    )
    out = {"n_sample": len(a)}
    for col in ("withdrawn_frac", "claimed_frac", "value_raw", "dist_road_km"):
        diff = np.abs(a[col].astype(float) - b[col].astype(float))
        out[f"max_abs_diff_{col}"] = float(np.nanmax(diff.to_numpy()))
    out["n_deposits_equal"] = bool(
        (a["n_deposits"].astype(int) == b["n_deposits"].astype(int)).all()
    )
    ra, rb = a["score"].rank(), b["score"].rank()
    out["score_spearman"] = float(np.corrcoef(ra, rb)[0, 1])
    return out


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description="West-scale ranking benchmark (SYNTHETIC data)")
    ap.add_argument(
        "--scale",
        type=float,
        action="append",
        help="scale factor F (repeatable); default 0.25 and 1",
    )
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--engine", default="memory", choices=["memory", "local", "dask"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tile-km", type=float, default=150.0)
    ap.add_argument(
        "--stream", action="store_true", help="bounded-memory streaming run (layers on disk)"
    )
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child", choices=["prospector", "stream", "baseline"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    scales = args.scale or [0.25, 1.0]
    if args.child:
        f = scales[0]
        if args.child == "prospector":
            res = child_prospector(f, args.seed, args.engine, args.workers, args.tile_km)
        elif args.child == "stream":
            res = child_stream(
                f, args.seed, args.engine, args.workers, args.tile_km, prepare_only=args.prepare
            )
        else:
            res = child_baseline(f, args.seed)
        print(json.dumps(res))
        return

    import _synthetic as syn

    if args.stream and args.engine == "memory":
        args.engine = "local"  # the streamed run is partitioned by nature
    rows = []
    for f in scales:
        syn.ensure(f, args.seed)
        common = [
            "--scale",
            str(f),
            "--seed",
            str(args.seed),
            "--engine",
            args.engine,
            "--workers",
            str(args.workers),
            "--tile-km",
            str(args.tile_km),
        ]
        mode = "stream" if args.stream else "prospector"
        prep = None
        if args.stream:  # the one-time spatial sort (cached) is not part of the timed run
            prep = run_child(["--child", "stream", "--prepare", *common])
            prep = prep if "prepare_s" in prep else None
        p = run_child(["--child", mode, *common])
        record = {
            "benchmark": "west",
            "data": "SYNTHETIC (benchmarks/_synthetic.py); not real land",
            "scale": f,
            "seed": args.seed,
            "mode": mode,
            "engine": args.engine,
            "workers": args.workers,
            "tile_km": args.tile_km,
            "n_parcels": p["n_parcels"],
            "n_ranked": p["n_ranked"],
            "wall_s": p["wall_s"],
            "process_wall_s": p["process_wall_s"],
            "peak_rss_mb": p["peak_rss_mb"],
            "peak_pss_mb": p["peak_pss_mb"],
            "stages": p["stages"],
            "counts": syn.counts(f),
            "prepare": prep,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
        }
        if not args.no_baseline:
            b = run_child(["--child", "baseline", *common])
            record.update(
                baseline_wall_s=b["wall_s"],
                baseline_peak_rss_mb=b["peak_rss_mb"],
                baseline_peak_pss_mb=b["peak_pss_mb"],
                baseline_stages=b["stages"],
                speedup=round(b["wall_s"] / p["wall_s"], 2),
            )
            if mode == "prospector":
                record["agreement"] = compare(f)
        RESULTS.mkdir(exist_ok=True)
        # west-F.json: the default (in-memory rank()); other engines/modes get a suffix.
        if args.stream:
            suffix = "-stream" if args.engine == "local" else f"-{args.engine}-stream"
        else:
            suffix = "" if args.engine == "memory" else f"-{args.engine}"
        name = f"west-{f:g}{suffix}.json"
        (RESULTS / name).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        rows.append(record)
        print(json.dumps(record, indent=2))
    print(
        "\n| F | parcels | mode | wall s | peak RSS MB | baseline s | baseline RSS MB | speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['scale']:g} | {r['n_parcels']:,} | {r['mode']} | {r['wall_s']} | {r['peak_rss_mb']} | "
            f"{r.get('baseline_wall_s', '–')} | {r.get('baseline_peak_rss_mb', '–')} | {r.get('speedup', '–')} |"
        )


if __name__ == "__main__":
    main()
