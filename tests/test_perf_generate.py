"""Graph generators: sizes, determinism across thread counts, degree sanity."""
import numpy as np
import pytest

from pysparsegraph import errors, generate


def _same(A, B):
    return (A.shape == B.shape and np.array_equal(A.indptr, B.indptr) and np.array_equal(A.indices, B.indices))


def test_rmat_size_and_thread_independence():
    A1 = generate.rmat(14, 16, seed=3, n_threads=1)
    A2 = generate.rmat(14, 16, seed=3, n_threads=2)
    assert A1.shape == (1 << 14, 1 << 14) and A1.values is None
    assert _same(A1, A2)
    # duplicates merged: fewer entries than drawn, but most survive at this density
    assert 0.8 * 16 * (1 << 14) < A1.nnz <= 16 * (1 << 14)
    keep = generate.rmat(14, 16, seed=3, duplicates="keep")
    assert keep.nnz == 16 * (1 << 14)
    assert not _same(A1, generate.rmat(14, 16, seed=4))


def test_rmat_quadrant_probabilities_and_skew():
    # without scrambling, the top bit of src is 1 with probability c + d
    A = generate.rmat(12, 16, seed=11, scramble=False, duplicates="keep")
    rows = np.repeat(np.arange(A.n_rows), np.diff(A.indptr))
    cols = A.indices
    half = A.n_rows // 2
    m = A.nnz
    top_left = np.mean((rows < half) & (cols < half))
    top_right = np.mean((rows < half) & (cols >= half))
    bottom_left = np.mean((rows >= half) & (cols < half))
    se = 4 * np.sqrt(0.25 / m)
    assert abs(top_left - 0.57) < se and abs(top_right - 0.19) < se and abs(bottom_left - 0.19) < se
    # power-law-ish out-degrees: a heavy hub, a large Gini coefficient
    deg = np.sort(np.diff(generate.rmat(14, 16, seed=1).indptr))
    gini = 1 - 2 * np.sum(np.cumsum(deg) / deg.sum()) / deg.size + 1 / deg.size
    assert deg[-1] > 40 * deg.mean() and gini > 0.5


def test_rmat_scramble_is_a_relabelling():
    A = generate.rmat(10, 8, seed=5, scramble=False, duplicates="keep")
    B = generate.rmat(10, 8, seed=5, scramble=True, duplicates="keep")
    assert A.nnz == B.nnz
    da, db = np.sort(np.diff(A.indptr)), np.sort(np.diff(B.indptr))
    assert np.array_equal(da, db)  # a bijection of node ids keeps the degree multiset
    assert not np.array_equal(np.diff(A.indptr), np.diff(B.indptr))


def test_rmat_symmetrize():
    A = generate.rmat(10, 8, seed=2, symmetrize=True)
    S = A.to_scipy()
    assert (S != S.T).nnz == 0


def test_erdos_renyi_degrees():
    n, avg = 20000, 10
    A1 = generate.erdos_renyi(n, avg, seed=9, n_threads=1, duplicates="keep")
    A2 = generate.erdos_renyi(n, avg, seed=9, n_threads=2, duplicates="keep")
    assert _same(A1, A2) and A1.nnz == n * avg
    d = np.diff(A1.indptr)
    assert abs(d.mean() - avg) < 1e-9
    assert abs(d.var() / avg - 1) < 0.1  # binomial, close to Poisson
    cols = np.bincount(A1.indices, minlength=n)
    assert abs(cols.var() / avg - 1) < 0.1
    assert generate.erdos_renyi(0, 5).shape == (0, 0)


def test_grid2d_matches_kronecker_construction():
    sp = pytest.importorskip("scipy.sparse")
    for r, c in [(1, 1), (1, 5), (4, 1), (3, 4), (17, 9)]:
        G = generate.grid2d(r, c)
        pr = sp.diags([1, 1], [-1, 1], shape=(r, r), dtype=np.float64)
        pc = sp.diags([1, 1], [-1, 1], shape=(c, c), dtype=np.float64)
        ref = (sp.kron(pr, sp.identity(c)) + sp.kron(sp.identity(r), pc)).tocsr()
        ref.sort_indices()
        assert np.array_equal(G.indptr, ref.indptr) and np.array_equal(G.indices, ref.indices)
    assert _same(generate.grid2d(300, 400, n_threads=1), generate.grid2d(300, 400, n_threads=2))
    assert generate.grid2d(0, 7).shape == (0, 0)


def test_bad_arguments():
    with pytest.raises(errors.InvalidArgumentError):
        generate.rmat(-1)
    with pytest.raises(errors.InvalidArgumentError):
        generate.rmat(5, a=0.7, b=0.2, c=0.2)
    with pytest.raises(errors.InvalidArgumentError):
        generate.rmat(5, seed=-3)
    with pytest.raises(errors.InvalidArgumentError):
        generate.erdos_renyi(10, -1)
    with pytest.raises(errors.InvalidArgumentError):
        generate.grid2d(70000, 70000)


def test_generate_reachable_from_package():
    import pysparsegraph
    A = pysparsegraph.generate.rmat(8, 4, seed=0)
    assert A.shape == (256, 256)


def test_generators_check_every_argument_and_empty_grids_return_at_once():
    import time as _time
    t0 = _time.perf_counter()
    g = generate.grid2d((1 << 31) - 1, 0)  # no nodes: the C loop walked every row (minutes here)
    assert g.shape == (0, 0) and _time.perf_counter() - t0 < 1.0
    for bad in (lambda: generate.grid2d(1 << 40, 1), lambda: generate.rmat(1, edge_factor=1 << 62),
                lambda: generate.rmat(4, a=True), lambda: generate.erdos_renyi(5, True),
                lambda: generate.erdos_renyi(0, 2, duplicates="bogus"),
                lambda: generate.erdos_renyi(0, 2, n_threads=-5)):
        with pytest.raises(errors.InvalidArgumentError):
            bad()
    # m draws with replacement, as documented: duplicates merged, loops possible
    er = generate.erdos_renyi(10, 5.0, seed=1)
    assert er.nnz <= 50 and er.shape == (10, 10)


def test_requests_beyond_memory_are_the_library_s_error():
    # 2.1e15 edges (17 PB): within each argument's limits, refused by NumPy's allocator without touching memory
    with pytest.raises(errors.PSGMemoryError, match=r"not enough memory to generate 2147483647000000 edges: "
                                                    r"\d+\.\d GiB"):
        generate.erdos_renyi(2 ** 31 - 1, 1e6)
