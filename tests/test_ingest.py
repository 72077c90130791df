"""The ingest package: one catalogue look-up, check = load without the clip, fetch errors.

Files are built in code under tmp_path; HTTP goes to 127.0.0.1 only, and name
resolution failures are simulated by patching ``socket.getaddrinfo``.
"""

from __future__ import annotations

import socket
import warnings
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from prospector.catalog import find_entry, load_catalog, load_region
from prospector.errors import CatalogError, FetchError, SchemaError
from prospector.ingest import check_layer, load_layer, load_region_data, matching_sources
from prospector.ingest._http import describe_failure

CATALOG = load_catalog()


def _minmod_like(path: Path) -> Path:
    """Sites with the published fields of the utah-minmod catalogue entry (not canonical)."""
    records = [
        ("1", "Alpha", "AU AG", "UMOS", shapely.Point(-112.0, 39.0)),
        ("2", "Bravo", "lithium", "UMOS", shapely.Point(-112.1, 39.1)),
    ]
    columns = ["record_id", "name", "commodities", "dataset", "geometry"]
    sites = gpd.GeoDataFrame(records, columns=columns, geometry="geometry", crs="EPSG:4326")
    sites.to_file(path, layer="mineral_sites", engine="pyogrio")
    return path


# ----------------------------------------------------------------- catalogue look-up


def test_find_entry_suggests_and_checks_role():
    assert find_entry("utah-minmod", CATALOG).role == "deposits"
    with pytest.raises(CatalogError, match=r"no catalogue entry 'utah-minmd'\. Did you mean "):
        find_entry("utah-minmd", CATALOG)
    with pytest.raises(CatalogError, match="describes deposits layers, not access") as info:
        find_entry("utah-minmod", CATALOG, role="access")
    # The entries that would fit are listed, from the catalogue itself.
    access = sorted(n for n, e in CATALOG.items() if e.role == "access")
    assert f"Entries for access: {', '.join(access)}." in str(info.value)


def test_region_with_unknown_source_uses_the_same_look_up(tmp_path):
    (tmp_path / "b.gpkg").write_bytes(b"")
    region = tmp_path / "r.toml"
    region.write_text(
        '[boundary]\npath = "b.gpkg"\n[[layers]]\nsource = "utah-minmd"\npath = "x.gpkg"\n'
    )
    with pytest.raises(CatalogError) as info:
        load_region(region)
    message = str(info.value)
    assert "[[layers]] #1: no catalogue entry 'utah-minmd'. Did you mean 'utah-minmod'?" in message
    assert "file not found" in message  # every problem at once
    # A region whose layer files do not exist yet (about to be fetched) still loads.
    region.write_text(
        '[boundary]\npath = "b.gpkg"\n[[layers]]\nsource = "utah-minmod"\npath = "x.gpkg"\n'
    )
    loaded = load_region(region, require_files=False)
    assert [ref.name for ref in loaded.layers] == ["utah-minmod"]
    assert loaded.boundary_path == (tmp_path / "b.gpkg").resolve()


# ----------------------------------------------------------------- layers check


def test_check_without_source_suggests_the_matching_catalogue_source(tmp_path):
    path = _minmod_like(tmp_path / "sites.gpkg")
    with pytest.raises(SchemaError) as info:
        check_layer(path, role="deposits")
    message = str(info.value)
    # One problem (the missing canonical columns, listed once), not one per column and
    # again per feature; no catalogue entry named after the file.
    assert message.startswith(f"1 problem(s) normalising {path} as deposits")
    assert "column(s) 'site_id', 'commodity_codes', 'dev_status' missing" in message
    assert "features have no" not in message
    assert "catalogue entry 'sites'" not in message
    assert "--as deposits --source utah-minmod`" in message
    # The suggestion is right: with it, the same file passes.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = check_layer(path, role="deposits", source="utah-minmod")
    assert (report.n_read, report.n_kept) == (2, 2)


def test_check_without_a_matching_source_says_how_to_fix(tmp_path):
    path = tmp_path / "odd.gpkg"
    gpd.GeoDataFrame(
        {"id": ["1"], "what": ["x"]}, geometry=[shapely.Point(-112, 39)], crs="EPSG:4326"
    ).to_file(path, engine="pyogrio")
    with pytest.raises(SchemaError, match="rename its fields to the canonical names") as info:
        check_layer(path, role="deposits")
    assert "--source" in str(info.value) and "--source utah" not in str(info.value)


def test_matching_sources_by_fields_and_by_layer_name():
    fields = ["record_id", "name", "commodities", "dataset", "extra"]
    assert "utah-minmod" in matching_sources(fields, "deposits", CATALOG)
    assert matching_sources(fields, "access", CATALOG) == []
    # An entry of constants only matches by its layer name.
    railroads = CATALOG["naturalearth-railroads"]
    assert not railroads.published_fields and railroads.layer == "railroads"
    assert matching_sources(["x"], "access", CATALOG, layer_name="railroads") == [
        "naturalearth-railroads"
    ]


def test_check_is_load_without_the_clip(tiny_region, tmp_path):
    """What `layers check` counts is what a run loads, before the region's clip."""
    region = load_region(tiny_region())
    ref = region.by_role("deposits")[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_region_data(region)
        report = check_layer(ref.path, role="deposits")
        gdf, loaded = load_layer(ref, crs=data.crs, vocabulary=data.vocabulary)
    assert (report.n_read, report.n_kept) == (loaded.n_read, loaded.n_kept) == (3, 3)
    assert report.unmapped_commodities == loaded.unmapped_commodities
    assert gdf["site_id"].tolist() == ["a", "b", "c"]


# ----------------------------------------------------------------- HTTP failures


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again: nothing listens there


@pytest.fixture
def no_dns(monkeypatch):
    real = socket.getaddrinfo

    def fail(host, *args, **kwargs):
        if str(host).endswith(".test"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fail)


def test_arcgis_dns_failure_is_not_blamed_on_the_server(no_dns):
    from prospector.ingest.arcgis import query_features

    url = "https://gis.example.test/arcgis/rest/services/X/MapServer/1"
    with pytest.raises(FetchError) as info:
        query_features(url, retries=0)
    message = str(info.value)
    assert "cannot resolve the host name 'gis.example.test'" in message
    assert "online" in message
    assert "overloaded" not in message and "page_size" not in message


def test_download_refused_connection_says_nothing_listens(tmp_path):
    from prospector.ingest.download import fetch_file

    port = _refused_port()
    with pytest.raises(FetchError) as info:
        fetch_file(f"http://127.0.0.1:{port}/a.zip", cache_dir=tmp_path, retries=0)
    message = str(info.value)
    assert f"127.0.0.1 refused the connection on port {port}" in message
    assert "check the host and port in the URL" in message
    assert "overloaded" not in message


@pytest.mark.parametrize(
    ("status", "kind", "fix"),
    [(503, "http", "overloaded"), (404, "http", "moved or renamed"), (429, "http", "--retries")],
)
def test_http_status_failures(status, kind, fix):
    import requests

    response = requests.Response()
    response.status_code = status
    response.reason = "Reason"
    failure = describe_failure(
        requests.exceptions.HTTPError(response=response), url="https://x.test/a", timeout_s=5
    )
    assert failure.kind == kind
    assert failure.reason == f"HTTP {status} Reason"
    assert fix in failure.fix


def test_fetch_command_offline_names_only_real_options(
    no_dns, tiny_region, tmp_path, monkeypatch, capsys
):
    """`layers fetch` of an ArcGIS source without a network: DNS named, real options only."""
    from prospector.cli.main import cli, main

    layers = tmp_path / "layers"
    (layers / "catalog").mkdir(parents=True)
    (layers / "regions").mkdir()
    (layers / "catalog" / "test-closed.toml").write_text(
        'name = "test-closed"\ntitle = "t"\npublisher = "t"\nlicence = "t"\nurl = "http://x"\n'
        'format = "t"\nrole = "withdrawals"\n[fields]\nname = "NAME"\n[constants]\n'
        'kind = "other"\n[download]\nkind = "arcgis"\n'
        'url = "https://gis.example.test/arcgis/rest/services/X/MapServer/0"\n'
    )
    monkeypatch.setenv("PROSPECTOR_LAYERS", str(layers))
    with pytest.raises(SystemExit) as exit_info:
        main(["layers", "fetch", "test-closed", "--region", str(tiny_region()), "--retries", "0"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "cannot resolve the host name 'gis.example.test'" in err
    fetch = cli.commands["layers"].commands["fetch"]  # type: ignore[attr-defined]
    options = {opt for param in fetch.params for opt in param.opts}
    named = {word.strip("`(),.") for word in err.split() if word.startswith(("--", "`--"))}
    assert named <= options, named - options


# ----------------------------------------------------------------- layers fetch


def test_fetch_parses_the_region_once_and_accepts_its_future_file(
    tiny_region, tmp_path, monkeypatch
):
    """The region may already list the file being fetched; its TOML is read once."""
    import prospector.catalog.regions as regions
    import prospector.ingest.download as download
    from prospector.catalog import CatalogEntry
    from prospector.ingest import fetch_layer, read_vector

    # The published layer: two sites near the tiny region, one in Florida.
    published = tmp_path / "published.gpkg"
    gpd.GeoDataFrame(
        {"SITE_ID": ["A-1", "A-2", "A-3"]},
        geometry=shapely.points([(-113.49, 38.94), (-113.45, 38.96), (-81.0, 27.0)]),
        crs="EPSG:4326",
    ).to_file(published, engine="pyogrio")
    monkeypatch.setattr(download, "fetch_file", lambda url, **kwargs: published)
    entry = CatalogEntry(
        name="test-sites", title="t", role="deposits", publisher="t", licence="t", url="t",
        native_crs=None, format="t", fields=(),
        download={"kind": "file", "url": "http://127.0.0.1:9/sites.gpkg"},
    )  # fmt: skip
    region = tiny_region('\n[[layers]]\nsource = "test-sites"\npath = "data/test-sites.gpkg"\n')
    reads = []
    real = regions.read_region_file
    monkeypatch.setattr(regions, "read_region_file", lambda r: reads.append(r) or real(r))

    result = fetch_layer("test-sites", region=region, catalog={"test-sites": entry})

    assert reads == [region]
    assert result.path == tmp_path / "data" / "test-sites.gpkg"
    assert read_vector(result.path)["SITE_ID"].tolist() == ["A-1", "A-2"]
    # The area asked for is the run's: the boundary's envelope (near -113.5, 38.93) plus the
    # 200 km search margin, i.e. about 2.3 degrees of longitude and 1.8 of latitude.
    west, south, east, north = result.bbox_lonlat
    assert -116.5 < west < -115.5 and -111.5 < east < -110.5
    assert 36.5 < south < 37.4 and 40.5 < north < 41.4
