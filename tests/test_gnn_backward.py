"""Backward helpers of the GNN kernels against central finite differences of
the forward kernels (float64), plus a GAT layer built from sddmm +
edge_softmax + spmm checked against a dense NumPy implementation."""
import numpy as np
import pytest

import pysparsegraph as psg
from pysparsegraph import datasets
from pysparsegraph import errors
from pysparsegraph.gnn import (edge_softmax, edge_softmax_backward, sddmm, sddmm_backward, spmm_backward)


def small_graphs():
    rng = np.random.default_rng(11)
    out = {}
    n = 30
    src = rng.integers(0, n, 120)
    dst = rng.integers(0, n, 120)
    out["random"] = psg.from_edges(src, dst, rng.uniform(0.5, 2.0, 120), shape=(n, n), duplicates="keep")
    # duplicates, self loops, an empty row, a hub row; weights distinct so max/min have no ties
    indptr = np.array([0, 4, 6, 6, 15])
    cols = np.array([0, 2, 2, 0, 1, 1, 3, 3, 0, 1, 2, 3, 1, 2, 0])
    out["loops_dups_hub"] = psg.CSRMatrix(indptr, cols.astype(np.int32), rng.uniform(0.5, 2.0, 15), shape=(4, 4))
    return out


def fd_grad(f, arr, n_probe, rng, eps=1e-6):
    """Central differences of scalar f() w.r.t. n_probe random entries of arr (modified in place)."""
    flat = arr.reshape(-1)
    idx = rng.choice(flat.size, size=min(n_probe, flat.size), replace=False)
    g = np.empty(idx.size)
    for i, j in enumerate(idx):
        old = flat[j]
        flat[j] = old + eps
        up = f()
        flat[j] = old - eps
        down = f()
        flat[j] = old
        g[i] = (up - down) / (2 * eps)
    return idx, g


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("norm", [None, "sym", "row", "col"])
@pytest.mark.parametrize("loops", [False, True])
@pytest.mark.parametrize("ev_kind", [None, "edge", "edge_head", "edge_feature"])
def test_spmm_backward_matches_finite_differences(reduce, norm, loops, ev_kind):
    rng = np.random.default_rng(12)
    for name, A in small_graphs().items():
        K = 5
        X = rng.standard_normal((A.n_cols, K))
        G = rng.standard_normal((A.n_rows, K))
        ev = None
        if ev_kind == "edge":
            ev = rng.uniform(0.5, 2.0, A.nnz)
        elif ev_kind == "edge_head":
            K = 6
            X = rng.standard_normal((A.n_cols, K))
            G = rng.standard_normal((A.n_rows, K))
            ev = rng.uniform(0.5, 2.0, (A.nnz, 3))
        elif ev_kind == "edge_feature":
            ev = rng.uniform(0.5, 2.0, (A.nnz, K))
        kw = dict(reduce=reduce, norm=norm, add_self_loops=loops)

        def loss():
            return float((psg.spmm(A, X, edge_values=ev, **kw) * G).sum())

        argidx = None
        if reduce in ("max", "min"):
            _, argidx = psg.spmm(A, X, edge_values=ev, return_argidx=True, **kw)
        grads = [spmm_backward(A, G, X, edge_values=ev, argidx=argidx, need_edge_grad=True, n_threads=t, **kw)
                 for t in (1, 2)]
        for a, b in zip(grads[0], grads[1]):
            assert a.tobytes() == b.tobytes()
        gx, ge = grads[0]
        assert gx.shape == X.shape
        # the edge gradient alone: no grad_X, the same bits; edge values given by their shape alone (a
        # zero-stride array, as the torch wrapper passes when it did not keep them) give it too
        shape_only = None if ev is None else np.broadcast_to(np.zeros(()), ev.shape)
        for e in (ev, shape_only):
            no_gx, ge_only = spmm_backward(A, G, X, edge_values=e, argidx=argidx, need_edge_grad=True,
                                           need_input_grad=False, **kw)
            assert no_gx is None and ge_only.tobytes() == ge.tobytes()
        idx, num = fd_grad(loss, X, 40, rng)
        np.testing.assert_allclose(gx.reshape(-1)[idx], num, rtol=1e-5, atol=1e-6, err_msg=name)
        if ev is not None:
            assert ge.shape == ev.shape
            idx, num = fd_grad(loss, ev, 40, rng)
            np.testing.assert_allclose(ge.reshape(-1)[idx], num, rtol=1e-5, atol=1e-6, err_msg=name)
        else:
            # gradient w.r.t. A's own values (ones when unweighted), which the norm's degrees
            # sum too: perturb a weighted copy
            vals = np.ones(A.nnz) if A.values is None else np.array(A.values)

            def loss_vals():
                B = psg.CSRMatrix(A.indptr, A.indices, vals, shape=A.shape)
                return float((psg.spmm(B, X, **kw) * G).sum())

            assert ge.shape == (A.nnz,)
            idx, num = fd_grad(loss_vals, vals, 40, rng)
            np.testing.assert_allclose(ge[idx], num, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("op,heads,bcast", [("dot", 1, None), ("dot", 2, None)]
                         + [(op, 1, b) for op in ("u_add_v", "u_mul_v") for b in (None, "x", "y")])
def test_sddmm_backward_matches_finite_differences(op, heads, bcast):
    rng = np.random.default_rng(13)
    for name, A in small_graphs().items():
        X = rng.standard_normal((A.n_rows, 1 if bcast == "x" else 4))
        Y = rng.standard_normal((A.n_cols, 1 if bcast == "y" else 4))
        out = sddmm(A, X, Y, op=op, heads=heads)
        G = rng.standard_normal(out.shape)

        def loss():
            return float((sddmm(A, X, Y, op=op, heads=heads) * G).sum())

        gx, gy = sddmm_backward(A, X, Y, G, op=op, heads=heads)
        assert gx.shape == X.shape and gy.shape == Y.shape
        # one gradient alone, the same bits; the operand it does not read given by shape only (zero-stride)
        shape_of = lambda a: np.broadcast_to(np.zeros(()), a.shape)  # noqa: E731
        only_x = sddmm_backward(A, X, Y if op != "u_add_v" else shape_of(Y), G, op=op, heads=heads,
                                need_y_grad=False)
        only_y = sddmm_backward(A, X if op != "u_add_v" else shape_of(X), Y, G, op=op, heads=heads,
                                need_x_grad=False)
        only_x2 = sddmm_backward(A, shape_of(X), Y, G, op=op, heads=heads, need_y_grad=False)
        only_y2 = sddmm_backward(A, X, shape_of(Y), G, op=op, heads=heads, need_x_grad=False)
        for (a, b), want in ((only_x, (gx, None)), (only_y, (None, gy)), (only_x2, (gx, None)), (only_y2, (None, gy))):
            assert (a is None) == (want[0] is None) and (b is None) == (want[1] is None)
            for got, ref in ((a, want[0]), (b, want[1])):
                assert got is None or got.tobytes() == ref.tobytes()
        for arr, g in ((X, gx), (Y, gy)):
            idx, num = fd_grad(loss, arr, 30, rng)
            np.testing.assert_allclose(g.reshape(-1)[idx], num, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("heads", [None, 2])
def test_edge_softmax_backward_matches_finite_differences(heads):
    rng = np.random.default_rng(14)
    for name, A in small_graphs().items():
        shape = (A.nnz,) if heads is None else (A.nnz, heads)
        s = rng.standard_normal(shape)
        G = rng.standard_normal(shape)

        def loss():
            return float((edge_softmax(A, s) * G).sum())

        a = edge_softmax(A, s)
        g = edge_softmax_backward(A, a, G)
        g2 = edge_softmax_backward(A, a, G, n_threads=2)
        assert g.tobytes() == g2.tobytes()
        idx, num = fd_grad(loss, s, 40, rng)
        np.testing.assert_allclose(g.reshape(-1)[idx], num, rtol=1e-5, atol=1e-6, err_msg=name)


def test_backward_bad_input():
    A = small_graphs()["random"]
    G = np.ones((A.n_rows, 3))
    X = np.ones((A.n_cols, 3))
    with pytest.raises(errors.InvalidArgumentError, match="argidx"):
        spmm_backward(A, G, X, reduce="min")
    with pytest.raises(errors.ShapeMismatchError, match="argidx"):
        spmm_backward(A, G, X, reduce="max", argidx=np.zeros((A.n_rows, 2), np.int64))
    with pytest.raises(errors.ShapeMismatchError, match="grad_out"):
        spmm_backward(A, np.ones((A.n_rows + 1, 3)), X)
    with pytest.raises(errors.InvalidArgumentError, match="needs X"):
        spmm_backward(A, G, need_edge_grad=True)
    with pytest.raises(errors.ShapeMismatchError):
        edge_softmax_backward(A, np.ones(A.nnz), np.ones((A.nnz, 2)))
    with pytest.raises(errors.ShapeMismatchError):
        sddmm_backward(A, np.ones((A.n_rows, 2)), np.ones((A.n_cols, 2)), np.ones(A.nnz + 1))


# ------------------------------------------------------------------ GAT layer
def gat_layer_sparse(A, H, W, a_src, a_dst, heads):
    """One multi-head GAT layer (Velickovic et al.) from the sparse kernels:
    e_rc = LeakyReLU(a_dst·Wh_r + a_src·Wh_c), alpha = softmax over row r's
    neighbours, out_r = sum_c alpha_rc Wh_c (per head, heads concatenated)."""
    n = A.n_rows
    Wh = H @ W                                               # (n, heads*D)
    D = Wh.shape[1] // heads
    Whh = Wh.reshape(n, heads, D)
    el = np.einsum("nhd,hd->nh", Whh, a_dst)                 # destination part (row r)
    er = np.einsum("nhd,hd->nh", Whh, a_src)                 # source part (column c)
    e = sddmm(A, el, er, op="u_add_v")                       # (nnz, heads)
    e = np.where(e > 0, e, 0.2 * e)
    alpha = edge_softmax(A, e)                               # (nnz, heads)
    # one weight per edge and head: head h's alpha scales that head's D features
    out = psg.spmm(A, Wh, edge_values=alpha)
    return out, alpha


def gat_layer_dense(Adense, H, W, a_src, a_dst, heads):
    n = Adense.shape[0]
    Wh = (H @ W).reshape(n, heads, -1)
    el = np.einsum("nhd,hd->nh", Wh, a_dst)
    er = np.einsum("nhd,hd->nh", Wh, a_src)
    outs, alphas = [], []
    mask = Adense != 0
    for h in range(heads):
        e = el[:, h][:, None] + er[:, h][None, :]
        e = np.where(e > 0, e, 0.2 * e)
        e = np.where(mask, e, -np.inf)
        m = e.max(axis=1, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        p = np.where(mask, np.exp(e - m), 0)
        z = p.sum(axis=1, keepdims=True)
        att = np.divide(p, z, out=np.zeros_like(p), where=z > 0)
        outs.append(att @ Wh[:, h, :])
        alphas.append(att)
    return np.concatenate(outs, axis=1), alphas


@pytest.mark.parametrize("loops", [False, True])
@pytest.mark.parametrize("k", [3, 20000])  # 4 x 20000 arg indices: the check runs on a team
def test_max_backward_refuses_arg_indices_of_other_rows(loops, k):
    """An id outside its row's edges (another row's, out of range, -1 in a row
    with messages) would silently drop or misplace a gradient: refused, naming
    the first bad element in row-major order whatever the team size."""
    A = small_graphs()["loops_dups_hub"]    # row 2 has no stored entry
    X = np.random.default_rng(5).standard_normal((4, k))
    Y, arg = psg.spmm(A, X, reduce="max", add_self_loops=loops, return_argidx=True)
    G = np.ones_like(Y)
    ok, _ = spmm_backward(A, G, reduce="max", add_self_loops=loops, argidx=arg, n_threads=2)
    assert np.isfinite(ok).all()
    bad_values = {"other row's edge": 4, "past nnz": 10**12, "negative": -5, "-1 in a row with messages": -1}
    for what, v in bad_values.items():
        bad = arg.copy()
        bad[3, k - 1] = v          # the later of two bad elements
        bad[0, 1] = v
        with pytest.raises(errors.IndexOutOfRangeError, match=rf"argidx\[0, 1\] = {v} is not an edge id of row 0"):
            spmm_backward(A, G, reduce="max", add_self_loops=loops, argidx=bad, n_threads=2)
    # the empty row: -1 is its only id without self loops, the self loop's id nnz + 2 with them
    bad = arg.copy()
    bad[2, 0] = A.nnz + 2 if not loops else -1
    with pytest.raises(errors.IndexOutOfRangeError, match=r"row 2, which holds edge ids \[6, 6\)"):
        spmm_backward(A, G, reduce="max", add_self_loops=loops, argidx=bad)


@pytest.mark.parametrize("heads", [1, 4])
def test_gat_layer_matches_dense(heads):
    rng = np.random.default_rng(15)
    ds = datasets.load_cora()
    A = psg.from_edges(*ds.graph.to_edges()[:2], shape=ds.graph.shape, self_loops="add")  # GAT adds self loops
    H = ds.features[:, :64].astype(np.float64)
    W = rng.standard_normal((64, heads * 8)) * 0.2
    a_src, a_dst = rng.standard_normal((heads, 8)), rng.standard_normal((heads, 8))
    out, alpha = gat_layer_sparse(A, H, W, a_src, a_dst, heads)
    Adense = A.to_scipy(np.float64).toarray()
    ref, ref_alpha = gat_layer_dense(Adense, H, W, a_src, a_dst, heads)
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    rows = np.repeat(np.arange(A.n_rows), np.diff(A.indptr))
    for h in range(heads):
        np.testing.assert_allclose(alpha[:, h], ref_alpha[h][rows, A.indices], rtol=1e-10, atol=1e-14)
