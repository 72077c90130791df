"""Map a published layer onto its canonical schema, collecting every problem."""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector.catalog.entries import CatalogEntry, FieldMap
from prospector.errors import GeometryRepairWarning, SchemaError, UnmappedCodeWarning
from prospector.schema.columns import SCHEMAS
from prospector.schema.commodities import CommodityVocabulary, parse_commodities

__all__ = ["LayerReport", "normalize_layer"]

_MAX_LISTED = 10
_BOOLEANS = {
    "true": True,
    "t": True,
    "1": True,
    "1.0": True,
    "y": True,
    "yes": True,
    "false": False,
    "f": False,
    "0": False,
    "0.0": False,
    "n": False,
    "no": False,
}


@dataclass
class LayerReport:
    """What happened to one layer on its way into the canonical schema."""

    name: str
    role: str
    path: str
    n_read: int = 0
    n_kept: int = 0
    n_null_geometry: int = 0
    n_repaired: int = 0
    n_repair_dropped: int = 0
    n_outside_region: int = 0
    unmapped_values: dict[str, Counter[str]] = field(default_factory=dict)
    unmapped_commodities: Counter[str] = field(default_factory=Counter)
    ignored_commodities: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary (for the manifest)."""
        return {
            "name": self.name,
            "role": self.role,
            "path": self.path,
            "n_read": self.n_read,
            "n_kept": self.n_kept,
            "n_null_geometry": self.n_null_geometry,
            "n_repaired": self.n_repaired,
            "n_repair_dropped": self.n_repair_dropped,
            "n_outside_region": self.n_outside_region,
            "unmapped_values": {k: dict(v.most_common()) for k, v in self.unmapped_values.items()},
            "unmapped_commodity_codes": dict(self.unmapped_commodities.most_common()),
            "n_unmapped_commodity_codes": sum(self.unmapped_commodities.values()),
        }


def _map_column(
    raw: pd.DataFrame, fmap: FieldMap, *, where: str, problems: list[str], report: LayerReport
) -> pd.Series:
    if fmap.field is None:
        return pd.Series([fmap.constant] * len(raw), index=raw.index)
    if fmap.field not in raw.columns:
        problems.append(
            f"{where}: published field {fmap.field!r} (for {fmap.column!r}) is missing. "
            f"Fields in the file: {', '.join(map(str, raw.columns.drop('geometry', errors='ignore')))}."
        )
        return pd.Series([None] * len(raw), index=raw.index, dtype=object)
    values = raw[fmap.field]
    if not fmap.values:
        return values
    keys = values.map(
        lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
    )
    mapped = keys.map(fmap.values)
    unmapped = mapped.isna() & keys.notna()
    if unmapped.any():
        report.unmapped_values[fmap.column] = Counter(keys[unmapped])
        if fmap.default is None:
            codes = Counter(keys[unmapped]).most_common(_MAX_LISTED)
            rows = list(raw.index[unmapped][:_MAX_LISTED])
            problems.append(
                f"{where}: {int(unmapped.sum())} values of {fmap.field!r} have no mapping to "
                f"{fmap.column!r}: {', '.join(f'{c!r} ×{n}' for c, n in codes)} (rows {rows}). "
                f"Add them under [values.{fmap.column}] in the catalogue entry."
            )
    if fmap.default is not None:
        mapped = mapped.where(mapped.notna(), fmap.default)
    return mapped


def normalize_layer(
    raw: gpd.GeoDataFrame,
    entry: CatalogEntry,
    *,
    where: str,
    vocabulary: CommodityVocabulary | None = None,
    repair: bool = True,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Map *raw* (as read) onto the canonical schema of ``entry.role``.

    Null and empty geometries are dropped and invalid ones repaired with
    :func:`shapely.make_valid`, each counted in a warning.  Every schema problem
    (missing fields, unmapped codes without a default, wrong geometry types, duplicate
    ids) is collected and raised together in one :class:`SchemaError`.

    Parameters
    ----------
    raw
        The layer as read, in any CRS.
    entry
        Catalogue entry describing the published schema.
    where
        File and layer, for messages.
    vocabulary
        Commodity vocabulary (deposits only).
    repair
        Repair invalid geometries instead of failing.

    Returns
    -------
    (geopandas.GeoDataFrame, LayerReport)
    """
    schema = SCHEMAS[entry.role]
    report = LayerReport(entry.name, entry.role, where, n_read=len(raw))
    problems: list[str] = []
    if raw.empty:
        raise SchemaError(
            f"{where}: the layer is empty (0 features"
            + (f" after the filter {entry.where!r}" if entry.where else "")
            + "). Check the file and filter, or remove the layer from the region."
        )
    geom = raw.geometry
    null = geom.isna() | geom.is_empty
    report.n_null_geometry = int(null.sum())
    if null.all():
        raise SchemaError(f"{where}: all {len(raw)} features have null or empty geometries.")
    if null.any():
        warnings.warn(
            f"{where}: dropped {int(null.sum())} of {len(raw)} features with null or empty "
            f"geometry (first rows: {list(raw.index[null][:_MAX_LISTED])}).",
            GeometryRepairWarning,
            stacklevel=2,
        )
        raw = raw.loc[~null]

    out = pd.DataFrame(index=raw.index)
    for fmap in entry.fields:
        out[fmap.column] = _map_column(raw, fmap, where=where, problems=problems, report=report)
    if "source" not in out.columns:
        out["source"] = entry.name

    if entry.role == "deposits":
        if vocabulary is None:
            raise ValueError("a commodity vocabulary is needed to normalise deposits")
        codes = out["commodity_codes"].astype(object)
        parsed = parse_commodities(codes, vocabulary)
        out["commodities"] = parsed.commodities
        out["commodity_codes"] = codes.where(codes.notna(), "").astype(str)
        report.unmapped_commodities = parsed.unmapped
        report.ignored_commodities = parsed.ignored
        if parsed.unmapped:
            warnings.warn(
                f"{where}: {parsed.summary()}; those codes are kept in `commodity_codes` but "
                "do not count as commodities. Add aliases to the vocabulary to map them.",
                UnmappedCodeWarning,
                stacklevel=2,
            )
        prefix_field = entry.options.get("id_prefix_field")
        prefix = entry.options.get("id_prefix")
        ids = out["site_id"].astype(str)
        if prefix_field and prefix_field in raw.columns:
            ids = raw[prefix_field].astype(str) + ":" + ids
        elif prefix:
            ids = f"{prefix}:" + ids
        out["site_id"] = ids
    if entry.role == "land":
        text = out["federal"].map(
            lambda v: (
                None
                if v is None or (isinstance(v, float) and np.isnan(v))
                else str(v).strip().lower()
            )
        )
        parsed = text.map(_BOOLEANS)
        bad = parsed.isna() & text.notna()
        if bad.any():
            values = sorted(set(text[bad]))[:_MAX_LISTED]
            problems.append(
                f"{where}: {int(bad.sum())} values of 'federal' are not yes/no "
                f"({', '.join(map(repr, values))}; rows {list(out.index[bad][:_MAX_LISTED])}). "
                "Use true/false, 1/0 or yes/no, or map the agency field under [values.federal]."
            )
        out["federal"] = parsed.astype(object).where(parsed.notna(), False).astype(bool)
    if entry.role == "evidence":
        weight = pd.to_numeric(out["weight"], errors="coerce")
        out["weight"] = weight.fillna(1.0).clip(lower=0.0)

    # Geometry: expected types, repair of invalid polygons.
    geometry = raw.geometry.array
    types = pd.Series(shapely.get_type_id(geometry), index=raw.index)
    allowed_ids = {
        shapely.GeometryType[name.upper().replace("MULTI", "MULTI")].value
        for name in (
            "Point",
            "LineString",
            "Polygon",
            "MultiPoint",
            "MultiLineString",
            "MultiPolygon",
        )
        if name in schema.geometry
    }
    wrong = ~types.isin(allowed_ids)
    if wrong.any():
        found = Counter(shapely.get_type_id(geometry[wrong.to_numpy()]).tolist())
        names = {g.value: g.name.title() for g in shapely.GeometryType}
        problems.append(
            f"{where}: {int(wrong.sum())} features have geometry types "
            f"{', '.join(f'{names[t]} ×{n}' for t, n in found.items())}, but {entry.role} need "
            f"{', '.join(schema.geometry)} (rows {list(raw.index[wrong][:_MAX_LISTED])}). "
            "Split the layer by geometry type or convert it (e.g. ogr2ogr -nlt PROMOTE_TO_MULTI)."
        )
    invalid = ~shapely.is_valid(geometry)
    if invalid.any():
        if not repair:
            problems.append(
                f"{where}: {int(invalid.sum())} invalid geometries "
                f"(rows {list(raw.index[invalid][:_MAX_LISTED])})."
            )
        else:
            geometry = geometry.copy()
            fixed = shapely.make_valid(geometry[invalid])
            if entry.role in ("land", "withdrawals", "claims", "parcels"):
                # make_valid may return collections; keep the polygonal part.
                fixed = np.array(
                    [_polygonal(g) for g in fixed],
                    dtype=object,
                )
            geometry[invalid] = fixed
            # A repair can leave nothing of the wanted type (a zero-area polygon becomes a
            # line, then nothing polygonal): those features are dropped, and counted.
            emptied = invalid & (
                shapely.is_missing(geometry)
                | shapely.is_empty(geometry)
                | ~np.isin(shapely.get_type_id(geometry), list(allowed_ids))
            )
            geometry[emptied] = None
            report.n_repaired = int(invalid.sum())
            report.n_repair_dropped = int(emptied.sum())
            dropped = (
                f"; {report.n_repair_dropped} of them had nothing valid of the expected type "
                f"left and were dropped (rows {list(raw.index[emptied][:_MAX_LISTED])})"
                if report.n_repair_dropped
                else ""
            )
            warnings.warn(
                f"{where}: repaired {report.n_repaired} invalid geometries (self-intersections, "
                f"bad rings) with make_valid (first rows: "
                f"{list(raw.index[invalid][:_MAX_LISTED])}){dropped}. Fix them at the source "
                "to silence this.",
                GeometryRepairWarning,
                stacklevel=2,
            )

    for unique in schema.unique:
        if unique in out.columns:
            dup = out[unique].duplicated(keep=False) & out[unique].notna()
            if dup.any():
                values = out.loc[dup, unique].astype(str).unique()[:_MAX_LISTED]
                problems.append(
                    f"{where}: {int(dup.sum())} features share a {unique!r} "
                    f"({', '.join(values)}; rows {list(out.index[dup][:_MAX_LISTED])}). Ids "
                    f"must be unique: fix the source or map {unique!r} to a unique field."
                )
    for col in schema.columns:
        if col.required and col.name in out.columns and col.name != "commodities":
            missing = out[col.name].isna()
            if missing.any():
                problems.append(
                    f"{where}: {int(missing.sum())} features have no {col.name!r} "
                    f"(rows {list(out.index[missing][:_MAX_LISTED])}). Fill them or map a default "
                    f"in [options.default_values]."
                )
    if problems:
        raise SchemaError(
            f"{len(problems)} problem(s) normalising {where} as {entry.role} "
            f"(catalogue entry {entry.name!r}):\n  " + "\n  ".join(problems)
        )
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, index=raw.index), crs=raw.crs)
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)].reset_index(drop=True)
    ordered = [c for c in schema.names if c in gdf.columns]
    gdf = gdf[[*ordered, "geometry"]]
    report.n_kept = len(gdf)
    if report.unmapped_values:
        for column, counter in report.unmapped_values.items():
            warnings.warn(
                f"{where}: {sum(counter.values())} values of {column!r} had no mapping and got "
                f"the default: {', '.join(f'{k!r} ×{n}' for k, n in counter.most_common(5))}.",
                UnmappedCodeWarning,
                stacklevel=2,
            )
    return gdf, report


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    if geom is None:
        return None
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    if not parts:
        return None
    return shapely.union_all(parts)
