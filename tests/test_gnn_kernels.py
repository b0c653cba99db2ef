"""GNN kernels (gspmm reducers / norm / self loops / edge values / transpose,
sddmm, edge_softmax) against independent NumPy references that work edge by
edge from the COO lists (so duplicate entries stay separate messages)."""
import functools
import os

import numpy as np
import pytest

import pysparsegraph as psg
from pysparsegraph import datasets, errors
from pysparsegraph.gnn import gspmm, sddmm, sddmm_backward, edge_softmax, spmm_transpose

REDUCERS = ["sum", "mean", "max", "min"]
VDT = [np.float32, np.float64]
IDT = [np.int32, np.int64]


# ------------------------------------------------------------------ graphs
def _csr(indptr, indices, values, shape, idt):
    return psg.CSRMatrix(np.asarray(indptr, np.int64), np.asarray(indices, idt),
                         None if values is None else np.asarray(values), shape=shape)


def _random_graph(rng, n_rows, n_cols, nnz, idt, weighted, empty_frac=0.2):
    rows = rng.integers(0, n_rows, nnz)
    keep = rng.random(n_rows) >= empty_frac          # some rows stay empty
    rows = rows[keep[rows]]
    cols = rng.integers(0, n_cols, rows.size)
    order = np.argsort(rows, kind="stable")          # columns unsorted within rows
    rows, cols = rows[order], cols[order]
    indptr = np.zeros(n_rows + 1, np.int64)
    np.add.at(indptr, rows + 1, 1)
    indptr = np.cumsum(indptr)
    vals = rng.uniform(0.5, 2.0, rows.size) if weighted else None
    return _csr(indptr, cols, vals, (n_rows, n_cols), idt)


@functools.lru_cache(maxsize=None)
def graphs(idt, weighted):
    """Adversarial graphs (built once per dtype/weighting; tests only read them)."""
    rng = np.random.default_rng(7)
    out = {}
    out["random"] = _random_graph(rng, 1500, 1500, 24000, idt, weighted)
    # one hub row holding most edges, plus a few small rows and empty rows
    hub_cols = rng.integers(0, 300, 20000)
    small = [rng.integers(0, 300, 3) for _ in range(299)]
    lens = [20000] + [3 if i % 3 else 0 for i in range(299)]
    cols = np.concatenate([hub_cols] + [s[:n] for s, n in zip(small, lens[1:])])
    indptr = np.concatenate([[0], np.cumsum(lens)])
    vals = rng.uniform(0.5, 2.0, cols.size) if weighted else None
    out["hub"] = _csr(indptr, cols, vals, (300, 300), idt)
    # self loops and duplicates
    indptr = [0, 4, 6, 6, 9]
    cols = [0, 2, 2, 0, 1, 1, 3, 3, 0]
    vals = [1.0, 2.0, 0.5, 3.0, 1.5, 1.0, 2.0, 0.25, 1.0] if weighted else None
    out["loops_dups"] = _csr(indptr, cols, vals, (4, 4), idt)
    out["empty"] = _csr([0], [], [] if weighted else None, (0, 0), idt)
    out["no_edges"] = _csr([0, 0, 0, 0], [], [] if weighted else None, (3, 3), idt)
    return out


def _coo(A, self_loops=False):
    rows = np.repeat(np.arange(A.n_rows), np.diff(A.indptr))
    cols = A.indices.astype(np.int64)
    vals = np.ones(A.nnz) if A.values is None else A.values.astype(np.float64)
    eids = np.arange(A.nnz)
    if self_loops:
        n = A.n_rows
        rows = np.concatenate([rows, np.arange(n)])
        cols = np.concatenate([cols, np.arange(n)])
        vals = np.concatenate([vals, np.ones(n)])
        eids = np.concatenate([eids, A.nnz + np.arange(n)])
    return rows, cols, vals, eids


def ref_scales(A, norm, loops):
    rows, cols, vals, _ = _coo(A, loops)
    d_out = np.bincount(rows, weights=vals, minlength=A.n_rows)
    d_in = np.bincount(cols, weights=vals, minlength=A.n_cols)

    def inv(d, p):
        safe = np.where(d != 0, d, 1.0)
        return np.where(d != 0, 1.0 / safe ** p, 0.0)

    ls, rs = np.ones(A.n_rows), np.ones(A.n_cols)
    if norm == "sym":
        ls, rs = inv(d_out, 0.5), inv(d_in, 0.5)
    elif norm == "row":
        ls = inv(d_out, 1)
    elif norm == "col":
        rs = inv(d_in, 1)
    return ls, rs


def ref_gspmm(A, X, reduce="sum", norm=None, loops=False, ev=None, transpose=False):
    """Edge-by-edge float64 reference; returns (Y, messages, target rows, eids)."""
    rows, cols, vals, eids = _coo(A, loops)
    ls, rs = ref_scales(A, norm, loops)
    X = X.astype(np.float64)
    K = X.shape[1]
    if ev is not None:
        ev = np.asarray(ev, np.float64)
        ev = ev.reshape(A.nnz, ev.shape[1] if ev.ndim == 2 else 1)
        if 1 < ev.shape[1] < K:  # one weight per head of K/H features
            ev = np.repeat(ev, K // ev.shape[1], axis=1)
        if loops:
            ev = np.concatenate([ev, np.ones((A.n_rows, ev.shape[1]))])
        w = ev
    else:
        w = vals[:, None]
    w = w * (ls[rows] * rs[cols])[:, None]
    if transpose:
        dst, src, n_out = cols, rows, A.n_cols
    else:
        dst, src, n_out = rows, cols, A.n_rows
    msg = w * X[src]
    Y = np.zeros((n_out, K))
    cnt = np.bincount(dst, minlength=n_out)
    if reduce in ("sum", "mean"):
        np.add.at(Y, dst, msg)
        if reduce == "mean":
            Y /= np.maximum(cnt, 1)[:, None]
    else:
        Y[:] = -np.inf if reduce == "max" else np.inf
        (np.maximum if reduce == "max" else np.minimum).at(Y, dst, msg)
        Y[cnt == 0] = 0
    return Y, msg, dst, eids


def tol(dt):
    return dict(rtol=2e-4, atol=2e-4) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)


def run_both_threads(fn):
    """Runs fn(n_threads) for 1 and 2 threads and checks bit-identical results."""
    r1, r2 = fn(1), fn(2)
    t1 = r1 if isinstance(r1, tuple) else (r1,)
    t2 = r2 if isinstance(r2, tuple) else (r2,)
    for a, b in zip(t1, t2):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes(), "result differs between 1 and 2 threads"
    return r1


# ------------------------------------------------------------------- gspmm
@pytest.mark.parametrize("idt", IDT)
@pytest.mark.parametrize("vdt", VDT)
@pytest.mark.parametrize("reduce", REDUCERS)
@pytest.mark.parametrize("weighted", [False, True])
def test_reducers_match_reference(reduce, vdt, idt, weighted):
    rng = np.random.default_rng(1)
    for name, A in graphs(idt, weighted).items():
        for K in (1, 8):
            X = rng.standard_normal((A.n_cols, K)).astype(vdt)
            ref, msg, dst, eids = ref_gspmm(A, X, reduce)
            if reduce in ("max", "min"):
                Y, arg = run_both_threads(lambda t: psg.spmm(A, X, reduce=reduce, return_argidx=True, n_threads=t))
                # every argidx names an edge of that row whose message is the result
                cnt = np.diff(A.indptr)
                assert np.all(arg[cnt == 0] == -1)
                nz = cnt > 0
                if nz.any():
                    a = arg[nz]
                    assert np.all((a >= A.indptr[:-1][nz, None]) & (a < A.indptr[1:][nz, None]))
                    m = msg[a, np.arange(K)[None, :]]
                    np.testing.assert_allclose(m, ref[nz], **tol(vdt))
            else:
                Y = run_both_threads(lambda t: psg.spmm(A, X, reduce=reduce, n_threads=t))
            assert Y.dtype == vdt and Y.shape == (A.n_rows, K), name
            np.testing.assert_allclose(Y, ref, **tol(vdt), err_msg=f"{name} K={K}")


@pytest.mark.parametrize("norm", ["sym", "row", "col"])
@pytest.mark.parametrize("loops", [False, True])
@pytest.mark.parametrize("reduce", REDUCERS)
@pytest.mark.parametrize("vdt", VDT)
def test_norm_and_self_loops(norm, loops, reduce, vdt):
    rng = np.random.default_rng(2)
    for weighted in (False, True):
        for name, A in graphs(np.int32, weighted).items():
            X = rng.standard_normal((A.n_cols, 5)).astype(vdt)
            ref = ref_gspmm(A, X, reduce, norm, loops)[0]
            Y = run_both_threads(lambda t: psg.spmm(A, X, reduce=reduce, norm=norm, add_self_loops=loops,
                                                    n_threads=t))
            np.testing.assert_allclose(Y, ref, **tol(vdt), err_msg=f"{name} weighted={weighted}")


def test_degrees_cached_once():
    A = graphs(np.int32, True)["random"]
    d1 = psg.gnn.degrees(A)
    d2 = psg.gnn.degrees(A)
    assert d1[0] is d2[0] and d1[1] is d2[1]
    rows, cols, vals, _ = _coo(A)
    np.testing.assert_allclose(d1[0], np.bincount(rows, vals, A.n_rows))
    np.testing.assert_allclose(d1[1], np.bincount(cols, vals, A.n_cols))


@pytest.mark.parametrize("width", ["edge", "edge_head", "edge_feature"])
@pytest.mark.parametrize("reduce", REDUCERS)
@pytest.mark.parametrize("idt", IDT)
def test_edge_values(width, reduce, idt):
    rng = np.random.default_rng(3)
    for name, A in graphs(idt, True).items():
        K = 6
        X = rng.standard_normal((A.n_cols, K))
        ev = {"edge": rng.standard_normal(A.nnz), "edge_head": rng.standard_normal((A.nnz, 3)),
              "edge_feature": rng.standard_normal((A.nnz, K))}[width]
        ref = ref_gspmm(A, X, reduce, "row", True, ev=ev)[0]
        Y = run_both_threads(lambda t: psg.spmm(A, X, reduce=reduce, norm="row", add_self_loops=True,
                                                edge_values=ev, n_threads=t))
        np.testing.assert_allclose(Y, ref, **tol(np.float64), err_msg=name)


@pytest.mark.parametrize("reduce", REDUCERS)
@pytest.mark.parametrize("norm", [None, "sym", "row"])
@pytest.mark.parametrize("vdt", VDT)
@pytest.mark.parametrize("idt", IDT)
def test_transpose(reduce, norm, vdt, idt):
    rng = np.random.default_rng(4)
    for weighted in (False, True):
        for name, A in graphs(idt, weighted).items():
            X = rng.standard_normal((A.n_rows, 4)).astype(vdt)
            loops = norm == "sym"
            ref = ref_gspmm(A, X, reduce, norm, loops, transpose=True)[0]
            Y = run_both_threads(lambda t: spmm_transpose(A, X, reduce=reduce, norm=norm, add_self_loops=loops,
                                                          n_threads=t))
            np.testing.assert_allclose(Y, ref, **tol(vdt), err_msg=f"{name} w={weighted}")
            if reduce == "sum" and norm is None:
                np.testing.assert_allclose(Y, A.to_scipy(np.float64).T @ X.astype(np.float64), **tol(vdt))
    assert psg.gnn.transpose_nbytes(A) > 0


def test_transpose_structure_memory_reported():
    G = graphs(np.int32, True)["random"]
    A = psg.CSRMatrix(G.indptr, G.indices, G.values, shape=G.shape)   # fresh: no cached transpose yet
    assert psg.gnn.transpose_nbytes(A) == 0
    spmm_transpose(A, np.ones((A.n_rows, 2)))
    # indptr (n_cols+1) int64 + row ids int32 + edge ids int64 + permuted float64 values
    assert psg.gnn.transpose_nbytes(A) == 8 * (A.n_cols + 1) + 4 * A.nnz + 8 * A.nnz + 8 * A.nnz
    # unweighted: no edge ids until max/min needs them
    U = psg.CSRMatrix(G.indptr, G.indices, shape=G.shape)
    X = np.random.default_rng(0).standard_normal((U.n_rows, 3))
    spmm_transpose(U, X, norm="sym")
    assert psg.gnn.transpose_nbytes(U) == 8 * (U.n_cols + 1) + 4 * U.nnz
    Y, arg = spmm_transpose(U, X, reduce="max", return_argidx=True)
    assert psg.gnn.transpose_nbytes(U) == 8 * (U.n_cols + 1) + 12 * U.nnz
    np.testing.assert_allclose(Y, ref_gspmm(U, X, "max", transpose=True)[0])
    # argidx holds edge ids of A: the winning entry of column c is in column c
    has = np.diff(psg.gnn._transpose(U)[0]) > 0
    assert np.all(U.indices[arg[has]] == np.nonzero(has)[0][:, None])


def test_argidx_with_self_loops_and_vector():
    A = graphs(np.int32, False)["loops_dups"]
    x = np.array([5.0, -1.0, 0.5, 2.0])
    y, arg = psg.spmm(A, x, reduce="max", add_self_loops=True, return_argidx=True)
    ref = ref_gspmm(A, x[:, None], "max", None, True)[0][:, 0]
    np.testing.assert_array_equal(y, ref)
    # row 2 has no stored entry: its only message is the self loop (edge id nnz + 2)
    assert arg[2] == A.nnz + 2 and y[2] == 0.5


@pytest.mark.parametrize("transpose", [False, True])
def test_argidx_out_is_filled_and_returned(transpose):
    """A reused argidx_out holds the same edge ids as a fresh array (every
    element overwritten: it starts as garbage), and is the array returned."""
    A = graphs(np.int32, True)["random"]
    X = np.random.default_rng(3).standard_normal((A.n_cols, 7)).astype(np.float32)
    for reduce in ("max", "min"):
        y0, a0 = gspmm(A, X, reduce=reduce, add_self_loops=True, return_argidx=True, transpose=transpose)
        buf = np.full(a0.shape, 123456789, np.int64)
        y1, a1 = psg.spmm(A, X, reduce=reduce, add_self_loops=True, return_argidx=True, argidx_out=buf,
                          transpose=transpose)
        assert a1 is buf
        np.testing.assert_array_equal(buf, a0)
        np.testing.assert_array_equal(y1, y0)
    # a vector X takes a 1-D argidx_out
    x = X[:, 0].copy()
    b1 = np.empty(A.n_cols if transpose else A.n_rows, np.int64)
    _, a1 = gspmm(A, x, reduce="max", return_argidx=True, argidx_out=b1, transpose=transpose)
    assert a1 is b1
    np.testing.assert_array_equal(b1, gspmm(A, x, reduce="max", return_argidx=True, transpose=transpose)[1])


def test_argidx_out_bad_arrays_are_refused():
    A = graphs(np.int32, False)["loops_dups"]
    X = np.ones((4, 3))
    Y = np.empty((4, 3))
    cases = [
        (dict(argidx_out=np.empty((4, 3), np.int64)), errors.InvalidArgumentError, "return_argidx"),
        (dict(return_argidx=True, argidx_out=np.empty((4, 3), np.int32)), errors.DTypeError, "int64"),
        (dict(return_argidx=True, argidx_out=np.empty((4, 2), np.int64)), errors.ShapeMismatchError, r"\(4, 2\)"),
        (dict(return_argidx=True, argidx_out=np.empty((3, 4), np.int64).T), errors.InvalidArgumentError,
         "C-contiguous"),
        (dict(return_argidx=True, argidx_out=[[0] * 3] * 4), errors.DTypeError, "numpy.ndarray"),
        (dict(return_argidx=True, argidx_out=Y.view(np.int64), out=Y), errors.InvalidArgumentError, "overlap"),
    ]
    for kw, err, msg in cases:
        with pytest.raises(err, match=msg):
            psg.spmm(A, X, reduce="max", **kw)
    ind = A.indices.astype(np.int64)
    B = psg.CSRMatrix(A.indptr, ind, shape=A.shape)  # zero-copy: B reads the caller's ind
    assert np.shares_memory(B.indices, ind)
    with pytest.raises(errors.InvalidArgumentError, match="overlap"):
        psg.spmm(B, np.ones((4, 1)), reduce="max", return_argidx=True, argidx_out=ind[:4].reshape(4, 1))
    with pytest.raises(errors.InvalidArgumentError, match="reduce='max' or 'min'"):
        psg.spmm(A, X, reduce="sum", return_argidx=True, argidx_out=np.empty((4, 3), np.int64))


def test_out_overlapping_the_matrix_is_refused_on_every_path():
    """out= may not alias A's arrays on the fused paths either (the kernel
    would write into the column ids it is reading: out-of-bounds reads)."""
    buf = np.array([0, 1, 1, 2, 2, 0, 0, 0], np.int64)
    A = psg.CSRMatrix(np.array([0, 2, 4, 6]), buf[:6], np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), shape=(3, 3))
    x = np.arange(3.0)
    for kw in (dict(), dict(reduce="max"), dict(reduce="mean"), dict(norm="sym"), dict(add_self_loops=True),
               dict(edge_values=np.ones(6)), dict(transpose=True), dict(reduce="min", transpose=True)):
        for out in (buf[:3].view(np.float64), buf[5:8].view(np.float64)):
            with pytest.raises(errors.InvalidArgumentError, match="overlap"):
                psg.spmm(A, x, out, **kw)
        np.testing.assert_array_equal(buf[:6], [0, 1, 1, 2, 2, 0])  # nothing was written
    vals = np.zeros(6)
    W = psg.CSRMatrix(A.indptr, A.indices, vals, shape=A.shape)
    with pytest.raises(errors.InvalidArgumentError, match="overlap"):
        psg.spmm(W, x, vals[:3], reduce="max")
    # argidx_out may not alias A's values either (the edge ids overwrote the weights being read)
    store = np.arange(1.0, 13.0)
    V = psg.CSRMatrix(A.indptr, A.indices, store[:6], shape=A.shape)
    for tr in (False, True):
        with pytest.raises(errors.InvalidArgumentError, match="argidx_out must not overlap"):
            psg.spmm(V, x, reduce="max", return_argidx=True, argidx_out=store[3:6].view(np.int64), transpose=tr)
    np.testing.assert_array_equal(store[:6], np.arange(1.0, 7.0))
    # sddmm: out may not alias X or Y
    X = np.zeros((3 * 6, 1))
    with pytest.raises(errors.InvalidArgumentError, match="overlap"):
        sddmm(A, X[:3], X[3:6], out=X[3:9, 0], op="dot")
    with pytest.raises(errors.InvalidArgumentError, match="overlap"):
        sddmm(A, X[:3], X[3:6], out=X[:6, 0], op="dot")
    np.testing.assert_array_equal(sddmm(A, X[:3], X[3:6], out=X[6:12, 0], op="dot"), np.zeros(6))


def test_nan_inf_flow_through():
    A = graphs(np.int32, False)["loops_dups"]
    X = np.array([[np.nan], [1.0], [np.inf], [2.0]])
    for reduce in ("sum", "mean"):
        y = psg.spmm(A, X, reduce=reduce, norm="row")
        np.testing.assert_allclose(y, ref_gspmm(A, X, reduce, "row")[0])  # NaN where the reference has NaN
        assert np.isnan(y[0, 0]) and y[1, 0] == (1.0 if reduce == "sum" else 0.5)


# ------------------------------------------------- GNN products on plans
def ref_extreme_scan(A, X, reduce, loops=False, ev=None):
    """max/min by one scan per row in storage order (self loop last): the
    first message starts, a strictly better one replaces it (so a NaN first
    message stays, later NaNs never win, the earliest of equal messages wins).
    Independent of the kernels' piecewise method. Returns (Y, argidx)."""
    X = np.asarray(X, np.float64)
    better = np.greater if reduce == "max" else np.less
    Y = np.zeros((A.n_rows, X.shape[1]))
    arg = np.full(Y.shape, -1, np.int64)
    w_all = np.ones(A.nnz) if ev is None else np.asarray(ev, np.float64)
    for r in range(A.n_rows):
        with np.errstate(invalid="ignore"):  # a zero weight times inf: NaN, as in the kernels
            msgs = [(w_all[j] * X[A.indices[j]], j) for j in range(A.indptr[r], A.indptr[r + 1])]
        if loops:
            msgs.append((X[r], A.nnz + r))
        if not msgs:
            continue
        Y[r], arg[r] = msgs[0][0], msgs[0][1]
        for m, e in msgs[1:]:
            take = better(m, Y[r])
            Y[r] = np.where(take, m, Y[r])
            arg[r] = np.where(take, e, arg[r])
    return Y, arg


def _special_graph(K=5):
    """Rows of repeated columns so messages repeat (ties), with NaN, -inf and
    +inf features: the hard cases for a reducer split into pieces."""
    rng = np.random.default_rng(11)
    n = 40
    X = rng.integers(-3, 4, (n, K)).astype(np.float64)
    X[3, 1::4] = X[7, 0::5] = X[9, K - 1] = np.nan
    X[5, :2] = -np.inf
    X[6, 2:] = np.inf
    lens = [60, 0, 1, 7, 33, 2, 0, 15] + [3] * (n - 8)     # row 0 and row 4: hubs at small split_len
    cols = rng.integers(0, n, sum(lens))
    cols[:3] = [3, 7, 9]                                  # row 0 starts with NaN messages
    indptr = np.concatenate([[0], np.cumsum(lens)])
    return psg.CSRMatrix(indptr, cols.astype(np.int32), shape=(n, n)), X


_FEATURES = set(psg._core.cpu_features())
ISAS = ["generic"] + (["avx2"] if {"avx2", "fma"} <= _FEATURES else []) + (["avx512"] if "avx512f" in _FEATURES else [])


@pytest.mark.parametrize("reduce", ["max", "min"])
@pytest.mark.parametrize("split_len", [1, 2, 5, -1])
@pytest.mark.parametrize("vdt", VDT)
@pytest.mark.parametrize("K", [5, 8, 16, 37, 64])
@pytest.mark.parametrize("isa", ISAS)
def test_planned_extremes_across_hub_pieces(reduce, split_len, vdt, K, isa):
    """Every tile width and the scalar tail (K), every ISA, whole rows (which
    start from their first message and compare the self loop in registers)
    and hub pieces (which start from -inf and are combined after)."""
    A, X = _special_graph(K)
    X = X.astype(vdt)
    # -0.0: a message of -0.0 must come out as -0.0, not +0.0 (weights were once broadcast as 0 + w)
    ev = np.random.default_rng(12).choice([0.5, 1.0, 2.0, -1.0, -0.0], A.nnz).astype(vdt)
    for loops in (False, True):
        for e in (None, ev):
            plan = psg.plan_spmm(A, X.shape[1], vdt, split_len=split_len, isa=isa, cache=False)
            assert split_len < 0 or plan.n_hubs >= 2
            ref, ref_arg = ref_extreme_scan(A, X, reduce, loops, e)
            Y, arg = run_both_threads(lambda t: psg.spmm(A, X, reduce=reduce, add_self_loops=loops, edge_values=e,
                                                         return_argidx=True, plan=plan, n_threads=t))
            np.testing.assert_array_equal(Y, ref.astype(vdt), err_msg=f"loops={loops} ev={e is not None}")
            num = ~np.isnan(Y)  # assert_array_equal takes -0.0 == 0.0: compare the signs too
            np.testing.assert_array_equal(np.signbit(Y[num]), np.signbit(ref.astype(vdt)[num]))
            np.testing.assert_array_equal(arg, ref_arg)
            # the automatic plan (default split) gives the very same answer
            Ya, arga = psg.spmm(A, X, reduce=reduce, add_self_loops=loops, edge_values=e, return_argidx=True)
            assert Ya.tobytes() == Y.tobytes() and np.array_equal(arga, arg)


def sequential_f32_sums(A, X, reduce, norm, loops):
    """The fused sum/mean in float32, entry by entry in storage order, as the
    kernels document it: weight (1 * value) * col_scale[c], message x * weight,
    the self loop col_scale[r] * x[r] added last, then the row scaled by
    row_scale[r] (over the entry count for mean). Vectorized over rows, one
    stored position at a time, so every row keeps its own order of adds."""
    f32 = np.float32
    ls, cs = psg.gnn._scales(A, norm, loops, f32)  # the scales are checked against ref_scales elsewhere
    indptr, cols = np.asarray(A.indptr), np.asarray(A.indices, np.int64)
    w = np.ones(A.nnz, f32) if A.values is None else A.values_as(f32).copy()
    if cs is not None:
        w = w * cs[cols]
    deg = np.diff(indptr)
    acc = np.zeros((A.n_rows, X.shape[1]), f32)
    for p in range(int(deg.max(initial=0))):
        rows = np.flatnonzero(deg > p)
        j = indptr[rows] + p
        acc[rows] += X[cols[j]] * w[j][:, None]
    if loops:
        acc += X[:A.n_rows] * (cs[:A.n_rows, None] if cs is not None else f32(1))
    scale = np.ones(A.n_rows, f32) if ls is None else ls.copy()
    if reduce == "mean":
        scale /= np.maximum(deg + loops, 1).astype(f32)
    return acc * scale[:, None]


@pytest.mark.parametrize("norm", ["sym", "col", "row"])
@pytest.mark.parametrize("loops", [False, True])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("isa", ISAS)
def test_fused_sums_are_the_documented_float32_arithmetic(norm, loops, reduce, isa):
    """Sum/mean rows with a row or column scale run the plain product's row
    loop (weights from the column scale there, not from the fused tiles):
    the very bits of the sequential float32 computation, at widths that take
    full tiles, a masked vector and a scalar tail."""
    rng = np.random.default_rng(17)
    for weighted in (False, True):
        A = graphs(np.int32, weighted)["random"]
        for K in (1, 7, 16, 37):
            X = rng.standard_normal((A.n_cols, K)).astype(np.float32)
            want = sequential_f32_sums(A, X, reduce, norm, loops)
            with psg.plan.force_isa(isa):
                Y = run_both_threads(lambda t: psg.spmm(A, X, reduce=reduce, norm=norm, add_self_loops=loops,
                                                        n_threads=t))
            assert Y.tobytes() == want.tobytes(), f"weighted={weighted} K={K}"


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("norm", [None, "sym", "row", "col"])
def test_planned_sums_across_hub_pieces(reduce, norm):
    A = graphs(np.int32, True)["hub"]
    X = np.random.default_rng(13).standard_normal((A.n_cols, 16))
    ref = ref_gspmm(A, X, reduce, norm, True)[0]
    for split_len in (1, 7, 4096, -1):
        plan = psg.plan_spmm(A, 16, np.float64, split_len=split_len, cache=False)
        Y = run_both_threads(lambda t: psg.spmm(A, X, reduce=reduce, norm=norm, add_self_loops=True, plan=plan,
                                                n_threads=t))
        np.testing.assert_allclose(Y, ref, **tol(np.float64), err_msg=f"split_len={split_len}")


@pytest.mark.parametrize("K,H", [(16, 2), (24, 3), (64, 8), (80, 5), (64, 64), (40, 40), (128, 4), (36, 12),
                                 (6, 2), (12, 12), (10, 5)])
@pytest.mark.parametrize("reduce", REDUCERS)
@pytest.mark.parametrize("vdt", VDT)
@pytest.mark.parametrize("isa", ISAS)
def test_head_weights_in_the_tiles(K, H, reduce, vdt, isa):
    """One weight per edge and head (or per feature, H = K) at widths that fill
    whole SIMD tiles, straddle vectors (heads narrower or wider than one vector,
    not aligned to it) and leave a scalar tail, on the hub graph (split pieces),
    on every ISA the CPU has."""
    rng = np.random.default_rng(K * 100 + H)
    A = graphs(np.int32, True)["hub"]
    X = rng.standard_normal((A.n_cols, K)).astype(vdt)
    ev = rng.uniform(-1.5, 1.5, (A.nnz, H)).astype(vdt)
    ref, msg, dst, eids = ref_gspmm(A, X, reduce, "sym", True, ev=ev)
    with psg.plan.force_isa(isa):
        if reduce in ("max", "min"):
            Y, arg = run_both_threads(lambda t: psg.spmm(A, X, reduce=reduce, norm="sym", add_self_loops=True,
                                                         edge_values=ev, return_argidx=True, n_threads=t))
            # the message of each recorded winner is the result
            pos = np.searchsorted(eids, arg)
            np.testing.assert_allclose(msg[pos, np.arange(K)[None, :]], ref, **tol(vdt))
        else:
            Y = run_both_threads(lambda t: psg.spmm(A, X, reduce=reduce, norm="sym", add_self_loops=True,
                                                    edge_values=ev, n_threads=t))
    np.testing.assert_allclose(Y, ref, **tol(vdt))


@pytest.mark.parametrize("K", [1, 3, 7, 13, 21])
@pytest.mark.parametrize("vdt", VDT)
def test_narrow_fused_products_same_bits_on_every_isa(K, vdt):
    """K narrower than one vector, or a few columns past the full vectors: the
    masked tile of the SIMD paths gives the bits of the baseline's scalar
    tail, for every reducer with norm, self loops and edge weights, on split
    hub rows and whole rows, at 1 and 2 threads."""
    rng = np.random.default_rng(K)
    A = graphs(np.int32, True)["hub"]
    X = rng.standard_normal((A.n_cols, K)).astype(vdt)
    ev = rng.uniform(-1.5, 1.5, A.nnz).astype(vdt)
    for reduce in REDUCERS:
        ref = ref_gspmm(A, X, reduce, "sym", True, ev=ev)[0]
        for split_len in (5, -1):  # split hub rows sum their pieces in another order: other bits
            outs = []
            for isa in ISAS:
                plan = psg.plan_spmm(A, K, vdt, split_len=split_len, isa=isa, cache=False)
                Y = run_both_threads(lambda t: psg.spmm(A, X, reduce=reduce, norm="sym", add_self_loops=True,
                                                        edge_values=ev, plan=plan, n_threads=t))
                np.testing.assert_allclose(Y, ref, **tol(vdt), err_msg=f"{reduce} {isa} split_len={split_len}")
                outs.append(Y)
            for Y in outs[1:]:
                assert Y.tobytes() == outs[0].tobytes(), (reduce, split_len)


def test_fused_products_share_the_automatic_plan():
    G = graphs(np.int32, True)["random"]
    A = psg.CSRMatrix(G.indptr, G.indices, G.values, shape=G.shape)
    X = np.ones((A.n_cols, 8), np.float32)
    psg.spmm(A, X, norm="sym", add_self_loops=True)
    plans = [v for key, v in A._cache.items() if key[0] == "spmm_auto"]
    assert len(plans) == 1 and plans[0].k == 8 and plans[0].layout == "csr"
    psg.spmm(A, X)
    psg.spmm(A, X, reduce="max", return_argidx=True)
    assert [v for key, v in A._cache.items() if key[0] == "spmm_auto"] == plans
    # the transposed products plan on the cached transposed structure
    spmm_transpose(A, np.ones((A.n_rows, 8), np.float32), norm="sym")
    T = A._cache[("gnn", "t_struct")]
    assert any(key[0] == "spmm_auto" for key in T._cache)


def test_plan_with_gnn_options_bad_input():
    A = graphs(np.int32, True)["random"]
    X = np.ones((A.n_cols, 4))
    with pytest.raises(errors.InvalidArgumentError, match="CSR-layout plan"):
        psg.spmm(A, X, reduce="max", plan=psg.plan_spmm(A, 4, np.float64, layout="blocked", cache=False))
    with pytest.raises(errors.ShapeMismatchError, match="k=8"):
        psg.spmm(A, X, norm="row", plan=psg.plan_spmm(A, 8, np.float64, cache=False))
    with pytest.raises(errors.DTypeError, match="float32"):
        psg.spmm(A, X, norm="row", plan=psg.plan_spmm(A, 4, np.float32, cache=False))
    with pytest.raises(errors.InvalidArgumentError, match="transpose"):
        psg.spmm(A, np.ones((A.n_rows, 4)), transpose=True, norm="row", plan=psg.plan_spmm(A, 4, np.float64))
    with pytest.raises(errors.InvalidArgumentError, match="another matrix"):
        B = graphs(np.int32, True)["hub"]
        psg.spmm(A, X, norm="row", plan=psg.plan_spmm(B, 4, np.float64, cache=False))


# ------------------------------------------------------------------- sddmm
@pytest.mark.parametrize("vdt", VDT)
@pytest.mark.parametrize("idt", IDT)
def test_sddmm_ops(vdt, idt):
    rng = np.random.default_rng(5)
    for name, A in graphs(idt, False).items():
        rows, cols, _, _ = _coo(A)
        X = rng.standard_normal((A.n_rows, 8)).astype(vdt)
        Y = rng.standard_normal((A.n_cols, 8)).astype(vdt)
        Xd, Yd = X.astype(np.float64), Y.astype(np.float64)
        out = run_both_threads(lambda t: sddmm(A, X, Y, n_threads=t))
        np.testing.assert_allclose(out, (Xd[rows] * Yd[cols]).sum(1), **tol(vdt))
        out = run_both_threads(lambda t: sddmm(A, X, Y, heads=2, n_threads=t))
        ref = (Xd[rows] * Yd[cols]).reshape(-1, 2, 4).sum(2)
        np.testing.assert_allclose(out, ref.reshape(A.nnz, 2), **tol(vdt))
        np.testing.assert_allclose(sddmm(A, X, Y, op="u_add_v"), Xd[rows] + Yd[cols], **tol(vdt))
        np.testing.assert_allclose(sddmm(A, X, Y, op="u_mul_v"), Xd[rows] * Yd[cols], **tol(vdt))
        # broadcasting: a width-1 side
        np.testing.assert_allclose(sddmm(A, X[:, :1], Y, op="u_add_v"), Xd[rows, :1] + Yd[cols], **tol(vdt))
        np.testing.assert_allclose(sddmm(A, X, Y[:, :1], op="u_mul_v"), Xd[rows] * Yd[cols, :1], **tol(vdt))


def _fold_dot(a, b):
    """Row-wise dot products of a and b (float32 or float64, shape (m, d)) summed in the order the C kernel
    documents (templates/sddmm.inc): 64-byte vectors of products added lane-wise, lanes folded in halves with
    one 32- and one 16-byte step for the rest of d on the way down, the last two floats added, then the last
    features one by one. NumPy rounds every operation in the array's own dtype, as C does without FMA."""
    lanes = {n: n // a.itemsize for n in (64, 32, 16, 8)}
    m, d = a.shape
    f = 0
    s32 = np.zeros((m, lanes[32]), a.dtype)
    if d >= lanes[64]:
        acc = a[:, :lanes[64]] * b[:, :lanes[64]]
        for f in range(lanes[64], d - lanes[64] + 1, lanes[64]):
            acc = acc + a[:, f:f + lanes[64]] * b[:, f:f + lanes[64]]
        f = d // lanes[64] * lanes[64]
        s32 = acc[:, :lanes[32]] + acc[:, lanes[32]:]
    if f + lanes[32] <= d:
        s32 = s32 + a[:, f:f + lanes[32]] * b[:, f:f + lanes[32]]
        f += lanes[32]
    s16 = s32[:, :lanes[16]] + s32[:, lanes[16]:]
    if f + lanes[16] <= d:
        s16 = s16 + a[:, f:f + lanes[16]] * b[:, f:f + lanes[16]]
        f += lanes[16]
    s8 = s16[:, :lanes[8]] + s16[:, lanes[8]:]
    s = s8[:, 0] + s8[:, 1] if lanes[8] == 2 else s8[:, 0]
    for g in range(f, d):
        s = s + a[:, g] * b[:, g]
    return s


@pytest.mark.parametrize("vdt", VDT)
def test_sddmm_dot_sums_in_its_documented_order_on_every_width(vdt):
    # the fold order is fixed (the same on AVX-512, AVX2 and the baseline), so the result equals a NumPy
    # transcription of it bit for bit, at the widths the kernel inlines (64-512 bytes) and around them
    rng = np.random.default_rng(8)
    A = graphs(np.int32, False)["hub"]
    rows, cols, _, _ = _coo(A)
    for k, heads in [(1, 1), (3, 1), (4, 1), (7, 1), (8, 1), (15, 1), (16, 1), (17, 1), (24, 1), (31, 1), (32, 1),
                     (48, 1), (64, 1), (100, 1), (128, 1), (130, 1), (64, 8), (64, 4), (96, 3), (12, 3)]:
        X = rng.standard_normal((A.n_rows, k)).astype(vdt)
        Y = rng.standard_normal((A.n_cols, k)).astype(vdt)
        out = run_both_threads(lambda t: sddmm(A, X, Y, heads=heads, n_threads=t)).reshape(A.nnz, heads)
        d = k // heads
        for h in range(heads):
            ref = _fold_dot(X[rows, h * d:(h + 1) * d], Y[cols, h * d:(h + 1) * d])
            assert out[:, h].tobytes() == ref.astype(vdt).tobytes(), (k, heads, h)


def test_sddmm_broadcasts_width_zero_like_numpy():
    # a width-1 side against a width-0 one gives width 0 (NumPy's rule); it used to
    # return an (nnz, 1) array of uninitialized memory
    A = psg.CSRMatrix([0, 2, 3], np.array([0, 1, 1], np.int32), shape=(2, 2))
    rng = np.random.default_rng(0)
    rows, cols = np.array([0, 0, 1]), np.array([0, 1, 1])
    for kx, ky in ((0, 1), (1, 0), (0, 0), (1, 1), (1, 3), (3, 1)):
        X, Y = rng.standard_normal((2, kx)), rng.standard_normal((2, ky))
        for op, f in (("u_add_v", np.add), ("u_mul_v", np.multiply)):
            ref = f(X[rows], Y[cols])
            out = sddmm(A, X, Y, op=op)
            assert out.shape == ref.shape, (kx, ky, op)
            np.testing.assert_array_equal(out, ref)
            G = rng.standard_normal(ref.shape)
            gx, gy = sddmm_backward(A, X, Y, G, op=op)
            # references: the chain rule through NumPy's broadcast, summed over broadcast columns
            dx = G if op == "u_add_v" else G * np.broadcast_to(Y[cols], G.shape)
            dy = G if op == "u_add_v" else G * np.broadcast_to(X[rows], G.shape)
            rx, ry = np.zeros((2, ref.shape[1])), np.zeros((2, ref.shape[1]))
            np.add.at(rx, rows, dx)
            np.add.at(ry, cols, dy)
            if kx == 1 and ref.shape[1] != 1:
                rx = rx.sum(axis=1, keepdims=True)
            if ky == 1 and ref.shape[1] != 1:
                ry = ry.sum(axis=1, keepdims=True)
            assert gx.shape == X.shape and gy.shape == Y.shape, (kx, ky, op)
            np.testing.assert_allclose(gx, rx, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(gy, ry, rtol=1e-12, atol=1e-12)


def test_sddmm_out_and_heads_errors_name_the_problem():
    A = psg.CSRMatrix([0, 2, 3], np.array([0, 1, 1], np.int32), shape=(2, 2))
    X = np.ones((2, 4))
    with pytest.raises(errors.DTypeError, match="dtype"):
        sddmm(A, X, X, out=np.empty(3, np.float32))
    with pytest.raises(errors.DTypeError, match="ndarray"):
        sddmm(A, X, X, out=[0.0] * 3)
    ro = np.empty(3)
    ro.flags.writeable = False
    with pytest.raises(errors.InvalidArgumentError, match="writeable"):
        sddmm(A, X, X, out=ro)
    with pytest.raises(errors.ShapeMismatchError, match="shape"):
        sddmm(A, X, X, out=np.empty(4))
    for op in ("u_add_v", "u_mul_v"):
        for heads in (-1, "x", 2):
            with pytest.raises(errors.InvalidArgumentError, match="heads"):
                sddmm(A, X, X, op=op, heads=heads)
    out = np.empty((3, 4))
    assert sddmm(A, X, X, op="u_mul_v", out=out) is out


# ------------------------------------------------------------- edge softmax
def _2d(a):
    return a.reshape(a.shape[0], a.shape[1] if a.ndim == 2 else 1)


def ref_edge_softmax(A, s):
    rows = np.repeat(np.arange(A.n_rows), np.diff(A.indptr))
    s = _2d(s.astype(np.float64))
    m = np.full((A.n_rows, s.shape[1]), -np.inf)
    np.maximum.at(m, rows, s)
    e = np.exp(s - m[rows])
    z = np.zeros_like(m)
    np.add.at(z, rows, e)
    return e / z[rows]


@pytest.mark.parametrize("vdt", VDT)
@pytest.mark.parametrize("heads", [None, 3])
def test_edge_softmax(vdt, heads):
    rng = np.random.default_rng(6)
    for name, A in graphs(np.int64, False).items():
        shape = (A.nnz,) if heads is None else (A.nnz, heads)
        s = (rng.standard_normal(shape) * 30 + 500).astype(vdt)   # large scores: exp would overflow unshifted
        a = run_both_threads(lambda t: edge_softmax(A, s, n_threads=t))
        assert a.shape == shape and a.dtype == vdt and np.all(np.isfinite(a))
        np.testing.assert_allclose(_2d(a), ref_edge_softmax(A, s), **tol(vdt))
        if A.nnz:
            rows = np.repeat(np.arange(A.n_rows), np.diff(A.indptr))
            sums = np.zeros((A.n_rows, _2d(a).shape[1]))
            np.add.at(sums, rows, _2d(a).astype(np.float64))
            nz = np.diff(A.indptr) > 0
            np.testing.assert_allclose(sums[nz], 1.0, **tol(vdt))


# ------------------------------------------------------------- real graphs
def _shared_graph(name):
    d = datasets.shared_data_dir()
    if d is None:
        pytest.skip("shared data folder not found (set PYSPARSEGRAPH_DATA to ../shared/data)")
    path = os.path.join(d, name, name + ".npz")
    if not os.path.exists(path):
        pytest.skip(f"{path} is missing from the shared data folder")
    return datasets.load_npz_graph(path)


@pytest.mark.parametrize("name", ["cora", "ego-Facebook", "soc-Slashdot0902"])
def test_real_graphs_gcn_norm_and_transpose(name):
    A = _shared_graph(name)
    rng = np.random.default_rng(8)
    X = rng.standard_normal((A.n_cols, 4)).astype(np.float32)
    S = A.to_scipy(np.float64)
    S = S + __import__("scipy.sparse", fromlist=["eye"]).eye(A.n_rows, format="csr")
    d_out = np.asarray(S.sum(1)).ravel()
    d_in = np.asarray(S.sum(0)).ravel()
    ref = (S.multiply(d_out[:, None] ** -0.5).multiply(d_in[None, :] ** -0.5)) @ X.astype(np.float64)
    Y = run_both_threads(lambda t: psg.spmm(A, X, norm="sym", add_self_loops=True, n_threads=t))
    np.testing.assert_allclose(Y, ref, rtol=1e-4, atol=1e-4)
    Xt = rng.standard_normal((A.n_rows, 4)).astype(np.float32)
    Yt = run_both_threads(lambda t: spmm_transpose(A, Xt, n_threads=t))
    np.testing.assert_allclose(Yt, A.to_scipy(np.float64).T @ Xt.astype(np.float64), rtol=1e-4, atol=1e-3)
    Ym = run_both_threads(lambda t: psg.spmm(A, X, reduce="max", n_threads=t))
    np.testing.assert_allclose(Ym, ref_gspmm(A, X, "max")[0], rtol=1e-6)


# ---------------------------------------------------------------- bad input
def test_bad_input():
    A = graphs(np.int32, True)["random"]
    X = np.ones((A.n_cols, 3))
    with pytest.raises(errors.InvalidArgumentError, match="reduce"):
        psg.spmm(A, X, reduce="avg")
    with pytest.raises(errors.InvalidArgumentError, match="norm"):
        psg.spmm(A, X, norm="both")
    with pytest.raises(errors.ShapeMismatchError, match="edge_values"):
        psg.spmm(A, X, edge_values=np.ones(A.nnz + 1))
    with pytest.raises(errors.ShapeMismatchError, match="edge_values"):
        psg.spmm(A, X, edge_values=np.ones((A.nnz, 2)))
    with pytest.raises(errors.InvalidArgumentError, match="return_argidx"):
        psg.spmm(A, X, reduce="sum", return_argidx=True, norm="row")
    with pytest.raises(errors.ShapeMismatchError, match="X has"):
        psg.spmm(A, np.ones((A.n_cols + 1, 3)), reduce="max")
    with pytest.raises(errors.ShapeMismatchError, match="X has"):
        spmm_transpose(A, np.ones((A.n_cols + 1, 3)))
    neg = psg.CSRMatrix(A.indptr, A.indices, -A.values, shape=A.shape)
    with pytest.raises(errors.InvalidArgumentError, match="negative"):
        psg.spmm(neg, X, norm="sym")
    psg.spmm(neg, X, norm="row")  # fine: 1/d is defined for negative d
    nan_too = psg.CSRMatrix(np.array([0, 2, 3]), np.array([0, 1, 1]), np.array([np.nan, 1.0, -2.0]), shape=(2, 2))
    with pytest.raises(errors.InvalidArgumentError, match="negative"):  # a NaN degree must not hide a negative one
        psg.spmm(nan_too, np.ones((2, 3)), norm="sym")
    rect = graphs(np.int32, False)["random"]
    rect = psg.CSRMatrix(rect.indptr, rect.indices, shape=(rect.n_rows, rect.n_cols + 5))
    with pytest.raises(errors.ShapeMismatchError, match="square"):
        psg.spmm(rect, np.ones((rect.n_cols, 2)), add_self_loops=True)
    with pytest.raises(errors.DTypeError):
        psg.spmm(A, X.astype(np.int64), reduce="mean")
    with pytest.raises(errors.InvalidArgumentError, match="op"):
        sddmm(A, np.ones((A.n_rows, 2)), np.ones((A.n_cols, 2)), op="dot_product")
    with pytest.raises(errors.ShapeMismatchError):
        sddmm(A, np.ones((A.n_rows, 2)), np.ones((A.n_cols, 3)))
    with pytest.raises(errors.ShapeMismatchError):
        sddmm(A, np.ones((A.n_rows, 4)), np.ones((A.n_cols, 4)), heads=3)
    with pytest.raises(errors.ShapeMismatchError):
        sddmm(A, np.ones((A.n_rows + 1, 2)), np.ones((A.n_cols, 2)))
    with pytest.raises(errors.ShapeMismatchError):
        edge_softmax(A, np.ones(A.nnz - 1))
    with pytest.raises(errors.InvalidArgumentError, match="argidx"):
        psg.spmm_backward(A, np.ones((A.n_rows, 3)), X, reduce="max")
    # caller arrays are untouched
    Xc = X.copy()
    psg.spmm(A, X, reduce="max", norm="row", add_self_loops=True)
    np.testing.assert_array_equal(X, Xc)


@pytest.mark.parametrize("norm", ["row", "col", "sym"])
def test_a_degree_whose_scale_overflows_the_dtype_is_refused_not_inf(norm):
    # weights 1e-39 (a float32 subnormal): 1/d = 5e38 overflows float32, which made inf products
    tiny = psg.CSRMatrix(np.array([0, 2, 4]), np.array([0, 1, 0, 1]), np.full(4, 1e-39), shape=(2, 2))
    X = np.array([[1.0], [3.0]])
    dense = tiny.to_scipy().toarray()
    d_out, d_in = dense.sum(1), dense.sum(0)
    ref = {"row": dense / d_out[:, None], "col": dense / d_in[None, :],
           "sym": dense / np.sqrt(d_out)[:, None] / np.sqrt(d_in)[None, :]}[norm] @ X
    np.testing.assert_allclose(psg.spmm(tiny, X, norm=norm), ref, rtol=1e-12)
    if norm == "sym":  # 1/sqrt(d) = 2.2e19 fits float32
        np.testing.assert_allclose(psg.spmm(tiny, X.astype(np.float32), norm=norm), ref, rtol=1e-5)
    else:
        with pytest.raises(errors.InvalidArgumentError, match="float32's range"):
            psg.spmm(tiny, X.astype(np.float32), norm=norm)


def test_norm_none_is_spelled_both_ways():
    # spmm took None and refused "none"; the scikit-learn estimators took "none" and refused None
    import pysparsegraph as psg
    from pysparsegraph.sklearn import GraphPropagation
    A = psg.from_edges([0, 1, 2, 2], [1, 2, 0, 1])
    X = np.arange(12, dtype=np.float64).reshape(3, 4)
    np.testing.assert_array_equal(psg.spmm(A, X, norm="none"), psg.spmm(A, X))
    np.testing.assert_array_equal(spmm_transpose(A, X, norm="none"), spmm_transpose(A, X))
    a = GraphPropagation(A, k=1, norm=None, self_loops=False).fit_transform(X)
    b = GraphPropagation(A, k=1, norm="none", self_loops=False).fit_transform(X)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, A.to_scipy().toarray() @ X)
    with pytest.raises(psg.errors.InvalidArgumentError, match="norm"):
        psg.spmm(A, X, norm="None")
