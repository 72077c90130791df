"""Check a user's file as a layer of one role (``prospector layers check``).

A check is a load without the clip: the file takes the same path
(:func:`~prospector.ingest.layer.load_layer`) a region run gives it, so a file the
check accepts, a run accepts.  Without a catalogue source the file must already use the
canonical column names of its role; when it does not, but its fields are those a
catalogue entry reads, the check says which entry to give with ``--source``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from prospector.catalog import CatalogEntry, LayerRef, find_entry, inline_entry, load_catalog
from prospector.crs import DEFAULT_WORK_CRS, work_crs
from prospector.errors import SchemaError
from prospector.ingest.layer import load_layer
from prospector.ingest.normalize import LayerReport
from prospector.ingest.read import list_fields, list_layers
from prospector.schema.columns import SCHEMAS
from prospector.schema.commodities import load_vocabulary

__all__ = ["check_layer", "matching_sources"]

_MAX_LISTED = 10


def check_layer(
    path: str | Path,
    *,
    role: str,
    source: str | None = None,
    layer: str | None = None,
    list_year: int = 2025,
    crs: str = DEFAULT_WORK_CRS,
    catalog: dict[str, CatalogEntry] | None = None,
) -> LayerReport:
    """Read *path*, check its CRS, normalise it as *role* and reproject it; raise on any problem.

    Repairs (null geometries dropped, invalid geometries made valid, antimeridian
    crossings split, text re-decoded) are announced with warnings and counted in the
    report; everything else is an error naming the file, the feature rows and the fix.

    Parameters
    ----------
    path
        File to check.
    role
        Role it should play (deposits, land, withdrawals, claims, access, evidence, parcels).
    source
        Catalogue entry describing its published schema; by default the file must use the
        canonical column names of *role* (``docs/schemas.md``).
    layer
        Layer inside the file (default: the entry's layer, else the first).
    list_year
        USGS critical-minerals list year of the commodity vocabulary.
    crs
        Work CRS the layer is reprojected to, as a run would.
    catalog
        Catalogue for *source* and for suggestions (default :func:`~prospector.catalog.load_catalog`).

    Returns
    -------
    LayerReport
        Counts of features read, kept and repaired, and unmapped codes.

    Raises
    ------
    prospector.errors.SchemaError
        Every schema problem at once; without *source*, a file that lacks canonical
        columns is told which catalogue entry of *role* reads its fields, if one does.
    prospector.errors.CatalogError
        *source* is unknown or describes another role.
    prospector.errors.LayerReadError, prospector.errors.CRSError
        The file cannot be read, or its CRS is missing or wrong.
    """
    path = Path(path)
    if source is not None:
        entry = find_entry(source, catalog, role=role)
    else:
        entry = inline_entry({"role": role, "layer": layer}, where=str(path), path=path)
    ref = LayerRef(entry, path, layer or entry.layer, entry.where)
    try:
        _gdf, report = load_layer(ref, crs=work_crs(crs), vocabulary=load_vocabulary(list_year))
    except SchemaError as exc:
        hint = None if source is not None else _source_hint(path, role, layer, catalog)
        if hint is None:
            raise
        raise SchemaError(f"{exc}\n{hint}") from exc
    return report


def matching_sources(
    fields: Iterable[str],
    role: str,
    catalog: Mapping[str, CatalogEntry],
    *,
    layer_name: str | None = None,
) -> list[str]:
    """Catalogue entries of *role* that describe a layer with these *fields*.

    An entry matches when every published field it reads is among *fields*, and it
    reads at least one, or its ``layer`` is *layer_name* (entries made of constants
    only).  Entries reading more fields come first (a closer description of the file).
    """
    present = set(fields)
    found = [
        entry
        for entry in catalog.values()
        if entry.role == role
        and set(entry.published_fields) <= present
        and (entry.published_fields or (layer_name is not None and entry.layer == layer_name))
    ]
    found.sort(key=lambda e: (-len(e.published_fields), e.name))
    return [e.name for e in found]


def _source_hint(
    path: Path, role: str, layer: str | None, catalog: dict[str, CatalogEntry] | None
) -> str | None:
    """Say what to do with a file that lacks canonical columns (None when it lacks none)."""
    fields = list_fields(path, layer=layer)
    missing = [
        c.name
        for c in SCHEMAS[role].columns
        if c.required and c.name not in ("source", "commodities") and c.name not in fields
    ]
    if not missing:
        return None
    layer_name = layer if layer is not None else next(iter(list_layers(path)), None)
    catalog = catalog if catalog is not None else load_catalog()
    names = matching_sources(fields, role, catalog, layer_name=layer_name)
    if not names:
        return (
            f"The file is not in the canonical {role} schema (docs/schemas.md): rename its "
            "fields to the canonical names, or give the catalogue entry that describes its "
            "published fields with --source NAME (`prospector layers list`)."
        )
    others = names[1 : 1 + _MAX_LISTED]
    return (
        f"The file is not in the canonical {role} schema, but it matches catalogue source "
        f"{names[0]!r} (its fields and layer)"
        + (f" (and {', '.join(map(repr, others))})" if others else "")
        + f": check it with `prospector layers check {path} --as {role} --source {names[0]}`."
    )
