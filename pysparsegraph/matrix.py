"""The CSR sparse matrix / graph object."""
import numbers
import threading

import numpy as np

from pysparsegraph import _core, errors
from pysparsegraph._validate import (FLOAT_DTYPES, INDEX_DTYPES, as_array, as_dim, as_dtype, as_flag, choice,
                                     is_integer_dtype, is_real_dtype, native_float, readonly_view,
                                     resolve_threads, to_ndarray)

_INT32_MAX = np.iinfo(np.int32).max
_INT64_MAX = np.iinfo(np.int64).max


def _values_dtype(dt):
    """float32/float64 stay as they are (in native byte order: a big-endian float32 stays float32, at half
    the memory of float64); other real dtypes become float64."""
    dt = native_float(dt)
    if dt in FLOAT_DTYPES:
        return dt
    if is_real_dtype(dt):
        return np.dtype(np.float64)
    raise errors.DTypeError(f"values has dtype {dt}; only real numbers are supported (float32 or float64)")


# one lock for the deferred checks of all matrices: each matrix takes it at most until its check passes
_DEFERRED_CHECK = threading.Lock()


class CSRMatrix:
    """A sparse matrix, or the adjacency of a graph, in CSR form.

    Storage: ``indptr`` int64 ``(n_rows+1,)``, ``indices`` int32 (or int64)
    ``(nnz,)`` column ids, and ``values`` float32/float64 ``(nnz,)`` or ``None``
    for an unweighted graph (every stored entry counts as 1 and no value array
    is kept, so an unweighted int32 graph costs 4 bytes per edge plus 8 bytes
    per row).

    Parameters
    ----------
    indptr, indices, values : array_like
        Raw CSR arrays. They are used without a copy when they already have a
        supported dtype and are C-contiguous (``indptr`` int64, ``indices``
        int32/int64, ``values`` float32/float64). Otherwise one converted copy
        is made: other integer index dtypes become int32, or int64 when the
        number of columns needs it; other real value dtypes become float64.
    shape : (int, int), optional
        Defaults to ``(len(indptr) - 1, max(indices) + 1)``.
    copy : bool or None
        ``None``: copy only when a conversion needs it; ``True``: always copy;
        ``False``: raise :class:`~pysparsegraph.errors.CopyRequiredError`
        rather than copy.
    check : bool
        Validate ``indptr`` (starts at 0, non-decreasing, ends at nnz) and the
        column ids (in range) in C. Turn off only for arrays this library made.
    n_threads : int, optional
        Threads for that check (unused when ``check=False``); ``None`` = the
        OpenMP runtime's limit at call time.

    Notes
    -----
    The arrays exposed by the properties are read-only views. The library never
    writes into arrays it was given; if you keep writing into them yourself
    after construction, the matrix sees those changes, with two caveats: the
    structure is checked once, at construction, so column ids written out of
    range later are not caught (a kernel may then read out of bounds); and
    what the matrix derives and caches from its arrays (values converted to
    another dtype, degrees for ``norm=``, plans) is not recomputed. Build a new
    matrix after changing its arrays. The same holds for
    :meth:`from_scipy`, which shares scipy's arrays: scipy methods that work in
    place (``sum_duplicates``, ``sort_indices``, and operations that call them,
    such as ``abs``) rewrite arrays the matrix uses; pass ``copy=True`` to
    decouple the two.
    Unsorted and duplicate column ids within a row are allowed; products sum
    duplicates, as scipy does.
    """

    __slots__ = ("_indptr", "_indices", "_values", "_shape", "_cache", "__weakref__")

    def __init__(self, indptr, indices, values=None, shape=None, *, copy=None, check=True, n_threads=None):
        indptr = as_array(indptr, "indptr", np.int64, copy=copy, allowed_from=is_integer_dtype)
        ind = to_ndarray(indices, "indices")
        if ind.size == 0 and ind.dtype.kind == "f":  # np.asarray([]) is float64: an empty list of ids
            ind = ind.astype(np.int64)
        if not is_integer_dtype(ind.dtype):
            raise errors.DTypeError(f"indices must be an integer array, got dtype {ind.dtype}")
        if indptr.shape[0] < 1:
            raise errors.InvalidIndptrError("indptr must have n_rows + 1 >= 1 entries, got an empty array")
        n_rows = indptr.shape[0] - 1
        if shape is None:
            n_cols = int(ind.max()) + 1 if ind.size else 0
            n_cols = max(n_cols, 0)
            if n_cols > _INT64_MAX:  # the C check takes an int64 n_cols
                raise errors.IndexOverflowError(f"indices holds {n_cols - 1}: the column count max(indices) + 1 "
                                                "does not fit int64")
        else:
            _check_shape_pair(shape)
            sr, n_cols = as_dim(shape[0], "shape[0]"), as_dim(shape[1], "shape[1]")
            if sr != n_rows:
                raise errors.InvalidIndptrError(
                    f"indptr has length {indptr.shape[0]} but shape[0] = {sr} needs n_rows + 1 = {sr + 1}")
        index_dtype = ind.dtype if ind.dtype in INDEX_DTYPES else np.dtype(np.int64 if n_cols > _INT32_MAX
                                                                             else np.int32)
        indices = as_array(ind, "indices", index_dtype, copy=copy)
        if values is not None:
            vals = to_ndarray(values, "values")
            values = as_array(vals, "values", _values_dtype(vals.dtype), copy=copy)
            if values.shape[0] != indices.shape[0]:
                raise errors.ShapeMismatchError(
                    f"values has {values.shape[0]} entries but indices has {indices.shape[0]}; "
                    "they must have one entry per stored element")
        if check:
            _core.check_csr(indptr, indices, n_cols, resolve_threads(n_threads))
        self._indptr = readonly_view(indptr)
        self._indices = readonly_view(indices)
        self._values = readonly_view(values)
        self._shape = (n_rows, n_cols)
        self._cache = {}

    # ---- construction -------------------------------------------------
    @classmethod
    def _trusted(cls, indptr, indices, values, shape, *, check_before_use=False):
        """Wraps arrays without checking them: ones the C core produced, or
        (``check_before_use=True``) ones whose check is deferred to the first
        kernel call, so that opening a memory-mapped file stays O(1)."""
        obj = cls.__new__(cls)
        # the properties hand these out: read-only, as the constructor makes them
        obj._indptr, obj._indices, obj._values = (a if a is None or not a.flags.writeable else readonly_view(a)
                                                  for a in (indptr, indices, values))
        obj._shape = (int(shape[0]), int(shape[1]))
        obj._cache = {"unchecked": True} if check_before_use else {}
        return obj

    def _ensure_checked(self):
        """Runs a deferred structure check once (see ``_trusted``). The flag is
        cleared only after the check passes, under a lock: the check releases
        the GIL, and a thread that found the flag already gone would run a
        kernel on column ids nobody had checked yet."""
        if "unchecked" in self._cache:
            with _DEFERRED_CHECK:
                if "unchecked" in self._cache:
                    _core.check_csr(self._indptr, self._indices, self._shape[1], 0)
                    del self._cache["unchecked"]
        return self

    @classmethod
    def from_scipy(cls, matrix, *, copy=None, drop_values=False, check=True):
        """From any ``scipy.sparse`` matrix or array.

        CSR input is used without copying ``indices`` and ``data`` when their
        dtypes fit; scipy's int32 ``indptr`` is widened to int64 (one copy of
        ``n_rows + 1`` entries). Other formats go through ``tocsr()`` (which sums
        duplicates), so they count as a copy. ``drop_values=True`` keeps the
        pattern only (an unweighted graph).

        ``copy`` and ``check`` are as for :class:`CSRMatrix`: ``copy=True``
        copies every array; ``copy=False`` raises
        :class:`~pysparsegraph.errors.CopyRequiredError` whenever a copy is
        needed, which includes scipy's usual int32 ``indptr`` and any non-CSR
        input; ``check=False`` skips the structure check.
        """
        fmt = getattr(matrix, "format", None)
        if fmt is None or not hasattr(matrix, "tocsr"):
            raise errors.DTypeError(f"expected a scipy.sparse matrix or array, got {type(matrix).__name__}")
        if len(matrix.shape) != 2:  # scipy's 1-D and n-D sparse arrays; tocsr() refuses n-D with a bare ValueError
            raise errors.ShapeMismatchError(f"expected a 2-D scipy.sparse matrix or array, got shape {matrix.shape}")
        if fmt != "csr":
            if copy is False:
                raise errors.CopyRequiredError(f"a scipy '{fmt}' matrix must be converted to CSR, which copies; "
                                               "pass copy=None to allow it")
            matrix = matrix.tocsr()
        values = None if drop_values else matrix.data
        return cls(matrix.indptr, matrix.indices, values, shape=matrix.shape, copy=copy, check=check)

    @classmethod
    def from_edges(cls, src, dst, values=None, *, shape=None, duplicates="sum", self_loops="keep",
                   symmetrize=False, loop_value=1.0, index_dtype=None, n_threads=None):
        """Builds a CSR from edge arrays with a parallel counting sort in C.

        Parameters
        ----------
        src, dst : array_like of int
            Row (source) and column (target) ids, one per edge.
        values : array_like, optional
            One value per edge (float32/float64 kept, other reals become
            float64). Without values the result is an unweighted graph.
        shape : (int, int), optional
            Defaults to a square ``n × n`` with ``n = max id + 1``.
        duplicates : {"sum", "first", "keep"}
            Repeated (src, dst) pairs: one entry with the values summed in input
            order, one entry with the first value, or every repetition kept.
            An unweighted graph has no values to sum: "sum" and "first" both
            leave one edge (pass ``values=np.ones(m)`` to count repeats).
        self_loops : {"keep", "drop", "add"}
            ``"add"`` gives every node without a self loop one with
            ``loop_value`` (existing loops are kept as they are).
        symmetrize : bool
            Also insert (dst, src) for every edge except a self loop; a pair
            given both ways then forms a duplicate handled by ``duplicates``,
            in input order ("first": the pair's first occurrence, either way
            round, gives both directions their value), so the result is
            symmetric, as :func:`~pysparsegraph.io.read_edgelist` gives.
        loop_value : float
            Value of the loops ``self_loops="add"`` adds. Other than 1 on an
            unweighted graph, the result is weighted (float64): 1 on every
            given edge (one per repeated pair, as unweighted), ``loop_value``
            on the added loops.
        index_dtype : {None, int32, int64}
            Column id type; ``None`` picks int32 when the column count fits.
        n_threads : int, optional
            Threads of the build; ``None`` = the OpenMP limit at call time.

        Column ids come out sorted within each row. The result does not depend
        on the thread count. ``src``/``dst`` not already int64 are converted
        (one copy each).
        """
        src = as_array(src, "src", np.int64, allowed_from=is_integer_dtype)
        dst = as_array(dst, "dst", np.int64, allowed_from=is_integer_dtype)
        if src.shape[0] != dst.shape[0]:
            raise errors.ShapeMismatchError(f"src has {src.shape[0]} entries but dst has {dst.shape[0]}")
        if values is not None:
            v = to_ndarray(values, "values")
            values = as_array(v, "values", _values_dtype(v.dtype))
            if values.shape[0] != src.shape[0]:
                raise errors.ShapeMismatchError(f"values has {values.shape[0]} entries but there are "
                                                f"{src.shape[0]} edges")
        if shape is None:
            n = 0
            if src.size:
                lo = min(int(src.min()), int(dst.min()))
                if lo < 0:
                    raise errors.IndexOutOfRangeError(f"node ids must be >= 0, found {lo}")
                n = max(int(src.max()), int(dst.max())) + 1
            shape = (n, n)
        _check_shape_pair(shape)
        n_rows, n_cols = as_dim(shape[0], "shape[0]"), as_dim(shape[1], "shape[1]")
        duplicates = choice(duplicates, "duplicates", {"sum", "first", "keep"})
        self_loops = choice(self_loops, "self_loops", {"keep", "drop", "add"})
        if index_dtype is None:
            index_size = 4 if n_cols <= _INT32_MAX else 8
        else:
            dt = as_dtype(index_dtype, "index_dtype")
            if dt not in INDEX_DTYPES:
                raise errors.DTypeError(f"index_dtype must be int32 or int64, got {dt}")
            index_size = dt.itemsize
        if isinstance(loop_value, (bool, np.bool_)) or not isinstance(loop_value, numbers.Real):
            raise errors.InvalidArgumentError(f"loop_value must be a real number, got {loop_value!r}")
        if values is None and self_loops == "add" and float(loop_value) != 1.0:
            # the loops need a value the implicit ones cannot hold: weigh every edge 1, as unweighted
            # (a repeated pair stays one edge of weight 1, not a sum)
            values = np.ones(src.shape[0], np.float64)
            duplicates = "first" if duplicates == "sum" else duplicates
        indptr, indices, vals = _core.edges_to_csr(n_rows, n_cols, src, dst, values, index_size, duplicates,
                                                   self_loops, as_flag(symmetrize, "symmetrize"), float(loop_value),
                                                   resolve_threads(n_threads))
        return cls._trusted(indptr, indices, vals, (n_rows, n_cols))

    # ---- export -------------------------------------------------------
    def to_scipy(self, dtype=None, *, copy=False):
        """A ``scipy.sparse.csr_array``. An unweighted matrix gets explicit ones
        (float32 unless ``dtype`` says otherwise).

        By default the scipy matrix shares this matrix's column ids and values,
        read-only (the values are a writeable copy when ``dtype`` is given; the
        row pointers are an int32 copy for int32 ids, as scipy wants both index
        arrays in one dtype). scipy
        methods that rewrite its arrays in place then raise scipy's
        ``ValueError`` (read-only): ``sort_indices``, ``sum_duplicates``,
        ``eliminate_zeros``, in-place arithmetic such as ``S *= 2``, and, when
        rows hold unsorted or duplicate column ids, operations that first sort
        them in place, such as ``abs(S)`` or ``S.max(axis=1)``. Pass
        ``copy=True`` for a scipy matrix with writeable arrays of its own.
        """
        import scipy.sparse as sp

        if dtype is not None:
            dtype = as_dtype(dtype, "dtype")
            if dtype.kind not in "biufc" or dtype == np.float16:  # what scipy.sparse can hold
                raise errors.DTypeError(f"dtype must be a bool, integer, float (not float16) or complex dtype, "
                                        f"as scipy.sparse supports, got {dtype}")
        self._ensure_checked()  # scipy trusts the arrays it is given
        if self._values is None:
            data = np.ones(self.nnz, dtype=dtype or np.float32)
        elif dtype is None and not copy:
            data = self._values
        else:  # a converted (or asked-for) copy, writeable, as asking for a dtype always gave
            data = self._values.astype(dtype or self._values.dtype)
        indptr = self._indptr
        if self._indices.dtype == np.int32 and self.nnz <= np.iinfo(np.int32).max:
            # scipy gives indptr and indices one dtype: an int32 indptr (n_rows + 1 entries)
            # spares a widened copy of the indices (nnz entries), with copy=True too
            indptr = indptr.astype(np.int32)
        elif copy:
            indptr = indptr.copy()
        indices = self._indices.copy() if copy else self._indices
        return sp.csr_array((data, indices, indptr), shape=self._shape)

    def to_edges(self, n_threads=None):
        """``(src, dst, values)``: ``dst`` and ``values`` are views of the stored
        arrays, ``src`` is computed in C; ``values`` is None when unweighted."""
        self._ensure_checked()
        src = _core.expand_rows(self._indptr, self._indices.dtype, resolve_threads(n_threads))
        return src, self._indices, self._values

    def astype(self, dtype):
        """Same structure with values converted to ``dtype`` (an unweighted
        matrix gets explicit values). Index arrays are shared, not copied."""
        dt = as_dtype(dtype, "dtype")
        if dt not in FLOAT_DTYPES:
            raise errors.DTypeError(f"dtype must be float32 or float64, got {dt}")
        vals = np.ones(self.nnz, dt) if self._values is None else self._values.astype(dt)
        return CSRMatrix._trusted(self._indptr, self._indices, readonly_view(vals), self._shape,
                                  check_before_use="unchecked" in self._cache)

    def clear_cache(self):
        """Drops what the matrix caches for its products: SpMM plans (a blocked
        plan holds a copy of A), converted values, degrees, the transpose and
        the scikit-learn estimators' normalized matrices. They are rebuilt when
        next needed (plans you hold keep working)."""
        for key in [k for k in list(self._cache) if k != "unchecked"]:  # the deferred check flag stays
            self._cache.pop(key, None)

    def values_as(self, dtype):
        """The values in ``dtype`` (None when unweighted). A converted copy is
        made once and cached on the matrix."""
        if self._values is None or self._values.dtype == dtype:
            return self._values
        dt = as_dtype(dtype, "dtype")
        if dt.kind not in "biufc":  # numpy would give strings, or structured records, of the values
            raise errors.DTypeError(f"dtype must be a numeric dtype, got {dt}")
        key = ("values", dt.str)
        if key not in self._cache:
            self._cache[key] = readonly_view(self._values.astype(dtype))
        return self._cache[key]

    # ---- properties ---------------------------------------------------
    # The index arrays go out through these properties (to reorder, io, plans
    # and kernels), so a deferred structure check runs before anyone reads them.
    @property
    def indptr(self):
        """Row pointers, int64 ``(n_rows + 1,)``: a read-only view of the stored array (no copy)."""
        return self._ensure_checked()._indptr

    @property
    def indices(self):
        """Column ids, int32 or int64 ``(nnz,)``: a read-only view of the stored array (no copy)."""
        return self._ensure_checked()._indices

    @property
    def values(self):
        """Values, float32 or float64 ``(nnz,)``: a read-only view of the stored array; None when unweighted."""
        return self._values

    @property
    def shape(self):
        """``(n_rows, n_cols)``, a tuple of ints."""
        return self._shape

    @property
    def n_rows(self):
        """Number of rows (source nodes of a graph)."""
        return self._shape[0]

    @property
    def n_cols(self):
        """Number of columns (target nodes of a graph)."""
        return self._shape[1]

    @property
    def nnz(self):
        """Number of stored entries (edges), duplicates included, as an int."""
        return int(self._indices.shape[0])

    @property
    def dtype(self):
        """Value dtype, or None for an unweighted matrix."""
        return None if self._values is None else self._values.dtype

    @property
    def index_dtype(self):
        """dtype of the column ids: int32 or int64."""
        return self._indices.dtype

    @property
    def is_weighted(self):
        """True when values are stored, False for an unweighted graph."""
        return self._values is not None

    @property
    def nbytes(self):
        """Bytes of the stored arrays (indptr + indices + values); caches excluded."""
        return self._indptr.nbytes + self._indices.nbytes + (0 if self._values is None else self._values.nbytes)

    @property
    def bytes_per_edge(self):
        """``nbytes / nnz`` as a float (``nbytes`` itself when nnz is 0)."""
        return self.nbytes / max(self.nnz, 1)

    def __reduce__(self):
        # Rebuild through _trusted so an unpickled matrix has read-only arrays too.
        self._ensure_checked()
        return (_rebuild, (self._indptr, self._indices, self._values, self._shape))

    def __matmul__(self, x):
        from pysparsegraph.ops import spmm

        return spmm(self, x)

    def __repr__(self):
        kind = f"values={self._values.dtype}" if self._values is not None else "unweighted"
        return (f"<CSRMatrix {self._shape[0]}x{self._shape[1]}, nnz={self.nnz}, indices={self._indices.dtype}, "
                f"{kind}, {self.nbytes} bytes>")


def _check_shape_pair(shape):
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise errors.ShapeMismatchError(f"shape must be a pair (n_rows, n_cols), got {shape!r}")


def _rebuild(indptr, indices, values, shape):
    return CSRMatrix._trusted(readonly_view(indptr), readonly_view(indices), readonly_view(values), shape)


def as_csr(a, name="A"):
    """A CSRMatrix from a CSRMatrix (as is) or a scipy sparse matrix (converted)."""
    if isinstance(a, CSRMatrix):
        return a._ensure_checked()
    if hasattr(a, "tocsr") and hasattr(a, "format"):
        return CSRMatrix.from_scipy(a)
    raise errors.DTypeError(f"{name} must be a pysparsegraph.CSRMatrix or a scipy.sparse matrix, "
                            f"got {type(a).__name__}")
