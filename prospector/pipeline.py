"""Compose the steps: layers → parcels → land status → value, access, evidence → score.

:func:`rank` is what the CLI, the notebooks and the tests call.  Each step it uses is a
public function that takes and returns plain (Geo)DataFrames, so any step can be run and
inspected alone.
"""

from __future__ import annotations

import dataclasses
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

from prospector._util import run_time
from prospector.analysis._boxes import ParcelIndex
from prospector.analysis._parallel import n_threads
from prospector.analysis.access import nearest_distance_km
from prospector.analysis.criteria import ACCESS_KINDS as _ACCESS
from prospector.analysis.criteria import build_criteria
from prospector.analysis.dedupe import dedupe_sites
from prospector.analysis.evidence import line_density
from prospector.analysis.explain import explain
from prospector.analysis.land import land_status
from prospector.analysis.parcels import grid_parcels, split_parcels
from prospector.analysis.prospectivity import decision_score, evidence_skill, run_model
from prospector.analysis.score import (
    Weights,
    combine,
    rank_scores,
)
from prospector.analysis.structure import structural_features
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
    model_card: dict[str, Any] | None = None
    """The prospectivity model's card (``score.method = "model"``), else None."""
    evidence_skill: dict[str, float] = field(default_factory=dict)
    """Per evidence criterion, share of known sites in its top 10 % of area."""
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
                "deposit_records": int(self.deposits["n_records"].sum())
                if "n_records" in self.deposits
                else len(self.deposits),
            },
            "model": self.model_card,
            "evidence_skill": self.evidence_skill,
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
    """Parcels to rank: the region's parcel layer (large ones split) or an aligned grid."""
    if data.parcels is not None:
        parcels = split_parcels(
            data.parcels[["parcel_id", "geometry"]], cell_m=config.parcels.cell_m
        )
    else:
        parcels = grid_parcels(
            data.boundary,
            cell_m=config.parcels.cell_m,
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
    if config.score.method == "model":
        structure = structural_features(
            parcels, data.evidence, radius_km=config.evidence.density_radius_km,
            max_km=config.access.search_km,
        )  # fmt: skip
        out = pd.concat([out, structure], axis=1)
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
    if config.score.method == "model":
        if "prospectivity" not in table:
            raise ProspectorError(
                "score.method = 'model' needs the prospectivity column (finish() fits it)."
            )
        score, contrib, weights, used = decision_score(
            criteria, table["prospectivity"], config, available=_access_available(criteria, have, weights.redistributed),
            reasons=weights.redistributed,
        )  # fmt: skip
        criteria = pd.concat([used[["prospectivity"]], criteria], axis=1)
    else:
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
    data = dedupe_region(data, config)
    parcels = make_parcels(data, config)
    table, deposits = measure_parcels(parcels, data, config)
    return finish(table, deposits, data, config)


def dedupe_region(data: RegionData, config: Config) -> RegionData:
    """Return the region's data with its known sites de-duplicated (``value.dedupe_m``).

    Runs once per run, before parcels are measured; idempotent (already merged sites,
    with their ``n_records`` column, are returned as they are).
    """
    deposits = data.deposits
    if deposits is None or "n_records" in deposits.columns:
        return data
    return dataclasses.replace(
        data, deposits=dedupe_sites(deposits, distance_m=config.value.dedupe_m)
    )


def _site_notes(deposits: gpd.GeoDataFrame, config: Config) -> list[str]:
    if "n_records" not in deposits.columns or not len(deposits):
        return []
    records = int(deposits["n_records"].sum())
    multi = int((deposits["n_sources"] > 1).sum())
    return [
        f"Known sites: {records:,} records -> {len(deposits):,} sites after merging records "
        f"within {config.value.dedupe_m:g} m that share a commodity ({multi:,} sites join "
        "records of several sources; value.dedupe_m = 0 keeps every record)."
    ]


def _model_columns(
    table: gpd.GeoDataFrame, deposits: gpd.GeoDataFrame, config: Config
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Fit the prospectivity model and add its columns to the measured parcels."""
    position = pd.Series(np.arange(len(table)), index=table["parcel_id"].to_numpy())
    pid = (
        deposits["parcel_id"] if "parcel_id" in deposits else pd.Series(None, index=deposits.index)
    )
    owner = pid.map(position).fillna(-1).to_numpy(dtype=np.int64)
    learn = _learn_mask(deposits, config)
    eligible = _eligible(table, config.score.status).to_numpy()
    columns, card = run_model(
        table, deposits, owner, learn, config, eligible=eligible, threads=n_threads()
    )
    out = pd.concat([table, columns], axis=1)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=table.crs, copy=False), card


def _learn_mask(deposits: gpd.GeoDataFrame, config: Config) -> np.ndarray:
    targets = config.model.targets
    if targets == "all":
        return np.ones(len(deposits), dtype=bool)
    if targets == "critical" and "critical" in deposits:
        return deposits["critical"].to_numpy(dtype=bool)
    return deposits["commodities"].map(len).to_numpy() > 0


def _evidence_notes(
    table: pd.DataFrame, deposits: gpd.GeoDataFrame, config: Config, have: dict[str, bool]
) -> tuple[list[str], dict[str, float]]:
    """Flag evidence criteria that rank the known sites below chance."""
    criteria, weights = build_criteria(table, _as_weighted(config), have=have)
    names = [
        c for c in criteria.columns if c.startswith("evidence_") and c not in weights.redistributed
    ]
    position = pd.Series(np.arange(len(table)), index=table["parcel_id"].to_numpy())
    if "parcel_id" not in deposits or not len(deposits):
        return [], {}
    owner = deposits["parcel_id"].map(position).fillna(-1).to_numpy(dtype=np.int64)
    eligible = _eligible(table, config.score.status).to_numpy()
    keep = (owner >= 0) & _learn_mask(deposits, config)
    keep[keep] = eligible[owner[keep]]
    area = table["area_km2"].to_numpy(dtype=float)
    skill = evidence_skill(criteria, names, owner[keep], area, eligible)
    notes = [
        f"Evidence layer {name.removeprefix('evidence_')!r} ranks the known sites below chance "
        f"here: {capture:.1%} of them lie in its top 10 % of area (chance 10 %). It points away "
        "from this region's deposits; consider giving it no weight."
        for name, capture in skill.items()
        if capture < 0.1
    ]
    return notes, skill


def _as_weighted(config: Config) -> Config:
    if config.score.method != "model":
        return config
    return dataclasses.replace(config, score=dataclasses.replace(config.score, method="wlc"))


def finish(
    table: gpd.GeoDataFrame, deposits: gpd.GeoDataFrame, data: RegionData, config: Config
) -> RankResult:
    """Score measured parcels and package the :class:`RankResult`."""
    have = available_criteria(data, config)
    model_card: dict[str, Any] | None = None
    if config.score.method == "model":
        table, model_card = _model_columns(table, deposits, config)
    evidence_notes, skill = _evidence_notes(table, deposits, config, have)
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
    notes = list(data.region.notes) + _site_notes(deposits, config) + evidence_notes
    for name, why in weights.redistributed.items():
        notes.append(f"Criterion {name!r} not used ({why}); its weight was redistributed.")
    if model_card is not None:
        model_card["evidence_skill_capture_0.1"] = skill
        notes.append(_card_note(model_card))
    return RankResult(
        ranked, excluded, deposits, data, config, weights, notes, available=have,
        model_card=model_card, evidence_skill=skill,
    )  # fmt: skip


def _card_note(card: dict[str, Any]) -> str:
    top = sorted(card["importance"].items(), key=lambda kv: -kv[1])[:3]
    cv = card.get("cv", {})
    capture = cv.get("capture", {}).get("0.1")
    text = (
        f"Learned prospectivity (LightGBM {card['lightgbm']}, seed {card['seed']}): "
        f"{card['training_sites']:,} training sites, {len(card['features'])} evidence features; "
        "most important: " + ", ".join(f"{k} {v:.0%}" for k, v in top) + "."
    )
    if capture is not None:
        text += f" Spatial-block CV: {capture:.1%} of sites in the top 10 % of area (chance 10 %)."
    if card.get("brownfields"):
        text += " Includes brownfields kernels of known sites: interpolation, not geology."
    return text


def _access_available(
    criteria: pd.DataFrame, have: dict[str, bool], unavailable: dict[str, str]
) -> dict[str, bool]:
    """Access criteria the region has (terrain and travel: as for the weighted method)."""
    out = {f"access_{k}": bool(have.get(k)) for k in _ACCESS}
    for name in ("terrain", "travel"):
        out[name] = (
            name not in unavailable and name in criteria and bool(criteria[name].gt(0).any())
        )
    return out


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
