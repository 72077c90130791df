"""What every part of Prospector shares at run time: threads, memory and atomic output.

Threads
    Shapely 2 and numpy release the GIL inside their vectorised calls, so splitting a large
    array into blocks and running them on threads gives a near-linear speed-up with no
    copies between processes.  :func:`n_threads` says how many threads one parallel step
    may use: ``$PROSPECTOR_THREADS`` (a user's cap) or the CPUs this process may run on.
    :func:`single_threaded` is the one way for code to force everything in a block onto
    the calling thread, as the tasks of a partitioned run want (their workers already use
    every core between them).

Memory
    :func:`release_memory` hands what the last step freed back to the operating system;
    :func:`malloc_arrow_pool` makes Arrow allocate with ``malloc`` for a block (a ranking
    run, a GeoParquet write), so that handing back reaches Arrow's memory too.

Atomic output
    :func:`atomic_outputs`, :func:`atomic_output`, :func:`check_writable`,
    :func:`output_lock` and :func:`clean_stale_stages` live in :mod:`prospector._atomic`
    and are re-exported here: run outputs, maps, exports and downloads all go through them.

This module uses nothing of Prospector's but :mod:`prospector._atomic` and
:mod:`prospector.errors`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import shapely

from prospector._atomic import (
    atomic_output,
    atomic_outputs,
    check_writable,
    clean_stale_stages,
    output_lock,
)

__all__ = [
    "atomic_output",
    "atomic_outputs",
    "check_writable",
    "chunked",
    "clean_stale_stages",
    "malloc_arrow_pool",
    "n_threads",
    "output_lock",
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


def release_memory(*, malloc: bool = True) -> None:
    """Hand memory freed by the last step back to the operating system.

    Arrow's allocator and glibc's ``malloc`` keep freed memory for reuse: after a step
    that made and dropped many small objects (GEOS pieces, index pairs), hundreds of MB
    stay in the process unused.  Call it between the large steps of a run; elsewhere
    (no glibc) it releases what Arrow holds only.  ``malloc=False`` releases Arrow's
    own allocator alone: cheap enough for every block of a step that only makes Arrow
    arrays (``malloc_trim`` walks the whole heap).
    """
    for pool in _arrow_pools():
        if pool.backend_name != "system":  # a system pool's memory is malloc's: below
            pool.release_unused()
    if malloc and _LIBC is not None:
        _LIBC.malloc_trim(0)


def _arrow_pools() -> list[Any]:
    """Arrow's default pool, and the one :func:`malloc_arrow_pool` stands in for."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return []
    pools = [pa.default_memory_pool()]
    if _POOL.replaced is not None and _POOL.replaced.backend_name != pools[0].backend_name:
        pools.append(_POOL.replaced)
    return pools


class _PoolState:
    """Who switched Arrow's default pool, and what it was (see :func:`malloc_arrow_pool`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.replaced: Any = None


_POOL = _PoolState()


@contextlib.contextmanager
def malloc_arrow_pool() -> Iterator[None]:
    """Allocate Arrow memory with the C library's ``malloc`` inside the block (glibc).

    Arrow's default allocator (mimalloc in the Linux wheels) keeps the pages it frees
    resident: at 1M parcels a run held ~100 MB more than Arrow had allocated, and
    :func:`release_memory` could not hand it back.  glibc's ``malloc`` gives it back at
    each ``malloc_trim``.  Arrays made inside the block keep their allocator after it ends.

    No effect where ``malloc_trim`` is missing (not glibc), or when the user chose a pool
    with ``$ARROW_DEFAULT_MEMORY_POOL``.  Blocks may nest and may run on several threads:
    the first to enter switches the default pool, the last to leave restores it.
    """
    if _LIBC is None or os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        yield
        return
    import pyarrow as pa

    with _POOL.lock:
        if _POOL.depth == 0:
            _POOL.replaced = pa.default_memory_pool()
            pa.set_memory_pool(pa.system_memory_pool())
        _POOL.depth += 1
    try:
        yield
    finally:
        with _POOL.lock:
            _POOL.depth -= 1
            if _POOL.depth == 0:
                replaced, _POOL.replaced = _POOL.replaced, None
                # What the replaced pool still holds from before the block goes back too.
                replaced.release_unused()
                pa.set_memory_pool(replaced)


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
