"""Structure of the rendered offline map (no browser): layers, legends, escaping, files."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from PIL import Image

from prospector.errors import OutputExistsError, SchemaError
from prospector.render import build_map, hillshade_from_dem, write_map
from prospector.render._demo import HOSTILE, demo_layers, grid_parcels

DATA_RE = re.compile(
    r'<script type="application/json" id="prospector-data-[^"]+">(.*?)</script>', re.S
)


@pytest.fixture(scope="module")
def demo():
    return demo_layers(hostile=True)


@pytest.fixture(scope="module")
def demo_html(demo_map):
    return demo_map.read_text(encoding="utf-8")


def payload_of(html: str) -> dict:
    found = DATA_RE.findall(html)
    assert len(found) == 1
    return json.loads(found[0])


def test_layers_and_popup_fields_present(demo, demo_html):
    data = payload_of(demo_html)
    keys = [c["key"] for c in data["choropleths"]]
    assert keys == ["score", "land_status", "score_value", "score_access", "score_evidence"]
    assert data["raster"]["image"].startswith("data:image/png;base64,")
    assert "scoring" not in data  # no criteria given: the run's scores, fixed
    assert data["n_parcels"] == len(demo["parcels"]) == 48
    props = data["parcels"]["features"][0]["properties"]
    for field in (
        "parcel_id", "rank", "score", "score_value", "land_status", "status_reason", "agency",
        "dist_rail_km", "dist_road_km", "dist_power_km", "commodities", "why", "deposits",
    ):  # fmt: skip
        assert field in props, field
    assert set(props["contrib"]) == {"value", "access_road", "access_rail", "evidence_fault"}
    assert len(data["deposits"]["lon"]) == 40
    assert data["withdrawals"]["features"][0]["properties"]["kind"] == "wilderness"
    kinds = {f["properties"]["kind"] for f in data["access"]["features"]}
    assert kinds == {"road", "rail", "power"}
    info = data["info"]
    assert info["layers_missing"][0]["role"] == "land"
    assert info["weights"] == {"value": 0.5, "access": 0.3, "evidence": 0.2}
    assert info["manifest"] == "manifest.json" and info["list_year"] == 2022
    assert info["notes"] and info["created"] == "2025-01-31"
    assert data["basemap"] is None
    assert len(data["index"]["id"]) == data["index"]["n"] == 48
    # The page loads our code and starts it on the folium map.
    assert "ProspectorMap.init(" in demo_html and "L.map(" in demo_html


def test_deposits_inside_best_parcel_are_listed(demo_html):
    data = payload_of(demo_html)
    best = next(f for f in data["parcels"]["features"] if f["properties"]["rank"] == 1)
    assert "Synthetic mine 0" in [d["name"] for d in best["properties"]["deposits"]]


def test_no_network_assets(demo_html):
    assert not re.search(r"<script[^>]+src=", demo_html)
    links = re.findall(r"<link[^>]+href=\"([^\"]*)\"", demo_html)
    assert links == ["data:,"]
    assert "cdn.jsdelivr" not in demo_html and "code.jquery.com" not in demo_html
    assert "bootstrap" not in demo_html.lower()
    tags = re.findall(r"<(?:script|link|img|iframe|source|embed)\b[^>]*>", demo_html)
    assert not [t for t in tags if re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", t)]


def test_external_assets_are_relative_and_copied(demo, tmp_path):
    m = build_map(demo["parcels"], detail_limit=5)
    path = write_map(m, tmp_path / "prospects.html", single_file=False)
    html = path.read_text(encoding="utf-8")
    srcs = re.findall(r"<script[^>]+src=\"([^\"]+)\"", html)
    hrefs = re.findall(r"<link rel=\"stylesheet\" href=\"([^\"]+)\"", html)
    assert srcs and hrefs
    for ref in srcs + hrefs:
        assert ref.startswith("prospects_files/")
        assert (tmp_path / ref).is_file()
    assert (tmp_path / "prospects_files" / "LICENSE-leaflet.txt").is_file()
    assert "window.L=" not in html  # Leaflet is linked, not inlined


def test_hostile_text_is_escaped(demo_html):
    assert HOSTILE not in demo_html
    assert "<img" not in demo_html
    data = payload_of(demo_html)
    hostile = next(f for f in data["parcels"]["features"] if f["properties"]["rank"] == 2)
    assert hostile["properties"]["why"] == HOSTILE  # kept as text, decoded by JSON.parse
    assert HOSTILE in data["deposits"]["name"]
    assert data["withdrawals"]["features"][0]["properties"]["name"] == HOSTILE


def test_script_close_in_data_cannot_break_out(demo):
    parcels = demo["parcels"].copy()
    parcels["why"] = "</script><script>alert(1)</script>"
    html = build_map(parcels, detail_limit=3).get_root().render()
    assert "</script><script>alert(1)" not in html
    assert payload_of(html)["parcels"]["features"][0]["properties"]["why"].startswith("</script>")


@pytest.mark.parametrize(
    "text",
    [
        "{{ 7*7 }}",  # was rendered as "49"
        "{% if x %} open",  # was a TemplateSyntaxError: no map at all
        "{# comment",
        "{{ ''.__class__.__mro__ }}",  # template injection from a layer attribute
    ],
)
def test_template_syntax_in_data_is_text(demo, tmp_path, text):
    parcels = demo["parcels"].copy()
    parcels["why"] = text
    deposits = demo["deposits"].copy()
    deposits["name"] = text
    path = write_map(build_map(parcels, deposits=deposits, detail_limit=3), tmp_path / "m.html")
    data = payload_of(path.read_text(encoding="utf-8"))
    assert data["parcels"]["features"][0]["properties"]["why"] == text
    assert set(data["deposits"]["name"]) == {text}


def test_class_schemes_are_rank_percentiles_by_default(demo_html):
    classes = payload_of(demo_html)["classes"]
    assert classes["default"] == "rank"
    assert classes["rank"]["tops"] == [1, 5, 10, 25, 50, 100]
    assert classes["rank"]["colors"][0] == "#fde725"  # best class brightest
    assert classes["rank"]["labels"][0] == "Top 1 %"
    assert classes["quantile"]["k"] == 5
    status_keys = payload_of(demo_html)["index"]["status_keys"]
    assert status_keys == [
        "open",
        "partly_open",
        "restricted",
        "verify_boundary",
        "closed",
        "unknown",
    ]


def test_index_raster_is_aligned(demo_html, demo):
    data = payload_of(demo_html)
    raster = data["raster"]
    img = Image.open(io.BytesIO(base64.b64decode(raster["image"].split(",", 1)[1])))
    assert img.mode == "RGB"
    pixels = np.asarray(img).astype("int64")
    index = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    west, south, east, north = raster["bounds"]
    parcels = demo["parcels"]
    x0, y0 = _merc(west, north)
    x1, y1 = _merc(east, south)
    for rank in (1, 2, 48):
        centre = parcels.loc[parcels["rank"] == rank].to_crs(3857).geometry.iloc[0].centroid
        col = int((centre.x - x0) / (x1 - x0) * img.width)
        row = int((y0 - centre.y) / (y0 - y1) * img.height)
        # Pixel value = row of the parcel in the page's index + 1.
        pid = data["index"]["id"][index[row, col] - 1]
        assert pid == parcels.loc[parcels["rank"] == rank, "parcel_id"].iloc[0]
    assert index[0, 0] == 0  # outside the parcels: no parcel
    lon0, lat0, lon1, lat1 = parcels.to_crs(4326).total_bounds
    assert west < lon0 and east > lon1 and south < lat0 and north > lat1


def test_detail_limit_respected(demo):
    parcels = demo["parcels"]
    for limit, expected in ((10, 10), (0, 0), (1000, 48)):
        data = payload_of(build_map(parcels, detail_limit=limit).get_root().render())
        feats = data["parcels"]["features"]
        assert len(feats) == expected
        assert data["detail"] == {
            "limit": limit,
            "count": expected,
            "order": "open land first, then rank",
        }
    data = payload_of(build_map(parcels, detail_limit=10).get_root().render())
    chosen = {f["properties"]["parcel_id"] for f in data["parcels"]["features"]}
    open_ranked = parcels[parcels["land_status"] == "open"].sort_values("rank")
    assert chosen == set(open_ranked["parcel_id"].iloc[:10])


def test_missing_optional_columns(demo):
    parcels = demo["parcels"][["parcel_id", "rank", "score", "geometry"]]
    data = payload_of(build_map(parcels).get_root().render())
    assert [c["key"] for c in data["choropleths"]] == ["score"]
    assert data["parcels"]["features"][0]["properties"]["contrib"] == {}


def test_nan_scores_travel_as_nan():
    parcels = grid_parcels(2, 2)
    parcels["score"] = [0.5, 0.5, np.nan, 0.5]
    index = payload_of(build_map(parcels).get_root().render())["index"]
    score = np.frombuffer(base64.b64decode(index["score"]), dtype="<f8")
    np.testing.assert_array_equal(np.isnan(score), [False, False, True, False])


def test_bad_input_is_reported():
    parcels = grid_parcels(2, 1).set_crs(None, allow_override=True)
    with pytest.raises(SchemaError, match="no CRS"):
        build_map(parcels)
    with pytest.raises(SchemaError, match="basemap"):
        build_map(grid_parcels(1, 1), basemap="google")


def test_online_basemap_is_opt_in():
    data = payload_of(build_map(grid_parcels(2, 2), basemap="osm").get_root().render())
    assert data["basemap"]["url"].startswith("https://tile.openstreetmap.org/")


def test_write_map_refuses_to_overwrite(tmp_path):
    m = build_map(grid_parcels(2, 2), detail_limit=2)
    path = tmp_path / "prospects.html"
    path.write_bytes(b"precious results")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        write_map(m, path)
    assert path.read_bytes() == b"precious results"
    assert write_map(m, path, overwrite=True) == path
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prospects.html"]  # no temp left


def test_hillshade_from_dem(tmp_path):
    # A cone in EPSG:5070 near Zion: the north-west flank faces the light.
    n, px = 200, 100.0
    x0, y0 = -1_400_000.0, 1_800_000.0
    yy, xx = np.mgrid[0:n, 0:n]
    dem = (3000 - 15 * np.hypot(xx - n / 2, yy - n / 2)).astype("float32")
    path = tmp_path / "dem.tif"
    profile = {
        "driver": "GTiff", "width": n, "height": n, "count": 1, "dtype": "float32",
        "crs": "EPSG:5070", "transform": Affine(px, 0, x0, 0, -px, y0),
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(dem, 1)
    shade, (west, south, east, north) = hillshade_from_dem(path, max_size=128)
    assert shade.dtype == np.uint8 and max(shade.shape) <= 128
    assert -125 < west < east < -100 and 30 < south < north < 45
    h, w = shade.shape
    nw, se = shade[h // 4, w // 4], shade[3 * h // 4, 3 * w // 4]
    assert int(nw) > int(se) + 50
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["a"], "rank": [1], "score": [0.5]},
        geometry=[shapely.box(x0 + 5000, y0 - 15000, x0 + 15000, y0 - 5000)],
        crs=5070,
    )
    m = build_map(parcels, hillshade=(shade, (west, south, east, north)))
    data = payload_of(m.get_root().render())
    assert data["hillshade"]["image"].startswith("data:image/png;base64,")
    assert data["hillshade"]["bounds"] == [west, south, east, north]


def test_hillshade_blanks_an_undeclared_dem_fill(tmp_path):
    # The cone of test_hillshade_from_dem with its western 37 columns at -32768, once with
    # that value declared as NoData and once not.  Undeclared, the fill is drawn as terrain
    # (a plain below a 35 km cliff) unless valid_range names it; with valid_range the image
    # is the declared one away from the edge of the data, and blank over the fill.
    from scipy.ndimage import binary_dilation

    n, px = 200, 100.0
    x0, y0 = -1_400_000.0, 1_800_000.0
    yy, xx = np.mgrid[0:n, 0:n]
    dem = (3000 - 15 * np.hypot(xx - n / 2, yy - n / 2)).astype("float32")
    dem[:, :37] = -32768

    def write(name: str, **nodata: float) -> Path:
        path = tmp_path / name
        profile = {
            "driver": "GTiff", "width": n, "height": n, "count": 1, "dtype": "float32",
            "crs": "EPSG:5070", "transform": Affine(px, 0, x0, 0, -px, y0), **nodata,
        }  # fmt: skip
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(dem, 1)
        return path

    declared, _ = hillshade_from_dem(write("declared.tif", nodata=-32768), max_size=64)
    undeclared = write("undeclared.tif")
    raw, _ = hillshade_from_dem(undeclared, max_size=64)
    fixed, _ = hillshade_from_dem(undeclared, max_size=64, valid_range=(-500, 30_000))
    blank = declared == 0
    assert 0.3 < blank.mean() < 0.45  # the fill and the warp's margins
    assert (raw == 0).sum() < blank.sum() - 400  # the fill drawn as terrain
    assert (blank <= (fixed == 0)).all()  # blank wherever the declared image is
    extra = (fixed == 0) & ~blank  # and one reduced pixel more along the data's edge
    assert 0 < extra.sum() <= fixed.shape[0]
    away = ~binary_dilation(fixed == 0, iterations=3)
    assert away.sum() > 0.4 * fixed.size
    np.testing.assert_array_equal(fixed[away], declared[away])


def _merc(lon: float, lat: float) -> tuple[float, float]:
    from pyproj import Transformer

    return Transformer.from_crs(4326, 3857, always_xy=True).transform(lon, lat)


def test_static_readme_lists_vendored_versions():
    readme = Path(__file__).parents[1] / "prospector" / "render" / "static" / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert "| `leaflet` | 1.9.4 |" in text and "| `leaflet.markercluster` | 1.5.3 |" in text


def test_geojson_like_rasterises_as_the_shapely_geometries():
    """The ragged-array mappings give the raster rasterio makes from the geometries themselves."""
    import rasterio.features

    from prospector.render._raster import ParcelRaster, geojson_like

    square = shapely.box(0, 0, 10, 10)
    holed = shapely.Polygon(
        [(20, 0), (40, 0), (40, 20), (20, 20)], holes=[[(25, 5), (35, 5), (35, 15), (25, 15)]]
    )
    multi = shapely.MultiPolygon([shapely.box(0, 20, 8, 28), shapely.box(10, 30, 18, 38)])
    overlapping = shapely.box(5, 5, 30, 9)  # drawn last: covers parts of the first two
    geoms = np.array([square, holed, multi, overlapping], dtype=object)
    transform = Affine(0.5, 0, -1, 0, -0.5, 41)
    expected = rasterio.features.rasterize(
        ((g, i + 1) for i, g in enumerate(geoms)), out_shape=(86, 86), transform=transform
    )
    mapped = geojson_like(geoms)
    assert [m["type"] for m in mapped] == ["MultiPolygon"] * 4  # promoted to one family
    got = rasterio.features.rasterize(
        ((g, i + 1) for i, g in enumerate(mapped)), out_shape=(86, 86), transform=transform
    )
    np.testing.assert_array_equal(got, expected)
    assert (got == 2).sum() == 4 * 20 * 20 * 0.75 - 4 * 5 * 4  # the hole stays empty; 4 under #4
    polygons = geojson_like(np.array([square, holed], dtype=object))
    assert polygons[1] == {
        "type": "Polygon",
        "coordinates": [
            [[20.0, 0.0], [40.0, 0.0], [40.0, 20.0], [20.0, 20.0], [20.0, 0.0]],
            [[25.0, 5.0], [35.0, 5.0], [35.0, 15.0], [25.0, 15.0], [25.0, 5.0]],
        ],
    }
    # A collection is not (multi)polygonal: the geometries go to rasterio as they are.
    mixed = np.array([square, shapely.GeometryCollection([square])], dtype=object)
    assert geojson_like(mixed) is mixed
    # Parcels in EPSG:5070 through the whole ParcelRaster: same index as before.
    frame = gpd.GeoSeries(list(geoms), crs="EPSG:5070").translate(-1.2e6, 1.9e6).scale(50, 50)
    raster = ParcelRaster(frame)
    merc = frame.to_crs(3857).to_numpy()
    direct = rasterio.features.rasterize(
        ((g, i + 1) for i, g in enumerate(merc)), out_shape=raster.shape,
        transform=raster.transform, fill=0, dtype="int32",
    )  # fmt: skip
    np.testing.assert_array_equal(raster.index, direct)
    assert set(np.unique(raster.index)) == {0, 1, 2, 3, 4}


def test_run_maps_shade_the_dem_with_its_impossible_elevations_blank(monkeypatch):
    # A run's map (and a map re-drawn from its GeoPackage) names the elevations no US
    # terrain has as the DEM's fill, as the ranking does (ingest.read.read_dem_band).
    import prospector.render
    from prospector.ingest import file_sha256
    from prospector.ingest.read import IMPOSSIBLE_ELEVATION
    from prospector.ranking import outputs

    calls = []
    monkeypatch.setattr(
        prospector.render, "hillshade_from_dem", lambda path, **kw: calls.append((path, kw))
    )
    dem = Path(__file__).parents[1] / "layers" / "sample" / "zion_srtm_dem.tif"
    item = {"name": "srtm-dem", "role": "raster", "path": str(dem), "sha256": file_sha256(dem)}
    outputs._manifest_hillshade({"inputs": [item]})
    assert calls == [(dem, {"valid_range": IMPOSSIBLE_ELEVATION})]
