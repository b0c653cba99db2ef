"""PyTorch autograd functions over the pysparsegraph GNN kernels.

Importing this module needs ``torch`` (``pip install pysparsegraph[torch]``);
``import pysparsegraph`` alone never imports torch.

The graph is a :class:`pysparsegraph.CSRMatrix` (constant: no gradient flows
to its structure). Dense operands are CPU tensors of dtype float32/float64;
they are handed to the C kernels as NumPy views of the same memory (no copy
when contiguous) and results come back as tensors sharing the NumPy output's
memory.

Under ``torch.compile`` the three functions run eagerly (a graph break):
dynamo cannot trace into the C kernels. torch.func transforms (vmap, grad,
jacrev) and batched gradients (``is_grads_batched``, ``jacobian(...,
vectorize=True)``) raise UnsupportedError: the kernels need plain tensors.

Gradients are first-order: the backward passes run in the C kernels too, outside
torch's graph, so a backward with ``create_graph=True`` (double backward, e.g. a
gradient penalty) through these functions raises UnsupportedError instead of
silently dropping the second-order terms.

Example
-------
>>> import torch, pysparsegraph as psg
>>> from pysparsegraph.torch import spmm
>>> from pysparsegraph.datasets import load_cora
>>> A = load_cora(features=False).graph
>>> X = torch.randn(A.n_cols, 16, requires_grad=True)
>>> Y = spmm(A, X, norm="sym", add_self_loops=True)   # GCN propagation
>>> Y.sum().backward()
"""
import functools

import numpy as np
import torch

from pysparsegraph import errors, gnn
from pysparsegraph.matrix import as_csr

__all__ = ["spmm", "sddmm", "edge_softmax"]

# tests for vmap/torch.func wrappers (is_grads_batched batches a backward's gradient the legacy way)
_FT = getattr(torch._C, "_functorch", None)
_WRAPPED = [getattr(_FT, f) for f in ("is_functorch_wrapped_tensor", "is_legacy_batchedtensor") if hasattr(_FT, f)]


def _np(t, name):
    """A NumPy view of a CPU tensor (a contiguous copy only if it is strided)."""
    if not isinstance(t, torch.Tensor):
        raise errors.DTypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise errors.UnsupportedError(f"{name} is on {t.device}; pysparsegraph runs on CPU tensors only")
    if t.is_nested:  # strided or jagged layout, but numpy() failed with torch's "Internal error ... file an issue"
        raise errors.UnsupportedError(f"{name} is a nested tensor; pass a dense 1-D or 2-D one "
                                      f"({name}.to_padded_tensor(0.0) for padding, or torch.cat the parts)")
    if t.layout != torch.strided:
        raise errors.UnsupportedError(f"{name} is a sparse tensor ({t.layout}); pass a dense one "
                                      f"({name}.to_dense()), the graph goes in A")
    _plain(t, name)
    if t.dtype not in (torch.float32, torch.float64):
        raise errors.DTypeError(f"{name} must be float32 or float64, got {t.dtype}")
    return t.detach().contiguous().numpy()


def _plain(t, name):
    """Refuses a vmap/torch.func tensor by name: it has no memory of its own for the C kernels (a batched
    backward gradient failed in detach(), and torch.func's refusal blamed a missing setup_context)."""
    if isinstance(t, torch.Tensor) and any(f(t) for f in _WRAPPED):
        raise errors.UnsupportedError(
            f"{name} is a torch.func/vmap transformed tensor (vmap, grad, jacrev, is_grads_batched, jacobian with "
            "vectorize=True); pysparsegraph.torch's C kernels take plain tensors: use torch.autograd and loop over "
            "the batch instead")


def _eager_when_compiled(fn):
    """``fn``, run eagerly (a graph break) under ``torch.compile``: dynamo
    cannot trace the C kernels (it failed on their NumPy views). Decorating
    with ``torch.compiler.disable`` itself would import dynamo with this
    module (about 1 s), so the disabled version is made only when compiling."""
    disabled = []

    @functools.wraps(fn)
    def run(*args, **kwargs):
        if torch.compiler.is_compiling():
            if not disabled:
                disabled.append(torch.compiler.disable(fn))
            return disabled[0](*args, **kwargs)
        return fn(*args, **kwargs)
    return run


def _first_order(name):
    """Decorates the backward of ``name``, which runs in the C kernels, outside
    torch's graph. Under ``create_graph=True`` (grad mode on in the backward),
    with anything it reads needing a gradient, it raises rather than return a
    gradient without its second-order terms. (torch's once_differentiable
    defers that error to a node hung on detached copies, which a second
    gradient reaching the inputs another way never visits: a gradient penalty
    got a wrong gradient, silently.)"""
    def deco(backward):
        @functools.wraps(backward)
        def run(ctx, *grads):
            if torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                               for t in (*grads, *ctx.saved_tensors)):
                raise errors.UnsupportedError(
                    f"create_graph=True through pysparsegraph.torch.{name} is not supported: its backward runs "
                    "in C, outside torch's graph, so second-order terms (a gradient penalty) would be missing")
            with torch.no_grad():
                return backward(ctx, *grads)
        return run
    return deco


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def _stand_in(shape, dtype):
    """A zero-stride array of ``shape``: gives a backward the shape and dtype of an operand it did not keep."""
    return np.broadcast_to(np.zeros((), dtype), shape)


class _SpMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A, X, edge_values, reduce, norm, add_self_loops, n_threads):
        x = _np(X, "X")
        ev = None if edge_values is None else _np(edge_values, "edge_values")
        kw = dict(reduce=reduce, norm=norm, add_self_loops=add_self_loops, n_threads=n_threads)
        if reduce in ("max", "min"):
            y, arg = gnn.gspmm(A, x, edge_values=ev, return_argidx=True, **kw)
        else:
            y, arg = gnn.gspmm(A, x, edge_values=ev, **kw), None
        ctx.A, ctx.kw, ctx.arg = A, kw, arg
        # save only what a requested gradient reads (X for the edge values' gradient, the edge values for X's),
        # so an in-place change after the forward that no gradient reads (a residual ``h += spmm(A, h)``)
        # passes torch's version check, as with torch.sparse.mm; the edge gradient needs only their shape
        need_x, need_e = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        ctx.ev_meta = None if edge_values is None else (tuple(edge_values.shape), ev.dtype)
        ctx.save_for_backward(X if need_e else None, edge_values if need_x else None)
        return _t(y)

    @staticmethod
    @_first_order("spmm")
    def backward(ctx, grad_y):
        X, edge_values = ctx.saved_tensors
        need_x, need_e = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
        if edge_values is not None:
            ev = _np(edge_values, "edge_values")
        elif ctx.ev_meta is not None:  # not saved: X needs no gradient, and the edge gradient reads the shape only
            ev = _stand_in(ctx.ev_meta[0], ctx.ev_meta[1])
        else:
            ev = None
        gx, ge = gnn.spmm_backward(ctx.A, _np(grad_y, "grad"), _np(X, "X") if need_e else None,
                                   edge_values=ev, argidx=ctx.arg, need_edge_grad=bool(need_e),
                                   need_input_grad=bool(need_x), **ctx.kw)
        return (None, _t(gx) if need_x else None, _t(ge) if need_e else None, None, None, None, None)


@_eager_when_compiled
def spmm(A, X, *, reduce="sum", norm=None, add_self_loops=False, edge_values=None, n_threads=None):
    """Differentiable :func:`pysparsegraph.gnn.gspmm` (all reducers, fused
    normalization, implicit self loops, per-edge or per-edge-and-feature
    weights ``edge_values`` that may require grad).

    X: ``(A.n_cols, K)`` CPU tensor. Returns ``(A.n_rows, K)``. Gradients flow
    to X and to ``edge_values``; max/min route the gradient to the winning
    edge of each output element."""
    A = as_csr(A)
    gnn._reduce_code(reduce)
    norm = gnn._check_norm(norm)
    _plain(X, "X")
    _plain(edge_values, "edge_values")
    return _SpMM.apply(A, X, edge_values, reduce, norm, add_self_loops, n_threads)


class _SDDMM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A, X, Y, op, heads, n_threads):
        out = _t(gnn.sddmm(A, _np(X, "X"), _np(Y, "Y"), op=op, heads=heads, n_threads=n_threads))
        ctx.A, ctx.op, ctx.heads, ctx.n_threads = A, op, heads, n_threads
        # grad X reads only Y and grad Y only X (neither for u_add_v): saving an operand no gradient reads made an
        # in-place change of it after the forward fail the version check, unlike the same torch expression
        mul = op != "u_add_v"
        ctx.save_for_backward(X if mul and ctx.needs_input_grad[2] else None,
                              Y if mul and ctx.needs_input_grad[1] else None)
        ctx.shapes, ctx.dtype = (X.shape, Y.shape), X.dtype
        return out

    @staticmethod
    @_first_order("sddmm")
    def backward(ctx, g):
        # an operand not saved is read by no gradient asked for: a zero-stride array gives its shape and dtype
        dt = torch.empty(0, dtype=ctx.dtype).numpy().dtype
        x, y = (_np(t, name) if t is not None else _stand_in(s, dt)
                for t, s, name in zip(ctx.saved_tensors, ctx.shapes, ("X", "Y")))
        need_x, need_y = ctx.needs_input_grad[1:3]
        gx, gy = gnn.sddmm_backward(ctx.A, x, y, _np(g, "grad"), op=ctx.op, heads=ctx.heads, need_x_grad=bool(need_x),
                                    need_y_grad=bool(need_y), n_threads=ctx.n_threads)
        return None, _t(gx) if need_x else None, _t(gy) if need_y else None, None, None, None


@_eager_when_compiled
def sddmm(A, X, Y, *, op="dot", heads=1, n_threads=None):
    """Differentiable :func:`pysparsegraph.gnn.sddmm`: per-edge
    ``<X[r], Y[c]>`` (``op="dot"``, optionally per head), ``X[r] + Y[c]``
    (``"u_add_v"``) or ``X[r] * Y[c]`` (``"u_mul_v"``)."""
    _plain(X, "X")
    _plain(Y, "Y")
    return _SDDMM.apply(as_csr(A), X, Y, op, heads, n_threads)


class _EdgeSoftmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, A, s, n_threads):
        out = _t(gnn.edge_softmax(A, _np(s, "scores"), n_threads=n_threads))
        ctx.A, ctx.n_threads = A, n_threads
        ctx.save_for_backward(out)  # through torch, so an in-place change of the output is caught
        return out

    @staticmethod
    @_first_order("edge_softmax")
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return None, _t(gnn.edge_softmax_backward(ctx.A, _np(a, "alpha"), _np(g, "grad"), n_threads=ctx.n_threads)), \
            None


@_eager_when_compiled
def edge_softmax(A, scores, *, n_threads=None):
    """Differentiable :func:`pysparsegraph.gnn.edge_softmax` over each row's
    (destination's) incoming edges; scores ``(nnz,)`` or ``(nnz, heads)``."""
    _plain(scores, "scores")
    return _EdgeSoftmax.apply(as_csr(A), scores, n_threads)
