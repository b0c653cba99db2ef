"""SpMM plans: how the C core partitions, schedules and lays out one product.

A :class:`Plan` records the decisions the planner takes for a matrix, a
feature width ``k``, a dtype and a thread count: the layout (plain CSR or a
cache-blocked copy with uint16 column ids), the partition into nnz-balanced
chunks with hub rows split at fixed points, the scheduler (work stealing by
default) and the SIMD path. ``spmm`` builds and caches one automatically;
:func:`plan_spmm` lets you inspect it or override any decision.
"""
import numpy as np

from pysparsegraph import _core, errors
from pysparsegraph._validate import (FLOAT_DTYPES, INT64_MAX, as_dtype, c_aligned, is_one_of, native_float,
                                     resolve_threads, to_ndarray)

_LAYOUTS = {"auto": 0, "csr": 1, "blocked": 2}
_PARTITIONS = {"auto": 0, "nnz": 1, "rows": 2}
_SCHEDULES = {"auto": 0, "static": 1, "dynamic": 2, "steal": 3}
_ISAS = {"auto": 0, "generic": 1, "avx2": 2, "avx512": 3}
_STORES = {"auto": 0, "cached": 1, "stream": 2}
_AUTO_OFF_ON = {"auto": 0, "off": 1, "on": 2}  # narrow_prefetch, align_x, feature_tiles
MAX_CACHED_PLANS = 8  # per matrix, see plan_spmm(cache=)


def _name(table, code):
    for k, v in table.items():
        if v == code:
            return k
    return str(code)


def _option(value, name, table):
    if value is None:
        return 0
    if not is_one_of(value, table):
        raise errors.InvalidArgumentError(f"{name} must be one of {sorted(table)}, got {value!r}")
    return table[value]


def _count(value, name, *, allow_negative=False, maximum=None):
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise errors.InvalidArgumentError(f"{name} must be None or an integer, got {value!r}")
    value = int(value)
    if maximum is None:
        maximum = INT64_MAX
    if value < 0 and not (allow_negative and value == -1) or value == 0:
        never = ", -1 (never)" if allow_negative else ""
        raise errors.InvalidArgumentError(f"{name} must be a positive integer{never} or None (automatic), got {value}")
    if value > maximum or value < -maximum:
        raise errors.InvalidArgumentError(f"{name} must be at most {maximum}, got {value}")
    return value


def _effective_threads(n_threads):
    t = resolve_threads(n_threads)
    return t if t > 0 else max(1, _core.max_threads())


class Plan:
    """An SpMM plan for one (matrix structure, k, dtype, thread count).

    Build it with :func:`plan_spmm`; pass it to ``spmm(A, X, plan=plan)``.
    Attributes (read-only): ``layout`` ("csr" or "blocked"), ``partition``,
    ``schedule``, ``isa`` (``"auto"`` = best the CPU has, decided per call),
    ``k``, ``dtype``, ``n_threads``, ``serial`` (True when the work is too
    small to be worth waking a second thread: it then runs on the calling
    thread, except in a hot loop: a call that starts within 1 ms of the end of
    the previous product, with at least 2^17 multiply-adds, finds the team
    awake and uses it; the bits are the same either way),
    ``stream`` (True when rows of Y are written with streaming stores, for
    an X of the plan's dtype; see :func:`plan_spmm`), ``narrow_prefetch``
    (True when rows of X one SIMD vector wide are prefetched, for an X of the
    plan's dtype; reported for every ``k``, it changes only products whose
    row of X is one vector; see :func:`plan_spmm`), ``gather_miss`` (the estimated share of gathers that
    miss the L2, which that choice weighs; None when not estimated: wide
    rows, an X that fits the L2, blocked layout, or narrow_prefetch given),
    ``align_x`` (True when a call on the plan's thread count copies an X
    that does not start on a 64-byte line to one that does before gathering
    from it; see :func:`plan_spmm`), ``feature_tiles`` (True when rows of Y
    are computed in 128-byte tiles, for an X of the plan's dtype; see
    :func:`plan_spmm`), ``gather_miss_llc`` (the estimated share of gathers
    that miss the last-level cache, which that choice weighs; None when not
    estimated: rows of X under 1 KiB, an X that fits that cache, blocked
    layout, or feature_tiles given),
    ``n_chunks``, ``split_len`` (hub rows are
    cut every ``split_len`` entries; -1 = never), ``n_hubs``, ``seg_width`` and
    ``n_segs`` (blocked layout), ``nbytes`` (memory held now, including the
    blocked copy of A and the aligned copy of X that ``align_x`` keeps from
    call to call) and ``build_seconds``.
    """

    def __init__(self, handle, matrix, k, dtype, n_threads):
        self._handle = handle
        self._shape = matrix.shape
        self._nnz = matrix.nnz
        self._indptr = matrix.indptr
        info = handle.info()
        # A blocked plan computes from its own copy of these: a product may only
        # use it with a matrix that holds the same column ids and values.
        self._source = (matrix.indices, matrix.values) if info["layout"] == _LAYOUTS["blocked"] else None
        self.k = int(k)
        self.dtype = np.dtype(dtype)
        self.layout = _name(_LAYOUTS, info["layout"])
        self.partition = _name(_PARTITIONS, info["partition"])
        self.schedule = _name(_SCHEDULES, info["schedule"])
        self.isa = _name(_ISAS, info["isa"])
        self.n_threads = int(info["n_threads"])
        self.serial = bool(info["serial"])
        self.stream = bool(info["stream"])
        self.narrow_prefetch = bool(info["narrow_prefetch"])
        self.align_x = bool(info["align_x"])
        self.gather_miss = None if info["gather_miss"] < 0 else float(info["gather_miss"])
        self.feature_tiles = bool(info["feature_tiles"])
        self.gather_miss_llc = None if info["gather_miss_llc"] < 0 else float(info["gather_miss_llc"])
        self.n_chunks = int(info["n_chunks"])
        self.split_len = int(info["split_len"])
        self.n_hubs = int(info["n_hubs"])
        self.seg_width = int(info["seg_width"])
        self.n_segs = int(info["n_segs"])
        self.build_seconds = float(info["build_seconds"])
        self._frozen = True

    @property
    def nbytes(self):
        # read from C each time: the buffer align_x copies X to is kept by the plan after a call
        return int(self._handle.info()["nbytes"])

    def __setattr__(self, name, value):
        # the attributes describe the C plan, which they cannot change
        if getattr(self, "_frozen", False):
            raise AttributeError(f"a Plan's attributes are read-only (cannot set {name!r}); build another plan "
                                 f"with plan_spmm(A, k, ...)")
        object.__setattr__(self, name, value)

    # Read-only, so a copy can be the plan itself; pickling cannot carry its C memory
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        raise errors.UnsupportedError("a Plan holds C memory built from one matrix and cannot be pickled; pickle "
                                      "the matrix and build the plan again with plan_spmm(A, k, ...)")

    def __repr__(self):
        extra = f", seg_width={self.seg_width}, n_segs={self.n_segs}" if self.layout == "blocked" else ""
        return (f"Plan(layout={self.layout!r}{extra}, k={self.k}, dtype={self.dtype.name}, "
                f"n_threads={self.n_threads}{', serial=True' if self.serial else ''}"
                f"{', stream=True' if self.stream else ''}{', narrow_prefetch=True' if self.narrow_prefetch else ''}"
                f"{', align_x=True' if self.align_x else ''}{', feature_tiles=True' if self.feature_tiles else ''}"
                f", partition={self.partition!r}, schedule={self.schedule!r}, "
                f"isa={self.isa!r}, n_chunks={self.n_chunks}, split_len={self.split_len}, n_hubs={self.n_hubs}, "
                f"nbytes={self.nbytes}, build_seconds={self.build_seconds:.2e})")

    def _check_for(self, A, k, acc_dtype):
        if A.shape != self._shape or A.nnz != self._nnz or not (
                A._indptr is self._indptr or np.array_equal(A.indptr, self._indptr)):
            raise errors.InvalidArgumentError("plan was built for another matrix structure; "
                                              "build one for this matrix with plan_spmm(A, k)")
        if k != self.k:
            raise errors.ShapeMismatchError(f"plan was built for k={self.k} but X has {k} columns; "
                                            f"build one with plan_spmm(A, {k})")
        if self.dtype != acc_dtype:
            raise errors.DTypeError(f"plan was built for {self.dtype.name} but this product accumulates in "
                                    f"{np.dtype(acc_dtype).name}; build one with plan_spmm(A, k, dtype=...)")
        if self._source is not None and not all(_same_array(a, b) for a, b in zip((A.indices, A.values),
                                                                                  self._source)):
            raise errors.InvalidArgumentError("this blocked plan computes from its own copy of the column ids and "
                                              "values of the matrix it was built for, and A holds others; build "
                                              "one for this matrix with plan_spmm(A, k, layout='blocked')")


def _same_array(a, b):
    """Same buffer, or the same contents (None only matches None)."""
    if a is None or b is None:
        return a is b
    return a is b or (a.dtype == b.dtype and a.shape == b.shape and
                      np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))  # a NaN value is the same value


def plan_spmm(A, k, dtype=np.float32, *, n_threads=None, layout=None, partition=None, schedule=None, isa=None,
              n_chunks=None, split_len=None, seg_width=None, store=None, narrow_prefetch=None, align_x=None,
              feature_tiles=None, cache=True):
    """Builds (or returns the cached) SpMM plan for ``A @ X`` with X of width ``k``.

    Parameters
    ----------
    A : CSRMatrix or scipy.sparse matrix
    k : int
        Feature width (columns of X), >= 1.
    dtype : float32 or float64
        Accumulation dtype (float32 also serves bfloat16 X).
    n_threads : int, optional
        Threads the plan is sized for (chunk count); ``None`` = OpenMP limit now.
        A plan runs correctly, and bit-identically, with any thread count.
    layout : {"auto", "csr", "blocked"}, optional
        ``"blocked"`` builds a cache-blocked copy of A (column segments of
        ``seg_width`` columns, uint16 column ids, empty rows skipped).
    partition : {"auto", "nnz", "rows"}, optional
        nnz-balanced chunks (auto) or equal row counts (for comparison).
    schedule : {"auto", "steal", "dynamic", "static"}, optional
        Work stealing (auto), OpenMP dynamic, or static.
    isa : {"auto", "avx512", "avx2", "generic"}, optional
        SIMD path; a path this CPU lacks raises UnsupportedError.
    n_chunks : int, optional
        Number of chunks (auto: a few per thread, more for large work).
    split_len : int, optional
        Rows with more entries are split every ``split_len`` entries; -1 never
        splits. Auto depends on nnz only, so results do not depend on threads.
    seg_width : int, optional
        Columns per segment of the blocked layout (<= 65536).
    store : {"auto", "cached", "stream"}, optional
        How rows of Y are written. ``"stream"`` uses streaming (non-temporal)
        stores, which send each line of Y to memory without first reading it
        into the cache: faster once Y is bigger than the last-level cache
        (nothing would read it from there), slower for a Y that the next step
        reads back from cache. Auto streams when Y and X together are larger
        than the last-level cache (:func:`pysparsegraph.plan.cache_bytes`),
        whose gathers then evict Y's lines before anyone reads them; a
        bfloat16 X (:func:`spmm_bf16`) counts at its own two bytes. It applies
        to CSR plans of the plain product and of the GNN sum/mean products
        (not max/min) when ``out`` is 64-byte aligned and
        a row of Y is a whole number of 64-byte lines (K a multiple of 16 for
        float32, of 8 for float64); arrays that ``spmm`` allocates, and those
        from :func:`pysparsegraph.empty_aligned`, are aligned. Results are
        the same bits either way.
    narrow_prefetch : {"auto", "off", "on"}, optional
        Whether plain CSR products whose row of X is one SIMD vector (K = 16
        float32 on AVX-512, 8 on AVX2) prefetch the rows of X they are about
        to gather. Wider rows always do. One-vector rows gain when most
        gathers miss the L2 (1.08-1.35x on an AMD Zen 4 VM) and lose when
        they hit (down to 0.78x), so auto prefetches when X is larger than
        the last-level cache (:func:`pysparsegraph.plan.cache_bytes`), or
        larger than the L2 with over half of the gathers estimated to miss it
        (``Plan.gather_miss``, sampled from A's column ids), judged per call
        by X's dtype (a bfloat16 X is half as large). Results are the same
        bits either way.
    align_x : {"auto", "off", "on"}, optional
        Whether a call whose X does not start on a 64-byte line (NumPy puts a
        large array 16 bytes past one) first copies X, in parallel, to a
        buffer that does. Off a line, each gathered row touches one line more
        than it needs (a row of 16 floats two lines instead of one) and every
        vector load of it splits across two; the copy reads X once, the
        gathers read each row ``nnz / n_cols`` times on average. Auto copies
        when rows of X are whole 64-byte lines (K a multiple of 16 for
        float32), X is gathered at least 32 times a row on average and X and
        its copy fit the last-level cache together, and for a call on several
        threads rows are more than one line: 1.06-1.36x on one thread on
        ego-Facebook, 1.13-1.22x on two at K = 64 and 256, none on two for rows
        of one line (AMD Zen 4 VM); uk-2007-05@100000 (30 times a row) gained
        0.94-1.29x on one thread there and lost 0.74-0.92x on an Intel Xeon
        VM, and graphs whose rows are gathered fewer than 12 times lost. The plan
        keeps the buffer for its next call when it is at most the last-level
        cache (``Plan.nbytes`` counts it; a call that finds another using it
        makes its own); X from :func:`pysparsegraph.empty_aligned` needs none.
        Results are the same bits either way.
    feature_tiles : {"auto", "off", "on"}, optional
        Whether plain CSR products compute each row of Y in tiles of 128
        bytes (32 float32), every tile summing over all of the row's entries
        before the next starts, rather than the whole row at once. When
        nearly every gathered row of X comes from memory, the first tile asks
        for the start of all the row's X rows at once and the core's
        prefetchers follow each of them: 1.09-1.13x on an Erdos-Renyi graph
        of 2^20 nodes at K = 256 (Intel Xeon VM). Where rows of X come back
        while still cached, reading each several times a row loses (0.82-0.95x
        on R-MAT and the real graphs of the suite). Auto tiles when a row of X
        is at least 1 KiB (K >= 256 float32), X is larger than the last-level
        cache and over 3/4 of the gathers are estimated to miss it
        (``Plan.gather_miss_llc``), judged per call by X's dtype; ``"on"``
        tiles whenever a row of Y is a whole number of tiles. Results are the
        same bits either way.
    cache : bool
        Keep the plan in ``A._cache`` (and reuse a cached one). A matrix keeps
        its ``MAX_CACHED_PLANS`` (8) latest plans, dropping the oldest: a
        blocked plan holds a copy of A. ``A.clear_cache()`` drops them all;
        a plan you hold keeps working either way.

    Returns
    -------
    Plan
    """
    from pysparsegraph.matrix import as_csr

    A = as_csr(A)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise errors.InvalidArgumentError(f"k must be a positive integer, got {k!r}")
    dtype = as_dtype(dtype, "dtype")
    if dtype not in FLOAT_DTYPES:
        raise errors.DTypeError(f"dtype must be float32 or float64, got {dtype}")
    threads = _effective_threads(n_threads)
    opts = (_option(layout, "layout", _LAYOUTS), _option(partition, "partition", _PARTITIONS),
            _option(schedule, "schedule", _SCHEDULES), _option(isa, "isa", _ISAS),
            _count(n_chunks, "n_chunks", maximum=(1 << 31) - 1), _count(split_len, "split_len", allow_negative=True),
            _count(seg_width, "seg_width", maximum=65536), _option(store, "store", _STORES),
            _option(narrow_prefetch, "narrow_prefetch", _AUTO_OFF_ON), _option(align_x, "align_x", _AUTO_OFF_ON),
            _option(feature_tiles, "feature_tiles", _AUTO_OFF_ON))
    key = ("spmm_plan", int(k), dtype.str, threads, opts)
    if cache and key in A._cache:
        return A._cache[key]
    values = A.values_as(dtype)
    handle = _core.spmm_plan_build(A.n_cols, A.indptr, A.indices, values, int(k), dtype == np.float64, threads,
                                   *opts)
    plan = Plan(handle, A, k, dtype, threads)
    if cache:
        _keep(A, key, plan)
    return plan


def _keep(A, key, plan):
    """Caches ``plan`` on A under ``key``, keeping the MAX_CACHED_PLANS latest
    of its kind (key[0]) and dropping the oldest: a blocked plan holds a copy of A."""
    A._cache[key] = plan
    kept = [c for c in list(A._cache) if isinstance(c, tuple) and c[0] == key[0]]
    for old in kept[:-MAX_CACHED_PLANS]:
        A._cache.pop(old, None)


def _auto_plan(A, k, acc, n_threads):
    """The automatic plan for (k, accumulation dtype, team size), cached on A:
    the one every product on A at that width shares (plain sum and GNN ops)."""
    threads = resolve_threads(n_threads)
    key = ("spmm_auto", k, acc.char if isinstance(acc, np.dtype) else np.dtype(acc).char,
           threads if threads > 0 else _core.max_threads())
    plan = A._cache.get(key)
    if plan is None:
        plan = plan_spmm(A, k, acc, n_threads=key[3])
        _keep(A, key, plan)
    return plan


def _checked_plan(A, k, acc, n_threads, plan):
    """``plan`` checked against this product, or the automatic one when None."""
    if plan is None:
        return _auto_plan(A, k, acc, n_threads)
    if not isinstance(plan, Plan):
        raise errors.InvalidArgumentError(f"plan must be a Plan from plan_spmm, got {type(plan).__name__}")
    plan._check_for(A, k, acc)
    return plan


def _run(A, values, x, y, n_threads, plan):
    """y[:] = A @ x through a plan (the cached automatic one when plan is None).
    ``x`` float32/float64 (or uint16 bfloat16 with float32 ``y``), validated."""
    plan = _checked_plan(A, x.shape[1], y.dtype, n_threads, plan)
    _core.spmm_plan_exec(plan._handle, A._indptr, A._indices, values, x, y,  # A checked by as_csr
                         resolve_threads(n_threads))


def to_bfloat16(X, *, n_threads=None):
    """float32 array -> its bfloat16 storage as a uint16 array (same shape).

    Rounds to nearest, ties to even (NaN stays NaN), in C. The result is what
    :func:`spmm_bf16` reads as X. It starts on a 64-byte boundary, so a row
    of 64 features (128 bytes) spans two cache lines, not three (numpy's
    large arrays start 16 bytes into a page).
    """
    from pysparsegraph.ops import empty_aligned

    x = to_ndarray(X, "X")
    x = x.astype(native_float(x.dtype), copy=False)
    if x.dtype != np.float32:
        raise errors.DTypeError(f"X must be float32, got {x.dtype}; convert it with X.astype(np.float32)")
    shape = x.shape  # (ascontiguousarray would make a 0-d array 1-d)
    x = c_aligned(x)
    out = empty_aligned(shape, np.uint16)
    _core.f32_to_bf16(x.reshape(-1), out.reshape(-1), resolve_threads(n_threads))
    return out


def from_bfloat16(Xb):
    """uint16 bfloat16 storage -> float32 (exact)."""
    xb = np.asarray(Xb)
    if xb.dtype != np.uint16:
        raise errors.DTypeError(f"Xb must be uint16 bfloat16 storage, got {xb.dtype}")
    return (xb.astype(np.uint32) << 16).view(np.float32)


def spmm_bf16(A, Xb, out=None, *, n_threads=None, plan=None):
    """``A @ X`` with X stored as bfloat16 (uint16 array from :func:`to_bfloat16`).

    Accumulates and returns float32; A's values (if any) are used as float32.
    Half the bytes of X are moved compared with float32, which is what a
    memory-bound product is limited by.

    Parameters
    ----------
    A : CSRMatrix or scipy.sparse matrix, ``n_rows × n_cols``
    Xb : ndarray of uint16, shape ``(n_cols, K)``
    out : ndarray of float32 ``(n_rows, K)``, optional
    n_threads : int, optional
    plan : Plan, optional
        A float32 plan from ``plan_spmm(A, K)``.
    """
    from pysparsegraph.matrix import as_csr
    from pysparsegraph.ops import _output

    A = as_csr(A)
    xb = np.asarray(Xb)
    if xb.dtype != np.uint16:
        raise errors.DTypeError(f"Xb must be a uint16 array of bfloat16 values (see to_bfloat16), got {xb.dtype}")
    if xb.ndim != 2:
        raise errors.ShapeMismatchError(f"Xb must be 2-D (n_cols, K), got shape {xb.shape}")
    if xb.shape[0] != A.n_cols:
        raise errors.ShapeMismatchError(f"A has {A.n_cols} columns but Xb has {xb.shape[0]} rows; they must be equal")
    xb = c_aligned(xb)
    values = A.values_as(np.float32)
    y = _output(out, (A.n_rows, xb.shape[1]), np.dtype(np.float32), False, (xb, A.indptr, A.indices, values))
    if A.n_rows and xb.shape[1]:
        _run(A, values, xb, y, n_threads, plan)
    elif plan is not None:  # an empty product still refuses a plan that does not fit it
        _checked_plan(A, xb.shape[1], y.dtype, n_threads, plan)
    return y


class force_isa:
    """Context manager (and function) forcing the SIMD path of every SpMM.

    ``with force_isa("generic"): ...`` — for tests and benchmarks. Raises
    :class:`~pysparsegraph.errors.UnsupportedError` if the CPU lacks it.
    Leaving the block restores the path forced before it (an outer block's,
    or ``PYSPARSEGRAPH_ISA``'s; automatic when none). Process-wide: do not
    use it while other threads run products.
    """

    def __init__(self, isa):
        code = _option(isa, "isa", _ISAS)
        self._prev = _core.spmm_forced_isa()
        _core.spmm_force_isa(code)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _core.spmm_force_isa(self._prev)
        return False


def active_isa():
    """The SIMD path SpMM uses now: "avx512", "avx2" or "generic"."""
    return _name(_ISAS, _core.spmm_active_isa())


def cache_bytes(level=0):
    """Bytes of the cache at ``level`` (1: L1 data, 2, 3; 0: the last level)
    the planner assumes: what Linux lists for CPU 0, else what the C library
    reports, else 32 KiB, 1 MiB and 32 MiB, read once. Levels past the L2
    count at most 16 MiB per CPU the process may use (online, within its
    affinity mask and its cgroup v2 CPU quota): a virtual machine's guest or
    a container may be shown the whole L3 of its host, which others share."""
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= level <= 3:
        raise errors.InvalidArgumentError(f"level must be 0 (the last level), 1, 2 or 3, got {level!r}")
    return int(_core.cache_bytes(int(level)))


def _check_isa_env():
    """Warns when PYSPARSEGRAPH_ISA names no path, or one this CPU lacks: the C core
    then quietly runs the automatic choice, which the user did not ask for."""
    import os
    import warnings

    want = os.environ.get("PYSPARSEGRAPH_ISA")
    if want is None or want == "auto":
        return
    if want not in _ISAS:
        warnings.warn(f"PYSPARSEGRAPH_ISA={want!r} is not one of 'generic', 'avx2', 'avx512' (lower case); "
                      f"SpMM uses {active_isa()!r}, chosen automatically", RuntimeWarning, stacklevel=3)
    elif active_isa() != want:
        warnings.warn(f"PYSPARSEGRAPH_ISA={want!r}: this CPU lacks it; SpMM uses {active_isa()!r}",
                      RuntimeWarning, stacklevel=3)


_check_isa_env()
