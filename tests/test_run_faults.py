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


# --------------------------------------------------------------------------- full disks


def stages(folder: Path) -> list[Path]:
    """Hidden staging folders (and anything else hidden but the lock) left in *folder*."""
    if not folder.exists():
        return []
    return [p for p in folder.iterdir() if p.name.startswith(".")]


def test_disk_full_during_run_outputs_leaves_nothing(tiny_region, tmp_path, km_config):
    # Every file the process writes is capped at 200 kB (writes beyond fail with EFBIG, the
    # way a full disk fails them with ENOSPC): the GeoPackage cannot be written.
    out = tmp_path / "new" / "run"
    args = ["rank", "--region", str(tiny_region()), "--out", str(out), "--config", str(km_config)]
    done = cli(tmp_path, args, fsize=200_000)
    assert done.returncode == 2, done.stderr
    err = " ".join(done.stderr.split())
    assert "cannot write" in err and "prospects.gpkg" in err
    assert "The partial output was removed" in err
    no_traceback(done.stderr)
    assert not (tmp_path / "new").exists()  # no empty folders left behind


def test_disk_full_keeps_the_previous_run(tiny_region, tmp_path, km_config):
    out = tmp_path / "run"
    region = str(tiny_region())
    args = ["rank", "--region", region, "--out", str(out), "--config", str(km_config)]
    code, _, err = run(args)
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    done = cli(tmp_path, [*args, "--overwrite"], fsize=200_000)
    assert done.returncode == 2, done.stderr
    no_traceback(done.stderr)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.fixture
def small_disk(tmp_path):
    """A 600 kB tmpfs (needs the privilege to mount; skipped elsewhere)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(mount)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_real_full_disk(tiny_region, tmp_path, km_config, small_disk):
    out = small_disk / "run"
    args = ["rank", "--region", str(tiny_region()), "--out", str(out), "--config", str(km_config)]
    code, _, err = run(args)
    assert code == 2, err
    err = " ".join(err.split())
    assert f"the disk holding {out} is full" in err and "Free some space" in err
    no_traceback(err)
    assert list(small_disk.iterdir()) == []


def test_read_only_output_refused_before_any_work(tiny_region, tmp_path, small_disk):
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    region = tiny_region()
    region.write_text(region.read_text().replace('path = "deposits.gpkg"\n',
                                                 'path = "deposits.gpkg"\nwhere = "x = = 1"\n'))  # fmt: skip
    code, _, err = run(["rank", "--region", str(region), "--out", str(small_disk / "run")])
    assert code == 2
    assert f"cannot write {small_disk / 'run'}" in err and "read-only file system" in err
    assert "where" not in err  # refused before the region was read
    no_traceback(err)


def test_export_and_map_on_a_full_disk(tiny_region, tmp_path, km_config):
    out = tmp_path / "run"
    args = ["rank", "--region", str(tiny_region()), "--out", str(out), "--no-map"]
    code, _, err = run([*args, "--config", str(km_config)])
    assert code == 0, err
    gpkg = str(out / "prospects.gpkg")
    for command in (
        ["export", gpkg, "-f", "gpkg", "-o", str(tmp_path / "x" / "copy.gpkg")],
        ["export", gpkg, "-f", "shp", "-o", str(tmp_path / "x" / "shp")],
        ["map", gpkg, "-o", str(tmp_path / "x" / "map.html")],
    ):
        done = cli(tmp_path, command, fsize=4_000)
        assert done.returncode == 2, (command, done.stderr)
        assert "cannot write" in " ".join(done.stderr.split()), done.stderr
        no_traceback(done.stderr)
        assert not (tmp_path / "x").exists(), command


# --------------------------------------------------------------------------- killed and concurrent


def test_killed_run_debris_is_cleaned_by_the_next_run(tiny_region, tmp_path, km_config):
    import signal
    import time

    out = tmp_path / "run"
    args = ["rank", "--region", str(tiny_region()), "--out", str(out), "--config", str(km_config)]
    for _ in range(5):  # catch the run while it writes its staged outputs
        proc = cli(tmp_path, args, wait=False)
        while proc.poll() is None and not any(p.suffix == ".tmp" for p in stages(out)):
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            break
        proc.communicate()
        import shutil

        shutil.rmtree(out)
    else:
        pytest.skip("the run finished before it could be killed mid-write")
    assert any(p.suffix == ".tmp" for p in stages(out))  # the killed run's debris
    code, _, err = run([*args, "--overwrite"])
    assert code == 0, err
    assert stages(out) == []
    assert {p.name for p in out.iterdir()} == {
        "prospects.gpkg",
        "prospects.html",
        "targets.csv",
        "manifest.json",
    }


def test_concurrent_runs_one_wins_the_other_exits_2(tiny_region, tmp_path, km_config):
    import json
    import time

    from prospector.ingest import file_sha256

    out = tmp_path / "run"
    args = ["rank", "--region", str(tiny_region()), "--out", str(out), "--config", str(km_config)]
    first = cli(tmp_path, args, wait=False)
    lock = out / ".prospector.lock"
    while first.poll() is None and not (lock.exists() and lock.read_text().strip()):
        time.sleep(0.01)
    assert first.poll() is None, first.communicate()
    code, _, err = run(args)
    assert code == 2
    assert f"another Prospector run (PID {first.pid} on " in err and str(out) in err
    no_traceback(err)
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    manifest = json.loads((out / "manifest.json").read_text())
    for item in manifest["outputs"]:
        assert file_sha256(out / item["path"]) == item["sha256"]
    assert stages(out) == []


def test_outputs_checked_before_any_work(tiny_region, tmp_path, km_config):
    out = tmp_path / "run"
    out.mkdir()
    (out / "prospects.gpkg").write_bytes(b"an earlier run")
    region = tiny_region()
    region.write_text(region.read_text().replace('path = "deposits.gpkg"\n',
                                                 'path = "deposits.gpkg"\nwhere = "x = = 1"\n'))  # fmt: skip
    code, _, err = run(["rank", "--region", str(region), "--out", str(out)])
    assert code == 2
    assert "already exists" in err and "--overwrite" in err and "where" not in err
    # `map` checks its output before reading the GeoPackage (here not one at all).
    html = tmp_path / "map.html"
    html.write_text("mine")
    code, _, err = run(["map", str(out / "prospects.gpkg"), "-o", str(html)])
    assert code == 2 and "already exists" in err
    assert html.read_text() == "mine"


# --------------------------------------------------------------------------- progress


def test_progress_shows_library_steps_on_a_terminal():
    import io
    import logging

    from rich.console import Console

    from prospector.cli.options import progress

    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    with progress(terminal):
        logging.getLogger("prospector.ranking.run").info("measuring %s parcels", "1,234")
    assert "measuring 1,234 parcels" in terminal.file.getvalue()
    assert logging.getLogger("prospector").handlers == []  # removed again
    pipe = Console(file=io.StringIO(), force_terminal=False)
    with progress(pipe):
        logging.getLogger("prospector.ranking.run").info("measuring")
    assert pipe.file.getvalue() == ""


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
