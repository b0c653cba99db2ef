"""SpMM against scipy.sparse and dense NumPy."""
import concurrent.futures as cf

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

import pysparsegraph as psg
from adversarial import coo_cases
from conftest import REAL_GRAPHS, shared_npz
from pysparsegraph import _core
from pysparsegraph.datasets import load_npz_graph


def _build(rows, cols, shape, index_dtype, value_dtype, rng):
    """An unsorted CSR with duplicates kept, exactly as given (no clean-up)."""
    order = rng.permutation(rows.size)
    rows, cols = rows[order], cols[order]
    indptr = np.zeros(shape[0] + 1, np.int64)
    np.add.at(indptr, rows + 1, 1)
    indptr = np.cumsum(indptr)
    perm = np.argsort(rows, kind="stable")  # rows grouped, columns left unsorted
    values = None if value_dtype is None else rng.uniform(-2, 2, rows.size).astype(value_dtype)[perm]
    A = psg.CSRMatrix(indptr, cols[perm].astype(index_dtype), values, shape=shape)
    # the reference gets its own arrays: scipy canonicalizes in place (abs() sums
    # duplicates), which would otherwise rewrite the arrays A shares
    ref = sp.csr_array(((np.ones(rows.size) if values is None else values.astype(np.float64)),
                        cols[perm].astype(np.int64), indptr.copy()), shape=shape)
    return A, ref


@pytest.mark.parametrize("case", range(7))
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("value_dtype", [None, np.float32, np.float64])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
def test_spmm_matches_scipy_on_adversarial_shapes(case, index_dtype, value_dtype, x_dtype, rng):
    name, n_rows, n_cols, rows, cols = coo_cases(rng)[case]
    A, ref = _build(rows, cols, (n_rows, n_cols), index_dtype, value_dtype, rng)
    for k in (1, 7, 64):
        X = rng.standard_normal((n_cols, k)).astype(x_dtype)
        expected = ref @ X.astype(np.float64)
        scale = abs(ref) @ np.abs(X.astype(np.float64))  # bounds the rounding error of each entry
        outs = [psg.spmm(A, X, n_threads=t) for t in (1, 2)]
        assert outs[0].dtype == x_dtype and outs[0].shape == (n_rows, k)
        rel = 2e-5 if x_dtype == np.float32 else 1e-13
        assert np.all(np.abs(outs[0] - expected) <= rel * scale + 1e-30), name
        assert outs[0].tobytes() == outs[1].tobytes(), f"{name}: result depends on the thread count"


@pytest.mark.parametrize("name", REAL_GRAPHS)
def test_spmm_real_graphs(name, shared_data, rng):
    A = load_npz_graph(shared_npz(shared_data, name))
    S = A.to_scipy(dtype=np.float64)
    X = rng.standard_normal((A.n_cols, 16)).astype(np.float32)
    expected = S @ X.astype(np.float64)
    y1 = psg.spmm(A, X, n_threads=1)
    y2 = psg.spmm(A, X, n_threads=2)
    scale = np.abs(S) @ np.abs(X.astype(np.float64))  # bound on float32 rounding per entry
    assert np.all(np.abs(y1 - expected) <= 1e-5 * scale + 1e-6)
    assert y1.tobytes() == y2.tobytes()


def test_vector_and_out_and_scipy_input(rng):
    S = sp.random(120, 90, density=0.05, format="csr", random_state=5)
    x = rng.standard_normal(90)
    y = psg.spmm(S, x)  # scipy input is accepted directly
    assert y.shape == (120,)
    np.testing.assert_allclose(y, S @ x, rtol=1e-12, atol=1e-12)
    out = np.full(120, np.nan)
    r = psg.spmm(psg.from_scipy(S), x, out=out)
    assert r is out
    np.testing.assert_allclose(out, S @ x, rtol=1e-12, atol=1e-12)
    X = rng.standard_normal((90, 5))
    np.testing.assert_allclose(psg.from_scipy(S) @ X, S @ X, rtol=1e-12, atol=1e-12)


def test_non_contiguous_x_is_copied_once_and_right(rng):
    S = sp.random(60, 40, density=0.1, format="csr", random_state=6)
    A = psg.from_scipy(S)
    X = np.asfortranarray(rng.standard_normal((40, 8)))
    np.testing.assert_allclose(psg.spmm(A, X), S @ X, rtol=1e-12, atol=1e-12)
    Xs = rng.standard_normal((40, 16))[:, ::2]
    np.testing.assert_allclose(psg.spmm(A, Xs), S @ Xs, rtol=1e-12, atol=1e-12)


def test_mixed_value_and_feature_dtypes(rng):
    S = sp.random(50, 50, density=0.1, format="csr", random_state=7, dtype=np.float64)
    A = psg.from_scipy(S)
    X = rng.standard_normal((50, 4)).astype(np.float32)
    y = psg.spmm(A, X)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, S @ X.astype(np.float64), rtol=1e-5, atol=1e-5)


def test_nan_and_inf_propagate_like_dense(rng):
    A = psg.from_edges([0, 0, 1, 2], [0, 1, 1, 2], [1.0, 0.0, 2.0, 1.0], shape=(3, 3))
    X = np.array([[1.0, np.nan], [np.inf, 1.0], [2.0, 3.0]])
    y = psg.spmm(A, X)
    # reference: every stored entry multiplied out, explicit zero included
    rows, cols, vals = A.to_edges()
    with np.errstate(invalid="ignore"):
        ref = np.zeros((3, 2))
        np.add.at(ref, rows, vals[:, None] * X[cols])
    np.testing.assert_array_equal(y, ref)  # assert_array_equal treats NaN == NaN
    assert np.isnan(y[0, 0]) and np.isnan(y[0, 1])  # 0 * inf and 1 * nan give nan, as in dense arithmetic
    assert y[1, 0] == np.inf


def test_degenerate_sizes():
    A = psg.from_edges([], [], shape=(0, 0))
    assert psg.spmm(A, np.zeros((0, 4), np.float32)).shape == (0, 4)
    B = psg.from_edges([0, 2], [1, 1], shape=(4, 3))
    y = psg.spmm(B, np.zeros((3, 0)))
    assert y.shape == (4, 0)
    y = psg.spmm(B, np.array([[1.0], [2.0], [3.0]]))
    np.testing.assert_array_equal(y[:, 0], [2.0, 0.0, 2.0, 0.0])  # empty rows give 0


def test_inputs_are_not_modified(rng):
    S = sp.random(200, 150, density=0.05, format="csr", random_state=8, dtype=np.float32)
    indptr, indices, data = S.indptr.astype(np.int64), S.indices.copy(), S.data.copy()
    X = rng.standard_normal((150, 9)).astype(np.float32)
    before = [a.copy() for a in (indptr, indices, data, X)]
    A = psg.CSRMatrix(indptr, indices, data, shape=S.shape)
    psg.spmm(A, X, n_threads=2)
    for a, b in zip((indptr, indices, data, X), before):
        assert a.tobytes() == b.tobytes()


def test_threadpool_limits_controls_team_size(rng):
    A = psg.from_edges(rng.integers(0, 20000, 400000), rng.integers(0, 20000, 400000))
    X = rng.standard_normal((A.n_cols, 32)).astype(np.float32)
    psg.spmm(A, X)
    default_team = _core.last_team_size()
    assert default_team == _core.max_threads()
    with threadpool_limits(limits=1):
        psg.spmm(A, X)
        assert _core.last_team_size() == 1
    psg.spmm(A, X, n_threads=1)
    assert _core.last_team_size() == 1
    if _core.has_openmp() and _core.max_threads() >= 2:
        psg.spmm(A, X, n_threads=2)
        assert _core.last_team_size() == 2


def test_many_python_threads_at_once(rng):
    """The GIL is released: concurrent calls from Python threads all get right answers."""
    S = sp.random(3000, 3000, density=0.004, format="csr", random_state=9, dtype=np.float32)
    A = psg.from_scipy(S)
    Xs = [rng.standard_normal((3000, 16)).astype(np.float32) for _ in range(16)]
    refs = [psg.spmm(A, X, n_threads=1) for X in Xs]
    with cf.ThreadPoolExecutor(max_workers=8) as pool:
        outs = list(pool.map(lambda X: psg.spmm(A, X), Xs * 4))
    for i, y in enumerate(outs):
        assert y.tobytes() == refs[i % len(Xs)].tobytes()
