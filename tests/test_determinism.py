"""Determinism: same inputs and config give the same ranks and the same bytes.

Two runs of the tiny region, and a run on the same layers with every input row order
shuffled, must give identical scores and ranks, and byte-identical GeoParquet and CSV
exports.  GeoPackages embed time stamps (gpkg_contents.last_change, layer_styles, the run
manifest); with ``SOURCE_DATE_EPOCH`` set they are fixed and the files byte-identical.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from prospector.errors import MissingLayerWarning, UnmappedCodeWarning
from prospector.export import export_layers, write_gpkg
from prospector.ranking import RankResult, rank, result_layers, write_run

X0, Y0 = -1_500_000.0, 1_900_000.0  # the tiny region of conftest.py (EPSG:5070)
CONFIG = {"parcels": {"cell_m": 1000.0}}
CODES = ["Cu", "Li", "U V", "REE", "Au Ag", "SDG", "Co Ni", "W", "Mo", "Zn Pb"]
STATUSES = ["producer", "past_producer", "prospect", "occurrence", "unknown"]


def _deposits(n: int = 60) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(7)
    xy = rng.uniform(-3_000, 13_000, size=(n, 2)) + np.array([X0, Y0])  # some beyond the region
    return gpd.GeoDataFrame(
        {
            "site_id": [f"site-{i:03d}" for i in range(n)],
            "name": [f"Site {i}" for i in range(n)],
            "commodity_codes": [CODES[i % len(CODES)] for i in range(n)],
            "dev_status": [STATUSES[i % len(STATUSES)] for i in range(n)],
            "source": ["test"] * n,
        },
        geometry=shapely.points(xy),
        crs="EPSG:5070",
    )


def _roads() -> gpd.GeoDataFrame:
    lines = [
        shapely.LineString([(X0 - 1_000 + 2_300 * i, Y0 - 2_000), (X0 + 600 * i, Y0 + 12_000)])
        for i in range(6)
    ]
    return gpd.GeoDataFrame(
        {
            "kind": ["road"] * 6,
            "class": ["local", "primary"] * 3,
            "name": [f"Road {i}" for i in range(6)],
            "source": ["test"] * 6,
        },
        geometry=lines,
        crs="EPSG:5070",
    )


ROADS_LAYER = '\n[[layers]]\nrole = "access"\npath = "roads.gpkg"\n'


def _shuffled(gdf: gpd.GeoDataFrame, seed: int) -> gpd.GeoDataFrame:
    order = np.random.default_rng(seed).permutation(len(gdf))
    return gdf.iloc[order].reset_index(drop=True)


def _write(gdf: gpd.GeoDataFrame, path: Path) -> None:
    path.unlink(missing_ok=True)
    gdf.to_file(path, layer=path.stem, driver="GPKG", engine="pyogrio")


def _rank(region: Path) -> RankResult:
    with warnings.catch_warnings():
        # The tiny region has no land, claims or power layer (announced on purpose).
        warnings.simplefilter("ignore", MissingLayerWarning)
        warnings.simplefilter("ignore", UnmappedCodeWarning)
        return rank(region, CONFIG)


@pytest.fixture
def region(tiny_region, tmp_path: Path) -> Path:
    _write(_roads(), tmp_path / "roads.gpkg")
    return tiny_region(ROADS_LAYER, deposits=_deposits())


@pytest.fixture
def shuffled_region(tiny_region, tmp_path_factory) -> Path:
    """The same layers in another folder, every file's rows in another order."""
    folder = tmp_path_factory.mktemp("shuffled")
    _write(_shuffled(_roads(), 1), folder / "roads.gpkg")
    _write(_shuffled(_deposits(), 2), folder / "deposits.gpkg")
    return folder


def _shuffle_region(region: Path, target: Path) -> Path:
    for name in ("boundary", "withdrawals", "rail", "faults"):
        shutil.copy(region.parent / f"{name}.gpkg", target / f"{name}.gpkg")
    shutil.copy(region, target / region.name)
    return target / region.name


def test_two_runs_give_identical_ranks(region: Path) -> None:
    first, second = _rank(region), _rank(region)

    assert first.parcels["rank"].tolist() == list(range(1, len(first.parcels) + 1))
    assert_geodataframe_equal(first.parcels, second.parcels, check_less_precise=False)
    assert_geodataframe_equal(first.excluded, second.excluded, check_less_precise=False)
    assert_geodataframe_equal(first.deposits, second.deposits, check_less_precise=False)


def test_input_row_order_does_not_change_results(region: Path, shuffled_region: Path) -> None:
    shuffled = _shuffle_region(region, shuffled_region)
    assert list(gpd.read_file(shuffled.parent / "deposits.gpkg")["site_id"]) != sorted(
        _deposits()["site_id"]
    )

    first, second = _rank(region), _rank(shuffled)

    # Exactly equal, not approximately: same floats, same ranks, same row order.
    assert first.parcels["parcel_id"].tolist() == second.parcels["parcel_id"].tolist()
    np.testing.assert_array_equal(first.parcels["score"], second.parcels["score"])
    assert_geodataframe_equal(first.parcels, second.parcels, check_less_precise=False)
    assert_geodataframe_equal(first.excluded, second.excluded, check_less_precise=False)
    assert_geodataframe_equal(first.deposits, second.deposits, check_less_precise=False)
    assert_geodataframe_equal(first.data.access, second.data.access, check_less_precise=False)


def _folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "geojson", "fgb"])
def test_exports_are_byte_identical(
    fmt: str, region: Path, shuffled_region: Path, tmp_path: Path
) -> None:
    shuffled = _shuffle_region(region, shuffled_region)
    outputs = []
    for i, source in enumerate((region, region, shuffled)):
        out = tmp_path / f"export-{i}"
        export_layers(result_layers(_rank(source)), out, fmt=fmt)
        outputs.append(_folder_bytes(out))

    assert "parcels" + {"parquet": ".parquet", "csv": ".csv", "geojson": ".geojson",
                        "fgb": ".fgb"}[fmt] in outputs[0]  # fmt: skip
    assert outputs[0] == outputs[1]  # two runs
    assert outputs[0] == outputs[2]  # shuffled input rows


def _gpkg_dump(path: Path, scratch: Path) -> list[str]:
    """SQL dump of a GeoPackage with its timestamps blanked."""
    copy = scratch / f"dump-{path.parent.name}-{path.name}"
    shutil.copy(path, copy)
    with contextlib.closing(sqlite3.connect(copy)) as con, con:
        con.execute("UPDATE gpkg_contents SET last_change = 'T'")
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "gpkg_metadata_reference" in tables:
            con.execute("UPDATE gpkg_metadata_reference SET timestamp = 'T'")
        if "layer_styles" in tables:
            con.execute("UPDATE layer_styles SET update_time = 'T'")
        if "gpkg_metadata" in tables:
            rows = con.execute("SELECT id, metadata FROM gpkg_metadata").fetchall()
            for row_id, text in rows:
                con.execute(
                    "UPDATE gpkg_metadata SET metadata = ? WHERE id = ?",
                    (_blank_created(text), row_id),
                )
        return list(con.iterdump())


def _blank_created(text: str) -> str:
    """Blank the manifest's run time inside GDAL's metadata XML."""
    return re.sub(r'"created": "[^"]*"', '"created": "T"', text)


def test_gpkg_identical_except_timestamps(region: Path, tmp_path: Path) -> None:
    paths = []
    for i in range(2):
        out = tmp_path / f"run-{i}"
        paths.append(
            write_run(_rank(region), out, make_map=False, command="prospector rank")["gpkg"]
        )

    assert _gpkg_dump(paths[0], tmp_path) == _gpkg_dump(paths[1], tmp_path)
    manifests = [json.loads((p.parent / "manifest.json").read_text()) for p in paths]
    for manifest in manifests:
        manifest.pop("created")
        manifest.pop("outputs")  # checksums of the GeoPackages, which embed the time
    assert manifests[0] == manifests[1]


def test_gpkg_byte_identical(region: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    digests = []
    for i in range(2):
        result = _rank(region)
        path = write_gpkg(
            result_layers(result), tmp_path / f"run-{i}.gpkg", metadata=result.manifest()
        )
        digests.append(path.read_bytes())
    assert digests[0] == digests[1]
