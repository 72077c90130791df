"""Catalogue entries: one TOML file per published source."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prospector._compat import tomllib
from prospector._util import check_keys, did_you_mean
from prospector.errors import CatalogError
from prospector.schema.columns import ROLES, SCHEMAS

__all__ = ["CatalogEntry", "FieldMap", "find_entry", "layers_dir", "load_catalog", "load_entry"]

_ENTRY_KEYS = {
    "name",
    "title",
    "role",
    "publisher",
    "licence",
    "url",
    "download",
    "native_crs",
    "format",
    "layer",
    "where",
    "description",
    "fields",
    "constants",
    "values",
    "options",
    "raster",
    "positional_accuracy_m",
}
_OPTION_KEYS = {"id_prefix_field", "id_prefix", "weight_scale", "default_values"}
_RASTER_KEYS = {"kind", "categorical", "units", "nodata", "categories"}


@dataclass(frozen=True)
class FieldMap:
    """How one canonical column is derived from a published layer.

    Exactly one of ``field`` (copy a published field, mapping values through ``values``)
    or ``constant`` (a fixed value) is set.
    """

    column: str
    field: str | None = None
    constant: Any = None
    values: dict[str, Any] = dataclasses.field(default_factory=dict)
    default: Any = None


@dataclass(frozen=True)
class CatalogEntry:
    """One published source, described declaratively."""

    name: str
    title: str
    role: str
    publisher: str
    licence: str
    url: str
    native_crs: str | None
    format: str
    fields: tuple[FieldMap, ...]
    layer: str | None = None
    where: str | None = None
    description: str = ""
    download: dict[str, Any] = dataclasses.field(default_factory=dict)
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    raster: dict[str, Any] = dataclasses.field(default_factory=dict)
    path: Path | None = None
    inline: bool = False
    """True for a mapping written in a region file (or the canonical names), not a catalogue file."""
    positional_accuracy_m: float | None = None
    """How far a published position or boundary may lie from the truth (metres), from the
    publication scale or the publisher's statement; None: not stated (taken as exact).
    Withdrawals known only to this accuracy do not close ground outright
    (``land_status = "verify_boundary"``)."""

    @property
    def label(self) -> str:
        """How messages name this entry: ``catalogue entry 'x'`` or the inline mapping."""
        if self.inline:
            return "no catalogue entry: canonical names or the region's own mapping"
        return f"catalogue entry {self.name!r}"

    @property
    def published_fields(self) -> tuple[str, ...]:
        """Published field names this entry reads."""
        return tuple(f.field for f in self.fields if f.field is not None)

    def field_map(self, column: str) -> FieldMap | None:
        """Return the mapping of canonical *column*, or None."""
        for f in self.fields:
            if f.column == column:
                return f
        return None


def layers_dir() -> Path:
    """Return the ``layers/`` directory (catalogue, regions and embedded sample).

    ``$PROSPECTOR_LAYERS`` wins; otherwise the ``layers/`` folder beside the package
    (a source checkout or an editable install).
    """
    env = os.environ.get("PROSPECTOR_LAYERS")
    if env:
        path = Path(env)
        if not path.is_dir():
            raise CatalogError(
                f"PROSPECTOR_LAYERS={env!r} is not a directory. Point it at the project's "
                "layers/ folder (it holds catalog/, regions/ and sample/)."
            )
        return path
    path = Path(__file__).resolve().parents[2] / "layers"
    if not path.is_dir():
        raise CatalogError(
            f"cannot find the layers/ folder (looked in {path}). Install Prospector from a "
            "source checkout (`pip install -e .`) or set PROSPECTOR_LAYERS to its layers/ folder."
        )
    return path


def _parse_entry(data: dict[str, Any], *, where: str) -> CatalogEntry:
    problems = check_keys(data, _ENTRY_KEYS, where=where)
    for key in ("name", "title", "role", "publisher", "licence", "url", "format"):
        if not isinstance(data.get(key), str) or not data.get(key):
            problems.append(f"{where}: missing or empty string {key!r}.")
    role = data.get("role")
    if isinstance(role, str) and role not in ROLES:
        problems.append(
            f"{where}: role {role!r} is not one of {', '.join(ROLES)}.{did_you_mean(role, ROLES)}"
        )
    fields_tab = data.get("fields", {})
    constants = data.get("constants", {})
    values = data.get("values", {})
    options = data.get("options", {})
    raster = data.get("raster", {})
    problems += check_keys(options, _OPTION_KEYS, where=f"{where} [options]")
    problems += check_keys(raster, _RASTER_KEYS, where=f"{where} [raster]")
    maps: list[FieldMap] = []
    if role in SCHEMAS:
        schema = SCHEMAS[role]
        allowed = {*schema.names, "geometry"}
        problems += check_keys(fields_tab, allowed, where=f"{where} [fields]")
        problems += check_keys(constants, allowed, where=f"{where} [constants]")
        problems += check_keys(values, allowed, where=f"{where} [values]")
        defaults = options.get("default_values", {})
        for col in schema.columns:
            if col.name in fields_tab and col.name in constants:
                problems.append(f"{where}: {col.name!r} is both in [fields] and [constants].")
            if col.name in fields_tab:
                vmap = values.get(col.name, {})
                if col.allowed:
                    for pub, canon in vmap.items():
                        if canon not in col.allowed:
                            problems.append(
                                f"{where} [values.{col.name}]: {pub!r} maps to {canon!r}, "
                                f"not one of {', '.join(col.allowed)}."
                            )
                maps.append(
                    FieldMap(
                        col.name,
                        field=fields_tab[col.name],
                        values=dict(vmap),
                        default=defaults.get(col.name),
                    )
                )
            elif col.name in constants:
                maps.append(FieldMap(col.name, constant=constants[col.name]))
            elif col.required and not (
                col.name == "commodities" and "commodity_codes" in fields_tab
            ):
                if col.name in ("source",):
                    continue  # defaults to the entry name
                problems.append(
                    f"{where}: canonical column {col.name!r} has no mapping; add it under "
                    "[fields] (published field name) or [constants] (fixed value)."
                )
    accuracy = data.get("positional_accuracy_m")
    if accuracy is not None and (
        isinstance(accuracy, bool)
        or not isinstance(accuracy, (int, float))
        or not (0 <= accuracy < 1e7)
    ):
        problems.append(
            f"{where}: positional_accuracy_m must be a number of metres >= 0; got {accuracy!r}."
        )
        accuracy = None
    if problems:
        raise CatalogError("invalid catalogue entry:\n  " + "\n  ".join(problems))
    return CatalogEntry(
        name=data["name"],
        title=data["title"],
        role=data["role"],
        publisher=data["publisher"],
        licence=data["licence"],
        url=data["url"],
        native_crs=data.get("native_crs"),
        format=data["format"],
        fields=tuple(maps),
        layer=data.get("layer"),
        where=data.get("where"),
        description=data.get("description", ""),
        download=dict(data.get("download", {})),
        options=dict(options),
        raster=dict(raster),
        positional_accuracy_m=float(accuracy) if accuracy is not None else None,
    )


def load_entry(path: str | Path) -> CatalogEntry:
    """Load and validate one catalogue file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"catalogue file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML ({exc}). Fix the syntax.") from exc
    entry = _parse_entry(data, where=str(path))
    if entry.name != path.stem:
        raise CatalogError(f"{path}: name {entry.name!r} must equal the file name {path.stem!r}.")
    return CatalogEntry(**{**entry.__dict__, "path": path})


def load_catalog(directory: str | Path | None = None) -> dict[str, CatalogEntry]:
    """Load every ``*.toml`` entry of the catalogue, keyed by name.

    Every problem in every file is collected and reported in one :class:`CatalogError`.
    """
    directory = Path(directory) if directory is not None else layers_dir() / "catalog"
    entries: dict[str, CatalogEntry] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            entries[path.stem] = load_entry(path)
        except CatalogError as exc:
            problems.append(str(exc))
    if problems:
        raise CatalogError("\n".join(problems))
    return entries


def find_entry(
    name: str,
    catalog: dict[str, CatalogEntry] | None = None,
    *,
    role: str | None = None,
) -> CatalogEntry:
    """Return catalogue entry *name*, or fail with a message that says how to find one.

    Parameters
    ----------
    name
        Entry name (``layers/catalog/NAME.toml``).
    catalog
        Catalogue to look in (default :func:`load_catalog`).
    role
        When given, the entry must describe a layer of this role.

    Raises
    ------
    prospector.errors.CatalogError
        No such entry (with the closest names), or an entry of another role.
    """
    catalog = catalog if catalog is not None else load_catalog()
    entry = catalog.get(name)
    if entry is None:
        raise CatalogError(
            f"no catalogue entry {name!r}.{did_you_mean(name, catalog)} "
            "See `prospector layers list`."
        )
    if role is not None and entry.role != role:
        same_role = sorted(n for n, e in catalog.items() if e.role == role)
        raise CatalogError(
            f"catalogue entry {name!r} describes {entry.role} layers, not {role}. "
            f"Entries for {role}: {', '.join(same_role) or 'none'}."
        )
    return entry
