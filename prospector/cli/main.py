"""``prospector`` command line: the command group and the entry point.

Each command lives in a module of its own (:mod:`~prospector.cli.rank_cmds`,
:mod:`~prospector.cli.analysis_cmds`, :mod:`~prospector.cli.layers_cmds`) that parses its
options (shared ones from :mod:`~prospector.cli.options`), calls one library function and
prints.  This module imports them; none imports it.

Exit codes: 0 success, 2 bad input or usage (message on stderr, no traceback),
1 unexpected error.  Set ``PROSPECTOR_DEBUG=1`` to see tracebacks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from prospector.cli._console import err, print_error
from prospector.cli._console import out as console
from prospector.cli.analysis_cmds import sensitivity, validate
from prospector.cli.config_cmd import config
from prospector.cli.fetch_cmd import doctor, fetch
from prospector.cli.layers_cmds import layers
from prospector.cli.options import overwrite_option, ranked_argument
from prospector.cli.rank_cmds import demo, map_cmd, rank_cmd, status_cmd
from prospector.cli.region_cmd import region
from prospector.cli.stake_cmd import stake
from prospector.errors import ProspectorError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prospector-minerals")
def cli() -> None:
    """Find and rank US federal land worth exploring for critical minerals."""


@cli.command("export")
@ranked_argument
@click.option(
    "--format",
    "-f",
    "fmt",
    default=None,
    help="Output format (gpkg, shp, geojson, fgb, parquet, csv, kml, kmz); default: from the "
    "suffix of --output.",
)
@click.option("--output", "-o", type=click.Path(), required=True, help="Output file or folder.")
@click.option(
    "--layer",
    "-l",
    "layer_names",
    multiple=True,
    help="Layer(s) to export (repeatable); default all, or 'parcels' for a single-file output.",
)
@overwrite_option
def export_cmd(
    ranked: str, fmt: str | None, output: str, layer_names: tuple[str, ...], overwrite: bool
) -> None:
    """Export RANKED (a prospects.gpkg) to another GIS format."""
    from prospector._runtime import check_writable
    from prospector._util import did_you_mean
    from prospector.export import export_layers, holds_one_layer, read_manifest, read_ranked

    check_writable(output, overwrite=overwrite)  # before any work
    layers = read_ranked(ranked)
    if not layer_names and holds_one_layer(output, fmt):
        layer_names = ("parcels",)
        err.print(f"note: {Path(output).name} holds one layer: exporting 'parcels' (use --layer).")
    if layer_names:
        unknown = [n for n in layer_names if n not in layers]
        if unknown:
            raise ProspectorError(
                f"{ranked} has no layer {unknown[0]!r}.{did_you_mean(unknown[0], layers)} "
                f"Layers: {', '.join(layers)}."
            )
        layers = {n: layers[n] for n in layer_names}
    written = export_layers(
        layers, output, fmt=fmt, overwrite=overwrite, metadata=read_manifest(ranked)
    )
    for path in written:
        console.print(f"wrote {path}")


for command in (
    demo,
    rank_cmd,
    map_cmd,
    status_cmd,
    sensitivity,
    validate,
    layers,
    region,
    stake,
    config,
):
    cli.add_command(command)
layers.add_command(fetch)
layers.add_command(doctor)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to exit codes without tracebacks."""
    debug = os.environ.get("PROSPECTOR_DEBUG") == "1"
    try:
        code = cli.main(args=argv, prog_name="prospector", standalone_mode=False)
        if isinstance(code, int) and code:  # click returns an Exit's code without raising
            sys.exit(code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(1)
    except click.ClickException as exc:
        _show_usage_error(exc)
        sys.exit(2)
    except ProspectorError as exc:
        if debug:
            raise
        print_error(str(exc))
        sys.exit(2)
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"unexpected error ({type(exc).__name__}): {exc}\n"
            "This is a bug in Prospector; rerun with PROSPECTOR_DEBUG=1 for the traceback and report it.",
            markup=False,
        )
        sys.exit(1)
    sys.exit(0)


def _show_usage_error(exc: click.ClickException) -> None:
    """Print a usage error as click would, with the one ``error:`` prefix of every error."""
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        err.print(ctx.get_usage(), markup=False, highlight=False)
        help_option = ctx.help_option_names[0] if ctx.help_option_names else "--help"
        err.print(f"Try '{ctx.command_path} {help_option}' for help.\n", markup=False)
    print_error(exc.format_message())


if __name__ == "__main__":  # pragma: no cover
    main()
