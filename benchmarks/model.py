"""Benchmark: fit and predict the prospectivity model on 1M parcels (SYNTHETIC).

    python benchmarks/model.py [--parcels 1000000] [--sites 30000] [--features 12] [--threads 2]

All inputs are SYNTHETIC and labelled so: a square grid of parcels with ``--features`` smooth
random evidence fields (a third of them covering only part of the grid, NaN elsewhere, as
a partial geophysics survey would), and known sites drawn with a probability that rises
with two of the fields.  The timed part: dealing 25 km blocks into 5 folds, the full
model and 5 fold models (:func:`~prospector.analysis.model.fit_prospectivity`) and the
prediction of every parcel with its band and TreeSHAP contributions
(:func:`~prospector.analysis.model.predict_prospectivity`).  Prints timings and peak RSS
and writes benchmarks/results/model.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import geopandas as gpd
import lightgbm as lgb
import numpy as np
import pandas as pd
import shapely
from scipy.ndimage import gaussian_filter

from prospector.analysis.model import fit_prospectivity, predict_prospectivity
from prospector.config import load_config

MILE = 1609.344


def parcel_blocks(parcels: gpd.GeoDataFrame, *, block_km: float, n_folds: int, seed: int):
    """Fold of every parcel: square blocks of *block_km* (centroids) dealt into folds."""
    centre = parcels.geometry.centroid
    xy = np.c_[centre.x.to_numpy(), centre.y.to_numpy()] // (block_km * 1000.0)
    blocks, inverse = np.unique(xy.astype(np.int64), axis=0, return_inverse=True)
    fold_of_block = np.empty(len(blocks), dtype=np.int64)
    rng = np.random.default_rng(seed)
    fold_of_block[rng.permutation(len(blocks))] = np.arange(len(blocks)) % n_folds
    return fold_of_block[inverse.reshape(-1)]


def synthetic(n: int, n_sites: int, n_features: int, seed: int = 0):
    """SYNTHETIC parcels, evidence fields and site counts."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    rows, cols = np.divmod(np.arange(n), side)
    fields = {}
    for j in range(n_features):
        f = gaussian_filter(rng.normal(size=(side, side)), sigma=8.0)[rows, cols]
        f = (f - f.min()) / (f.max() - f.min())
        if j % 3 == 2:  # a partial survey: covers the western 45 %
            f = np.where(cols < 0.45 * side, f, np.nan)
        fields[f"ev_synthetic{j}_mean"] = f
    features = pd.DataFrame(fields)
    logit = 3.0 * features.iloc[:, 0] - 2.0 * features.iloc[:, 1]
    p = np.exp(logit.to_numpy())
    sites = rng.choice(n, size=n_sites, p=p / p.sum())
    positive = np.bincount(sites, minlength=n)
    x0, y0 = -2_000_000.0, 1_200_000.0
    parcels = gpd.GeoDataFrame(
        {"parcel_id": np.char.add("SYN", np.arange(n).astype(str))},
        geometry=shapely.box(
            x0 + cols * MILE, y0 + rows * MILE, x0 + (cols + 1) * MILE, y0 + (rows + 1) * MILE
        ),
        crs="EPSG:5070",
    )
    return parcels, features, positive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=30_000)
    parser.add_argument("--features", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    t0 = time.perf_counter()
    parcels, features, positive = synthetic(args.parcels, args.sites, args.features)
    make_s = time.perf_counter() - t0
    config = load_config(None)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    blocks = parcel_blocks(parcels, block_km=25.0, n_folds=5, seed=config.seed)
    timings["blocks_s"] = time.perf_counter() - start
    t = time.perf_counter()
    model = fit_prospectivity(
        features, positive, key=parcels["parcel_id"].to_numpy(), config=config.model,
        seed=config.seed, blocks=blocks, threads=args.threads,
    )  # fmt: skip
    timings["fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out = predict_prospectivity(model, features, threads=args.threads)
    timings["predict_s"] = time.perf_counter() - t
    timings["total_s"] = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    result = {
        "data": "SYNTHETIC",
        "parcels": args.parcels,
        "sites": args.sites,
        "positive_parcels": int((positive > 0).sum()),
        "features": args.features,
        "threads": args.threads,
        "lightgbm": lgb.__version__,
        "make_data_s": round(make_s, 2),
        **{k: round(v, 2) for k, v in timings.items()},
        "peak_rss_gb": round(peak_gb, 2),
        "shap_columns": int(out.columns.str.startswith("shap_").sum()),
    }
    print(json.dumps(result, indent=2))
    path = Path(__file__).parent / "results" / "model.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
