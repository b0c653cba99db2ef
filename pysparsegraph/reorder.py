"""Locality reorderings: compute a node order, apply it to a graph and its
features, and map results back.

Orders are returned as ``perm`` with ``perm[new] = old`` (the node placed at
position ``new``), computed in C:

- ``"degree"``: decreasing degree, ties by id.
- ``"rcm"``: reverse Cuthill-McKee (pseudo-peripheral start per component).
- ``"hubsort"``: above-average-degree nodes first (by degree), the others
  after them in their original order (hub sorting, Balaji & Lucia 2018).
- ``"community"``: label propagation communities (Raghavan et al. 2007),
  grouped, communities in order of their smallest member.

RCM and the community order follow out-edges; for a directed graph pass
``symmetrize=True`` to order by the undirected structure (a temporary
symmetrized copy is built once).

Typical use::

    perm = order(A, "rcm")
    B = permute(A, perm)                 # P A P^T
    Xp = permute_rows(X, perm)           # features in the new order
    Y = unpermute_rows(spmm(B, Xp), perm)  # spmm(A, X), up to rounding
"""
import numpy as np

from pysparsegraph import _core, errors
from pysparsegraph._validate import c_aligned, choice, readonly_view, resolve_threads
from pysparsegraph.matrix import CSRMatrix, as_csr

METHODS = ("degree", "rcm", "hubsort", "community")


def _square_i32(A):
    if not isinstance(A, CSRMatrix):
        A = CSRMatrix.from_scipy(A)
    if A.n_rows != A.n_cols:
        raise errors.ShapeMismatchError(f"reordering needs a square graph, got shape {A.shape}")
    if A.indices.dtype != np.int32:
        # int64 ids also come from index_dtype=np.int64 or from arrays passed in, at any size
        fix = ("rebuild it with int32 ids, e.g. CSRMatrix(A.indptr, A.indices.astype(np.int32), A.values, "
               "shape=A.shape)" if A.n_cols <= np.iinfo(np.int32).max else "graphs of 2^31 nodes or more "
               "cannot be reordered")
        raise errors.UnsupportedError(f"reordering supports int32 column indices only; A has {A.indices.dtype} "
                                      f"column indices ({A.n_cols} nodes): {fix}")
    return A


def order(A, method="rcm", *, symmetrize=False):
    """Node order ``perm`` (int64, ``perm[new] = old``) of a square graph.

    Parameters
    ----------
    A : CSRMatrix or scipy sparse
    method : {"degree", "rcm", "hubsort", "community"}
    symmetrize : bool
        Order by ``A + A^T`` (for RCM / community on directed graphs).
    """
    method = choice(method, "method", set(METHODS))
    A = _square_i32(A)
    if symmetrize and method in ("rcm", "community"):
        src, dst, _ = A.to_edges()
        A = CSRMatrix.from_edges(src, dst, shape=A.shape, symmetrize=True, duplicates="first")
    return _core.graph_order(method, np.asarray(A.indptr), np.asarray(A.indices))


def _as_perm(perm):
    perm = np.asarray(perm)
    return perm.astype(np.int64) if perm.ndim == 1 and perm.size == 0 else perm  # NumPy makes [] float64


def inverse_permutation(perm, n=None, what="nodes"):
    """``inv`` with ``inv[perm[i]] = i`` (validates that perm is a permutation, of
    ``n`` entries when given: the length is checked first, so a short perm is
    called short, not out of range)."""
    perm = _as_perm(perm)
    if perm.ndim != 1 or perm.dtype.kind not in "iu":
        raise errors.DTypeError(f"perm must be a 1-D integer array, got {perm.dtype} with shape {perm.shape}")
    if n is not None and perm.shape[0] != n:
        raise errors.ShapeMismatchError(f"perm has {perm.shape[0]} entries but there are {n} {what}")
    n = perm.shape[0]
    inv = np.full(n, -1, dtype=np.int64)
    if n and (perm.min() < 0 or perm.max() >= n):
        raise errors.IndexOutOfRangeError(f"perm has entries outside [0, {n})")
    inv[perm] = np.arange(n, dtype=np.int64)
    if n and (inv < 0).any():
        raise errors.InvalidArgumentError("perm is not a permutation (repeated entries)")
    return inv


def permute(A, perm, *, n_threads=None):
    """``P A P^T``: new row ``i`` is old row ``perm[i]``, column ``c`` becomes
    ``inv[c]``; rows re-sorted. Values (if any) move with their entries."""
    A = _square_i32(A)
    inv = inverse_permutation(perm, A.n_rows)  # before the int64 cast, which would truncate a float perm
    perm = c_aligned(np.asarray(perm, dtype=np.int64))
    ip, ix, v = _core.permute_csr(np.asarray(A.indptr), np.asarray(A.indices),
                                  None if A.values is None else np.asarray(A.values), perm, inv,
                                  resolve_threads(n_threads))
    return CSRMatrix._trusted(readonly_view(ip), readonly_view(ix), readonly_view(v), A.shape)


def permute_rows(X, perm):
    """Features in the new order: ``X[perm]`` (a copy)."""
    X = np.asarray(X)
    perm = _as_perm(perm)
    inverse_permutation(perm)  # a repeated id would duplicate rows and drop others
    if X.ndim == 0:
        raise errors.ShapeMismatchError("X must have at least one dimension (one row per node), got a scalar")
    if X.shape[0] != perm.shape[0]:
        raise errors.ShapeMismatchError(f"X has {X.shape[0]} rows but perm has {perm.shape[0]} entries")
    return np.ascontiguousarray(X[perm])


def unpermute_rows(Y, perm):
    """Results back in the original order: ``out[perm] = Y``."""
    Y = np.asarray(Y)
    perm = _as_perm(perm)
    inverse_permutation(perm)  # a repeated id would leave rows of out uninitialized
    if Y.ndim == 0:
        raise errors.ShapeMismatchError("Y must have at least one dimension (one row per node), got a scalar")
    if Y.shape[0] != perm.shape[0]:
        raise errors.ShapeMismatchError(f"Y has {Y.shape[0]} rows but perm has {perm.shape[0]} entries")
    out = np.empty_like(Y)
    out[perm] = Y
    return out


def bandwidth(A):
    """max |row - col| over the stored entries (a quick locality measure)."""
    src, dst, _ = as_csr(A).to_edges()
    if src.size == 0:
        return 0
    return int(np.abs(src.astype(np.int64) - dst.astype(np.int64)).max())
