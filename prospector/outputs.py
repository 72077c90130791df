"""Write the standard outputs of a ranking run: GeoPackage, map and manifest."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from prospector.export import check_writable, write_gpkg, write_json
from prospector.ingest import file_sha256
from prospector.pipeline import RankResult

__all__ = ["RUN_FILES", "map_info", "map_lines", "result_layers", "write_run"]

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
    }


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


def write_run(
    result: RankResult,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    make_map: bool = True,
    command: str | None = None,
    map_options: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``prospects.gpkg``, ``prospects.html`` and ``manifest.json`` into *out_dir*.

    All files are first written into a hidden staging folder inside *out_dir* and moved
    into place only when every one of them succeeded, so a failure (or a refused
    overwrite) leaves the folder exactly as it was: never a GeoPackage without its map
    and manifest, never a mix of two runs.
    """
    out_dir = Path(out_dir)
    paths = {key: out_dir / name for key, name in RUN_FILES.items()}
    if not make_map:
        paths.pop("map")
    if result.targets is None:
        paths.pop("targets")
    for path in paths.values():
        check_writable(path, overwrite=overwrite)
    staging = Path(tempfile.mkdtemp(prefix=".prospector-run-", dir=out_dir))
    try:
        staged = {key: staging / path.name for key, path in paths.items()}
        manifest = result.manifest(command=command)
        write_gpkg(result_layers(result), staged["gpkg"], metadata=manifest)
        if result.targets is not None:
            write_targets_csv(result.targets, staged["targets"])
        if make_map:
            from prospector.render import build_map, hillshade_from_dem, write_map

            dems = [r for r in result.data.rasters if r.kind == "dem"]
            hillshade = hillshade_from_dem(dems[0].path) if dems else None
            fmap = build_map(
                result.parcels,
                deposits=result.deposits,
                withdrawals=result.data.withdrawals,
                access=map_lines(result.data.access, result.data.evidence),
                hillshade=hillshade,
                info=map_info(manifest),
                **(map_options or {}),
            )
            write_map(fmap, staged["map"])
        manifest["outputs"] = [
            {"path": p.name, "sha256": file_sha256(p), "bytes": p.stat().st_size}
            for key, p in staged.items()
            if key != "manifest"
        ]
        write_json(manifest, staged["manifest"])
        for key, path in paths.items():
            os.replace(staged[key], path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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
