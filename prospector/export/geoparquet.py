"""Write GeoParquet 1.1 (WKB geometry, covering ``bbox`` column) fast and atomically.

``GeoDataFrame.to_parquet`` copies the frame, encodes every geometry, then compresses and
writes the whole table on the calling thread.  Here the table is written in row groups:
while one row group is compressed and written (Arrow releases the GIL), the next one's
geometries are encoded, so encoding and writing overlap.  The attribute columns are
converted once, without copying the frame.  The file reads back with
``geopandas.read_parquet`` as the frame written by ``to_parquet(write_covering_bbox=True)``
does (tests/test_geoparquet.py).  The WKB encoding of a row-ordered result (e.g. ranked
parcels, whose geometries lie scattered in memory) dominates; writing the 1M ranked and
excluded parcels of the West benchmark takes 1.9 s instead of 3.05 s on 2 cores.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import shapely
from geopandas.array import GeometryDtype

from prospector._runtime import (
    atomic_output,
    check_writable,
    malloc_arrow_pool,
    release_memory,
)
from prospector._version import __version__
from prospector.errors import ProspectorError
from prospector.export.gpkg import flatten_lists

__all__ = ["write_geoparquet", "write_geoparquet_layer"]

#: Geometries whose types are listed at a time.
_TYPE_BLOCK = 65_536

_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LineString",  # a LinearRing is written as a LineString
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


def write_geoparquet(
    gdf: gpd.GeoDataFrame,
    path: str | Path,
    *,
    overwrite: bool = False,
    index: bool | None = None,
    covering_bbox: bool = True,
    row_group_size: int = 32_768,
    compression: str = "snappy",
) -> Path:
    """Write *gdf* as a GeoParquet 1.1 file with WKB geometries.

    Parameters
    ----------
    gdf
        The frame to write; every geometry column is WKB-encoded, the active one is the
        file's primary column.
    path
        Output file.  Written to a temporary sibling and moved into place when complete:
        a failure leaves no partial file and an existing file untouched.
    overwrite
        Replace an existing file.
    index
        As in ``to_parquet``: None stores a RangeIndex as metadata and any other index as
        columns; True always stores the index as columns; False drops it.
    covering_bbox
        Add the per-row ``bbox`` struct column (``xmin``, ``ymin``, ``xmax``, ``ymax``)
        declared as the geometry's covering, so readers can skip row groups by bounding
        box (``geopandas.read_parquet(bbox=...)``, GDAL).
    row_group_size
        Rows per row group.  Two row groups are in memory at once (one encoded while the
        other is written); 32,768 rows keep that near 60 MB for the 936k ranked parcels of
        the West benchmark (65,536: ~110 MB; the file is the same size) and let readers
        skip by bounding box more finely.
    compression
        Parquet codec (``snappy``, ``zstd``, ``gzip``, ``none``, ...).

    Returns
    -------
    pathlib.Path
        *path*.
    """
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.active_geometry_name not in gdf:
        raise ProspectorError(
            "write_geoparquet needs a GeoDataFrame with an active geometry column; got "
            f"{type(gdf).__name__} with columns {list(gdf.columns)}"
        )
    if row_group_size < 1:
        raise ValueError(f"row_group_size must be at least 1, got {row_group_size}")
    check_writable(path, overwrite=overwrite)  # before any work
    primary = gdf.active_geometry_name
    geometry_columns = [c for c in gdf.columns if isinstance(gdf.dtypes[c], GeometryDtype)]
    if covering_bbox and "bbox" in gdf.columns:
        raise ProspectorError(
            "the frame already has a column named 'bbox', which GeoParquet's covering bbox "
            "would replace; rename the column or pass covering_bbox=False"
        )
    if not all(isinstance(c, str) for c in gdf.columns):
        raise ProspectorError(
            f"GeoParquet column names must be strings; got {list(gdf.columns)!r}. Rename the "
            "columns (e.g. gdf.columns = gdf.columns.astype(str))."
        )
    attributes = [c for c in gdf.columns if c not in geometry_columns]
    try:
        table = pa.Table.from_pandas(gdf, columns=attributes, preserve_index=index)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise ProspectorError(f"cannot convert the attribute columns to Arrow: {exc}") from exc
    geoms = {c: np.asarray(gdf[c].array, dtype=object) for c in geometry_columns}
    meta = _geo_metadata(gdf, geoms, primary=primary, covering_bbox=covering_bbox)
    positions = {c: list(gdf.columns).index(c) for c in geometry_columns}

    def row_group(start: int, stop: int) -> pa.Table:
        part = table.slice(start, stop - start)
        for name in geometry_columns:  # in column order, so positions stay right
            wkb = shapely.to_wkb(geoms[name][start:stop], flavor="iso", output_dimension=3)
            part = part.add_column(positions[name], name, pa.array(wkb, type=pa.binary()))
        if covering_bbox:  # per row group: no whole-frame bounds array (32 MB at 1M rows)
            b = shapely.bounds(geoms[primary][start:stop])
            box = pa.StructArray.from_arrays(
                [pa.array(b[:, k]) for k in range(4)],
                names=["xmin", "ymin", "xmax", "ymax"],
                mask=pa.array(np.isnan(b).any(axis=1)),  # null for missing/empty geometries
            )
            part = part.append_column("bbox", box)
        return part

    n = len(gdf)
    try:
        with malloc_arrow_pool():  # the row groups' buffers go back as they are freed
            _write_groups(
                path, row_group, n, row_group_size, meta, attributes, overwrite, compression
            )
    finally:
        if n > row_group_size:  # hand back the encoding and compression buffers
            release_memory()
    return Path(path)


def _write_groups(
    path: str | Path,
    row_group: Any,
    n: int,
    row_group_size: int,
    meta: dict[str, Any],
    attributes: list[str],
    overwrite: bool,
    compression: str,
) -> None:
    """Write *n* rows, *row_group_size* at a time (``row_group(start, stop)``), atomically."""
    first = row_group(0, min(n, row_group_size))
    schema = first.schema.with_metadata(
        {**(first.schema.metadata or {}), b"geo": json.dumps(meta).encode("utf-8")}
    )
    dictionary = _repetitive(first, attributes)
    if n > row_group_size:  # before the other row groups: the distinct-value tables
        release_memory()  # (~35 MB for 32,768 sentences)
    with (
        atomic_output(path, overwrite=overwrite) as tmp,
        pq.ParquetWriter(tmp, schema, compression=compression, use_dictionary=dictionary) as writer,
    ):
        if n <= row_group_size:  # one row group: nothing to overlap
            writer.write_table(first)
            return
        # One writer thread: it compresses and writes row group i while this thread encodes
        # row group i + 1.
        with ThreadPoolExecutor(1) as io:
            pending: Future[None] = io.submit(writer.write_table, first)
            for start in range(row_group_size, n, row_group_size):
                part = row_group(start, min(n, start + row_group_size))
                pending.result()
                pending = io.submit(writer.write_table, part)
            pending.result()


def write_geoparquet_layer(name: str, gdf: gpd.GeoDataFrame, folder: Path) -> list[Path]:
    """Write layer *name* as ``<folder>/<name>.parquet`` for a folder export.

    Lists are joined to text as in every export format; no covering bbox column (the
    per-layer files are small) and no pandas metadata of the run (``attrs``).
    """
    frame = flatten_lists(gdf)
    frame.attrs = {}
    target = folder / f"{name}.parquet"
    write_geoparquet(frame, target, overwrite=True, index=False, covering_bbox=False)
    return [target]


def _repetitive(sample: pa.Table, columns: list[str]) -> list[str]:
    """Columns worth dictionary-encoding: under 10 % distinct values in *sample*.

    Arrow tries a dictionary for every column by default and falls back for unique ones
    (ids, measurements, sentences) only after building it: a third of the write time.
    """
    out = []
    for name in columns:
        if name not in sample.column_names:  # the index, when written as metadata only
            continue
        column = sample.column(name)
        try:
            distinct = pc.count_distinct(column).as_py()
        except pa.ArrowNotImplementedError:  # nested types: left plain
            continue
        if len(column) and distinct <= 0.1 * len(column):
            out.append(name)
    return out


def _geo_metadata(
    gdf: gpd.GeoDataFrame,
    geoms: dict[str, np.ndarray],
    *,
    primary: str,
    covering_bbox: bool,
) -> dict[str, Any]:
    """Build the ``geo`` file metadata of GeoParquet 1.1."""
    columns: dict[str, Any] = {}
    for name, values in geoms.items():
        crs = gdf[name].crs
        projjson = None
        if crs is not None:
            projjson = crs.to_json_dict()
            _drop_ensemble_member_ids(projjson)
        # One entry per type and dimension ("Point", "Point Z", ...), as the spec lists them,
        # and the bounds of all, found a block at a time (whole-column temporaries were
        # 17 MB for the types and 32 MB for the bounds at 1M rows).
        codes: set[int] = set()
        boxes = []
        for start in range(0, len(values), _TYPE_BLOCK):
            part = values[start : start + _TYPE_BLOCK]
            kind = shapely.get_type_id(part)  # -1: missing
            code = kind * 2 + shapely.has_z(part)
            codes.update(np.unique(code[kind >= 0]).tolist())
            boxes.append(shapely.total_bounds(part))
        col: dict[str, Any] = {
            "encoding": "WKB",
            "crs": projjson,
            "geometry_types": sorted(
                {_TYPE_NAMES[c // 2] + (" Z" if c % 2 else "") for c in codes}
            ),
        }
        # NaN when every geometry is missing or empty.
        box = _union_bounds(boxes)
        if not np.isnan(box).all():
            col["bbox"] = [float(v) for v in box]
        if covering_bbox and name == primary:
            col["covering"] = {"bbox": {k: ["bbox", k] for k in ("xmin", "ymin", "xmax", "ymax")}}
        columns[name] = col
    return {
        "version": "1.1.0",
        "primary_column": primary,
        "columns": columns,
        "creator": {"library": "prospector", "version": __version__},
    }


def _union_bounds(boxes: list[np.ndarray]) -> np.ndarray:
    """``(xmin, ymin, xmax, ymax)`` around blocks' total bounds (NaN where none has any)."""
    stacked = np.asarray(boxes, dtype=float).reshape(-1, 4)
    stacked = stacked[~np.isnan(stacked).all(axis=1)]  # blocks of missing or empty geometries
    if not len(stacked):
        return np.full(4, np.nan)
    return np.concatenate([stacked[:, :2].min(axis=0), stacked[:, 2:].max(axis=0)])


def _drop_ensemble_member_ids(node: Any) -> None:
    """Drop ``id`` from datum-ensemble members (older PROJ databases reject newer ids)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "members" and isinstance(value, list):
                for member in value:
                    if isinstance(member, dict):
                        member.pop("id", None)
            else:
                _drop_ensemble_member_ids(value)
    elif isinstance(node, list):
        for item in node:
            _drop_ensemble_member_ids(item)
