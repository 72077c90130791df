"""End-to-end ranking on the embedded Utah sample and on tiny regions built in code."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from prospector import _runtime
from prospector.analysis.value import kernel
from prospector.errors import MissingLayerWarning, UnmappedCodeWarning
from prospector.ranking import rank

REQUIRED = [
    "parcel_id",
    "rank",
    "score",
    "score_value",
    "score_access",
    "open_frac",
    "land_status",
    "n_deposits",
    "commodities",
    "critical_commodities",
    "dist_rail_km",
    "geometry",
]


def test_sample_counts_and_ranks(utah_result):
    parcels, excluded = utah_result.parcels, utah_result.excluded
    # 85,584 one-mile cells cover Utah in EPSG:5070; 3,529 lie wholly in wilderness/NPS units,
    # of which 1,984 only by a 1:10M / 1:2M outline within its positional accuracy (ranked as
    # verify_boundary) and 180 only under the superseded Natural Earth Zion: 1,365 closed.
    assert len(parcels) + len(excluded) == 85_584
    assert len(excluded) == 1_365
    assert (parcels["land_status"] == "verify_boundary").sum() == 1_984
    assert parcels["rank"].tolist() == list(range(1, len(parcels) + 1))
    assert parcels["parcel_id"].is_unique
    assert set(REQUIRED) <= set(parcels.columns)
    assert parcels.crs.to_epsg() == 5070
    assert (parcels["score"].diff().dropna() <= 1e-12).all()
    # Every known site is inside exactly one parcel (ranked or excluded): 7,905 records
    # de-duplicated into 7,154 sites (value.dedupe_m = 300).
    assert parcels["n_deposits"].sum() + excluded["n_deposits"].sum() == 7_154
    assert utah_result.deposits["n_records"].sum() == 7_905


def test_sample_area_matches_state(utah_result):
    total = utah_result.all_parcels["area_km2"].sum()
    # Census 1:10M Utah outline in CONUS Albers.
    assert total == pytest.approx(utah_result.data.boundary.area.sum() / 1e6, rel=1e-6)
    assert total == pytest.approx(219_867, rel=1e-3)


def test_sample_without_ownership_is_unknown(utah_result):
    parcels = utah_result.parcels
    assert set(parcels["land_status"]) == {"unknown", "verify_boundary"}
    assert parcels["open_frac"].isna().all()
    assert parcels["federal_frac"].isna().all()
    roles = {m["role"] for m in utah_result.missing}
    assert {"land", "claims", "access:road", "access:power"} <= roles
    assert any("No land-ownership layer" in n for n in utah_result.notes)


def test_sample_weights_redistributed_visibly(utah_result):
    w = utah_result.weights
    assert set(w.redistributed) == {"access_road", "access_power", "terrain"} - {"terrain"}
    assert sum(w.effective.values()) == pytest.approx(1.0)
    # value 0.6, rail 0.075, fault 0.15 rescaled by 1 / 0.825.
    assert w.effective["value"] == pytest.approx(0.6 / 0.825)
    assert w.effective["access_rail"] == pytest.approx(0.075 / 0.825)
    assert w.effective["evidence_fault"] == pytest.approx(0.15 / 0.825)


def test_sample_top_parcels(utah_result):
    top = utah_result.parcels.head(10)
    # Every top-10 parcel holds critical-mineral sites (the value of a site inside a parcel
    # outweighs the same site next door); the Great Salt Lake brines count for lithium,
    # potash and magnesium (issue 19) and reach the top 10.
    assert (top["n_critical_deposits"] > 0).all()
    assert top["critical_commodities"].str.contains("lithium").any()
    assert top["why"].iloc[0].startswith("#1: ")
    contrib = top.filter(like="contrib_").sum(axis=1)
    np.testing.assert_allclose(contrib, top["score"], rtol=1e-9)


def test_kernel_values():
    d = np.array([0.0, 2500.0, 5000.0, 6000.0])
    np.testing.assert_allclose(kernel(d, 5000.0, "biweight"), [1.0, 0.5625, 0.0, 0.0])
    np.testing.assert_allclose(kernel(d, 5000.0, "uniform"), [1.0, 1.0, 0.0, 0.0])


def _rank(region, config=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingLayerWarning)
        warnings.simplefilter("ignore", UnmappedCodeWarning)
        return rank(region, config or {"parcels": {"cell_m": 1000.0}})


def test_tiny_region_hand_checked(tiny_region):
    result = _rank(tiny_region())
    table = result.all_parcels.set_index("parcel_id")
    assert len(table) == 100
    assert len(result.excluded) == 16  # the 4 km x 4 km wilderness
    # Site "a" (U V past producer at x=1.5 km, y=1.5 km) lies in cell (1, 1).
    r0, c0 = (1_900_000 // 1000), (-1_500_000 // 1000)
    cell = table.loc[f"r{r0 + 1}c{c0 + 1}"]
    assert cell["n_deposits"] == 1
    assert cell["commodities"] == "uranium; vanadium"
    assert cell["critical_commodities"] == "uranium; vanadium"
    # Rail runs 2 km west of the region: cell (1, 1) is 3 km from it.
    assert cell["dist_rail_km"] == pytest.approx(3.0)
    # The fault runs along x = 5 km: cell (1, 1) is 3 km away, cell (4, 1) touches it.
    assert cell["dist_fault_km"] == pytest.approx(3.0)
    assert table.loc[f"r{r0 + 1}c{c0 + 4}", "dist_fault_km"] == pytest.approx(0.0)
    # Deposit weights: U-V past producer 0.8 * (1.0 critical * 0.8 energy) * (1 + 0.1 diversity)
    weights = result.deposits.set_index("site_id")["weight"]
    assert weights["a"] == pytest.approx(0.8 * 0.8 * 1.1)
    # lithium + potash prospect: 0.5 * max(1.0 * 1.0 battery, 1.0 * 0.8 fertilizer) * 1.1
    assert weights["b"] == pytest.approx(0.5 * 1.0 * 1.1)
    # Sand & gravel producer: 1.0 * 0.4 non-critical * 0.02 bulk.
    assert weights["c"] == pytest.approx(0.4 * 0.02)
    # value_raw of cell (1, 1): site a inside (k = 1, in full) plus site c, 3.54 km from the
    # cell corner: biweight (1 - (d / 5 km)²)² with d² = 3.5² + 0.5² = 12.5 km², i.e. 0.25;
    # outside the cell (x 0.3 nearby_factor), second best (x 0.5 discount).
    assert cell["value_raw"] == pytest.approx(
        weights["a"] * 1.0 + 0.5 * (0.3 * weights["c"] * 0.25)
    )
    # The cell holding the U-V past producer has the highest deposit value; its neighbours
    # get 0.3 of it (nearby_factor), so it ranks first although its neighbour is nearer the fault.
    assert table["value_raw"].idxmax() == f"r{r0 + 1}c{c0 + 1}"
    top = result.parcels.iloc[0]
    assert top["parcel_id"] == f"r{r0 + 1}c{c0 + 1}"
    assert top["dist_fault_km"] == pytest.approx(3.0)
    # The whole sentence names the site that makes the parcel valuable.
    assert top["why"] == (
        "#1: 1 known site inside (uranium, vanadium); critical: uranium, vanadium; "
        "most value from Alpha mine; 3.0 km to rail; 3.0 km to a Quaternary fault; "
        "ownership unknown. Driven by known deposits."
    )
    # Site b (lithium + potash prospect) lies in the wilderness cell (8, 8): unranked.
    closed = table.loc[f"r{r0 + 8}c{c0 + 8}"]
    assert closed["why"] == (
        "1 known site inside (lithium, potash); critical: lithium, potash; "
        "most value from Bravo prospect; 10 km to rail; "
        "3.0 km to a Quaternary fault; closed: withdrawn from mineral entry; "
        "100% withdrawn (Test Wilderness). Driven by known deposits."
    )


def test_ranks_do_not_depend_on_input_order(tiny_region, tmp_path):
    import geopandas as gpd

    path = tiny_region()
    first = _rank(path)
    deposits = gpd.read_file(tmp_path / "deposits.gpkg")
    tiny_region(deposits=deposits.iloc[::-1].reset_index(drop=True))
    second = _rank(path)
    assert first.parcels["parcel_id"].tolist() == second.parcels["parcel_id"].tolist()
    np.testing.assert_array_equal(first.parcels["score"], second.parcels["score"])


@pytest.mark.parametrize("method", ["wlc", "gamma", "topsis"])
def test_methods_rank_near_the_best_deposit(tiny_region, method):
    result = _rank(tiny_region(), {"parcels": {"cell_m": 1000.0}, "score": {"method": method}})
    assert result.parcels["rank"].tolist() == list(range(1, 85))
    top = result.parcels.iloc[0]
    # Every method puts first a parcel within 1 km of the U-V past producer.
    assert top["value_raw"] >= 0.8 * result.all_parcels["value_raw"].max()
    assert ((result.parcels["score"] >= 0) & (result.parcels["score"] <= 1)).all()


def test_given_parcels_keep_ids_and_large_ones_are_split(tiny_region, tmp_path):
    import geopandas as gpd
    import shapely

    from tests.conftest import CRS, X0, Y0, write_layer

    # PLSS-like sections with the BLM CadNSDI id field; one huge polygon (a whole district).
    sections = gpd.GeoDataFrame(
        {"FRSTDIVID": ["UT260010S0100W0SN010", "UT260010S0100W0SN020", "BIGBLOB"]},
        geometry=[
            shapely.box(X0, Y0, X0 + 1_600, Y0 + 1_600),
            shapely.box(X0 + 1_600, Y0, X0 + 3_200, Y0 + 1_600),
            shapely.box(X0, Y0 + 1_600, X0 + 10_000, Y0 + 10_000),
        ],
        crs=CRS,
    )
    write_layer(sections, tmp_path / "plss.gpkg")
    region = tiny_region('\n[[layers]]\nsource = "blm-plss-sections"\npath = "plss.gpkg"\n')
    result = _rank(region, {"parcels": {"cell_m": 1609.344}})
    ids = set(result.all_parcels["parcel_id"])
    assert {"UT260010S0100W0SN010", "UT260010S0100W0SN020"} <= ids
    assert "BIGBLOB" not in ids
    pieces = [i for i in ids if i.startswith("BIGBLOB/")]
    assert len(pieces) > 20
    total = result.all_parcels["area_km2"].sum()
    assert total == pytest.approx(1.6 * 1.6 * 2 + 10 * 8.4, rel=1e-9)


def test_rank_scores_ties_eligibility_and_missing_ids():
    from prospector.analysis.score import rank_scores

    score = pd.Series([0.5, 0.5, 0.5, 0.9, np.nan, 0.5, 0.7])
    ids = pd.Series(["b", None, "a", "z", "c", "d", "e"], dtype=object)
    eligible = pd.Series([True, True, True, True, True, False, True])
    ranks = rank_scores(score, ids, eligible=eligible)
    # 0.9 first, 0.7 next, the 0.5 ties by id with the missing id last, NaN score last,
    # the ineligible parcel unranked.
    assert ranks.tolist() == [4, 5, 3, 1, 6, pd.NA, 2]
    assert str(ranks.dtype) == "Int64"
    # Scores equal after rounding to 12 decimals are ties.
    close = rank_scores(pd.Series([0.3, 0.1 + 0.2]), pd.Series(["y", "x"]))
    assert close.tolist() == [2, 1]


def test_with_scores_keeps_inputs_and_result_apart(tiny_region):
    from prospector.config import load_config
    from prospector.ingest import load_region_data
    from prospector.ranking import (
        MemoryLayers,
        available_inputs,
        global_scores,
        make_parcels,
        measure_parcels,
        with_scores,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingLayerWarning)
        warnings.simplefilter("ignore", UnmappedCodeWarning)
        config = load_config({"parcels": {"cell_m": 1000.0}})
        data = load_region_data(tiny_region(), config)
        table, _ = measure_parcels(make_parcels(data, config), data, config)
    scores, _, _ = global_scores(table, config, have=available_inputs(MemoryLayers(data), config))
    before_table, before_scores = table.copy(), scores.copy()
    whole = with_scores(table, scores, config)
    rows = np.array([5, 0, 7])
    some = with_scores(table, scores, config, rows=rows)
    # Gathering rows equals taking them first.
    expected = with_scores(table.take(rows), scores.take(rows), config)
    pd.testing.assert_frame_equal(pd.DataFrame(some), pd.DataFrame(expected))
    # Writing to a result leaves the inputs alone, and the other way round.
    whole.loc[whole.index[0], "dist_rail_km"] = -5.0
    whole.loc[whole.index[0], "score"] = -5.0
    some.loc[some.index[0], "score"] = -7.0
    pd.testing.assert_frame_equal(pd.DataFrame(table), pd.DataFrame(before_table))
    pd.testing.assert_frame_equal(scores, before_scores)
    table.loc[table.index[1], "dist_rail_km"] = 123.0
    assert whole["dist_rail_km"].iloc[1] != 123.0
    with pytest.raises(ValueError, match="scores must be indexed like table"):
        with_scores(table, scores.iloc[::-1], config)


@pytest.mark.parametrize("block", [1, 7, 4096])
def test_sentences_do_not_depend_on_the_block_size(utah_result, monkeypatch, block):
    # The why sentences are made in blocks of rows on parallel threads; any block size
    # (one row; a size that does not divide the rows; more than the rows) gives the run's.
    import prospector.analysis.explain as explain

    monkeypatch.setattr(explain, "_BLOCK", block)
    parcels = utah_result.parcels.iloc[:300] if block == 1 else utah_result.parcels
    columns = parcels.drop(columns=["why", "geometry"])
    got = explain.explain(columns, radius_km=utah_result.config.value.radius_km)
    assert got.index.equals(parcels.index)
    assert got.tolist() == parcels["why"].tolist()
    assert got.iloc[0].startswith("#1: ")


@pytest.mark.skipif(_runtime._LIBC is None, reason="glibc's malloc_trim only")
def test_a_run_allocates_arrow_memory_with_malloc(tiny_region, monkeypatch):
    # rank() runs under _runtime.malloc_arrow_pool (freed memory goes back between steps)
    # and restores the pool the caller had.
    import pyarrow as pa

    import prospector.ranking.run as run

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    seen = []
    measure = run.measure_parcels

    def spy(*args, **kwargs):
        seen.append(pa.default_memory_pool().backend_name)
        return measure(*args, **kwargs)

    monkeypatch.setattr(run, "measure_parcels", spy)
    before = pa.default_memory_pool().backend_name
    result = _rank(tiny_region())
    assert seen == ["system"]
    assert pa.default_memory_pool().backend_name == before
    assert len(result.parcels) == 84
