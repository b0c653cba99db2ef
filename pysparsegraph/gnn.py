"""Graph neural network kernels: generalized SpMM, SDDMM, edge softmax and
their backward passes (what DGL and PyG call gSpMM / gSDDMM).

Conventions
-----------
* Message direction follows ``Y = A @ X``: row ``r`` of ``A`` is the node that
  aggregates (the destination) and the stored columns of row ``r`` are its
  incoming neighbours. ``edge_softmax`` normalizes over each row.
* An *edge id* is the storage position of an entry in ``A`` (``0 .. nnz-1``);
  arrays of per-edge values are indexed by it. The implicit self loop of row
  ``r`` (``add_self_loops=True``) has edge id ``nnz + r``; it has weight 1
  before normalization and takes no edge value.
* Every kernel runs in C over nnz-balanced row chunks and each output row is
  produced by one thread in storage order: results are bit-identical for any
  thread count.
* Rows with no entries (and no self loop) give 0 for every reducer; their
  ``argidx`` is -1.
* ``max``/``min`` are one scan of the row in storage order (the self loop
  last): the first message starts it, and a later one replaces it only when
  strictly greater (smaller). So ties go to the first message, and a NaN is the
  result only when it is the row's first message; a later NaN never wins.
  This is the rule of a sequential ``if (m > acc) acc = m`` loop, not of
  ``np.max``/``torch.amax``, which propagate any NaN. Sums and means propagate
  NaN and inf as dense arithmetic does.

Normalization (``norm=``), with ``D_out`` the row sums and ``D_in`` the column
sums of ``A`` (weighted by ``A.values``, plus 1 each for added self loops):

* ``"sym"``: ``D_out^-1/2 A D_in^-1/2`` (the GCN normalization; the two are the
  same for a symmetric graph). Negative degrees raise
  :class:`~pysparsegraph.errors.InvalidArgumentError`.
* ``"row"``: ``D_out^-1 A`` (mean over neighbours, weighted).
* ``"col"``: ``A D_in^-1``.

A zero degree gives a zero scale (an isolated node contributes nothing), as
PyG's ``gcn_norm`` does. Degrees are computed once in C and cached on ``A``
(``A._cache``), as are the scale vectors per dtype and the transposed structure
used by :func:`spmm_transpose` and the backward passes
(:func:`transpose_nbytes` reports its memory).
"""
import numpy as np

from pysparsegraph import _core, errors
from pysparsegraph._validate import (FLOAT_DTYPES, as_flag, c_aligned, native_float, readonly_view, resolve_threads,
                                     to_ndarray)
from pysparsegraph.matrix import CSRMatrix, as_csr
from pysparsegraph.ops import _dense_operand, _output, empty_aligned, spmm
from pysparsegraph.plan import _checked_plan

REDUCERS = {"sum": 0, "mean": 1, "max": 2, "min": 3}
NORMS = (None, "sym", "row", "col")
SDDMM_OPS = {"dot": 0, "u_add_v": 1, "u_mul_v": 2}

__all__ = ["degrees", "edge_softmax", "edge_softmax_backward", "gspmm", "sddmm", "sddmm_backward",
           "spmm_backward", "spmm_transpose", "transpose_nbytes"]


# ---------------------------------------------------------------- validation
def _reduce_code(reduce):
    if not isinstance(reduce, str) or reduce not in REDUCERS:
        raise errors.InvalidArgumentError(f"reduce must be one of {list(REDUCERS)}, got {reduce!r}")
    return REDUCERS[reduce]


def _check_norm(norm):
    """``norm`` checked; ``"none"`` (the scikit-learn estimators' spelling) is None."""
    if isinstance(norm, str) and norm == "none":
        return None
    if not (norm is None or (isinstance(norm, str) and norm in NORMS)):
        raise errors.InvalidArgumentError(f"norm must be one of {list(NORMS)} (or 'none'), got {norm!r}")
    return norm


def _dense(x, name, rows=None, read=True):
    """``x`` as a 2-D C-contiguous float32/float64 array (one copy if its layout
    is not C order) and whether it was 1-D; ``rows = (n, why)`` checks its length.
    ``read=False``: only its shape and dtype are used (no copy; a zero-stride array will do)."""
    x, vector = _dense_operand(x, name, read)
    if rows is not None and x.shape[0] != rows[0]:
        raise errors.ShapeMismatchError(f"{name} has {x.shape[0]} rows but {rows[1]}")
    return x, vector


def _same_dtype(a, b, name_a, name_b):
    if a.dtype != b.dtype:
        raise errors.DTypeError(f"{name_a} ({a.dtype}) and {name_b} ({b.dtype}) must have the same dtype")


def _edge_array(A, ev, dtype, k, name="edge_values"):
    """Edge values as a C-contiguous ``(nnz, width)`` ``dtype`` array and their
    width: 1 (one per edge), H dividing K (one per edge and head, each
    covering K/H consecutive features) or K (one per edge and feature).
    Other dtypes are converted (one copy)."""
    ev = np.asarray(ev)
    width = _edge_width(A, ev.shape, ev.dtype, k, name)
    ev = c_aligned(np.asarray(ev, dtype=dtype)).reshape(A.nnz, width)
    return ev, width


def _edge_width(A, shape, dtype, k, name):
    """The width (1, H or K) of edge values of ``shape`` and ``dtype``, checked as :func:`_edge_array` says."""
    if dtype.kind not in "fiub":
        raise errors.DTypeError(f"{name} must hold real numbers, got dtype {dtype}")
    if len(shape) not in (1, 2):
        raise errors.ShapeMismatchError(f"{name} must have shape (nnz,) or (nnz, H), got {shape}")
    width = 1 if len(shape) == 1 else shape[1]
    if shape[0] != A.nnz or not (width == 1 or (k > 0 and width > 0 and k % width == 0)):
        raise errors.ShapeMismatchError(
            f"{name} has shape {shape} but the graph has nnz={A.nnz} stored edges and the features have "
            f"K={k} columns; pass one value per edge (nnz,), one per edge and head (nnz, H) with H dividing K, "
            f"or one per edge and feature (nnz, {k})")
    return width


# ------------------------------------------------------------ cached graph data
def degrees(A, *, add_self_loops=False, n_threads=None):
    """``(out_degree, in_degree)`` of ``A`` as float64 arrays: row sums and
    column sums of its values (entry counts when unweighted), plus 1 each with
    ``add_self_loops``. Computed once in C and cached on ``A``."""
    A = as_csr(A)
    key = ("gnn", "degrees")
    if key not in A._cache:
        row, col = _core.csr_degrees(A.n_cols, A.indptr, A.indices, A.values, resolve_threads(n_threads))
        A._cache[key] = (readonly_view(row), readonly_view(col))
    row, col = A._cache[key]
    if as_flag(add_self_loops, "add_self_loops"):
        return row + 1.0, col + 1.0
    return row, col


def _check_loops(A, add_self_loops):
    """``add_self_loops`` as a bool, checked against A's shape."""
    add_self_loops = as_flag(add_self_loops, "add_self_loops")
    if add_self_loops and A.n_rows != A.n_cols:
        raise errors.ShapeMismatchError(f"add_self_loops needs a square matrix, A is {A.n_rows}x{A.n_cols}")
    return add_self_loops


def _inv(d, power):
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(d != 0, d ** -power, 0.0)
    return s


def _scales(A, norm, add_self_loops, dtype):
    """(row_scale, col_scale) of ``norm`` in ``dtype`` (either may be None), cached."""
    if norm is None:
        return None, None
    dtype = np.dtype(dtype)
    key = ("gnn", "scales", norm, bool(add_self_loops), dtype.str)
    if key not in A._cache:
        d_out, d_in = degrees(A, add_self_loops=add_self_loops)
        if norm == "sym":
            for d, which in ((d_out, "row sums (out-degrees)"), (d_in, "column sums (in-degrees)")):
                if (d < 0).any():  # not d.min(): a NaN degree would hide the negative ones
                    raise errors.InvalidArgumentError(
                        f"norm='sym' needs non-negative degrees, but A has negative {which} (minimum "
                        f"{d[d < 0].min():g}) from negative values; use norm='row'/'col' or non-negative weights")
            ls, rs = _inv(d_out, 0.5), _inv(d_in, 0.5)
        elif norm == "row":
            ls, rs = _inv(d_out, 1.0), None
        else:
            ls, rs = None, _inv(d_in, 1.0)
        big = np.finfo(dtype).max
        for s in (ls, rs):
            if s is not None and (np.abs(s) > big).any():  # inf in the cast would give inf products
                d = d_out if s is ls else d_in
                raise errors.InvalidArgumentError(
                    f"norm={norm!r}: a degree of {d[np.abs(s) > big][0]:g} has a scale beyond {dtype.name}'s range "
                    f"(its inverse or inverse square root exceeds {big:g}); compute in float64 or rescale the "
                    f"edge values")
        conv = tuple(None if s is None else readonly_view(s.astype(dtype)) for s in (ls, rs))
        A._cache[key] = conv
    return A._cache[key]


def _transpose(A, n_threads=None, need_eid=True):
    """Cached ``(t_indptr, t_indices, t_eid)`` of ``A``ᵀ built in C. The edge
    ids (8 bytes per edge) are built only once something needs them (edge
    values, max/min arg indices); ``t_eid`` is None until then."""
    key = ("gnn", "transpose")
    cached = A._cache.get(key)
    if cached is None or (need_eid and cached[2] is None):
        if A.index_dtype == np.int32 and A.n_rows > np.iinfo(np.int32).max:
            raise errors.UnsupportedError("the transpose of a matrix with more than 2^31-1 rows needs int64 "
                                          "indices; rebuild A with index_dtype=np.int64")
        t = _core.csr_transpose(A.n_cols, A.indptr, A.indices, bool(need_eid), resolve_threads(n_threads))
        if cached is not None:  # built again, now with edge ids: what shared the old arrays would keep them alive
            for k in [k for k in list(A._cache) if k[:2] in (("gnn", "t_csr"), ("gnn", "t_struct"))]:
                A._cache.pop(k, None)
        A._cache[key] = cached = tuple(readonly_view(a) for a in t)
    return cached


def _transpose_structure(A, n_threads=None, need_eid=True):
    """``(T, t_eid)``: the cached transpose as a structure-only CSRMatrix (it
    carries the transposed products' plans in its own cache) and its edge ids."""
    tp, ti, te = _transpose(A, n_threads, need_eid)
    T = A._cache.get(("gnn", "t_struct"))
    if T is None or T.indptr is not tp:
        T = A._cache[("gnn", "t_struct")] = CSRMatrix._trusted(tp, ti, None, (A.n_cols, A.n_rows))
    return T, te


def _fused(S, code, ev, width, eid, nnz_edges, ls, rs, loops, argidx, x, y, n_threads, plan=None):
    """y[:] = the GNN product over structure S (A, or its transpose) on a CSR
    SpMM plan of S: ``plan``, else S's cached automatic one (the chunks, work
    stealing and SIMD kernels of the plain product)."""
    handle = None
    if S.n_rows and x.shape[1]:
        layout = getattr(plan, "layout", "csr")
        if layout != "csr":
            raise errors.InvalidArgumentError(f"reduce/norm/self-loop/edge-value products need a CSR-layout plan, "
                                              f"got layout={layout!r}; build one with plan_spmm(A, k, layout='csr')")
        handle = _checked_plan(S, x.shape[1], x.dtype, n_threads, plan)._handle
    elif plan is not None:  # an empty product still refuses a plan that does not fit it
        _checked_plan(S, x.shape[1], x.dtype, n_threads, plan)
    _core.gspmm(S.n_cols, S.indptr, S.indices, code, ev, width, eid, nnz_edges, ls, rs, bool(loops), argidx,
                x, y, resolve_threads(n_threads), handle)


def _transpose_values(A, dtype):
    """A's values in transposed storage order (cached per dtype), or None."""
    if A.values is None:
        return None
    key = ("gnn", "t_values", np.dtype(dtype).str)
    if key not in A._cache:
        A._cache[key] = readonly_view(A.values_as(dtype)[_transpose(A)[2]])
    return A._cache[key]


def _transpose_csr(A, dtype):
    """The cached transpose as a CSRMatrix sharing the cached arrays."""
    key = ("gnn", "t_csr", np.dtype(dtype).str)
    if key not in A._cache:
        tp, ti, _ = _transpose(A, need_eid=A.values is not None)
        A._cache[key] = CSRMatrix._trusted(tp, ti, _transpose_values(A, dtype), (A.n_cols, A.n_rows))
    return A._cache[key]


def transpose_nbytes(A):
    """Bytes held by the cached transposed structure of ``A`` (``t_indptr``,
    ``t_indices``, ``t_eid`` and transposed value copies); 0 if not built."""
    A = as_csr(A)
    n = 0
    for key, val in list(A._cache.items()):  # a snapshot: other threads may be adding plans meanwhile
        if key[:2] in (("gnn", "transpose"), ("gnn", "t_values")):
            n += sum(a.nbytes for a in (val if isinstance(val, tuple) else (val,)) if a is not None)
    return n


# ------------------------------------------------------------------- gspmm
def gspmm(A, X, out=None, *, reduce="sum", norm=None, add_self_loops=False, edge_values=None,
          return_argidx=False, argidx_out=None, transpose=False, n_threads=None, plan=None):
    """Generalized sparse × dense product ``Y[r] = reduce_{(r, c) in A} w_rc * X[c]``.

    Parameters
    ----------
    A : CSRMatrix or scipy.sparse matrix, ``n_rows × n_cols``
    X : ndarray float32/float64, ``(n_cols, K)`` or ``(n_cols,)``
        (``(n_rows, K)`` with ``transpose=True``). Non C-ordered X is copied once.
    out : ndarray, optional
        Receives Y (dtype of X, C-contiguous).
    reduce : {"sum", "mean", "max", "min"}
        ``mean`` divides by the number of entries of the row (self loop
        included); ``max``/``min`` take the extreme message elementwise (ties:
        first in storage order; a NaN wins only as the row's first message,
        see the module notes). Rows without entries give 0.
    norm : {None, "sym", "row", "col"}
        Fused normalization from cached degrees (see the module docstring); no
        value array is materialized. ``"none"`` (the scikit-learn estimators'
        spelling) is None.
    add_self_loops : bool
        Adds an implicit entry (r, r) of weight 1 to every row (square A).
    edge_values : array_like, optional
        Weights used instead of ``A.values``, indexed by edge id: shape
        ``(nnz,)`` (one per edge), ``(nnz, H)`` with H dividing K (one per edge
        and head: weight h scales features ``[h*K/H, (h+1)*K/H)``, as in
        multi-head attention) or ``(nnz, K)`` (one per edge and feature).
        Converted to X's dtype (one copy) if needed. Degrees for ``norm``
        always come from ``A.values``.
    return_argidx : bool
        ``max``/``min`` only: also return an int64 array shaped like Y holding
        the edge id that produced each element (``nnz + r`` for the self loop,
        -1 for an empty row), needed by :func:`spmm_backward`.
    argidx_out : ndarray, optional
        With ``return_argidx``: receives the arg indices (int64, shaped like
        Y, C-contiguous, not overlapping the inputs or ``out``) and is
        returned, so a training loop can reuse one array instead of
        allocating (and page-faulting in) a new one each step.
    transpose : bool
        Compute with ``Aᵀ`` (the normalized ``N(A)ᵀ``, so it is the adjoint of
        the forward product) without the caller building CSC: the transposed
        structure is built once in C and cached (:func:`transpose_nbytes`).
    n_threads : int, optional
        ``None``: the OpenMP runtime's limit at call time.
    plan : Plan, optional
        A CSR-layout plan of A from :func:`pysparsegraph.plan_spmm` for X's
        width and dtype (not with ``transpose``). By default the product runs
        on A's cached automatic plan, the one the plain ``A @ X`` uses: same
        chunks (hub rows split into pieces), work stealing and SIMD kernels.

    Returns
    -------
    Y, or ``(Y, argidx)`` with ``return_argidx``.
    """
    A = as_csr(A)
    code = _reduce_code(reduce)
    norm = _check_norm(norm)
    add_self_loops = _check_loops(A, add_self_loops)
    return_argidx, transpose = as_flag(return_argidx, "return_argidx"), as_flag(transpose, "transpose")
    if return_argidx and code < 2:
        raise errors.InvalidArgumentError(f"return_argidx needs reduce='max' or 'min', got reduce={reduce!r}")
    if argidx_out is not None and not return_argidx:
        raise errors.InvalidArgumentError("argidx_out is given but return_argidx is False: pass "
                                          "return_argidx=True to fill it")
    if plan is not None and transpose:
        raise errors.InvalidArgumentError("plan is a plan of A, not of Aᵀ: drop plan= with transpose=True")
    n_in, n_outr = (A.n_rows, A.n_cols) if transpose else (A.n_cols, A.n_rows)
    x, vector = _dense(X, "X")
    if x.shape[0] != n_in:
        what = "Aᵀ @ X needs X with A.n_rows" if transpose else "A @ X needs X with A.n_cols"
        raise errors.ShapeMismatchError(f"X has {x.shape[0]} rows; {what} = {n_in} rows")
    k = x.shape[1]
    if edge_values is not None:
        ev, width = _edge_array(A, edge_values, x.dtype, k)
    else:
        ev, width = None, 1
    ls, rs = _scales(A, norm, add_self_loops, x.dtype)
    y = _output(out, (n_outr, k), x.dtype, vector, (x, ev, A._indptr, A._indices, A.values))  # A checked by as_csr
    argidx = None
    if return_argidx:
        argidx = _output(argidx_out, (n_outr, k), np.dtype(np.int64), vector,
                         (x, ev, y, A._indptr, A._indices, A.values), name="argidx_out", dtype_why="edge ids")
    if not transpose:
        if ev is None:
            ev = A.values_as(x.dtype)
        if code == 0 and norm is None and not add_self_loops and edge_values is None:
            spmm(A, x, out=y, n_threads=n_threads, plan=plan)  # the plain SpMM path
        else:
            _fused(A, code, ev, width, None, A.nnz, ls, rs, add_self_loops, argidx, x, y, n_threads, plan)
    else:
        # edge ids matter only for weights and for arg indices
        use_eid = A.values is not None or edge_values is not None or argidx is not None
        if code == 0 and norm is None and not add_self_loops and edge_values is None:
            # Plain Aᵀ @ X: the forward SpMM path on the cached transpose (a
            # CSRMatrix with values permuted once), so it runs at forward speed
            # and with whatever plans the forward path caches.
            spmm(_transpose_csr(A, x.dtype), x, out=y, n_threads=n_threads)
        else:
            T, te = _transpose_structure(A, n_threads, need_eid=use_eid)
            if ev is None and A.values is not None:
                ev = A.values_as(x.dtype)
            _fused(T, code, ev, width, te if use_eid else None, A.nnz, rs, ls, add_self_loops, argidx, x, y,
                   n_threads)
    res = out if out is not None else (y[:, 0] if vector else y)
    if return_argidx:
        return res, (argidx_out if argidx_out is not None else argidx[:, 0] if vector else argidx)
    return res


def spmm_transpose(A, X, out=None, *, reduce="sum", norm=None, add_self_loops=False, edge_values=None,
                   return_argidx=False, argidx_out=None, n_threads=None):
    """``N(A)ᵀ @ X`` with the options of :func:`gspmm` (same as
    ``gspmm(..., transpose=True)``): the backward of SpMM without building CSC."""
    return gspmm(A, X, out, reduce=reduce, norm=norm, add_self_loops=add_self_loops, edge_values=edge_values,
                 return_argidx=return_argidx, argidx_out=argidx_out, transpose=True, n_threads=n_threads)


def spmm_backward(A, grad_out, X=None, *, reduce="sum", norm=None, add_self_loops=False, edge_values=None,
                  argidx=None, need_edge_grad=False, need_input_grad=True, n_threads=None):
    """Gradients of ``Y = gspmm(A, X, reduce=..., norm=..., ...)``.

    Parameters
    ----------
    A : the forward's matrix.
    grad_out : ndarray ``(n_rows, K)``, dL/dY.
    X : ndarray ``(n_cols, K)``, the forward's input; needed only for the
        edge-value gradient.
    reduce, norm, add_self_loops, edge_values : as in the forward call.
    argidx : int64 ``(n_rows, K)``, from the forward with ``return_argidx=True``
        (required for ``max``/``min``).
    need_edge_grad : bool
        Also return dL/d(edge weights): shaped like ``edge_values`` (or
        ``(nnz,)`` for ``A.values`` when ``edge_values`` is None). Self loops
        have a constant weight and no gradient. With ``norm``, the gradient
        for ``A.values`` includes their effect through the degrees (sums of
        ``A.values``; ones when unweighted); ``edge_values`` do not enter the
        degrees, so theirs has no such term.
    need_input_grad : bool
        Compute dL/dX (default). False returns None in its place and skips
        its product over the transpose; the edge gradient then reads only
        the shape of ``edge_values``, not their values.
    n_threads : int, optional
        ``None`` = the OpenMP limit at call time.

    Returns
    -------
    ``(grad_X, grad_edge)``; ``grad_X`` is None unless ``need_input_grad``,
    ``grad_edge`` None unless ``need_edge_grad``.
    """
    A = as_csr(A)
    code = _reduce_code(reduce)
    norm = _check_norm(norm)
    add_self_loops = _check_loops(A, add_self_loops)
    need_edge_grad = as_flag(need_edge_grad, "need_edge_grad")
    need_input_grad = as_flag(need_input_grad, "need_input_grad")
    gy, vector = _dense(grad_out, "grad_out", (A.n_rows, f"A has {A.n_rows} rows"))
    k = gy.shape[1]
    threads = resolve_threads(n_threads)
    x = None
    if X is not None or need_edge_grad:
        if X is None:
            raise errors.InvalidArgumentError("need_edge_grad=True needs X (the forward's input)")
        x, _ = _dense(X, "X", (A.n_cols, f"A has {A.n_cols} columns"))
        _same_dtype(x, gy, "X", "grad_out")
        if x.shape[1] != k:
            raise errors.ShapeMismatchError(f"X has {x.shape[1]} columns but grad_out has {k}")
    # the degree terms of A.values' gradient read grad_X even when the caller does not want it
    want_gx = need_input_grad or (need_edge_grad and edge_values is None and norm is not None)
    if edge_values is not None and want_gx:
        ev, width = _edge_array(A, edge_values, gy.dtype, k)
    elif edge_values is not None:  # only their shape matters to the edge gradient
        ev, width = None, _edge_width(A, np.shape(edge_values), np.asarray(edge_values).dtype, k, "edge_values")
    else:
        ev, width = (A.values_as(gy.dtype) if want_gx else None), 1
    ls, rs = _scales(A, norm, add_self_loops, gy.dtype)
    g_edge, gx = None, None
    if code <= 1:
        eff_ls = ls
        if code == 1:  # mean: the row's 1/count is one more row factor
            cnt = np.diff(A.indptr).astype(gy.dtype) + (1 if add_self_loops else 0)
            inv = _inv(cnt, 1.0).astype(gy.dtype)
            eff_ls = inv if ls is None else (ls * inv).astype(gy.dtype)
        if want_gx:
            T, te = _transpose_structure(A, n_threads, need_eid=ev is not None)
            gx = empty_aligned((A.n_cols, k), gy.dtype)
            _fused(T, 0, ev, width, te if ev is not None else None, A.nnz, rs, eff_ls, add_self_loops, None, gy,
                   gx, n_threads)
        if need_edge_grad:
            gys = gy if eff_ls is None else gy * eff_ls[:, None]
            xs = x if rs is None else x * rs[:, None]
            if width == k and k > 1:
                g_edge = sddmm(A, gys, xs, op="u_mul_v", n_threads=n_threads)
            else:  # one gradient per edge and head (width 1: a single head)
                g_edge = sddmm(A, gys, xs, op="dot", heads=width, n_threads=n_threads)
    else:
        if argidx is None:
            raise errors.InvalidArgumentError(f"reduce={reduce!r} backward needs argidx from the forward "
                                              "(call it with return_argidx=True)")
        arg = np.asarray(argidx)
        if arg.dtype != np.int64 or arg.shape not in (gy.shape, (gy.shape[0],) if vector else gy.shape):
            raise errors.ShapeMismatchError(f"argidx must be int64 shaped like grad_out {np.shape(grad_out)}, "
                                            f"got {arg.dtype} {arg.shape}")
        arg = np.ascontiguousarray(arg).reshape(gy.shape)
        _core.gspmm_check_argidx(A.n_cols, A.indptr, bool(add_self_loops), A.nnz, arg, threads)
        if want_gx:
            tp, ti, te = _transpose(A, n_threads)
            gx = np.empty((A.n_cols, k), dtype=gy.dtype)
            _core.gspmm_arg_backward_x(A.n_rows, tp, ti, te, ev, width, A.nnz, ls, rs, bool(add_self_loops), arg,
                                       gy, gx, threads)
        if need_edge_grad:
            g_edge = np.empty((A.nnz, width), dtype=gy.dtype)
            _core.gspmm_arg_backward_e(A.n_cols, A.indptr, A.indices, ls, rs, arg, x, gy, width, g_edge, threads)
            if width == 1:
                g_edge = g_edge[:, 0]
    if g_edge is not None and edge_values is None and norm is not None:
        g_edge -= _degree_terms(A, reduce, norm, add_self_loops, x, gy, gx, n_threads)
    if g_edge is not None and edge_values is not None:
        g_edge = g_edge.reshape(np.shape(edge_values))
    if not need_input_grad:
        return None, g_edge
    return (gx[:, 0] if vector else gx), g_edge


def _degree_terms(A, reduce, norm, add_self_loops, x, gy, gx, n_threads):
    """What ``norm``'s degrees add to dL/d(A.values): they are sums of those values, so
    an entry (i, j) also moves row i's scale (norm 'row', 'sym') and column j's ('col',
    'sym'). With ls = d_out^-a, rs = d_in^-b (a, b in {0, 1/2, 1}), the entry's
    gradient gets -a (G_i . Y_i) / d_out_i - b (gx_j . X_j) / d_in_j, where Y is the
    forward's output and gx the input gradient (each of its terms carries one rs_j,
    for sums as for the max/min arg entries); 0 at a zero degree."""
    a, b = {"row": (1.0, 0.0), "col": (0.0, 1.0), "sym": (0.5, 0.5)}[norm]
    d_out, d_in = degrees(A, add_self_loops=add_self_loops)
    terms = np.zeros(A.nnz, dtype=gy.dtype)
    if a:
        y = gspmm(A, x, reduce=reduce, norm=norm, add_self_loops=add_self_loops, n_threads=n_threads)
        u = a * np.einsum("ik,ik->i", gy, y) * _inv(d_out, 1.0)
        terms += np.repeat(u, np.diff(A.indptr)).astype(gy.dtype, copy=False)
    if b:
        v = b * np.einsum("jk,jk->j", gx, x) * _inv(d_in, 1.0)
        terms += v[A.indices].astype(gy.dtype, copy=False)
    return terms


# ------------------------------------------------------------------- sddmm
def _check_heads(heads):
    if isinstance(heads, bool) or not isinstance(heads, (int, np.integer)) or heads < 1:
        raise errors.InvalidArgumentError(f"heads must be a positive integer, got {heads!r}")


def _sddmm_widths(op, heads, x, y):
    """(Kx, Ky) of sddmm's operands, checked against op and heads (heads split op='dot' only)."""
    _check_heads(heads)
    kx, ky = x.shape[1], y.shape[1]
    if op == "dot":
        if kx != ky or kx % heads:
            raise errors.ShapeMismatchError(f"op='dot' needs X and Y of equal width divisible by heads={heads}, "
                                            f"got {kx} and {ky}")
    else:
        if heads != 1:
            raise errors.InvalidArgumentError(f"heads splits op='dot' only; op={op!r} takes heads=1, got {heads!r}")
        if kx != ky and 1 not in (kx, ky):
            raise errors.ShapeMismatchError(f"op={op!r} needs X and Y of equal width or one of width 1, "
                                            f"got {kx} and {ky}")
    return kx, ky


def sddmm(A, X, Y, *, op="dot", heads=1, out=None, n_threads=None):
    """Values on the stored edges of ``A`` from the features of both ends.

    For every stored entry ``j = (r, c)``:

    * ``op="dot"``: ``out[j] = <X[r], Y[c]>``; with ``heads=H`` the feature
      width is split into H equal slices and ``out[j, h]`` is the dot product
      of slice h (shape ``(nnz, H)``).
    * ``op="u_add_v"``: ``out[j] = X[r] + Y[c]``; ``op="u_mul_v"``: the
      product. Shape ``(nnz, K)``; a side of width 1 broadcasts.

    ``u`` is the row end ``r`` (the node that aggregates in :func:`gspmm`)
    and ``v`` the column end ``c``. DGL names the message's source ``u``: for
    a DGL graph's edge ``src -> dst`` stored as ``A[dst, src]``, DGL's
    ``u_add_v(Xsrc, Ydst)`` is ``sddmm(A, Ydst, Xsrc, op="u_add_v")`` here.

    X: ``(n_rows, Kx)``, Y: ``(n_cols, Ky)``, same float dtype. Parallel over
    chunks of equal edge counts (a hub row is split among threads); output in
    A's storage order (edge ids).

    ``out`` (optional) receives the result and is returned: the shape above
    (``(nnz,)`` for ``op="dot"`` with ``heads=1``), the dtype of X and Y,
    C-contiguous, writeable, not overlapping X, Y or A's index arrays.
    ``n_threads``: ``None`` = the OpenMP runtime's limit at call time.
    """
    A = as_csr(A)
    if not isinstance(op, str) or op not in SDDMM_OPS:
        raise errors.InvalidArgumentError(f"op must be one of {list(SDDMM_OPS)}, got {op!r}")
    x, _ = _dense(X, "X", (A.n_rows, f"A has {A.n_rows} rows (X gives the row end of each edge)"))
    y, _ = _dense(Y, "Y", (A.n_cols, f"A has {A.n_cols} columns (Y gives the column end of each edge)"))
    _same_dtype(x, y, "X", "Y")
    kx, ky = _sddmm_widths(op, heads, x, y)
    if op == "dot":
        shape = (A.nnz,) if heads == 1 else (A.nnz, int(heads))
        width = int(heads)
    else:
        width = ky if kx == 1 else kx  # NumPy's broadcast: a width-1 side takes the other's width, even 0
        shape = (A.nnz, width)
    res = _output(out, (A.nnz, width), x.dtype, len(shape) == 1, (x, y, A._indptr, A._indices),
                  dtype_why="the dtype of X and Y")
    _core.sddmm(SDDMM_OPS[op], A.n_cols, A.indptr, A.indices, x, y, int(heads) if op == "dot" else 1, res,
                resolve_threads(n_threads))
    return out if out is not None else res.reshape(shape)


def sddmm_backward(A, X, Y, grad_out, *, op="dot", heads=1, need_x_grad=True, need_y_grad=True, n_threads=None):
    """``(grad_X, grad_Y)`` of ``out = sddmm(A, X, Y, op=op, heads=heads)``
    given ``grad_out`` shaped like ``out``, computed with :func:`gspmm` on A
    and on its cached transpose (no dense adjacency). ``need_x_grad=False``
    (``need_y_grad=False``) returns None in its place and skips its product;
    an operand no requested gradient reads (grad X reads Y, grad Y reads X,
    neither for ``"u_add_v"``) is used for its shape and dtype only."""
    A = as_csr(A)
    if not isinstance(op, str) or op not in SDDMM_OPS:
        raise errors.InvalidArgumentError(f"op must be one of {list(SDDMM_OPS)}, got {op!r}")
    need_x_grad, need_y_grad = as_flag(need_x_grad, "need_x_grad"), as_flag(need_y_grad, "need_y_grad")
    mul = op != "u_add_v"
    x, xvec = _dense(X, "X", (A.n_rows, f"A has {A.n_rows} rows"), read=mul and need_y_grad)
    y, yvec = _dense(Y, "Y", (A.n_cols, f"A has {A.n_cols} columns"), read=mul and need_x_grad)
    _same_dtype(x, y, "X", "Y")
    g = np.asarray(grad_out)
    if g.dtype != x.dtype:
        raise errors.DTypeError(f"grad_out ({g.dtype}) must have the dtype of X ({x.dtype})")
    kx, ky = _sddmm_widths(op, heads, x, y)
    if op == "dot":
        want = (A.nnz,) if heads == 1 else (A.nnz, int(heads))  # the shape sddmm gave out
        if g.shape != want and g.shape != (A.nnz, int(heads)):
            raise errors.ShapeMismatchError(f"grad_out must have the shape of sddmm's output {want}, got {g.shape}")
        gw = g.reshape(A.nnz, int(heads))  # one weight per edge and head
        if kx == 0:  # an empty dot product: nothing flows back
            gx, gy = np.zeros((A.n_rows, 0), x.dtype), np.zeros((A.n_cols, 0), x.dtype)
        else:
            gx = gspmm(A, y, edge_values=gw, n_threads=n_threads) if need_x_grad else None
            gy = gspmm(A, x, edge_values=gw, transpose=True, n_threads=n_threads) if need_y_grad else None
    else:
        k = ky if kx == 1 else kx
        if g.shape != (A.nnz, k):
            raise errors.ShapeMismatchError(f"grad_out must have shape ({A.nnz}, {k}), got {g.shape}")
        if k == 0:  # an empty product: nothing flows back (a width-1 side gets a sum over no columns)
            gx, gy = np.zeros((A.n_rows, kx), x.dtype), np.zeros((A.n_cols, ky), x.dtype)
        else:
            def against(v, n):  # what g is summed against: v at width k, or ones for u_add_v (v is not read)
                return np.ascontiguousarray(np.broadcast_to(v, (n, k))) if mul else np.ones((n, k), x.dtype)

            gx = gspmm(A, against(y, A.n_cols), edge_values=g, n_threads=n_threads) if need_x_grad else None
            gy = (gspmm(A, against(x, A.n_rows), edge_values=g, transpose=True, n_threads=n_threads)
                  if need_y_grad else None)
            if gx is not None and kx == 1 and k > 1:  # a broadcast side gets the sum over the width
                gx = gx.sum(axis=1, keepdims=True)
            if gy is not None and ky == 1 and k > 1:
                gy = gy.sum(axis=1, keepdims=True)
    if not need_x_grad:
        gx = None
    if not need_y_grad:
        gy = None
    return (gx[:, 0] if xvec and gx is not None else gx), (gy[:, 0] if yvec and gy is not None else gy)


# ------------------------------------------------------------- edge softmax
def _scores(A, s, name):
    s = to_ndarray(s, name)
    s = s.astype(native_float(s.dtype), copy=False)
    if s.dtype not in FLOAT_DTYPES:
        raise errors.DTypeError(f"{name} must be float32 or float64, got {s.dtype}")
    if s.ndim not in (1, 2) or s.shape[0] != A.nnz:
        raise errors.ShapeMismatchError(f"{name} must have shape (nnz,) or (nnz, heads) with nnz={A.nnz}, "
                                        f"got {s.shape}")
    return c_aligned(s)


def edge_softmax(A, scores, *, n_threads=None):
    """Softmax of per-edge scores over the incoming edges of each destination
    (the entries of each row of ``A``), each head separately:
    ``alpha[j] = exp(s[j] - m_r) / sum_{j' in row r} exp(s[j'] - m_r)`` with
    ``m_r`` the row maximum (numerically stable).

    scores: ``(nnz,)`` or ``(nnz, heads)`` float32/float64, in A's storage order.
    Returns a new array of the same shape."""
    A = as_csr(A)
    s = _scores(A, scores, "scores")
    out = np.empty_like(s)
    heads = 1 if s.ndim == 1 else s.shape[1]
    _core.edge_softmax(A.indptr, s.reshape(A.nnz, heads), heads, out.reshape(A.nnz, heads),
                       resolve_threads(n_threads))
    return out


def edge_softmax_backward(A, alpha, grad_alpha, *, n_threads=None):
    """dL/dscores of :func:`edge_softmax` given its output ``alpha`` and
    ``grad_alpha`` = dL/dalpha: ``alpha * (grad_alpha - sum_row(alpha * grad_alpha))``."""
    A = as_csr(A)
    a = _scores(A, alpha, "alpha")
    g = _scores(A, grad_alpha, "grad_alpha")
    if a.shape != g.shape:
        raise errors.ShapeMismatchError(f"alpha {a.shape} and grad_alpha {g.shape} must have the same shape")
    _same_dtype(a, g, "alpha", "grad_alpha")
    out = np.empty_like(a)
    heads = 1 if a.ndim == 1 else a.shape[1]
    _core.edge_softmax_backward(A.indptr, a.reshape(A.nnz, heads), g.reshape(A.nnz, heads), heads,
                                out.reshape(A.nnz, heads), resolve_threads(n_threads))
    return out
