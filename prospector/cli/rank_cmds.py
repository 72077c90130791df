"""``prospector demo``, ``rank``, ``map`` and ``status``: parse, call the library, print."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from prospector.cli.options import (
    command_line,
    commodity_option,
    config_option,
    engine_options,
    err,
    group_option,
    method_option,
    overwrite_option,
    progress,
    ranked_argument,
    recorded_warnings,
    region_option,
    status_option,
)
from prospector.cli.options import out as console

__all__ = ["demo", "map_cmd", "rank_cmd", "status_cmd"]

#: Columns ``prospector status`` prints for each parcel.
STATUS_FIELDS = (
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
)


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


def _rank_and_write(
    region: str,
    config_path: str | None,
    out_dir: str,
    *,
    overwrite: bool,
    status: str | None = None,
    method: str | None = None,
    make_map: bool = True,
    focus: tuple[str | None, str | None] = (None, None),
    **engine: Any,
) -> None:
    from prospector._runtime import output_lock
    from prospector.config import load_config, with_focus, with_overrides
    from prospector.ranking import prospect_notes, rank, write_run
    from prospector.ranking.outputs import check_run_outputs

    overrides = {k: v for k, v in {"status": status, "method": method}.items() if v}
    config = with_focus(load_config(config_path), *focus)
    if overrides:
        config = with_overrides(config, {"score": overrides})
    check_run_outputs(out_dir, overwrite=overwrite, make_map=make_map)
    # The folder is locked from here: a second run into it stops at once, not after its work.
    with output_lock(out_dir), recorded_warnings(), progress():
        check_run_outputs(out_dir, overwrite=overwrite, make_map=make_map)
        result = rank(region, config, **engine)
        paths = write_run(
            result, out_dir, overwrite=overwrite, command=command_line(), make_map=make_map
        )
    for item in result.missing:
        err.print(f"[bold yellow]missing layer:[/] {item['message']}", markup=True)
    for name, why in result.weights.redistributed.items():
        err.print(
            f"[yellow]weights:[/] {name} not used ({why}); its weight was redistributed.",
            markup=True,
        )
    for note in prospect_notes(result.model_card, result.evidence_skill):
        err.print(f"[yellow]note:[/] {note}", markup=True)
    console.print(_top_table(result.parcels))
    console.print(
        f"{len(result.excluded):,} parcels not ranked (closed to mineral entry or filtered)."
    )
    for key, path in paths.items():
        console.print(f"{key:>8}: {path}")


@click.command()
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
    _rank_and_write("utah-sample", None, out, overwrite=True, engine="memory")


@click.command("rank")
@region_option
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True, help="Output folder.")
@config_option
@status_option
@method_option
@click.option("--no-map", is_flag=True, help="Skip the HTML map.")
@click.option(
    "--fetch",
    "fetch_missing",
    is_flag=True,
    help="First download every source of the region that is not on disk yet "
    "(as `prospector layers fetch --all`); exits 2 without ranking if one fails.",
)
@engine_options
@commodity_option
@group_option
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
    focus_commodities: str | None,
    focus_groups: str | None,
    overwrite: bool,
) -> None:
    """Rank the parcels of REGION and write the outputs into --out."""
    if scheduler is not None and engine != "dask":
        raise click.UsageError("--scheduler needs --engine dask")
    if fetch_missing:
        from prospector.cli.fetch_cmd import fetch_for_region
        from prospector.config import load_config

        fetch_for_region(region, config=load_config(config_path))
    _rank_and_write(
        region,
        config_path,
        out,
        overwrite=overwrite,
        status=status,
        method=method,
        make_map=not no_map,
        focus=(focus_commodities, focus_groups),
        engine=engine,
        workers=workers,
        tile_km=tile_km,
        scheduler=scheduler,
    )


@click.command("map")
@ranked_argument
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
    from prospector.ranking.outputs import write_run_map

    with recorded_warnings():
        path = write_run_map(
            ranked, output, basemap=None if basemap == "none" else basemap, overwrite=overwrite
        )
    console.print(f"map: {path}")


@click.command("status")
@ranked_argument
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
    import pandas as pd

    from prospector.ranking.outputs import parcel_status

    if (point is None) == (parcel_id is None):
        raise click.UsageError("give exactly one of --point LON LAT or --parcel ID")
    hits = parcel_status(ranked, point=point, parcel_id=parcel_id)
    for row in hits.itertuples():
        r = row._asdict()
        rank = r.get("rank")
        shown = "—" if rank is None or pd.isna(rank) else int(rank)
        console.print(f"[bold]parcel {r['parcel_id']}[/]  rank: {shown}", markup=True)
        for key in STATUS_FIELDS:
            value = r.get(key)
            if isinstance(value, float):
                value = "unknown" if pd.isna(value) else f"{value:.3f}"
            console.print(f"  {key:>15}: {value if value not in (None, '') else '—'}")
