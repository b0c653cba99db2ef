"""CSRMatrix construction, conversion, memory and ownership."""
import gc
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import pysparsegraph as psg
from adversarial import coo_cases
from pysparsegraph import errors


def _reference_csr(n_rows, n_cols, rows, cols, vals=None):
    data = np.ones(rows.size) if vals is None else vals
    S = sp.coo_array((data, (rows, cols)), shape=(n_rows, n_cols)).tocsr()
    S.sum_duplicates()
    S.sort_indices()
    return S


@pytest.mark.parametrize("kind", ["csr_array", "csr_matrix", "coo_array", "coo_matrix", "csc_array", "csc_matrix"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_from_scipy_every_format(kind, dtype, rng):
    S = sp.random(300, 200, density=0.03, format="coo", random_state=1, dtype=dtype)
    M = getattr(sp, kind)(S)
    A = psg.from_scipy(M)
    assert A.shape == (300, 200)
    assert A.dtype == dtype
    np.testing.assert_array_equal(A.to_scipy().toarray(), S.toarray())


def test_from_scipy_csr_shares_index_and_value_memory():
    S = sp.random(100, 100, density=0.1, format="csr", random_state=2, dtype=np.float32)
    A = psg.from_scipy(S)
    assert np.shares_memory(A.indices, S.indices)
    assert np.shares_memory(A.values, S.data)
    # scipy's int32 indptr must be widened: one documented copy, refused under copy=False
    assert A.indptr.dtype == np.int64
    with pytest.raises(errors.CopyRequiredError, match="indptr"):
        psg.from_scipy(S, copy=False)


def test_from_scipy_non_csr_refuses_copy_false():
    S = sp.random(10, 10, density=0.3, format="coo", random_state=3)
    with pytest.raises(errors.CopyRequiredError, match="coo"):
        psg.from_scipy(S, copy=False)


def test_raw_arrays_zero_copy_and_copy_flag(rng):
    indptr = np.array([0, 2, 2, 5], np.int64)
    indices = np.array([0, 3, 1, 2, 3], np.int32)
    values = rng.standard_normal(5)
    A = psg.CSRMatrix(indptr, indices, values, shape=(3, 4), copy=False)
    for mine, theirs in [(A.indptr, indptr), (A.indices, indices), (A.values, values)]:
        assert np.shares_memory(mine, theirs)
        assert not mine.flags.writeable
    assert indptr.flags.writeable  # the caller's arrays keep their own flags
    B = psg.CSRMatrix(indptr, indices, values, shape=(3, 4), copy=True)
    assert not np.shares_memory(B.indices, indices)
    with pytest.raises(errors.CopyRequiredError, match="indices"):
        psg.CSRMatrix(indptr, indices.astype(np.int16), shape=(3, 4), copy=False)
    # int64 indices are accepted and kept
    C = psg.CSRMatrix(indptr, indices.astype(np.int64), shape=(3, 4), copy=False)
    assert C.index_dtype == np.int64


def test_unweighted_memory_is_4_bytes_per_edge_plus_8_per_row(rng):
    src = rng.integers(0, 5000, 100000)
    dst = rng.integers(0, 5000, 100000)
    A = psg.from_edges(src, dst, duplicates="keep")
    assert A.values is None and A.index_dtype == np.int32
    assert A.nbytes == 4 * A.nnz + 8 * (A.n_rows + 1)


@pytest.mark.parametrize("case", range(7))
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_from_edges_matches_scipy(case, weighted, n_threads, rng):
    name, n_rows, n_cols, rows, cols = coo_cases(rng)[case]
    vals = rng.standard_normal(rows.size) if weighted else None
    A = psg.from_edges(rows, cols, vals, shape=(n_rows, n_cols), n_threads=n_threads)
    ref = _reference_csr(n_rows, n_cols, rows, cols, vals)
    np.testing.assert_array_equal(A.indptr, ref.indptr)
    np.testing.assert_array_equal(A.indices, ref.indices)
    if weighted:
        np.testing.assert_allclose(A.values, ref.data, rtol=1e-12, atol=1e-12)
    else:
        assert A.values is None


def test_from_edges_policies(rng):
    src = np.array([0, 0, 1, 1, 2, 0])
    dst = np.array([1, 1, 1, 0, 2, 1])
    val = np.array([1.0, 2.0, 5.0, 3.0, 7.0, 4.0])
    dense = lambda A: A.to_scipy(dtype=np.float64).toarray()  # noqa: E731
    np.testing.assert_array_equal(dense(psg.from_edges(src, dst, val, duplicates="sum")),
                                  [[0, 7, 0], [3, 5, 0], [0, 0, 7]])
    np.testing.assert_array_equal(dense(psg.from_edges(src, dst, val, duplicates="first")),
                                  [[0, 1, 0], [3, 5, 0], [0, 0, 7]])
    kept = psg.from_edges(src, dst, val, duplicates="keep")
    assert kept.nnz == 6 and list(kept.values[:3]) == [1.0, 2.0, 4.0]  # input order kept
    np.testing.assert_array_equal(dense(psg.from_edges(src, dst, val, self_loops="drop")),
                                  [[0, 7, 0], [3, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(dense(psg.from_edges(src, dst, val, self_loops="add", loop_value=9.0)),
                                  [[9, 7, 0], [3, 5, 0], [0, 0, 7]])
    sym = psg.from_edges(src, dst, val, symmetrize=True, duplicates="sum")
    d = dense(sym)
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(d, [[0, 10, 0], [10, 5, 0], [0, 0, 7]])  # loops are not mirrored onto themselves


def test_from_edges_is_thread_count_independent(rng):
    src = rng.integers(0, 4000, 200000)
    dst = rng.integers(0, 4000, 200000)
    val = rng.standard_normal(200000).astype(np.float32)
    a = psg.from_edges(src, dst, val, symmetrize=True, self_loops="add", n_threads=1)
    b = psg.from_edges(src, dst, val, symmetrize=True, self_loops="add", n_threads=2)
    for x, y in [(a.indptr, b.indptr), (a.indices, b.indices), (a.values, b.values)]:
        assert x.tobytes() == y.tobytes()


def test_from_edges_index_dtype_and_overflow():
    A = psg.from_edges([0, 1], [1, 0], index_dtype=np.int64)
    assert A.index_dtype == np.int64
    with pytest.raises(errors.IndexOverflowError, match="int32"):
        psg.from_edges([0], [0], shape=(1, 2**31 + 5), index_dtype=np.int32)
    # a column count past int32 picks int64 indices on its own
    assert psg.from_edges([0], [2**31 + 1], shape=(1, 2**31 + 5)).index_dtype == np.int64


def test_to_edges_round_trip(rng):
    src = rng.integers(0, 100, 1000)
    dst = rng.integers(0, 80, 1000)
    A = psg.from_edges(src, dst, rng.random(1000), shape=(100, 80))
    s, d, v = A.to_edges()
    B = psg.from_edges(s, d, v, shape=A.shape)
    np.testing.assert_array_equal(A.indptr, B.indptr)
    np.testing.assert_array_equal(A.indices, B.indices)
    np.testing.assert_array_equal(A.values, B.values)
    assert np.shares_memory(d, A.indices)


def test_c_owned_views_outlive_the_matrix(rng):
    A = psg.from_edges(rng.integers(0, 500, 5000), rng.integers(0, 500, 5000), rng.random(5000))
    indices, values = A.indices, A.values
    expected = (indices.copy(), values.copy())
    assert not indices.flags.writeable and not indices.flags.owndata
    del A
    gc.collect()
    # allocate and touch fresh memory so a freed buffer would likely be reused
    junk = [np.full(5000, -7, np.int32) for _ in range(50)]
    np.testing.assert_array_equal(indices, expected[0])
    np.testing.assert_array_equal(values, expected[1])
    del junk
    with pytest.raises(ValueError):
        indices[0] = 1


def test_astype_and_values_as_share_structure(rng):
    A = psg.from_edges(rng.integers(0, 50, 300), rng.integers(0, 50, 300), rng.random(300))
    B = A.astype(np.float32)
    assert B.dtype == np.float32 and np.shares_memory(A.indices, B.indices)
    v = A.values_as(np.float32)
    assert v is A.values_as(np.float32)  # converted once, cached
    U = psg.from_edges([0, 1], [1, 1])
    assert U.values_as(np.float32) is None
    np.testing.assert_array_equal(U.astype(np.float64).values, [1.0, 1.0])


def test_repr_mentions_shape_and_storage():
    A = psg.from_edges([0, 1], [1, 2])
    assert "3x3" in repr(A) and "unweighted" in repr(A) and "int32" in repr(A)


def test_pickle_round_trip_keeps_arrays_read_only(rng):
    import pickle

    A = psg.from_edges(rng.integers(0, 30, 100), rng.integers(0, 30, 100), rng.random(100))
    B = pickle.loads(pickle.dumps(A))
    assert B.shape == A.shape and type(B) is psg.CSRMatrix
    for a, b in [(A.indptr, B.indptr), (A.indices, B.indices), (A.values, B.values)]:
        assert a.tobytes() == b.tobytes() and not b.flags.writeable


def test_to_scipy_shares_read_only_arrays_and_copies_on_request():
    # unsorted and duplicate column ids: scipy's abs() sorts them in place first
    A = psg.CSRMatrix([0, 3, 4, 6], np.array([2, 0, 2, 1, 1, 0], np.int32), [1.0, -2, 3, 4, -5, 6], shape=(3, 3))
    S = A.to_scipy()
    assert np.shares_memory(S.data, A.values) and not S.data.flags.writeable
    assert np.shares_memory(S.indices, A.indices) and S.indices.dtype == np.int32  # not widened to int64
    assert psg.from_scipy(S).indices.dtype == np.int32
    with pytest.raises(ValueError):  # scipy's own error: the shared arrays are read-only
        S.sum_duplicates()
    C = A.to_scipy(copy=True)
    assert not np.shares_memory(C.data, A.values) and not np.shares_memory(C.indices, A.indices)
    assert C.indices.dtype == np.int32 and C.indptr.dtype == np.int32  # the copy is not widened to int64 either
    assert not np.shares_memory(C.indptr, A.indptr)
    W = psg.CSRMatrix(A.indptr, A.indices.astype(np.int64), A.values, shape=A.shape).to_scipy(copy=True)
    assert W.indices.dtype == np.int64 and not np.shares_memory(W.indptr, A.indptr)
    dense = np.array([[-2.0, 0, 4], [0, 4, 0], [6, -5, 0]])
    np.testing.assert_array_equal(abs(C).toarray(), np.abs(dense))
    C.data *= 2
    C.eliminate_zeros()
    np.testing.assert_array_equal(A.to_scipy().toarray(), dense)  # the matrix is untouched
    np.testing.assert_array_equal(A.to_scipy(np.float32, copy=True).toarray(), dense.astype(np.float32))
    D = A.to_scipy(np.float64)  # asking for a dtype, even the values' own, gives writeable values
    D.data *= 2
    np.testing.assert_array_equal(A.to_scipy().toarray(), dense)
    U = psg.CSRMatrix([0, 1], np.array([0], np.int32), shape=(1, 1))  # unweighted: ones
    assert U.to_scipy(copy=True).indices.flags.writeable
    for bad in ("foo", [1]):
        with pytest.raises(errors.DTypeError, match="dtype"):
            A.to_scipy(dtype=bad)
        with pytest.raises(errors.DTypeError, match="dtype"):
            A.astype(bad)


def _sym_edges(rng, n=12, m=80):
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    src[:4], dst[:4] = [3, 3, 5, 7], [3, 3, 5, 2]  # repeated loops; (7, 2) given first one way round ...
    src[-1], dst[-1] = 2, 7  # ... and last the other
    return src, dst, rng.integers(1, 100, m).astype(np.float64)  # integers: exact in text and in any sum order


@pytest.mark.parametrize("duplicates", ["sum", "first", "keep"])
def test_from_edges_symmetrize_agrees_with_read_edgelist(tmp_path, rng, duplicates):
    from pysparsegraph import io

    src, dst, val = _sym_edges(rng)
    path = tmp_path / "e.txt"
    path.write_text("".join(f"{a} {b} {v:.0f}\n" for a, b, v in zip(src, dst, val)))
    A = psg.from_edges(src, dst, val, shape=(12, 12), symmetrize=True, duplicates=duplicates)
    B = io.read_edgelist(path, symmetrize=True, n_nodes=12, duplicates=duplicates)
    assert A.nnz == B.nnz
    a, b = A.to_scipy(np.float64, copy=True), B.to_scipy(np.float64, copy=True)
    np.testing.assert_array_equal(a.toarray(), b.toarray())
    np.testing.assert_array_equal(a.toarray(), a.toarray().T)


def test_from_edges_symmetrize_sum_against_scipy(rng):
    src, dst, val = _sym_edges(rng)
    C = sp.coo_array((val, (src, dst)), shape=(12, 12)).toarray()
    ref = C + C.T - np.diag(np.diag(C))  # a loop is one undirected edge: not doubled
    A = psg.from_edges(src, dst, val, shape=(12, 12), symmetrize=True, duplicates="sum")
    np.testing.assert_array_equal(A.to_scipy(np.float64).toarray(), ref)


def test_from_edges_symmetrize_first_takes_the_pairs_first_occurrence(rng):
    src, dst, val = _sym_edges(rng)
    ref = np.zeros((12, 12))
    seen = set()
    for a, b, v in zip(src.tolist(), dst.tolist(), val.tolist()):
        if (min(a, b), max(a, b)) not in seen:
            seen.add((min(a, b), max(a, b)))
            ref[a, b] = ref[b, a] = v
    A = psg.from_edges(src, dst, val, shape=(12, 12), symmetrize=True, duplicates="first")
    np.testing.assert_array_equal(A.to_scipy(np.float64).toarray(), ref)
    assert A.nnz == np.count_nonzero(ref)
    # the caller's edge numbers in range errors, not positions in the mirrored list
    with pytest.raises(errors.IndexOutOfRangeError, match=r"edge 2 = \(1, 12\)"):
        psg.from_edges([0, 1, 1], [1, 0, 12], shape=(12, 12), symmetrize=True)


def test_from_networkx_gives_int32_indices_like_from_scipy():
    nx = pytest.importorskip("networkx")
    from pysparsegraph import io, reorder

    G = nx.path_graph(5)
    A = io.from_networkx(G)
    ref = psg.from_scipy(sp.csr_array(nx.to_numpy_array(G)))
    assert A.index_dtype == ref.index_dtype == np.int32
    assert io.from_networkx(G, weight=None).index_dtype == np.int32
    np.testing.assert_array_equal(A.to_scipy().toarray(), ref.to_scipy().toarray())
    perm = reorder.order(A, "rcm")  # reorder takes int32 only
    assert np.array_equal(np.sort(perm), np.arange(5))


def test_reorder_int64_message_says_how_to_convert():
    from pysparsegraph import reorder

    A = psg.from_edges([0, 1], [1, 2], index_dtype=np.int64)
    with pytest.raises(errors.UnsupportedError, match=r"int64 column indices \(3 nodes\).*astype\(np.int32\)"):
        reorder.order(A, "degree")


def test_networkx_empty_unweighted_and_non_square():
    nx = pytest.importorskip("networkx")
    from pysparsegraph import io

    for G in (nx.Graph(), nx.DiGraph()):
        for weight in ("weight", None):
            E = io.from_networkx(G, weight=weight)
            assert E.shape == (0, 0) and E.nnz == 0
    U = psg.from_edges([0, 1, 2], [1, 2, 0], shape=(4, 4))  # unweighted, node 3 isolated
    for directed in (True, False):
        G = io.to_networkx(U, directed=directed)
        ref = nx.from_scipy_sparse_array(U.to_scipy(), create_using=nx.DiGraph if directed else nx.Graph)
        assert sorted(G.nodes) == sorted(ref.nodes) and set(G.edges) == set(ref.edges)
        assert all(not d for _, _, d in G.edges(data=True))  # no 'weight' on an unweighted graph
    W = psg.from_edges([0, 1], [1, 2], [2.5, 4.0])
    assert nx.get_edge_attributes(io.to_networkx(W), "weight") == {(0, 1): 2.5, (1, 2): 4.0}
    with pytest.raises(errors.ShapeMismatchError, match=r"square.*\(2, 3\)"):
        io.to_networkx(psg.from_edges([0], [1], shape=(2, 3)))


def test_matrices_the_library_builds_hand_out_read_only_arrays(tmp_path):
    (tmp_path / "e.txt").write_text("0 1 0.5\n1 2 2.0\n")
    built = [psg.generate.grid2d(3, 4), psg.io.read_edgelist(tmp_path / "e.txt", weighted=True, dtype=np.float32)]
    for g in built:
        for a in (g.indptr, g.indices, g.values):
            assert a is None or not a.flags.writeable


def test_clear_cache_drops_plans_and_transposes_and_products_still_agree():
    rng = np.random.default_rng(0)
    S = sp.random_array((300, 300), density=0.05, format="csr", dtype=np.float32, rng=rng)
    A = psg.from_scipy(S)
    x = rng.standard_normal((300, 16)).astype(np.float32)
    p = psg.plan_spmm(A, 16, layout="blocked")
    psg.spmm(A, x, plan=p)
    psg.gnn.spmm_transpose(A, x)
    assert any(isinstance(k, tuple) and k[0] == "spmm_plan" for k in A._cache)
    A.clear_cache()
    assert A._cache == {}
    np.testing.assert_allclose(psg.spmm(A, x, plan=p), S @ x, rtol=1e-5, atol=1e-5)  # a held plan still works
    np.testing.assert_allclose(psg.gnn.spmm_transpose(A, x), S.T @ x, rtol=1e-5, atol=1e-5)


def test_a_transpose_rebuilt_with_edge_ids_drops_what_shared_the_old_one():
    rng = np.random.default_rng(1)
    A = psg.from_scipy(sp.random_array((200, 200), density=0.05, format="csr", rng=rng), drop_values=True)
    x = rng.standard_normal((200, 8))
    psg.gnn.spmm_transpose(A, x)  # the transpose without edge ids
    psg.spmm(A, x, reduce="max", transpose=True)  # needs them: built again
    tp = A._cache[("gnn", "transpose")][0]
    for k, v in A._cache.items():
        if isinstance(k, tuple) and k[:2] in (("gnn", "t_csr"), ("gnn", "t_struct")):
            assert np.shares_memory(v.indptr, tp), k  # no entry keeps the first transpose alive


def test_from_edges_counts_with_fewer_histograms_on_a_sparse_graph():
    # one (n+1)-entry histogram per thread: 64 threads on 2^20 nodes and 2^20 edges took 512 MiB
    script = ("import numpy as np, pysparsegraph as psg\n"
              "def hwm():\n"
              "    return int([ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0].split()[1])\n"
              "n = 1 << 20\nrng = np.random.default_rng(0)\ns, d = rng.integers(0, n, n), rng.integers(0, n, n)\n"
              "before = hwm()\nA = psg.from_edges(s, d, shape=(n, n), n_threads=64)\n"
              "B = psg.from_edges(s, d, shape=(n, n), n_threads=1)\n"
              "assert (A.indptr == B.indptr).all() and (A.indices == B.indices).all()\n"
              "print((hwm() - before) // 1024)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(psg.__file__))))
    assert int(out.stdout) < 200, f"from_edges peak grew by {out.stdout.strip()} MiB"


def test_loop_value_of_an_unweighted_graph_is_kept():
    # loop_value was dropped for unweighted input: the added loops weighed 1 whatever was asked
    import pysparsegraph as psg
    A = psg.from_edges([0, 1, 1, 2], [1, 2, 2, 2], self_loops="add", loop_value=2.5)
    assert A.values is not None and A.values.dtype == np.float64
    # the repeated (1, 2) stays one edge of weight 1, as unweighted; node 2's own loop is kept at 1
    np.testing.assert_array_equal(A.to_scipy().toarray(), [[2.5, 1, 0], [0, 2.5, 1], [0, 0, 1]])
    B = psg.from_edges([0, 1], [1, 2], self_loops="add")  # loop_value 1: still unweighted
    assert B.values is None


def test_self_loops_add_in_the_text_reader_and_generators(tmp_path):
    import pysparsegraph as psg
    from pysparsegraph import errors, generate, io
    p = tmp_path / "e.txt"
    for text, weighted in (("0 1\n1 2\n2 2\n", False), ("0 1 0.5\n1 2 2.0\n2 2 3.0\n", True)):
        p.write_text(text)
        got = io.read_edgelist(p, self_loops="add")
        src, dst, w = io.read_edgelist(p).to_edges()
        ref = psg.from_edges(src, dst, w, shape=(3, 3), self_loops="add")
        np.testing.assert_array_equal(got.to_scipy().toarray(), ref.to_scipy().toarray())
        assert (got.values is not None) == weighted
    assert (generate.erdos_renyi(50, 3, self_loops="add").to_scipy().diagonal() == 1).all()
    assert (generate.rmat(6, 4, self_loops="add").to_scipy().diagonal() == 1).all()
    with pytest.raises(errors.InvalidArgumentError, match="n_nodes"):
        io.read_edgelist(p, n_nodes=-1)


def test_to_scipy_dtype_is_one_scipy_sparse_can_hold():
    # float16, strings, objects and datetimes gave scipy's bare ValueError later, or (unweighted) a csr_array
    # of the strings "1" that scipy cannot use
    S = sp.csr_array((np.array([1.5, -2.0, 3.0]), np.array([1, 1, 0]), np.array([0, 2, 3])), shape=(2, 2))
    for A in (psg.from_scipy(S), psg.from_scipy(S, drop_values=True)):
        for bad in (np.float16, "U3", object, "M8[s]", [("a", "f8")]):
            with pytest.raises(errors.DTypeError, match="dtype"):
                A.to_scipy(dtype=bad)
            with pytest.raises(errors.DTypeError, match="dtype"):
                A.to_scipy(dtype=bad, copy=True)
        ref = S if A.is_weighted else sp.csr_array((np.ones(3), S.indices, S.indptr), shape=S.shape)
        for good in (np.int8, np.uint16, bool, np.float32, np.complex64, np.longdouble):
            got = A.to_scipy(dtype=good, copy=True)
            assert got.dtype == good
            np.testing.assert_array_equal(got.toarray(), ref.astype(good).toarray())
    for bad in ("not a dtype", "U3", {}):  # numpy's bare TypeError; strings or empty records of the values
        with pytest.raises(errors.DTypeError, match="dtype"):
            psg.from_scipy(S).values_as(bad)
    np.testing.assert_array_equal(psg.from_scipy(S).values_as(np.float32), S.data.astype(np.float32))


def test_from_scipy_refuses_sparse_arrays_that_are_not_2d():
    # scipy's n-D coo_array: tocsr() raised scipy's bare ValueError, also through spmm
    T = sp.coo_array(np.ones((2, 3, 4)))
    with pytest.raises(errors.ShapeMismatchError, match=r"2-D.*\(2, 3, 4\)"):
        psg.from_scipy(T)
    with pytest.raises(errors.ShapeMismatchError, match="2-D"):
        psg.spmm(T, np.ones((4, 2)))
    for one_d in (sp.coo_array(np.array([0.0, 1.0, 2.0])), sp.csr_array(np.array([0.0, 1.0, 2.0]))):
        with pytest.raises(errors.ShapeMismatchError, match=r"2-D.*\(3,\)"):
            psg.from_scipy(one_d)
    M = sp.coo_array(np.array([[0.0, 1.0, 2.0]]))  # the same values as a 1 x 3 matrix are fine
    np.testing.assert_array_equal(psg.spmm(M, np.ones(3)), M.toarray() @ np.ones(3))
