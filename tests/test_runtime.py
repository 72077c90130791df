import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import shapely

from prospector import _runtime
from prospector._runtime import chunked, malloc_arrow_pool, n_threads, release_memory


def test_chunked_equals_direct(monkeypatch):
    monkeypatch.setenv("PROSPECTOR_THREADS", "3")
    assert n_threads() == 3
    rng = np.random.default_rng(0)
    a = shapely.points(rng.uniform(0, 100, (70_000, 2)))
    b = shapely.buffer(shapely.points(rng.uniform(0, 100, (70_000, 2))), 5.0)
    np.testing.assert_array_equal(chunked(shapely.distance, a, b), shapely.distance(a, b))
    box = shapely.box(0, 0, 50, 50)
    inter = chunked(lambda g: shapely.intersection(g, box), b)
    assert shapely.equals(inter, shapely.intersection(b, box)).all()


def test_single_thread_small_input(monkeypatch):
    monkeypatch.setenv("PROSPECTOR_THREADS", "1")
    assert n_threads() == 1
    x = shapely.points([(0, 0), (1, 1)])
    np.testing.assert_array_equal(chunked(shapely.get_x, x), [0.0, 1.0])


def test_query_pairs_equals_one_query(monkeypatch):
    from prospector._runtime import query_pairs

    monkeypatch.setenv("PROSPECTOR_THREADS", "4")
    rng = np.random.default_rng(1)
    tree = shapely.STRtree(shapely.buffer(shapely.points(rng.uniform(0, 1000, (5_000, 2))), 3.0))
    geoms = shapely.points(rng.uniform(0, 1000, (90_000, 2)))
    expected = tree.query(geoms, predicate="dwithin", distance=2.0)
    got = query_pairs(tree, geoms, "dwithin", distance=2.0)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_import_leaves_map_classification_unloaded():
    # mapclassify pulls in scipy.stats, scikit-learn, numba and matplotlib (~0.2 GB
    # resident): a ranking that draws no map must not pay for them.
    import subprocess
    import sys

    heavy = ("mapclassify", "sklearn", "numba", "matplotlib", "scipy.stats")
    code = f"import sys, prospector; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------
# malloc_arrow_pool
# --------------------------------------------------------------------------------------

needs_glibc = pytest.mark.skipif(_runtime._LIBC is None, reason="glibc's malloc_trim only")


@pytest.fixture
def no_pool_choice(monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)


@needs_glibc
def test_malloc_pool_inside_the_block_and_restored(no_pool_choice):
    before = pa.default_memory_pool().backend_name
    with malloc_arrow_pool():
        assert pa.default_memory_pool().backend_name == "system"
        arr = pc.add(pa.array(np.arange(1_000_000, dtype=np.int64)), 1)  # a new buffer
        assert pa.system_memory_pool().bytes_allocated() >= 8_000_000
        with malloc_arrow_pool():  # nested: still the system pool, and afterwards too
            assert pa.default_memory_pool().backend_name == "system"
        assert pa.default_memory_pool().backend_name == "system"
        release_memory(malloc=False)  # nothing to release of a malloc pool: no error
    assert pa.default_memory_pool().backend_name == before
    # The array keeps its allocator after the block: freed, malloc's count drops.
    held = pa.system_memory_pool().bytes_allocated()
    del arr
    assert pa.system_memory_pool().bytes_allocated() == held - 8_000_000


@needs_glibc
def test_malloc_pool_restored_after_an_error(no_pool_choice):
    before = pa.default_memory_pool().backend_name
    with pytest.raises(RuntimeError), malloc_arrow_pool():
        raise RuntimeError("boom")
    assert pa.default_memory_pool().backend_name == before


@needs_glibc
def test_malloc_pool_threads_restore_once_the_last_leaves(no_pool_choice):
    # Two threads in overlapping blocks: the first to leave must not restore the pool
    # under the other; the last to leave does.
    before = pa.default_memory_pool().backend_name
    inside, leave_first, seen = threading.Event(), threading.Event(), []

    def first():
        with malloc_arrow_pool():
            inside.set()
            leave_first.wait(5)

    def second():
        inside.wait(5)
        with malloc_arrow_pool():
            leave_first.set()
            t1.join(5)  # the first thread has left its block
            seen.append(pa.default_memory_pool().backend_name)

    t1, t2 = threading.Thread(target=first), threading.Thread(target=second)
    t1.start()
    t2.start()
    t2.join(10)
    assert seen == ["system"]
    assert pa.default_memory_pool().backend_name == before


def test_malloc_pool_respects_the_users_choice(monkeypatch):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
    before = pa.default_memory_pool()
    with malloc_arrow_pool():
        assert pa.default_memory_pool().backend_name == before.backend_name
