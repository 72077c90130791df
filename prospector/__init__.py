"""Prospector: find and rank US federal land worth exploring for critical minerals.

The data flow is one-way: layers (read, normalise, reproject) → analysis (pure functions
on GeoDataFrames) → render (folium map) / export (files).  :func:`rank` composes the
analysis steps (the one entry of :mod:`prospector.ranking`); :func:`write_run` writes the standard outputs.
"""

from prospector._version import __version__
from prospector.analysis.access import nearest_distance_km
from prospector.analysis.criteria import build_criteria
from prospector.analysis.land import land_status, status_at
from prospector.analysis.parcels import grid_parcels, split_parcels
from prospector.analysis.score import combine, normalise, rank_scores
from prospector.analysis.stake import FeeSchedule, StakePlan, stake_plan
from prospector.analysis.stake_targets import select_targets
from prospector.analysis.value import deposit_weights, parcel_value
from prospector.catalog import load_catalog, load_region
from prospector.config import Config, load_config
from prospector.errors import ProspectorError
from prospector.export import read_ranked, write_geoparquet, write_gpkg
from prospector.export.stake import write_plan
from prospector.ingest import RegionData, load_region_data
from prospector.ranking import ParquetLayers, RankResult, rank, write_run
from prospector.schema.columns import PARCEL_COLUMNS, SCHEMAS
from prospector.schema.commodities import load_vocabulary, parse_commodities

__all__ = [
    "PARCEL_COLUMNS",
    "SCHEMAS",
    "Config",
    "FeeSchedule",
    "ParquetLayers",
    "ProspectorError",
    "RankResult",
    "RegionData",
    "StakePlan",
    "__version__",
    "build_criteria",
    "combine",
    "deposit_weights",
    "grid_parcels",
    "land_status",
    "load_catalog",
    "load_config",
    "load_region",
    "load_region_data",
    "load_vocabulary",
    "nearest_distance_km",
    "normalise",
    "parcel_value",
    "parse_commodities",
    "rank",
    "rank_scores",
    "read_ranked",
    "select_targets",
    "split_parcels",
    "stake_plan",
    "status_at",
    "write_geoparquet",
    "write_gpkg",
    "write_plan",
    "write_run",
]
