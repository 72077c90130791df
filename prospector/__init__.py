"""Prospector: find and rank US federal land worth exploring for critical minerals.

The data flow is one-way: layers (read, normalise, reproject) → analysis (pure functions
on GeoDataFrames) → render (folium map) / export (files).  :func:`rank` composes the
analysis steps (the one entry of :mod:`prospector.ranking`); :func:`write_run` writes the standard outputs.
The public names are imported on first use: ``import prospector`` loads no map, GDAL or
HTTP library until something needs it.
"""

from typing import TYPE_CHECKING

from prospector._lazy import attach
from prospector._version import __version__

if TYPE_CHECKING:
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

# Imported on first use (prospector._lazy): `import prospector` stays light.
__getattr__, __dir__ = attach(
    __name__,
    {
        "Config": "prospector.config",
        "FeeSchedule": "prospector.analysis.stake",
        "PARCEL_COLUMNS": "prospector.schema.columns",
        "ParquetLayers": "prospector.ranking",
        "ProspectorError": "prospector.errors",
        "RankResult": "prospector.ranking",
        "RegionData": "prospector.ingest",
        "SCHEMAS": "prospector.schema.columns",
        "StakePlan": "prospector.analysis.stake",
        "build_criteria": "prospector.analysis.criteria",
        "combine": "prospector.analysis.score",
        "deposit_weights": "prospector.analysis.value",
        "grid_parcels": "prospector.analysis.parcels",
        "land_status": "prospector.analysis.land",
        "load_catalog": "prospector.catalog",
        "load_config": "prospector.config",
        "load_region": "prospector.catalog",
        "load_region_data": "prospector.ingest",
        "load_vocabulary": "prospector.schema.commodities",
        "nearest_distance_km": "prospector.analysis.access",
        "normalise": "prospector.analysis.score",
        "parcel_value": "prospector.analysis.value",
        "parse_commodities": "prospector.schema.commodities",
        "rank": "prospector.ranking",
        "rank_scores": "prospector.analysis.score",
        "read_ranked": "prospector.export",
        "select_targets": "prospector.analysis.stake_targets",
        "split_parcels": "prospector.analysis.parcels",
        "stake_plan": "prospector.analysis.stake",
        "status_at": "prospector.analysis.land",
        "write_geoparquet": "prospector.export",
        "write_gpkg": "prospector.export",
        "write_plan": "prospector.export.stake",
        "write_run": "prospector.ranking",
    },
)
