"""Target areas from ranked cells, on grids built in code (expected values by hand)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from prospector.analysis.targets import TARGET_COLUMNS, find_targets, target_cell_count
from prospector.config import TargetConfig
from prospector.errors import ConfigError


def _grid(scores: dict[tuple[int, int], float], n: int = 5, **columns) -> gpd.GeoDataFrame:
    """n x n 1 km cells; *scores* for some (row, col), 0.01 elsewhere; ranks by score."""
    rows = [(r, c) for r in range(n) for c in range(n)]
    score = np.array([scores.get(rc, 0.01) for rc in rows])
    order = np.lexsort((np.arange(len(rows)), -score))
    rank = np.empty(len(rows), dtype=np.int64)
    rank[order] = np.arange(1, len(rows) + 1)
    frame = gpd.GeoDataFrame(
        {
            "parcel_id": [f"r{r}c{c}" for r, c in rows],
            "score": score,
            "rank": rank,
            "area_km2": 1.0,
            **columns,
        },
        geometry=[shapely.box(c * 1000, r * 1000, (c + 1) * 1000, (r + 1) * 1000) for r, c in rows],
        crs="EPSG:5070",
    )
    return frame


# Two diagonal cells (corner contact), one pair of edge neighbours, and a lone cell.
SCORES = {(0, 0): 0.9, (1, 1): 0.8, (3, 3): 0.7, (3, 4): 0.6, (0, 4): 0.5}


def test_target_cell_count_by_hand():
    config = TargetConfig(top_percent=2.0, min_cells=50)
    assert target_cell_count(10_000, config) == 200  # 2 % of 10,000
    assert target_cell_count(10_001, config) == 201  # rounded up
    assert target_cell_count(1_000, config) == 50  # at least min_cells
    assert target_cell_count(30, config) == 30  # all when fewer are ranked
    assert target_cell_count(0, config) == 0


def test_best_rows_only_give_the_same_targets():
    """A streamed run passes only its best rows and the run's count of ranked parcels."""
    config = TargetConfig(top_percent=20.0, min_cells=1)
    grid = _grid(SCORES)
    best = grid[grid["rank"] <= 5].sort_values("rank")
    full = find_targets(grid, config)
    part = find_targets(best, config, n_ranked=25)
    assert part.drop(columns="geometry").equals(full.drop(columns="geometry"))
    assert part.geometry.geom_equals(full.geometry).all()
    # Without n_ranked the 5 rows would be the whole run: 20 % of 5 = 1 cell.
    assert find_targets(best, config)["n_cells"].tolist() == [1]
    with pytest.raises(ConfigError, match="n_ranked must be >= 0"):
        find_targets(best, config, n_ranked=-1)


def test_queen_joins_corner_neighbours():
    targets = find_targets(_grid(SCORES), TargetConfig(top_percent=20.0, min_cells=1))
    # Top 20 % of 25 cells = 5 cells: the five scored ones.
    assert targets["n_cells"].tolist() == [2, 2, 1]
    assert targets["best_parcel_id"].tolist() == ["r0c0", "r3c3", "r0c4"]
    assert targets["best_rank"].tolist() == [1, 3, 5]
    np.testing.assert_allclose(targets["sum_score"], [1.7, 1.3, 0.5])
    np.testing.assert_allclose(targets["best_score"], [0.9, 0.7, 0.5])
    np.testing.assert_allclose(targets["area_km2"], [2.0, 2.0, 1.0])
    assert targets["rank"].tolist() == [1, 2, 3]
    assert targets["target_id"].tolist() == ["T0001", "T0002", "T0003"]
    assert list(targets.columns) == [*TARGET_COLUMNS, "geometry"]
    assert targets.geometry.iloc[1].equals(shapely.box(3000, 3000, 5000, 4000))


def test_rook_needs_an_edge():
    targets = find_targets(
        _grid(SCORES), TargetConfig(top_percent=20.0, min_cells=1, adjacency="rook")
    )
    assert targets["n_cells"].tolist() == [1, 1, 2, 1]
    assert targets["best_parcel_id"].tolist() == ["r0c0", "r1c1", "r3c3", "r0c4"]


def test_gap_bridges_nearby_cells_and_sum_ranking():
    # r0c4 (x 4-5 km, y 0-1 km) is 2 km from r1c1 (x 1-2, y 1-2) and r3c3 is 1.41 km from
    # it: with a 2 km gap all five high cells form one target.
    config = TargetConfig(top_percent=20.0, min_cells=1, gap_m=2000.0)
    assert find_targets(_grid(SCORES), config)["n_cells"].tolist() == [5]
    # With r4c0 at 0.65 the top five are r0c0, r1c1, r3c3, r4c0, r3c4 (r0c4 drops out).  A
    # 1.5 km gap joins r1c1 and r3c3 (1.41 km); r4c0 is 2 km from every other: alone.
    config = TargetConfig(top_percent=20.0, min_cells=1, gap_m=1500.0, rank_by="sum")
    targets = find_targets(_grid({**SCORES, (4, 0): 0.65}), config)
    assert targets["n_cells"].tolist() == [4, 1]
    np.testing.assert_allclose(targets["sum_score"], [3.0, 0.65])
    # Ranked by best cell instead, the same two targets keep that order (0.9 > 0.65).
    config = TargetConfig(top_percent=20.0, min_cells=1, gap_m=1500.0)
    assert find_targets(_grid({**SCORES, (4, 0): 0.65}), config)["n_cells"].tolist() == [4, 1]


def test_sum_ranking_prefers_large_areas():
    scores = {(0, 0): 0.9, (4, 0): 0.5, (4, 1): 0.5, (4, 2): 0.5}
    config = TargetConfig(top_percent=16.0, min_cells=1)  # 4 cells
    assert find_targets(_grid(scores), config)["best_parcel_id"].tolist() == ["r0c0", "r4c0"]
    config = TargetConfig(top_percent=16.0, min_cells=1, rank_by="sum")
    assert find_targets(_grid(scores), config)["best_parcel_id"].tolist() == ["r4c0", "r0c0"]


def test_commodities_status_and_sites_are_summarised():
    extra = {
        "commodities": [""] * 25,
        "critical_commodities": [""] * 25,
        "n_deposits": [0] * 25,
        "land_status": ["unknown"] * 25,
    }
    frame = _grid(SCORES, **extra)
    frame.loc[0, ["commodities", "critical_commodities", "n_deposits"]] = [
        "gold; lithium",
        "lithium",
        2,
    ]
    frame.loc[6, ["commodities", "critical_commodities", "n_deposits", "land_status"]] = [
        "copper; lithium",
        "copper; lithium",
        1,
        "verify_boundary",
    ]
    targets = find_targets(frame, TargetConfig(top_percent=20.0, min_cells=1))
    first = targets.iloc[0]
    assert first["commodities"] == "copper; gold; lithium"
    assert first["critical_commodities"] == "copper; lithium"
    assert first["n_deposits"] == 3
    assert first["status_mix"] == "unknown 1; verify_boundary 1"
    assert first["why"].startswith("Target 1: 2 cells, 2.0 km²; best cell #1")


def test_unranked_cells_never_join_and_min_cells():
    frame = _grid(SCORES)
    frame["rank"] = frame["rank"].astype(float)
    frame.loc[frame["parcel_id"] == "r1c1", "rank"] = np.nan  # closed
    targets = find_targets(frame, TargetConfig(top_percent=1.0, min_cells=4))
    # At least 4 cells: ranks 1..4 of the 24 ranked cells (r1c1 is not ranked).
    assert sorted(targets["best_parcel_id"]) == ["r0c0", "r0c4", "r3c3"]
    assert targets["n_cells"].sum() == 4


def test_bad_inputs_are_refused():
    with pytest.raises(ConfigError, match="projected CRS"):
        find_targets(_grid(SCORES).to_crs("EPSG:4326"))
    with pytest.raises(ConfigError, match=r"targets\.top_percent"):
        find_targets(_grid(SCORES), TargetConfig(top_percent=0.0))
    with pytest.raises(ConfigError, match="lack column"):
        find_targets(_grid(SCORES).drop(columns="score"))
    empty = find_targets(_grid(SCORES).iloc[:0])
    assert len(empty) == 0 and list(empty.columns) == [*TARGET_COLUMNS, "geometry"]


def test_summaries_match_a_plain_pandas_groupby():
    """The vectorised commodity lists and status mix equal pandas' groupby on random cells."""
    import pandas as pd

    from prospector.analysis.targets import _joined_lists, _status_mix

    rng = np.random.default_rng(3)
    n, k = 3000, 400
    labels = rng.integers(0, k, n)
    words = np.array(["zinc", "gallium", "Lead", "copper", "", "rare earths"], dtype=object)
    lists = pd.Series(
        ["; ".join(rng.choice(words, rng.integers(0, 4))) for _ in range(n)], dtype=object
    )
    lists[rng.random(n) < 0.1] = None
    status = pd.Series(rng.choice(["open", "unknown", "claimed", "restricted"], n), dtype=object)
    status[rng.random(n) < 0.1] = None

    frame = pd.DataFrame({"g": labels, "item": lists.fillna("").str.split("; ")}).explode("item")
    frame = frame[frame["item"].notna() & (frame["item"] != "")].drop_duplicates()
    expected = np.full(k, "", dtype=object)
    joined = frame.sort_values(["g", "item"]).groupby("g")["item"].agg("; ".join)
    expected[joined.index.to_numpy()] = joined.to_numpy()
    assert list(_joined_lists(labels, lists, k)) == list(expected)

    counts = (
        pd.DataFrame({"g": labels, "s": status.fillna("unknown")})
        .value_counts()
        .reset_index(name="n")
        .sort_values(["g", "n", "s"], ascending=[True, False, True])
    )
    counts["text"] = counts["s"] + " " + counts["n"].astype(str)
    mix = counts.groupby("g")["text"].agg("; ".join)
    expected = np.full(k, "", dtype=object)
    expected[mix.index.to_numpy()] = mix.to_numpy()
    got = _status_mix(labels, status, k)
    assert list(got) == list(expected)
    assert got[labels[0]].split("; ")[0].rsplit(" ", 1)[1].isdigit()


def test_sorted_codes_equal_numpy_unique():
    from prospector.analysis._text import sorted_codes

    values = np.random.default_rng(5).choice(["zinc", "Lead", "gallium", "é", ""], 500)
    names, inverse = np.unique(values.astype(object), return_inverse=True)
    codes, got = sorted_codes(values)
    assert list(got) == list(names)
    np.testing.assert_array_equal(codes, inverse.reshape(-1))


@pytest.mark.parametrize(
    "overrides",
    [{}, {"targets": {"top_percent": 5.0, "adjacency": "rook", "rank_by": "sum"}}],
)
def test_a_runs_targets_equal_find_targets_on_its_ranked_parcels(utah_result, overrides):
    """rank() builds targets from its best rows before assembling the result: the same."""
    from prospector.config import with_overrides
    from prospector.ranking import rank

    result = utah_result
    if overrides:
        result = rank(result.data, with_overrides(result.config, overrides))
    expected = find_targets(result.parcels, result.config.targets)
    assert len(expected) > 100
    assert_geodataframe_equal(result.targets, expected, check_less_precise=False)
    # Vertex for vertex, not only the same shapes.
    got_wkb = shapely.to_wkb(result.targets.geometry.to_numpy())
    assert (got_wkb == shapely.to_wkb(expected.geometry.to_numpy())).all()
