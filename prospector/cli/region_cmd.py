"""``prospector region new``: write a region file with the standard official sources."""

from __future__ import annotations

import click

__all__ = ["region"]


@click.group()
def region() -> None:
    """Create region files."""


@region.command("new")
@click.argument("name")
@click.option("--state", default=None, help="A state: USPS code (NV), FIPS code or name.")
@click.option("--bbox", nargs=4, type=float, default=None, metavar="W S E N",
              help="A box in degrees: west south east north.")  # fmt: skip
@click.option("--boundary", type=click.Path(exists=True), default=None,
              help="A vector file with the study-area outline (any CRS).")  # fmt: skip
@click.option("--sources", default="standard", show_default=True,
              help="Source set (standard, land, minimal) or catalogue entries, comma-separated; "
              "'standard,padus-manager' adds one.")  # fmt: skip
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="Region file to write (default: regions/NAME.toml).")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace an existing region file.")
def region_new(
    name: str,
    state: str | None,
    bbox: tuple[float, float, float, float] | None,
    boundary: str | None,
    sources: str,
    out: str | None,
    overwrite: bool,
) -> None:
    """Write regions/NAME.toml for a state, a box or a boundary file (nothing is downloaded)."""
    from prospector.cli._console import err as _err
    from prospector.cli._console import out as _out
    from prospector.ingest.region_new import new_region

    result = new_region(
        name, state=state, bbox=bbox, boundary=boundary, sources=sources, out=out,
        overwrite=overwrite,
    )  # fmt: skip
    _out.print(
        f"wrote {result.path} ({len(result.sources)} sources, work CRS {result.work_crs}) "
        f"and {result.boundary}"
    )
    ref = name if out is None else result.path
    _err.print(
        f"Next: prospector rank --region {ref} --fetch --out out/{name}\n"
        f"  (or download first: prospector layers fetch --all --region {ref})",
        markup=False,
    )
