"""The learned-prospectivity step of a ranking run, and the evidence skill check of every run.

:func:`with_prospectivity` runs before global scoring when ``score.method = "model"``: it
adds the structural evidence features, fits the model on the run's parcels and
de-duplicated known sites (:func:`prospector.analysis.prospectivity.run_model`) and returns
the parcels with ``prospectivity``, its band, ``shap_<feature>`` and ``prospectivity_why``,
plus the model card.  Global scoring then combines prospectivity with access
(:func:`prospector.analysis.criteria.build_criteria`).  The model needs every parcel at
once, so it runs with the in-memory and tiled engines, not the streamed one
(:func:`check_engine`).

:func:`evidence_check` runs for every method after scoring: each evidence criterion's
capture of the known sites in the top 10 % of ranked area, flagged when below chance.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from prospector._runtime import n_threads
from prospector.analysis.ids import positions_of
from prospector.analysis.prospectivity import (
    evidence_skill,
    learning_sites,
    model_note,
    run_model,
    skill_notes,
)
from prospector.analysis.score import Weights
from prospector.analysis.structure import structural_features
from prospector.config import Config
from prospector.errors import ConfigError
from prospector.ingest import RegionData

__all__ = ["check_engine", "evidence_check", "prospect_notes", "with_prospectivity"]


def check_engine(config: Config, engine: str) -> None:
    """Refuse ``score.method = "model"`` on an engine that never holds every parcel.

    Raises
    ------
    ConfigError
        For the streamed engine (``engine="stream"``, file-backed layers, or ``auto``
        choosing it for a run too large for memory).
    """
    if config.score.method == "model" and engine == "stream":
        raise ConfigError(
            "score.method='model' needs engine memory or local (the model is fitted on every "
            "parcel at once); this run is streamed (engine 'stream', file-backed layers, or "
            "'auto' for a run larger than the memory available). Use --engine memory or "
            "local, a coarser grid (parcels.cell_m), or score.method = 'wlc'."
        )


def _site_positions(table: pd.DataFrame, deposits: gpd.GeoDataFrame | None) -> np.ndarray:
    """Positional index in *table* of each deposit's parcel (−1: none)."""
    if deposits is None or not len(deposits) or "parcel_id" not in deposits:
        return np.full(0 if deposits is None else len(deposits), -1, dtype=np.int64)
    return positions_of(table["parcel_id"], deposits["parcel_id"])


def with_prospectivity(
    table: gpd.GeoDataFrame,
    deposits: gpd.GeoDataFrame | None,
    data: RegionData,
    config: Config,
) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Fit the prospectivity model on a run's measured parcels and add its columns.

    Parameters
    ----------
    table
        Every measured parcel (:func:`~prospector.ranking.measure_parcels`' table).
    deposits
        The run's de-duplicated sites, annotated with the ``parcel_id`` holding each.
    data
        The region's layers (vector evidence for the structural features; vocabulary).
    config
        Run configuration (``model``, ``seed``, the commodity focus).

    Returns
    -------
    (geopandas.GeoDataFrame, dict)
        *table* with the structural features (``struct_*``, ``density_evidence_*``) and the
        model's columns; the model card.

    Raises
    ------
    ConfigError
        No known site to learn from, or no evidence feature.
    """
    if deposits is None or not len(deposits):
        raise ConfigError(
            "score.method='model' learns from the region's known sites, and this region has "
            "no deposit layer (or no site in it). Add a deposit layer or use score.method = 'wlc'."
        )
    parts: list[pd.DataFrame] = [table]
    if (
        data.evidence is not None
        and len(data.evidence)
        and not table.columns.str.startswith("struct_").any()
    ):
        parts.append(
            structural_features(
                table,
                data.evidence,
                radius_km=config.evidence.density_radius_km,
                max_km=config.access.search_km,
            )
        )
    measured = gpd.GeoDataFrame(
        pd.concat(parts, axis=1), geometry=table.geometry.name, crs=table.crs, copy=False
    )
    owner = _site_positions(measured, deposits)
    learn = learning_sites(deposits, data.vocabulary, config)
    if not (learn & (owner >= 0)).any():
        focus = [*config.value.focus_commodities, *config.value.focus_groups]
        which = f"of the commodity focus ({', '.join(focus)})" if focus else "with a commodity"
        raise ConfigError(
            f"score.method='model' learns from known sites, and no site {which} lies in a "
            f"parcel of this region ({len(deposits)} sites in the deposit layer). Widen or drop "
            "the focus (--commodity / --group), check the deposit layer, or use "
            "score.method = 'wlc'."
        )
    columns, card = run_model(measured, deposits, owner, learn, config, threads=n_threads())
    out = pd.concat([measured, columns], axis=1)
    return gpd.GeoDataFrame(out, geometry=table.geometry.name, crs=table.crs, copy=False), card


def evidence_check(
    table: pd.DataFrame,
    rank: pd.Series,
    criteria: pd.DataFrame,
    weights: Weights,
    deposits: gpd.GeoDataFrame | None,
    data: RegionData,
    config: Config,
) -> dict[str, Any]:
    """Evidence skill of a run (any method): capture of the known sites per evidence criterion.

    *table*, *rank* and *criteria* are indexed alike (every parcel; *rank* NA where not
    ranked); evidence criteria whose input the region lacks (``weights.unavailable``) are
    not checked.  See :func:`~prospector.analysis.prospectivity.evidence_skill`.
    """
    names = [
        c for c in criteria.columns if c.startswith("evidence_") and c not in weights.unavailable
    ]
    owner = _site_positions(table, deposits)
    if deposits is not None and len(deposits):
        owner = owner[learning_sites(deposits, data.vocabulary, config)]
    area = (
        table["area_km2"].to_numpy(dtype=float)
        if "area_km2" in table
        else np.asarray(gpd.GeoSeries(table.geometry).area, dtype=float) / 1e6
    )
    eligible = rank.notna().to_numpy()
    return evidence_skill(criteria, names, owner, area, eligible)


def prospect_notes(card: dict[str, Any] | None, skill: dict[str, Any]) -> list[str]:
    """Run notes: the evidence layers below chance, the model card's summary and warnings."""
    notes = skill_notes(skill)
    if card is not None:
        notes.append(model_note(card))
        notes.extend(card.get("warnings") or [])
    return notes
