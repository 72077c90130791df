"""Site de-duplication across sources, on small frames built in code."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from prospector.analysis.dedupe import dedupe_sites
from prospector.config import load_config
from prospector.errors import ConfigError, CRSError, SchemaError


def _sites(rows: list[tuple]) -> gpd.GeoDataFrame:
    """``(site_id, source, x, y, commodities, dev_status, codes)`` rows, EPSG:5070."""
    ids, sources, xs, ys, comms, status, codes = zip(*rows, strict=True)
    return gpd.GeoDataFrame(
        {
            "site_id": list(ids),
            "name": [f"name of {i}" for i in ids],
            "commodities": list(comms),
            "commodity_codes": list(codes),
            "dev_status": list(status),
            "source": list(sources),
        },
        geometry=shapely.points(np.c_[xs, ys]),
        crs="EPSG:5070",
    )


@pytest.fixture()
def sites() -> gpd.GeoDataFrame:
    return _sites(
        [
            # u1 and g1: 200 m apart, share copper -> one site (g1 is the producer).
            ("u1", "umos", 0.0, 0.0, ["copper", "gold"], "prospect", "CU, AU"),
            ("g1", "usgs", 200.0, 0.0, ["copper", "molybdenum"], "producer", "Cu; Mo"),
            # u2 is 100 m from u1 but shares no commodity -> alone.
            ("u2", "umos", 0.0, 100.0, ["uranium"], "occurrence", "U"),
            # Chain: c1-c2 250 m, c2-c3 250 m, c1-c3 500 m; all share zinc -> one site.
            ("c1", "umos", 10_000.0, 0.0, ["zinc"], "unknown", "ZN"),
            ("c2", "usgs", 10_250.0, 0.0, ["zinc", "lead"], "unknown", "Zn; Pb"),
            ("c3", "umos", 10_500.0, 0.0, ["zinc"], "past_producer", "ZN"),
            # Exactly 300 m apart, shared lithium -> merged (the distance is inclusive).
            ("e1", "umos", 20_000.0, 0.0, ["lithium"], "unknown", "LI"),
            ("e2", "usgs", 20_300.0, 0.0, ["lithium"], "unknown", "Li"),
            # 301 m apart -> two sites.
            ("f1", "umos", 30_000.0, 0.0, ["tungsten"], "unknown", "W"),
            ("f2", "usgs", 30_301.0, 0.0, ["tungsten"], "unknown", "W"),
            # Same point, one without a recognised commodity -> never merged.
            ("n1", "umos", 40_000.0, 0.0, ["gold"], "unknown", "AU"),
            ("n2", "usgs", 40_000.0, 0.0, [], "unknown", "XYZ"),
        ]
    )


def test_merges_twins_and_keeps_the_schema(sites):
    out = dedupe_sites(sites, distance_m=300.0)
    # 12 records: u1+g1, c1+c2+c3, e1+e2 merged -> 12 - 1 - 2 - 1 = 8 sites.
    assert len(out) == 8
    by_id = out.set_index("site_id")
    # Sorted by representative site_id.
    assert out["site_id"].tolist() == ["c3", "e1", "f1", "f2", "g1", "n1", "n2", "u2"]
    g1 = by_id.loc["g1"]
    assert g1["commodities"] == ["copper", "gold", "molybdenum"]
    assert g1["dev_status"] == "producer"
    assert g1["source_ids"] == ["g1", "u1"]
    assert g1["sources"] == ["umos", "usgs"]
    assert g1["n_sources"] == 2
    assert g1["n_records"] == 2
    assert g1["name"] == "name of g1"
    assert g1["commodity_codes"] == "AU; CU; Cu; Mo"
    assert shapely.equals(g1.geometry, shapely.Point(200.0, 0.0))
    # The chain: best status past_producer is c3's, so c3 represents it.
    c3 = by_id.loc["c3"]
    assert c3["source_ids"] == ["c1", "c2", "c3"]
    assert c3["commodities"] == ["lead", "zinc"]
    assert c3["dev_status"] == "past_producer"
    assert shapely.equals(c3.geometry, shapely.Point(10_500.0, 0.0))
    # Equal status: the smallest site_id represents the site.
    assert by_id.loc["e1", "source_ids"] == ["e1", "e2"]
    assert by_id.loc["f1", "n_records"] == 1 and by_id.loc["f2", "n_records"] == 1
    # Unmerged records keep their published codes verbatim and get one-element lists.
    assert by_id.loc["u2", "commodity_codes"] == "U"
    assert by_id.loc["u2", "source_ids"] == ["u2"]
    assert by_id.loc["n2", "commodities"] == []
    assert out["n_records"].sum() == len(sites)
    assert out.crs == sites.crs
    assert list(out.index) == list(range(8))


def test_row_order_does_not_matter(sites):
    expected = dedupe_sites(sites, distance_m=300.0)
    for seed in range(5):
        shuffled = sites.sample(frac=1.0, random_state=seed)
        shuffled.index = np.arange(100, 100 + len(sites))[::-1]
        assert_geodataframe_equal(dedupe_sites(shuffled, distance_m=300.0), expected)


def test_distance_zero_disables(sites):
    out = dedupe_sites(sites, distance_m=0)
    assert len(out) == len(sites)
    assert (out["n_records"] == 1).all() and (out["n_sources"] == 1).all()
    assert out["source_ids"].map(len).eq(1).all()
    assert sorted(out["site_id"]) == out["site_id"].tolist()


def test_larger_distance_joins_more(sites):
    # At 301 m the f pair (301 m apart) merges too.
    assert len(dedupe_sites(sites, distance_m=301.0)) == 7


def test_missing_geometry_is_never_merged(sites):
    sites = sites.copy()
    sites.loc[sites["site_id"] == "u1", "geometry"] = None
    out = dedupe_sites(sites, distance_m=300.0)
    assert len(out) == 9
    assert out.set_index("site_id").loc["u1", "source_ids"] == ["u1"]


def test_empty_frame():
    empty = _sites([("x", "s", 0.0, 0.0, [], "unknown", "")]).iloc[:0]
    out = dedupe_sites(empty)
    assert len(out) == 0
    assert {"source_ids", "sources", "n_sources", "n_records"} <= set(out.columns)


def test_bad_inputs(sites):
    with pytest.raises(ConfigError, match="metres >= 0"):
        dedupe_sites(sites, distance_m=-1.0)
    with pytest.raises(ConfigError):
        dedupe_sites(sites, distance_m=float("nan"))
    with pytest.raises(CRSError, match="projected"):
        dedupe_sites(sites.to_crs("EPSG:4326"))
    with pytest.raises(SchemaError, match="commodities"):
        dedupe_sites(sites.drop(columns="commodities"))
    # Non-essential canonical columns may be absent.
    bare = dedupe_sites(sites.drop(columns=["source", "site_id", "dev_status"]))
    assert len(bare) == 8 and set(bare["sources"].map(tuple)) == {("",)}


def test_config_key():
    assert load_config(None).value.dedupe_m == 300.0
    assert load_config({"value": {"dedupe_m": 0}}).value.dedupe_m == 0
    with pytest.raises(ConfigError, match=r"value\.dedupe_m"):
        load_config({"value": {"dedupe_m": -5}})


def test_many_sites_are_grouped_like_a_brute_force_check():
    """Random sites against an independent O(n^2) union-find."""
    rng = np.random.default_rng(7)
    n = 400
    xy = rng.uniform(0, 5_000, size=(n, 2))
    pool = ["copper", "gold", "zinc", "lead"]
    comms = [sorted(set(rng.choice(pool, size=rng.integers(0, 3)))) for _ in range(n)]
    frame = _sites(
        [(f"s{i:03d}", "a" if i % 2 else "b", *xy[i], comms[i], "unknown", "") for i in range(n)]
    )
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    for i in range(n):
        for j in range(i + 1, n):
            if d[i, j] <= 150.0 and set(comms[i]) & set(comms[j]):
                parent[find(i)] = find(j)
    groups: dict[int, list[str]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(f"s{i:03d}")
    expected = sorted(groups.values())
    assert len(expected) < n - 20  # the check is not vacuous: many merges happen
    out = dedupe_sites(frame, distance_m=150.0)
    assert sorted(out["source_ids"].tolist()) == expected
