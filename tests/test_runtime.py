import numpy as np
import shapely

from prospector._runtime import chunked, n_threads


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
