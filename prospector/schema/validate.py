"""Validate a user's file against a role's canonical schema (``prospector layers check``)."""

from __future__ import annotations

from pathlib import Path

from prospector.catalog import load_catalog
from prospector.catalog.regions import _inline_entry
from prospector.crs import check_layer_crs, split_antimeridian
from prospector.errors import CatalogError
from prospector.io.read import read_vector
from prospector.schema.commodities import load_vocabulary
from prospector.schema.normalize import LayerReport, normalize_layer

__all__ = ["check_file"]


def check_file(
    path: str | Path,
    *,
    role: str,
    source: str | None = None,
    layer: str | None = None,
    list_year: int = 2025,
) -> LayerReport:
    """Read *path*, check its CRS and normalise it as *role*; raise on any problem.

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
        canonical column names.
    layer
        Layer inside the file.

    Returns
    -------
    LayerReport
        Counts of features read, kept and repaired, and unmapped codes.
    """
    path = Path(path)
    if source is not None:
        catalog = load_catalog()
        if source not in catalog:
            raise CatalogError(f"unknown catalogue entry {source!r}; see `prospector layers list`.")
        entry = catalog[source]
        if entry.role != role:
            raise CatalogError(f"catalogue entry {source!r} has role {entry.role!r}, not {role!r}.")
    else:
        entry = _inline_entry({"role": role}, where=str(path), path=path)
    where = f"{path}" + (f" (layer {layer})" if layer else "")
    raw = read_vector(path, layer=layer or entry.layer, where=entry.where)
    check_layer_crs(raw, where=where)
    raw = split_antimeridian(raw, where=where)
    _gdf, report = normalize_layer(raw, entry, where=where, vocabulary=load_vocabulary(list_year))
    return report
