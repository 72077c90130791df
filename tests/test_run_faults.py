"""Runs that fail cleanly: every failure a user can cause or meet exits 2, says what, where
and how to fix it, and leaves nothing half-written and no empty folder behind.

Classes: malformed region files (directory, binary, wrong types, bad `where` SQL), absurd
sizes, full disks and unwritable outputs (real limits set in a subprocess), killed runs,
concurrent runs into one folder, outputs checked before any work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.test_cli import run

ROOT = Path(__file__).resolve().parents[1]


def no_traceback(err: str) -> None:
    assert "Traceback" not in err and "This is a bug" not in err, err


def cli(tmp_path: Path, args: list[str], *, fsize: int | None = None, memory: int | None = None,
        wait: bool = True) -> subprocess.CompletedProcess | subprocess.Popen:  # fmt: skip
    """Run ``prospector ARGS`` in a subprocess, optionally under OS resource limits.

    *fsize* caps the size of any file the process writes (writes beyond fail with EFBIG, as
    on a full disk); *memory* caps its address space.
    """
    code = textwrap.dedent(
        f"""
        import resource, signal, sys
        if {fsize!r}:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, ({fsize!r}, {fsize!r}))
        if {memory!r}:
            resource.setrlimit(resource.RLIMIT_AS, ({memory!r}, {memory!r}))
        from prospector.cli.main import main
        main({args!r})
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    command = [sys.executable, "-c", code]
    if not wait:
        return subprocess.Popen(command, cwd=tmp_path, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    return subprocess.run(command, cwd=tmp_path, env=env, text=True, capture_output=True,
                          timeout=600)  # fmt: skip


@pytest.fixture
def km_config(tmp_path: Path) -> Path:
    path = tmp_path / "km.toml"
    path.write_text("[parcels]\ncell_m = 1000.0\n")
    return path


# --------------------------------------------------------------------------- region files


def test_region_is_a_directory(tmp_path):
    code, _, err = run(["rank", "--region", str(tmp_path), "--out", str(tmp_path / "o")])
    assert code == 2
    assert f"region {tmp_path} is a folder; give the path of a region .toml file" in err
    no_traceback(err)
    assert not (tmp_path / "o").exists()


def test_region_is_a_binary_file(tmp_path):
    binary = tmp_path / "region.toml"
    binary.write_bytes(b"name = 1\x00\x89PNG\r\n\x1a\n\xff\xfe\xfd")
    code, _, err = run(["rank", "--region", str(binary), "--out", str(tmp_path / "o")])
    assert code == 2
    assert f"{binary} is not a region file: byte 9 is not UTF-8 text" in err
    no_traceback(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("text", "messages"),
    [
        ("layers = 3\n[boundary]\npath = 'b.gpkg'\n", ["`layers` must be [[layers]] tables"]),
        ('boundary = "b.gpkg"\n', ["`boundary` must be a table", "missing [boundary] table"]),
        (
            "name = 5\n[boundary]\npath = 7\n[[layers]]\nrole = 'deposits'\npath = ['a']\n",
            [
                "`name` must be text; got 5",
                "[boundary]: `path` must be text; got 7",
                "[[layers]] #1: `path` must be text; got ['a']",
            ],
        ),
        ("layers = [1, 'x']\n[boundary]\npath = 'b.gpkg'\n", ["[[layers]] #2: must be a table"]),
        ("[boundary]\npath = 'b.gpkg'\nwhere = 3\n", ["[boundary]: `where` must be text"]),
    ],
)
def test_malformed_region_files_list_every_problem(tmp_path, text, messages):
    path = tmp_path / "region.toml"
    path.write_text(text)
    code, _, err = run(["rank", "--region", str(path), "--out", str(tmp_path / "o")])
    assert code == 2, err
    assert "invalid region file" in err
    for message in messages:
        assert message in err
    no_traceback(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("where", "detail"),
    [("dev_status = = 1", 'near "=": syntax error'), ("nosuch = 1", "no such column: nosuch")],
)
def test_bad_where_sql_names_the_filter_and_the_fix(tiny_region, tmp_path, km_config, where,
                                                      detail):  # fmt: skip
    region = tiny_region()
    text = region.read_text().replace(
        'path = "deposits.gpkg"\n', f'path = "deposits.gpkg"\nwhere = "{where}"\n'
    )
    region.write_text(text)
    args = ["rank", "--region", str(region), "--out", str(tmp_path / "o"), "--no-map"]
    code, _, err = run([*args, "--config", str(km_config)])
    assert code == 2
    deposits = tmp_path / "deposits.gpkg"
    assert f"cannot read {deposits}: its `where` filter {where!r} is not a valid attribute" in err
    assert detail in err and "Fix `where` for this file in the region file" in err
    no_traceback(err)
    assert not (tmp_path / "o").exists()


def test_bad_boundary_where(tiny_region, tmp_path):
    region = tiny_region()
    region.write_text(
        region.read_text().replace(
            'path = "boundary.gpkg"\n', 'path = "boundary.gpkg"\nwhere = "name ="\n'
        )
    )
    code, _, err = run(["rank", "--region", str(region), "--out", str(tmp_path / "o")])
    assert code == 2
    assert "its `where` filter 'name =' is not a valid attribute filter" in err
    no_traceback(err)


# --------------------------------------------------------------------------- sizes


def test_absurd_parcel_count_refused_before_allocating(tiny_region, tmp_path):
    # 1 m cells over 10 km × 10 km: 1e8 parcels.  Under a 3 GB address-space limit the old
    # code died of MemoryError (exit 1); it must be refused from the estimate alone.
    config = tmp_path / "m.toml"
    config.write_text("[parcels]\ncell_m = 1.0\n")
    out = tmp_path / "o"
    args = ["rank", "--region", str(tiny_region()), "--out", str(out), "--config", str(config)]
    done = cli(tmp_path, args, memory=3 * 1024**3)
    assert done.returncode == 2, done.stderr
    err = " ".join(done.stderr.split())
    assert "the run would make about 100,040,000 parcels (cells of 1 m over 100.0 km²)" in err
    assert "Nothing was built" in err and "parcels.cell_m = " in err
    assert "the streamed engine" in err and "parcels.max_parcels" in err
    no_traceback(done.stderr)
    assert not out.exists()


def test_parcel_limit_is_the_users_to_set(tiny_region, tmp_path):
    region = str(tiny_region())
    config = tmp_path / "c.toml"
    # 10 km × 10 km in 1 km cells: estimated 100 inside + 40 along the edge.
    config.write_text("[parcels]\ncell_m = 1000.0\nmax_parcels = 50\n")
    args = ["rank", "--region", region, "--out", str(tmp_path / "o"), "--no-map"]
    code, _, err = run([*args, "--config", str(config)])
    assert code == 2
    assert "about 140 parcels (cells of 1,000 m over 100.0 km²)" in err
    assert "more than parcels.max_parcels = 50" in err and "parcels.cell_m = 1,700" in err
    config.write_text("[parcels]\ncell_m = 1000.0\nmax_parcels = 200\n")
    code, _, err = run([*args, "--config", str(config)])
    assert code == 0, err


def test_memory_budget_hand_computed():
    from prospector.analysis.parcels import ParcelEstimate, check_run_size
    from prospector.errors import RunTooLargeError

    estimate = ParcelEstimate(n_parcels=1_000_000, n_grid_cells=1_200_000, area_km2=2590.0,
                              cell_m=50.0)  # fmt: skip
    # In memory: 1.2e6 × 600 B + 1e6 × 3000 B = 3.72 GB; fits in 80 % of 5 GB, not of 4 GB.
    check_run_size(estimate, available_bytes=5_000_000_000)
    with pytest.raises(RunTooLargeError, match=r"about 3\.7 GB of memory .* 4\.0 GB is available"):
        check_run_size(estimate, available_bytes=4_000_000_000)
    # Streamed: 1e6 × 800 B = 0.8 GB fits in 80 % of 4 GB.
    check_run_size(estimate, available_bytes=4_000_000_000, engine="streamed")
    check_run_size(estimate, available_bytes=None)  # unknown memory: no check
    # Cell size that fits 2e5 parcels: 50 m × sqrt(5) = 111.8 → 120 m (two digits, up).
    with pytest.raises(RunTooLargeError, match=r"parcels.cell_m = 120 or more"):
        check_run_size(estimate, max_parcels=200_000)


# --------------------------------------------------------------------------- unknowns


def test_claims_unknown_without_a_claims_layer(tiny_region, tmp_path, km_config):
    out = tmp_path / "o"
    args = ["rank", "--region", str(tiny_region()), "--out", str(out), "--no-map"]
    code, _, err = run([*args, "--config", str(km_config)])
    assert code == 0, err
    r0, c0 = 1_900_000 // 1000, -1_500_000 // 1000
    code, stdout, err = run(
        ["status", str(out / "prospects.gpkg"), "--parcel", f"r{r0 + 1}c{c0 + 1}"]
    )
    assert code == 0, err
    lines = dict(line.strip().split(": ", 1) for line in stdout.splitlines()[1:])
    assert lines["n_active_claims"] == "unknown"
    assert lines["claimed_frac"] == "unknown"


# --------------------------------------------------------------------------- fetch cache


def test_download_into_a_full_cache_is_reported_and_removed(tmp_path):
    import hashlib
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    payload = bytes(range(256)) * 800  # 200 kB

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    cache = tmp_path / "cache"
    url = f"http://127.0.0.1:{httpd.server_address[1]}/big.zip"
    code = textwrap.dedent(
        f"""
        import resource, signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
        from prospector.ingest.download import fetch_file
        try:
            fetch_file({url!r}, cache_dir={str(cache)!r}, retries=0, progress=False,
                       sha256={hashlib.sha256(payload).hexdigest()!r})
        except Exception as exc:
            print(type(exc).__name__, exc)
        """
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)  # fmt: skip
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    out = " ".join(done.stdout.split())
    assert out.startswith("OutputWriteError cannot write the download to"), (
        done.stdout + done.stderr
    )
    assert "The partial download was removed" in out and "--cache" in out
    assert [p.name for p in cache.iterdir()] == []
