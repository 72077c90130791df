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
import os
import resource
import time
from pathlib import Path

import geopandas as gpd
import lightgbm as lgb
import numpy as np
import shapely
from scipy.ndimage import gaussian_filter

from prospector.analysis.prospectivity import run_model
from prospector.config import load_config

MILE = 1609.344


def synthetic(
    n: int, n_sites: int, n_features: int, seed: int = 0
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, np.ndarray]:
    """SYNTHETIC measured parcels, known sites and the position of each site's parcel."""
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
    logit = 3.0 * fields["ev_synthetic0_mean"] - 2.0 * fields["ev_synthetic1_mean"]
    p = np.exp(logit)
    sites = rng.choice(n, size=n_sites, p=p / p.sum())
    x0, y0 = -2_000_000.0, 1_200_000.0
    table = gpd.GeoDataFrame(
        {"parcel_id": np.char.add("SYN", np.arange(n).astype(str)), **fields},
        geometry=shapely.box(
            x0 + cols * MILE, y0 + rows * MILE, x0 + (cols + 1) * MILE, y0 + (rows + 1) * MILE
        ),
        crs="EPSG:5070",
    )
    table["area_km2"] = MILE * MILE / 1e6
    # Each site at its parcel's centre (SYNTHETIC), held by that parcel.
    centre = shapely.centroid(table.geometry.to_numpy()[sites])
    site_frame = gpd.GeoDataFrame(
        {"site_id": np.char.add("SYNSITE", np.arange(n_sites).astype(str))},
        geometry=centre,
        crs="EPSG:5070",
    )
    return table, site_frame, sites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=30_000)
    parser.add_argument("--features", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "model.json"))
    args = parser.parse_args()

    t0 = time.perf_counter()
    table, sites, owner = synthetic(args.parcels, args.sites, args.features)
    make_s = time.perf_counter() - t0
    config = load_config(None)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    timings: dict[str, float] = {}
    start = time.perf_counter()
    out, card = run_model(
        table, sites, owner, np.ones(len(sites), dtype=bool), config,
        threads=args.threads, timings=timings,
    )  # fmt: skip
    total = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    result = {
        "data": "SYNTHETIC",
        "parcels": args.parcels,
        "sites": args.sites,
        "positive_parcels": card["training_parcels_positive"],
        "features": args.features,
        "threads": args.threads,
        "lightgbm": lgb.__version__,
        "make_data_s": round(make_s, 2),
        **{k: round(v, 2) for k, v in timings.items()},
        "total_s": round(total, 2),
        "peak_rss_gb_before_model": round(rss_before, 2),
        "peak_rss_gb": round(peak_gb, 2),
        "shap_parcels": int(out["prospectivity_why"].ne("").sum()),
        "cv_capture_0.1": card["cv"].get("capture", {}).get("0.1"),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
    print(json.dumps(result, indent=2))
    path = Path(args.out)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
