"""Live re-weighting in headless Chromium: the page ranks exactly as Python does.

Expected ranks come from Python's own scoring (``global_scores`` on the run's measured
parcels with another configuration, which is what ``prospector rank --config`` runs),
never from the page.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from prospector.analysis.criteria import criterion_shares
from prospector.analysis.score import combine, effective_weights, rank_scores
from prospector.config import Config
from prospector.ranking import global_scores
from prospector.ranking.outputs import map_scoring
from prospector.render import Scoring, build_map, write_map
from prospector.render._demo import HOSTILE, demo_layers
from tests.browser import BROWSER_MARKS, open_page

pytestmark = BROWSER_MARKS

#: Family weights (and access shares) to compare; the run's own come first.
WEIGHT_SETS = [
    None,
    ({"value": 1.0, "access": 0.0, "evidence": 0.0}, None),
    ({"value": 0.2, "access": 0.5, "evidence": 0.3}, None),
    ({"value": 0.0, "access": 1.0, "evidence": 0.0}, None),  # many ties: parcel ids decide
    ({"value": 0.45, "access": 0.1, "evidence": 0.45}, {"rail": 0.9, "road": 0.1}),
]


def open_map(browser, path: Path, *, hash_: str = ""):
    """The map at *path*, offline (every request but the page's own blocked), ready."""
    return open_page(browser, path.as_uri() + hash_)


@pytest.fixture(scope="module")
def utah_map(utah_result, tmp_path_factory) -> Path:
    scoring = map_scoring(utah_result)
    m = build_map(
        utah_result.parcels, deposits=utah_result.deposits, scoring=scoring, detail_limit=200
    )
    return write_map(m, tmp_path_factory.mktemp("live") / "prospects.html")


def python_top(result, weights, access=None, n=100) -> list[str]:
    """Top *n* parcel ids by Python's scoring with those weights (as `rank --config`)."""
    config = copy.deepcopy(result.config)
    if weights is not None:
        config.score.weights = dict(weights)
    if access:
        config.score.access_weights = {**config.score.access_weights, **access}
    scores, *_ = global_scores(result.all_parcels, config, have=result.available)
    ranked = scores["rank"].to_numpy(dtype=float, na_value=np.nan)
    ids = result.all_parcels["parcel_id"].to_numpy()
    keep = np.flatnonzero(ranked <= n)
    return [str(v) for v in ids[keep[np.argsort(ranked[keep])]]]


def test_top100_equals_python_for_several_weight_sets(browser, utah_map, utah_result):
    page = open_map(browser, utah_map)
    assert page.evaluate("window.prospector.weights()") == utah_result.config.score.weights
    assert page.evaluate("window.prospector.topIds(100)") == [
        str(v) for v in utah_result.parcels["parcel_id"].iloc[:100]
    ]
    for entry in WEIGHT_SETS[1:]:
        weights, access = entry
        subs = {f"access_{k}": v for k, v in (access or {}).items()}
        ms = page.evaluate("([w, s]) => window.prospector.setWeights(w, s)", [weights, subs])
        assert isinstance(ms, (int, float)) and ms >= 0
        assert page.evaluate("window.prospector.weights()") == weights
        expected = python_top(utah_result, weights, access)
        assert page.evaluate("window.prospector.topIds(100)") == expected, weights
    # Reset gives the run's ranking back.
    page.evaluate("window.prospector.resetWeights()")
    assert page.evaluate("window.prospector.topIds(10)") == [
        str(v) for v in utah_result.parcels["parcel_id"].iloc[:10]
    ]
    assert page.log.errors == []
    assert [u for u in page.log.requests if not u.startswith(("file:", "data:", "blob:"))] == []


def test_weights_travel_in_the_url_hash(browser, utah_map, utah_result):
    page = open_map(browser, utah_map)
    weights = {"value": 0.2, "access": 0.5, "evidence": 0.3}
    page.evaluate("(w) => window.prospector.setWeights(w)", weights)
    url = page.url
    assert "#weights=value:0.2,access:0.5,evidence:0.3" in url
    top = page.evaluate("window.prospector.topIds(20)")
    # A fresh page opened on that link starts with those weights and that order.
    again = open_map(browser, utah_map, hash_=url[url.index("#") :])
    assert again.evaluate("window.prospector.weights()") == weights
    assert (
        again.evaluate("window.prospector.topIds(20)")
        == top
        == python_top(utah_result, weights, n=20)
    )
    # The sliders show the weights; the reset button restores the run's.
    assert again.locator('input[data-key="access"]').input_value() == "0.5"
    again.locator("#pm-reset").click()
    assert again.evaluate("window.prospector.weights()") == utah_result.config.score.weights
    assert "#" not in again.url
    assert again.log.errors == [] and page.log.errors == []


def test_slider_moves_rerank_and_missing_criteria_are_disabled(browser, utah_map):
    page = open_map(browser, utah_map)
    # The sample has no road or power layer: their sliders are disabled, with the reason.
    assert page.locator('input[data-key="access_road"]').is_disabled()
    assert page.locator('input[data-key="access_power"]').is_disabled()
    assert not page.locator('input[data-key="access_rail"]').is_disabled()
    assert "no road layer" in page.locator("#pm-live").inner_text()
    before = page.evaluate("window.prospector.topIds(5)")
    page.locator('input[data-key="value"]').fill("0")
    page.wait_for_function("window.prospector.weights().value === 0")
    after = page.evaluate("window.prospector.topIds(5)")
    assert after != before
    # The shortlist follows the new order.
    first = page.locator(".pm-targets tbody tr").first.locator(".pm-id").inner_text()
    assert first == after[0]
    assert page.log.errors == []


def test_shortlist_filters_click_and_downloads(browser, utah_map, utah_result):
    page = open_map(browser, utah_map)
    rows = page.evaluate("window.prospector.shortlist()")
    assert [r["parcel_id"] for r in rows] == [
        str(v) for v in utah_result.parcels["parcel_id"].iloc[:25]
    ]
    assert [r["rank"] for r in rows] == list(range(1, 26))
    # Filter by commodity group: every listed parcel holds a deposit of that group.
    page.locator('select[aria-label="Commodity group filter"]').select_option("battery")
    listed = page.evaluate("window.prospector.shortlist()")
    deposits = utah_result.deposits
    battery = set(deposits.loc[deposits["group"] == "battery", "parcel_id"].dropna())
    ranked_battery = utah_result.parcels[utah_result.parcels["parcel_id"].isin(battery)]
    assert [r["parcel_id"] for r in listed] == [
        str(v) for v in ranked_battery["parcel_id"].iloc[:25]
    ]
    assert [r["rank"] for r in listed] == ranked_battery["rank"].iloc[:25].tolist()
    # Click a row: the map flies there and opens that parcel's popup.
    row = page.locator(".pm-targets tbody tr").nth(2)
    pid = row.locator(".pm-id").inner_text()
    row.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    assert f"Parcel {pid}" in popup.inner_text()
    # Downloads: CSV and GeoJSON of the current list, made in the page.
    with page.expect_download() as info:
        page.get_by_text("Download CSV").click()
    csv_text = Path(info.value.path()).read_text(encoding="utf-8")
    table = pd.read_csv(io.StringIO(csv_text), dtype={"parcel_id": str})
    assert table["parcel_id"].tolist() == [r["parcel_id"] for r in listed]
    assert table["rank"].tolist() == [r["rank"] for r in listed]
    with page.expect_download() as info:
        page.get_by_text("Download GeoJSON").click()
    gj = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert [f["properties"]["parcel_id"] for f in gj["features"]] == table["parcel_id"].tolist()
    assert gj["properties"]["weights"] == utah_result.config.score.weights
    assert page.log.errors == []


# ---------- methods and hostile text on the small synthetic demo ----------


def demo_scoring(parcels: pd.DataFrame, method: str) -> tuple[Scoring, pd.DataFrame]:
    """Synthetic criteria (SYNTHETIC, random) for the demo grid, plus an excluded parcel."""
    rng = np.random.default_rng(5)
    ids = [*parcels["parcel_id"], "excluded-1"]
    criteria = pd.DataFrame(
        {
            "value": rng.random(len(ids)),
            "access_road": rng.random(len(ids)),
            "access_rail": np.round(rng.random(len(ids)), 1),  # ties
            "evidence_fault": rng.random(len(ids)),
        },
        index=pd.Index(ids),
    )
    config = Config()
    config.score.method = method  # type: ignore[assignment]
    shares = criterion_shares(list(criteria.columns), config)
    scoring = Scoring(
        criteria=criteria,
        family_weights=dict(config.score.weights),
        shares=shares,
        available=dict.fromkeys(criteria.columns, True),
        method=method,
        gamma=config.score.gamma,
    )
    return scoring, criteria


def python_order(criteria, shares, family, method, gamma, ranked_ids) -> list[str]:
    configured = {c: family.get(f, 0.0) * num / den for c, (f, num, den) in shares.items()}
    weights = effective_weights(configured, dict.fromkeys(configured, True))
    score, _ = combine(criteria, weights.effective, method=method, gamma=gamma)
    eligible = pd.Series(criteria.index.isin(ranked_ids), index=criteria.index)
    ranks = rank_scores(score, pd.Series(criteria.index, index=criteria.index), eligible=eligible)
    ranks = ranks.dropna().astype(int).sort_values()
    return [str(i) for i in ranks.index]


@pytest.mark.parametrize("method", ["wlc", "gamma", "topsis"])
def test_methods_rank_as_python(browser, tmp_path, method):
    demo = demo_layers(hostile=True)
    parcels = demo["parcels"]
    scoring, criteria = demo_scoring(parcels, method)
    m = build_map(parcels, deposits=demo["deposits"], scoring=scoring, detail_limit=10)
    page = open_map(browser, write_map(m, tmp_path / "m.html"))
    ids = list(parcels["parcel_id"])
    for family in (
        {"value": 0.6, "access": 0.25, "evidence": 0.15},
        {"value": 0.1, "access": 0.8, "evidence": 0.1},
    ):
        page.evaluate("(w) => window.prospector.setWeights(w)", family)
        expected = python_order(criteria, scoring.shares, family, method, scoring.gamma, ids)
        assert page.evaluate(f"window.prospector.topIds({len(ids)})") == expected
    assert page.log.errors == []


def test_hostile_text_in_shortlist_stays_text(browser, tmp_path):
    demo = demo_layers(hostile=True)
    parcels = demo["parcels"].copy()
    parcels.loc[parcels["rank"] == 1, "parcel_id"] = HOSTILE
    parcels.loc[parcels["rank"] == 1, "critical_commodities"] = '=HYPERLINK("x")'
    scoring, _ = demo_scoring(parcels, "wlc")
    m = build_map(parcels, deposits=demo["deposits"], scoring=scoring, detail_limit=10)
    page = open_map(browser, write_map(m, tmp_path / "m.html"))
    page.evaluate("window.prospector.setWeights({value: 0, access: 0, evidence: 1})")
    page.locator('select[aria-label="Number of targets"]').select_option("100")
    assert HOSTILE in page.locator("#pm-live").inner_text()
    page.evaluate("window.prospector.panel.render()")
    row = page.locator(".pm-targets tbody tr", has_text="onerror")
    row.click()
    page.locator(".leaflet-popup-content").wait_for(timeout=5000)
    assert HOSTILE in page.locator(".leaflet-popup-content").inner_text()
    with page.expect_download() as info:
        page.get_by_text("Download CSV").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text  # spreadsheet formulas neutralised
    page.wait_for_timeout(300)
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.log.dialogs == [] and page.log.errors == []


def test_shortlist_switches_to_targets(browser, tmp_path):
    demo = demo_layers(hostile=True)
    parcels = demo["parcels"]
    best = parcels.sort_values("rank").iloc[:3]
    targets = gpd.GeoDataFrame(
        {
            "target_id": ["T0001", "T0002"],
            "rank": [1, 2],
            "n_cells": [2, 1],
            "area_km2": [5.18, 2.59],
            "best_score": best["score"].iloc[[0, 2]].to_numpy(),
            "best_parcel_id": best["parcel_id"].iloc[[0, 2]].to_numpy(),
            "status_mix": ["open", "unknown"],
            "critical_commodities": [HOSTILE, ""],
        },
        geometry=[best.geometry.iloc[0].union(best.geometry.iloc[1]), best.geometry.iloc[2]],
        crs=parcels.crs,
    )
    scoring, _ = demo_scoring(parcels, "wlc")
    m = build_map(parcels, scoring=scoring, targets=targets, detail_limit=5)
    page = open_map(browser, write_map(m, tmp_path / "m.html"))
    page.locator('select[aria-label="Cells or targets"]').select_option("targets")
    rows = page.evaluate("window.prospector.shortlist()")
    assert [r["target_id"] for r in rows] == ["T0001", "T0002"]
    assert [r["rank"] for r in rows] == [1, 2]
    page.locator(".pm-targets tbody tr").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    assert "Target T0001" in popup.inner_text() and HOSTILE in popup.inner_text()
    assert page.log.dialogs == [] and page.log.errors == []


def test_bucket_ordering_equals_a_full_sort(browser, tmp_path):
    """The page's one-pass ordering against a plain comparator sort (ties, NaN, out of [0, 1])."""
    demo = demo_layers(hostile=True)
    page = open_map(browser, write_map(build_map(demo["parcels"]), tmp_path / "m.html"))
    mismatches = page.evaluate(
        """() => {
        const n = 5000, vals = new Float64Array(n), ids = new Uint32Array(n);
        let seed = 7;
        const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
        for (let i = 0; i < n; i++) {
            const r = rnd();
            vals[i] = r < 0.3 ? 0 : r < 0.35 ? NaN : r < 0.4 ? 1.5 : Math.round(rnd() * 50) / 50;
            ids[i] = (i * 7919) % n;  // a permutation: distinct id positions
        }
        const ord = new ProspectorScore.Ordering(vals, ids);
        const rows = [...Array(n).keys()].filter(i => vals[i] === vals[i]);
        rows.sort((a, b) => vals[b] - vals[a] || ids[a] - ids[b]);
        const bad = [];
        rows.forEach((r, k) => { if (ord.rankOf(r) !== k + 1) bad.push(['rank', r]); });
        for (const k of [1, 7, 50, 1499, 1500, 1501, rows.length]) {
            const top = ord.top(k);
            if (JSON.stringify(top) !== JSON.stringify(rows.slice(0, k))) bad.push(['top', k]);
        }
        if (ord.valueAt(0) !== vals[rows[rows.length - 1]]) bad.push(['min']);
        return bad;
    }"""
    )
    assert mismatches == []
