"""Write a staking plan: GeoPackage, KML/KMZ and GPX for field GPS, CSV of corners.

``write_plan(plan, "plan.gpkg")`` writes, side by side,

* ``plan.gpkg``: layers ``planned_claims``, ``claim_corners``, ``claim_centrelines`` and
  ``stake_targets`` (NAD83, EPSG:4269), the plan's fees and notes as the
  ``prospector_manifest`` metadata item;
* ``plan.kml`` and ``plan.kmz``: claims, corners and centre lines in folders;
* ``plan.gpx``: GPX 1.1, one waypoint per claim corner and one closed track per claim;
* ``plan_corners.csv``: one row per corner with NAD83 longitude/latitude and UTM.

KML and GPX are defined on WGS 84; the plan's NAD83 coordinates are written unchanged
(the two datums differ by about 1-2 m in the conterminous US, less than a hand-held
GPS), and each file says so.  Every file is written atomically; none is written when
any of them exists and *overwrite* is False.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from prospector._runtime import atomic_output, check_writable
from prospector._util import run_time
from prospector.analysis.stake import NOT_VERIFIED, StakePlan
from prospector.export.gpkg import write_gpkg

__all__ = ["PLAN_LAYERS", "plan_paths", "write_plan"]

#: GeoPackage layer names of a plan (distinct from a ranked run's existing ``claims``).
PLAN_LAYERS = {
    "claims": "planned_claims",
    "corners": "claim_corners",
    "centrelines": "claim_centrelines",
    "targets": "stake_targets",
}

_KML_NS = "http://www.opengis.net/kml/2.2"
_GPX_NS = "http://www.topografix.com/GPX/1/1"
_DATUM_NOTE = (
    "Coordinates are NAD83 longitude/latitude written as WGS 84 (they differ by about "
    "1-2 m in the conterminous US)."
)
_CSV_COLUMNS = [
    "claim_id", "target_id", "corner", "label", "lon", "lat", "utm_zone", "easting",
    "northing", "land_check",
]  # fmt: skip


def plan_paths(path: str | Path) -> dict[str, Path]:
    """Files written for a plan whose GeoPackage is *path*."""
    path = Path(path)
    stem = path.with_suffix("")
    return {
        "gpkg": path,
        "kml": stem.with_suffix(".kml"),
        "kmz": stem.with_suffix(".kmz"),
        "gpx": stem.with_suffix(".gpx"),
        "csv": stem.with_name(stem.name + "_corners.csv"),
    }


def write_plan(plan: StakePlan, path: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Write every file of a plan (see the module docstring); return them by kind."""
    paths = plan_paths(path)
    if paths["gpkg"].suffix.lower() != ".gpkg":
        raise ValueError(f"{paths['gpkg']}: a staking plan is written to a .gpkg file")
    for p in paths.values():  # refuse before writing anything
        check_writable(p, overwrite=overwrite)
    layers = {PLAN_LAYERS[k]: v for k, v in plan.layers().items()}
    write_gpkg(layers, paths["gpkg"], overwrite=overwrite, metadata=plan.metadata(), styles=False)
    kml = _kml(plan).encode("utf-8")
    with atomic_output(paths["kml"], overwrite=overwrite) as tmp:
        tmp.write_bytes(kml)
    with atomic_output(paths["kmz"], overwrite=overwrite) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        info = zipfile.ZipInfo("doc.kml", date_time=run_time().timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, kml)
    with atomic_output(paths["gpx"], overwrite=overwrite) as tmp:
        tmp.write_bytes(_gpx(plan))
    with atomic_output(paths["csv"], overwrite=overwrite) as tmp:
        tmp.write_text(_corners_csv(plan.corners), encoding="utf-8", newline="")
    return paths


def _flag(land_check: str) -> str:
    return " [OWNERSHIP NOT VERIFIED]" if land_check == NOT_VERIFIED else ""


def _corners_csv(corners: gpd.GeoDataFrame) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for row in corners.reindex(columns=_CSV_COLUMNS).itertuples(index=False):
        writer.writerow(row)
    return buf.getvalue()


def _fmt(v: float) -> str:
    return f"{v:.8f}".rstrip("0").rstrip(".")


def _kml_coords(xy: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in xy)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _extended(pm: ET.Element, row: dict[str, Any], keys: Iterable[str]) -> None:
    ext = _sub(pm, "ExtendedData")
    for k in keys:
        v = row.get(k)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            v = ""
        _sub(_sub(ext, "Data", name=k), "value", str(v))


def _claim_description(row: dict[str, Any], fees_per_claim: float) -> str:
    lines = [
        f"{row['length_ft']:,.1f} × {row['width_ft']:,.1f} ft, {row['acres']:.2f} acres"
        + ("" if row["full_size"] else " (shortened)"),
        f"azimuth {row['azimuth_deg']:.1f}° ({row['azimuth_source']})",
        f"target {row['target_id']} (rank {row['rank']}): {row.get('commodities') or '—'}",
        f"PLSS: {row.get('plss') or '—'}; county: {row.get('counties') or '—'}",
        f"BLM fees ${fees_per_claim:,.2f}; land: {row['land_check']}",
    ]
    if row.get("restrictions"):
        lines.append(f"restrictions: {row['restrictions']}")
    if row.get("claims_check"):
        lines.append(row["claims_check"])
    return "\n".join(lines)


def _kml(plan: StakePlan) -> str:
    root = ET.Element("kml", xmlns=_KML_NS)
    doc = _sub(root, "Document")
    _sub(doc, "name", "Prospector staking plan")
    _sub(doc, "description", " ".join([*plan.notes, _DATUM_NOTE, f"Fees: {plan.fees.source}"]))
    for sid, color, width in (("claim", "ff00a5ff", "2"), ("unverified", "ff0000ff", "3")):
        style = _sub(doc, "Style", id=sid)
        line = _sub(style, "LineStyle")
        _sub(line, "color", color)
        _sub(line, "width", width)
        _sub(_sub(style, "PolyStyle"), "fill", "0")
    folder = _sub(doc, "Folder")
    _sub(folder, "name", "Claims")
    keys = [c for c in plan.claims.columns if c != "geometry"]
    for row in plan.claims.to_dict("records"):
        pm = _sub(folder, "Placemark")
        _sub(pm, "name", str(row["claim_id"]) + _flag(row["land_check"]))
        _sub(pm, "description", _claim_description(row, plan.fees.per_claim_usd))
        _sub(pm, "styleUrl", "#unverified" if row["land_check"] == NOT_VERIFIED else "#claim")
        _extended(pm, row, keys)
        ring = shapely.get_coordinates(row["geometry"].exterior)
        boundary = _sub(_sub(_sub(pm, "Polygon"), "outerBoundaryIs"), "LinearRing")
        _sub(boundary, "coordinates", _kml_coords(ring))
    for name, frame in (("Corners", plan.corners), ("Centre lines", plan.centrelines)):
        folder = _sub(doc, "Folder")
        _sub(folder, "name", name)
        keys = [c for c in frame.columns if c != "geometry"]
        for row in frame.to_dict("records"):
            pm = _sub(folder, "Placemark")
            label = row.get("label") or f"{row['claim_id']} centre line"
            _sub(pm, "name", str(label) + _flag(row["land_check"]))
            _extended(pm, row, keys)
            geom = row["geometry"]
            tag = "Point" if geom.geom_type == "Point" else "LineString"
            _sub(_sub(pm, tag), "coordinates", _kml_coords(shapely.get_coordinates(geom)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _gpx(plan: StakePlan) -> bytes:
    ET.register_namespace("", _GPX_NS)
    q = f"{{{_GPX_NS}}}"
    root = ET.Element(f"{q}gpx", {"version": "1.1", "creator": "Prospector"})
    meta = _sub(root, f"{q}metadata")
    _sub(meta, f"{q}name", "Prospector staking plan")
    _sub(meta, f"{q}desc", " ".join([*plan.notes, _DATUM_NOTE]))
    _sub(meta, f"{q}time", run_time().strftime("%Y-%m-%dT%H:%M:%SZ"))
    if len(plan.corners):
        lon, lat = plan.corners["lon"].to_numpy(), plan.corners["lat"].to_numpy()
        _sub(meta, f"{q}bounds", minlat=_fmt(lat.min()), minlon=_fmt(lon.min()),
             maxlat=_fmt(lat.max()), maxlon=_fmt(lon.max()))  # fmt: skip
    for row in plan.corners.to_dict("records"):
        wpt = _sub(root, f"{q}wpt", lat=_fmt(row["lat"]), lon=_fmt(row["lon"]))
        _sub(wpt, f"{q}name", str(row["label"]))
        _sub(wpt, f"{q}desc", f"corner {row['corner']} of claim {row['claim_id']}; UTM "
             f"{row['utm_zone']} {row['easting']:.2f} E {row['northing']:.2f} N; "
             f"{row['land_check']}")  # fmt: skip
        _sub(wpt, f"{q}sym", "Flag, Red" if row["land_check"] == NOT_VERIFIED else "Flag, Blue")
        _sub(wpt, f"{q}type", "claim corner")
    for row in plan.claims.to_dict("records"):
        trk = _sub(root, f"{q}trk")
        _sub(trk, f"{q}name", str(row["claim_id"]))
        _sub(trk, f"{q}desc", _claim_description(row, plan.fees.per_claim_usd))
        _sub(trk, f"{q}type", "claim outline")
        seg = _sub(trk, f"{q}trkseg")
        for x, y in shapely.get_coordinates(row["geometry"].exterior):
            _sub(seg, f"{q}trkpt", lat=_fmt(y), lon=_fmt(x))
    ET.indent(root)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + ET.tostring(root, encoding="utf-8", xml_declaration=False)
        + b"\n"
    )
