"""Hillshade of a DEM, warped to Web Mercator for an image overlay."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject

__all__ = ["hillshade_from_dem"]

Bounds = tuple[float, float, float, float]


def hillshade_from_dem(
    dem_path: str | Path,
    *,
    max_size: int = 1024,
    azimuth_deg: float = 315.0,
    altitude_deg: float = 45.0,
    z_factor: float = 1.0,
    valid_range: tuple[float, float] | None = None,
) -> tuple[np.ndarray, Bounds]:
    """Compute a hillshade from a DEM and warp it to Web Mercator (EPSG:3857).

    The DEM is read at reduced resolution (its longest side at most *max_size* pixels),
    shaded in its own CRS (metres; geographic DEMs are scaled by the cosine of their
    mid-latitude) and warped to a north-up EPSG:3857 grid, so that an ``L.imageOverlay``
    stretched over the returned lon/lat bounds lines up exactly with Leaflet's map.

    Parameters
    ----------
    dem_path
        Any raster rasterio can open; band 1 holds elevations in metres.
    max_size
        Longest side of the returned image, in pixels.
    azimuth_deg, altitude_deg
        Direction and height of the light source, in degrees.
    z_factor
        Vertical exaggeration.
    valid_range
        ``(low, high)``: elevations outside are fill values of a DEM that does not declare
        its NoData (−9999, −32768, 32767 ...).  A reduced pixel whose cells include any is
        left blank, instead of averaging the fill into the terrain (a cliff of kilometres
        at every edge of the data).  Declared NoData is always left out.

    Returns
    -------
    shade, bounds
        ``uint8`` array (0 = no data, 1..255 = dark..bright) and its outer edges as
        ``(west, south, east, north)`` in degrees.
    """
    with warnings.catch_warnings():
        # rasterio <= 1.4 composes affine transforms with `*`, which affine >= 3.1 flags.
        warnings.filterwarnings(
            "ignore", message="Use `@` matmul", category=PendingDeprecationWarning
        )
        return _hillshade_3857(
            Path(dem_path), max_size, azimuth_deg, altitude_deg, z_factor, valid_range
        )


def _hillshade_3857(
    dem_path: Path,
    max_size: int,
    azimuth_deg: float,
    altitude_deg: float,
    z_factor: float,
    valid_range: tuple[float, float] | None,
) -> tuple[np.ndarray, Bounds]:
    with rasterio.open(dem_path) as src:
        scale = max(src.width, src.height) / max_size
        out_w = max(2, round(src.width / max(scale, 1.0)))
        out_h = max(2, round(src.height / max(scale, 1.0)))

        transform = _scaled(src.transform, src.width / out_w, src.height / out_h)
        crs = src.crs
        if crs is None:
            raise ValueError(f"DEM {dem_path} has no CRS; expected a georeferenced raster.")
        dem = src.read(1, out_shape=(out_h, out_w), resampling=Resampling.average, masked=True)
        data = np.ma.filled(dem.astype("float64"), np.nan)
        if valid_range is not None:
            # Any fill among the cells under a reduced pixel blanks it: the average above
            # has it mixed in.  The lowest and highest cell per pixel come from GDAL's warper
            # (reads cannot resample by min or max).
            low, high = valid_range
            for how, limit, outside in (
                (Resampling.min, low, np.less),
                (Resampling.max, high, np.greater),
            ):
                extreme = np.full((out_h, out_w), np.nan)
                reproject(
                    rasterio.band(src, 1),
                    extreme,
                    src_transform=src.transform,
                    src_crs=crs,
                    src_nodata=src.nodata,
                    dst_transform=transform,
                    dst_crs=crs,
                    dst_nodata=np.nan,
                    resampling=how,
                )
                with np.errstate(invalid="ignore"):
                    data[outside(extreme, limit)] = np.nan
        dx, dy = abs(transform.a), abs(transform.e)
        if crs.is_geographic:
            mid_lat = transform.f + transform.e * out_h / 2
            dx *= 111_320.0 * np.cos(np.radians(mid_lat))
            dy *= 110_540.0
        shade = _hillshade(data, dx, dy, azimuth_deg, altitude_deg, z_factor)
        dst_transform, dst_w, dst_h = calculate_default_transform(
            crs,
            "EPSG:3857",
            out_w,
            out_h,
            *rasterio.transform.array_bounds(out_h, out_w, transform),
        )
        assert dst_w is not None and dst_h is not None
        scale = max(dst_w, dst_h) / max_size
        if scale > 1:
            dst_w, dst_h = max(1, round(dst_w / scale)), max(1, round(dst_h / scale))
            dst_transform = _scaled(dst_transform, scale, scale)
        out = np.zeros((dst_h, dst_w), dtype="uint8")
        reproject(
            shade,
            out,
            src_transform=transform,
            src_crs=crs,
            dst_transform=dst_transform,
            dst_crs="EPSG:3857",
            src_nodata=0,
            dst_nodata=0,
            resampling=Resampling.bilinear,
        )
    west, north = dst_transform.c, dst_transform.f
    east, south = west + dst_transform.a * dst_w, north + dst_transform.e * dst_h
    to_lonlat = Transformer.from_crs(3857, 4326, always_xy=True)
    lon0, lat0 = to_lonlat.transform(west, south)
    lon1, lat1 = to_lonlat.transform(east, north)
    return out, (float(lon0), float(lat0), float(lon1), float(lat1))


def _scaled(transform: Affine, sx: float, sy: float) -> Affine:
    """Return *transform* with pixels *sx* by *sy* times larger (same origin)."""
    t = transform
    return Affine(t.a * sx, t.b * sy, t.c, t.d * sx, t.e * sy, t.f)


def _hillshade(
    dem: np.ndarray, dx: float, dy: float, azimuth: float, altitude: float, z_factor: float
) -> np.ndarray:
    """Return the Horn-style hillshade of *dem* as uint8 (0 = no data)."""
    filled = np.where(np.isfinite(dem), dem, np.nanmean(dem) if np.isfinite(dem).any() else 0.0)
    d_row, d_col = np.gradient(filled * z_factor, dy, dx)
    dz_east, dz_north = d_col, -d_row  # rows run south
    az, alt = np.radians(azimuth), np.radians(altitude)
    # Lambertian: unit surface normal . unit vector towards the sun.
    value = (
        -dz_east * np.sin(az) * np.cos(alt) - dz_north * np.cos(az) * np.cos(alt) + np.sin(alt)
    ) / np.sqrt(1.0 + dz_east**2 + dz_north**2)
    out = np.clip(value, 0, 1) * 254 + 1
    out[~np.isfinite(dem)] = 0
    return out.astype("uint8")
