"""Compose the steps: layers → parcels → land status → value, access, evidence → score.

:func:`rank` is what the CLI, the notebooks and the tests call.  Each step it uses is a
public function that takes and returns plain (Geo)DataFrames, so any step can be run and
inspected alone.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from prospector._util import available_memory_bytes, run_time
from prospector.analysis._boxes import ParcelIndex
from prospector.analysis._parallel import n_threads
from prospector.analysis.access import nearest_distance_km
from prospector.analysis.criteria import ACCESS_KINDS as _ACCESS
from prospector.analysis.criteria import build_criteria
from prospector.analysis.evidence import line_density
from prospector.analysis.explain import explain
from prospector.analysis.land import land_status
from prospector.analysis.parcels import (
    check_run_size,
    estimate_parcels,
    grid_parcels,
    split_parcels,
)
from prospector.analysis.score import (
    Weights,
    combine,
    rank_scores,
)
from prospector.analysis.travel import travel_cost_km
from prospector.analysis.value import deposit_weights, deposits_in_parcels, parcel_value
from prospector.analysis.zonal import slope_degrees, zonal_stats
from prospector.catalog import Region
from prospector.config import Config, config_to_dict, load_config
from prospector.errors import ProspectorError
from prospector.ingest import RegionData, load_region_data
from prospector.ingest.read import read_raster_band
from prospector.schema.columns import PARCEL_COLUMNS
from prospector.schema.commodities import COMMODITY_GROUPS

__all__ = [
    "RankResult",
    "available_criteria",
    "build_criteria",
    "finish",
    "global_scores",
    "make_parcels",
    "measure_parcels",
    "rank",
    "score_parcels",
    "with_scores",
]


#: pandas shares arrays between frames safely (copy-on-write): always from pandas 3.
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(
    getattr(pd.options.mode, "copy_on_write", False) is True
)


def _now() -> str:
    """Run time (UTC, seconds): ``$SOURCE_DATE_EPOCH`` when set (reproducible builds), else now."""
    return run_time().isoformat(timespec="seconds")


@dataclass
class RankResult:
    """Everything a ranking run produced."""

    parcels: gpd.GeoDataFrame
    """Ranked parcels (rank 1..N), in rank order."""
    excluded: gpd.GeoDataFrame
    """Parcels not ranked (closed, or filtered by ``score.status``), with their status."""
    deposits: gpd.GeoDataFrame
    data: RegionData
    config: Config
    weights: Weights
    notes: list[str] = field(default_factory=list)
    available: dict[str, bool] = field(default_factory=dict)
    """Which criterion inputs the region supplied (deposits, evidence, road, rail, power)."""
    created: str = field(default_factory=lambda: _now())

    @property
    def all_parcels(self) -> gpd.GeoDataFrame:
        """Ranked and excluded parcels together, in parcel-id order."""
        both = pd.concat([self.parcels, self.excluded], ignore_index=True)
        return (
            gpd.GeoDataFrame(both, crs=self.parcels.crs)
            .sort_values("parcel_id")
            .reset_index(drop=True)
        )

    def missing(self) -> list[dict[str, str]]:
        """Missing layers and what that means for the results."""
        return self.data.missing()

    def manifest(
        self, *, command: str | None = None, outputs: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Provenance of the run: inputs with checksums, config, versions, time, command."""
        packages: dict[str, str | None] = {}
        for name in (
            "prospector-minerals",
            "geopandas",
            "shapely",
            "pyogrio",
            "pyproj",
            "rasterio",
            "numpy",
            "pandas",
            "exactextract",
            "folium",
            "mapclassify",
        ):
            try:
                packages[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                packages[name] = None
        return {
            "prospector_manifest": 1,
            "created": self.created,
            "command": command,
            "region": {
                "name": self.data.region.name,
                "title": self.data.region.title,
                "path": str(self.data.region.path) if self.data.region.path else None,
                "work_crs": self.data.crs.to_string(),
            },
            "inputs": self.data.inputs,
            "layers": [r.as_dict() for r in self.data.reports],
            "layers_missing": self.missing(),
            "notes": list(self.notes),
            "config": config_to_dict(self.config),
            "weights": {
                "configured": self.weights.configured,
                "effective": self.weights.effective,
                "redistributed": self.weights.redistributed,
            },
            "counts": {
                "parcels_ranked": len(self.parcels),
                "parcels_excluded": len(self.excluded),
                "deposits": len(self.deposits),
            },
            "outputs": outputs or [],
            "python": platform.python_version(),
            "packages": packages,
        }


def _raster_columns(parcels: gpd.GeoDataFrame, data: RegionData, config: Config) -> pd.DataFrame:
    out = pd.DataFrame(index=parcels.index)
    for layer in data.rasters:
        raster = read_raster_band(layer.path)
        band, nodata, bounds, crs, res = (
            raster.values,
            raster.nodata,
            raster.bounds,
            raster.crs,
            raster.res,
        )
        if layer.kind == "dem":
            slope = slope_degrees(band, res=res, crs=crs, bounds=bounds, nodata=nodata)
            z = zonal_stats(parcels, slope, bounds=bounds, crs=crs, nodata=None, prefix="slope")
            out["slope_mean_deg"] = z["slope_mean"]
            out["slope_max_deg"] = z["slope_max"]
            elev = zonal_stats(parcels, band, bounds=bounds, crs=crs, nodata=nodata, prefix="elev")
            out["relief_m"] = elev["elev_max"] - elev["elev_min"]
            out["dem_coverage"] = z["slope_coverage"]
            roads = _access_features(data, config, "road")
            if config.access.travel_cost and roads is not None:
                travel = travel_cost_km(
                    slope, roads, bounds=bounds, crs=crs, max_slope_deg=config.access.max_slope_deg
                )
                t = zonal_stats(
                    parcels, travel, bounds=bounds, crs=crs, nodata=None, prefix="travel"
                )
                out["travel_cost_km"] = t["travel_mean"]
        else:
            # Continuous evidence rasters (geophysics, geochemistry grids) become criteria
            # through their ``ev_<name>_mean`` column (prospector.analysis.criteria).
            name = layer.name.replace("-", "_")
            evidence = layer.kind == "evidence" and not layer.categorical
            z = zonal_stats(
                parcels,
                band,
                bounds=bounds,
                crs=crs,
                nodata=nodata,
                categorical=layer.categorical,
                prefix=f"ev_{name}" if evidence else name,
            )
            for col in z.columns:
                out[col] = z[col]
    return out


def make_parcels(data: RegionData, config: Config) -> gpd.GeoDataFrame:
    """Parcels to rank: the region's parcel layer (large ones split) or an aligned grid.

    The parcel count is estimated first and a run that would not fit is refused
    (:func:`~prospector.analysis.parcels.check_run_size`) before anything is built.
    """
    cell_m = config.parcels.cell_m
    given = None if data.parcels is None else data.parcels[["parcel_id", "geometry"]]
    estimate = estimate_parcels(
        data.boundary, cell_m=cell_m, shape=config.parcels.shape, parcels=given
    )
    check_run_size(
        estimate,
        max_parcels=config.parcels.max_parcels,
        available_bytes=available_memory_bytes(),
    )
    if given is not None:
        parcels = split_parcels(given, cell_m=cell_m)
    else:
        parcels = grid_parcels(
            data.boundary,
            cell_m=cell_m,
            min_area_m2=config.parcels.min_sliver_m2,
            shape=config.parcels.shape,
        )
    return parcels.reset_index(drop=True)


def available_criteria(data: RegionData, config: Config) -> dict[str, bool]:
    """Which inputs the region supplies: deposits, evidence, and each access kind."""
    have: dict[str, bool] = {
        "deposits": data.deposits is not None,
        "evidence": data.evidence is not None,
    }
    for kind in _ACCESS:
        have[kind] = _access_features(data, config, kind) is not None
    return have


def _access_features(data: RegionData, config: Config, kind: str) -> gpd.GeoDataFrame | None:
    if data.access is None:
        return None
    features = data.access[data.access["kind"] == kind]
    if kind == "road" and config.access.road_classes:
        features = features[features["class"].isin(config.access.road_classes)]
    return features if len(features) else None


def measure_parcels(
    parcels: gpd.GeoDataFrame, data: RegionData, config: Config
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Measure every parcel: land status, deposit value, distances, raster summaries.

    The measurements of a parcel depend only on the parcel and the layers, never on the
    other parcels, so this step can run on any partition of the parcels (tiles) and the
    results concatenated.

    Returns
    -------
    (geopandas.GeoDataFrame, geopandas.GeoDataFrame)
        The parcels with their measured columns, and the deposits annotated with their
        ``weight``, ``group``, ``critical`` and the ``parcel_id`` holding them.
    """
    parcels = parcels.reset_index(drop=True)
    index = ParcelIndex.of(parcels.geometry.to_numpy())

    def land() -> pd.DataFrame:
        return land_status(
            parcels,
            land=data.land,
            withdrawals=data.withdrawals,
            claims=data.claims,
            min_sliver_m2=config.parcels.min_sliver_m2,
            open_agencies=config.open_agencies,
            index=index,
        )

    # The families of measurements are independent: run them side by side.  Much of each
    # is GEOS or numpy work that releases the GIL, so the Python-bound stretches of one
    # overlap the native work of another.
    jobs: list[Callable[[], Any]] = [
        land,
        lambda: _deposit_columns(parcels, index, data, config),
        lambda: _distance_columns(parcels, index, data, config),
        lambda: _raster_columns(parcels, data, config),
    ]
    if n_threads() > 1:
        with ThreadPoolExecutor(len(jobs)) as pool:
            status, (by_deposits, deposits), distances, rasters = pool.map(lambda f: f(), jobs)
    else:
        status, (by_deposits, deposits), distances, rasters = (f() for f in jobs)
    table = pd.concat([parcels, status, by_deposits, distances, rasters], axis=1)
    if "slope_mean_deg" not in table:
        table["slope_mean_deg"] = np.nan
    return gpd.GeoDataFrame(table, geometry="geometry", crs=parcels.crs, copy=False), deposits


def _deposit_columns(
    parcels: gpd.GeoDataFrame, index: ParcelIndex, data: RegionData, config: Config
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Deposit value and the sites inside each parcel; the deposits annotated."""
    deposits = data.deposits
    out = pd.DataFrame(index=parcels.index)
    if deposits is None:
        out["value_raw"] = 0.0
        for g in COMMODITY_GROUPS:
            out[f"value_{g}"] = 0.0
        out["n_deposits"] = 0
        out["n_critical_deposits"] = 0
        out["commodities"] = ""
        out["critical_commodities"] = ""
        empty = gpd.GeoDataFrame(
            {"site_id": [], "name": [], "commodities": [], "dev_status": [], "source": []},
            geometry=[],
            crs=data.crs,
        )
        return out, empty
    weights_d = deposit_weights(deposits, data.vocabulary, config.value)
    value = parcel_value(parcels, deposits, weights_d, config.value, index=index)
    inside, owner = deposits_in_parcels(
        parcels,
        deposits,
        data.vocabulary,
        index=index,
        critical=weights_d["critical"].to_numpy(),
    )
    deposits = deposits.assign(
        weight=weights_d["weight"].to_numpy(),
        group=weights_d["group"].to_numpy(),
        critical=weights_d["critical"].to_numpy(),
        parcel_id=np.where(owner >= 0, parcels["parcel_id"].to_numpy()[np.maximum(owner, 0)], None),
    )
    return pd.concat([value, inside], axis=1), deposits


def _distance_columns(
    parcels: gpd.GeoDataFrame, index: ParcelIndex, data: RegionData, config: Config
) -> pd.DataFrame:
    """Distances to access features and faults, and fault density."""
    out = pd.DataFrame(index=parcels.index)
    for kind in _ACCESS:
        out[f"dist_{kind}_km"] = nearest_distance_km(
            parcels,
            _access_features(data, config, kind),
            max_km=config.access.search_km,
            index=index,
        )
    out["evidence_density"] = line_density(
        parcels, data.evidence, radius_km=config.evidence.density_radius_km
    )
    out["dist_fault_km"] = nearest_distance_km(
        parcels, data.evidence, max_km=config.access.search_km, index=index
    )
    return out


def global_scores(
    table: pd.DataFrame, config: Config, *, have: dict[str, bool]
) -> tuple[pd.DataFrame, Weights]:
    """Scores, family sub-scores, contributions and ranks of every parcel.

    The global part of scoring (normalisation and ranks need every parcel).  *table* needs
    the measured columns plus ``parcel_id`` and ``land_status``; the result is indexed like
    it with ``score, score_value, score_access, score_evidence, contrib_*, rank``.
    """
    criteria, weights = build_criteria(table, config, have=have)
    score, contrib = combine(
        criteria, weights.effective, method=config.score.method, gamma=config.score.gamma
    )
    out = pd.DataFrame(index=table.index)
    out["score"] = score
    out["score_value"] = criteria["value"]
    acc_cols = [
        c
        for c in ("access_road", "access_rail", "access_power", "terrain", "travel")
        if weights.effective.get(c, 0) > 0
    ]
    acc_w = np.array([weights.effective[c] for c in acc_cols])
    out["score_access"] = (criteria[acc_cols].to_numpy() @ acc_w / acc_w.sum()) if acc_cols else 0.0
    ev_cols = [
        c for c in criteria.columns if c.startswith("evidence_") and weights.effective.get(c, 0) > 0
    ]
    ev_w = np.array([weights.effective[c] for c in ev_cols])
    out["score_evidence"] = (criteria[ev_cols].to_numpy() @ ev_w / ev_w.sum()) if ev_cols else 0.0
    for c in criteria.columns:
        out[f"contrib_{c}"] = contrib.get(c, 0.0)
    eligible = _eligible(table, config.score.status)
    out["rank"] = rank_scores(out["score"], table["parcel_id"], eligible=eligible)
    return out, weights


def score_parcels(
    table: gpd.GeoDataFrame, config: Config, *, have: dict[str, bool]
) -> tuple[gpd.GeoDataFrame, Weights]:
    """Normalise criteria over all parcels, combine them, rank and explain.

    Needs every parcel at once (normalisation and ranks are global); cheap compared to
    :func:`measure_parcels`.
    """
    scores, weights = global_scores(table, config, have=have)
    return with_scores(table, scores, config), weights


def with_scores(
    table: gpd.GeoDataFrame,
    scores: pd.DataFrame,
    config: Config,
    *,
    rows: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Measured parcels plus their scores and ``why`` sentence, columns in canonical order.

    *scores* is indexed like *table* (the output of :func:`global_scores`, or a slice of it
    for a partition of the parcels).  With *rows* (positions), only those rows, in that
    order: the same as ``with_scores(table.take(rows), scores.take(rows), config)``, with
    each column gathered once, on parallel threads.
    """
    if not scores.index.equals(table.index):
        raise ValueError("scores must be indexed like table (same labels, same order)")
    names = [c for c in table.columns if c != "geometry" and c not in scores.columns]
    columns: dict[str, Any]
    geometry: Any
    index = table.index
    if rows is not None:
        # Column by column: numpy and Arrow gathers release the GIL, so they overlap.  The
        # gathered arrays are new: nothing is shared with the inputs.
        arrays = [*(table[c].array for c in names), *(scores[c].array for c in scores)]
        arrays.append(table.geometry.array)
        with ThreadPoolExecutor(max(1, min(n_threads(), 4))) as pool:
            taken = list(pool.map(lambda a: a.take(rows), arrays))
        columns = dict(zip([*names, *scores.columns], taken[:-1], strict=True))
        geometry, index = taken[-1], index.take(rows)
    else:
        # Whole Series, by reference: copy-on-write (pandas >= 3) keeps the result and the
        # inputs apart; older pandas would share the arrays, so copy there.
        columns = {c: table[c] for c in names} | {c: scores[c] for c in scores.columns}
        if not _COPY_ON_WRITE:
            columns = {c: v.copy() for c, v in columns.items()}
        geometry = table.geometry.array.copy()
    why = explain(pd.DataFrame(columns, index=index, copy=False), radius_km=config.value.radius_km)
    columns["why"] = why.array
    ordered = {c: columns[c] for c in _column_order(list(columns))}
    return gpd.GeoDataFrame(ordered, geometry=geometry, crs=table.crs, index=index, copy=False)


def rank(
    region: Region | RegionData | str | Path,
    config: Config | dict[str, Any] | str | Path | None = None,
) -> RankResult:
    """Rank the parcels of a region.

    Parameters
    ----------
    region
        A region name (``layers/regions/NAME.toml``), a region file path, a loaded
        :class:`~prospector.catalog.Region` or already loaded :class:`RegionData`.
    config
        A :class:`~prospector.config.Config`, a dict or TOML path for
        :func:`~prospector.config.load_config`, or None for defaults.

    Returns
    -------
    RankResult
    """
    if not isinstance(config, Config):
        config = load_config(config)
    data = region if isinstance(region, RegionData) else load_region_data(region, config)
    parcels = make_parcels(data, config)
    table, deposits = measure_parcels(parcels, data, config)
    return finish(table, deposits, data, config)


def finish(
    table: gpd.GeoDataFrame, deposits: gpd.GeoDataFrame, data: RegionData, config: Config
) -> RankResult:
    """Score measured parcels and package the :class:`RankResult`."""
    have = available_criteria(data, config)
    scores, weights = global_scores(table, config, have=have)
    rank = scores["rank"].to_numpy(dtype=float, na_value=np.nan)
    eligible = np.flatnonzero(~np.isnan(rank))
    if len(eligible) == 0:
        counts = table["land_status"].value_counts().to_dict()
        raise ProspectorError(
            f"no parcel is eligible for ranking under score.status = {config.score.status!r} "
            f"(land status of the {len(table)} parcels: "
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            + "). 'open' needs a land-ownership layer (BLM SMA / PAD-US); use --status "
            "not_closed or any, or add the layer."
        )
    # Order first, then build each output once (ranks are 1..N: the order is a permutation).
    rows = eligible[np.argsort(rank[eligible], kind="stable")]
    ranked = with_scores(table, scores, config, rows=rows).reset_index(drop=True)
    ranked["rank"] = ranked["rank"].astype("int64")
    rows = np.flatnonzero(np.isnan(rank))
    excluded = with_scores(table, scores.drop(columns=["rank"]), config, rows=rows)
    excluded = excluded.reset_index(drop=True)
    notes = list(data.region.notes)
    for name, why in weights.redistributed.items():
        notes.append(f"Criterion {name!r} not used ({why}); its weight was redistributed.")
    return RankResult(ranked, excluded, deposits, data, config, weights, notes, available=have)


def _eligible(table: pd.DataFrame, status: str) -> pd.Series:
    if status == "any":
        return pd.Series(True, index=table.index)
    if status == "open":
        return table["land_status"].isin(["open", "partly_open"])
    return table["land_status"] != "closed"


def _column_order(columns: list[str]) -> list[str]:
    """Canonical columns first (PARCEL_COLUMNS order), other measurements next, ``why`` last."""
    first = [c for c in PARCEL_COLUMNS if c in columns and c != "why"]
    rest = [c for c in columns if c not in first and c not in ("why", "geometry")]
    tail = [c for c in ("why", "geometry") if c in columns]
    return [*first, *rest, *tail]
