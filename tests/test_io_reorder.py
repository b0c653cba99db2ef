"""Reorderings: valid permutations with the promised properties, P A P^T equal
to scipy's indexing, and SpMM results mapped back exactly."""
import os

import numpy as np
import pytest

from pysparsegraph import CSRMatrix, errors, io, reorder, spmm
from pysparsegraph.datasets import shared_data_dir

DATA = shared_data_dir()


def _random_graph(n=300, m=3000, seed=0, weighted=True, symmetric=False):
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    vals = rng.random(m) if weighted else None
    return CSRMatrix.from_edges(src, dst, vals, shape=(n, n), symmetrize=symmetric)


def _grid(k, seed=0):
    """k x k grid graph with shuffled node ids."""
    idx = np.arange(k * k).reshape(k, k)
    src = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    dst = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    shuffle = np.random.default_rng(seed).permutation(k * k)
    return CSRMatrix.from_edges(shuffle[src], shuffle[dst], shape=(k * k, k * k), symmetrize=True)


@pytest.mark.parametrize("method", reorder.METHODS)
def test_orders_are_permutations_and_deterministic(method):
    A = _random_graph(symmetric=True)
    p = reorder.order(A, method)
    assert p.dtype == np.int64 and np.array_equal(np.sort(p), np.arange(A.n_rows))
    assert np.array_equal(p, reorder.order(A, method))


def test_degree_and_hub_orders():
    A = _random_graph(weighted=False)
    deg = np.diff(A.indptr)
    p = reorder.order(A, "degree")
    assert (np.diff(deg[p]) <= 0).all()
    ties = deg[p][1:] == deg[p][:-1]
    assert (p[1:][ties] > p[:-1][ties]).all()  # stable: ties by id
    h = reorder.order(A, "hubsort")
    hubs = deg > deg.mean()
    nh = int(hubs.sum())
    assert hubs[h[:nh]].all() and not hubs[h[nh:]].any()
    assert (np.diff(h[nh:]) > 0).all()  # the others keep their order


def test_rcm_recovers_small_bandwidth_on_shuffled_grid():
    A = _grid(30)
    B = reorder.permute(A, reorder.order(A, "rcm"))
    assert reorder.bandwidth(A) > 500
    assert reorder.bandwidth(B) <= 2 * 30 + 1
    sp_graph = pytest.importorskip("scipy.sparse.csgraph")
    q = sp_graph.reverse_cuthill_mckee(A.to_scipy(), symmetric_mode=True).astype(np.int64)
    assert reorder.bandwidth(B) <= reorder.bandwidth(reorder.permute(A, q)) + 2


def test_community_order_groups_disconnected_cliques():
    # three cliques with interleaved ids: the community order makes each contiguous
    ids = np.arange(30).reshape(10, 3).T  # clique c = ids[c]
    src, dst = [], []
    for c in range(3):
        for a in ids[c]:
            for b in ids[c]:
                if a != b:
                    src.append(a)
                    dst.append(b)
    A = CSRMatrix.from_edges(src, dst, shape=(30, 30))
    p = reorder.order(A, "community")
    groups = [set(p[i * 10:(i + 1) * 10].tolist()) for i in range(3)]
    assert sorted(map(sorted, groups)) == sorted(sorted(ids[c].tolist()) for c in range(3))


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, None])
def test_permute_equals_scipy_indexing(threads, dtype):
    A = _random_graph(weighted=dtype is not None)
    if dtype is not None:
        A = A.astype(dtype)
    perm = np.random.default_rng(3).permutation(A.n_rows)
    B = reorder.permute(A, perm, n_threads=threads)
    S = A.to_scipy(np.float64)
    ref = S[perm][:, perm].tocsr()
    ref.sort_indices()
    np.testing.assert_array_equal(B.indptr, ref.indptr)
    np.testing.assert_array_equal(B.indices, ref.indices)
    if dtype is None:
        assert B.values is None
    else:
        assert B.values.dtype == dtype
        np.testing.assert_array_equal(B.values.astype(np.float64), ref.data)


@pytest.mark.parametrize("method", reorder.METHODS)
def test_spmm_round_trip(method):
    A = _random_graph()
    X = np.random.default_rng(5).random((A.n_rows, 8))
    p = reorder.order(A, method, symmetrize=True)
    Y = reorder.unpermute_rows(spmm(reorder.permute(A, p), reorder.permute_rows(X, p)), p)
    np.testing.assert_allclose(Y, spmm(A, X), rtol=1e-12, atol=1e-12)


def test_bad_inputs():
    A = _random_graph()
    with pytest.raises(errors.InvalidArgumentError):
        reorder.order(A, "nope")
    with pytest.raises(errors.ShapeMismatchError):
        reorder.order(CSRMatrix.from_edges([0], [1], shape=(2, 3)), "rcm")
    with pytest.raises(errors.InvalidArgumentError, match="permutation"):
        reorder.permute(A, np.zeros(A.n_rows, dtype=np.int64))
    with pytest.raises(errors.IndexOutOfRangeError):
        reorder.permute(A, np.arange(1, A.n_rows + 1))
    with pytest.raises(errors.ShapeMismatchError):
        reorder.permute(A, np.arange(5))
    empty = CSRMatrix(np.zeros(1, np.int64), np.zeros(0, np.int32), shape=(0, 0))
    for m in reorder.METHODS:
        assert reorder.order(empty, m).shape == (0,)


@pytest.mark.skipif(DATA is None, reason="shared/data not found")
def test_real_graph_rcm_reduces_bandwidth():
    A = io.read(os.path.join(DATA, "delaunay_n17", "delaunay_n17.npz"))
    p = reorder.order(A, "rcm")
    assert reorder.bandwidth(reorder.permute(A, p)) < reorder.bandwidth(A)


@pytest.mark.parametrize("fn", [reorder.permute_rows, reorder.unpermute_rows])
def test_permute_rows_rejects_non_permutations(fn):
    X = np.arange(30.0).reshape(10, 3)
    with pytest.raises(errors.InvalidArgumentError, match="permutation"):
        fn(X, np.zeros(10, dtype=np.int64))  # would duplicate row 0 and drop the others
    with pytest.raises(errors.IndexOutOfRangeError):
        fn(X, np.arange(1, 11))
    with pytest.raises(errors.DTypeError):
        fn(X, np.arange(10.0))
    with pytest.raises(errors.ShapeMismatchError):
        fn(X, np.arange(5))
    with pytest.raises(errors.ShapeMismatchError, match="scalar"):
        fn(np.float32(1.0), np.arange(1))
    p = np.random.default_rng(0).permutation(10)
    np.testing.assert_array_equal(reorder.unpermute_rows(reorder.permute_rows(X, p), p), X)


def test_permute_rejects_float_perm_like_permute_rows():
    A = _random_graph(n=10, m=30)
    with pytest.raises(errors.DTypeError):
        reorder.permute(A, np.arange(10.0))


def test_bandwidth_accepts_scipy_and_rejects_other_types():
    sp = pytest.importorskip("scipy.sparse")
    A = _random_graph(n=50, m=200)
    S = A.to_scipy()
    assert reorder.bandwidth(S) == reorder.bandwidth(A)
    assert reorder.bandwidth(S.tocoo()) == reorder.bandwidth(A)
    assert reorder.bandwidth(sp.csr_array((3, 3))) == 0
    with pytest.raises(errors.DTypeError, match="scipy"):
        reorder.bandwidth(np.eye(3))


def test_rcm_of_directed_graphs_is_a_permutation():
    # the sweeps move the root to a far node; on a directed graph the first candidate may
    # not be reachable from there and used to be skipped, leaving uninitialized entries
    from pysparsegraph import generate
    A = CSRMatrix.from_edges(np.array([0, 1]), np.array([1, 2]), shape=(3, 3))
    np.testing.assert_array_equal(np.sort(reorder.order(A, "rcm")), np.arange(3))
    for seed in range(10):
        B = generate.erdos_renyi(200, 2, seed=seed)  # directed
        p = reorder.order(B, "rcm")
        np.testing.assert_array_equal(np.sort(p), np.arange(200))
        reorder.permute(B, p)  # accepted as a permutation


def test_permutation_errors_name_the_length_and_take_an_empty_list():
    A = CSRMatrix.from_edges([0, 1, 2], [1, 2, 3], shape=(4, 4))
    short = np.random.default_rng(0).permutation(3)
    with pytest.raises(errors.ShapeMismatchError, match="perm has 3 entries but there are 4 nodes"):
        reorder.permute(A, short)  # was "entries outside [0, 3)"
    E = CSRMatrix(np.zeros(1, np.int64), np.zeros(0, np.int32), shape=(0, 0))
    assert reorder.permute(E, []).shape == (0, 0)
    assert reorder.permute_rows(np.zeros((0, 2)), []).shape == (0, 2)
    assert reorder.unpermute_rows(np.zeros((0, 2)), []).shape == (0, 2)
