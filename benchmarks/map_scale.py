"""Map scale benchmark: HTML size and time-to-ready in headless Chromium.

SYNTHETIC DATA: square-mile grid parcels in EPSG:5070 (near Zion, Utah) with random
scores and statuses (``prospector.render._demo.grid_parcels``) and seven random
normalised criteria for live re-weighting; they say nothing about real land.  For each
size the map is built with the default ``detail_limit`` (5000) and the criteria
(:class:`prospector.render.Scoring`), written as one self-contained HTML file and
opened from ``file://`` in Debian's Chromium through Playwright with every other
request aborted; "ready" is when the page's ``window.prospector.ready`` turns true
(all layers built, the parcel-index image decoded and the score choropleth painted).
"re-rank" is what ``window.prospector.setWeights`` reports: re-score, re-rank and
repaint every parcel and refresh the shortlist (median of 9 weight sets).

Usage::

    python benchmarks/map_scale.py            # 10k, 50k, 200k parcels
    python benchmarks/map_scale.py 10000      # chosen sizes

Writes ``benchmarks/results/map-<n>.json`` and prints a Markdown table.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from playwright.sync_api import sync_playwright

from prospector.analysis.criteria import criterion_shares
from prospector.config import load_config
from prospector.render import Scoring, build_map, write_map
from prospector.render._demo import grid_parcels

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the headless-browser helpers
from tests.browser import launch, new_context

RESULTS = Path(__file__).parent / "results"
RUNS = 3
CRITERIA = ("value", "access_road", "access_rail", "access_power", "terrain", "travel",
            "evidence_fault")  # fmt: skip


def synthetic_scoring(parcels: pd.DataFrame, seed: int) -> Scoring:
    """SYNTHETIC random criteria for *parcels* (travel unavailable, as without a DEM)."""
    rng = np.random.default_rng(seed)
    criteria = pd.DataFrame(
        {name: rng.random(len(parcels)) for name in CRITERIA},
        index=parcels["parcel_id"].to_numpy(),
    )
    config = load_config({})
    return Scoring(
        criteria=criteria,
        family_weights=dict(config.score.weights),
        shares=criterion_shares(list(CRITERIA), config),
        available={name: name != "travel" for name in CRITERIA},
        reasons={"travel": "no travel cost (synthetic)"},
    )


def bench(n: int, workdir: Path) -> dict:
    side = math.ceil(math.sqrt(n))
    parcels = grid_parcels(side, math.ceil(n / side), seed=n).iloc[:n]
    t0 = time.perf_counter()
    m = build_map(parcels, scoring=synthetic_scoring(parcels, n))
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    path = write_map(m, workdir / f"map-{n}.html", overwrite=True)
    write_s = time.perf_counter() - t0
    ready, rerank, requests, errors, phases = [], [], [], [], []
    rng = np.random.default_rng(1)
    with sync_playwright() as pw:
        browser = launch(pw)
        for run in range(RUNS):
            context = new_context(browser)
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            t0 = time.perf_counter()
            page.goto(path.as_uri(), wait_until="commit")
            page.wait_for_function("window.prospector && window.prospector.ready", timeout=120_000)
            ready.append(time.perf_counter() - t0)
            if run == 0:
                for _ in range(9):
                    w = dict(
                        zip(
                            ("value", "access", "evidence"),
                            rng.random(3).round(3).tolist(),
                            strict=True,
                        )
                    )
                    rerank.append(page.evaluate("(w) => window.prospector.setWeights(w)", w))
                    phases.append(page.evaluate("window.prospector.live.timings"))
            context.close()
        browser.close()
    external = [u for u in requests if not u.startswith(("file://", "data:", "blob:"))]
    return {
        "benchmark": "map_scale",
        "data": "synthetic square-mile grid parcels, EPSG:5070, random scores",
        "n_parcels": n,
        "detail_limit": 5000,
        "html_mb": round(path.stat().st_size / 1e6, 2),
        "build_s": round(build_s, 2),
        "write_s": round(write_s, 2),
        "ready_s_median": round(sorted(ready)[len(ready) // 2], 2),
        "ready_s_runs": [round(r, 2) for r in ready],
        "rerank_ms_median": round(sorted(rerank)[len(rerank) // 2], 1),
        "rerank_ms_runs": [round(r, 1) for r in rerank],
        "rerank_phases_ms_median": {
            k: round(sorted(p[k] for p in phases)[len(phases) // 2], 1) for k in phases[0]
        },
        "load_average_1min": round(os.getloadavg()[0], 1),
        "external_requests": len(external),
        "page_errors": errors,
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [10_000, 50_000, 200_000]
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            result = bench(n, Path(tmp))
            (RESULTS / f"map-{n}.json").write_text(json.dumps(result, indent=2) + "\n")
            rows.append(result)
            print(f"{n}: {result}", file=sys.stderr)
    print(
        "| parcels (synthetic) | HTML size | build + write "
        "| ready in Chromium (median of 3) | re-rank (median of 9) | external requests |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['n_parcels']:,} | {r['html_mb']} MB | {r['build_s'] + r['write_s']:.1f} s "
            f"| {r['ready_s_median']} s | {r['rerank_ms_median']} ms | {r['external_requests']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
