"""CSV export: a table per layer that spreadsheets and pandas read.

Attributes as they are (lists joined with ``; ``), the centroid as ``lon``/``lat`` in
EPSG:4326 (computed in a projected CRS, so it is the true centroid) and, optionally,
the geometry as WKT in EPSG:4326.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from prospector.errors import ProspectorError
from prospector.export.gpkg import flatten_lists

__all__ = ["write_csv_layer"]

_LONLAT = "EPSG:4326"


def write_csv_layer(
    name: str, gdf: gpd.GeoDataFrame, folder: Path, *, wkt: bool = True
) -> list[Path]:
    """Write layer *name* as ``<folder>/<name>.csv``; with *wkt*, add the geometry as WKT."""
    frame = flatten_lists(gdf)
    geom = frame.geometry
    # Centroids in the layer's CRS when projected (true centroids), then to lon/lat.
    projected = geom if geom.crs.is_projected else geom.to_crs("EPSG:5070")
    centroids = projected.centroid.to_crs(_LONLAT)
    table = pd.DataFrame(frame.drop(columns=geom.name))
    clash = [c for c in ("lon", "lat", "wkt") if c in table.columns]
    if clash:
        raise ProspectorError(
            f"layer {name!r} already has column(s) {', '.join(clash)}, which CSV export adds "
            "(centroid lon/lat, WKT geometry). Rename them before exporting."
        )
    table["lon"] = centroids.x.round(7)
    table["lat"] = centroids.y.round(7)
    if wkt:
        lonlat = geom.to_crs(_LONLAT)
        table["wkt"] = shapely.to_wkt(lonlat.values, rounding_precision=7, trim=True)
    target = folder / f"{name}.csv"
    table.to_csv(target, index=False, encoding="utf-8", lineterminator="\n")
    return [target]
