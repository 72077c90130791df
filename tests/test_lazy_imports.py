"""A ranking loads what it needs: no map, GDAL reader/writer or HTTP library until used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import prospector
from prospector import export, ingest, ranking

#: Libraries a ranking of layers already in memory never needs.
HEAVY = ("pyogrio", "rasterio", "folium", "branca", "jinja2", "requests", "PIL", "skimage")


def _loaded_after(code: str) -> dict[str, bool]:
    """Which HEAVY libraries are imported after running *code* in a fresh interpreter."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_a_ranking_imports_no_map_gdal_or_http_library():
    loaded = _loaded_after(
        "import prospector\n"
        "from prospector.ranking import rank, RankResult\n"
        "from prospector.export import write_geoparquet\n"
        "from prospector.ingest import RegionData\n"
        "from prospector.catalog import Region\n"
        "from prospector.config import load_config\n"
        "assert prospector.rank is rank"
    )
    assert not any(loaded.values()), loaded


def test_names_load_their_modules_on_first_use():
    loaded = _loaded_after("import prospector\nprospector.write_run")
    assert loaded["folium"] and loaded["jinja2"]
    # The readers and writers load GDAL when they read or write, not when imported.
    loaded = _loaded_after(
        "from prospector.ingest import read_vector\nfrom prospector import write_gpkg"
    )
    assert not any(loaded.values()), loaded
    loaded = _loaded_after(
        "from prospector.ingest import list_layers\n"
        "try:\n    list_layers('missing.gpkg')\nexcept Exception:\n    pass"
    )
    assert loaded["pyogrio"] and not loaded["folium"]


@pytest.mark.parametrize("package", [prospector, ranking, ingest, export])
def test_every_public_name_resolves(package):
    for name in package.__all__:
        assert getattr(package, name) is not None, name
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = package.nope


def test_star_import_gives_every_public_name():
    namespace: dict[str, object] = {}
    exec("from prospector import *", namespace)
    assert set(prospector.__all__) <= set(namespace)
    assert namespace["rank"] is ranking.rank
