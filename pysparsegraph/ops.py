"""Sparse × dense products (public entry points)."""
import numpy as np

from pysparsegraph import _core, errors
from pysparsegraph import plan as _plan
from pysparsegraph._validate import (FLOAT_DTYPES, as_dim, as_dtype, c_aligned, native_float, resolve_threads,
                                     to_ndarray)
from pysparsegraph.matrix import as_csr


def _dense_operand(x, name, read=True):
    """A 2-D C-contiguous float32/float64 view of ``x`` (one copy if its layout
    is not C-contiguous or its byte order not native) and whether it came in as a vector.
    ``read=False``: the values will not be read, only the shape and dtype: no copy for the layout."""
    nd = _core.c_float_ndim(x)  # the common case: nothing to check further
    if nd:
        return (x, False) if nd == 2 else (x.reshape(-1, 1), True)
    x = to_ndarray(x, name)
    x = x.astype(native_float(x.dtype), copy=False)
    if x.dtype not in FLOAT_DTYPES:
        raise errors.DTypeError(f"{name} must be float32 or float64, got {x.dtype}; "
                                f"convert it with {name}.astype(np.float32)")
    if x.ndim not in (1, 2):
        raise errors.ShapeMismatchError(f"{name} must be 1-D or 2-D, got shape {x.shape}")
    vector = x.ndim == 1
    if vector:
        x = x.reshape(-1, 1)
    return (c_aligned(x) if read else x), vector  # the one documented copy, for a layout the C core cannot read


def empty_aligned(shape, dtype=np.float32):
    """An uninitialized C-contiguous array whose data starts on a 64-byte boundary.

    ``numpy.empty`` only promises 16 bytes. ``dtype`` must be numeric (bool,
    integer, float or complex). Products into an aligned ``out``
    (with rows a whole number of 64-byte lines) can write Y with streaming
    stores; see ``store`` in :func:`pysparsegraph.plan_spmm`.
    """
    dtype = as_dtype(dtype, "dtype")
    if dtype.kind not in "biufc":  # object slots left uninitialized would crash NumPy; strings have no use here
        raise errors.DTypeError(f"dtype must be a numeric (bool, integer, float or complex) dtype, got {dtype}")
    try:
        scalar = np.ndim(shape) == 0
    except ValueError:  # a ragged list such as [2, [3]]: as_dim below refuses the size that is not an integer
        scalar = False
    shape = (shape,) if scalar else tuple(shape)
    shape = tuple(as_dim(s, "every size in shape") for s in shape)
    if not dtype.isnative:  # the allocator builds native arrays: view the bytes in the asked-for order
        return _aligned(shape, dtype.newbyteorder("=")).view(dtype)
    return _aligned(shape, dtype)


def _aligned(shape, dtype):
    """:func:`empty_aligned` for a tuple of sizes and a numpy dtype already
    checked: a product's output, where checking again cost 6 of its 8 us."""
    try:
        return _core.empty_on_line(shape, dtype)
    except (MemoryError, ValueError) as exc:  # the size overflows (NumPy: ValueError "too big") or malloc failed
        span = dtype.itemsize * int(np.prod([s for s in shape if s], dtype=object))
        if 0 in shape and span >= 2 ** 63:  # NumPy's limit counts the other sizes even when one is 0
            raise errors.InvalidArgumentError(f"shape {shape} of {dtype}: its non-zero sizes span {span} bytes, "
                                              "beyond what a NumPy array can (2**63 - 1), even an empty one") from None
        if isinstance(exc, ValueError):
            raise
        nbytes = dtype.itemsize * int(np.prod(shape, dtype=object))
        raise errors.PSGMemoryError(f"cannot allocate {nbytes} bytes for an array of shape {shape} and dtype "
                                    f"{dtype}") from None


def _output(out, shape, dtype, vector, inputs, name="out", dtype_why="the dtype of X"):
    """The caller's output array `name` checked (2-D view for a vector), or a new aligned one."""
    if out is None:
        return _aligned(shape, dtype)
    if _core.out_ready(out, (shape[0],) if vector else shape, dtype, inputs):  # else the checks below say why
        return out.reshape(shape) if vector else out
    if not isinstance(out, np.ndarray):
        raise errors.DTypeError(f"{name} must be a numpy.ndarray, got {type(out).__name__}")
    want = (shape[0],) if vector else shape
    if out.shape != want:
        raise errors.ShapeMismatchError(f"{name} has shape {out.shape}, expected {want}")
    if out.dtype != dtype:
        raise errors.DTypeError(f"{name} has dtype {out.dtype}, expected {dtype} ({dtype_why})")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise errors.InvalidArgumentError(f"{name} must be C-contiguous and writeable")
    if not out.flags.aligned:  # the C core writes it through typed pointers
        raise errors.InvalidArgumentError(f"{name} is a view at an odd byte offset, not aligned to its "
                                          f"{out.itemsize}-byte items; pass an aligned array (empty_aligned)")
    if _core.overlaps(out, inputs):
        raise errors.InvalidArgumentError(f"{name} must not overlap an input array")
    return out if out.shape == shape else out.reshape(shape)


def spmm(A, X, out=None, *, n_threads=None, plan=None, reduce="sum", norm=None, add_self_loops=False,
         edge_values=None, return_argidx=False, argidx_out=None, transpose=False):
    """``A @ X``: sparse matrix times dense matrix (or vector).

    Parameters
    ----------
    A : CSRMatrix or scipy.sparse matrix
        ``n_rows × n_cols``. Unweighted matrices use 1 for every entry.
    X : ndarray, float32 or float64, shape ``(n_cols, K)`` or ``(n_cols,)``
        Row-major. A non C-contiguous X is copied once to C order. Rows that
        start on 64-byte boundaries (X from :func:`empty_aligned`, or a torch
        tensor's memory) are gathered faster than numpy's usual layout, whose
        large arrays start 16 bytes into a page: 1.2-1.35x on R-MAT scale 20
        and soc-Slashdot0902 at K = 64 (``bench/RESULTS.md``).
    out : ndarray, optional
        Receives the result: shape ``(n_rows, K)`` (or ``(n_rows,)``), dtype of
        X, C-contiguous, not overlapping the inputs.
    n_threads : int, optional
        Threads to use; ``None`` takes the OpenMP runtime's limit at call time,
        so ``threadpoolctl.threadpool_limits`` applies.
    plan : Plan, optional
        From :func:`pysparsegraph.plan_spmm` (layout, partition, schedule, SIMD
        path). By default an automatic plan is built once and cached on A.
        The GNN options below run on plans too (a CSR-layout plan, not with
        ``transpose``).
    reduce, norm, add_self_loops, edge_values, return_argidx, argidx_out, transpose
        GNN options (reducers ``"sum"/"mean"/"max"/"min"``, fused ``"sym"``/
        ``"row"``/``"col"`` normalization, implicit self loops, per-edge or
        per-edge-and-feature weights, arg indices for max/min, ``Aᵀ @ X``):
        see :func:`pysparsegraph.gnn.gspmm`. With the defaults this is the
        plain SpMM below.

    Returns
    -------
    ndarray of X's dtype. If A's values have another dtype, a converted copy
    of them is cached on A. The result is bit-identical for every thread count.
    NaN and inf in the inputs propagate as in dense arithmetic (for the sum and
    mean; ``max``/``min`` follow the scan rule in :mod:`pysparsegraph.gnn`).
    """
    plain_sum = isinstance(reduce, str) and reduce == "sum"  # not ==: an array would compare elementwise
    if (not plain_sum or norm is not None or add_self_loops or edge_values is not None or return_argidx
            or argidx_out is not None or transpose):
        return _gnn.gspmm(A, X, out, reduce=reduce, norm=norm, add_self_loops=add_self_loops,
                          edge_values=edge_values, return_argidx=return_argidx, argidx_out=argidx_out,
                          transpose=transpose, n_threads=n_threads, plan=plan)
    A = as_csr(A)
    x, vector = _dense_operand(X, "X")
    if x.shape[0] != A.n_cols:
        raise errors.ShapeMismatchError(f"A has {A.n_cols} columns but X has {x.shape[0]} rows; "
                                        "A @ X needs them equal")
    values = A.values_as(x.dtype)
    y = _output(out, (A.n_rows, x.shape[1]), x.dtype, vector, (x, A._indptr, A._indices, values))  # A checked by as_csr
    if A.n_rows and x.shape[1]:
        _plan._run(A, values, x, y, n_threads, plan)
    else:
        if plan is not None:  # an empty product still refuses a plan that does not fit it
            _plan._checked_plan(A, x.shape[1], y.dtype, n_threads, plan)
        _core.spmm(A.n_cols, A.indptr, A.indices, values, x, y, resolve_threads(n_threads))
    if out is not None:
        return out
    return y[:, 0] if vector else y


# gnn builds on this module (and imports it first); bound here, after every
# name above exists, so either module can be imported first. The function-level
# imports this replaced (here and in gnn) cost 1.5 us of each fused call.
from pysparsegraph import gnn as _gnn  # noqa: E402
