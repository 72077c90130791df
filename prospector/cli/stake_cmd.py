"""``prospector stake``: a staking plan (lode-claim blocks) over the best open ground."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import click
from rich.table import Table

from prospector.cli._console import err, out, print_warnings
from prospector.cli.options import input_file_option, ranked_argument
from prospector.errors import ConfigError, LayerReadError, ProspectorError

__all__ = ["stake"]


def _azimuth(value: str) -> Literal["auto"] | float:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        deg = float(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is neither 'auto' nor a number of degrees (e.g. 35 or 125.5)",
            param_hint="--azimuth",
        ) from None
    if not 0.0 <= deg <= 360.0:  # 360 is north, like 0
        raise click.BadParameter(f"{deg:g} is outside 0..360 degrees", param_hint="--azimuth")
    return deg


def _read_polygons(path: str, *, what: str, like: Any, layer: str | None = None) -> Any:
    """Read a polygon file, clipped to the bounding box of *like* (any CRS)."""
    import pyogrio

    from prospector.ingest.read import read_vector

    try:
        crs = pyogrio.read_info(path, layer=layer).get("crs")
    except Exception as exc:
        raise ProspectorError(f"{what} {path}: cannot be read ({exc}).") from exc
    if crs is None:
        raise ProspectorError(
            f"{what} {path}: the layer has no CRS. Assign one in a GIS, e.g. "
            f"`ogr2ogr -a_srs EPSG:4269 fixed.gpkg {path}`."
        )
    bbox = tuple(like.to_crs(crs).total_bounds)
    return read_vector(path, layer=layer, bbox=bbox)


def _bundled_counties(targets: Any) -> Any:
    """County lines bundled with Prospector (``layers/context/``), when this install has them."""
    try:
        from prospector.catalog.context import load_context
    except ImportError:
        return None
    bbox = tuple(targets.to_crs("EPSG:4326").total_bounds)
    try:
        counties = load_context(bbox).get("counties")
    except LayerReadError:  # the bundled context file is not installed
        return None
    return counties if counties is not None and len(counties) else None


def _fees(path: str | None) -> Any:
    from prospector._util import read_toml
    from prospector.analysis.stake import DEFAULT_FEES, FeeSchedule

    if path is None:
        return DEFAULT_FEES
    data = read_toml(
        Path(path), what="fee schedule", give="give a TOML fee schedule", error=ConfigError
    )
    return FeeSchedule.from_mapping(data.get("fees", data), where=f"{path} [fees]")


@click.command("stake")
@ranked_argument
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    required=True,
    help="Plan GeoPackage (.gpkg); .kml, .kmz, .gpx and _corners.csv are written beside it.",
)
@click.option(
    "--top",
    type=click.IntRange(1),
    default=None,
    help="Stake the N best-ranked parcels (touching parcels make one target). Default 5.",
)
@click.option(
    "--parcel", "parcel_ids", multiple=True, metavar="ID", help="Stake this parcel (repeatable)."
)
@input_file_option(
    "--area",
    help="Stake the polygon(s) of this file.",
)
@click.option(
    "--azimuth",
    default="auto",
    show_default=True,
    help="'auto' (structural trend of nearby faults) or degrees from true north.",
)
@click.option(
    "--max-claims",
    type=click.IntRange(1),
    default=40,
    show_default=True,
    help="Most claims per target.",
)
@input_file_option(
    "--plss",
    help="PLSS sections (BLM CadNSDI first divisions with FRSTDIVID) for legal descriptions.",
)
@click.option("--plss-layer", default=None, help="Layer of --plss to read.")
@input_file_option(
    "--counties",
    help="County polygons with a 'name' (and 'state') column.",
)
@input_file_option(
    "--fees",
    "fees_path",
    help="TOML fee schedule ([fees] location_usd, processing_usd, maintenance_usd, "
    "effective, source).",
)
@click.option(
    "--ground-height-m",
    type=float,
    default=0.0,
    show_default=True,
    help="Mean ground height above the ellipsoid: lengths become ground distances there.",
)
@click.option(
    "--allow-unknown-land",
    is_flag=True,
    help="Plan without a land-status layer; every claim is marked 'ownership not verified'.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
def stake(
    ranked: str, output: str, top: int | None, parcel_ids: tuple[str, ...], area: str | None,
    azimuth: str, max_claims: int, plss: str | None, plss_layer: str | None,
    counties: str | None, fees_path: str | None, ground_height_m: float,
    allow_unknown_land: bool, overwrite: bool,
) -> None:  # fmt: skip
    """Plan blocks of lode claims over the open ground of the best targets in RANKED.

    RANKED is a prospects.gpkg from `prospector rank`. The plan is not a legal location:
    the locator must still mark the corners, post a notice and record the claims with the
    county and the BLM.
    """
    from prospector.analysis.stake import stake_plan
    from prospector.analysis.stake_targets import select_targets
    from prospector.export import read_ranked
    from prospector.export.stake import plan_paths, write_plan

    if sum([top is not None, bool(parcel_ids), area is not None]) > 1:
        raise click.UsageError("give only one of --top, --parcel or --area")
    if not output.lower().endswith(".gpkg"):
        raise click.BadParameter(f"{output} should end in .gpkg", param_hint="--output")
    trend = _azimuth(azimuth)
    fees = _fees(fees_path)
    for path in plan_paths(output).values():  # refuse before any work
        if path.exists() and not overwrite:
            raise ProspectorError(
                f"{path} already exists; pass --overwrite to replace the plan, or choose "
                "another --output."
            )
    layers = read_ranked(ranked)
    if "parcels" not in layers:
        raise ProspectorError(
            f"{ranked} has no 'parcels' layer; pass a prospects.gpkg written by `prospector rank`."
        )
    parcels = layers["parcels"]
    area_frame = None
    if area is not None:
        from prospector.ingest.read import read_vector

        area_frame = read_vector(area)
    targets = select_targets(
        parcels,
        top=top if (top is not None or parcel_ids or area) else 5,
        parcel_ids=parcel_ids,
        area=area_frame,
    )
    plss_frame = (
        _read_polygons(plss, what="PLSS file", like=targets, layer=plss_layer) if plss else None
    )
    county_frame = (
        _read_polygons(counties, what="counties file", like=targets)
        if counties
        else _bundled_counties(targets)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = stake_plan(
            targets, land=layers.get("land"), withdrawals=layers.get("withdrawals"),
            claims=layers.get("claims"), faults=layers.get("evidence"), plss=plss_frame,
            counties=county_frame, azimuth=trend, max_claims=max_claims, fees=fees,
            allow_unknown_land=allow_unknown_land, ground_height_m=ground_height_m,
        )  # fmt: skip
    print_warnings(caught)
    if plan.claims.empty:
        raise ProspectorError(
            f"no claim fits the open ground of the chosen targets in {ranked} (every target is "
            "withdrawn, claimed or not federal, or too small). Choose other targets with --top, "
            "--parcel or --area."
        )
    paths = write_plan(plan, output, overwrite=overwrite)
    if county_frame is None:
        err.print(
            "note: no county layer (no --counties file and no bundled county lines): the "
            "county column is left empty."
        )
    table = Table(title="Staking plan", expand=False)
    for col in ("target", "rank", "claims", "full", "acres", "azimuth", "BLM fees"):
        table.add_column(col, justify="left" if col == "target" else "right")
    for t in plan.targets.itertuples():
        table.add_row(t.target_id, str(t.rank), str(t.n_claims), str(t.n_full),
                      f"{t.acres:,.1f}", f"{t.azimuth_deg:.1f}°", f"${t.fees_total_usd:,.0f}")  # fmt: skip
    out.print(table)
    for note in plan.notes:
        err.print(f"[yellow]note:[/] {note}", markup=True)
    out.print(
        f"fees: ${fees.per_claim_usd:,.2f} per claim (location ${fees.location_usd:g} + "
        f"processing ${fees.processing_usd:g} + maintenance ${fees.maintenance_usd:g}, "
        f"effective {fees.effective})"
    )
    for key, path in paths.items():
        out.print(f"{key:>5}: {path}")
