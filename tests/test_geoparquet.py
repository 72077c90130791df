"""GeoParquet writer: reads back like geopandas' own files, valid 1.1 metadata, atomic."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from prospector.errors import OutputExistsError, ProspectorError
from prospector.export.geoparquet import write_geoparquet


def _frame(n: int = 1000, crs: object = "EPSG:5070") -> gpd.GeoDataFrame:
    """Boxes, one multipolygon, one missing and one empty geometry; varied column types."""
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 10_000, n), rng.uniform(0, 10_000, n)
    geoms = shapely.box(x, y, x + 50, y + 30)
    if n > 11:
        geoms[3] = shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(5, 5, 6, 7)])
        geoms[7] = None
        geoms[11] = shapely.Polygon()
    return gpd.GeoDataFrame(
        {
            "parcel_id": pd.array([f"P{i:05d}" for i in range(n)], dtype="str"),
            "status": pd.Categorical(rng.choice(["open", "closed"], n)),
            "score": rng.random(n),
            "n_claims": pd.array(np.where(np.arange(n) % 5 == 0, None, np.arange(n)), "Int64"),
            "flag": np.arange(n) % 2 == 0,
            "seen": pd.date_range("2026-01-01", periods=n, freq="h"),
        },
        geometry=geoms,
        crs=crs,
    )


def _geo(path) -> dict:
    return json.loads(pq.read_schema(path).metadata[b"geo"])


@pytest.mark.parametrize("row_group_size", [1, 64, 1000, 5000])
def test_reads_back_like_to_parquet(tmp_path, row_group_size):
    gdf = _frame()
    mine = write_geoparquet(gdf, tmp_path / "mine.parquet", row_group_size=row_group_size)
    gdf.to_parquet(tmp_path / "theirs.parquet", write_covering_bbox=True)
    back = gpd.read_parquet(mine)
    assert_geodataframe_equal(back, gpd.read_parquet(tmp_path / "theirs.parquet"))
    assert_geodataframe_equal(back, gdf)
    assert pq.ParquetFile(mine).metadata.num_row_groups == -(-len(gdf) // row_group_size)
    # The covering bbox column holds each row's bounds (null for missing/empty geometries).
    bbox = pq.read_table(mine, columns=["bbox"]).column("bbox").combine_chunks()
    got = np.column_stack(
        [bbox.field(k).to_numpy(zero_copy_only=False) for k in ("xmin", "ymin", "xmax", "ymax")]
    )
    np.testing.assert_array_equal(got, shapely.bounds(gdf.geometry.to_numpy()))
    assert np.flatnonzero(bbox.is_null().to_numpy(zero_copy_only=False)).tolist() == [7, 11]


def test_geo_metadata(tmp_path):
    gdf = _frame()
    meta = _geo(write_geoparquet(gdf, tmp_path / "a.parquet"))
    assert meta["version"] == "1.1.0"
    assert meta["primary_column"] == "geometry"
    col = meta["columns"]["geometry"]
    assert col["encoding"] == "WKB"
    assert col["geometry_types"] == ["MultiPolygon", "Polygon"]
    assert col["bbox"] == pytest.approx(list(gdf.total_bounds))
    assert col["covering"]["bbox"] == {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}
    assert col["crs"]["id"] == {"authority": "EPSG", "code": 5070}
    gdf.to_parquet(tmp_path / "b.parquet", write_covering_bbox=True)
    assert col["crs"] == _geo(tmp_path / "b.parquet")["columns"]["geometry"]["crs"]


def test_geo_metadata_bounds_found_block_by_block(tmp_path, monkeypatch):
    # Types and bounds are found 2 geometries at a time here: blocks with only missing or
    # empty geometries add nothing; the bbox is the hand-computed one around the rest.
    import prospector.export.geoparquet as gp

    monkeypatch.setattr(gp, "_TYPE_BLOCK", 2)
    geoms = [
        None,
        shapely.Polygon(),
        shapely.Point(1, 2),
        None,
        shapely.box(-3, 4, 0, 9),
        shapely.LineString([(2, -1), (6, 0)]),
        shapely.Point(),
    ]
    meta = _geo(write_geoparquet(gpd.GeoDataFrame(geometry=geoms), tmp_path / "b.parquet"))
    col = meta["columns"]["geometry"]
    assert col["bbox"] == [-3.0, -1.0, 6.0, 9.0]
    assert col["geometry_types"] == ["LineString", "Point", "Polygon"]
    nothing = gpd.GeoDataFrame(geometry=[None, shapely.Polygon(), None])
    assert (
        "bbox" not in _geo(write_geoparquet(nothing, tmp_path / "n.parquet"))["columns"]["geometry"]
    )


def test_no_crs_z_and_secondary_geometry(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"centre": gpd.GeoSeries.from_xy([1.0, 2.0], [3.0, 4.0])},
        geometry=[shapely.LineString([(0, 0, 1), (1, 1, 2)]), shapely.Point(5, 5, 5)],
    )
    path = write_geoparquet(gdf, tmp_path / "z.parquet", covering_bbox=False)
    meta = _geo(path)
    assert meta["columns"]["geometry"]["crs"] is None
    assert meta["columns"]["geometry"]["geometry_types"] == ["LineString Z", "Point Z"]
    mixed = gdf.set_geometry([shapely.LineString([(0, 0, 1), (1, 1, 2)]), shapely.Point(5, 5)])
    mixed_meta = _geo(write_geoparquet(mixed, tmp_path / "m.parquet"))
    assert mixed_meta["columns"]["geometry"]["geometry_types"] == ["LineString Z", "Point"]
    assert meta["columns"]["centre"]["geometry_types"] == ["Point"]
    assert meta["columns"]["centre"]["bbox"] == [1.0, 3.0, 2.0, 4.0]
    assert "covering" not in meta["columns"]["geometry"]
    assert "bbox" not in pq.read_schema(path).names
    back = gpd.read_parquet(path)
    assert_geodataframe_equal(back, gdf)
    assert back.geometry.has_z.all()


def test_index_like_to_parquet(tmp_path):
    gdf = _frame(20).set_index("parcel_id")
    kept = gpd.read_parquet(write_geoparquet(gdf, tmp_path / "a.parquet"))
    assert_geodataframe_equal(kept, gdf)
    dropped = gpd.read_parquet(write_geoparquet(gdf, tmp_path / "b.parquet", index=False))
    assert_geodataframe_equal(dropped, gdf.reset_index(drop=True))


def test_bbox_filtered_read_uses_the_covering(tmp_path):
    gdf = _frame(5000).drop(index=[7, 11])
    gdf = gdf.iloc[np.argsort(gdf.geometry.hilbert_distance().to_numpy())]
    path = write_geoparquet(gdf, tmp_path / "a.parquet", row_group_size=250, index=False)
    window = (2000.0, 2000.0, 3000.0, 4000.0)
    got = gpd.read_parquet(path, bbox=window)
    b = shapely.bounds(gdf.geometry.to_numpy())
    hit = (b[:, 0] <= window[2]) & (b[:, 2] >= window[0]) & (b[:, 1] <= window[3])
    hit &= b[:, 3] >= window[1]
    assert sorted(got["parcel_id"]) == sorted(gdf["parcel_id"][hit])
    assert 0 < len(got) < len(gdf)


def test_empty_frame(tmp_path):
    gdf = _frame(0)
    back = gpd.read_parquet(write_geoparquet(gdf, tmp_path / "e.parquet"))
    assert len(back) == 0
    assert list(back.columns) == list(gdf.columns)
    assert back.crs == gdf.crs
    assert "bbox" not in _geo(tmp_path / "e.parquet")["columns"]["geometry"]


def test_dictionary_only_for_repetitive_columns(tmp_path):
    gdf = _frame(4000).astype({"status": str})
    path = write_geoparquet(gdf, tmp_path / "a.parquet")
    meta = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {
        meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)
    }
    assert "RLE_DICTIONARY" in encodings["status"]
    assert "RLE_DICTIONARY" not in encodings["parcel_id"]
    assert "RLE_DICTIONARY" not in encodings["score"]


def test_existing_file_is_kept_without_overwrite(tmp_path):
    path = tmp_path / "a.parquet"
    path.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match="already exists"):
        write_geoparquet(_frame(10), path)
    assert path.read_bytes() == b"precious"
    write_geoparquet(_frame(10), path, overwrite=True)
    assert len(gpd.read_parquet(path)) == 10


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "a.parquet"
    path.write_bytes(b"precious")
    calls = []
    real = pq.ParquetWriter.write_table

    def flaky(self, table, *args, **kwargs):
        calls.append(len(table))
        if len(calls) == 3:
            raise OSError("disk full")
        return real(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", flaky)
    with pytest.raises(OSError, match="disk full"):
        write_geoparquet(_frame(1000), path, overwrite=True, row_group_size=100)
    assert len(calls) == 3
    assert path.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet"]


@pytest.mark.parametrize("frame, match", [
    (pd.DataFrame({"a": [1]}), "needs a GeoDataFrame with an active geometry column"),
    (gpd.GeoDataFrame({"bbox": [1]}, geometry=[shapely.Point(0, 0)]), "already has a column named 'bbox'"),
    (gpd.GeoDataFrame({0: [1]}, geometry=[shapely.Point(0, 0)]), "column names must be strings"),
    (gpd.GeoDataFrame({"a": [object()]}, geometry=[shapely.Point(0, 0)]), "cannot convert the attribute columns"),
])  # fmt: skip
def test_bad_input_is_a_clear_error(tmp_path, frame, match):
    with pytest.raises(ProspectorError, match=match):
        write_geoparquet(frame, tmp_path / "a.parquet")
    assert list(tmp_path.iterdir()) == []


def test_row_group_size_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="row_group_size must be at least 1"):
        write_geoparquet(_frame(3), tmp_path / "a.parquet", row_group_size=0)


def test_arrow_types_match_to_parquet(tmp_path):
    gdf = _frame(50)
    write_geoparquet(gdf, tmp_path / "a.parquet")
    gdf.to_parquet(tmp_path / "b.parquet", write_covering_bbox=True)
    mine, theirs = pq.read_schema(tmp_path / "a.parquet"), pq.read_schema(tmp_path / "b.parquet")
    assert mine.names == theirs.names
    for name in mine.names:
        assert mine.field(name).type == theirs.field(name).type, name
    assert mine.field("geometry").type == pa.binary()
