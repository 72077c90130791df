"""A run's output folder: write it atomically, re-render its map, look up its parcels.

:func:`write_run` writes ``prospects.gpkg`` (every layer, the manifest embedded),
``prospects.html`` (the offline map), ``targets.csv`` and ``manifest.json``.  :func:`write_run_map` renders
the map again from a GeoPackage alone; :func:`parcel_status` finds a parcel in one.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj

from prospector._runtime import atomic_outputs, check_writable, output_lock
from prospector.analysis.criteria import build_criteria, criterion_shares
from prospector.analysis.score import Weights
from prospector.config import Config
from prospector.errors import ProspectorError, ProspectorWarning
from prospector.export import read_manifest, read_ranked, write_gpkg, write_json
from prospector.ingest import file_sha256
from prospector.ingest.read import IMPOSSIBLE_ELEVATION
from prospector.ranking.result import RankResult
from prospector.render import Scoring

__all__ = [
    "RUN_FILES",
    "check_run_outputs",
    "manifest_scoring",
    "map_context",
    "map_info",
    "map_lines",
    "map_scoring",
    "parcel_status",
    "result_layers",
    "run_paths",
    "write_run",
    "write_run_map",
    "write_targets_csv",
]

_log = logging.getLogger(__name__)

#: File names written into a run's output folder.
RUN_FILES = {
    "gpkg": "prospects.gpkg",
    "map": "prospects.html",
    "targets": "targets.csv",
    "manifest": "manifest.json",
}


def result_layers(result: RankResult) -> dict[str, gpd.GeoDataFrame]:
    """Return the layers a run writes to its GeoPackage, in order (empty ones skipped)."""
    data = result.data
    layers: dict[str, gpd.GeoDataFrame | None] = {
        "parcels": result.parcels,
        "targets": result.targets,
        "excluded_parcels": result.excluded,
        "deposits": result.deposits,
        "withdrawals": data.withdrawals,
        "land": data.land,
        "claims": data.claims,
        "access": data.access,
        "evidence": data.evidence,
        "boundary": data.boundary,
    }
    return {k: v for k, v in layers.items() if v is not None and len(v)}


def map_info(manifest: dict[str, Any], *, region: str = "") -> dict[str, Any]:
    """Build the map's header panel (region, layers used and missing, weights) from a manifest.

    The same function serves a fresh run and ``prospector map`` re-rendering a GeoPackage,
    whose embedded manifest is all that is left of the run.
    """
    weights = manifest.get("weights") or {}
    layers = [
        f"{x['name']} ({x['role']}, {x['n_kept']} features)" for x in manifest.get("layers", [])
    ]
    layers += [
        f"{x['name']} (raster)" for x in manifest.get("inputs", []) if x.get("role") == "raster"
    ]
    return {
        "region": (manifest.get("region") or {}).get("title", region),
        "layers_used": layers,
        "layers_missing": manifest.get("layers_missing", []),
        "weights": {k: round(v, 4) for k, v in (weights.get("effective") or {}).items()},
        "weights_configured": weights.get("configured", {}),
        "weights_redistributed": weights.get("redistributed", {}),
        "created": manifest.get("created", ""),
        "manifest": "manifest.json",
        "list_year": (manifest.get("config") or {}).get("list_year", 2025),
        "notes": manifest.get("notes", []),
        "commodity_focus": {
            k: (manifest.get("config") or {}).get("value", {}).get(k, [])
            for k in ("focus_commodities", "focus_groups")
        },
        "evidence_flags": _evidence_flags(manifest.get("evidence_skill") or {}),
        "model_flags": list((manifest.get("model") or {}).get("warnings") or []),
        "model": _model_rows(manifest.get("model")),
    }


def _evidence_flags(skill: dict[str, Any]) -> list[str]:
    """Header warnings: evidence layers ranking the known sites below chance."""
    return [
        f"{name.removeprefix('evidence_')}: {skill['criteria'][name]['capture']:.1%} of "
        f"{skill.get('n_sites', 0)} known sites in its top {skill.get('fraction', 0.1):.0%} of "
        f"area (chance {skill.get('chance', 0.1):.0%})"
        for name in skill.get("below_chance", [])
        if name in skill.get("criteria", {})
    ]


def _model_rows(card: dict[str, Any] | None) -> dict[str, str] | None:
    """Return the model card as the map details' rows (label → text); None without a model."""
    if not card:
        return None
    top = sorted((card.get("importance") or {}).items(), key=lambda kv: -kv[1])[:5]
    cv = card.get("cv") or {}
    rows = {
        "Model": f"LightGBM {card.get('lightgbm', '?')}, positive-unlabelled, seed {card.get('seed')}",
        "Output": str(card.get("output", "relative likelihood, not a probability")),
        "Training sites": f"{card.get('training_sites', 0):,}",
        "Features": f"{len(card.get('features', []))}: " + ", ".join(card.get("features", [])),
        "Importance": ", ".join(f"{k} {v:.0%}" for k, v in top) or "–",
        "Decision weights": ", ".join(
            f"{k} {v:g}" for k, v in (card.get("decision_weights") or {}).items()
        ),
    }
    if "capture" in cv:
        capture = cv["capture"]
        rows["Spatial CV"] = (
            f"capture {capture.get('0.1', float('nan')):.1%} at 10 % of area "
            f"(chance 10 %), AUC {cv.get('auc', float('nan')):.2f}, "
            f"{cv.get('n_targets', 0)} sites; {cv.get('scheme', '')}"
        )
    elif "skipped" in cv:
        rows["Spatial CV"] = f"not run: {cv['skipped']}"
    if card.get("coverage_any") is not None:
        rows["Evidence coverage"] = f"{card['coverage_any']:.1%} of parcels have a feature"
    return rows


def map_lines(
    access: gpd.GeoDataFrame | None, evidence: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame | None:
    """Access lines plus line evidence (faults), as the map's line layers (kind, class, name)."""
    frames = []
    if access is not None and len(access):
        frames.append(access.reindex(columns=["kind", "class", "name", "geometry"]))
    if evidence is not None and len(evidence):
        lines = evidence[evidence.geom_type.isin(["LineString", "MultiLineString"])]
        frames.append(lines.reindex(columns=["kind", "class", "name", "geometry"]))
    if not frames:
        return None
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)


def map_scoring(result: RankResult) -> Scoring:
    """Return a run's criteria and weighting for the map's live re-weighting.

    Uses the normalised criteria the run scored with (``result.criteria``); a streamed
    run, which does not keep them, has them rebuilt from its parcels.
    """
    if result.criteria is None:
        return _scoring(result.all_parcels, result.config, result.available)
    return _scoring_from(result.criteria, result.weights, result.config)


def _scoring(parcels: pd.DataFrame, config: Config, available: dict[str, bool]) -> Scoring:
    """Scoring rebuilt from every parcel's measured columns (ranked and excluded)."""
    criteria, weights = build_criteria(parcels, config, have=available)
    criteria.index = pd.Index(parcels["parcel_id"].to_numpy())
    return _scoring_from(criteria, weights, config)


def _scoring_from(criteria: pd.DataFrame, weights: Weights, config: Config) -> Scoring:
    family_weights = dict(config.score.weights)
    if config.score.method == "model":  # the decision score: prospectivity and access only
        criteria = criteria[[c for c in criteria.columns if c in weights.configured]]
        family_weights = dict(config.model.weights)
    return Scoring(
        criteria=criteria,
        family_weights=family_weights,
        shares=criterion_shares(list(criteria.columns), config),
        available={k: k not in weights.unavailable for k in criteria.columns},
        reasons=dict(weights.unavailable),
        method=config.score.method,
        gamma=config.score.gamma,
    )


def manifest_scoring(
    layers: dict[str, gpd.GeoDataFrame], manifest: dict[str, Any]
) -> Scoring | None:
    """Rebuild a run's map scoring from its GeoPackage layers and manifest, if it can.

    Needs the manifest's ``config`` and ``available`` (written since the map re-weights)
    and the ``parcels`` (plus ``excluded_parcels``) layers with their measured columns;
    returns None for older runs, whose map then shows the run's scores, fixed.
    """
    from prospector.config import load_config
    from prospector.errors import ProspectorError

    if "config" not in manifest or "available" not in manifest or "parcels" not in layers:
        return None
    frames = [layers["parcels"]]
    if "excluded_parcels" in layers:
        frames.append(layers["excluded_parcels"])
    parcels = pd.concat(frames, ignore_index=True)
    try:
        config = load_config(manifest["config"])
        return _scoring(parcels, config, dict(manifest["available"]))
    except (ProspectorError, KeyError, ValueError):
        return None


def map_context(parcels: gpd.GeoDataFrame) -> dict[str, gpd.GeoDataFrame] | None:
    """Return the bundled county lines and towns around *parcels* (None when not bundled)."""
    from prospector.catalog.context import ContextMissing, load_context

    if parcels.empty:
        return None
    west, south, east, north = parcels.to_crs(4326).total_bounds
    try:
        return load_context((west, south, east, north))
    except ContextMissing:
        return None


def run_paths(out_dir: str | Path, *, make_map: bool = True) -> dict[str, Path]:
    """Return the files a run writes into *out_dir* (key → path)."""
    out_dir = Path(out_dir)
    return {k: out_dir / n for k, n in RUN_FILES.items() if make_map or k != "map"}


def check_run_outputs(out_dir: str | Path, *, overwrite: bool, make_map: bool = True) -> None:
    """Refuse a run whose outputs exist (without *overwrite*) or cannot be written.

    Called before any work, so a run cannot fail there after minutes of ranking.
    """
    for path in run_paths(out_dir, make_map=make_map).values():
        check_writable(path, overwrite=overwrite)


def write_run(
    result: RankResult,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    make_map: bool = True,
    command: str | None = None,
    map_options: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``prospects.gpkg``, ``prospects.html``, ``targets.csv`` and ``manifest.json``.

    All files are first written into a hidden staging folder inside *out_dir* and moved
    into place only when every one of them succeeded, so a failure (or a refused
    overwrite) leaves the folder exactly as it was: never a GeoPackage without its map
    and manifest, never a mix of two runs.  The folder's lock
    (:func:`~prospector._runtime.output_lock`) keeps a second run out meanwhile.
    """
    paths = run_paths(out_dir, make_map=make_map)
    if result.targets is None:
        paths.pop("targets")
    with output_lock(out_dir), atomic_outputs(paths, overwrite=overwrite) as staged:
        manifest = result.manifest(command=command)
        _log.info("writing %s", paths["gpkg"])
        write_gpkg(result_layers(result), staged["gpkg"], metadata=manifest)
        if result.targets is not None:
            write_targets_csv(result.targets, staged["targets"])
        if make_map:
            from prospector.render import build_map, hillshade_from_dem, write_map

            _log.info("drawing the map %s", paths["map"])
            dems = [r for r in result.data.rasters if r.kind == "dem"]
            hillshade = (
                hillshade_from_dem(dems[0].path, valid_range=IMPOSSIBLE_ELEVATION) if dems else None
            )
            fmap = build_map(
                result.parcels,
                deposits=result.deposits,
                withdrawals=result.data.withdrawals,
                access=map_lines(result.data.access, result.data.evidence),
                hillshade=hillshade,
                info=map_info(manifest),
                scoring=map_scoring(result),
                context=map_context(result.parcels),
                targets=result.targets,
                **(map_options or {}),
            )
            write_map(fmap, staged["map"])
        manifest["outputs"] = [
            {"path": p.name, "sha256": file_sha256(p), "bytes": p.stat().st_size}
            for key, p in staged.items()
            if key != "manifest"
        ]
        write_json(manifest, staged["manifest"])
    return paths


def write_targets_csv(targets: gpd.GeoDataFrame, path: str | Path) -> None:
    """Write the targets table as CSV: its columns plus a representative point in lon/lat."""
    table = pd.DataFrame(targets.drop(columns="geometry"))
    if len(targets):
        points = targets.geometry.representative_point().to_crs("EPSG:4326")
        table["lon"], table["lat"] = points.x.round(6), points.y.round(6)
    else:
        table["lon"], table["lat"] = [], []
    table.to_csv(path, index=False, encoding="utf-8")


def _manifest_hillshade(manifest: dict[str, Any]) -> Any:
    """Hillshade from the run's DEM when it is still where the manifest says, unchanged."""
    from prospector.catalog import load_catalog
    from prospector.render import hillshade_from_dem

    catalog = load_catalog()
    for item in manifest.get("inputs", []):
        entry = catalog.get(str(item.get("name")))
        path = Path(str(item.get("path", "")))
        if item.get("role") != "raster" or entry is None or entry.raster.get("kind") != "dem":
            continue
        if path.is_file() and file_sha256(path) == item.get("sha256"):
            return hillshade_from_dem(path, valid_range=IMPOSSIBLE_ELEVATION)
        warnings.warn(
            f"the run's DEM {path} is missing or changed: no hillshade.",
            ProspectorWarning,
            stacklevel=3,
        )
    return None


def write_run_map(
    ranked: str | Path,
    output: str | Path,
    *,
    basemap: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Render a run's GeoPackage (``prospects.gpkg``) as the offline HTML map *output*.

    The embedded manifest gives the header panel; the run's DEM gives the hillshade when
    it is still where the manifest says, unchanged (else a warning, and no hillshade).
    """
    from prospector.render import build_map, write_map

    suffix = Path(output).suffix.lower()
    if suffix not in (".html", ".htm"):
        raise ProspectorError(
            f"{output}: the map is an HTML page, and a file named {suffix or 'without a suffix'} "
            "would not open as one; name the output .html (e.g. prospects.html)."
        )
    check_writable(output, overwrite=overwrite)  # before any work
    layers = read_ranked(ranked)
    if "parcels" not in layers:
        raise ProspectorError(
            f"{ranked} has no 'parcels' layer; pass a prospects.gpkg written by `prospector rank`."
        )
    manifest = read_manifest(ranked) or {}
    fmap = build_map(
        layers["parcels"],
        deposits=layers.get("deposits"),
        withdrawals=layers.get("withdrawals"),
        access=map_lines(layers.get("access"), layers.get("evidence")),
        hillshade=_manifest_hillshade(manifest),
        info=map_info(manifest, region=Path(ranked).stem),
        basemap=basemap,
        scoring=manifest_scoring(layers, manifest),
        context=map_context(layers["parcels"]),
        targets=layers.get("targets"),
    )
    return write_map(fmap, output, overwrite=overwrite)


def parcel_status(
    ranked: str | Path,
    *,
    point: tuple[float, float] | None = None,
    parcel_id: str | None = None,
) -> gpd.GeoDataFrame:
    """Find the parcels of a run's GeoPackage at a point (lon, lat in EPSG:4326) or with an id.

    Ranked and excluded parcels, with every measured column (land status, fractions,
    withdrawals, claims): nothing is recomputed.  Raises :class:`ProspectorError` when
    nothing matches.
    """
    import shapely

    from prospector.analysis.land import status_at

    if (point is None) == (parcel_id is None):
        raise ValueError("give exactly one of point or parcel_id")
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
            example = parcels["parcel_id"].iloc[0]
            raise ProspectorError(
                f"no parcel {parcel_id!r} in {ranked}; parcel ids look like {example!r}."
            )
        return hits
    assert point is not None
    where = gpd.GeoSeries([shapely.Point(point)], crs="EPSG:4326").to_crs(parcels.crs).iloc[0]
    hits = status_at(parcels, where)
    if hits.empty:
        to_lonlat = pyproj.Transformer.from_crs(parcels.crs, "EPSG:4326", always_xy=True)
        west, south, east, north = to_lonlat.transform_bounds(*parcels.total_bounds)
        text = (
            f"the point {point[0]}, {point[1]} (lon, lat) is outside every parcel of {ranked}, "
            f"whose parcels span lon {west:.4f} to {east:.4f}, lat {south:.4f} to {north:.4f}."
        )
        swapped = west <= point[1] <= east and south <= point[0] <= north
        if swapped:
            text += f" Did you swap them? Give longitude first: --point {point[1]} {point[0]}."
        raise ProspectorError(text)
    return hits
