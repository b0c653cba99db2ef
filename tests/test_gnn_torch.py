"""pysparsegraph.torch autograd functions: values against torch.sparse / dense
torch math, and torch.autograd.gradcheck in float64."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install pysparsegraph[torch])")

import pysparsegraph as psg  # noqa: E402
from pysparsegraph import errors  # noqa: E402
from pysparsegraph import torch as ptorch  # noqa: E402


def graph():
    rng = np.random.default_rng(21)
    n = 25
    src, dst = rng.integers(0, n, 90), rng.integers(0, n, 90)
    return psg.from_edges(src, dst, rng.uniform(0.5, 2.0, 90), shape=(n, n))


def dense(A):
    return torch.from_numpy(A.to_scipy(np.float64).toarray())


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("norm", [None, "sym", "row"])
def test_spmm_gradcheck(reduce, norm):
    A = graph()
    torch.manual_seed(0)
    X = torch.randn(A.n_cols, 4, dtype=torch.float64, requires_grad=True)
    ev = torch.rand(A.nnz, dtype=torch.float64).add_(0.5).requires_grad_(True)
    f = lambda x, e: ptorch.spmm(A, x, reduce=reduce, norm=norm, add_self_loops=norm == "sym", edge_values=e)
    assert torch.autograd.gradcheck(f, (X, ev), eps=1e-6, atol=1e-5)
    for width in (2, 4):   # one weight per edge and head (2 heads of 2 features), per edge and feature
        evf = torch.rand(A.nnz, width, dtype=torch.float64).add_(0.5).requires_grad_(True)
        assert torch.autograd.gradcheck(f, (X, evf), eps=1e-6, atol=1e-5)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
def test_spmm_values_match_torch_sparse():
    A = graph()
    X = torch.randn(A.n_cols, 8, dtype=torch.float32)
    Ad = dense(A).float()
    torch.testing.assert_close(ptorch.spmm(A, X), Ad @ X, rtol=1e-5, atol=1e-5)
    Acsr = Ad.to_sparse_csr()   # weighted, one entry per (row, col): from_edges summed duplicates
    for red, tred in (("mean", "mean"), ("max", "amax"), ("min", "amin")):
        got = ptorch.spmm(A, X, reduce=red)
        torch.testing.assert_close(got, torch.sparse.mm(Acsr, X, reduce=tred), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op,heads", [("dot", 1), ("dot", 2), ("u_add_v", 1), ("u_mul_v", 1)])
def test_sddmm_gradcheck_and_values(op, heads):
    A = graph()
    X = torch.randn(A.n_rows, 4, dtype=torch.float64, requires_grad=True)
    Y = torch.randn(A.n_cols, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, y: ptorch.sddmm(A, x, y, op=op, heads=heads), (X, Y))
    src, dst, _ = A.to_edges()
    r, c = torch.from_numpy(src.astype(np.int64)), torch.from_numpy(dst.astype(np.int64))
    out = ptorch.sddmm(A, X, Y, op=op, heads=heads)
    if op == "dot":
        want = (X[r] * Y[c]).reshape(A.nnz, heads, -1).sum(-1).squeeze(-1) if heads > 1 else (X[r] * Y[c]).sum(1)
    else:
        want = X[r] + Y[c] if op == "u_add_v" else X[r] * Y[c]
    torch.testing.assert_close(out, want)


def test_edge_softmax_gradcheck():
    A = graph()
    s = torch.randn(A.nnz, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: ptorch.edge_softmax(A, t), (s,))


def test_torch_bad_input():
    A = graph()
    with pytest.raises(errors.DTypeError):
        ptorch.spmm(A, torch.ones(A.n_cols, 2, dtype=torch.int64))
    with pytest.raises(errors.InvalidArgumentError, match="reduce"):
        ptorch.spmm(A, torch.ones(A.n_cols, 2), reduce="prod")
    with pytest.raises(errors.DTypeError):
        ptorch.spmm(A, np.ones((A.n_cols, 2)))


def test_operands_are_shared_not_copied():
    A = graph()
    X = torch.randn(A.n_cols, 3, dtype=torch.float64, requires_grad=True)
    view = ptorch._np(X, "X")
    assert np.shares_memory(view, X.detach().numpy())          # the C kernel reads X's own memory
    Y = ptorch.spmm(A, X)
    Y2 = ptorch._t(view)
    assert Y2.data_ptr() == view.__array_interface__["data"][0]  # results wrap NumPy memory, no copy
    torch.testing.assert_close(Y, dense(A) @ X.detach())
    strided = torch.randn(3, A.n_cols, dtype=torch.float64).T    # not contiguous: one documented copy
    torch.testing.assert_close(ptorch.spmm(A, strided), dense(A) @ strided)


def test_edge_softmax_output_changed_in_place_is_caught():
    A = graph()
    s = torch.randn(A.nnz, dtype=torch.float64, requires_grad=True)
    a = ptorch.edge_softmax(A, s)
    a.mul_(2.0)  # the backward needs the original output: torch must refuse, as for torch.softmax
    with pytest.raises(RuntimeError, match="inplace"):
        torch.autograd.grad(a.sum(), s)
    # untouched, the gradient of each row's sum of a softmax is 0
    (g,) = torch.autograd.grad(ptorch.edge_softmax(A, s).sum(), s)
    np.testing.assert_allclose(g.numpy(), 0.0, atol=1e-12)


def test_double_backward_raises_instead_of_dropping_terms():
    A = graph()
    X = torch.randn(A.n_cols, 3, dtype=torch.float64, requires_grad=True)
    s = torch.randn(A.nnz, dtype=torch.float64, requires_grad=True)
    W = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)
    H = X.detach() @ W  # W also reached around the product: torch's deferred error was skipped there
    outs = [(ptorch.spmm(A, X).square().sum(), X), (ptorch.sddmm(A, X, X).square().sum(), X),
            (ptorch.edge_softmax(A, s).square().sum(), s),
            (ptorch.spmm(A, H).square().sum() + H.square().sum(), W),
            (ptorch.spmm(A, X, edge_values=s).sum(), s)]  # grad_y constant; the weights' gradient reads X
    for loss, wrt in outs:
        with pytest.raises(errors.UnsupportedError, match="create_graph=True through pysparsegraph.torch"):
            torch.autograd.grad(loss, wrt, create_graph=True, retain_graph=True)  # a gradient penalty's first step
        (g,) = torch.autograd.grad(loss, wrt)  # first order still works
        assert g.shape == wrt.shape and torch.isfinite(g).all()
    # linear in the weights, with X and grad_y constant: no second-order term exists, so the (constant) gradient
    # is the exact answer, as dense torch math gives it
    loss = ptorch.spmm(A, X.detach(), edge_values=s).sum()
    (g,) = torch.autograd.grad(loss, s, create_graph=True)
    src, dst, _ = A.to_edges()
    torch.testing.assert_close(g, X.detach()[torch.from_numpy(dst.astype(np.int64))].sum(1))


def test_gradient_for_the_graphs_own_values_through_the_norm():
    # dL/d(A.values) with norm: the degrees are sums of those values too (checked
    # against torch autograd through a dense normalized adjacency)
    A = graph()
    rng = np.random.default_rng(3)
    X, G = rng.standard_normal((A.n_cols, 4)), rng.standard_normal((A.n_rows, 4))
    rows = np.repeat(np.arange(A.n_rows), np.diff(A.indptr))
    for norm in ("row", "col", "sym"):
        for loops in (False, True):
            _, ge = psg.gnn.spmm_backward(A, G, X, norm=norm, add_self_loops=loops, need_edge_grad=True)
            v = torch.tensor(np.asarray(A.values), dtype=torch.float64, requires_grad=True)
            D = torch.zeros(A.shape, dtype=torch.float64).index_put((torch.from_numpy(rows),
                                                                    torch.from_numpy(np.asarray(A.indices, np.int64))),
                                                                   v, accumulate=True)
            if loops:
                D = D + torch.eye(A.n_rows, dtype=torch.float64)
            dout, din = D.sum(1), D.sum(0)
            inv = lambda d, p: torch.where(d != 0, d.abs().clamp_min(1e-300) ** -p, torch.zeros_like(d))  # noqa
            ls = {"row": inv(dout, 1.0), "col": torch.ones_like(dout), "sym": inv(dout, 0.5)}[norm]
            rs = {"row": torch.ones_like(din), "col": inv(din, 1.0), "sym": inv(din, 0.5)}[norm]
            Y = ls[:, None] * (D @ (rs[:, None] * torch.from_numpy(X)))
            (ref,) = torch.autograd.grad((Y * torch.from_numpy(G)).sum(), v)
            np.testing.assert_allclose(ge, ref.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{norm} loops={loops}")


@pytest.mark.parametrize("op,heads,k", [("dot", 1, 4), ("dot", 2, 4), ("u_add_v", 1, 4), ("u_mul_v", 1, 4),
                                        ("dot", 2, 0)])
def test_sddmm_gradients_on_graphs_without_edges_or_features(op, heads, k):
    # the torch reference: per-edge X[r] (op) Y[c] gathered by index, empty r, c or empty feature slices
    rng = np.random.default_rng(0)
    for A in (psg.CSRMatrix(np.zeros(6, np.int64), np.zeros(0, np.int32), None, shape=(5, 5)),
              psg.from_edges(rng.integers(0, 5, 9), rng.integers(0, 5, 9), shape=(5, 5))):
        X = torch.randn(5, k, dtype=torch.float64, requires_grad=True)
        Y = torch.randn(5, k, dtype=torch.float64, requires_grad=True)
        w = torch.randn(A.nnz, *(() if heads == 1 else (heads,)), dtype=torch.float64)
        (ptorch.sddmm(A, X, Y, op=op, heads=heads) * (w if op == "dot" else w[:, None])).sum().backward()
        r, c = (torch.from_numpy(a.astype(np.int64)) for a in A.to_edges()[:2])
        X2, Y2 = X.detach().clone().requires_grad_(), Y.detach().clone().requires_grad_()
        xs, ys = X2[r], Y2[c]
        ref = {"dot": (xs * ys).reshape(A.nnz, heads, k // heads).sum(-1).reshape(w.shape), "u_add_v": xs + ys,
               "u_mul_v": xs * ys}[op]
        (ref * (w if op == "dot" else w[:, None])).sum().backward()
        torch.testing.assert_close(X.grad, X2.grad)
        torch.testing.assert_close(Y.grad, Y2.grad)


def test_sddmm_backward_refuses_a_gradient_of_another_shape():
    from pysparsegraph.gnn import sddmm_backward
    rng = np.random.default_rng(1)
    A = psg.from_edges(rng.integers(0, 6, 12), rng.integers(0, 6, 12), shape=(6, 6))
    x = rng.standard_normal((6, 4))
    for g in (np.ones((2, A.nnz)), np.ones(2 * A.nnz)):  # the right size, the wrong shape
        with pytest.raises(errors.ShapeMismatchError, match="shape of sddmm's output"):
            sddmm_backward(A, x, x, g, heads=2)


@pytest.mark.parametrize("to_sparse", ["to_sparse", "to_sparse_csr"])
def test_sparse_tensors_are_refused_by_name(to_sparse):
    A = psg.from_edges(np.array([0, 1]), np.array([1, 0]), shape=(2, 2))
    X = getattr(torch.ones(2, 3), to_sparse)()
    with pytest.raises(errors.UnsupportedError, match="X is a sparse tensor"):
        ptorch.spmm(A, X)
    with pytest.raises(errors.UnsupportedError, match="scores is a sparse tensor"):
        ptorch.edge_softmax(A, getattr(torch.ones(2, 1), to_sparse)())


def test_torch_compile_runs_the_functions_eagerly():
    rng = np.random.default_rng(0)
    A = psg.from_edges(rng.integers(0, 20, 60), rng.integers(0, 20, 60), shape=(20, 20))
    X = torch.randn(20, 4, dtype=torch.float64)
    s = torch.randn(A.nnz, dtype=torch.float64)

    def f(X, s):
        return ptorch.spmm(A, X, norm="sym").sum() + ptorch.sddmm(A, X, X).sum() + ptorch.edge_softmax(A, s).sum()

    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(f, backend="eager")(X, s), f(X, s))


def test_input_changed_in_place_after_the_forward_when_no_gradient_reads_it():
    # a residual h += spmm(A, h): the gradient for h does not read h, so torch.sparse.mm allows it; the
    # reference is the same expression with a dense normalized adjacency
    A = graph()
    Ad = dense(A)
    inv = lambda d: torch.where(d != 0, d ** -0.5, torch.zeros_like(d))  # noqa: E731
    N = inv(Ad.sum(1))[:, None] * Ad * inv(Ad.sum(0))[None, :]   # norm="sym": D_out^-1/2 A D_in^-1/2
    X = torch.randn(A.n_cols, 4, dtype=torch.float64, requires_grad=True)
    G = torch.randn(A.n_rows, 4, dtype=torch.float64)
    for ref in (False, True):
        h = X * 2.0
        h += N @ h if ref else ptorch.spmm(A, h, norm="sym")
        (g,) = torch.autograd.grad((h * G).sum(), X)
        if ref:
            torch.testing.assert_close(g, got)
        got = g
    # sddmm: grad X reads only Y (so X, needing a gradient, is read by none), u_add_v reads neither
    src, dst, _ = A.to_edges()
    r, c = torch.from_numpy(src.astype(np.int64)), torch.from_numpy(dst.astype(np.int64))
    w = torch.randn(A.nnz, dtype=torch.float64)
    Y = torch.randn(A.n_cols, 4, dtype=torch.float64)
    for op in ("dot", "u_mul_v", "u_add_v"):
        grads = []
        ref = {"dot": lambda x, y: (x[r] * y[c]).sum(1), "u_mul_v": lambda x, y: x[r] * y[c],
               "u_add_v": lambda x, y: x[r] + y[c]}[op]
        for f in (lambda x, y: ptorch.sddmm(A, x, y, op=op), ref):
            xc, yc = X * 1.0, Y.clone()
            out = f(xc, yc)
            xc.add_(1.0)
            if op == "u_add_v":
                yc.mul_(3.0)
            grads.append(torch.autograd.grad((out * (w if op == "dot" else w[:, None])).sum(), X)[0])
        torch.testing.assert_close(grads[0], grads[1])
    # edge weights changed in place after the forward: the gradient for them reads X, not them (X needs none)
    Xc = X.detach()
    for reduce in ("sum", "max"):
        grads = []
        for f in (lambda e: ptorch.spmm(A, Xc, edge_values=e, reduce=reduce), lambda e: None):
            e = torch.rand(A.nnz, dtype=torch.float64, requires_grad=True)
            with torch.no_grad():
                e.copy_(w.abs() + 0.5)
            ew = e * 1.0
            out = f(ew)
            if out is None:  # the dense reference: out[i] = reduce over edges (i, j) of w_ij * X[j]
                msg = ew[:, None] * Xc[c]
                zero = torch.zeros(Xc.shape[1], dtype=torch.float64)
                out = torch.stack([(msg[r == i].sum(0) if reduce == "sum" else msg[r == i].amax(0))
                                   if (r == i).any() else zero for i in range(A.n_rows)])
            ew.mul_(2.0)
            grads.append(torch.autograd.grad((out * G).sum(), e)[0])
        torch.testing.assert_close(grads[0], grads[1])
    # what a gradient does read is still guarded: X for the gradient of the edge weights
    e = torch.rand(A.nnz, dtype=torch.float64, requires_grad=True)
    h = X * 1.0
    out = ptorch.spmm(A, h, edge_values=e)
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="inplace"):
        torch.autograd.grad(out.sum(), e)


def test_vmap_and_torch_func_tensors_are_refused_by_name():
    A = graph()
    X = torch.randn(A.n_cols, 2, dtype=torch.float64, requires_grad=True)
    Y = ptorch.spmm(A, X)
    eye = torch.eye(Y.numel(), dtype=torch.float64).reshape(-1, *Y.shape)
    with pytest.raises(errors.UnsupportedError, match="grad is a torch.func/vmap transformed tensor"):
        torch.autograd.grad(Y, X, eye, is_grads_batched=True)   # the backward's gradient is batched
    with pytest.raises(errors.UnsupportedError, match="torch.func/vmap"):
        torch.autograd.functional.jacobian(lambda x: ptorch.spmm(A, x), X.detach(), vectorize=True)
    # the loop torch.autograd.functional.jacobian runs without vectorize gives the dense normalized matrix
    J = torch.autograd.functional.jacobian(lambda x: ptorch.spmm(A, x[:, None])[:, 0], X.detach()[:, 0])
    torch.testing.assert_close(J, dense(A))
    with pytest.raises(errors.UnsupportedError, match="X is a torch.func/vmap"):
        torch.vmap(lambda x: ptorch.spmm(A, x))(torch.randn(3, A.n_cols, 2, dtype=torch.float64))
    with pytest.raises(errors.UnsupportedError, match="is a torch.func/vmap"):
        torch.func.grad(lambda y: ptorch.sddmm(A, X.detach(), y).sum())(X.detach())
    with pytest.raises(errors.UnsupportedError, match="scores is a torch.func/vmap"):
        torch.func.jacrev(lambda s: ptorch.edge_softmax(A, s))(torch.randn(A.nnz, dtype=torch.float64))


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors is in prototype stage")
@pytest.mark.parametrize("layout", ["strided", "jagged"])
def test_nested_tensors_are_refused_by_name(layout):
    A = psg.from_edges(np.array([0, 1]), np.array([1, 0]), shape=(2, 2))
    X = torch.nested.nested_tensor([torch.ones(2, 3), torch.ones(1, 3)], layout=getattr(torch, layout))
    with pytest.raises(errors.UnsupportedError, match="X is a nested tensor"):
        ptorch.spmm(A, X)
