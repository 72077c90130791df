"""The offline map in a real headless Chromium: no network, no errors, drawn and clickable."""

from __future__ import annotations

from pathlib import Path

import pytest

from prospector.render._demo import HOSTILE
from tests.browser import BROWSER_MARKS, open_page

ARTIFACTS = Path(__file__).parents[1] / "out" / "test-artifacts"
DETAIL_LIMIT = 20  # the demo_map fixture's (conftest.py)

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def map_file(demo_map) -> Path:
    return demo_map


@pytest.fixture
def page(browser, map_file):
    pg = open_page(browser, map_file.as_uri(), offline=False, timeout_ms=15_000)
    yield pg
    pg.context.close()


def external(requests: list[str]) -> list[str]:
    return [u for u in requests if not u.startswith(("file://", "data:", "blob:"))]


def test_loads_offline_without_errors(page):
    log = page.log
    assert log.errors == []
    assert external(log.requests) == []
    assert log.requests and log.requests[0].startswith("file://")
    assert page.evaluate("window.prospector.detailCount") == DETAIL_LIMIT
    drawn = page.evaluate("window.prospector.layers.parcels.getLayers().length")
    assert drawn == DETAIL_LIMIT
    assert page.evaluate("window.prospector.depositMarkers.length") == 40
    assert page.locator("#pm-legend").is_visible()
    assert "score (combined)" in page.locator("#pm-legend").inner_text().lower()
    assert "2 layers missing" in page.locator("#pm-header").inner_text()
    # The score choropleth is painted: the best parcel's pixels have the top class colour.
    painted = page.evaluate(
        """() => {
        const live = window.prospector.live, c = document.querySelector('canvas.pm-raster');
        const row = live.topRows(1)[0];
        const p = live.pixels.indexOf(row + 1);
        const px = c.getContext('2d').getImageData(p % c.width, Math.floor(p / c.width), 1, 1).data;
        return [c.width > 0, Array.from(px)];
    }"""
    )
    assert painted == [True, [0xFD, 0xE7, 0x25, 255]]
    page.wait_for_timeout(600)  # let marker-cluster animations settle
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map.png"))


def test_click_parcel_opens_popup_with_rank(page):
    xy = page.evaluate(
        """() => {
        const api = window.prospector;
        const layer = api.layers.parcels.getLayers().find(l => l.feature.properties.rank === 1);
        const pt = api.map.latLngToContainerPoint(layer.getCenter());
        const box = api.map.getContainer().getBoundingClientRect();
        return [box.left + pt.x, box.top + pt.y, layer.feature.properties.parcel_id];
    }"""
    )
    page.mouse.click(xy[0], xy[1])
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    text = popup.inner_text()
    assert f"Parcel {xy[2]}" in text
    assert "Rank 1 of 48" in text
    assert "contribution to the score" in text.lower()
    assert page.log.errors == []


def test_hostile_names_show_as_text(page):
    page.evaluate("void window.prospector.byId['hostile'].openPopup()")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    assert HOSTILE in popup.inner_text()
    found = page.evaluate(f"window.prospector.search({HOSTILE!r})")
    assert found["kind"] == "deposit"
    page.wait_for_function(
        "[...document.querySelectorAll('.leaflet-popup-content h3')]"
        ".some(h => h.textContent.includes('onerror'))",
        timeout=5000,
    )
    assert HOSTILE in page.locator("#pm-header").inner_text()
    page.wait_for_timeout(300)
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.log.dialogs == []
    assert page.log.errors == []


def test_search_parcel_ids(page):
    found = page.evaluate("window.prospector.search('hostile')")
    assert found == {"found": True, "kind": "parcel", "detailed": True, "message": "Parcel hostile"}
    outside = page.evaluate(
        """() => {
        const idx = window.prospector.data.index;
        const id = idx.id.find(i => !(i in window.prospector.byId));
        return window.prospector.search(id);
    }"""
    )
    assert outside["found"] and outside["detailed"] is False
    assert "not in the detailed set" in outside["message"]
    missing = page.evaluate("window.prospector.search('no-such-parcel')")
    assert missing["found"] is False


def test_switch_to_land_status(page):
    page.locator(".leaflet-control-layers").hover()  # the control opens on hover
    page.get_by_text("Land status", exact=True).click()
    legend = page.locator("#pm-legend").inner_text().lower()
    assert "land status" in legend and "open to mineral entry" in legend
    assert page.evaluate("window.prospector.activeChoropleth") == "land_status"


def test_draw_area_of_interest(page):
    page.evaluate("window.prospector.tools.start('aoi')")
    box = page.evaluate(
        "(() => { const r = window.prospector.map.getContainer().getBoundingClientRect();"
        " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
    )
    for dx, dy in ((-100, -60), (80, -70), (60, 90)):
        page.mouse.click(box[0] + dx, box[1] + dy)
        page.wait_for_timeout(350)  # not a double click
    page.evaluate("window.prospector.tools.finish()")
    aoi = page.evaluate("window.prospector.aoi")
    ring = aoi["features"][0]["geometry"]["coordinates"][0]
    assert len(ring) == 4 and ring[0] == ring[-1]
    assert aoi["features"][0]["properties"]["area_km2"] > 0
    assert external(page.log.requests) == []


# ---------------------------------------------------------------- a real ranking of the sample


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> Path:
    """`prospector rank` of the embedded Utah sample at 10 km cells, map included."""
    from click.testing import CliRunner

    from prospector.cli.main import cli

    out = tmp_path_factory.mktemp("sample-run")
    config = out / "ten-km.toml"
    config.write_text("[parcels]\ncell_m = 10000.0\n")
    result = CliRunner().invoke(
        cli,
        ["rank", "--region", "utah-sample", "--out", str(out / "run"), "--config", str(config)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return out / "run"


@pytest.fixture
def sample_page(browser, sample_run):
    pg = open_page(
        browser, (sample_run / "prospects.html").as_uri(), offline=False, timeout_ms=30_000
    )
    yield pg
    pg.context.close()


def test_real_ranking_drawn_as_in_the_geopackage(sample_page, sample_run):
    import geopandas as gpd
    import numpy as np

    gpkg = sample_run / "prospects.gpkg"
    ranked = gpd.read_file(gpkg, layer="parcels").to_crs("EPSG:4326")
    deposits = gpd.read_file(gpkg, layer="deposits").to_crs("EPSG:4326")
    page = sample_page
    assert page.log.errors == []
    assert external(page.log.requests) == []
    # Fewer ranked parcels than the detail limit (5000): every one is drawn as a vector.
    assert 0 < len(ranked) < 5000
    assert page.evaluate("window.prospector.detailCount") == len(ranked)
    drawn = page.evaluate(
        """() => window.prospector.layers.parcels.getLayers().map(l => {
            const b = l.getBounds();
            return [String(l.feature.properties.parcel_id), l.feature.properties.rank,
                    b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
        })"""
    )
    by_id = {row[0]: row for row in drawn}
    assert set(by_id) == set(ranked["parcel_id"])
    table = ranked.set_index("parcel_id")
    assert all(by_id[pid][1] == int(r) for pid, r in table["rank"].items())
    # Each outline covers its GeoPackage geometry (lon/lat quantised to 5 decimals ≈ 1 m).
    got = np.array([by_id[pid][2:] for pid in table.index], dtype=float)
    np.testing.assert_allclose(got, table.geometry.bounds.to_numpy(), atol=1.5e-5)
    # Every site of the run is a marker, at its place.
    markers = page.evaluate(
        "window.prospector.depositMarkers.map(m => [m.getLatLng().lng, m.getLatLng().lat])"
    )
    assert len(markers) == len(deposits)
    np.testing.assert_allclose(
        np.sort(np.array(markers), axis=0),
        np.sort(np.c_[deposits.geometry.x, deposits.geometry.y], axis=0),
        atol=1.5e-5,
    )
    # The rank-1 parcel's popup says what the GeoPackage says.
    top = ranked.loc[ranked["rank"] == 1].iloc[0]
    page.evaluate(f"void window.prospector.byId[{top['parcel_id']!r}].openPopup()")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(timeout=5000)
    text = popup.inner_text()
    assert f"Parcel {top['parcel_id']}" in text
    assert f"Rank 1 of {len(ranked)}" in text.replace("\n", " ")
    assert top["why"] in text
    assert page.log.errors == []
