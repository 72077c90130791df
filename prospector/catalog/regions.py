"""Region files: which files to use for one study area.

Format (TOML)::

    name = "my-area"
    title = "My exploration area"
    work_crs = "EPSG:5070"            # optional; equal-area CRS for areas and distances

    [boundary]                        # the area to tessellate and rank
    path = "data/outline.gpkg"        # relative to this file
    layer = "outline"                 # optional layer name
    where = "name = 'Utah'"           # optional OGR SQL attribute filter

    [[layers]]                        # one table per file
    source = "usgs-mrds"              # a catalogue entry (layers/catalog/usgs-mrds.toml) ...
    path = "data/mrds.gpkg"

    [[layers]]
    role = "withdrawals"              # ... or a role, for a file already in the canonical schema
    path = "data/closed_areas.gpkg"   # (or with [layers.fields]/[layers.constants] mappings)
    [layers.constants]
    kind = "other"
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prospector._util import check_keys, did_you_mean, read_toml
from prospector.catalog.entries import (
    CatalogEntry,
    _parse_entry,
    find_entry,
    layers_dir,
    load_catalog,
)
from prospector.errors import CatalogError
from prospector.schema.columns import ROLES, SCHEMAS

__all__ = ["LayerRef", "Region", "inline_entry", "load_region", "read_region_file"]

_REGION_KEYS = {"name", "title", "description", "work_crs", "boundary", "layers", "notes"}
_LAYER_KEYS = {
    "source",
    "role",
    "path",
    "layer",
    "where",
    "fields",
    "constants",
    "values",
    "name",
    "raster",
    "options",
    "params",
    "x",
    "y",
    "crs",
    "wkt",
    "sheet",
}
#: Layer keys that say how to read a table of points (CSV, Excel).
_POINT_KEYS = ("x", "y", "crs", "wkt", "sheet")
_BOUNDARY_KEYS = {"path", "layer", "where", "name"}


@dataclass(frozen=True)
class LayerRef:
    """One file of a region, with the catalogue entry that explains it."""

    entry: CatalogEntry
    path: Path
    layer: str | None = None
    where: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    """Values for ``{name}`` placeholders of the entry's download URL (e.g. ``statefp``)."""
    points: dict[str, str] = field(default_factory=dict)
    """How to read a table of points: ``x``, ``y``, ``crs``, ``wkt``, ``sheet``."""

    @property
    def role(self) -> str:
        """Role of the layer (deposits, land, withdrawals, ...)."""
        return self.entry.role

    @property
    def name(self) -> str:
        """Catalogue name of the layer."""
        return self.entry.name


@dataclass(frozen=True)
class Region:
    """A study area: a boundary and the layers to analyse."""

    name: str
    title: str
    boundary_path: Path
    boundary_layer: str | None
    boundary_where: str | None
    layers: tuple[LayerRef, ...]
    work_crs: str = "EPSG:5070"
    description: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    path: Path | None = None

    def by_role(self, role: str) -> list[LayerRef]:
        """Layers of one role, in file order."""
        return [ref for ref in self.layers if ref.role == role]

    def missing_roles(self) -> list[str]:
        """Roles with no layer in this region."""
        present = {ref.role for ref in self.layers}
        return [r for r in ROLES if r not in present and r != "parcels"]


def _field_names(path: Path, layer: str | None) -> set[str] | None:
    """Attribute field names of a vector file, or None when it cannot be read (yet)."""
    try:
        import warnings

        import pyogrio

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "more than one layer": the first is what is read
            return {str(name) for name in pyogrio.read_info(path, layer=layer)["fields"]}
    except Exception:
        return None


def inline_entry(spec: dict[str, Any], *, where: str, path: Path) -> CatalogEntry:
    """Build the entry of a file described in a region (``role`` + optional mappings).

    Canonical columns without a mapping are read from fields of the same name; optional
    ones only when the file has them.  ``{"role": ROLE}`` alone describes a file already
    in the canonical schema of ROLE.
    """
    role = spec.get("role")
    if role not in ROLES:
        raise CatalogError(
            f"{where}: give `source` (a catalogue entry) or `role` (one of {', '.join(ROLES)})"
            + (did_you_mean(str(role), ROLES) if role else "")
        )
    fields_tab = dict(spec.get("fields", {}))
    constants = dict(spec.get("constants", {}))
    present = _field_names(path, spec.get("layer"))
    if role in SCHEMAS:
        for col in SCHEMAS[role].columns:
            if col.name == "commodities":
                continue  # derived from commodity_codes through the vocabulary
            optional = not col.required or col.name == "source"
            if optional and present is not None and col.name not in present:
                continue  # optional columns are mapped only when the file has them
            if col.name not in fields_tab and col.name not in constants:
                fields_tab[col.name] = col.name  # the file already uses the canonical name
    data = {
        "name": spec.get("name", path.stem),
        "title": spec.get("name", path.stem),
        "role": role,
        "publisher": "user",
        "licence": "user-supplied",
        "url": str(path),
        "format": path.suffix.lstrip(".") or "unknown",
        "fields": fields_tab,
        "constants": constants,
        "values": spec.get("values", {}),
        "raster": spec.get("raster", {}),
        "options": spec.get("options", {}),
    }
    return dataclasses.replace(_parse_entry(data, where=where), inline=True)


def read_region_file(region: str | Path) -> tuple[Path, dict[str, Any]]:
    """Find a region by name (``layers/regions/NAME.toml``) or path and parse its TOML."""
    path = Path(region)
    if path.suffix != ".toml" and not path.exists():
        regions_dir = layers_dir() / "regions"
        local = Path("regions") / f"{region}.toml"  # written by `prospector region new`
        path = local if local.is_file() else regions_dir / f"{region}.toml"
        if not path.exists():
            known = sorted(
                {p.stem for p in regions_dir.glob("*.toml")}
                | {p.stem for p in Path("regions").glob("*.toml")}
            )
            raise CatalogError(
                f"unknown region {str(region)!r}.{did_you_mean(str(region), known)} "
                f"Known regions: {', '.join(known) or 'none'}; or pass the path of a region file."
            )
    data = read_toml(
        path,
        what="region",
        give="give the path of a region .toml file (or a region name such as utah-sample)",
        error=CatalogError,
    )
    return path, data


def _type_problems(data: dict[str, Any], path: Path) -> list[str]:
    """Values of the wrong type in a region file (tables, text, lists), one problem each."""
    problems = []
    for key in ("name", "title", "description", "work_crs"):
        if key in data and not isinstance(data[key], str):
            problems.append(f"{path}: `{key}` must be text; got {data[key]!r}.")
    if "notes" in data and not (
        isinstance(data["notes"], list) and all(isinstance(n, str) for n in data["notes"])
    ):
        problems.append(f"{path}: `notes` must be a list of text; got {data['notes']!r}.")
    boundary = data.get("boundary")
    if boundary is not None and not isinstance(boundary, dict):
        problems.append(f"{path}: `boundary` must be a table ([boundary]); got {boundary!r}.")
    elif isinstance(boundary, dict):
        for key in ("path", "layer", "where", "name"):
            if key in boundary and not isinstance(boundary[key], str):
                problems.append(f"{path} [boundary]: `{key}` must be text; got {boundary[key]!r}.")
    layers = data.get("layers", [])
    if not isinstance(layers, list):
        problems.append(f"{path}: `layers` must be [[layers]] tables; got {layers!r}.")
        return problems
    for i, spec in enumerate(layers, start=1):
        where = f"{path} [[layers]] #{i}"
        if not isinstance(spec, dict):
            problems.append(f"{where}: must be a table with a `path`; got {spec!r}.")
            continue
        for key in ("path", "source", "role", "layer", "where", "name"):
            if key in spec and not isinstance(spec[key], str):
                problems.append(f"{where}: `{key}` must be text; got {spec[key]!r}.")
    return problems


def load_region(
    region: str | Path,
    *,
    catalog: dict[str, CatalogEntry] | None = None,
    require_files: bool = True,
) -> Region:
    """Load a region by name (``layers/regions/NAME.toml``) or from a region file path.

    Every problem is collected and reported in one :class:`~prospector.errors.CatalogError`.

    Parameters
    ----------
    region
        Region name or path of a region file.
    catalog
        Catalogue the ``source`` names refer to (default :func:`load_catalog`).
    require_files
        Every layer file must exist.  False accepts layers that are not there yet (a
        region that lists the file ``prospector layers fetch`` is about to write); the
        boundary file must always exist.
    """
    path, data = read_region_file(region)
    catalog = catalog if catalog is not None else load_catalog()
    base = path.parent
    problems = check_keys(data, _REGION_KEYS, where=str(path))
    problems += _type_problems(data, path)
    boundary = data.get("boundary")
    if not isinstance(boundary, dict) or not isinstance(boundary.get("path"), str):
        problems.append(f"{path}: missing [boundary] table with a `path`.")
        boundary = {"path": ""}
    else:
        problems += check_keys(boundary, _BOUNDARY_KEYS, where=f"{path} [boundary]")
    refs: list[LayerRef] = []
    layer_specs = data.get("layers", [])
    for i, spec in enumerate(layer_specs if isinstance(layer_specs, list) else [], start=1):
        where = f"{path} [[layers]] #{i}"
        if not isinstance(spec, dict):
            continue  # reported by _type_problems
        problems += check_keys(spec, _LAYER_KEYS, where=where)
        if not spec.get("path"):
            problems.append(f"{where}: missing `path` (the file, relative to the region file).")
            continue
        if any(not isinstance(spec.get(k, ""), str) for k in ("path", "source", "role", "layer")):
            continue  # reported by _type_problems
        if not isinstance(spec.get("where", ""), str):
            continue
        file = (base / spec["path"]).resolve()
        if require_files and not file.exists():
            entry_download = (
                catalog[spec["source"]].download if spec.get("source") in catalog else {}
            )
            problems.append(
                f"{where}: file not found: {file}"
                + (
                    f" (not downloaded yet: run `prospector layers fetch --all --region "
                    f"{region}` or `prospector rank --region {region} --fetch ...`)"
                    if entry_download
                    else ""
                )
            )
        try:
            if "source" in spec:
                entry = find_entry(str(spec["source"]), catalog)
            else:
                entry = inline_entry(spec, where=where, path=file)
        except CatalogError as exc:
            problems.append(f"{where}: {exc}" if "source" in spec else str(exc))
            continue
        params = spec.get("params", {})
        if not isinstance(params, dict):
            problems.append(f'{where}: `params` must be a table, e.g. {{ statefp = "32" }}.')
            params = {}
        refs.append(
            LayerRef(
                entry,
                file,
                spec.get("layer", entry.layer),
                spec.get("where", entry.where),
                params={str(k): str(v) for k, v in params.items()},
                points={k: str(spec[k]) for k in _POINT_KEYS if k in spec},
            )
        )
    boundary_path = (base / boundary["path"]).resolve()
    if boundary["path"] and not boundary_path.exists():
        problems.append(f"{path} [boundary]: file not found: {boundary_path}")
    if problems:
        raise CatalogError("invalid region file:\n  " + "\n  ".join(problems))
    return Region(
        name=data.get("name", path.stem),
        title=data.get("title", data.get("name", path.stem)),
        boundary_path=boundary_path,
        boundary_layer=boundary.get("layer"),
        boundary_where=boundary.get("where"),
        layers=tuple(refs),
        work_crs=data.get("work_crs", "EPSG:5070"),
        description=data.get("description", ""),
        notes=tuple(data.get("notes", ())),
        path=path,
    )
