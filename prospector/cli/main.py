"""``prospector`` command line: thin wrappers that wire library steps together.

Exit codes: 0 success, 2 bad input or usage (message on stderr, no traceback),
1 unexpected error.  Set ``PROSPECTOR_DEBUG=1`` to see tracebacks.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from prospector.cli._console import err as _err
from prospector.cli._console import out as _out
from prospector.cli._console import print_error, print_warnings
from prospector.errors import ProspectorError

region_option = click.option(
    "--region",
    "-r",
    required=True,
    metavar="REGION",
    help="Region name in layers/regions/ (e.g. utah-sample) or path of a region .toml file.",
)
config_option = click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML configuration file (weights, radii, methods).",
)
overwrite_option = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")


def _top_table(parcels: Any, n: int = 10) -> Table:
    top = parcels.head(n)
    centre = top.geometry.representative_point().to_crs("EPSG:4326")
    table = Table(title=f"Top {len(top)} of {len(parcels):,} ranked parcels", expand=True)
    for name, justify in [
        ("rank", "right"),
        ("parcel_id", "left"),
        ("lon, lat", "left"),
        ("score", "right"),
        ("status", "left"),
        ("sites", "right"),
        ("rail km", "right"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column(
        "critical commodities", no_wrap=True, overflow="ellipsis", ratio=1, min_width=16
    )
    for row, point in zip(top.itertuples(), centre, strict=True):
        rail = "" if row.dist_rail_km != row.dist_rail_km else f"{row.dist_rail_km:.1f}"
        table.add_row(
            str(row.rank),
            row.parcel_id,
            f"{point.x:.3f}, {point.y:.3f}",
            f"{row.score:.3f}",
            row.land_status,
            str(row.n_deposits),
            rail,
            (row.critical_commodities or "—").replace("; ", ", "),
        )
    return table


def _run_rank(
    region: str,
    config_path: str | None,
    out: Path,
    overwrite: bool,
    command: str,
    status: str | None = None,
    method: str | None = None,
    make_map: bool = True,
    engine: str = "memory",
    workers: int | None = None,
    tile_km: float = 150.0,
    scheduler: str | None = None,
) -> None:
    from prospector.config import load_config
    from prospector.outputs import write_run
    from prospector.pipeline import RankResult, rank

    overrides = {"score.status": status, "score.method": method}
    config = load_config(config_path).with_overrides(
        {k: v for k, v in overrides.items() if v is not None}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if engine == "memory":
            result = rank(region, config)
        else:
            from prospector.engine import rank_partitioned
            from prospector.ingest import load_region_data

            ranked = rank_partitioned(
                load_region_data(region, config),
                config,
                engine=engine,
                workers=workers,
                tile_km=tile_km,
                scheduler=scheduler,
            )
            assert isinstance(ranked, RankResult)
            result = ranked
        paths = write_run(result, out, overwrite=overwrite, command=command, make_map=make_map)
    print_warnings(caught)
    for item in result.missing():
        _err.print(f"[bold yellow]missing layer:[/] {item['message']}", markup=True)
    for name, why in result.weights.redistributed.items():
        _err.print(
            f"[yellow]weights:[/] {name} not used ({why}); its weight was redistributed.",
            markup=True,
        )
    _out.print(_top_table(result.parcels))
    _out.print(
        f"{len(result.excluded):,} parcels not ranked (closed to mineral entry or filtered)."
    )
    for key, path in paths.items():
        _out.print(f"{key:>8}: {path}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prospector-minerals")
def cli() -> None:
    """Find and rank US federal land worth exploring for critical minerals."""


@cli.command()
@click.option(
    "--out",
    "-o",
    type=click.Path(file_okay=False),
    default="out/demo",
    show_default=True,
    help="Output folder.",
)
def demo(out: str) -> None:
    """Rank the embedded Utah sample and write prospects.gpkg, prospects.html, manifest.json."""
    _run_rank("utah-sample", None, Path(out), True, _command_line())


@cli.command("rank")
@region_option
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True, help="Output folder.")
@config_option
@click.option(
    "--status",
    type=click.Choice(["any", "open", "not_closed"]),
    default=None,
    help="Rank all parcels, only open/partly open ones, or all but closed ones (default).",
)
@click.option(
    "--method",
    type=click.Choice(["wlc", "gamma", "topsis"]),
    default=None,
    help="Scoring method (default from config: wlc).",
)
@click.option("--no-map", is_flag=True, help="Skip the HTML map.")
@click.option(
    "--fetch",
    "fetch_missing",
    is_flag=True,
    help="First download every source of the region that is not on disk yet "
    "(as `prospector layers fetch --all`); exits 2 without ranking if one fails.",
)
@click.option(
    "--engine",
    type=click.Choice(["memory", "local", "dask"]),
    default="memory",
    show_default=True,
    help="memory: one pass; local: spatial tiles on worker processes; dask: tiles on dask.distributed.",
)
@click.option(
    "--workers", type=click.IntRange(1), default=None, help="Worker processes (local/dask)."
)
@click.option(
    "--tile-km",
    type=click.FloatRange(min=1.0),
    default=150.0,
    show_default=True,
    help="Tile size (local/dask).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="dask scheduler address, e.g. tcp://10.0.0.5:8786 (dask only).",
)
@overwrite_option
def rank_cmd(
    region: str,
    out: str,
    config_path: str | None,
    status: str | None,
    method: str | None,
    no_map: bool,
    fetch_missing: bool,
    engine: str,
    workers: int | None,
    tile_km: float,
    scheduler: str | None,
    overwrite: bool,
) -> None:
    """Rank the parcels of REGION and write the outputs into --out."""
    if scheduler is not None and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    if fetch_missing:
        from prospector.cli.fetch_cmd import fetch_for_region
        from prospector.config import load_config

        fetch_for_region(region, config=load_config(config_path))
    _run_rank(
        region,
        config_path,
        Path(out),
        overwrite,
        _command_line(),
        status=status,
        method=method,
        make_map=not no_map,
        engine=engine,
        workers=workers,
        tile_km=tile_km,
        scheduler=scheduler,
    )


def _command_line() -> str:
    """Return the invoked command with its effective options, for the manifest."""
    ctx = click.get_current_context()
    parts = [ctx.command_path]
    for name, value in sorted(ctx.params.items()):
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-").removesuffix("-path")
        parts.append(flag if value is True else f"{flag} {value}")
    return " ".join(parts)


def _manifest_hillshade(manifest: dict[str, Any]) -> Any:
    """Hillshade from the run's DEM when it is still where the manifest says, unchanged."""
    from prospector.catalog import load_catalog
    from prospector.ingest import file_sha256
    from prospector.render import hillshade_from_dem

    catalog = load_catalog()
    for item in manifest.get("inputs", []):
        entry = catalog.get(str(item.get("name")))
        path = Path(str(item.get("path", "")))
        if item.get("role") != "raster" or entry is None or entry.raster.get("kind") != "dem":
            continue
        if path.is_file() and file_sha256(path) == item.get("sha256"):
            return hillshade_from_dem(path)
        _err.print(f"note: the run's DEM {path} is missing or changed: no hillshade.")
    return None


@cli.command("map")
@click.argument("ranked", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), required=True, help="HTML file to write."
)
@click.option(
    "--basemap",
    type=click.Choice(["none", "osm", "usgs-topo", "usgs-imagery"]),
    default="none",
    show_default=True,
    help="Online basemap (needs network in the browser); none keeps the map offline.",
)
@overwrite_option
def map_cmd(ranked: str, output: str, basemap: str, overwrite: bool) -> None:
    """Render RANKED (a prospects.gpkg) as an interactive offline HTML map."""
    from prospector.export import read_manifest, read_ranked
    from prospector.outputs import map_info, map_lines
    from prospector.render import build_map, write_map

    layers = read_ranked(ranked)
    if "parcels" not in layers:
        raise ProspectorError(
            f"{ranked} has no 'parcels' layer; pass a prospects.gpkg written by `prospector rank`."
        )
    manifest = read_manifest(ranked) or {}
    info = map_info(manifest, region=Path(ranked).stem)
    fmap = build_map(
        layers["parcels"],
        deposits=layers.get("deposits"),
        withdrawals=layers.get("withdrawals"),
        access=map_lines(layers.get("access"), layers.get("evidence")),
        hillshade=_manifest_hillshade(manifest),
        info=info,
        basemap=None if basemap == "none" else basemap,
    )
    path = write_map(fmap, output, overwrite=overwrite)
    _out.print(f"map: {path}")


@cli.command("export")
@click.argument("ranked", type=click.Path(exists=True, dir_okay=False))
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
    from prospector._util import did_you_mean
    from prospector.export import export_layers, holds_one_layer, read_manifest, read_ranked

    layers = read_ranked(ranked)
    if not layer_names and holds_one_layer(output, fmt):
        layer_names = ("parcels",)
        _err.print(f"note: {Path(output).name} holds one layer: exporting 'parcels' (use --layer).")
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
        _out.print(f"wrote {path}")


@cli.command("status")
@click.argument("ranked", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--point",
    nargs=2,
    type=float,
    metavar="LON LAT",
    default=None,
    help="A location in decimal degrees (EPSG:4326), e.g. --point -112.1 39.9",
)
@click.option("--parcel", "parcel_id", default=None, help="A parcel id, e.g. r1238c-845.")
def status_cmd(ranked: str, point: tuple[float, float] | None, parcel_id: str | None) -> None:
    """Land status of a point or a parcel in RANKED (a prospects.gpkg)."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    from prospector.analysis.land import status_at
    from prospector.export import read_ranked

    if (point is None) == (parcel_id is None):
        raise click.UsageError("give exactly one of --point LON LAT or --parcel ID")
    layers = read_ranked(ranked)
    frames = [layers[k] for k in ("parcels", "excluded_parcels") if k in layers]
    if not frames:
        raise ProspectorError(
            f"{ranked} has no parcels layer; pass a prospects.gpkg from `prospector rank`."
        )
    parcels = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    if parcel_id is not None:
        hits = parcels[parcels["parcel_id"] == parcel_id]
        if hits.empty:
            raise ProspectorError(
                f"no parcel {parcel_id!r} in {ranked}; parcel ids look like {parcels['parcel_id'].iloc[0]!r}."
            )
    else:
        assert point is not None
        where = gpd.GeoSeries([shapely.Point(point)], crs="EPSG:4326").to_crs(parcels.crs).iloc[0]
        hits = status_at(parcels, where)
        if hits.empty:
            raise ProspectorError(
                f"the point {point[0]}, {point[1]} (lon, lat) is outside every parcel of {ranked}."
            )
    for row in hits.itertuples():
        r = row._asdict()
        rank = r.get("rank")
        _out.print(
            f"[bold]parcel {r['parcel_id']}[/]  rank: {'—' if rank is None or pd.isna(rank) else int(rank)}",
            markup=True,
        )
        for key in (
            "land_status",
            "status_reason",
            "agency",
            "federal_frac",
            "withdrawn_frac",
            "claimed_frac",
            "open_frac",
            "withdrawals",
            "n_active_claims",
            "area_km2",
        ):
            value = r.get(key)
            if isinstance(value, float):
                value = "unknown" if pd.isna(value) else f"{value:.3f}"
            _out.print(f"  {key:>15}: {value if value not in (None, '') else '—'}")


def _register() -> None:
    from prospector.cli.analysis_cmds import sensitivity, validate
    from prospector.cli.config_cmd import config
    from prospector.cli.fetch_cmd import doctor, fetch
    from prospector.cli.layers_cmds import layers
    from prospector.cli.region_cmd import region

    cli.add_command(sensitivity)
    cli.add_command(validate)
    cli.add_command(layers)
    cli.add_command(region)
    layers.add_command(fetch)
    layers.add_command(doctor)
    cli.add_command(config)


_register()


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
        _err.print("aborted")
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
        _err.print(
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
        _err.print(ctx.get_usage(), markup=False, highlight=False)
        help_option = ctx.help_option_names[0] if ctx.help_option_names else "--help"
        _err.print(f"Try '{ctx.command_path} {help_option}' for help.\n", markup=False)
    print_error(exc.format_message())


if __name__ == "__main__":  # pragma: no cover
    main()
