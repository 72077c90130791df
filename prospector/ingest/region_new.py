"""Write a new region file: a boundary and the standard official sources for it.

``prospector region new nevada --state NV`` calls :func:`new_region`, which writes

* ``regions/nevada.toml`` - the region file, listing every source to download with the
  path it will be downloaded to, and
* ``regions/nevada/boundary.gpkg`` - the study-area outline (for ``--state`` the
  bundled Census 1:10M state outline, ``layers/sample/us_states_census_10m.gpkg``).

Nothing is downloaded: ``prospector layers fetch --all --region nevada`` (or
``prospector rank --region nevada --fetch``) does that.  The work CRS follows the area:
Alaska Albers (EPSG:3338) for Alaska, Hawaii Albers (ESRI:102007) for Hawaii, CONUS
Albers (EPSG:5070) elsewhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import geopandas as gpd
import pyogrio
import shapely

from prospector._runtime import atomic_output
from prospector.catalog import CatalogEntry, layers_dir, load_catalog
from prospector.crs import check_layer_crs
from prospector.errors import CatalogError, ConfigError, OutputExistsError, SchemaError
from prospector.ingest.read import read_vector
from prospector.ingest.sources import SOURCE_SETS, sources_for

__all__ = ["NewRegion", "new_region", "state_fips", "work_crs_for"]

#: USPS code -> Census FIPS code of the states and state-equivalents in the bundled file.
_USPS_FIPS: Final = {
    "AL": "01", "AK": "02", "AZ": "04", "AR": "05", "CA": "06", "CO": "08", "CT": "09",
    "DE": "10", "DC": "11", "FL": "12", "GA": "13", "HI": "15", "ID": "16", "IL": "17",
    "IN": "18", "IA": "19", "KS": "20", "KY": "21", "LA": "22", "ME": "23", "MD": "24",
    "MA": "25", "MI": "26", "MN": "27", "MS": "28", "MO": "29", "MT": "30", "NE": "31",
    "NV": "32", "NH": "33", "NJ": "34", "NM": "35", "NY": "36", "NC": "37", "ND": "38",
    "OH": "39", "OK": "40", "OR": "41", "PA": "42", "RI": "44", "SC": "45", "SD": "46",
    "TN": "47", "TX": "48", "UT": "49", "VT": "50", "VA": "51", "WA": "53", "WV": "54",
    "WI": "55", "WY": "56", "AS": "60", "GU": "66", "MP": "69", "PR": "72", "VI": "78",
}  # fmt: skip
_STATES_FILE: Final = "sample/us_states_census_10m.gpkg"
_BOUNDARY_LAYER: Final = "boundary"


@dataclass(frozen=True)
class NewRegion:
    """What :func:`new_region` wrote."""

    path: Path
    """The region file."""
    boundary: Path
    """The boundary GeoPackage."""
    sources: tuple[str, ...]
    """Catalogue entries listed."""
    state_fips: tuple[str, ...]
    """States the area touches (for per-state downloads such as TIGER roads)."""
    work_crs: str


def state_fips(state: str) -> str:
    """Return the FIPS code of a state given as USPS code, FIPS code or name."""
    key = state.strip()
    if key.upper() in _USPS_FIPS:
        return _USPS_FIPS[key.upper()]
    if key.isdigit() and key.zfill(2) in _USPS_FIPS.values():
        return key.zfill(2)
    states = _bundled_states()
    match = states[states["name"].str.lower() == key.lower()]
    if len(match) == 1:
        return str(match["state_fips"].iloc[0])
    from prospector._util import did_you_mean

    raise ConfigError(
        f"unknown state {state!r}.{did_you_mean(key.upper(), _USPS_FIPS)} Give a USPS code "
        "(NV), a FIPS code (32) or a name (Nevada)."
    )


def work_crs_for(outline_lonlat: shapely.Geometry) -> str:
    """Equal-area work CRS for an outline in lon/lat (see module docstring).

    The outline's representative point decides (not its bounds: Alaska's Aleutians cross
    the antimeridian, so its bounds span the globe).
    """
    point = outline_lonlat.representative_point()
    lon, lat = point.x, point.y
    if lat > 50.0 and (lon < -129.0 or lon > 170.0):
        return "EPSG:3338"
    if 18.0 < lat < 23.0 and -161.0 < lon < -154.0:
        return "ESRI:102007"
    return "EPSG:5070"


def new_region(
    name: str,
    *,
    state: str | None = None,
    bbox: Sequence[float] | None = None,
    boundary: str | Path | None = None,
    sources: str = "standard",
    out: str | Path | None = None,
    overwrite: bool = False,
    catalog: dict[str, CatalogEntry] | None = None,
) -> NewRegion:
    """Write a region file and its boundary for a state, a box or a boundary file.

    Parameters
    ----------
    name : str
        Region name: letters, digits, ``-`` and ``_``.
    state : str, optional
        USPS code, FIPS code or name of a state.
    bbox : sequence of float, optional
        ``(west, south, east, north)`` in degrees.
    boundary : path, optional
        Any vector file GDAL reads (with a CRS); its features are dissolved.
    sources : str, default "standard"
        A source set (``standard``, ``land``, ``minimal``) or catalogue entries,
        comma-separated.
    out : path, optional
        Region file to write; default ``regions/NAME.toml`` in the current folder.
    overwrite : bool, default False
        Replace an existing region file and boundary.
    catalog : dict, optional
        Catalogue to check the sources against (default: the bundled catalogue).

    Returns
    -------
    NewRegion

    Raises
    ------
    prospector.errors.ConfigError
        Not exactly one of ``state``, ``bbox``, ``boundary``; bad name or box.
    prospector.errors.CatalogError
        A source is not in the catalogue.
    prospector.errors.OutputExistsError
        The region file or boundary exists and ``overwrite`` is False (nothing written).
    """
    if sum(x is not None for x in (state, bbox, boundary)) != 1:
        raise ConfigError("give exactly one of --state, --bbox or --boundary.")
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ConfigError(
            f"invalid region name {name!r}: use letters, digits, '-' and '_' (e.g. nevada)."
        )
    catalog = catalog if catalog is not None else load_catalog()
    names = sources_for(sources)
    unknown = [n for n in names if n not in catalog]
    if unknown:
        from prospector._util import did_you_mean

        raise CatalogError(
            "unknown source(s): "
            + "; ".join(f"{n!r}{did_you_mean(n, catalog)}" for n in unknown)
            + f". Sets: {', '.join(SOURCE_SETS)}; entries: `prospector layers list`."
        )
    region_path = Path(out) if out is not None else Path("regions") / f"{name}.toml"
    data_dir = region_path.parent / name
    boundary_path = data_dir / "boundary.gpkg"
    for path in (region_path, boundary_path):
        if path.exists() and not overwrite:
            raise OutputExistsError(
                f"{path} already exists; pass --overwrite to replace it, or choose another "
                "name or --out path."
            )

    title, outline, fips = _outline(state, bbox, boundary)
    crs = work_crs_for(outline.geometry.iloc[0])
    text = _region_toml(name, title, crs, names, catalog, fips, state, bbox, boundary)
    with atomic_output(boundary_path, overwrite=overwrite) as tmp:
        pyogrio.write_dataframe(outline, tmp, layer=_BOUNDARY_LAYER, driver="GPKG")
    with atomic_output(region_path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return NewRegion(region_path, boundary_path, names, fips, crs)


def _bundled_states() -> gpd.GeoDataFrame:
    return read_vector(layers_dir() / _STATES_FILE, layer="states")


def _outline(
    state: str | None, bbox: Sequence[float] | None, boundary: str | Path | None
) -> tuple[str, gpd.GeoDataFrame, tuple[str, ...]]:
    """Title, dissolved EPSG:4326 outline and the FIPS codes of the states it touches."""
    states = _bundled_states()
    if state is not None:
        code = state_fips(state)
        row = states[states["state_fips"] == code]
        if row.empty:
            raise ConfigError(f"state FIPS {code} is not in the bundled state outlines.")
        title = str(row["name"].iloc[0])
        geom = shapely.make_valid(row.geometry.union_all())
        return title, _frame(title, geom, "EPSG:4326"), (code,)
    if bbox is not None:
        values = [float(v) for v in bbox]
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise ConfigError(f"--bbox needs four numbers W S E N, got {bbox!r}.")
        west, south, east, north = values
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ConfigError(
                f"invalid --bbox {west} {south} {east} {north}: expected degrees with "
                "W < E and S < N (longitude first)."
            )
        geom = shapely.box(west, south, east, north)
        title = f"Box {west:g} {south:g} {east:g} {north:g}"
    else:
        assert boundary is not None
        raw = read_vector(Path(boundary))
        check_layer_crs(raw, where=str(boundary))
        raw = raw[~(raw.geometry.isna() | raw.geometry.is_empty)]
        if raw.empty:
            raise SchemaError(f"{boundary}: no feature with a geometry: nothing to outline.")
        geom = shapely.make_valid(raw.to_crs("EPSG:4326").geometry.union_all())
        if geom.area == 0:
            raise SchemaError(f"{boundary}: the outline has no area (points or lines?).")
        title = Path(boundary).stem
    touched = states.iloc[sorted(states.sindex.query(geom, predicate="intersects"))]
    fips = tuple(sorted(str(f) for f in touched["state_fips"]))
    return title, _frame(title, geom, "EPSG:4326"), fips


def _frame(title: str, geom: shapely.Geometry, crs: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [title]}, geometry=[geom], crs=crs)


def _q(text: str) -> str:
    """Quote *text* as a TOML basic string (JSON escapes are valid TOML here)."""
    return json.dumps(text, ensure_ascii=False)


def _region_toml(
    name: str,
    title: str,
    crs: str,
    sources: Sequence[str],
    catalog: dict[str, CatalogEntry],
    fips: Sequence[str],
    state: str | None,
    bbox: Sequence[float] | None,
    boundary: str | Path | None,
) -> str:
    how = (
        f"--state {state}" if state is not None
        else f"--bbox {' '.join(f'{float(v):g}' for v in bbox)}" if bbox is not None
        else f"--boundary {boundary}"
    )  # fmt: skip
    lines = [
        f"# Written by `prospector region new {name} {how}`.",
        f"# Download every source: prospector layers fetch --all --region {name}",
        f"name = {_q(name)}",
        f"title = {_q(title)}",
        f"work_crs = {_q(crs)}",
        "",
        "[boundary]",
        f"path = {_q(f'{name}/boundary.gpkg')}",
        f"layer = {_q(_BOUNDARY_LAYER)}",
        "",
    ]
    for source in sources:
        entry = catalog[source]
        url = str(entry.download.get("url", ""))
        suffix = ".tif" if entry.role == "raster" else ".gpkg"
        lines.append(f"# {entry.title} ({entry.publisher})")
        if not entry.download:
            lines.append(f"# No [download] table: get it from {entry.url} and save it here.")
        if "{statefp}" in url:
            for code in fips:
                lines += [
                    "[[layers]]",
                    f"source = {_q(source)}",
                    f"path = {_q(f'{name}/{source}-{code}{suffix}')}",
                    f"params = {{ statefp = {_q(code)} }}",
                    "",
                ]
            continue
        lines += ["[[layers]]", f"source = {_q(source)}",
                  f"path = {_q(f'{name}/{source}{suffix}')}", ""]  # fmt: skip
    return "\n".join(lines)
