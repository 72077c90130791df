"""``prospector layers fetch``: download a catalogue source for a region.

A thin wrapper over :func:`prospector.layers.fetch_layer`; register it under the
``layers`` group with ``layers.add_command(fetch)``.  This is the only command that
uses the network.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import click

__all__ = ["fetch"]


@click.command("fetch")
@click.argument("name")
@click.option(
    "--region", "-r", required=True, metavar="REGION",
    help="Region name in layers/regions/ or path of a region .toml file; its boundary "
    "(plus the search margin) sets the area downloaded.",
)  # fmt: skip
@click.option(
    "--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
    help="Download cache folder (default: $PROSPECTOR_CACHE or the user cache folder).",
)  # fmt: skip
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False), default=None,
    help="GeoPackage to write (default: data/NAME.gpkg beside the region file).",
)  # fmt: skip
@click.option("--timeout", "timeout_s", type=float, default=60.0, show_default=True,
              help="Seconds to wait for the server (per request).")  # fmt: skip
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Retries after timeouts, dropped connections and server errors.")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def fetch(
    name: str,
    region: str,
    cache_dir: str | None,
    out: str | None,
    timeout_s: float,
    retries: int,
    overwrite: bool,
) -> None:
    """Download catalogue source NAME for REGION and write it as a GeoPackage.

    The catalogue entry's [download] table says where from: a file (zip archives are
    unpacked safely) or an ArcGIS REST layer.  Only features near the region are kept,
    with the published field names, so the region can use the file with
    `source = "NAME"`.
    """
    from prospector.cli.main import _err, _out, _print_warnings
    from prospector.layers import fetch_layer

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fetch_layer(
            name, region=region, cache_dir=cache_dir, out=out, overwrite=overwrite,
            timeout_s=timeout_s, retries=retries,
        )  # fmt: skip
    _print_warnings(caught)
    relative = Path(os.path.relpath(result.path.resolve(), result.region_path.parent.resolve()))
    _out.print(
        f"wrote {result.path}: {result.n_features:,} features of {name!r} (layer "
        f"{result.layer!r}) from {result.source}"
    )
    _err.print(
        f'To use it, add to {result.region_path}:\n\n[[layers]]\nsource = "{name}"\n'
        f'path = "{relative.as_posix()}"\n',
        markup=False,
    )
