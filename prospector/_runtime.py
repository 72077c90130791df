"""What every part of Prospector shares at run time: threads and atomic output.

Threads
    Shapely 2 and numpy release the GIL inside their vectorised calls, so splitting a large
    array into blocks and running them on threads gives a near-linear speed-up with no
    copies between processes.  :func:`n_threads` says how many threads one parallel step
    may use: ``$PROSPECTOR_THREADS`` (a user's cap) or the CPUs this process may run on.
    :func:`single_threaded` is the one way for code to force everything in a block onto
    the calling thread, as the tasks of a partitioned run want (their workers already use
    every core between them).

Atomic output
    :func:`atomic_outputs` stages one or several files (or folders) beside their final
    paths and moves them into place only when every one was written; on any error nothing
    is left behind and existing files are untouched.  :func:`atomic_output` is the one-path
    form.  Run outputs, maps, exports and downloads all go through them.

This module uses nothing of Prospector's but :mod:`prospector.errors`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from prospector.errors import OutputExistsError, ProspectorError

__all__ = [
    "atomic_output",
    "atomic_outputs",
    "check_writable",
    "chunked",
    "n_threads",
    "query_pairs",
    "quiet",
    "release_memory",
    "single_threaded",
]

_MIN_CHUNK = 20_000
_BLOCK = 1 << 16

_LOCAL = threading.local()


# --------------------------------------------------------------------------------------
# Threads
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block's parallel steps on the calling thread only (this thread only).

    For work that is already parallel across tasks: a tile on a worker process, a dask
    task on a worker thread.
    """
    before = getattr(_LOCAL, "threads", None)
    _LOCAL.threads = 1
    try:
        yield
    finally:
        _LOCAL.threads = before


def n_threads() -> int:
    """Threads to use for one parallel step.

    1 inside :func:`single_threaded`, else ``$PROSPECTOR_THREADS`` or the CPUs this process
    may run on.  The measuring families of a ranking run side by side, each with its own
    steps, so more threads than this can exist, most of them waiting.
    """
    local = getattr(_LOCAL, "threads", None)
    if local is not None:
        return int(local)
    env = os.environ.get("PROSPECTOR_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def quiet(func: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """*func* run with numpy's floating-point warnings off (in whichever thread runs it).

    GEOS overlays of geometries with subnormal coordinates (e.g. 5e-324) raise the CPU's
    divide-by-zero flag internally; numpy reports it as a RuntimeWarning although the
    result is right.
    """

    def run(*args: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return func(*args)

    return run


def chunked(
    func: Callable[..., np.ndarray], *arrays: np.ndarray, block: int = _BLOCK
) -> np.ndarray:
    """Apply an element-wise *func* to equal-length *arrays* in blocks, on parallel threads.

    The result equals ``func(*arrays)``.  Blocks of *block* elements keep each call's
    temporaries small and cache-resident (one large temporary per operation costs more in
    fresh-page faults than the arithmetic); inputs of one block run in the calling thread.
    """
    n = len(arrays[0])
    if n <= block:
        return func(*arrays)
    starts = range(0, n, block)
    workers = min(n_threads(), len(starts))
    if workers == 1:
        parts = [func(*(a[s : s + block] for a in arrays)) for s in starts]
    else:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda s: func(*(a[s : s + block] for a in arrays)), starts))
    return np.concatenate(parts)


def query_pairs(
    tree: shapely.STRtree, geoms: np.ndarray, predicate: str | None = None, **kwargs: float
) -> tuple[np.ndarray, np.ndarray]:
    """``tree.query(geoms, predicate)`` on parallel chunks of *geoms*.

    Returns the same ``(input index, tree index)`` pairs, in the same order, as one call.
    """
    n = len(geoms)
    workers = min(n_threads(), max(1, n // _MIN_CHUNK))
    # A predicate query uses each input's prepared form; one prepared by the caller is
    # shared state that GEOS builds lazily, so two threads must not touch it at once.
    if predicate is not None and workers > 1 and shapely.is_prepared(geoms).any():
        workers = 1
    if workers == 1:
        pairs = tree.query(geoms, predicate=predicate, **kwargs)
        return pairs[0], pairs[1]
    bounds = np.linspace(0, n, workers + 1).astype(int)

    def one(start: int, stop: int) -> np.ndarray:
        pairs = tree.query(geoms[start:stop], predicate=predicate, **kwargs)
        pairs[0] += start
        return pairs

    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(one, bounds[:-1], bounds[1:]))
    both = np.concatenate(parts, axis=1)
    return both[0], both[1]


def release_memory() -> None:
    """Hand memory freed by the last step back to the operating system.

    Arrow's allocator and glibc's ``malloc`` keep freed memory for reuse: after a step
    that made and dropped many small objects (GEOS pieces, index pairs), hundreds of MB
    stay in the process unused.  Call it between the large steps of a run; elsewhere
    (no glibc) it releases what Arrow holds only.
    """
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        pass
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only (not musl)
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


# --------------------------------------------------------------------------------------
# Atomic output
# --------------------------------------------------------------------------------------


def check_writable(path: str | Path, *, overwrite: bool) -> Path:
    """Check that *path* may be written (creating its folder); raise a clear error otherwise."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"{path} already exists; pass --overwrite (overwrite=True) to replace it, or "
            "choose another output path."
        )
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProspectorError(f"cannot create the output folder {parent}: {exc}") from exc
    if not os.access(parent, os.W_OK):
        raise ProspectorError(
            f"cannot write to {parent}: permission denied. Choose a writable output folder."
        )
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
    its staged path (a temporary folder beside it, on the same file system).  Only when the
    block finished are they moved, in order, to their final paths: never a GeoPackage
    without its map and manifest, never a mix of two runs.  Without *overwrite*, a file
    that appeared meanwhile is not clobbered (hard link, which fails if the name exists).

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
    stages: list[Path] = []
    try:
        staged: dict[str, Path] = {}
        for key, path in final.items():
            stage = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
            stages.append(stage)
            staged[key] = stage / path.name
            if key in directories:
                staged[key].mkdir()
        yield staged
        for key, path in final.items():
            if not staged[key].exists():
                raise ProspectorError(f"internal error: nothing was written for {path}")
        for key, path in final.items():
            _move(staged[key], path, overwrite=overwrite, directory=key in directories)
    finally:
        for stage in stages:
            shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def atomic_output(
    path: str | Path, *, overwrite: bool = False, directory: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside *path*; on success move it into place.

    On any exception the temporary file (or folder) is removed and *path* is left exactly
    as it was.

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
