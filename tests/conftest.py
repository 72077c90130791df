"""Shared fixtures: the embedded Utah run (once per session) and tiny regions built in code."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from prospector.errors import MissingLayerWarning, UnmappedCodeWarning

# A 10 km x 10 km square in EPSG:5070 (CONUS Albers) in western Utah.
X0, Y0 = -1_500_000.0, 1_900_000.0
CRS = "EPSG:5070"


@pytest.fixture(scope="session")
def utah_result():
    """The embedded Utah sample ranked with the default configuration."""
    from prospector.ranking import rank

    with warnings.catch_warnings():
        # The sample lacks land, claims, road and power layers and has unmapped UMOS codes:
        # both are announced on purpose (tested in test_pipeline.py).
        warnings.simplefilter("ignore", MissingLayerWarning)
        warnings.simplefilter("ignore", UnmappedCodeWarning)
        return rank("utah-sample")


@pytest.fixture(scope="session")
def demo_map(tmp_path_factory) -> Path:
    """The map of the synthetic demo layers with hostile text, 20 parcels in detail."""
    from prospector.render import build_map, write_map
    from prospector.render._demo import demo_layers

    demo = demo_layers(hostile=True)
    m = build_map(
        demo["parcels"],
        deposits=demo["deposits"],
        withdrawals=demo["withdrawals"],
        access=demo["access"],
        info=demo["info"],
        detail_limit=20,
    )
    return write_map(m, tmp_path_factory.mktemp("demo-map") / "prospects.html")


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (tests/browser.py), shared by the browser tests."""
    from tests.browser import launch

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = launch(pw)
        yield b
        b.close()


@pytest.fixture
def server():
    """A local HTTP server answering the routes a test registers (tests/httpd.py)."""
    from tests.httpd import serve

    with serve() as running:
        yield running


def write_layer(gdf: gpd.GeoDataFrame, path: Path, layer: str | None = None) -> Path:
    gdf.to_file(path, layer=layer or path.stem, driver="GPKG", engine="pyogrio")
    return path


def square(x: float, y: float, size: float) -> shapely.Polygon:
    return shapely.box(x, y, x + size, y + size)


@pytest.fixture
def tiny_region(tmp_path: Path):
    """Build a tiny region in code: boundary, deposits, a withdrawal, a railway, a fault.

    Returns a function taking extra `[[layers]]` TOML snippets and returning the region path.
    """

    def build(extra: str = "", *, deposits: gpd.GeoDataFrame | None = None) -> Path:
        write_layer(
            gpd.GeoDataFrame({"name": ["tiny"]}, geometry=[square(X0, Y0, 10_000)], crs=CRS),
            tmp_path / "boundary.gpkg",
        )
        if deposits is None:
            deposits = gpd.GeoDataFrame(
                {
                    "site_id": ["a", "b", "c"],
                    "name": ["Alpha mine", "Bravo prospect", "<img src=x onerror=alert(1)>"],
                    "commodity_codes": ["U V", "lithium;potash", "SDG"],
                    "dev_status": ["past_producer", "prospect", "producer"],
                    "source": ["test", "test", "test"],
                },
                geometry=shapely.points(
                    [(X0 + 1_500, Y0 + 1_500), (X0 + 8_500, Y0 + 8_500), (X0 + 5_500, Y0 + 2_500)]
                ),
                crs=CRS,
            )
        write_layer(deposits, tmp_path / "deposits.gpkg")
        write_layer(
            gpd.GeoDataFrame(
                {
                    "name": ["Test Wilderness"],
                    "kind": ["wilderness"],
                    "agency": ["BLM"],
                    "source": ["test"],
                },
                geometry=[square(X0 + 6_000, Y0 + 6_000, 4_000)],
                crs=CRS,
            ),
            tmp_path / "withdrawals.gpkg",
        )
        write_layer(
            gpd.GeoDataFrame(
                {"kind": ["rail"], "class": ["rail"], "name": ["Test RR"], "source": ["test"]},
                geometry=[shapely.LineString([(X0 - 2_000, Y0), (X0 - 2_000, Y0 + 10_000)])],
                crs=CRS,
            ),
            tmp_path / "rail.gpkg",
        )
        write_layer(
            gpd.GeoDataFrame(
                {"kind": ["fault"], "name": ["Test fault"], "weight": [1.0], "source": ["test"]},
                geometry=[shapely.LineString([(X0 + 5_000, Y0), (X0 + 5_000, Y0 + 10_000)])],
                crs=CRS,
            ),
            tmp_path / "faults.gpkg",
        )
        text = f"""
name = "tiny"
title = "Tiny test region"
[boundary]
path = "boundary.gpkg"

[[layers]]
role = "deposits"
path = "deposits.gpkg"

[[layers]]
role = "withdrawals"
path = "withdrawals.gpkg"

[[layers]]
role = "access"
path = "rail.gpkg"

[[layers]]
role = "evidence"
path = "faults.gpkg"
{extra}
"""
        path = tmp_path / "tiny.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return build


def write_sites_region(
    tmp_path: Path,
    *,
    size_m: float,
    origin: tuple[float, float],
    sites_xy,
    codes: list[str],
    statuses: list[str],
    faults: list,
) -> str:
    """Write a square region with point sites and fault lines (offsets from *origin*, metres).

    Returns the path of the region file (``role =`` layers in the canonical schema).
    """
    import numpy as np

    x0, y0 = origin
    write_layer(
        gpd.GeoDataFrame({"name": ["Test"]}, geometry=[square(x0, y0, size_m)], crs=CRS),
        tmp_path / "outline.gpkg",
    )
    xy = np.asarray(sites_xy, dtype=float) + np.array(origin)
    n = len(xy)
    write_layer(
        gpd.GeoDataFrame(
            {
                "site_id": [f"t{i}" for i in range(n)],
                "name": [f"site {i}" for i in range(n)],
                "commodity_codes": codes,
                "dev_status": statuses,
                "source": ["test"] * n,
            },
            geometry=shapely.points(xy),
            crs=CRS,
        ),
        tmp_path / "sites.gpkg",
    )
    write_layer(
        gpd.GeoDataFrame(
            {
                "kind": ["fault"] * len(faults),
                "name": [chr(65 + i) for i in range(len(faults))],
                "weight": [1.0] * len(faults),
                "source": ["test"] * len(faults),
            },
            geometry=[
                shapely.LineString(np.asarray(f, dtype=float) + np.array(origin)) for f in faults
            ],
            crs=CRS,
        ),
        tmp_path / "faults.gpkg",
    )
    path = tmp_path / "tiny.toml"
    path.write_text(
        'name = "tiny"\ntitle = "Tiny test region"\nwork_crs = "EPSG:5070"\n\n'
        '[boundary]\npath = "outline.gpkg"\n\n'
        '[[layers]]\nrole = "deposits"\npath = "sites.gpkg"\n\n'
        '[[layers]]\nrole = "evidence"\npath = "faults.gpkg"\n',
        encoding="utf-8",
    )
    return str(path)


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Run the real entry point (exit-code mapping included) and capture its output.

    Every run is checked for a traceback or an "unexpected error" (a crash, not a message).
    """

    def run(*args: str | Path) -> Run:
        capsys.readouterr()
        from prospector.cli.main import main

        with pytest.raises(SystemExit) as exit_info:
            main([str(a) for a in args])
        captured = capsys.readouterr()
        result = Run(int(exit_info.value.code or 0), captured.out, captured.err)
        assert "Traceback" not in result.text, result.text
        assert "unexpected error" not in result.text, result.text
        return result

    return run
