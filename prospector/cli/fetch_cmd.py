"""``prospector layers fetch``, ``prospector layers doctor`` and ``rank --fetch`` helpers.

Thin wrappers over :func:`prospector.ingest.fetch_all.fetch_region` (every source of a
region) and :func:`prospector.ingest.fetch_layer` (one source to a chosen file).  These
are the only commands that use the network.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path
from typing import Any

import click

__all__ = ["doctor", "fetch", "fetch_for_region"]


@click.command("fetch")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option(
    "--region", "-r", required=True, metavar="REGION",
    help="Region name (regions/NAME.toml or layers/regions/) or path of a region .toml file; "
    "its boundary (plus the search margin) sets the area downloaded.",
)  # fmt: skip
@click.option("--all", "fetch_all", is_flag=True,
              help="Fetch every source the region lists that is not downloaded yet.")  # fmt: skip
@click.option(
    "--cache", "cache_dir", type=click.Path(file_okay=False), default=None,
    help="Download cache folder (default: $PROSPECTOR_CACHE or the user cache folder).",
)  # fmt: skip
@click.option(
    "--out", "-o", type=click.Path(dir_okay=False), default=None,
    help="GeoPackage to write, for one NAME the region does not list "
    "(default: data/NAME.gpkg beside the region file).",
)  # fmt: skip
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Seconds to wait for the server (per request).")  # fmt: skip
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="Retries after timeouts, dropped connections and server errors.")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=4, show_default=True,
              help="Sources downloaded at the same time (at most 2 per publisher).")  # fmt: skip
@click.option("--overwrite", is_flag=True, help="Download again even if the file exists.")
def fetch(
    names: tuple[str, ...],
    region: str,
    fetch_all: bool,
    cache_dir: str | None,
    out: str | None,
    timeout_s: float,
    retries: int,
    workers: int,
    overwrite: bool,
) -> None:
    """Download sources for REGION: every listed one (--all) or the NAMEs given.

    Sources come from the catalogue's [download] tables: ArcGIS layers (queried in tiles
    and streamed to disk), files (resumed, unpacked safely) and image services (DEM).
    Only the area near the region is kept. A source that fails does not stop the
    others; the command then lists what failed, why, and how to retry, and exits 2.
    """
    from prospector.catalog.regions import read_region_file

    if not names and not fetch_all:
        raise click.UsageError("give NAME(s) to fetch, or --all for every source of the region")
    _, data = read_region_file(region)
    listed = {str(spec.get("source")) for spec in data.get("layers", [])}
    if fetch_all or (names and all(n.split("[")[0] in listed for n in names)):
        if out is not None:
            raise click.UsageError("--out is for one NAME the region does not list")
        fetch_for_region(
            region, only=None if fetch_all else names, cache_dir=cache_dir, timeout_s=timeout_s,
            retries=retries, workers=workers, overwrite=overwrite,
        )  # fmt: skip
        return
    if len(names) != 1:
        raise click.UsageError(
            f"the region lists none of {', '.join(n for n in names if n not in listed)}; "
            "fetch one such NAME at a time (with --out), or add them to the region file"
        )
    _fetch_one_layer(names[0], region, cache_dir, out, timeout_s, retries, overwrite)


def _fetch_one_layer(
    name: str,
    region: str,
    cache_dir: str | None,
    out: str | None,
    timeout_s: float,
    retries: int,
    overwrite: bool,
) -> None:
    from prospector.cli._console import err as _err
    from prospector.cli._console import out as _out
    from prospector.cli._console import print_warnings as _print_warnings
    from prospector.ingest import fetch_layer

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


def fetch_for_region(region: str, **kwargs: Any) -> None:
    """Fetch a region's sources with progress bars; print the report; exit 2 on failure."""
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from prospector.cli._console import err as _err
    from prospector.cli._console import print_warnings as _print_warnings
    from prospector.ingest.fetch_all import fetch_region

    lock = threading.Lock()
    tasks: dict[str, TaskID] = {}
    with (
        warnings.catch_warnings(record=True) as caught,
        Progress(
            TextColumn("{task.description:<32}"), BarColumn(), TextColumn("{task.fields[text]}"),
            TimeElapsedColumn(), console=_err, transient=False,
        ) as bars,
    ):  # fmt: skip
        warnings.simplefilter("always")

        def progress(key: str, done: int, total: int | None, unit: str) -> None:
            text = _amount(done, unit) + (f" of {_amount(total, unit)}" if total else "")
            with lock:
                if key not in tasks:
                    tasks[key] = bars.add_task(key, total=total, text=text)
                bars.update(tasks[key], completed=done, total=total, text=text)

        report = fetch_region(region, progress=progress, **kwargs)
    _print_warnings(caught)
    table = Table(title=f"Sources of {report.region_path}")
    for col in ("source", "status", "features", "MB", "note"):
        table.add_column(col, overflow="fold")
    for o in report.outcomes:
        table.add_row(
            o.key, o.status, "" if o.n_features is None else f"{o.n_features:,}",
            "" if o.bytes is None else f"{o.bytes / 1e6:.1f}",
            o.reason if o.status != "fetched" else "",
        )  # fmt: skip
    _err.print(table)
    if report.failed:
        _err.print(f"[bold red]{len(report.failed)} source(s) missing:[/]", markup=True)
        for o in report.failed:
            _err.print(f"  {o.key}: {o.reason}", markup=False)
            if o.retry:
                _err.print(f"    retry: {o.retry}", markup=False)
        raise click.exceptions.Exit(2)


def _amount(value: int, unit: str) -> str:
    if unit == "bytes":
        return f"{value / 1e6:.1f} MB"
    return f"{value:,} {unit}"


@click.command("doctor")
@click.option("--region", "-r", default=None, metavar="REGION",
              help="Check every catalogue layer of this region that is on disk.")  # fmt: skip
@click.option("--file", "path", type=click.Path(dir_okay=False), default=None,
              help="Check one file against --source.")  # fmt: skip
@click.option("--source", default=None, help="Catalogue entry of --file.")
def doctor(region: str | None, path: str | None, source: str | None) -> None:
    """Compare fetched files with the catalogue: renamed fields, unmapped codes.

    Exits 2 when a mapped field is missing or a code is not mapped.
    """
    from prospector._util import did_you_mean
    from prospector.catalog import load_catalog
    from prospector.catalog.regions import read_region_file
    from prospector.cli._console import out as _out
    from prospector.errors import ProspectorError
    from prospector.ingest.doctor import diagnose

    catalog = load_catalog()
    checks: list[tuple[Path, str]] = []
    if path is not None:
        if source is None or source not in catalog:
            raise ProspectorError(
                f"--file needs --source, a catalogue entry.{did_you_mean(source or '', catalog)}"
            )
        checks.append((Path(path), source))
    elif region is not None:
        region_path, data = read_region_file(region)
        for spec in data.get("layers", []):
            name = spec.get("source")
            file = region_path.parent / str(spec.get("path", ""))
            if name in catalog and file.exists() and catalog[name].role != "raster":
                checks.append((file, name))
    else:
        raise click.UsageError("give --region, or --file with --source")
    bad = 0
    for file, name in checks:
        result = diagnose(file, catalog[name])
        mark = "OK" if result.ok else "CHANGED"
        bad += not result.ok
        _out.print(f"{mark:>7}  {name}: {file} ({result.n_features:,} features)")
        for line in result.lines():
            _out.print(f"         {line}", markup=False)
    if not checks:
        _out.print("nothing to check: no catalogue layer of the region is on disk yet.")
    if bad:
        raise click.exceptions.Exit(2)
