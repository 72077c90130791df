"""Declarative layer catalogue and region files.

A *catalogue entry* (``layers/catalog/<name>.toml``) describes one published source:
its role, publisher, licence, download location, native CRS and how its published
fields and code values map onto Prospector's canonical schema.  A *region file*
(``layers/regions/<name>.toml``) names the files to use for one study area and
the catalogue entry that explains each of them.  Adding a source needs a new
catalogue file, not new code.
"""

from prospector.catalog.entries import (
    CatalogEntry,
    FieldMap,
    find_entry,
    layers_dir,
    load_catalog,
    load_entry,
)
from prospector.catalog.regions import LayerRef, Region, inline_entry, load_region

__all__ = [
    "CatalogEntry",
    "FieldMap",
    "LayerRef",
    "Region",
    "find_entry",
    "inline_entry",
    "layers_dir",
    "load_catalog",
    "load_entry",
    "load_region",
]
