"""Units of the region fetch: tiling, tables of points, restricted land, URLs, Retry-After.

SYNTHETIC DATA throughout (geometry built in code).
"""

from __future__ import annotations

import datetime as dt
import email.utils
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import requests
import shapely

from prospector.analysis.land import land_status
from prospector.errors import ConfigError, CRSError, FetchError, SchemaError
from prospector.ingest._http import retry_after_s
from prospector.ingest.arcgis_stream import stream_layer
from prospector.ingest.sources import resolve_url, sources_for
from prospector.ingest.tabular import read_points
from tests.replica import ArcLayer, Replica


@pytest.fixture
def replica() -> Replica:
    server = Replica().start()
    yield server
    server.stop()


def _grid_layer(n: int = 10) -> ArcLayer:
    """n x n small squares plus one polygon spanning the whole area (crosses every tile)."""
    feats = [({"NAME": f"p{i}-{j}"}, shapely.box(i + 0.4, j + 0.4, i + 0.6, j + 0.6))
             for i in range(n) for j in range(n)]  # fmt: skip
    feats.append(({"NAME": "big"}, shapely.box(0.1, 0.1, n - 0.1, n - 0.1)))
    return ArcLayer("grid", "esriGeometryPolygon", [("NAME", "str")], feats,
                    max_record_count=7)  # fmt: skip


def test_stream_layer_splits_into_tiles_and_deduplicates(replica: Replica, tmp_path: Path) -> None:
    replica.layers["/h/grid/FeatureServer/0"] = _grid_layer()
    out = tmp_path / "grid.gpkg"
    result = stream_layer(
        f"{replica.url}/h/grid/FeatureServer/0", out, bbox=(0, 0, 10, 10),
        max_features_per_query=30, min_tile_deg=0.1, retries=0,
    )  # fmt: skip
    # 101 features in the area > 30: split in 4 quadrants (25 points + the big polygon =
    # 26 each <= 30), so four tiles, each paged 7 at a time.
    assert result.n_tiles == 4
    gdf = pyogrio.read_dataframe(out)
    assert len(gdf) == result.n_features == 101  # the big polygon once, not four times
    assert (gdf["NAME"] == "big").sum() == 1
    counts = [r for r in replica.requests_to("/h/grid/FeatureServer/0/query")
              if r.params.get("returnCountOnly") == "true"]  # fmt: skip
    assert len(counts) == 5  # whole area + four quadrants
    pages = [r for r in replica.requests_to("/h/grid/FeatureServer/0/query")
             if "resultOffset" in r.params]  # fmt: skip
    assert len(pages) == 4 * 4  # ceil(26 / 7) = 4 pages per tile
    assert all(int(r.params["resultRecordCount"]) == 7 for r in pages)


def test_stream_layer_without_paging_uses_small_tiles(replica: Replica, tmp_path: Path) -> None:
    layer = _grid_layer(4)
    layer.features = layer.features[:-1]  # points only
    layer.pagination = False
    layer.max_record_count = 4
    replica.layers["/h/np/FeatureServer/0"] = layer
    out = tmp_path / "np.gpkg"
    result = stream_layer(f"{replica.url}/h/np/FeatureServer/0", out, bbox=(0, 0, 4, 4),
                          min_tile_deg=0.1, retries=0)  # fmt: skip
    assert result.n_features == 16
    assert result.n_tiles == 4  # 16 > 4 -> quadrants of 4 points each


def test_stream_layer_failure_leaves_nothing(replica: Replica, tmp_path: Path) -> None:
    replica.layers["/h/g/FeatureServer/0"] = _grid_layer(3)
    replica.fail("/h/g/FeatureServer/0/query", "empty-page")
    out = tmp_path / "g.gpkg"
    with pytest.raises(FetchError, match="exceededTransferLimit"):
        stream_layer(f"{replica.url}/h/g/FeatureServer/0", out, bbox=(0, 0, 3, 3), retries=0)
    assert list(tmp_path.iterdir()) == []


def test_stream_layer_empty_area_writes_empty_layer(replica: Replica, tmp_path: Path) -> None:
    replica.layers["/h/e/FeatureServer/0"] = _grid_layer(2)
    out = tmp_path / "e.gpkg"
    result = stream_layer(f"{replica.url}/h/e/FeatureServer/0", out, bbox=(50, 50, 51, 51))
    assert result.n_features == 0
    info = pyogrio.read_info(out)
    assert info["features"] == 0 and "NAME" in list(info["fields"])


def test_read_points_excel_with_named_columns(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "sites.xlsx"
    table = pd.DataFrame({"id": ["a", "b"], "E": [500000.0, 510000.0], "N": [4300000.0, "x"]})
    pyogrio.write_dataframe(table, path, driver="XLSX", layer="prospects")
    with pytest.warns(UserWarning, match="1 of 2 rows"):
        gdf, report = read_points(path, x="E", y="N", crs="EPSG:26911", sheet="prospects")
    assert gdf.crs.to_epsg() == 26911
    assert gdf.geometry.iloc[0].equals(shapely.Point(500000.0, 4300000.0))
    assert gdf.geometry.iloc[1] is None
    assert report.bad_rows == {"coordinates that are not numbers": [2]}


def test_read_points_wkt_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_text('id,WKT\n1,"POINT (1 2)"\n2,"POINT (oops"\n3,\n')
    with pytest.warns(UserWarning, match="2 of 3 rows"):
        gdf, report = read_points(path, crs="EPSG:4326")
    assert gdf.geometry.iloc[0].equals(shapely.Point(1, 2))
    assert report.bad_rows == {"missing WKT": [3], "unreadable WKT": [2]}
    with pytest.raises(CRSError, match="no CRS is given"):
        read_points(path)
    other = tmp_path / "o.csv"
    other.write_text("id,x,y\n1,500000,4300000\n")
    with pytest.raises(CRSError):
        read_points(other)
    none = tmp_path / "n.csv"
    none.write_text("id,name\n1,a\n")
    with pytest.raises(SchemaError, match="no coordinate columns"):
        read_points(none)
    with pytest.raises(SchemaError, match="'Lon' not found"):
        read_points(other, x="Lon", y="y", crs="EPSG:4326")


def test_read_points_out_of_range_degrees(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("lon,lat\n-117,39\n-217,39\n0,0\n")
    with pytest.warns(UserWarning):
        gdf, report = read_points(path)
    assert gdf.crs.to_epsg() == 4326
    assert report.bad_rows == {
        "coordinates outside -180..180 / -90..90": [2],
        "coordinates exactly (0, 0)": [3],
    }


def _parcels() -> gpd.GeoDataFrame:
    # Three 1000 m squares side by side (equal-area CRS).
    return gpd.GeoDataFrame(
        {"parcel_id": ["a", "b", "c"]},
        geometry=[shapely.box(i * 1000, 0, (i + 1) * 1000, 1000) for i in range(3)],
        crs="EPSG:5070",
    )


def test_wsa_gives_restricted_not_closed() -> None:
    parcels = _parcels()
    land = gpd.GeoDataFrame({"agency": ["BLM"], "federal": [True]},
                            geometry=[shapely.box(0, 0, 3000, 1000)], crs=parcels.crs)  # fmt: skip
    withdrawals = gpd.GeoDataFrame(
        {"name": ["Flats WSA", "Peak Wilderness", "Flats WSA"], "kind": ["wsa", "wilderness", "wsa"],
         "agency": ["BLM"] * 3},
        geometry=[shapely.box(0, 0, 1000, 1000),      # all of a
                  shapely.box(1000, 0, 1500, 1000),   # west half of b
                  shapely.box(1500, 0, 1750, 1000)],  # a quarter of b; c untouched
        crs=parcels.crs,
    )  # fmt: skip
    out = land_status(parcels, land=land, withdrawals=withdrawals)
    assert out["land_status"].tolist() == ["restricted", "partly_open", "open"]
    # The WSA is not a withdrawal: a is 0 % withdrawn and 100 % open ground.
    assert out["withdrawn_frac"].tolist() == pytest.approx([0.0, 0.5, 0.0])
    assert out["open_frac"].tolist() == pytest.approx([1.0, 0.5, 1.0])
    assert "Flats WSA (wsa)" in out["status_reason"].iloc[0]
    assert "6330" in out["status_reason"].iloc[0]
    assert "25% of the parcel is open ground inside Flats WSA (wsa)" in out["status_reason"].iloc[1]
    assert out["withdrawals"].tolist()[1:] == ["Peak Wilderness", ""]


def test_open_ground_wholly_in_restrictions_is_restricted() -> None:
    parcels = _parcels().iloc[:1]
    land = gpd.GeoDataFrame({"agency": ["BLM"], "federal": [True]},
                            geometry=[shapely.box(0, 0, 1000, 1000)], crs=parcels.crs)  # fmt: skip
    withdrawals = gpd.GeoDataFrame(
        {"name": ["W", "A"], "kind": ["wilderness", "acec"], "agency": ["BLM", "BLM"]},
        geometry=[shapely.box(0, 0, 600, 1000), shapely.box(500, 0, 1000, 1000)],
        crs=parcels.crs,
    )  # fmt: skip
    out = land_status(parcels, land=land, withdrawals=withdrawals)
    # Open ground is 400 m x 1000 m, all inside the ACEC.
    assert out["open_frac"].iloc[0] == pytest.approx(0.4)
    assert out["land_status"].iloc[0] == "restricted"


def test_restricted_without_land_layer() -> None:
    parcels = _parcels()
    withdrawals = gpd.GeoDataFrame({"name": ["S"], "kind": ["wsa"], "agency": ["BLM"]},
                                   geometry=[shapely.box(0, 0, 1500, 1000)], crs=parcels.crs)  # fmt: skip
    out = land_status(parcels, withdrawals=withdrawals)
    assert out["land_status"].tolist() == ["restricted", "unknown", "unknown"]


def test_sources_and_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    assert sources_for("minimal") == ("blm-sma", "blm-wilderness", "blm-wsa", "blm-mlrs-claims",
                                      "usgs-mrds")  # fmt: skip
    assert sources_for("minimal,+padus-manager")[-1] == "padus-manager"
    assert sources_for("usgs-mrds,usgs-mrds") == ("usgs-mrds",)
    with pytest.raises(ConfigError):
        sources_for(" , ")
    url = "https://gis.blm.gov/arcgis/rest/services/x/MapServer/1?f=json"
    monkeypatch.delenv("PROSPECTOR_MIRROR", raising=False)
    assert resolve_url(url) == url
    monkeypatch.setenv("PROSPECTOR_MIRROR", "http://127.0.0.1:9/")
    assert (
        resolve_url(url)
        == "http://127.0.0.1:9/gis.blm.gov/arcgis/rest/services/x/MapServer/1?f=json"
    )
    monkeypatch.setenv("PROSPECTOR_MIRROR", "ftp://x")
    with pytest.raises(ConfigError):
        resolve_url(url)


def test_retry_after_forms() -> None:
    def response(value: str | None) -> requests.Response:
        r = requests.Response()
        if value is not None:
            r.headers["Retry-After"] = value
        return r

    assert retry_after_s(response(None)) == 0.0
    assert retry_after_s(response("7")) == 7.0
    assert retry_after_s(response("100000")) == 120.0  # capped
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=30)
    waited = retry_after_s(response(email.utils.format_datetime(later, usegmt=True)))
    assert 25.0 <= waited <= 30.0
    assert retry_after_s(response("soon")) == 0.0
    assert np.isfinite(retry_after_s(response("Wed, 21 Oct 2015 07:28:00 GMT")))
