"""Atomic output: files appear whole or not at all, never a mix of two runs.

:func:`atomic_outputs` stages one or several files (or folders) beside their final paths
and moves them into place only when every one was written; on any error the staged files
and any folder made for them are removed, existing files are untouched, and a failed write
(disk full, permission, read-only file system, file-size limit) is reported as an
:class:`~prospector.errors.OutputWriteError` that says so.  :func:`atomic_output` is the
one-path form.  Run outputs, maps, exports and downloads all go through them (through
:mod:`prospector._runtime`, which re-exports them).

Each staging folder carries a marker (host and PID); :func:`clean_stale_stages` removes the
ones whose process died (a killed run), and only those.  :func:`output_lock` keeps a second
run out of a folder a run is writing into.

This module uses nothing of Prospector's but :mod:`prospector.errors`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

from prospector.errors import (
    OutputExistsError,
    OutputLockedError,
    OutputWriteError,
    ProspectorError,
)

__all__ = [
    "LOCK_NAME",
    "STAGE_MARKER",
    "atomic_output",
    "atomic_outputs",
    "check_writable",
    "clean_stale_stages",
    "output_lock",
]


#: Marker file inside every staging folder: which host and process made it.
STAGE_MARKER = ".prospector-stage"
#: Lock file a run holds in its output folder while it works there.
LOCK_NAME = ".prospector.lock"

_HELD: dict[str, tuple[int, int]] = {}  # folder → (descriptor, depth) of locks held here
_HELD_LOCK = threading.Lock()


def check_writable(path: str | Path, *, overwrite: bool) -> Path:
    """Check that *path* may be written, creating nothing; raise a clear error otherwise.

    The nearest existing folder above *path* must be a folder this process can write in
    (probed with a temporary file, so a read-only or full file system is named as such).
    Missing folders are created only when an output is committed, and removed again when
    it fails.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path} already exists; pass --overwrite (overwrite=True) to replace it, or "
            "choose another output path."
        )
    folder = _existing_ancestor(path.parent if str(path.parent) else Path("."))
    if not folder.is_dir():
        raise OutputWriteError(
            f"cannot create the output folder for {path}: {folder} is a file, not a folder. "
            "Choose another output path."
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".prospector-probe-", dir=folder)
    except OSError as exc:
        raise _write_error(exc, path, before=True) from None
    os.close(fd)
    os.unlink(probe)
    return path


@contextlib.contextmanager
def atomic_outputs(
    paths: Mapping[str, str | Path],
    *,
    overwrite: bool = False,
    directories: frozenset[str] | set[str] = frozenset(),
) -> Iterator[dict[str, Path]]:
    """Yield staged paths for several outputs; move them all into place on success.

    Every output is checked first (:func:`check_writable`), then written by the caller to
    its staged path (a marked temporary folder beside it, on the same file system).  Only
    when the block finished are they moved, in order, to their final paths: never a
    GeoPackage without its map and manifest, never a mix of two runs.  Without *overwrite*,
    a file that appeared meanwhile is not clobbered (hard link, which fails if the name
    exists).

    On failure the staged files and any folder created for the outputs are removed; a
    failed write (disk full, permission, read-only file system, file-size limit) becomes an
    :class:`~prospector.errors.OutputWriteError` saying so.  Staging folders that killed
    runs left beside the outputs are removed first (only Prospector's own, of processes
    that no longer run on this host).

    Parameters
    ----------
    paths
        Key → final path.
    overwrite
        Replace existing outputs.
    directories
        Keys whose output is a folder (created empty for the caller to fill).
    """
    final = {key: check_writable(p, overwrite=overwrite) for key, p in paths.items()}
    created: list[Path] = []
    stages: list[Path] = []
    staged: dict[str, Path] = {}
    current = next(iter(final.values()), Path("."))
    try:
        for path in final.values():
            current = path
            created += _make_folder(path.parent)
            clean_stale_stages(path.parent)
        for key, path in final.items():
            current = path
            stage = Path(
                tempfile.mkdtemp(prefix=_stage_prefix(path), suffix=".tmp", dir=path.parent)
            )
            stages.append(stage)
            _mark(stage)
            staged[key] = stage / path.name
            if key in directories:
                staged[key].mkdir()
        yield staged
        for key, path in final.items():
            if not staged[key].exists():
                raise ProspectorError(f"internal error: nothing was written for {path}")
        for key, path in final.items():
            current = path
            _move(staged[key], path, overwrite=overwrite, directory=key in directories)
        created = []  # committed: the folders stay
    except BaseException as exc:
        if isinstance(exc, OutputWriteError):  # from a nested writer: name the final paths
            text = str(exc)
            for key, path in final.items():
                text = text.replace(str(staged.get(key, path)), str(path))
            for stage in stages:
                text = text.replace(str(stage), str(stage.parent))
            raise OutputWriteError(text) from exc.__cause__
        if _is_write_failure(exc):
            failed = _failed_path(exc, staged, final) or current
            raise _write_error(exc, failed) from exc
        raise
    finally:
        for stage in stages:
            shutil.rmtree(stage, ignore_errors=True)
        _remove_empty(created)


@contextlib.contextmanager
def atomic_output(
    path: str | Path, *, overwrite: bool = False, directory: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside *path*; on success move it into place.

    On any exception the temporary file (or folder) is removed and *path* is left exactly
    as it was (see :func:`atomic_outputs`).

    Parameters
    ----------
    path
        Final output path.
    overwrite
        Replace an existing output.
    directory
        Yield a temporary directory instead of a file path.
    """
    dirs = frozenset({"out"}) if directory else frozenset()
    with atomic_outputs({"out": path}, overwrite=overwrite, directories=dirs) as staged:
        yield staged["out"]


@contextlib.contextmanager
def output_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the lock of an output folder for the block (creating the folder if needed).

    One run at a time writes into a folder: a second one raises
    :class:`~prospector.errors.OutputLockedError` naming the process that holds it.  The
    lock is an advisory ``flock`` on ``.prospector.lock`` (released by the system when its
    process dies, so a killed run never blocks the next one), recording host and PID.
    Nested use in one process is allowed.  A folder created here and left empty is removed.
    """
    folder = Path(folder)
    check_writable(folder / LOCK_NAME, overwrite=True)
    key = str(folder.resolve())
    with _HELD_LOCK:
        if key in _HELD:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth + 1)
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield folder
        finally:
            with _HELD_LOCK:
                fd, depth = _HELD[key]
                _HELD[key] = (fd, depth - 1)
        return
    created = _make_folder(folder)
    lock = folder / LOCK_NAME
    try:
        fd = _acquire(lock, folder)
    except BaseException:
        _remove_empty(created)
        raise
    with _HELD_LOCK:
        _HELD[key] = (fd, 1)
    try:
        clean_stale_stages(folder)
        yield folder
    finally:
        with _HELD_LOCK:
            del _HELD[key]
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)
        _remove_empty(created)


def _acquire(lock: Path, folder: Path) -> int:
    """Open and lock *lock*; the descriptor, once it is the file at that path and ours."""
    import fcntl

    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 512).decode("utf-8", "replace").split()
            os.close(fd)
            who = (
                f"PID {owner[1]} on {owner[0]}, started {owner[2]}"
                if len(owner) >= 3
                else "another process"
            )
            raise OutputLockedError(
                f"another Prospector run ({who}) is writing to {folder}; wait for it to "
                "finish, or choose another output folder."
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:  # not a file its previous holder unlinked meanwhile
            os.ftruncate(fd, 0)
            stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            os.write(fd, f"{socket.gethostname()} {os.getpid()} {stamp}\n".encode())
            return fd
        os.close(fd)


def clean_stale_stages(folder: str | Path) -> list[Path]:
    """Remove staging folders that killed Prospector processes left in *folder*.

    Only folders carrying Prospector's marker, made on this host by a process that no
    longer runs, are removed; anything else (other programs' files, live runs, runs of
    other hosts sharing the folder) is left alone.  Returns the folders removed.
    """
    removed: list[Path] = []
    host = socket.gethostname()
    try:
        hidden = [p for p in Path(folder).iterdir() if p.name.startswith(".") and p.is_dir()]
    except OSError:
        return removed
    for stage in hidden:
        try:
            owner = (stage / STAGE_MARKER).read_text(encoding="utf-8").split()
            made_by, pid = owner[0], int(owner[1])
        except (OSError, ValueError, IndexError):
            # Killed between creating the stage and marking it: its name says who made it.
            named = _STAGE_NAME.search(stage.name)
            if named is None or named["host"] != _host_tag(host):
                continue
            made_by, pid = host, int(named["pid"])
        if made_by == host and not _pid_alive(pid):
            shutil.rmtree(stage, ignore_errors=True)
            removed.append(stage)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


_STAGE_NAME = re.compile(r"\.~(?P<host>[0-9a-f]{8})-(?P<pid>\d+)\.[^.]+\.tmp$")


def _host_tag(host: str) -> str:
    return hashlib.sha256(host.encode()).hexdigest()[:8]


def _stage_prefix(path: Path) -> str:
    """Stage names carry host and PID, so a run killed before marking its stage is known."""
    return f".{path.name}.~{_host_tag(socket.gethostname())}-{os.getpid()}."


def _mark(stage: Path) -> None:
    (stage / STAGE_MARKER).write_text(f"{socket.gethostname()} {os.getpid()}\n", encoding="utf-8")


def _existing_ancestor(folder: Path) -> Path:
    folder = folder.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _make_folder(folder: Path) -> list[Path]:
    """Create *folder* and its missing parents; return those created, outermost first."""
    missing: list[Path] = []
    probe = folder.absolute()
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for item in reversed(missing):
        item.mkdir(exist_ok=True)
    return list(reversed(missing))


def _remove_empty(created: list[Path]) -> None:
    """Remove folders created for outputs, innermost first, while they are empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            return


def _is_write_failure(exc: BaseException) -> bool:
    """Whether *exc* is an I/O failure (not a bug): an OSError, or GDAL failing to write."""
    if isinstance(exc, ProspectorError):
        return isinstance(exc, OutputWriteError)
    if isinstance(exc, OSError):
        return True
    module = type(exc).__module__ or ""
    return module.split(".")[0] in ("pyogrio", "rasterio", "fiona") and type(exc).__name__.endswith(
        "Error"
    )


def _failed_path(
    exc: BaseException, staged: Mapping[str, Path], final: Mapping[str, Path]
) -> Path | None:
    """Return the final path of the output being written when *exc* happened.

    The staged file the error names, else the one written last (outputs are written one
    after the other).
    """
    name = getattr(exc, "filename", None)
    text = str(exc) if name is None else str(name)
    for key, stage in staged.items():
        if str(stage) in text:
            return final[key]
    written = [(p.stat().st_mtime_ns, key) for key, p in staged.items() if p.exists()]
    return final[max(written)[1]] if written else None


def _write_error(exc: BaseException, path: Path, *, before: bool = False) -> OutputWriteError:
    """Build the clear error for a failed write of *path* (disk full, permission, read-only...)."""
    if isinstance(exc, OutputWriteError):
        return exc
    code = getattr(exc, "errno", None)
    detail = os.strerror(code) if isinstance(code, int) else str(exc)
    folder = _existing_ancestor(path.parent)
    free: int | None = None
    with contextlib.suppress(OSError):
        free = shutil.disk_usage(folder).free
    if code in (errno.ENOSPC, errno.EDQUOT) or (not before and free is not None and free < 1 << 20):
        what = f"the disk holding {path.parent} is full ({_size(free)} free)"
        fix = "Free some space, or choose an output folder on another disk"
    elif code == errno.EFBIG:
        what = "the file grew beyond the size this system lets a process write (`ulimit -f`)"
        fix = "Raise the limit, or choose another output folder"
    elif code in (errno.EACCES, errno.EPERM):
        what = f"permission denied in {folder}"
        fix = "Choose a writable output folder, or fix its permissions"
    elif code == errno.EROFS:
        what = f"{folder} is on a read-only file system"
        fix = "Choose an output folder on a writable disk"
    else:
        what = detail
        fix = "Check the output folder and its disk, then run again"
    done = (
        "Nothing was written."
        if before
        else "The partial output was removed; existing files are untouched."
    )
    reason = f" ({detail})" if detail and detail not in what else ""
    return OutputWriteError(f"cannot write {path}: {what}{reason}. {done} {fix}.")


def _size(n: int | None) -> str:
    if n is None:
        return "unknown space"
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _move(tmp: Path, path: Path, *, overwrite: bool, directory: bool) -> None:
    if directory:
        if path.exists():
            if not overwrite:
                raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it.")
            backup = path.with_name(f".{path.name}.old")
            shutil.rmtree(backup, ignore_errors=True)
            os.replace(path, backup)
            os.replace(tmp, path)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, path)
        return
    if overwrite:
        os.replace(tmp, path)
        return
    try:  # no clobber: link fails if the name appeared meanwhile
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(
            f"{path} was created while it was being written; pass overwrite=True to replace it."
        ) from None
    except OSError:  # file system without hard links
        if path.exists():
            raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it.") from None
        os.replace(tmp, path)
