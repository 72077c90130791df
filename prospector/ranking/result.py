"""What a ranking run produced: :class:`RankResult`."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from prospector._util import run_time
from prospector.analysis.criteria import build_criteria, criteria_inputs
from prospector.analysis.score import Weights
from prospector.config import Config, config_to_dict
from prospector.ingest import RegionData

__all__ = ["RankResult", "read_streamed"]

_PACKAGES = (
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
)


class RankResult:
    """Everything a ranking run produced, and what later steps need from it.

    Attributes
    ----------
    parcels
        Ranked parcels (rank 1..N), in rank order.
    excluded
        Parcels not ranked (closed, or filtered by ``score.status``), with their status.
    deposits
        The region's deposits with ``weight``, ``group``, ``critical`` and the
        ``parcel_id`` holding each (None when not ranked in memory).
    data
        The region's layers (for a streamed run: the region without vector layers).
    config
        The configuration of the run.
    weights
        Configured and effective weights.
    notes
        The region's notes and one per redistributed criterion weight.
    available
        Which criterion inputs the region supplied (deposits, evidence, road, rail,
        power): the ``have`` of :func:`~prospector.analysis.criteria.build_criteria`.
    criteria
        The normalised criteria of every parcel, indexed by ``parcel_id``, in the order the
        run measured the parcels (None for a streamed run).  An in-memory run builds them on
        first use from the measured columns of ``parcels`` and ``excluded``, in the run's
        own parcel order, so they equal to the bit the table it scored with, and a result
        nobody asks them of does not hold them (53 MB at 1M parcels).  Ask before changing
        ``parcels`` or ``excluded`` in place: frames found sorted or cut since the run (ids
        compared at up to 4,096 rows of each) are refused.
    missing
        Inputs the region lacks, each with what that means for the results.
    criteria_rows
        (Constructor only.) For each row of ``parcels`` then ``excluded``, its position in
        the table the run scored: how :attr:`criteria` is rebuilt on first use.
    dataset
        A streamed run's GeoParquet dataset of every parcel (None in memory).
    timings
        Seconds per stage.
    created
        Run time (UTC, ISO seconds).
    targets
        Target areas: contiguous high-scoring parcels merged and ranked
        (:func:`~prospector.analysis.targets.find_targets`; a streamed run reads its best
        rows back from the dataset for them).
    model_card
        The learned prospectivity model's card (``score.method = "model"``; else None):
        features, importance, training sites, cross-validation, seed, parameters.
    evidence_skill
        Each evidence criterion's capture of the known sites in the top 10 % of ranked
        area, and those below chance
        (:func:`~prospector.analysis.prospectivity.evidence_skill`; empty for a streamed run).
    """

    def __init__(
        self,
        *,
        data: RegionData,
        config: Config,
        weights: Weights,
        notes: list[str] | None = None,
        available: dict[str, bool] | None = None,
        criteria: pd.DataFrame | None = None,
        criteria_rows: np.ndarray | None = None,
        missing: list[dict[str, str]] | None = None,
        dataset: Path | None = None,
        counts: tuple[int, int] | None = None,
        timings: dict[str, float] | None = None,
        created: str | None = None,
        targets: gpd.GeoDataFrame | None = None,
        model_card: dict[str, Any] | None = None,
        evidence_skill: dict[str, Any] | None = None,
        parcels: gpd.GeoDataFrame | None = None,
        excluded: gpd.GeoDataFrame | None = None,
        deposits: gpd.GeoDataFrame | None = None,
    ) -> None:
        if (parcels is None or excluded is None) and dataset is None:
            raise ValueError("a RankResult needs parcels and excluded, or a dataset")
        self._parcels = parcels
        self._excluded = excluded
        self.deposits = deposits
        self.data = data
        self.config = config
        self.weights = weights
        self.notes = list(notes or [])
        self.available = dict(available or {})
        self._criteria = criteria
        # The run's parcel order: row i of ranked-then-excluded was measured at criteria_rows[i].
        self._criteria_rows = criteria_rows
        self._criteria_key = None if criteria_rows is None else _rows_key(parcels, excluded)
        self.missing = list(missing or [])
        self.dataset = dataset
        self._counts = counts
        self.timings = dict(timings or {})
        self.created = created or run_time().isoformat(timespec="seconds")
        self.targets = targets
        self.model_card = model_card
        self.evidence_skill = dict(evidence_skill or {})

    def __repr__(self) -> str:
        where = f", dataset={str(self.dataset)!r}" if self.dataset else ""
        return (
            f"RankResult(region={self.data.region.name!r}, ranked={self.n_ranked:,}, "
            f"parcels={self.n_parcels:,}{where})"
        )

    def _load(self) -> None:
        assert self.dataset is not None
        gdf = read_streamed(self.dataset)
        ranked = gdf["rank"].notna().to_numpy()
        parcels = gdf[ranked].reset_index(drop=True)
        self._parcels = parcels.assign(rank=parcels["rank"].astype("int64"))
        self._excluded = gdf[~ranked].drop(columns="rank").reset_index(drop=True)

    @property
    def parcels(self) -> gpd.GeoDataFrame:
        """Ranked parcels (rank 1..N), in rank order (a streamed run's are read on first use)."""
        if self._parcels is None:
            self._load()
        assert self._parcels is not None
        return self._parcels

    @property
    def excluded(self) -> gpd.GeoDataFrame:
        """Parcels not ranked, in parcel order (a streamed run's: read on first use, by id)."""
        if self._excluded is None:
            self._load()
        assert self._excluded is not None
        return self._excluded

    @property
    def criteria(self) -> pd.DataFrame | None:
        """The normalised criteria of every parcel, indexed by ``parcel_id`` (see the class)."""
        if self._criteria is None and self._criteria_rows is not None:
            self._criteria = self._rebuild_criteria(self._criteria_rows)
            self._criteria_rows = None
        return self._criteria

    @criteria.setter
    def criteria(self, value: pd.DataFrame | None) -> None:
        self._criteria = value
        self._criteria_rows = None

    def _rebuild_criteria(self, rows: np.ndarray) -> pd.DataFrame:
        """Criteria from the measured columns, every parcel back at its measured position."""
        ranked, excluded = self.parcels, self.excluded
        if len(rows) != len(ranked) + len(excluded):
            raise ValueError(
                f"criteria_rows has {len(rows)} positions for {len(ranked) + len(excluded)} "
                "parcels (ranked and excluded)"
            )
        if _rows_key(ranked, excluded) != self._criteria_key:
            raise ValueError(
                "the result's parcels or excluded parcels were reordered, added to or cut "
                "after the run, so their criteria cannot be rebuilt; ask for "
                "result.criteria before changing the frames in place (or change copies)"
            )
        at = np.empty(len(rows), dtype=np.intp)
        at[rows] = np.arange(len(rows))  # the result row of each measured position
        columns = criteria_inputs(ranked.columns)
        measured = pd.concat(
            [pd.DataFrame(ranked[columns]), pd.DataFrame(excluded[columns])], ignore_index=True
        ).take(at)
        measured.index = pd.RangeIndex(len(measured))
        criteria, _ = build_criteria(measured, self.config, have=self.available)
        ids = pd.concat([ranked["parcel_id"], excluded["parcel_id"]], ignore_index=True)
        criteria.index = pd.Index(ids.take(at).array, name="parcel_id")
        return criteria

    @property
    def n_parcels(self) -> int:
        """Number of parcels, ranked and excluded."""
        if self._counts is not None:
            return self._counts[0]
        return len(self.parcels) + len(self.excluded)

    @property
    def n_ranked(self) -> int:
        """Number of ranked parcels."""
        if self._counts is not None:
            return self._counts[1]
        return len(self.parcels)

    @property
    def all_parcels(self) -> gpd.GeoDataFrame:
        """Ranked and excluded parcels together, in parcel-id order."""
        both = pd.concat([self.parcels, self.excluded], ignore_index=True)
        return (
            gpd.GeoDataFrame(both, crs=self.parcels.crs)
            .sort_values("parcel_id")
            .reset_index(drop=True)
        )

    def manifest(
        self, *, command: str | None = None, outputs: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Provenance of the run: inputs with checksums, config, versions, time, command."""
        packages: dict[str, str | None] = {}
        for name in _PACKAGES:
            try:
                packages[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                packages[name] = None
        data = self.data
        return {
            "prospector_manifest": 1,
            "created": self.created,
            "command": command,
            "region": {
                "name": data.region.name,
                "title": data.region.title,
                "path": str(data.region.path) if data.region.path else None,
                "work_crs": data.crs.to_string(),
            },
            "inputs": data.inputs,
            "layers": [r.as_dict() for r in data.reports],
            "layers_missing": list(self.missing),
            "notes": list(self.notes),
            "config": config_to_dict(self.config),
            "weights": {
                "configured": self.weights.configured,
                "effective": self.weights.effective,
                "redistributed": self.weights.redistributed,
                "unavailable": self.weights.unavailable,
            },
            "available": dict(self.available),
            "counts": {
                "parcels_ranked": self.n_ranked,
                "parcels_excluded": self.n_parcels - self.n_ranked,
                "deposits": 0 if self.deposits is None else len(self.deposits),
            },
            "model": self.model_card,
            "evidence_skill": dict(self.evidence_skill),
            "outputs": outputs or [],
            "python": platform.python_version(),
            "packages": packages,
        }


def _rows_key(*frames: pd.DataFrame | None) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """Return the frames' lengths and parcel ids at up to 4,096 evenly spaced rows each.

    Enough to notice frames sorted, filtered or cut after the run, without hashing a
    million ids (which pandas does on Python strings: +170 MB at 1M parcels).
    """
    key = []
    for frame in frames:
        if frame is None:
            continue
        n = len(frame)
        at = np.unique(np.linspace(0, n - 1, num=min(n, 4096)).astype(np.intp))
        key.append((n, tuple(str(v) for v in frame["parcel_id"].take(at))))
    return tuple(key)


def read_streamed(path: str | Path) -> gpd.GeoDataFrame:
    """Every parcel of a streamed run: ranked ones first in rank order, then by parcel id."""
    gdf = gpd.read_parquet(path)
    ranked = gdf[gdf["rank"].notna()].sort_values("rank")
    rest = gdf[gdf["rank"].isna()].sort_values("parcel_id")
    return gpd.GeoDataFrame(pd.concat([ranked, rest], ignore_index=True), crs=gdf.crs)
