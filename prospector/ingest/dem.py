"""Download a DEM for an area from an ArcGIS image service (``exportImage``), in tiles.

The USGS 3DEP elevation service (an ArcGIS ImageServer) returns GeoTIFFs of any box at
a requested size, up to the service's ``maxImageWidth`` x ``maxImageHeight``.  A state
at 0.0025 degrees (about 250 m) is a few thousand pixels a side, so the area is cut into
tiles that fit, each tile is downloaded into the cache with :func:`fetch_file`
(retries, resume, Retry-After), and the tiles are mosaicked into one GeoTIFF written
atomically.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import rasterio
import rasterio.merge
import requests

from prospector._runtime import atomic_output
from prospector.errors import FetchError
from prospector.ingest._arcgis_rest import ArcGISClient
from prospector.ingest.download import fetch_file

__all__ = ["export_image"]

_DEFAULT_MAX_PIXELS = 4000


def export_image(
    service_url: str,
    out: str | os.PathLike[str],
    *,
    bbox: tuple[float, float, float, float],
    resolution_deg: float = 0.0025,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout_s: float = 60.0,
    retries: int = 3,
    backoff_s: float = 0.5,
    progress: Callable[[int, int | None, str], None] | None = None,
) -> Path:
    """Export ``bbox`` from an ArcGIS ImageServer as one float32 GeoTIFF in EPSG:4326.

    Parameters
    ----------
    service_url : str
        The ImageServer URL (``.../ImageServer``).
    out : path
        GeoTIFF to write (atomically).
    bbox : tuple of float
        ``(west, south, east, north)`` in degrees.
    resolution_deg : float, default 0.0025
        Pixel size in degrees.
    cache_dir, timeout_s, retries, backoff_s
        Passed to :func:`prospector.ingest.download.fetch_file` for every tile.
    progress : callable, optional
        ``progress(tiles_done, tiles_total, "tiles")``.

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    prospector.errors.FetchError
        The metadata or a tile could not be downloaded, or a tile is not a raster.
    """
    url = service_url.rstrip("/")
    if not resolution_deg > 0:
        raise FetchError(f"resolution_deg must be > 0, got {resolution_deg!r}.")
    max_w, max_h = _max_size(url, timeout_s, retries, backoff_s)
    west, south, east, north = bbox
    width = max(1, math.ceil((east - west) / resolution_deg))
    height = max(1, math.ceil((north - south) / resolution_deg))
    nx, ny = math.ceil(width / max_w), math.ceil(height / max_h)
    tiles: list[Path] = []
    for j in range(ny):
        for i in range(nx):
            tw = min(max_w, width - i * max_w)
            th = min(max_h, height - j * max_h)
            x0 = west + i * max_w * resolution_deg
            y1 = north - j * max_h * resolution_deg
            box = (x0, y1 - th * resolution_deg, x0 + tw * resolution_deg, y1)
            query = urlencode({
                "bbox": ",".join(f"{v:.8f}" for v in box), "bboxSR": "4326",
                "imageSR": "4326", "size": f"{tw},{th}", "format": "tiff",
                "pixelType": "F32", "interpolation": "RSP_BilinearInterpolation",
                "f": "image",
            })  # fmt: skip
            tiles.append(
                fetch_file(
                    f"{url}/exportImage?{query}",
                    cache_dir=cache_dir,
                    timeout_s=timeout_s,
                    retries=retries,
                    backoff_s=backoff_s,
                )
            )
            if progress is not None:
                progress(len(tiles), nx * ny, "tiles")
    try:
        sources = [rasterio.open(p) for p in tiles]
    except rasterio.errors.RasterioIOError as exc:
        for p in tiles:
            p.unlink(missing_ok=True)  # an HTML error page must not stay in the cache
        raise FetchError(
            f"{url}: an exported tile is not a raster ({exc}). Fix: check the service URL; "
            "the server may have returned an error page."
        ) from exc
    try:
        with warnings.catch_warnings():
            # rasterio's merge multiplies Affine objects with `*` (deprecated in affine 3).
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            mosaic, transform = rasterio.merge.merge(sources)
        profile = sources[0].profile | {
            "driver": "GTiff", "height": mosaic.shape[1], "width": mosaic.shape[2],
            "transform": transform, "compress": "deflate", "tiled": True,
            "blockxsize": 256, "blockysize": 256,
        }  # fmt: skip
    finally:
        for src in sources:
            src.close()
    out_path = Path(out)
    with atomic_output(out_path, overwrite=True) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(mosaic)
    return out_path


def _max_size(url: str, timeout_s: float, retries: int, backoff_s: float) -> tuple[int, int]:
    """``maxImageWidth``/``maxImageHeight`` of the service (4000 when not stated)."""
    with requests.Session() as session:
        client = ArcGISClient(
            session, url, timeout_s=timeout_s, retries=retries, backoff_s=backoff_s
        )
        meta = client.get_json(url, {"f": "json"}, context="reading the image service metadata")
    width = meta.get("maxImageWidth")
    height = meta.get("maxImageHeight")
    return (
        int(width) if isinstance(width, int) and width > 0 else _DEFAULT_MAX_PIXELS,
        int(height) if isinstance(height, int) and height > 0 else _DEFAULT_MAX_PIXELS,
    )
