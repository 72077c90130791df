"""Map a published layer onto its canonical schema, collecting every problem."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from prospector.catalog.entries import CatalogEntry, FieldMap
from prospector.errors import GeometryRepairWarning, SchemaError, UnmappedCodeWarning
from prospector.schema.columns import SCHEMAS, RoleSchema
from prospector.schema.commodities import CommodityVocabulary, parse_commodities

__all__ = ["LayerReport", "normalize_layer", "polygonal_part"]

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


def normalize_layer(
    raw: gpd.GeoDataFrame,
    entry: CatalogEntry,
    *,
    where: str,
    vocabulary: CommodityVocabulary | None = None,
    repair: bool = True,
) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Map *raw* (as read) onto the canonical schema of ``entry.role``.

    The steps, in order: drop null and empty geometries (counted in a warning); map the
    published fields onto canonical columns; the role's own step (commodity parsing and
    site ids for deposits, the yes/no ``federal`` flag for land, evidence weights);
    check geometry types; repair invalid geometries with :func:`shapely.make_valid`
    (counted in a warning); check unique ids and required values.  Every schema problem
    is collected on the way and raised together in one :class:`SchemaError`.

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
    step = _Step(entry, where, LayerReport(entry.name, entry.role, where, n_read=len(raw)))
    raw = _drop_null_geometries(raw, step)
    out = _map_fields(raw, step)
    role_step = _ROLE_STEPS.get(entry.role)
    if role_step is not None:
        role_step(out, raw, step, vocabulary)
    allowed = _allowed_type_ids(schema)
    _check_geometry_types(raw, allowed, schema, step)
    geometry = _repair_geometries(raw, allowed, step, repair=repair)
    _check_unique(out, schema, step)
    _check_required(out, schema, step)
    if step.problems:
        raise SchemaError(
            f"{len(step.problems)} problem(s) normalising {where} as {entry.role} "
            f"({entry.label}):\n  " + "\n  ".join(step.problems)
        )
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geometry, index=raw.index), crs=raw.crs)
    gdf = gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)].reset_index(drop=True)
    gdf = gdf[[*(c for c in schema.names if c in gdf.columns), "geometry"]]
    step.report.n_kept = len(gdf)
    _warn_defaulted_values(step)
    if entry.role == "deposits":
        _warn_no_known_commodity(gdf, step)
    return gdf, step.report


@dataclass
class _Step:
    """What every normalising step shares: the entry, the place, the report, the problems."""

    entry: CatalogEntry
    where: str
    report: LayerReport
    problems: list[str] = field(default_factory=list)
    missing_fields: dict[str, str] = field(default_factory=dict)
    """Canonical column → its published field, absent from the file (reported once)."""


def _drop_null_geometries(raw: gpd.GeoDataFrame, step: _Step) -> gpd.GeoDataFrame:
    """Refuse an empty layer; drop (and count) features without a geometry."""
    if raw.empty:
        raise SchemaError(
            f"{step.where}: the layer is empty (0 features"
            + (f" after the filter {step.entry.where!r}" if step.entry.where else "")
            + "). Check the file and filter, or remove the layer from the region."
        )
    null = raw.geometry.isna() | raw.geometry.is_empty
    step.report.n_null_geometry = int(null.sum())
    if null.all():
        raise SchemaError(f"{step.where}: all {len(raw)} features have null or empty geometries.")
    if null.any():
        warnings.warn(
            f"{step.where}: dropped {int(null.sum())} of {len(raw)} features with null or empty "
            f"geometry (first rows: {list(raw.index[null][:_MAX_LISTED])}).",
            GeometryRepairWarning,
            stacklevel=3,
        )
        raw = raw.loc[~null]
    return raw


def _map_fields(raw: gpd.GeoDataFrame, step: _Step) -> pd.DataFrame:
    """One canonical column per field map; ``source`` defaults to the entry's name.

    Published fields missing from the file are reported together, as one problem.
    """
    out = pd.DataFrame(index=raw.index)
    for fmap in step.entry.fields:
        out[fmap.column] = _map_column(raw, fmap, step)
    if "source" not in out.columns:
        out["source"] = step.entry.name
    if step.missing_fields:
        fields = ", ".join(map(str, raw.columns.drop(raw.geometry.name, errors="ignore")))
        if all(field == column for column, field in step.missing_fields.items()):
            what = f"column(s) {', '.join(map(repr, step.missing_fields))}"
        else:
            what = "published field(s) " + ", ".join(
                f"{field!r} (for {column!r})" for column, field in step.missing_fields.items()
            )
        step.problems.append(
            f"{step.where}: {what} missing. Fields in the file: {fields or 'none'}."
        )
    return out


def _map_column(raw: pd.DataFrame, fmap: FieldMap, step: _Step) -> pd.Series:
    if fmap.field is None:
        return pd.Series([fmap.constant] * len(raw), index=raw.index)
    if fmap.field not in raw.columns:
        step.missing_fields[fmap.column] = fmap.field
        return pd.Series([None] * len(raw), index=raw.index, dtype=object)
    values = raw[fmap.field]
    if not fmap.values:
        return values
    keys = values.map(lambda v: None if _is_missing(v) else str(v).strip())
    mapped = keys.map(fmap.values)
    unmapped = mapped.isna() & keys.notna()
    if unmapped.any():
        step.report.unmapped_values[fmap.column] = Counter(keys[unmapped])
        if fmap.default is None:
            codes = Counter(keys[unmapped]).most_common(_MAX_LISTED)
            rows = list(raw.index[unmapped][:_MAX_LISTED])
            step.problems.append(
                f"{step.where}: {int(unmapped.sum())} values of {fmap.field!r} have no mapping to "
                f"{fmap.column!r}: {', '.join(f'{c!r} ×{n}' for c, n in codes)} (rows {rows}). "
                f"Add them under [values.{fmap.column}] in the catalogue entry."
            )
    if fmap.default is not None:
        mapped = mapped.where(mapped.notna(), fmap.default)
    return mapped


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _deposits_step(
    out: pd.DataFrame, raw: pd.DataFrame, step: _Step, vocabulary: CommodityVocabulary | None
) -> None:
    """Parse commodity codes into canonical names; prefix site ids with their source."""
    if vocabulary is None:
        raise ValueError("a commodity vocabulary is needed to normalise deposits")
    codes = out["commodity_codes"].astype(object)
    parsed = parse_commodities(codes, vocabulary)
    out["commodities"] = parsed.commodities
    out["commodity_codes"] = codes.where(codes.notna(), "").astype(str)
    step.report.unmapped_commodities = parsed.unmapped
    step.report.ignored_commodities = parsed.ignored
    if parsed.unmapped:
        warnings.warn(
            f"{step.where}: {parsed.summary()}; those codes are kept in `commodity_codes` but "
            "do not count as commodities. Add aliases to the vocabulary to map them.",
            UnmappedCodeWarning,
            stacklevel=3,
        )
    prefix_field = step.entry.options.get("id_prefix_field")
    prefix = step.entry.options.get("id_prefix")
    ids = out["site_id"].astype(str)
    if prefix_field and prefix_field in raw.columns:
        ids = raw[prefix_field].astype(str) + ":" + ids
    elif prefix:
        ids = f"{prefix}:" + ids
    out["site_id"] = ids


def _land_step(
    out: pd.DataFrame, raw: pd.DataFrame, step: _Step, vocabulary: CommodityVocabulary | None
) -> None:
    """Read the ``federal`` flag from yes/no, true/false or 1/0 text."""
    text = out["federal"].map(lambda v: None if _is_missing(v) else str(v).strip().lower())
    parsed = text.map(_BOOLEANS)
    bad = parsed.isna() & text.notna()
    if bad.any():
        values = sorted(set(text[bad]))[:_MAX_LISTED]
        step.problems.append(
            f"{step.where}: {int(bad.sum())} values of 'federal' are not yes/no "
            f"({', '.join(map(repr, values))}; rows {list(out.index[bad][:_MAX_LISTED])}). "
            "Use true/false, 1/0 or yes/no, or map the agency field under [values.federal]."
        )
    out["federal"] = parsed.astype(object).where(parsed.notna(), False).astype(bool)


def _evidence_step(
    out: pd.DataFrame, raw: pd.DataFrame, step: _Step, vocabulary: CommodityVocabulary | None
) -> None:
    """Evidence weights are numbers >= 0; unknown ones count 1."""
    weight = pd.to_numeric(out["weight"], errors="coerce")
    out["weight"] = weight.fillna(1.0).clip(lower=0.0)


_ROLE_STEPS: dict[
    str,
    Callable[[pd.DataFrame, pd.DataFrame, _Step, CommodityVocabulary | None], None],
] = {"deposits": _deposits_step, "land": _land_step, "evidence": _evidence_step}


def _allowed_type_ids(schema: RoleSchema) -> set[int]:
    return {shapely.GeometryType[name.upper()].value for name in schema.geometry}


def _check_geometry_types(
    raw: gpd.GeoDataFrame, allowed: set[int], schema: RoleSchema, step: _Step
) -> None:
    types = shapely.get_type_id(raw.geometry.array)
    wrong = ~np.isin(types, list(allowed))
    if wrong.any():
        found = Counter(types[wrong].tolist())
        names = {g.value: g.name.title() for g in shapely.GeometryType}
        step.problems.append(
            f"{step.where}: {int(wrong.sum())} features have geometry types "
            f"{', '.join(f'{names[t]} ×{n}' for t, n in found.items())}, but {schema.role} need "
            f"{', '.join(schema.geometry)} (rows {list(raw.index[wrong][:_MAX_LISTED])}). "
            "Split the layer by geometry type or convert it (e.g. ogr2ogr -nlt PROMOTE_TO_MULTI)."
        )


def _repair_geometries(
    raw: gpd.GeoDataFrame, allowed: set[int], step: _Step, *, repair: bool
) -> np.ndarray:
    """Make invalid geometries valid; drop (and count) those left with nothing of their type."""
    geometry = raw.geometry.array
    invalid = ~shapely.is_valid(geometry)
    if not invalid.any():
        return geometry
    rows = list(raw.index[invalid][:_MAX_LISTED])
    if not repair:
        step.problems.append(
            f"{step.where}: {int(invalid.sum())} invalid geometries (rows {rows})."
        )
        return geometry
    geometry = geometry.copy()
    fixed = shapely.make_valid(geometry[invalid])
    if step.entry.role in ("land", "withdrawals", "claims", "parcels"):
        # make_valid may return collections; keep the polygonal part.
        fixed = np.array([polygonal_part(g) for g in fixed], dtype=object)
    geometry[invalid] = fixed
    # A repair can leave nothing of the wanted type (a zero-area polygon becomes a line,
    # then nothing polygonal): those features are dropped, and counted.
    emptied = invalid & (
        shapely.is_missing(geometry)
        | shapely.is_empty(geometry)
        | ~np.isin(shapely.get_type_id(geometry), list(allowed))
    )
    geometry[emptied] = None
    report = step.report
    report.n_repaired = int(invalid.sum())
    report.n_repair_dropped = int(emptied.sum())
    dropped = (
        f"; {report.n_repair_dropped} of them had nothing valid of the expected type "
        f"left and were dropped (rows {list(raw.index[emptied][:_MAX_LISTED])})"
        if report.n_repair_dropped
        else ""
    )
    warnings.warn(
        f"{step.where}: repaired {report.n_repaired} invalid geometries (self-intersections, "
        f"bad rings) with make_valid (first rows: {rows}){dropped}. Fix them at the source "
        "to silence this.",
        GeometryRepairWarning,
        stacklevel=3,
    )
    return geometry


def _check_unique(out: pd.DataFrame, schema: RoleSchema, step: _Step) -> None:
    for unique in schema.unique:
        if unique in out.columns and unique not in step.missing_fields:
            dup = out[unique].duplicated(keep=False) & out[unique].notna()
            if dup.any():
                values = out.loc[dup, unique].astype(str).unique()[:_MAX_LISTED]
                step.problems.append(
                    f"{step.where}: {int(dup.sum())} features share a {unique!r} "
                    f"({', '.join(values)}; rows {list(out.index[dup][:_MAX_LISTED])}). Ids "
                    f"must be unique: fix the source or map {unique!r} to a unique field."
                )


def _check_required(out: pd.DataFrame, schema: RoleSchema, step: _Step) -> None:
    """Report features without a value in a required column (missing fields: once, above)."""
    for col in schema.columns:
        if (
            col.required
            and col.name in out.columns
            and col.name != "commodities"
            and col.name not in step.missing_fields
        ):
            missing = out[col.name].isna()
            if missing.any():
                step.problems.append(
                    f"{step.where}: {int(missing.sum())} features have no {col.name!r} "
                    f"(rows {list(out.index[missing][:_MAX_LISTED])}). Fill them or map a "
                    "default in [options.default_values]."
                )


def _warn_defaulted_values(step: _Step) -> None:
    for column, counter in step.report.unmapped_values.items():
        warnings.warn(
            f"{step.where}: {sum(counter.values())} values of {column!r} had no mapping and got "
            f"the default: {', '.join(f'{k!r} ×{n}' for k, n in counter.most_common(5))}.",
            UnmappedCodeWarning,
            stacklevel=3,
        )


def _warn_no_known_commodity(deposits: pd.DataFrame, step: _Step) -> None:
    """Say so when no site has a commodity of the vocabulary: the layer would weigh nothing."""
    if deposits.empty or any(len(names) for names in deposits["commodities"]):
        return
    blank = int((deposits["commodity_codes"].str.strip() == "").sum())
    warnings.warn(
        f"{step.where}: none of the {len(deposits)} features has a commodity Prospector knows "
        f"({blank} have no commodity code at all, {len(deposits) - blank} only unmapped "
        "codes): every site of this layer weighs 0 in the value criterion (without another "
        "deposit layer, value is 0 for every parcel and the ranking rests on the other "
        "criteria alone). Check which field the catalogue entry or the region layer maps to "
        "`commodity_codes` and that it holds commodity names or codes (docs/commodities.md).",
        UnmappedCodeWarning,
        stacklevel=3,
    )


def polygonal_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    """Return the polygons of *geom* (None when it has none): ``make_valid`` may add lines."""
    if geom is None:
        return None
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in (3, 6)]
    if not parts:
        return None
    return shapely.union_all(parts)
