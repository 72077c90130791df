"""The spine's shared rules: which inputs exist, validated overrides, atomic outputs, map deposits."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from prospector._runtime import atomic_outputs
from prospector.config import load_config, with_overrides
from prospector.errors import ConfigError, OutputExistsError
from prospector.render._payload import deposits_in_parcels
from prospector.schema.inputs import available_inputs, missing_inputs


def test_available_inputs_one_rule():
    present = {"deposits": True, "access": True, "evidence": False, "land": False}
    assert available_inputs(present, {"road", "power"}) == {
        "deposits": True,
        "evidence": False,
        "road": True,
        "rail": False,
        "power": True,
    }
    # No access layer: no kind counts, whatever kinds are named.
    assert available_inputs({"access": False}, {"road"})["road"] is False


def test_missing_inputs_lists_roles_kinds_and_rasters():
    present = {"deposits": True, "land": True, "withdrawals": True, "claims": False}
    present |= {"access": True, "evidence": True}
    missing = missing_inputs(present, {"road"}, rasters=False)
    assert [m["role"] for m in missing] == ["claims", "raster", "access:rail", "access:power"]
    assert missing[2]["message"] == "No rail layer: dist_rail_km is unknown."
    assert missing_inputs({r: True for r in present}, {"road", "rail", "power"}, rasters=True) == []


def test_with_overrides_is_validated_and_leaves_the_original():
    config = load_config({"score": {"method": "gamma"}})
    changed = with_overrides(config, {"score": {"status": "open"}})
    assert changed.score.status == "open" and changed.score.method == "gamma"
    assert config.score.status == "not_closed"
    with pytest.raises(ConfigError, match=r"score\.status must be one of"):
        with_overrides(config, {"score": {"status": "opne"}})


def test_atomic_outputs_all_or_nothing(tmp_path):
    paths = {"a": tmp_path / "a.txt", "b": tmp_path / "b.txt"}
    with pytest.raises(RuntimeError), atomic_outputs(paths) as staged:
        staged["a"].write_text("A")
        raise RuntimeError("b failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    with atomic_outputs(paths) as staged:
        staged["a"].write_text("A")
        staged["b"].write_text("B")
    assert paths["a"].read_text() == "A" and paths["b"].read_text() == "B"
    # Refused before anything is written.
    with pytest.raises(OutputExistsError), atomic_outputs(paths) as staged:
        raise AssertionError("not reached")
    with atomic_outputs(paths, overwrite=True) as staged:
        staged["a"].write_text("A2")
        staged["b"].write_text("B2")
    assert paths["a"].read_text() == "A2" and sorted(p.name for p in tmp_path.iterdir()) == [
        "a.txt",
        "b.txt",
    ]


def test_map_lists_deposits_by_their_parcel_id():
    parcels = gpd.GeoDataFrame(
        {"parcel_id": ["p1", "p2"]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        crs="EPSG:5070",
    )
    # Site "edge" lies on the shared edge: the run gave it to p1 only. Site "far" is outside
    # both boxes but its parcel_id names p2: the map follows the run, not geometry.
    deposits = gpd.GeoDataFrame(
        {
            "name": ["edge", "far", "none"],
            "commodities": ["lithium", "gold", ""],
            "dev_status": ["prospect", "producer", "occurrence"],
            "critical": [True, False, False],
            "parcel_id": ["p1", "p2", None],
        },
        geometry=shapely.points([(10, 5), (50, 50), (5, 5)]),
        crs="EPSG:5070",
    )
    listed = deposits_in_parcels(parcels, deposits)
    assert {row: [d["name"] for d in items] for row, items in listed.items()} == {
        0: ["edge"],
        1: ["far"],
    }
    assert deposits_in_parcels(parcels, deposits.drop(columns="parcel_id")) == {}
