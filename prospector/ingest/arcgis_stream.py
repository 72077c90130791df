"""Stream an ArcGIS REST layer to a GeoPackage, page by page, tile by tile.

:func:`prospector.ingest.arcgis.query_features` returns one in-memory frame, which is fine
for a county but not for a state's claims or land status.  :func:`stream_layer` writes
each page to the output file as it arrives, so memory holds one page at a time:

1. The layer metadata (``?f=json``) gives ``maxRecordCount``, the object-id field,
   the field types and whether ``resultOffset`` paging is supported.
2. ``returnCountOnly`` counts the features in the area.  When the count exceeds what
   one query may return (``max_features_per_query``, or ``maxRecordCount`` for layers
   without paging), the area is split into four tiles, recursively, until every tile
   fits (down to ``min_tile_deg``).
3. Each tile is paged with ``resultOffset``/``resultRecordCount`` until the server stops
   reporting ``exceededTransferLimit``.  Features crossing tile edges come back from
   several tiles; the object id keeps only the first copy.
4. Pages are appended to a temporary GeoPackage beside the output, which replaces the
   output only when every tile is complete: a failed query leaves nothing behind.

A page sequence that never ends (the server keeps reporting more records but repeats
ones already received) is detected and reported instead of looping.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import requests

from prospector.ingest._arcgis_rest import (
    FIX_BROKEN_REPLY,
    Layer,
    bbox_params,
    check_bbox,
    normalise_layer_url,
    open_layer,
    query_params,
)
from prospector.ingest._esri_json import parse_page

__all__ = ["StreamResult", "stream_layer"]

_CRS: Final = "EPSG:4326"
_USER_AGENT: Final = "prospector-fetch (python-requests)"
_logger = logging.getLogger(__name__)

#: Esri field types and the pandas dtype each page column is cast to, so that every
#: page appends to the same GeoPackage schema.
_ESRI_DTYPES: Final = {
    "esriFieldTypeString": "string",
    "esriFieldTypeGUID": "string",
    "esriFieldTypeGlobalID": "string",
    "esriFieldTypeOID": "Int64",
    "esriFieldTypeInteger": "Int64",
    "esriFieldTypeSmallInteger": "Int64",
    "esriFieldTypeBigInteger": "Int64",
    "esriFieldTypeDouble": "float64",
    "esriFieldTypeSingle": "float64",
    "esriFieldTypeDate": "date",
}

ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True)
class StreamResult:
    """What :func:`stream_layer` wrote."""

    path: Path
    n_features: int
    n_tiles: int
    n_requests: int
    fields: tuple[str, ...]


def stream_layer(
    layer_url: str,
    out: str | os.PathLike[str],
    *,
    bbox: tuple[float, float, float, float],
    where: str = "1=1",
    out_fields: str = "*",
    layer_name: str = "features",
    max_features_per_query: int = 50_000,
    min_tile_deg: float = 0.05,
    max_pages: int = 2_000,
    timeout_s: float = 60.0,
    retries: int = 3,
    backoff_s: float = 0.5,
    dataset_metadata: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
    session: requests.Session | None = None,
) -> StreamResult:
    """Query ``layer_url`` within ``bbox`` and stream the features to a GeoPackage.

    Parameters
    ----------
    layer_url : str
        One layer of a MapServer or FeatureServer (``.../MapServer/1``).
    out : path
        GeoPackage to write; replaced atomically when complete.
    bbox : tuple of float
        ``(west, south, east, north)`` in degrees (EPSG:4326).
    where : str, default "1=1"
        Attribute filter sent to the server.
    out_fields : str, default "*"
        Comma-separated field names; the object id is always added.
    layer_name : str, default "features"
        Layer name inside the GeoPackage.
    max_features_per_query : int, default 50000
        Split an area into tiles when it holds more features than this.
    min_tile_deg : float, default 0.05
        Smallest tile side; a tile this small is paged however many features it holds.
    max_pages : int, default 2000
        Pages allowed per tile before the sequence is declared endless.
    timeout_s, retries, backoff_s : float, int, float
        Per-request network settings (see :func:`prospector.ingest.arcgis.query_features`).
    dataset_metadata : mapping, optional
        Key/value pairs stored in the GeoPackage (provenance).
    progress : callable, optional
        Called as ``progress(features_written, features_expected)`` after each page.
    session : requests.Session, optional
        Session to use (not closed).

    Returns
    -------
    StreamResult

    Raises
    ------
    prospector.errors.FetchError
        Any request failed after its retries, the server's pages never end, or it
        reported more records but sent none.  Nothing is written.
    """
    url = normalise_layer_url(layer_url)
    area = check_bbox(bbox)
    assert area is not None
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.part.gpkg")
    tmp.unlink(missing_ok=True)
    writer = _PageWriter(tmp, layer_name, dict(dataset_metadata or {}))
    try:
        with open_layer(
            url, session, user_agent=_USER_AGENT, timeout_s=timeout_s, retries=retries,
            backoff_s=backoff_s,
        ) as layer:  # fmt: skip
            info = layer.info
            writer.dtypes = _field_dtypes(layer.meta)
            writer.geometry_type = _ogr_geometry_type(info.geometry_type)
            limit = max_features_per_query if info.supports_pagination else info.max_record_count
            base = query_params(info, where, out_fields)
            tiles = list(_plan_tiles(layer, base, area, limit, min_tile_deg))
            expected = sum(count for _, count in tiles)
            seen: set[Any] = set()
            requests_made = 1 + len(tiles)
            for tile, _count in tiles:
                requests_made += _page_tile(
                    layer, base, tile, writer, seen, max_pages,
                    lambda: progress(writer.n_written, expected) if progress else None,
                )  # fmt: skip
        writer.finish()
        os.replace(tmp, out_path)
        return StreamResult(
            out_path, writer.n_written, len(tiles), requests_made, tuple(writer.columns)
        )
    finally:
        tmp.unlink(missing_ok=True)


def _field_dtypes(meta: Mapping[str, Any]) -> dict[str, str]:
    """Map each published field name to the dtype of its page column."""
    out: dict[str, str] = {}
    for field in meta.get("fields") or []:
        if isinstance(field, Mapping) and "name" in field:
            dtype = _ESRI_DTYPES.get(str(field.get("type")))
            if dtype is not None:
                out[str(field["name"])] = dtype
    return out


def _count(layer: Layer, base: dict[str, str], tile: Any) -> int:
    client, info = layer.client, layer.info
    body = client.get_json(
        f"{info.url}/query",
        {"where": base["where"], "returnCountOnly": "true", "f": "json"} | bbox_params(tile),
        context=f"counting features in tile {_fmt(tile)}",
    )
    count = body.get("count")
    if not isinstance(count, int) or count < 0:
        raise client.error(
            f"counting features in tile {_fmt(tile)}",
            f"the reply has no feature count (got {count!r})",
            FIX_BROKEN_REPLY,
        )
    return count


def _plan_tiles(
    layer: Layer,
    base: dict[str, str],
    area: tuple[float, float, float, float],
    limit: int,
    min_tile_deg: float,
) -> Iterator[tuple[tuple[float, float, float, float], int]]:
    """Yield ``(tile, count)`` for tiles whose count fits ``limit`` (or are minimal)."""
    stack = [area]
    while stack:
        tile = stack.pop()
        count = _count(layer, base, tile)
        if count == 0:
            continue
        west, south, east, north = tile
        if count <= limit or max(east - west, north - south) / 2 < min_tile_deg:
            yield tile, count
            continue
        mx, my = (west + east) / 2, (south + north) / 2
        stack += [(mx, my, east, north), (west, my, mx, north), (mx, south, east, my),
                  (west, south, mx, my)]  # fmt: skip


def _page_tile(
    layer: Layer,
    base: dict[str, str],
    tile: tuple[float, float, float, float],
    writer: _PageWriter,
    seen: set[Any],
    max_pages: int,
    on_page: Callable[[], None],
) -> int:
    """Page through one tile; return the number of requests made."""
    client, info = layer.client, layer.info
    params = base | bbox_params(tile)
    oid = info.object_id_field
    if oid:
        params["orderByFields"] = f"{oid} ASC"
    size = info.max_record_count
    offset = 0
    for page in range(1, max_pages + 1):
        context = f"fetching tile {_fmt(tile)} page {page} (resultOffset={offset})"
        query = params | {"resultOffset": str(offset), "resultRecordCount": str(size)}
        if not info.supports_pagination:
            query = params
        body = client.get_json(f"{info.url}/query", query, context=context)
        props, geoms, exceeded = parse_page(body, info, client, context)
        new = _keep_new(props, oid, seen)
        writer.append([props[i] for i in new], [geoms[i] for i in new])
        on_page()
        if not exceeded:
            return page
        if not info.supports_pagination:
            raise client.error(
                context,
                "the layer does not support paging and the tile still exceeds the "
                "transfer limit at the smallest tile size",
                "Fix: raise min_tile_deg's precision (smaller tiles) or use the "
                "publisher's bulk download.",
            )
        if not props:
            raise client.error(
                context,
                "the server reports more records (exceededTransferLimit) but sent none",
                FIX_BROKEN_REPLY,
            )
        if oid and not new:
            raise client.error(
                context,
                "the server reports more records but repeats records already received "
                "(an endless page sequence)",
                FIX_BROKEN_REPLY,
            )
        offset += len(props)
    raise client.error(
        f"fetching tile {_fmt(tile)}",
        f"more than max_pages={max_pages} pages (an endless page sequence?)",
        "Fix: lower max_features_per_query so the area is split into smaller tiles.",
    )


def _keep_new(props: list[dict[str, Any]], oid: str | None, seen: set[Any]) -> list[int]:
    """Return the indices of records whose object id was not written yet (and id-less ones)."""
    if not oid:
        return list(range(len(props)))
    keep = []
    for i, record in enumerate(props):
        key = record.get(oid)
        if key is None:
            keep.append(i)
        elif key not in seen:
            seen.add(key)
            keep.append(i)
    return keep


def _fmt(tile: tuple[float, float, float, float]) -> str:
    return "(" + ", ".join(f"{v:.4f}" for v in tile) + ")"


class _PageWriter:
    """Append pages to a GeoPackage layer with one schema for every page."""

    def __init__(self, path: Path, layer: str, metadata: dict[str, str]) -> None:
        self.path = path
        self.layer = layer
        self.metadata = metadata
        self.geometry_type = "Unknown"
        self.dtypes: dict[str, str] = {}
        self.columns: list[str] = []
        self.n_written = 0

    def append(self, props: list[dict[str, Any]], geoms: list[Any]) -> None:
        if not props:
            return
        frame = pd.DataFrame.from_records(props)
        if not self.columns:
            names = list(frame.columns)
            names += [n for n in self.dtypes if n not in names]
            self.columns = [n for n in names if n.lower() not in ("shape", "geometry")]
        frame = frame.reindex(columns=self.columns)
        for name in self.columns:
            frame[name] = _cast(frame[name], self.dtypes.get(name))
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=_CRS), crs=_CRS)
        gdf = gdf[~gdf.geometry.isna()]
        if gdf.empty:
            return
        append = self.path.exists()
        pyogrio.write_dataframe(
            gdf, self.path, layer=self.layer, driver="GPKG", append=append,
            promote_to_multi=self.geometry_type.startswith("Multi") or None,
            geometry_type=None if append or self.geometry_type == "Unknown"
            else self.geometry_type,
            dataset_metadata=None if append else self.metadata or None,
        )  # fmt: skip
        self.n_written += len(gdf)

    def finish(self) -> None:
        """Write the file even when no feature matched (an empty layer with the schema)."""
        if self.path.exists():
            return
        frame = pd.DataFrame({name: pd.Series(dtype="object") for name in self.dtypes})
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=_CRS), crs=_CRS)
        pyogrio.write_dataframe(
            gdf, self.path, layer=self.layer, driver="GPKG",
            geometry_type=self.geometry_type,
            dataset_metadata=self.metadata or None,
        )  # fmt: skip


def _ogr_geometry_type(esri: str | None) -> str:
    return {
        "esriGeometryPoint": "Point",
        "esriGeometryMultipoint": "MultiPoint",
        "esriGeometryPolyline": "MultiLineString",
        "esriGeometryPolygon": "MultiPolygon",
    }.get(str(esri), "Unknown")


def _cast(values: pd.Series, dtype: str | None) -> pd.Series:
    """Cast a page column to the layer's published type (bad values become null)."""
    if dtype is None:
        return values.astype("string") if values.dtype == object else values
    if dtype == "date":
        if pd.api.types.is_numeric_dtype(values):
            return pd.to_datetime(values, unit="ms", utc=True, errors="coerce")
        return pd.to_datetime(values, utc=True, errors="coerce")
    if dtype == "string":
        return values.astype("string")
    numeric = pd.to_numeric(values, errors="coerce").astype("float64")
    if dtype == "Int64":
        finite = numeric.dropna()
        if (finite == np.round(finite)).all():
            return numeric.astype("Int64")
    return numeric
