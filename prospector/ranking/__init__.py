"""The ranking spine: every ranking run — CLI, notebooks, validation, benchmarks — goes here.

``rank(region_or_data, config, engine=...)`` composes the steps once: make parcels →
measure (in one pass, or tile by tile on processes or a dask cluster, or streamed from
GeoParquet with bounded memory) → global scores → finish, and returns a
:class:`RankResult`.  :func:`write_run` writes its standard outputs.

Modules: :mod:`~prospector.ranking.sources` (where layers are read, and which inputs
exist), :mod:`~prospector.ranking.rasters` (rasters prepared once per run),
:mod:`~prospector.ranking.steps` (make parcels, measure),
:mod:`~prospector.ranking.assemble` (global scores, finish),
:mod:`~prospector.ranking.prospect` (learned prospectivity, evidence skill),
:mod:`~prospector.ranking.tiles`,
:mod:`~prospector.ranking.executors`, :mod:`~prospector.ranking.streamed`,
:mod:`~prospector.ranking.run` (:func:`rank`), :mod:`~prospector.ranking.result` and
:mod:`~prospector.ranking.outputs`.
"""

from typing import TYPE_CHECKING

from prospector._lazy import attach
from prospector.ranking.assemble import finish, global_scores, with_scores
from prospector.ranking.prospect import prospect_notes
from prospector.ranking.result import RankResult, read_streamed
from prospector.ranking.run import ENGINES, Engine, estimated_bytes, rank
from prospector.ranking.sources import (
    LayerSource,
    MemoryLayers,
    ParquetLayers,
    access_features,
    available_inputs,
    missing_inputs,
    sort_spatially,
)
from prospector.ranking.steps import make_parcels, measure_parcels

if TYPE_CHECKING:
    from prospector.ranking.outputs import (
        RUN_FILES,
        map_info,
        map_lines,
        result_layers,
        write_run,
    )

__all__ = [
    "ENGINES",
    "RUN_FILES",
    "Engine",
    "LayerSource",
    "MemoryLayers",
    "ParquetLayers",
    "RankResult",
    "access_features",
    "available_inputs",
    "estimated_bytes",
    "finish",
    "global_scores",
    "make_parcels",
    "map_info",
    "map_lines",
    "measure_parcels",
    "missing_inputs",
    "prospect_notes",
    "rank",
    "read_streamed",
    "result_layers",
    "sort_spatially",
    "with_scores",
    "write_run",
]

# The run's outputs (map, exports) are imported on first use: a ranking alone does not load
# folium, jinja2, requests or GDAL's writers (prospector._lazy).
__getattr__, __dir__ = attach(
    __name__,
    dict.fromkeys(
        ["RUN_FILES", "map_info", "map_lines", "result_layers", "write_run"],
        "prospector.ranking.outputs",
    ),
)
