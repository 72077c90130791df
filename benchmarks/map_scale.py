"""Map scale benchmark: HTML size and time-to-ready in headless Chromium.

SYNTHETIC DATA: square-mile grid parcels in EPSG:5070 (near Zion, Utah) with random
scores and statuses (``prospector.render._demo.grid_parcels``); they say nothing about
real land.  For each size the map is built with the default ``detail_limit`` (5000),
written as one self-contained HTML file and opened from ``file://`` in Debian's
Chromium through Playwright; "ready" is when the page's ``window.prospector.ready``
turns true (all layers built and the score choropleth image decoded and drawn).

Usage::

    python benchmarks/map_scale.py            # 10k, 50k, 200k parcels
    python benchmarks/map_scale.py 10000      # chosen sizes

Writes ``benchmarks/results/map-<n>.json`` and prints a Markdown table.
"""

from __future__ import annotations

import json
import math
import platform
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from prospector.render import build_map, write_map
from prospector.render._demo import grid_parcels

RESULTS = Path(__file__).parent / "results"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
]
RUNS = 3


def bench(n: int, workdir: Path) -> dict:
    side = math.ceil(math.sqrt(n))
    parcels = grid_parcels(side, math.ceil(n / side), seed=n).iloc[:n]
    t0 = time.perf_counter()
    m = build_map(parcels)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    path = write_map(m, workdir / f"map-{n}.html", overwrite=True)
    write_s = time.perf_counter() - t0
    ready, requests, errors = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for _ in range(RUNS):
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            t0 = time.perf_counter()
            page.goto(path.as_uri(), wait_until="commit")
            page.wait_for_function("window.prospector && window.prospector.ready", timeout=60_000)
            ready.append(time.perf_counter() - t0)
            page.close()
        browser.close()
    external = [u for u in requests if not u.startswith(("file://", "data:"))]
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
        "| ready in Chromium (median of 3) | external requests |"
    )
    print("| ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['n_parcels']:,} | {r['html_mb']} MB | {r['build_s'] + r['write_s']:.1f} s "
            f"| {r['ready_s_median']} s | {r['external_requests']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
