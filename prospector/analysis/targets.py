"""Target areas: contiguous high-scoring parcels merged into ranked targets.

A geologist reads "the twenty best targets", not "forty-one cells of one camp".  This step
turns the cell ranking into target areas:

1. **High-scoring cells.**  The ranked parcels whose rank lies in the top ``top_percent`` %
   of ranked parcels (at least ``min_cells`` of them), optionally also requiring
   ``score >= min_score``.  Only ranked parcels take part: closed ground never forms a
   target.
2. **Contiguity.**  Two high-scoring cells belong to the same target when they touch:
   ``"queen"`` adjacency joins cells sharing an edge or only a corner, ``"rook"`` only cells
   sharing an edge (a boundary segment of positive length).  With ``gap_m > 0`` cells up to
   that distance apart are joined as well (queen-like), which bridges a single low cell
   inside a target.  Targets are the connected components of that graph.
3. **Ranking.**  Targets are ranked by their best cell's score (``rank_by = "best"``; ties
   by summed score, then by the best cell's rank) or by the summed score of their cells
   (``"sum"``), which favours large areas.

Each target carries its best and summed score, area, member count, the commodities and
critical commodities of its cells, the number of known sites inside, its land-status mix
and its best cell, and the union of its cells as geometry.
"""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse
import shapely
from scipy.sparse.csgraph import connected_components

from prospector.analysis._text import join_sorted, sorted_codes
from prospector.config import TargetConfig
from prospector.errors import ConfigError

__all__ = [
    "TARGET_CELL_COLUMNS",
    "TARGET_COLUMNS",
    "TargetConfig",
    "find_targets",
    "target_cell_count",
]

#: Columns of the targets table, in order (plus ``geometry``).
TARGET_COLUMNS: tuple[str, ...] = (
    "target_id",
    "rank",
    "n_cells",
    "area_km2",
    "best_score",
    "sum_score",
    "mean_score",
    "best_parcel_id",
    "best_rank",
    "n_deposits",
    "commodities",
    "critical_commodities",
    "status_mix",
    "why",
)


#: Columns of the ranked parcels a target summarises (besides the geometry).
TARGET_CELL_COLUMNS: tuple[str, ...] = (
    "parcel_id",
    "rank",
    "score",
    "area_km2",
    "n_deposits",
    "commodities",
    "critical_commodities",
    "land_status",
)


def target_cell_count(n_ranked: int, config: TargetConfig) -> int:
    """How many of the *n_ranked* best ranked parcels are candidate target cells.

    The top ``top_percent`` % of the ranked parcels, rounded up, and at least
    ``min_cells`` of them (all of them when fewer are ranked).  A run that cannot hold
    every parcel (the streamed engine) reads only the parcels with ``rank`` up to this
    count and passes ``n_ranked`` to :func:`find_targets`.
    """
    return max(int(np.ceil(n_ranked * config.top_percent / 100.0)), min(config.min_cells, n_ranked))


def _high_scoring(
    ranked: pd.DataFrame, config: TargetConfig, n_ranked: int | None = None
) -> np.ndarray:
    """Positions of the high-scoring cells among *ranked*, best first."""
    rank = pd.to_numeric(ranked["rank"]).to_numpy(dtype=float, na_value=np.nan)
    pos = np.flatnonzero(~np.isnan(rank))
    n = len(pos) if n_ranked is None else n_ranked
    if n == 0 or len(pos) == 0:
        return np.zeros(0, dtype=np.int64)
    keep_n = target_cell_count(n, config)
    pos = pos[np.argsort(rank[pos], kind="stable")][:keep_n]
    if config.min_score > 0:
        pos = pos[ranked["score"].to_numpy(dtype=float)[pos] >= config.min_score]
    return pos


def _components(geoms: np.ndarray, config: TargetConfig) -> np.ndarray:
    """Connected-component label of every geometry under the configured contiguity."""
    n = len(geoms)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    tree = shapely.STRtree(geoms)
    if config.gap_m > 0:
        left, right = tree.query(geoms, predicate="dwithin", distance=config.gap_m)
    else:
        left, right = tree.query(geoms, predicate="intersects")
        if config.adjacency == "rook":
            # An edge in common: the boundaries meet in a line, not only in points.
            off = left != right
            shared = np.zeros(len(left), dtype=bool)
            shared[off] = shapely.relate_pattern(geoms[left[off]], geoms[right[off]], "****1****")
            # Overlapping parcels (not a partition) are contiguous too.
            shared[off] |= shapely.relate_pattern(geoms[left[off]], geoms[right[off]], "2********")
            keep = ~off | shared
            left, right = left[keep], right[keep]
    graph = scipy.sparse.coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def _joined_lists(labels: np.ndarray, lists: pd.Series, n_groups: int) -> np.ndarray:
    """Distinct '; '-joined items per label, sorted."""
    out = np.full(n_groups, "", dtype=object)
    items = lists.fillna("").astype(str).str.split("; ")
    lengths = items.str.len().to_numpy(dtype=np.int64)
    label = np.repeat(labels, lengths)
    item = np.array(list(itertools.chain.from_iterable(items)), dtype=object)
    keep = item != ""
    label, item = label[keep], item[keep]
    if len(item):
        # One integer key per distinct (label, item), items coded in name order: sorted pairs.
        code, names = sorted_codes(item)
        m = len(names)
        key = np.unique(label.astype(np.int64) * m + code)
        keys, joined = join_sorted(key // m, names[key % m])
        out[keys] = joined
    return out


def _status_mix(labels: np.ndarray, status: pd.Series, n_groups: int) -> np.ndarray:
    """``"open 3; unknown 2"`` per label: land-status counts, most frequent first."""
    out = np.full(n_groups, "", dtype=object)
    if len(labels) == 0:
        return out
    code, names = sorted_codes(status.fillna("unknown").astype(str).to_numpy(dtype=object))
    m = len(names)
    pair, n = np.unique(labels.astype(np.int64) * m + code, return_counts=True)
    g, s = pair // m, pair % m
    # Per label: most frequent first, ties by status name (codes are in name order).
    order = np.lexsort((s, -n, g))
    text = names[s[order]] + " " + n[order].astype(str).astype(object)
    keys, joined = join_sorted(g[order], text)
    out[keys] = joined
    return out


def find_targets(
    ranked: gpd.GeoDataFrame, config: TargetConfig | None = None, *, n_ranked: int | None = None
) -> gpd.GeoDataFrame:
    """Merge contiguous high-scoring ranked parcels into ranked target areas.

    Parameters
    ----------
    ranked
        Ranked parcels in a projected CRS (metres): at least ``parcel_id``, ``rank``,
        ``score`` and geometry; ``area_km2``, ``n_deposits``, ``commodities``,
        ``critical_commodities`` and ``land_status`` are summarised when present.  Parcels
        without a rank (not eligible) are ignored.
    config
        How cells are selected, joined and targets ranked (defaults: top 2 % of ranked
        cells, at least 50, queen adjacency, no gap, ranked by best cell).
    n_ranked
        How many parcels the run ranked, when *ranked* holds only its best ones (at least
        the :func:`target_cell_count` best); by default the ranked parcels of *ranked*.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per target in rank order with the columns of :data:`TARGET_COLUMNS` and the
        union of its cells as geometry, in the CRS of *ranked*.
    """
    config = config or TargetConfig()
    problems = config.problems()
    missing = [c for c in ("parcel_id", "rank", "score") if c not in ranked.columns]
    if missing:
        problems.append(f"ranked parcels lack column(s) {', '.join(missing)}.")
    if ranked.crs is not None and not ranked.crs.is_projected:
        problems.append(
            f"ranked parcels must be in a projected CRS (metres); got {ranked.crs.name}. "
            "Pass the run's parcels (work CRS), not a lon/lat export."
        )
    if n_ranked is not None and n_ranked < 0:
        problems.append(f"n_ranked must be >= 0; got {n_ranked}.")
    if problems:
        raise ConfigError("cannot build targets:\n  " + "\n  ".join(problems))
    pos = _high_scoring(ranked, config, n_ranked)
    # Only the columns summarised are taken (not the sentences: taking rows of a chunked
    # Arrow column first joins its chunks, a copy of the whole column).
    used = [c for c in (*TARGET_CELL_COLUMNS, ranked.geometry.name) if c in ranked.columns]
    cells = ranked[used].iloc[pos]
    geoms = cells.geometry.to_numpy()
    labels = _components(geoms, config)
    k = int(labels.max()) + 1 if len(labels) else 0

    score = cells["score"].to_numpy(dtype=float)
    rank = pd.to_numeric(cells["rank"]).to_numpy(dtype=float)
    area = (
        cells["area_km2"].to_numpy(dtype=float)
        if "area_km2" in cells
        else shapely.area(geoms) / 1e6
    )
    # Cells come in rank order, so the first cell of each label is its best cell.
    first = np.full(k, -1, dtype=np.int64)
    seen = np.unique(labels, return_index=True)[1]
    first[labels[seen]] = seen
    n_dep = (
        np.bincount(labels, weights=cells["n_deposits"].to_numpy(dtype=float), minlength=k)
        if "n_deposits" in cells
        else np.zeros(k)
    )
    table = pd.DataFrame(
        {
            "n_cells": np.bincount(labels, minlength=k).astype("int64"),
            "area_km2": np.bincount(labels, weights=area, minlength=k),
            "best_score": score[first] if k else np.zeros(0),
            "sum_score": np.bincount(labels, weights=score, minlength=k),
            "best_parcel_id": cells["parcel_id"].to_numpy()[first] if k else [],
            "best_rank": rank[first].astype("int64") if k else np.zeros(0, dtype="int64"),
            "n_deposits": n_dep.astype("int64"),
        }
    )
    table["mean_score"] = table["sum_score"] / table["n_cells"].clip(lower=1)
    for col in ("commodities", "critical_commodities"):
        table[col] = (
            _joined_lists(labels, cells[col], k) if col in cells else np.full(k, "", dtype=object)
        )
    table["status_mix"] = (
        _status_mix(labels, cells["land_status"], k)
        if "land_status" in cells
        else np.full(k, "", dtype=object)
    )
    geometry = np.empty(k, dtype=object)
    if k:
        order = np.argsort(labels, kind="stable")
        bounds = np.r_[0, np.cumsum(np.bincount(labels, minlength=k))]
        for g in range(k):
            members = geoms[order[bounds[g] : bounds[g + 1]]]
            geometry[g] = members[0] if len(members) == 1 else shapely.union_all(members)
    if config.rank_by == "sum":
        keys = (table["best_rank"], -table["best_score"], -table["sum_score"])
    else:
        keys = (table["best_rank"], -table["sum_score"], -table["best_score"])
    ordering = np.lexsort(tuple(np.asarray(key) for key in keys))
    table = table.iloc[ordering].reset_index(drop=True)
    geometry = geometry[ordering]
    table.insert(0, "rank", np.arange(1, k + 1, dtype="int64"))
    table.insert(0, "target_id", [f"T{i:04d}" for i in range(1, k + 1)])
    table["why"] = _sentences(table)
    out = gpd.GeoDataFrame(table[list(TARGET_COLUMNS)], geometry=list(geometry), crs=ranked.crs)
    return out


def _sentences(table: pd.DataFrame) -> list[str]:
    """One plain sentence per target."""
    out = []
    for row in table.itertuples(index=False):
        cells = f"{row.n_cells} cell{'s' if row.n_cells != 1 else ''}"
        sites = (
            f"{row.n_deposits} known site{'s' if row.n_deposits != 1 else ''} inside"
            if row.n_deposits
            else "no known site inside"
        )
        crit = (
            f"; critical: {row.critical_commodities.replace('; ', ', ')}"
            if row.critical_commodities
            else ""
        )
        out.append(
            f"Target {row.rank}: {cells}, {row.area_km2:.1f} km²; best cell #{row.best_rank} "
            f"(score {row.best_score:.3f}); {sites}{crit}; land: {row.status_mix or 'unknown'}."
        )
    return out
