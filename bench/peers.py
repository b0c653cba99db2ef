"""Peer SpMM implementations for side-by-side timing, each used only if installed.

Every peer is prepared once per (graph, X, threads) outside the timed call
(format conversion, handles, MKL's inspector-executor analysis) and then
timed on the product alone, as generously to the peer as its API allows.

Thread counts are process-wide settings that peers overwrite for each other
(torch.set_num_threads sets MKL's thread-local count), so a
prepared callable carries ``activate()``, which the timing loop calls before
each of the tool's turns to put the tool's own count back.
"""
import ctypes

import numpy as np


class Peer:
    name = "?"
    threaded = True

    def prepare(self, S, X, threads):
        """Returns a zero-argument callable computing S @ X (S: scipy csr_array),
        with ``activate()`` (see the module docstring)."""
        self.set_threads(threads)
        fn = self._prepare(S, X, threads)
        fn.activate = lambda: self.set_threads(threads)
        return fn

    def _prepare(self, S, X, threads):
        raise NotImplementedError

    def set_threads(self, threads):
        """Sets this peer's process-wide thread count (no-op when it has none)."""

    def release(self):
        pass


def _set_mkl_threads(sparse_dot_mkl, threads):
    """torch shares pip's MKL and sets a thread-local count, which outranks the
    global one: set both, or a '1 thread' MKL call may run on two."""
    sparse_dot_mkl.mkl_set_num_threads(threads)
    sparse_dot_mkl.mkl_set_num_threads_local(threads)


class Scipy(Peer):
    name = "scipy"
    threaded = False  # scipy's SpMM is single-threaded

    def _prepare(self, S, X, threads):
        return lambda: S @ X  # allocates its output in every call: scipy has no out=


class GraphBLAS(Peer):
    name = "graphblas"

    def __init__(self):
        import graphblas as gb
        self.gb = gb

    def set_threads(self, threads):
        self.gb.ss.config["nthreads"] = threads

    def _prepare(self, S, X, threads):
        gb = self.gb
        A = gb.Matrix.from_csr(S.indptr, S.indices, S.data, ncols=S.shape[1], nrows=S.shape[0])
        B = gb.Matrix.from_dense(X)
        C = gb.Matrix(A.dtype, S.shape[0], X.shape[1])
        semiring = gb.semiring.plus_times

        def run():
            C << semiring(A @ B)
            C.wait()
            return C
        return run


class MKL(Peer):
    """sparse_dot_mkl's public dot_product_mkl (MKL handle created per call)."""
    name = "mkl"

    def __init__(self):
        import sparse_dot_mkl
        self.m = sparse_dot_mkl

    def set_threads(self, threads):
        _set_mkl_threads(self.m, threads)

    def _prepare(self, S, X, threads):
        import scipy.sparse as sp
        Sm = sp.csr_matrix(S)
        out = np.empty((S.shape[0], X.shape[1]), dtype=X.dtype)
        run = lambda: self.m.dot_product_mkl(Sm, X, out=out, out_scalar=0)  # noqa: E731 (default adds onto out)
        run.out = out  # poisoned before the output check (see check_outputs)
        return run


class MKLInspectorExecutor(Peer):
    """MKL inspector-executor: one handle, mkl_sparse_set_mm_hint + mkl_sparse_optimize
    once, then mkl_sparse_?_mm per call (through sparse_dot_mkl's bindings)."""
    name = "mkl-ie"

    def __init__(self):
        import sparse_dot_mkl
        from sparse_dot_mkl._mkl_interface import _cfunctions
        self.m = sparse_dot_mkl
        self.cf = _cfunctions
        self._handles = []

    def set_threads(self, threads):
        _set_mkl_threads(self.m, threads)

    def _prepare(self, S, X, threads):
        from sparse_dot_mkl._mkl_interface import _create_mkl_sparse, matrix_descr
        import scipy.sparse as sp
        Sm = sp.csr_matrix(S)
        handle, dbl, _ = _create_mkl_sparse(Sm)
        self._handles.append((handle, Sm))
        lib = self.cf._libmkl
        k = X.shape[1]
        descr = matrix_descr()
        # 10 = SPARSE_OPERATION_NON_TRANSPOSE, 101 = SPARSE_LAYOUT_ROW_MAJOR
        lib.mkl_sparse_set_mm_hint(handle, 10, descr, 101, k, 1000)
        lib.mkl_sparse_optimize(handle)
        func = self.cf.MKL._mkl_sparse_d_mm if dbl else self.cf.MKL._mkl_sparse_s_mm
        ct = ctypes.c_double if dbl else ctypes.c_float
        out = np.empty((S.shape[0], k), dtype=X.dtype)
        optr = out.ctypes.data_as(ctypes.POINTER(ct))

        def run():
            ret = func(10, 1.0, handle, descr, 101, X, k, k, 0.0, optr, k)
            if ret != 0:
                raise RuntimeError(f"mkl_sparse_?_mm returned {ret}")
            return out
        run.out = out
        return run

    def release(self):
        from sparse_dot_mkl._mkl_interface import _destroy_mkl_handle
        for h, _ in self._handles:
            _destroy_mkl_handle(h)
        self._handles = []


class TorchCSR(Peer):
    """torch.mm on a sparse CSR tensor with int32 ids (as every other tool reads)
    into a preallocated output (as pysparsegraph, MKL and GraphBLAS write)."""
    name = "torch"

    def __init__(self):
        import torch
        self.torch = torch

    def set_threads(self, threads):
        self.torch.set_num_threads(threads)

    def _prepare(self, S, X, threads):
        torch = self.torch
        ids = np.int32 if max(S.nnz, S.shape[1]) < 2 ** 31 else np.int64
        A = torch.sparse_csr_tensor(torch.from_numpy(S.indptr.astype(ids)),
                                    torch.from_numpy(S.indices.astype(ids)),
                                    torch.from_numpy(S.data), size=S.shape,
                                    check_invariants=False)
        B = torch.from_numpy(X)
        out = torch.empty((S.shape[0], X.shape[1]), dtype=B.dtype)
        run = lambda: torch.mm(A, B, out=out)  # noqa: E731
        run.out = out
        return run


def as_array(result):
    """A tool's result as a NumPy array (torch tensor, GraphBLAS matrix or ndarray)."""
    if hasattr(result, "numpy"):
        return result.numpy()
    if hasattr(result, "to_dense"):
        return result.to_dense(fill_value=0)
    return np.asarray(result)


def poison(fn):
    """Fills the preallocated output of tool ``fn`` (its ``out`` attribute, if any)
    with NaN, so that an output check sees what one more call writes, not a product
    an earlier call (another thread count, another tool) left there."""
    buf = getattr(fn, "out", None)
    if buf is None:
        return
    if hasattr(buf, "fill_"):  # a torch tensor
        buf.fill_(float("nan"))
    else:
        np.asarray(buf).fill(np.nan)


def rel_error(got, ref, block=1 << 22):
    """max |got - ref| / max |ref| (inf for another shape, 0 for empty arrays,
    NaN when got holds one: every ``err <= tol`` test then fails). Taken over
    ``block`` values at a time: whole float64 temporaries of a 1 GiB output
    (R-MAT scale 20 at K = 256) took 6 GiB and the suite past 24 GiB."""
    got = np.asarray(got)
    if got.shape != ref.shape:
        return float("inf")
    if not ref.size:
        return 0.0
    g, r = got.reshape(-1), np.asarray(ref).reshape(-1)
    diff = top = 0.0
    for i in range(0, r.size, block):
        d = float(np.max(np.abs(g[i:i + block].astype(np.float64) - r[i:i + block])))
        if d > diff or d != d:  # a NaN, once seen, stays (NaN > x is False)
            diff = d
        top = max(top, float(np.max(np.abs(r[i:i + block]))))
    return diff / max(top, 1e-30)


def check_outputs(fns, ref, tol, skip=()):
    """Per tool name of ``fns`` (calls returning the product), the error of one more
    call's output against ``ref``: max |out - ref| / max |ref|, and whether it is
    within ``tol``. Each tool is activated first (its own thread count), and its
    preallocated output poisoned (see ``poison``)."""
    out = {}
    for name, fn in fns.items():
        if name in skip:
            continue
        getattr(fn, "activate", lambda: None)()
        poison(fn)
        err = rel_error(as_array(fn()), ref)
        out[name] = (err, err <= tol)  # NaN fails
    return out


PEERS = {"scipy": Scipy, "graphblas": GraphBLAS, "mkl": MKL, "mkl-ie": MKLInspectorExecutor, "torch": TorchCSR}


def available_peers(names=None):
    """Instances of the peers that import here (all by default), plus the list skipped with reasons."""
    wanted = list(PEERS) if names is None else names
    unknown = [n for n in wanted if n not in PEERS]
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(map(repr, unknown))}; the peers are {', '.join(PEERS)}")
    table = PEERS
    peers, skipped = [], []
    for n in wanted:
        try:
            peers.append(table[n]())
        except Exception as e:  # not installed or broken: skip, say why
            skipped.append((n, f"{type(e).__name__}: {e}"))
    return peers, skipped
