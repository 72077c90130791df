"""``prospector layers``: list, describe, check and fetch layer sources.

Each command parses its options, calls one library function
(:func:`~prospector.catalog.load_catalog`, :func:`~prospector.catalog.find_entry`,
:func:`~prospector.ingest.check_layer`, :func:`~prospector.ingest.fetch_layer`) and
prints the result.  ``fetch`` is the only command that uses the network.
"""

from __future__ import annotations

import warnings

import click
from rich.table import Table

from prospector.cli._console import out, print_warnings
from prospector.schema.columns import SCHEMAS

__all__ = ["layers"]

#: Roles ``layers check --as`` accepts: every vector role of the canonical schemas.
CHECK_ROLES: tuple[str, ...] = tuple(SCHEMAS)


@click.group()
def layers() -> None:
    """List, describe, check and fetch layer sources."""


@layers.command("list")
def layers_list() -> None:
    """List the catalogue's sources."""
    from prospector.catalog import load_catalog

    table = Table(title="Layer catalogue (layers/catalog)")
    for col in ("name", "role", "publisher", "title"):
        table.add_column(col)
    for entry in load_catalog().values():
        table.add_row(entry.name, entry.role, entry.publisher, entry.title)
    out.print(table)


@layers.command("info")
@click.argument("name")
def layers_info(name: str) -> None:
    """Describe catalogue source NAME: publisher, licence, download, field mapping."""
    from prospector.catalog import find_entry

    e = find_entry(name)
    out.print(f"[bold]{e.name}[/] — {e.title}", markup=True)
    for label, value in [
        ("role", e.role),
        ("publisher", e.publisher),
        ("licence", e.licence),
        ("url", e.url),
        ("download", e.download.get("url", "—")),
        ("native CRS", e.native_crs or "—"),
        ("format", e.format),
        ("layer", e.layer or "—"),
        ("filter", e.where or "—"),
    ]:
        out.print(f"  {label:>10}: {value}")
    if e.description:
        out.print("  " + " ".join(e.description.split()))
    table = Table(title="canonical column ← published field")
    for col in ("column", "from", "value mapping"):
        table.add_column(col)
    for f in e.fields:
        source = f.field if f.field is not None else f"constant {f.constant!r}"
        mapping = ", ".join(f"{k}→{v}" for k, v in list(f.values.items())[:8])
        if len(f.values) > 8:
            mapping += f", … ({len(f.values)} in all)"
        table.add_row(f.column, source, mapping)
    out.print(table)


@layers.command("check")
@click.argument("path", type=click.Path())
@click.option(
    "--as", "role", required=True, type=click.Choice(CHECK_ROLES), help="Role the file should play."
)
@click.option(
    "--source",
    default=None,
    help="Catalogue entry describing the file's published fields (default: the file uses "
    "the canonical column names of the role; see docs/schemas.md).",
)
@click.option("--layer", default=None, help="Layer name inside the file.")
def layers_check(path: str, role: str, source: str | None, layer: str | None) -> None:
    """Check the file at PATH as a layer of ROLE and report every problem at once.

    The file takes the path a ranking run gives it (read, CRS check, normalising,
    reprojection), without the clip to a region.
    """
    from prospector.ingest import check_layer

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = check_layer(path, role=role, source=source, layer=layer)
    print_warnings(caught)
    out.print(
        f"OK: {path} is a valid {role} layer — {report.n_kept} of {report.n_read} features kept"
        + (f", {report.n_repaired} repaired" if report.n_repaired else "")
        + (
            f", {sum(report.unmapped_commodities.values())} unmapped commodity codes"
            if report.unmapped_commodities
            else ""
        )
        + "."
    )
