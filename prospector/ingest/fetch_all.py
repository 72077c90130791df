"""Download every source a region lists, in parallel, and report what failed.

:func:`fetch_region` is what ``prospector layers fetch --all`` and ``prospector rank
--fetch`` run.  For each ``[[layers]]`` table of the region whose file is missing and
whose catalogue entry has a ``[download]`` table, it

* queries an ArcGIS layer in tiles, streaming pages to disk (``kind = "arcgis"``),
* downloads a file into the cache with resume and retries, unpacks archives safely and
  keeps the features within the area (``kind = "file"``), or
* exports a DEM from an ArcGIS image service in tiles and mosaics them
  (``kind = "arcgis-image"``),

always for the region's envelope plus a margin that depends on the layer's role (see
:func:`role_margins_m`), and writes the layer's file
atomically.  Sources run on a thread pool, at most ``per_host`` at a time against one
publisher.  A failure is recorded with its reason and the command that retries it, and
never stops the other sources; nothing partial is left in the region's folder.

Every file written is recorded in ``<region>.fetch.json`` beside the region file (URL,
time, size, SHA-256, feature count), keyed by its path relative to the region file.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

import geopandas as gpd
import pyogrio
import requests

from prospector._runtime import atomic_output
from prospector.catalog import CatalogEntry, load_catalog
from prospector.catalog.regions import read_region_file
from prospector.config import Config
from prospector.errors import ArchiveError, CatalogError, ProspectorError
from prospector.ingest.arcgis_stream import stream_layer
from prospector.ingest.sources import expand_url, resolve_url

__all__ = [
    "FetchReport",
    "SourceOutcome",
    "fetch_region",
    "manifest_path",
    "region_area",
    "role_margins_m",
]

_KINDS: Final = ("file", "arcgis", "arcgis-image")

#: ``progress(task_key, done, total, unit)``: called from worker threads as data arrives;
#: ``unit`` is ``"features"``, ``"bytes"`` or ``"tiles"``.
Progress = Callable[[str, int, "int | None", str], None]


@dataclass
class SourceOutcome:
    """What happened to one layer of the region."""

    key: str
    """``source`` or ``source[statefp=32]`` - unique within the region."""
    source: str
    path: str
    status: Literal["fetched", "present", "failed", "not_downloadable"]
    url: str = ""
    reason: str = ""
    retry: str = ""
    n_features: int | None = None
    bytes: int | None = None
    sha256: str | None = None
    fetched_at: str | None = None


@dataclass
class FetchReport:
    """Outcome of :func:`fetch_region` for every layer of the region."""

    region_path: Path
    outcomes: list[SourceOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[SourceOutcome]:
        """Layers still missing: failed downloads and entries Prospector cannot download."""
        return [o for o in self.outcomes if o.status in ("failed", "not_downloadable")]

    @property
    def ok(self) -> bool:
        """True when every listed layer is on disk."""
        return not self.failed


def role_margins_m(config: Config) -> dict[str, float]:
    """How far beyond the region's envelope each role's features can matter (metres).

    Land status, withdrawals and claims only matter under the parcels (a small margin
    keeps edge parcels whole); deposits within the value kernel radius; access lines and
    evidence within the access search radius (the same area the loader keeps).
    """
    from prospector.ingest.region import search_margin_m

    near = 1000.0 * max(config.value.radius_km, 1.0)
    far = search_margin_m(config)
    return {"land": near, "withdrawals": near, "claims": near, "raster": near,
            "parcels": near, "deposits": near, "access": far, "evidence": far}  # fmt: skip


def region_area(
    region: str | Path, config: Config | None = None
) -> tuple[Path, dict[str, Any], dict[str, tuple[float, float, float, float]]]:
    """Region file, its parsed TOML, and the lon/lat box to download for each role."""
    from prospector.catalog import load_region
    from prospector.crs import work_crs
    from prospector.ingest.region import read_boundary

    config = config or Config()
    path, data = read_region_file(region)
    loaded = load_region(path, require_files=False)
    crs = work_crs(config.work_crs or loaded.work_crs)
    boundary = read_boundary(loaded, crs)
    envelope = boundary.geometry.iloc[0].envelope
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for role, margin in role_margins_m(config).items():
        area = gpd.GeoSeries([envelope.buffer(margin)], crs=crs).to_crs("EPSG:4326")
        west, south, east, north = (float(v) for v in area.total_bounds)
        boxes[role] = (max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0))
    return path, data, boxes


def fetch_region(
    region: str | Path,
    *,
    config: Config | None = None,
    only: Sequence[str] | None = None,
    overwrite: bool = False,
    cache_dir: str | Path | None = None,
    workers: int = 4,
    per_host: int = 2,
    timeout_s: float = 60.0,
    retries: int = 3,
    backoff_s: float = 0.5,
    progress: Progress | None = None,
    catalog: dict[str, CatalogEntry] | None = None,
) -> FetchReport:
    """Download every downloadable source of a region that is not on disk yet.

    Parameters
    ----------
    region : str or path
        Region name or region file.
    config : Config, optional
        Run configuration (search margin around the boundary).
    only : sequence of str, optional
        Catalogue names (or ``source[statefp=NN]`` keys) to fetch; default all.
    overwrite : bool, default False
        Download again even when the file exists.
    cache_dir : path, optional
        Download cache for files (default :func:`prospector.ingest.download.default_cache_dir`).
    workers : int, default 4
        Sources downloaded at the same time.
    per_host : int, default 2
        At most this many sources at a time from one publisher host.
    timeout_s, retries, backoff_s : float, int, float
        Per-request network settings.
    progress : callable, optional
        ``progress(key, done, total, unit)`` for progress bars.
    catalog : dict, optional
        Catalogue (default: the bundled one).

    Returns
    -------
    FetchReport
        One outcome per layer of the region (also those already present).
    """
    catalog = catalog if catalog is not None else load_catalog()
    region_path, data, boxes = region_area(region, config)
    region_arg = str(region)
    report = FetchReport(region_path)
    tasks: list[tuple[SourceOutcome, CatalogEntry, dict[str, Any], Path]] = []
    for i, spec in enumerate(data.get("layers", []), start=1):
        name = spec.get("source")
        if not isinstance(name, str) or "path" not in spec:
            continue  # user layers: nothing to download
        params = {str(k): str(v) for k, v in (spec.get("params") or {}).items()}
        key = name + "".join(f"[{k}={v}]" for k, v in sorted(params.items()))
        path = (region_path.parent / str(spec["path"])).resolve()
        outcome = SourceOutcome(key, name, str(path), "present")
        if only and name not in only and key not in only:
            continue
        report.outcomes.append(outcome)
        entry = catalog.get(name)
        if entry is None:
            outcome.status, outcome.reason = "failed", f"unknown catalogue entry {name!r}"
            continue
        download = dict(entry.download)
        if not download:
            if not path.exists():
                outcome.status = "not_downloadable"
                outcome.reason = (
                    f"the catalogue entry has no [download] table; get the data from "
                    f"{entry.url} and save it as {path}"
                )
            continue
        where = f"{region_path} [[layers]] #{i} ({name})"
        try:
            if download.get("kind") not in _KINDS:
                raise CatalogError(f"{where}: [download] kind must be one of {', '.join(_KINDS)}.")
            outcome.url = expand_url(str(download.get("url", "")), params, where=where)
        except CatalogError as exc:
            outcome.status, outcome.reason = "failed", str(exc)
            continue
        if path.exists() and not overwrite:
            continue
        outcome.retry = f"prospector layers fetch {name} --region {region_arg}" + (
            " --overwrite" if overwrite else ""
        )
        tasks.append((outcome, entry, download, path))

    hosts: dict[str, threading.Semaphore] = {}
    for outcome, *_ in tasks:
        host = urlsplit(outcome.url).netloc
        hosts.setdefault(host, threading.Semaphore(max(1, per_host)))
    manifest = _Manifest(manifest_path(region_path))

    def run(task: tuple[SourceOutcome, CatalogEntry, dict[str, Any], Path]) -> None:
        outcome, entry, download, path = task
        settings = _Settings(
            boxes.get(entry.role, boxes["access"]), cache_dir, timeout_s, retries, backoff_s,
            progress,
        )  # fmt: skip
        with hosts[urlsplit(outcome.url).netloc]:
            try:
                _fetch_one(outcome, entry, download, path, settings)
            except Exception as exc:  # one source's failure must not stop the others
                outcome.status, outcome.reason = "failed", _reason(exc)
                return
        outcome.status = "fetched"
        manifest.record(outcome)

    if tasks:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(tasks)))) as pool:
            list(pool.map(run, tasks))
    return report


@dataclass(frozen=True)
class _Settings:
    bbox: tuple[float, float, float, float]
    cache_dir: str | Path | None
    timeout_s: float
    retries: int
    backoff_s: float
    progress: Progress | None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, ProspectorError):
        return text
    if isinstance(exc, OSError | requests.RequestException | ValueError):
        return f"{type(exc).__name__}: {text}"
    return (
        f"unexpected {type(exc).__name__}: {text} (a bug in Prospector; rerun with "
        "PROSPECTOR_DEBUG=1 and report it)"
    )


def _fetch_one(
    outcome: SourceOutcome,
    entry: CatalogEntry,
    download: dict[str, Any],
    path: Path,
    settings: _Settings,
) -> None:
    """Download one layer to ``path`` (atomically) and fill in the outcome."""
    url = resolve_url(outcome.url)
    kind = download["kind"]
    meta = {
        "prospector_source": entry.name,
        "prospector_url": outcome.url,
        "prospector_bbox_lonlat": ",".join(f"{v:.6f}" for v in settings.bbox),
    }

    def features(done: int, total: int | None) -> None:
        if settings.progress is not None:
            settings.progress(outcome.key, done, total, "features")

    def received(done: int, total: int | None) -> None:
        if settings.progress is not None:
            settings.progress(outcome.key, done, total, "bytes")

    def tiles(done: int, total: int | None, unit: str) -> None:
        if settings.progress is not None:
            settings.progress(outcome.key, done, total, unit)

    if kind == "arcgis":
        result = stream_layer(
            url, path, bbox=settings.bbox, where=str(download.get("where", "1=1")),
            layer_name=entry.layer or entry.name, dataset_metadata=meta,
            timeout_s=settings.timeout_s, retries=settings.retries,
            backoff_s=settings.backoff_s, progress=features,
        )  # fmt: skip
        outcome.n_features = result.n_features
    elif kind == "file":
        outcome.n_features = _fetch_vector_file(
            url, entry, download, path, settings, meta, received
        )
    else:
        from prospector.ingest.dem import export_image

        export_image(
            url, path, bbox=settings.bbox,
            resolution_deg=float(download.get("resolution_deg", 0.0025)),
            cache_dir=settings.cache_dir, timeout_s=settings.timeout_s,
            retries=settings.retries, backoff_s=settings.backoff_s, progress=tiles,
        )  # fmt: skip
    from prospector.ingest.region import file_sha256

    outcome.bytes = path.stat().st_size
    outcome.sha256 = file_sha256(path)
    outcome.fetched_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _fetch_vector_file(
    url: str,
    entry: CatalogEntry,
    download: dict[str, Any],
    path: Path,
    settings: _Settings,
    meta: dict[str, str],
    report: Callable[[int, int | None], None],
) -> int:
    """Download, unpack and clip a vector file; write it as a GeoPackage; return its size."""
    from prospector.ingest.archive import safe_extract
    from prospector.ingest.download import fetch_file
    from prospector.ingest.fetch import _bbox_in_layer_crs, _vector_members
    from prospector.ingest.read import read_vector

    sha = download.get("sha256")
    local = fetch_file(
        url, cache_dir=settings.cache_dir, sha256=str(sha) if sha else None,
        timeout_s=settings.timeout_s, retries=settings.retries, backoff_s=settings.backoff_s,
        progress=report,
    )  # fmt: skip
    # The layer inside the download (entry.layer names the layer Prospector writes).
    layer = download.get("layer")
    source = local
    if local.suffix.lower() == ".zip" or zipfile.is_zipfile(local):
        target = local.with_name(local.name + ".d")
        try:
            safe_extract(local, target, overwrite=True)
        except ArchiveError:
            # A truncated or corrupt download must not stay in the cache: the next try
            # downloads it again instead of failing on the same bytes.
            local.unlink(missing_ok=True)
            raise
        member = download.get("member")
        found = [str(member)] if member else _vector_members(target)
        if len(found) != 1 or not (target / found[0]).exists():
            raise CatalogError(
                f"catalogue entry {entry.name!r}: the archive {local} holds "
                f"{len(found)} vector files ({', '.join(found[:10]) or 'none'}); add "
                '`member = "path/inside/archive"` to its [download] table.'
            )
        source = target / found[0]
    elif not zipfile.is_zipfile(local) and local.read_bytes()[:2] == b"PK":
        local.unlink(missing_ok=True)
        raise ArchiveError(f"{url}: the downloaded zip archive is truncated or corrupt.")
    gdf = read_vector(source, layer=layer, bbox=_bbox_in_layer_crs(source, layer, settings.bbox))
    with atomic_output(path, overwrite=True) as tmp:
        pyogrio.write_dataframe(
            gdf, tmp, layer=entry.layer or entry.name, driver="GPKG",
            promote_to_multi=not set(gdf.geom_type.dropna()) <= {"Point"},
            dataset_metadata=meta,
        )  # fmt: skip
    return len(gdf)


def manifest_path(region_path: Path) -> Path:
    """Return the fetch manifest of a region file (``NAME.toml`` -> ``NAME.fetch.json``)."""
    return region_path.with_suffix(".fetch.json")


class _Manifest:
    """``NAME.fetch.json``: one record per file written, updated atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()

    def record(self, outcome: SourceOutcome) -> None:
        with self.lock:
            records: dict[str, Any] = {}
            if self.path.is_file():
                try:
                    records = json.loads(self.path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    records = {}
            entry = {k: v for k, v in asdict(outcome).items()
                     if k not in ("status", "reason", "retry", "path")}  # fmt: skip
            rel = os.path.relpath(outcome.path, self.path.parent)
            records.setdefault("files", {})[Path(rel).as_posix()] = entry
            with atomic_output(self.path, overwrite=True) as tmp:
                tmp.write_text(json.dumps(records, indent=2, sort_keys=True), encoding="utf-8")
