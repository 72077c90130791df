"""GeoPackage output of a ranking run (layers parcels, deposits, withdrawals, access...).

Besides the layers, the file holds

* the run manifest as the dataset metadata item ``prospector_manifest`` (GDAL stores it
  in the standard ``gpkg_metadata`` table, scope ``geopackage``; ``ogrinfo`` prints it);
* QGIS layer styles in the ``layer_styles`` table of the QGIS GeoPackage styling
  convention, so QGIS opens each layer styled (see :mod:`prospector.export.styles`).

pyogrio (GDAL) is imported by the functions that read and write GeoPackages: the other
writers use :func:`flatten_lists` from here without loading it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd

from prospector._runtime import atomic_output
from prospector._util import run_time
from prospector.errors import ProspectorError

__all__ = ["flatten_lists", "read_manifest", "read_ranked", "read_styles", "write_gpkg"]

#: GeoPackage version written: 1.3 opens without warnings in GDAL >= 3.x and QGIS >= 3.16
#: (GDAL 3.12 would otherwise write 1.4, which GDAL 3.6 / QGIS 3.22 flag as partly supported).
_GPKG_VERSION = "1.3"

#: Table of the QGIS GeoPackage styling convention, exactly as QGIS creates it.
_LAYER_STYLES_DDL = """
CREATE TABLE layer_styles (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    f_table_catalog TEXT(256),
    f_table_schema TEXT(256),
    f_table_name TEXT(256),
    f_geometry_column TEXT(256),
    styleName TEXT(30),
    styleQML TEXT,
    styleSLD TEXT,
    useAsDefault BOOLEAN,
    description TEXT,
    owner TEXT(30),
    ui TEXT(30),
    update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
)
"""

#: Descriptions stored in ``gpkg_contents`` (shown by QGIS and ``ogrinfo``).
_DESCRIPTIONS = {
    "parcels": "Ranked parcels: rank 1 = best; see the prospector_manifest metadata item.",
    "excluded_parcels": "Parcels not ranked (closed to mineral entry or filtered), with status.",
    "deposits": "Known mineral sites with commodity group, weight and parcel.",
    "withdrawals": "Areas withdrawn from mineral entry.",
    "access": "Roads, railways and power lines used for the access criterion.",
    "evidence": "Vector geological evidence (faults...).",
    "boundary": "Study-area boundary.",
    "land": "Surface management / ownership.",
    "claims": "Mining claims.",
}


def _timestamp() -> str:
    """GeoPackage time stamp (UTC, ms): ``$SOURCE_DATE_EPOCH`` when set, else now."""
    when = run_time()
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@contextlib.contextmanager
def _gdal_current_date(stamp: str) -> Iterator[None]:
    """Make GDAL write *stamp* as gpkg_contents.last_change and metadata timestamps."""
    import pyogrio

    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


def flatten_lists(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Turn list-valued columns (``commodities``) into '; '-joined strings for file formats."""
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name or out[col].dtype != object:
            continue
        sample = out[col].dropna()
        if len(sample) and isinstance(sample.iloc[0], (list, tuple)):
            out[col] = out[col].map(lambda v: "; ".join(v) if isinstance(v, (list, tuple)) else v)
    return out


def write_gpkg(
    layers: dict[str, gpd.GeoDataFrame],
    path: str | Path,
    *,
    overwrite: bool = False,
    metadata: dict[str, Any] | None = None,
    styles: bool = True,
) -> Path:
    """Write several layers to one GeoPackage atomically.

    Parameters
    ----------
    layers
        Layer name → GeoDataFrame (list columns are flattened; None layers skipped).
    path
        Output ``.gpkg``.
    overwrite
        Replace an existing file.
    metadata
        JSON-serialisable run manifest, stored as the ``prospector_manifest`` dataset
        metadata item (table ``gpkg_metadata``; visible with ``ogrinfo``).
    styles
        Store QGIS layer styles (graduated score on parcels, categorized deposits,
        withdrawal outlines...) in the ``layer_styles`` table, used by QGIS as each
        layer's default style.

    Returns
    -------
    pathlib.Path
        *path*.
    """
    import pyogrio

    from prospector.export.styles import layer_qml

    path = Path(path)
    stamp = _timestamp()
    with atomic_output(path, overwrite=overwrite) as tmp, _gdal_current_date(stamp):
        written: dict[str, str] = {}
        first = True
        for name, gdf in layers.items():
            if gdf is None:
                continue
            frame = flatten_lists(gdf)
            extra: dict[str, Any] = {}
            if first:
                extra["dataset_options"] = {"VERSION": _GPKG_VERSION}
                if metadata is not None:
                    extra["dataset_metadata"] = {
                        "prospector_manifest": json.dumps(metadata, sort_keys=True, default=str)
                    }
            options = {"DESCRIPTION": _DESCRIPTIONS[name]} if name in _DESCRIPTIONS else {}
            pyogrio.write_dataframe(
                frame, tmp, layer=name, driver="GPKG", append=not first,
                layer_options=options, **extra,
            )  # fmt: skip
            first = False
            if styles:
                qml = layer_qml(name, frame)
                if qml is not None:
                    written[name] = qml
        if first:
            raise ProspectorError(
                f"nothing to write to {path}: every layer is missing (None). Pass at least one "
                "GeoDataFrame, e.g. {'parcels': result.parcels}."
            )
        if written:
            _write_layer_styles(tmp, written, stamp)
    return path


def _write_layer_styles(path: Path, styles: Mapping[str, str], stamp: str) -> None:
    """Add the QGIS ``layer_styles`` table to a closed GeoPackage (one default style a layer)."""
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        geom_cols = dict(
            con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall()
        )
        con.execute(_LAYER_STYLES_DDL)
        # Registered as an attributes table so GDAL and QGIS see a valid GeoPackage.
        con.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
            "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
            "'QGIS layer styles', ?)",
            (stamp,),
        )
        con.executemany(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, "
            "owner, ui, update_time) VALUES ('', '', ?, ?, ?, ?, '', 1, ?, 'prospector', NULL, ?)",
            [
                (name, geom_cols.get(name, "geom"), f"prospector {name}", qml,
                 f"Prospector default style for {name}", stamp)
                for name, qml in styles.items()
            ],
        )  # fmt: skip


def read_styles(path: str | Path) -> dict[str, str]:
    """Return the default QGIS styles stored in a GeoPackage (layer name → QML text)."""
    with contextlib.closing(sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)) as con:
        has = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'layer_styles'"
        ).fetchone()
        if not has:
            return {}
        rows = con.execute(
            "SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault ORDER BY id"
        ).fetchall()
    return {name: qml for name, qml in rows}


def read_ranked(path: str | Path) -> dict[str, gpd.GeoDataFrame]:
    """Read every spatial layer of a ranked GeoPackage written by :func:`write_gpkg`.

    Attribute-only tables (``layer_styles``) are skipped.  The run manifest is read with
    :func:`read_manifest`; it is not attached to the frames: pandas deep-copies ``attrs``
    on every column access and operation, which made ``prospector map`` on a saved run
    about 3x slower than the map written by ``rank``.
    """
    from prospector.ingest.read import list_layers, read_vector

    out = {}
    for name in list_layers(path, spatial=True):
        out[name] = read_vector(path, layer=name)
    if "parcels" in out and "rank" in out["parcels"]:
        out["parcels"] = out["parcels"].sort_values("rank").reset_index(drop=True)
    return out


def read_manifest(path: str | Path) -> dict[str, Any] | None:
    """Return the run manifest stored in a GeoPackage, or None."""
    import pyogrio

    # Dataset metadata is the same from any layer; naming layer 0 avoids pyogrio's
    # "more than one layer found" warning.
    meta = pyogrio.read_info(path, layer=0).get("dataset_metadata") or {}
    text = meta.get("prospector_manifest")
    return json.loads(text) if text else None
