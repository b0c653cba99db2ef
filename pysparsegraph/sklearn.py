"""scikit-learn estimators on a user-supplied graph (needs ``scikit-learn``).

Import this module explicitly (``from pysparsegraph.sklearn import ...``);
``import pysparsegraph`` does not import scikit-learn.

Estimators
----------
GraphPropagation
    ``S^k X`` with ``S`` the normalized adjacency (with self loops by default):
    the Simplified Graph Convolution (SGC) features of Wu et al., ICML 2019,
    or all hops ``[X, SX, ..., S^k X]`` side by side (SIGN, Frasca et al. 2020).
NeighborAggregation
    Sum / mean / max of each node's neighbour features (GraphSAGE-style,
    Hamilton et al. 2017), optionally next to the node's own features.
GraphLabelPropagation
    Semi-supervised classifier that spreads the known labels over the given
    sparse graph (Zhou et al. 2004 "label spreading", or Zhu & Ghahramani 2002
    "label propagation" with ``clamp="hard"``). Unlike
    :class:`sklearn.semi_supervised.LabelPropagation`, which builds a dense
    kNN/RBF graph from ``X``, it uses your graph and scales with its edges.

How ``X`` relates to the graph (transductive design)
----------------------------------------------------
A graph fixes the set of samples: node ``i`` is row ``i``. Two input forms
cover every use, chosen by whether the estimator holds the node features:

1. **Node ids** (``features=`` given, or always for the classifier): ``X`` is a
   column of node ids, shape ``(n_samples, 1)`` (1-D accepted), and the
   estimator returns rows for exactly those nodes. The graph computation runs
   once in ``fit`` over *all* nodes (transductive: every node's features are
   known, only labels are hidden), and ``transform`` gathers rows. This is the
   form for ``Pipeline``, ``cross_val_score`` and ``GridSearchCV``, which split
   ``X`` by rows: splitting node ids keeps the graph intact::

       ids = np.arange(n_nodes).reshape(-1, 1)
       model = make_pipeline(GraphPropagation(graph, features=feats, k=2),
                             LogisticRegression(C=1.0, max_iter=1000))
       model.fit(ids[idx_train], y[idx_train])
       model.score(ids[idx_test], y[idx_test])

2. **Full feature matrix** (``features=None``, transformers only): ``X`` has
   one row per node (``X.shape[0] == n_nodes``) and ``transform(X)`` returns the
   result for every node, e.g. ``GraphPropagation(graph).fit_transform(X)``.

``graph`` may also be a callable ``graph(X) -> sparse (n, n)`` that builds the
graph from the rows it is given (e.g. :class:`KNNGraph`). Then the rows of
``X`` need not be fixed in advance (each call builds a graph over its own rows),
which also makes the estimators usable on plain point clouds; this is the
form under which scikit-learn's generic estimator checks run (see
``tests/test_sklearn_checks.py`` for the checks that cannot apply and why).

Conventions
-----------
``graph`` and ``features`` are treated as read-only inputs: ``clone`` (and so
``GridSearchCV``) shares them between copies instead of deep-copying them, and
the normalized adjacency is built once per graph object and cached on it.
Edit a graph by building a new one. A scipy graph is copied once, when first
used, and the copy is kept while the scipy object lives: scipy rewrites its own
arrays in place in some read-only calls (``A.max()`` and ``A > 0`` sort and sum
duplicates), which would leave products cached from shared arrays stale. Pass a
CSRMatrix to share the graph's memory instead. A stored weight of 0 is no edge:
it is neither a self loop nor a neighbour. float32 inputs give float32 results; other
real dtypes give float64. NaN and inf in the node features are computed
through (to the nodes they propagate to), not rejected, as in ``spmm``.
"""
import copy
import numbers
import weakref

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from pysparsegraph import errors
from pysparsegraph._validate import resolve_threads
from pysparsegraph.matrix import CSRMatrix, as_csr
from pysparsegraph.ops import spmm

__all__ = ["GraphPropagation", "NeighborAggregation", "GraphLabelPropagation", "KNNGraph"]

_FLOATS = [np.float64, np.float32]

# ---------------------------------------------------------------------------
# Graph plumbing (private). The normalized matrices are built with vectorized
# numpy in row blocks (the result is their only O(nnz) array); the products
# (sum and max) run in the C kernels.
# ---------------------------------------------------------------------------

# scipy matrices are unhashable and have no spare attribute slot, so their CSR
# conversion is remembered by id() while the scipy object is alive.
_SCIPY_CSR = {}


def _graph_csr(graph, name="graph"):
    """``graph`` (CSRMatrix or scipy sparse) as a square CSRMatrix without
    stored zeros (see ``_without_zeros``), converted at most once per scipy
    object. A scipy graph is copied: scipy sorts or sums its own arrays in
    place in some read-only calls (``A.max()``, ``A > 0``), which would leave
    the products cached from shared arrays stale."""
    if isinstance(graph, CSRMatrix):
        g = _without_zeros(as_csr(graph, name))
    else:
        hit = _SCIPY_CSR.get(id(graph))
        if hit is not None and hit[0]() is graph:
            g = hit[1]
        else:
            if not (hasattr(graph, "tocsr") and hasattr(graph, "format")):
                as_csr(graph, name)  # raises the error that names what a graph must be
            g = _without_zeros(CSRMatrix.from_scipy(graph, copy=True if graph.format == "csr" else None))
            try:
                ref = weakref.ref(graph)
            except TypeError:  # not weak-referenceable: convert every time
                ref = None
            if ref is not None:
                _SCIPY_CSR[id(graph)] = (ref, g)
                weakref.finalize(graph, _SCIPY_CSR.pop, id(graph), None)
    if g.n_rows != g.n_cols:
        raise errors.ShapeMismatchError(f"{name} must be square (n_nodes x n_nodes), got shape {g.shape}")
    return g


def _without_zeros(g):
    """``g`` without its entries of weight 0, cached on ``g``: a stored zero
    (scipy's ``A.setdiag(0)``, or weights thresholded to 0) is no edge, as
    scipy's ``count_nonzero`` and every weighted sum see it, so it neither
    counts as a node's self loop nor as a neighbour of the max aggregator."""
    if g.values is None:
        return g
    hit = g._cache.get("sklearn.without_zeros")
    if hit is None:
        keep = np.asarray(g.values) != 0  # NaN is kept: it is not a zero
        if keep.all():
            hit = False  # not g itself: a matrix caching itself would be a reference cycle
        else:
            kept_before = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
            hit = CSRMatrix(kept_before[g.indptr], np.asarray(g.indices)[keep], np.asarray(g.values)[keep],
                            shape=g.shape, check=False)
        g._cache["sklearn.without_zeros"] = hit
    return g if hit is False else hit


def _row_blocks(indptr, size=1 << 16):
    """Consecutive row ranges ``(r0, r1)`` holding about ``size`` entries each
    (a longer row alone) and together every entry: per-entry work done block by
    block needs temporaries of the block's size, not nnz-sized ones."""
    if indptr[-1] == indptr[0]:
        return []
    cuts = np.arange(indptr[0], indptr[-1], size)
    starts = np.unique(np.searchsorted(indptr, cuts, side="right") - 1)  # the rows holding the cuts
    return zip(starts.tolist(), starts[1:].tolist() + [indptr.shape[0] - 1])


def _row_sums(indptr, vals):
    """Per-row sums of ``vals`` in CSR order (0 for empty rows)."""
    n = indptr.shape[0] - 1
    sums = np.zeros(n)
    # reduceat over the starts of the non-empty rows only: each segment then
    # ends where the next non-empty row starts, and every start is in bounds.
    nonempty = np.flatnonzero(indptr[1:] != indptr[:-1])
    if nonempty.size:
        sums[nonempty] = np.add.reduceat(vals, indptr[nonempty])
    return sums


# Thread count for the C calls that do not go through an SpMM plan (the max
# reducer). The plain sum products need no such rule: their cached plan runs
# small work on the calling thread by itself (plan.py, ``Plan.serial``). The
# generalized kernel behind ``reduce="max"`` instead opens a parallel region
# from ~32k multiply-adds on, and waking a second OpenMP
# thread on a loaded machine was measured at ~6-15 ms per region (2 cores
# shared with other processes; bench/RESULTS.md): below this threshold it runs
# on one thread unless the caller asked for a thread count explicitly. (The
# plan's own cut-off, PSG_SERIAL_WORK, is 2^21, set from back-to-back calls and
# the first call after idle on quiet machines. This one is kept higher for the
# loaded case.)
_SMALL_WORK = 1 << 22


def _threads(n_threads, work):
    """The thread count for ``work`` multiply-adds outside SpMM plans: the
    caller's choice when given, else one thread for small work and the OpenMP
    limit (None) otherwise."""
    if n_threads is not None:
        return n_threads
    return 1 if work < _SMALL_WORK else None


def _with_self_loops(g):
    """``g`` plus a weight-1 self loop on every node that has none (nodes with a
    loop keep theirs, like PyG's ``add_remaining_self_loops``). Duplicates and
    the order of the other entries are kept, so products still sum exactly what
    ``g @ X`` sums.

    Vectorized O(nnz): each missing loop is inserted in its row where a sorted
    row would hold it (after the entries with smaller column ids). The rows are
    scanned in blocks, so no nnz-sized row-id or mask array is built.
    """
    n = g.n_rows
    indptr, cols = np.asarray(g.indptr), np.asarray(g.indices)
    has_loop = np.zeros(n, dtype=bool)
    before = np.zeros(n, dtype=np.int64)  # entries left of the diagonal
    for r0, r1 in _row_blocks(indptr):
        rows = np.repeat(np.arange(r0, r1), np.diff(indptr[r0:r1 + 1]))  # the row id of each entry
        c = cols[indptr[r0]:indptr[r1]]
        has_loop[rows[c == rows]] = True
        before[r0:r1] = np.bincount(rows[c < rows] - r0, minlength=r1 - r0)
    missing = np.flatnonzero(~has_loop)
    if missing.size == 0:
        return g
    pos = g.indptr[missing] + before[missing]
    indices = np.insert(cols, pos, missing.astype(cols.dtype))
    values = None if g.values is None else np.insert(np.asarray(g.values), pos, 1.0)
    add = np.zeros(n + 1, dtype=np.int64)
    add[missing + 1] = 1
    indptr = g.indptr + np.cumsum(add)
    return CSRMatrix(indptr, indices, values, shape=g.shape, check=False)


def _normalized(g, norm, self_loops, dtype=np.float64):
    """The propagation matrix ``S`` for ``g``, cached on ``g``, its values in
    ``dtype`` (the features' dtype: computed in float64, stored once in the
    dtype the products read, not also as a float64 copy).

    ``norm="sym"``: ``D^-1/2 Â D^-1/2``; ``norm="row"``: ``D^-1 Â``;
    ``norm="none"``: ``Â``. ``Â`` is ``g`` with self loops when ``self_loops``;
    ``D`` holds the row sums of ``Â`` (the weighted out-degrees, equal to the
    in-degrees on an undirected graph). Rows with zero degree stay zero;
    ``"sym"`` refuses negative degrees (from negative weights).
    Built once per graph object with vectorized numpy, row block by row block:
    no nnz-sized temporary, only the result's values (and its indices when
    loops are inserted).

    Why a materialized ``S`` and not the fused ``spmm(g, X, norm=...,
    add_self_loops=...)``: (1) speed: each hop is then the plain sum SpMM (SIMD,
    planned, plan cached on ``S``), measured 2x faster per hop than the fused
    kernel (Cora and coAuthorsDBLP, K=64 float32, 1 and 2 threads, S^1 and
    S^3 X), and the one-off build costs about one hop; (2) semantics: the
    kernel's ``add_self_loops=True`` adds a loop to every row, also to rows that
    already store one (here only missing loops are added, as PyG's
    ``add_remaining_self_loops``), and its ``"sym"`` uses the column sums on the
    right (``D_out^-1/2 A D_in^-1/2``) where this uses the row sums on both
    sides, which differ on a directed graph. The value arithmetic stays in
    numpy: computing the per-edge ``r[row] * r[col]`` in C (``sddmm(...,
    op="u_mul_v")``) measured no faster than the numpy gather (~23 ms each on
    coAuthorsDBLP's 2.25M entries), and the missing-loop insertion has no C
    counterpart yet.
    """
    key = ("sklearn.normalized", norm, bool(self_loops), np.dtype(dtype).str)
    hit = g._cache.get(key)
    if hit is not None:
        return g if hit is False else hit
    a = _with_self_loops(g) if self_loops else g
    if norm == "none":
        s = a if a.values is None or a.values.dtype == dtype else CSRMatrix._trusted(
            a.indptr, a.indices, a.values.astype(dtype), a.shape)
        if s is g:  # a matrix caching itself would be a reference cycle
            g._cache[key] = False
            return g
    else:
        indptr, cols, vals = np.asarray(a.indptr), np.asarray(a.indices), a.values
        if vals is None:  # a sum of ones is the entry count, exactly: no nnz-sized ones
            deg = np.diff(indptr).astype(np.float64)
        else:
            deg = _row_sums(indptr, np.asarray(vals, dtype=np.float64))
        if norm == "sym" and (deg < 0).any():  # a square root of a negative degree has no meaning
            raise errors.InvalidArgumentError(
                f"norm='sym' needs non-negative weighted degrees, but the graph has negative ones (minimum "
                f"{deg[deg < 0].min():g}) from negative edge weights; use norm='row' or non-negative weights")
        with np.errstate(divide="ignore"):  # negative degrees scale their row like positive ones
            inv = np.where(deg != 0, 1.0 / np.where(deg != 0, deg, 1.0), 0.0)
        scale = np.sqrt(inv) if norm == "sym" else inv
        # scale[row] * w * scale[col] ("sym") or scale[row] * w ("row"), multiplied in float64 in that
        # order and rounded once to dtype, block by block into the result: the only nnz-sized array.
        new = np.empty(a.nnz, dtype=dtype)
        for r0, r1 in _row_blocks(indptr):
            e0, e1 = indptr[r0], indptr[r1]
            t = np.repeat(scale[r0:r1], np.diff(indptr[r0:r1 + 1]))
            if vals is not None:  # times 1 when unweighted: a no-op, skipped
                t *= vals[e0:e1]  # float32 weights widen to float64 exactly
            if norm == "sym":
                t *= scale[cols[e0:e1]]
            new[e0:e1] = t
        s = CSRMatrix(a.indptr, a.indices, new, shape=a.shape, check=False)
    g._cache[key] = s
    return s


def _unweighted(g):
    """``g``'s structure without its values (shares its arrays), cached on ``g``."""
    if g.values is None:
        return g
    hit = g._cache.get("sklearn.unweighted")
    if hit is None:
        hit = g._cache["sklearn.unweighted"] = CSRMatrix._trusted(g.indptr, g.indices, None, g.shape)
    return hit


def _segment_max(g, x, n_threads=None, out=None):
    """``out[i] = max over the neighbours j of i of x[j]`` (0 for rows without
    neighbours; edge weights ignored; a NaN among the neighbours gives NaN, as
    ``numpy.maximum`` does).

    The C max reducer (``spmm(..., reduce="max")``) on ``g``'s structure
    without its values (it would otherwise take the max of ``w * x``). Its
    fold keeps the earlier element when a later one is NaN (a strict ``>``), so
    NaN is restored afterwards: one extra sum product over the NaN mask, run
    only when ``x`` holds a NaN. Written into ``out`` when given.
    """
    n, f = g.n_rows, x.shape[1]
    if n == 0 or f == 0 or g.nnz == 0:
        if out is None:
            return np.zeros((n, f), dtype=x.dtype)
        out[...] = 0
        return out
    u = _unweighted(g)
    threads = _threads(n_threads, (g.nnz + n) * f)
    out = spmm(u, x, out, reduce="max", n_threads=threads)
    # One sum of x screens for NaN without a boolean temporary (inf - inf also
    # gives NaN there: then the exact mask below simply finds no NaN). The screen's own
    # inf - inf or overflow is no fault of the input: it must not warn (or raise under -W error).
    with np.errstate(invalid="ignore", over="ignore"):
        has_nan = np.isnan(x.sum())
    if has_nan:
        nan = np.isnan(x).astype(x.dtype)
        out[spmm(u, nan, n_threads=n_threads) > 0] = np.nan
    return out


# ---------------------------------------------------------------------------
# Parameter checks
# ---------------------------------------------------------------------------

def _check_int(value, name, low):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low:
        raise errors.InvalidArgumentError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_choice(value, name, options):
    if not isinstance(value, str) or value not in options:
        raise errors.InvalidArgumentError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise errors.InvalidArgumentError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_real(value, name, low, high, low_open=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise errors.InvalidArgumentError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    if not (v > low if low_open else v >= low) or not v <= high:
        lo = "(" if low_open else "["
        raise errors.InvalidArgumentError(f"{name} must be in {lo}{low}, {high}], got {value!r}")
    return v


class KNNGraph(BaseEstimator):
    """A picklable graph builder: ``KNNGraph(n_neighbors)(X)`` is the
    symmetrized k-nearest-neighbour connectivity graph of the rows of ``X``
    (:func:`sklearn.neighbors.kneighbors_graph`, made undirected).

    Pass it as ``graph=`` to build the graph from the data at each fit/transform.
    With fewer than ``n_neighbors + 1`` rows it uses every other row. It is a
    scikit-learn estimator, so a search can tune it through the estimator
    that holds it (``graphpropagation__graph__n_neighbors``).
    """

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    def __call__(self, X):
        from sklearn.neighbors import kneighbors_graph

        X = np.asarray(X)
        k = min(_check_int(self.n_neighbors, "n_neighbors", 1), X.shape[0] - 1)
        if k < 1:
            import scipy.sparse as sp

            return sp.csr_array((X.shape[0], X.shape[0]))
        a = kneighbors_graph(X, k, include_self=False)
        return ((a + a.T) > 0).astype(np.float32).tocsr()

    def __eq__(self, other):
        return type(other) is KNNGraph and other.n_neighbors == self.n_neighbors

    __hash__ = None  # equal by a parameter that set_params changes


# ---------------------------------------------------------------------------
# Shared base
# ---------------------------------------------------------------------------

class _GraphEstimator(BaseEstimator):
    """Graph resolution, node-id handling and sharing of the data parameters."""

    # Parameters that hold data: shared (not deep-copied) by clone.
    _shared_params = ("graph", "features")

    def __sklearn_clone__(self):
        # Same as scikit-learn's clone, except that the graph and the node
        # features are passed by reference: they can be large, are never written,
        # and sharing them keeps the cached normalized adjacency across the many
        # clones GridSearchCV makes.
        params = self.get_params(deep=False)
        # a graph builder with parameters (KNNGraph) is cloned: set_params on one copy must not change another
        new_params = {k: (v if k in self._shared_params and not hasattr(v, "get_params") else clone(v, safe=False))
                      for k, v in params.items()}
        new = type(self)(**new_params)
        for attr in ("_metadata_request", "_sklearn_output_config"):
            if attr in self.__dict__:
                setattr(new, attr, copy.deepcopy(self.__dict__[attr]))
        return new

    def _check_graph(self):
        """The parameters every estimator has: graph (a KNNGraph's own parameter too) and n_threads."""
        if self.graph is None:
            raise errors.InvalidArgumentError("graph is required: a CSRMatrix, a scipy sparse matrix or a callable")
        if isinstance(self.graph, KNNGraph):  # checked at fit, not first when transform builds a graph
            _check_int(self.graph.n_neighbors, "KNNGraph n_neighbors", 1)
        resolve_threads(self.n_threads)

    def _callable_graph(self):
        return callable(self.graph) and not isinstance(self.graph, CSRMatrix) and not hasattr(self.graph, "tocsr")

    def _graph_for(self, rows):
        """The CSRMatrix to use for ``rows`` (the node features, one per node)."""
        if self._callable_graph():
            g = _graph_csr(self.graph(rows), "graph(X)")
            if g.n_rows != rows.shape[0]:
                raise errors.ShapeMismatchError(f"graph(X) returned a {g.shape} matrix for {rows.shape[0]} rows; "
                                                "a graph builder must return one node per row")
            return g
        return _graph_csr(self.graph)

    def _n_nodes(self):
        return _graph_csr(self.graph).n_rows

    def _validate_ids(self, X, reset, n_nodes):
        """``X`` as a 1-D int64 array of node ids."""
        X = validate_data(self, X, reset=reset, dtype=None, ensure_2d=False, ensure_min_samples=0,
                          ensure_all_finite=True)
        if X.ndim == 2:
            if X.shape[1] != 1:
                raise errors.ShapeMismatchError(
                    f"X must be a column of node ids, shape (n_samples, 1), got shape {X.shape}; "
                    "the node features go to the features= parameter")
            X = X[:, 0]
        elif X.ndim != 1:
            raise errors.ShapeMismatchError(f"X must be a column of node ids, got shape {X.shape}")
        if X.dtype == object:  # ids from a mixed pandas frame (df.to_numpy()): the values decide the dtype
            X = np.asarray(X.tolist())
        if X.dtype.kind not in "iu" and not (
                X.dtype.kind == "f" and np.all(np.isfinite(X)) and np.all(X == np.round(X))):
            raise errors.DTypeError(f"X must hold integer node ids (dtype {X.dtype} given); with features= "
                                    "set, X is a column of node ids, not a feature matrix")
        # the range is checked before the cast: 1e30 or a uint64 above 2**63 would wrap to a negative id
        if X.size and (X.min() < 0 or X.max() >= n_nodes):
            bad = X.min() if X.min() < 0 else X.max()
            bad = int(bad)  # a whole float or an unsigned id, printed as the number it is
            raise errors.IndexOutOfRangeError(f"X holds node id {bad}, outside [0, {n_nodes}) for this graph")
        return X.astype(np.int64, copy=False)


class _GraphTransformer(TransformerMixin, _GraphEstimator):
    """fit/transform in both input forms; subclasses implement ``_compute``
    (all nodes' features -> all nodes' output) and ``_output_names``."""

    def _check_params(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _features_array(self):
        f = self.features
        names = None
        if hasattr(f, "columns") and hasattr(f, "to_numpy"):  # a DataFrame
            names = np.asarray([str(c) for c in f.columns], dtype=object)
        from sklearn.utils import check_array

        arr = check_array(f, dtype=_FLOATS, ensure_min_samples=0, ensure_min_features=0,
                          ensure_all_finite=False, input_name="features")
        return arr, names

    def fit(self, X, y=None):
        """Check the parameters and inputs; in node-id form, compute the output
        for every node once (``transform`` then gathers rows).

        Parameters
        ----------
        X : array of shape (n_nodes, n_features), or node ids (n_samples, 1)
            The node features (``features=None``) or node ids (``features`` set).
        y : ignored

        Returns
        -------
        self
        """
        self._fit(X)
        return self

    def _fit(self, X):
        """Fits and returns the validated ``X`` (node ids or features)."""
        self._check_params()
        if self.features is not None:
            feats, names = self._features_array()
            g = self._graph_for(feats)
            if feats.shape[0] != g.n_rows:
                raise errors.ShapeMismatchError(f"features has {feats.shape[0]} rows but the graph has {g.n_rows} "
                                                "nodes; features needs one row per node")
            ids = self._validate_ids(X, reset=True, n_nodes=g.n_rows)
            self.n_node_features_ = feats.shape[1]
            self._node_feature_names = names
            self.embedding_ = self._compute(g, feats)
            return ids
        X = validate_data(self, X, reset=True, dtype=_FLOATS, ensure_all_finite=self._callable_graph())
        if not self._callable_graph():
            self._check_rows(X.shape[0])
        self.__dict__.pop("embedding_", None)  # from an earlier node-id fit: stale, and would pass as fitted
        self.n_node_features_ = X.shape[1]
        self._node_feature_names = getattr(self, "feature_names_in_", None)
        return X

    def _check_rows(self, n):
        n_nodes = self._n_nodes()
        if n != n_nodes:
            raise errors.ShapeMismatchError(
                f"X has {n} rows but the graph has {n_nodes} nodes: without features=, X must hold the features "
                "of every node (row i = node i). To transform a subset of nodes, pass the full feature matrix as "
                "features= and X as a column of node ids")

    def transform(self, X):
        """The output rows: for the given node ids, or for every node.

        Parameters
        ----------
        X : array of shape (n_nodes, n_features), or node ids (n_samples, 1)

        Returns
        -------
        ndarray of shape (n_samples, n_features_out), dtype float32 if the
        features are float32, else float64.
        """
        check_is_fitted(self, "n_node_features_")
        if self.features is not None:
            check_is_fitted(self, "embedding_")  # features= set after a fit without it: refit first
            ids = self._validate_ids(X, reset=False, n_nodes=self.embedding_.shape[0])
            return self.embedding_[ids]
        X = validate_data(self, X, reset=False, dtype=_FLOATS, ensure_all_finite=self._callable_graph())
        if self._callable_graph():
            g = self._graph_for(X)
        else:
            self._check_rows(X.shape[0])
            g = _graph_csr(self.graph)
        return self._compute(g, X)

    def fit_transform(self, X, y=None):
        """``fit(X).transform(X)``, computing the output once."""
        X = self._fit(X)
        if self.features is not None:
            return self.embedding_[X]
        return self._compute(self._graph_for(X), X)

    def _input_names(self):
        names = self._node_feature_names
        if names is None:
            return np.asarray([f"x{i}" for i in range(self.n_node_features_)], dtype=object)
        return np.asarray(names, dtype=object)

    def get_feature_names_out(self, input_features=None):
        """Output column names.

        Built from the node feature names (the columns of ``features`` or of
        ``X`` when they are a DataFrame, else ``x0, x1, ...``). In node-id form
        ``input_features`` names the id column and does not affect the output.
        """
        check_is_fitted(self, "n_node_features_")
        if self.features is None and input_features is not None:
            input_features = np.asarray(input_features, dtype=object)
            if input_features.shape[0] != self.n_node_features_:
                raise ValueError(f"input_features should have length equal to the number of features "
                                 f"({self.n_node_features_}), got {input_features.shape[0]}")
            names_in = getattr(self, "feature_names_in_", None)
            if names_in is not None and not np.array_equal(names_in, input_features):
                raise ValueError("input_features is not equal to feature_names_in_")
            base = input_features
        else:
            base = self._input_names()
        return np.asarray(self._output_names(list(base)), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = False
        # NaN/inf in the features are computed through (they reach exactly the
        # nodes they propagate to), as in the C core; skipping sklearn's scan
        # saves a full pass over X per call. A graph built from X (callable
        # graph) cannot take them, so that form still rejects them.
        tags.input_tags.allow_nan = not self._callable_graph()
        tags.requires_fit = True
        return tags


# ---------------------------------------------------------------------------
# GraphPropagation
# ---------------------------------------------------------------------------

class GraphPropagation(_GraphTransformer):
    """Propagated node features ``S^k X`` (SGC), or all hops side by side (SIGN).

    ``S`` is the normalized adjacency of the graph with self loops:
    ``D^-1/2 (A + I) D^-1/2`` by default (``norm="sym"``, the GCN/SGC
    propagation), or ``D^-1 (A + I)`` (``norm="row"``, a random-walk mean).
    Each hop is one parallel sparse × dense product in the C core.

    Parameters
    ----------
    graph : CSRMatrix, scipy sparse matrix, or callable
        The ``n_nodes × n_nodes`` adjacency (edge weights are used when
        present), or a callable ``graph(X)`` that builds it from the rows of
        ``X`` (e.g. :class:`KNNGraph`).
    k : int, default=2
        Number of hops (0 returns the features unchanged).
    norm : {"sym", "row", "none"} or None, default="sym"
        Normalization of ``A + I`` (see above); ``"none"`` (or None, as
        :func:`~pysparsegraph.spmm` spells it) uses it as is.
    self_loops : bool, default=True
        Add a weight-1 self loop to every node that has none before normalizing.
    hops : {"last", "all"}, default="last"
        ``"last"`` returns ``S^k X`` (``n_features`` columns); ``"all"`` returns
        ``[X, SX, ..., S^k X]`` concatenated (``(k+1) * n_features`` columns).
    features : array-like of shape (n_nodes, n_features), optional
        The features of every node. When given, ``X`` in fit/transform is a
        column of node ids and the output holds those nodes' rows (use this form
        in a Pipeline or a cross-validation). When None, ``X`` is the feature
        matrix of every node.
    n_threads : int, optional
        Threads for the products; None uses the OpenMP limit at call time.

    Attributes
    ----------
    embedding_ : ndarray of shape (n_nodes, n_features_out)
        The output for every node (node-id form only).
    n_node_features_ : int
        Number of node features.
    n_features_in_ : int
        Columns of ``X`` seen in fit (1 in node-id form).
    feature_names_in_ : ndarray of str
        Defined when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from pysparsegraph.datasets import load_cora
    >>> from pysparsegraph.sklearn import GraphPropagation
    >>> cora = load_cora()
    >>> ids = np.arange(cora.graph.n_rows).reshape(-1, 1)
    >>> sgc = make_pipeline(GraphPropagation(cora.graph, k=2, features=cora.features),
    ...                     LogisticRegression(C=1.0, max_iter=1000))
    >>> sgc = sgc.fit(ids[cora.idx_train], cora.labels[cora.idx_train])
    >>> round(sgc.score(ids[cora.idx_test], cora.labels[cora.idx_test]), 2) >= 0.80
    True

    References
    ----------
    F. Wu, T. Zhang, A. H. de Souza Jr., C. Fifty, T. Yu, K. Q. Weinberger,
    *Simplifying Graph Convolutional Networks*, ICML 2019.
    F. Frasca et al., *SIGN: Scalable Inception Graph Neural Networks*, 2020.
    """

    def __init__(self, graph, k=2, *, norm="sym", self_loops=True, hops="last", features=None, n_threads=None):
        self.graph = graph
        self.k = k
        self.norm = norm
        self.self_loops = self_loops
        self.hops = hops
        self.features = features
        self.n_threads = n_threads

    def _check_params(self):
        _check_int(self.k, "k", 0)
        _check_choice("none" if self.norm is None else self.norm, "norm", {"sym", "row", "none"})
        _check_choice(self.hops, "hops", {"last", "all"})
        _check_bool(self.self_loops, "self_loops")
        self._check_graph()

    def _compute(self, g, x):
        h = np.ascontiguousarray(x)
        s = _normalized(g, "none" if self.norm is None else self.norm, self.self_loops, h.dtype)
        f = h.shape[1]
        out = None
        if self.hops == "all":  # each hop goes to its column block as it comes: no list of hops to stack
            out = np.empty((h.shape[0], (self.k + 1) * f), dtype=h.dtype)
            out[:, :f] = h
        spare = None  # two hop buffers, swapped: each hop is written over the one before its input
        for hop in range(1, self.k + 1):
            new = spmm(s, h, spare, n_threads=self.n_threads)
            if out is not None:
                out[:, hop * f:(hop + 1) * f] = new
            spare = None if np.may_share_memory(h, x) else h  # never write over the caller's array
            h = new
        if out is not None:
            return out
        return h.copy() if h is x else h

    def _output_names(self, base):
        if self.hops == "last":
            return base
        return [f"hop{h}_{name}" for h in range(self.k + 1) for name in base]


# ---------------------------------------------------------------------------
# NeighborAggregation
# ---------------------------------------------------------------------------

class NeighborAggregation(_GraphTransformer):
    """Sum, mean or max of each node's neighbour features (GraphSAGE-style).

    Row ``i`` of the output aggregates the rows ``X[j]`` of the nodes ``j`` that
    ``i`` points to (row ``i`` of the adjacency; both directions for an
    undirected graph). Self loops in the graph count as neighbours; none are
    added. Nodes without neighbours get zeros.

    Parameters
    ----------
    graph : CSRMatrix, scipy sparse matrix, or callable
        As in :class:`GraphPropagation`.
    aggregator : {"mean", "sum", "max"}, default="mean"
        ``"sum"``: ``A @ X`` (edge weights used); ``"mean"``: the weighted mean
        ``D^-1 A X`` (plain mean when unweighted); ``"max"``: element-wise max
        over the neighbours (weights ignored).
    include_self : bool, default=True
        Return ``[X, aggregate]`` (the node's own features first), as
        GraphSAGE's concatenation does; False returns the aggregate only.
    features : array-like of shape (n_nodes, n_features), optional
        As in :class:`GraphPropagation` (node-id form when given).
    n_threads : int, optional
        Threads for the products; None uses the OpenMP limit at call time.

    Attributes
    ----------
    embedding_, n_node_features_, n_features_in_, feature_names_in_
        As in :class:`GraphPropagation`.

    References
    ----------
    W. L. Hamilton, R. Ying, J. Leskovec, *Inductive Representation Learning on
    Large Graphs*, NeurIPS 2017.
    """

    def __init__(self, graph, aggregator="mean", *, include_self=True, features=None, n_threads=None):
        self.graph = graph
        self.aggregator = aggregator
        self.include_self = include_self
        self.features = features
        self.n_threads = n_threads

    def _check_params(self):
        _check_choice(self.aggregator, "aggregator", {"sum", "mean", "max"})
        _check_bool(self.include_self, "include_self")
        self._check_graph()

    def _compute(self, g, x):
        x = np.ascontiguousarray(x)
        n, f = x.shape
        out = agg = None
        if self.include_self:
            # [x, agg] without a separate agg: the product writes agg C-contiguously into the output's last
            # n*f items, then row blocks move into place front to back. Row i goes to [2fi, 2fi+2f), which
            # ends at or before where the agg rows after it still wait (from nf + f(i+1)).
            out = np.empty((n, 2 * f), dtype=x.dtype)
            agg = out.reshape(-1)[n * f:].reshape(n, f)
        if self.aggregator == "sum":
            agg = spmm(g, x, agg, n_threads=self.n_threads)
        elif self.aggregator == "mean":
            agg = spmm(_normalized(g, "row", False, x.dtype), x, agg, n_threads=self.n_threads)
        else:
            agg = _segment_max(g, x, self.n_threads, agg)
        if out is None:
            return agg
        step = max(1, (1 << 16) // max(f, 1))
        for r0 in range(0, n, step):
            r1 = min(r0 + step, n)
            out[r0:r1, f:] = agg[r0:r1]  # may overlap its source: numpy copies through a buffer then
            out[r0:r1, :f] = x[r0:r1]
        return out

    def _output_names(self, base):
        agg = [f"{self.aggregator}_{name}" for name in base]
        return list(base) + agg if self.include_self else agg


# ---------------------------------------------------------------------------
# GraphLabelPropagation
# ---------------------------------------------------------------------------

class GraphLabelPropagation(ClassifierMixin, _GraphEstimator):
    """Semi-supervised node classification by spreading labels over a graph.

    Starting from ``Y`` (one-hot rows for the labelled nodes, zeros elsewhere),
    iterates ``F <- alpha * S F + (1 - alpha) * Y`` (``clamp="soft"``, label
    spreading, Zhou et al. 2004) or ``F <- S F`` then resetting the labelled
    rows to ``Y`` (``clamp="hard"``, label propagation, Zhu & Ghahramani 2002)
    until the largest change is below ``tol`` or ``max_iter`` is reached. Each
    iteration is one sparse product with ``n_classes`` columns, so the cost is
    ``O(nnz * n_classes)`` per iteration and memory ``O(n_nodes * n_classes)``.

    Parameters
    ----------
    graph : CSRMatrix, scipy sparse matrix, or callable
        The ``n_nodes × n_nodes`` adjacency, or a callable building it from the
        rows of ``X`` (then ``X`` holds features, as in scikit-learn's
        ``LabelSpreading``).
    alpha : float in [0, 1), default=0.9
        Weight of the neighbours against the initial labels (soft clamping).
        Ignored with ``clamp="hard"``.
    norm : {"sym", "row"}, default="sym"
        ``S = D^-1/2 A D^-1/2`` or ``D^-1 A``.
    clamp : {"soft", "hard"}, default="soft"
    self_loops : bool, default=False
        Add self loops to the graph before normalizing.
    max_iter : int, default=100
    tol : float, default=1e-4
    n_threads : int, optional

    Notes
    -----
    With a fixed graph, ``X`` is a column of node ids: ``fit(ids, y)`` uses the
    given nodes as labelled seeds (a label ``-1`` marks a node as unlabelled,
    scikit-learn's semi-supervised convention) and computes the label
    distribution of every node; ``predict(ids)`` reads it. With a callable
    graph, ``X`` is a feature matrix; ``predict`` on rows other than the
    training rows builds the graph over training and new rows together and
    propagates again (transductive inference).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    label_distributions_ : ndarray of shape (n_nodes, n_classes)
        Row-normalized scores of every node (uniform where no label reaches).
    transduction_ : ndarray of shape (n_nodes,)
        The predicted label of every node.
    n_iter_ : int
        Iterations run.
    """

    _shared_params = ("graph",)

    def __init__(self, graph, *, alpha=0.9, norm="sym", clamp="soft", self_loops=False, max_iter=100, tol=1e-4,
                 n_threads=None):
        self.graph = graph
        self.alpha = alpha
        self.norm = norm
        self.clamp = clamp
        self.self_loops = self_loops
        self.max_iter = max_iter
        self.tol = tol
        self.n_threads = n_threads

    def _check_params(self):
        _check_real(self.alpha, "alpha", 0.0, 1.0)
        if self.alpha >= 1.0:
            raise errors.InvalidArgumentError(f"alpha must be in [0, 1), got {self.alpha!r}")
        _check_choice(self.norm, "norm", {"sym", "row"})
        _check_choice(self.clamp, "clamp", {"soft", "hard"})
        _check_int(self.max_iter, "max_iter", 1)
        _check_real(self.tol, "tol", 0.0, np.inf)
        _check_bool(self.self_loops, "self_loops")
        self._check_graph()

    def _propagate(self, g, seeds, seed_codes):
        """Label distributions of every node of ``g`` from the seed nodes."""
        s = _normalized(g, self.norm, self.self_loops)
        n, c = g.n_rows, len(self.classes_)
        y0 = np.zeros((n, c))
        y0[seeds, seed_codes] = 1.0
        base = None if self.clamp == "hard" else (1.0 - self.alpha) * y0
        seed_rows = y0[seeds]
        f, new = y0.copy(), np.empty_like(y0)  # two buffers, swapped each step
        it = 0
        for it in range(1, self.max_iter + 1):
            spmm(s, f, out=new, n_threads=self.n_threads)
            if base is None:
                new[seeds] = seed_rows
            else:
                new *= self.alpha
                new += base
            delta = float(np.max(np.abs(new - f))) if n else 0.0
            f, new = new, f
            if delta < self.tol:
                break
        total = f.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            dist = np.where(total > 0, f / np.where(total > 0, total, 1.0), 1.0 / max(c, 1))
        return dist, it

    def fit(self, X, y):
        """Spread the labels ``y`` of the nodes in ``X``.

        Parameters
        ----------
        X : node ids of shape (n_samples, 1), or features (callable graph)
        y : array-like of shape (n_samples,)
            Labels; ``-1`` marks an unlabelled sample.
        """
        from sklearn.utils.multiclass import check_classification_targets

        self._check_params()
        if self._callable_graph():
            X, y = validate_data(self, X, y, reset=True, dtype=_FLOATS)
            g = self._graph_for(X)
            seeds_all = np.arange(X.shape[0])
            self._X_fit = X
        else:
            g = _graph_csr(self.graph)
            self.__dict__.pop("_X_fit", None)  # from an earlier fit on a graph builder: stale
            from sklearn.utils import column_or_1d

            seeds_all = self._validate_ids(X, reset=True, n_nodes=g.n_rows)
            y = column_or_1d(y, warn=True)
            if y.shape[0] != seeds_all.shape[0]:
                raise errors.ShapeMismatchError(f"y has {y.shape[0]} entries but X has {seeds_all.shape[0]} "
                                                "node ids")
        check_classification_targets(y)
        labelled = ~((y == -1) if y.dtype.kind in "iuf" else np.zeros(y.shape, bool))
        classes, codes = np.unique(y[labelled], return_inverse=True)
        if classes.size == 0:
            raise errors.InvalidArgumentError("y has no labelled sample (" + (
                "no samples at all)" if y.size == 0 else "every label is -1)"))
        self.classes_ = classes
        self._seeds, self._seed_codes = seeds_all[labelled], codes
        self.label_distributions_, self.n_iter_ = self._propagate(g, self._seeds, codes)
        self.transduction_ = classes[np.argmax(self.label_distributions_, axis=1)]
        return self

    def predict_proba(self, X):
        """Label distribution of each node (columns ordered as ``classes_``)."""
        check_is_fitted(self, "label_distributions_")
        if not self._callable_graph():
            ids = self._validate_ids(X, reset=False, n_nodes=self.label_distributions_.shape[0])
            return self.label_distributions_[ids]
        check_is_fitted(self, "_X_fit")  # graph= set to a builder after a fit on a fixed graph: refit first
        X = validate_data(self, X, reset=False, dtype=_FLOATS)
        if X.shape == self._X_fit.shape and np.array_equal(X, self._X_fit):
            return self.label_distributions_.copy()
        both = np.vstack([self._X_fit, X.astype(self._X_fit.dtype, copy=False)])
        g = self._graph_for(both)
        # The new rows join the training rows' graph; the labelled training rows
        # stay the seeds, so a new row's label comes from its training neighbours.
        dist, _ = self._propagate(g, self._seeds, self._seed_codes)
        return dist[self._X_fit.shape[0]:]

    def predict(self, X):
        """Most likely label of each node."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
