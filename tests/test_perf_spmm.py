"""Performance-core SpMM: every SIMD path, K specialization, hub splitting,
work stealing, blocked layout and bfloat16, against scipy.sparse, and
bit-identical across thread counts, schedules and SIMD paths."""
import gc
import io
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import pysparsegraph as psg
from pysparsegraph import datasets, errors
from pysparsegraph.plan import active_isa, force_isa, from_bfloat16

sp = pytest.importorskip("scipy.sparse")

_FEATURES = set(psg._core.cpu_features())
ISAS = ["generic"] + (["avx2"] if {"avx2", "fma"} <= _FEATURES else []) + (["avx512"] if "avx512f" in _FEATURES else [])
# 1-15: every width class of the narrow kernel (scalar, 16/32/64-byte vectors) in both dtypes
KS = [1, 2, 3, 5, 7, 8, 13, 16, 17, 32, 64, 100, 128, 256]


def random_csr(n_rows, n_cols, nnz, rng, *, hub=None, hub_frac=0.0, unsorted=True, weighted=True,
               index_dtype=np.int32, empty_every=0):
    """Raw CSR with duplicates and unsorted columns allowed (scipy sums duplicates)."""
    rows = rng.integers(0, max(n_rows, 1), size=nnz)
    if hub is not None:
        rows[: int(nnz * hub_frac)] = hub
    if empty_every:
        rows = rows[rows % empty_every != 0] if n_rows > empty_every else rows
    cols = rng.integers(0, max(n_cols, 1), size=rows.size)
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    if not unsorted:
        order = np.lexsort((cols, rows))
        rows, cols = rows[order], cols[order]
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    indptr = np.cumsum(indptr)
    vals = rng.standard_normal(rows.size) if weighted else None
    return psg.CSRMatrix(indptr, cols.astype(index_dtype), vals, shape=(n_rows, n_cols))


def reference(A, X):
    S = sp.csr_array((np.ones(A.nnz) if A.values is None else A.values.astype(np.float64),
                      A.indices, A.indptr), shape=A.shape)
    return S @ X.astype(np.float64)


def assert_close(y, ref, dtype):
    tol = 2e-4 if dtype == np.float32 else 1e-11
    scale = max(1.0, float(np.abs(ref).max()) if ref.size else 1.0)
    np.testing.assert_allclose(y, ref, rtol=tol, atol=tol * scale)


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(1234)


def test_forcing_isa_reports_and_restores():
    assert active_isa() in ISAS
    for isa in ISAS:
        with force_isa(isa):
            assert active_isa() == isa
    assert active_isa() == ISAS[-1]


@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_isa_and_k_matches_scipy_and_each_other(k, dtype, rng):
    A = random_csr(300, 257, 4000, rng, hub=5, hub_frac=0.3, empty_every=7)
    X = rng.standard_normal((A.n_cols, k)).astype(dtype)
    ref = reference(A, X)
    outs = []
    for isa in ISAS:
        plan = psg.plan_spmm(A, k, dtype, isa=isa, split_len=200, n_chunks=7, cache=False)
        assert plan.n_hubs >= 1
        for t in (1, 2):
            y = psg.spmm(A, X, n_threads=t, plan=plan)
            assert_close(y, ref, dtype)
            outs.append(y)
    # No FMA contraction and a fixed per-row order: identical bits on every path.
    for y in outs[1:]:
        assert np.array_equal(y, outs[0])


@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("weighted", [True, False])
def test_index_dtypes_and_unweighted(index_dtype, weighted, rng):
    A = random_csr(500, 400, 6000, rng, index_dtype=index_dtype, weighted=weighted)
    assert A.indices.dtype == index_dtype
    for dtype in (np.float32, np.float64):
        X = rng.standard_normal((400, 64)).astype(dtype)
        plan = psg.plan_spmm(A, 64, dtype, n_chunks=9, cache=False)
        y1 = psg.spmm(A, X, n_threads=1, plan=plan)
        y2 = psg.spmm(A, X, n_threads=2, plan=plan)
        assert psg._core.last_team_size() == 2
        assert np.array_equal(y1, psg.spmm(A, X, n_threads=2))
        assert_close(y1, reference(A, X), dtype)
        assert np.array_equal(y1, y2)


def test_hub_row_split_bit_identical_across_threads_schedules_and_chunks(rng):
    # one hub holding 80% of all entries
    A = random_csr(2000, 3000, 60000, rng, hub=1234, hub_frac=0.8)
    X = rng.standard_normal((3000, 32)).astype(np.float32)
    ref = reference(A, X)
    base = None
    for schedule in ("steal", "dynamic", "static"):
        for n_chunks in (None, 1, 3, 50, 997):
            plan = psg.plan_spmm(A, 32, schedule=schedule, n_chunks=n_chunks, split_len=1000, cache=False)
            assert plan.n_hubs == 1 and plan.split_len == 1000
            for t in (1, 2):
                y = psg.spmm(A, X, n_threads=t, plan=plan)
                assert_close(y, ref, np.float32)
                if base is None:
                    base = y
                assert np.array_equal(y, base), (schedule, n_chunks, t)


def test_default_plan_splits_hubs_and_is_thread_independent(rng):
    A = random_csr(5000, 5000, 200000, rng, hub=17, hub_frac=0.6)
    p1 = psg.plan_spmm(A, 32, n_threads=1)
    p2 = psg.plan_spmm(A, 32, n_threads=2)
    assert not p2.serial
    assert p1.split_len == p2.split_len and p1.n_hubs == p2.n_hubs == 1
    assert p2.n_chunks > p1.n_chunks
    X = rng.standard_normal((5000, 32)).astype(np.float32)
    y1 = psg.spmm(A, X, n_threads=1, plan=p1)
    y2 = psg.spmm(A, X, n_threads=2, plan=p2)
    assert psg._core.last_team_size() == 2
    assert np.array_equal(y1, y2)
    assert np.array_equal(y1, psg.spmm(A, X, n_threads=2, plan=p1))
    assert_close(y1, reference(A, X), np.float32)


def test_unsplit_rows_keep_storage_order_sum():
    # split_len=-1: a row's sum is exactly the sequential float32 sum in storage order
    vals = np.array([1e8, 1.0, -1e8, 1.0], dtype=np.float32)
    A = psg.CSRMatrix(np.array([0, 4]), np.array([0, 1, 2, 3], dtype=np.int32), vals, shape=(1, 4))
    X = np.ones((4, 16), dtype=np.float32)
    y = psg.spmm(A, X, plan=psg.plan_spmm(A, 16, split_len=-1))
    expect = np.float32(np.float32(np.float32(1e8) + np.float32(1.0)) - np.float32(1e8)) + np.float32(1.0)
    assert np.all(y == expect)


@pytest.mark.parametrize("k", [1, 7, 16, 64, 100])
@pytest.mark.parametrize("weighted", [True, False])
def test_blocked_layout_matches_csr_bitwise_for_sorted_rows(k, weighted, rng):
    A = random_csr(700, 5000, 30000, rng, unsorted=False, weighted=weighted, empty_every=5)
    X = rng.standard_normal((5000, k)).astype(np.float32)
    csr = psg.spmm(A, X, plan=psg.plan_spmm(A, k, layout="csr", split_len=-1, cache=False))
    for seg_width in (256, 1000, 4096):
        plan = psg.plan_spmm(A, k, layout="blocked", seg_width=seg_width, n_chunks=6, cache=False)
        assert plan.layout == "blocked" and plan.n_segs == -(-5000 // seg_width)
        for t in (1, 2):
            for isa in ISAS:
                with force_isa(isa):
                    y = psg.spmm(A, X, n_threads=t, plan=plan)
                assert np.array_equal(y, csr), (seg_width, t, isa)


def test_blocked_unsorted_duplicates_vs_scipy(rng):
    A = random_csr(400, 70000, 20000, rng, hub=3, hub_frac=0.5)
    X = rng.standard_normal((70000, 16)).astype(np.float64)
    plan = psg.plan_spmm(A, 16, np.float64, layout="blocked", seg_width=65536, n_chunks=5, cache=False)
    assert plan.n_segs == 2
    y1 = psg.spmm(A, X, n_threads=1, plan=plan)
    assert_close(y1, reference(A, X), np.float64)
    assert np.array_equal(y1, psg.spmm(A, X, n_threads=2, plan=plan))


def test_equal_rows_partition_and_many_chunks(rng):
    A = random_csr(1000, 1000, 30000, rng, hub=999, hub_frac=0.5)
    X = rng.standard_normal((1000, 64)).astype(np.float32)
    ref = psg.spmm(A, X, plan=psg.plan_spmm(A, 64, split_len=-1, cache=False))
    for kw in (dict(partition="rows"), dict(partition="rows", schedule="static"),
               dict(n_chunks=1000, split_len=-1), dict(schedule="dynamic", split_len=-1)):
        plan = psg.plan_spmm(A, 64, cache=False, **kw)
        for t in (1, 2):
            assert np.array_equal(psg.spmm(A, X, n_threads=t, plan=plan), ref), kw


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (1, 1), (3, 4)])
def test_degenerate_shapes(shape, rng):
    n, m = shape
    A = psg.CSRMatrix(np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), shape=shape)
    for k in (1, 16):
        X = rng.standard_normal((m, k)).astype(np.float32)
        y = psg.spmm(A, X, n_threads=2)
        assert y.shape == (n, k) and not np.any(y)


def _guarded(n_bytes, dtype):
    """A writable array whose last byte is the last of a page followed by an
    unmapped page (mprotect PROT_NONE): any read or write past it faults."""
    import ctypes
    import mmap
    page = mmap.PAGESIZE
    n_pages = -(-n_bytes // page) + 1
    buf = mmap.mmap(-1, n_pages * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    assert libc.mprotect(base + (n_pages - 1) * page, page, 0) == 0
    start = (n_pages - 1) * page - n_bytes
    return np.ndarray((n_bytes // np.dtype(dtype).itemsize,), dtype, buffer=buf, offset=start), buf


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mprotect guard page: Linux only")
@pytest.mark.parametrize("k", [1, 3, 7, 13, 17])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_narrow_k_never_touches_memory_past_x_or_y(k, dtype, rng):
    # The narrow kernel loads K < one vector with masked loads: X's last row
    # ends right before an unmapped page, and so does Y (the output).
    A = random_csr(60, 50, 600, rng, hub=0, hub_frac=0.2)
    indices = A.indices.copy()
    indices[-5:] = 49  # the last row of X is gathered
    A = psg.CSRMatrix(A.indptr, indices, A.values, shape=A.shape)
    itemsize = np.dtype(dtype).itemsize
    X, keep_x = _guarded(50 * k * itemsize, dtype)
    X[:] = rng.standard_normal(50 * k)
    X = X.reshape(50, k)
    ref = reference(A, X)
    for isa in ISAS:
        for plan_kw in (dict(layout="csr", split_len=100), dict(layout="blocked", seg_width=16)):
            plan = psg.plan_spmm(A, k, dtype, isa=isa, n_chunks=3, cache=False, **plan_kw)
            Y, keep_y = _guarded(60 * k * itemsize, dtype)
            Y = Y.reshape(60, k)
            for t in (1, 2):
                Y[:] = np.nan
                psg.spmm(A, X, out=Y, n_threads=t, plan=plan)
                assert_close(Y, ref, dtype)
            del Y, keep_y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True])
def test_spmv_signed_zeros_inf_nan_same_bits_as_one_entry_a_step(dtype, weighted, rng):
    # SpMV steps over two entries at a time and pads a row's odd end with -0,
    # exact since x + -0 == x for every x: signed zeros, inf, NaN (and a
    # padding slot that added its clamped entry again would show here).
    n = 400
    deg = rng.integers(0, 7, n)
    deg[:8] = [0, 1, 2, 3, 1, 2, 5, 6]
    indptr = np.concatenate([[0], np.cumsum(deg)])
    indices = rng.integers(0, n, indptr[-1]).astype(np.int32)
    values = rng.choice(np.array([-0.0, 1.0, -1.5, 2.0], dtype), indptr[-1]) if weighted else None
    A = psg.CSRMatrix(indptr, indices, values, shape=(n, n))
    x = rng.choice(np.array([-0.0, 0.0, 1.25, -3.5, np.inf, -np.inf, np.nan], dtype), n, p=[.4, .1, .15, .15, .08, .08, .04])
    x[indices[:indptr[8]]] = -0.0  # the first rows sum -0s only
    want = np.empty(n, dtype)
    with np.errstate(invalid="ignore"):  # inf - inf
        for r in range(n):  # one entry a step, in storage order, in the array's precision
            acc = dtype(0)
            for j in range(indptr[r], indptr[r + 1]):
                acc = dtype(acc + (values[j] * x[indices[j]] if weighted else x[indices[j]]))
            want[r] = acc
    for isa in ISAS:
        for plan_kw in (dict(layout="csr"), dict(layout="blocked", seg_width=64)):
            plan = psg.plan_spmm(A, 1, dtype, isa=isa, cache=False, **plan_kw)
            for t in (1, 2):
                y = psg.spmm(A, x, n_threads=t, plan=plan)
                np.testing.assert_array_equal(np.isnan(y), np.isnan(want), err_msg=f"{isa} {plan_kw}")
                ok = ~np.isnan(want)
                assert y[ok].tobytes() == want[ok].tobytes(), f"{isa} {plan_kw} threads={t}"


def test_k1_vector_and_self_loops_duplicates(rng):
    indptr = np.array([0, 3, 3, 6])
    indices = np.array([0, 0, 2, 1, 1, 1], dtype=np.int32)  # duplicates, self loops
    A = psg.CSRMatrix(indptr, indices, np.arange(1.0, 7.0), shape=(3, 3))
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(psg.spmm(A, x), reference(A, x[:, None])[:, 0])


def test_plan_mismatch_errors(rng):
    A = random_csr(50, 50, 300, rng)
    B = random_csr(60, 50, 300, rng)
    plan = psg.plan_spmm(A, 16)
    X = np.ones((50, 16), dtype=np.float32)
    with pytest.raises(errors.ShapeMismatchError):
        psg.spmm(A, np.ones((50, 8), dtype=np.float32), plan=plan)
    with pytest.raises(errors.DTypeError):
        psg.spmm(A, X.astype(np.float64), plan=plan)
    with pytest.raises(errors.InvalidArgumentError):
        psg.spmm(B, X, plan=plan)
    with pytest.raises(errors.InvalidArgumentError):
        psg.spmm(A, X, plan="fast")
    with pytest.raises(errors.InvalidArgumentError):
        psg.plan_spmm(A, 16, layout="tiled")
    with pytest.raises(errors.InvalidArgumentError):
        psg.plan_spmm(A, 0)
    with pytest.raises(errors.InvalidArgumentError):
        psg.plan_spmm(A, 16, seg_width=70000)


def test_blocked_plan_only_serves_matrices_with_its_ids_and_values(rng):
    """A blocked plan multiplies with its own copy of A: a matrix with the same
    indptr but other values or column ids must be refused, not given A @ X."""
    A = random_csr(80, 70, 600, rng)
    X = rng.standard_normal((70, 8)).astype(np.float32)
    plan = psg.plan_spmm(A, 8, layout="blocked")
    assert plan.layout == "blocked"
    np.testing.assert_allclose(psg.spmm(A, X, plan=plan), A.to_scipy() @ X, rtol=1e-5, atol=1e-5)
    other_ids = A.indices.copy()
    other_ids[0] = (other_ids[0] + 1) % A.n_cols
    others = {"values": psg.CSRMatrix(A.indptr, A.indices, A.values * 2, shape=A.shape),
              "column ids": psg.CSRMatrix(A.indptr, other_ids, A.values, shape=A.shape),
              "no values": psg.CSRMatrix(A.indptr, A.indices, shape=A.shape)}
    for name, B in others.items():
        with pytest.raises(errors.InvalidArgumentError, match="own copy"):
            psg.spmm(B, X, plan=plan)
    # equal arrays in other buffers are the same matrix
    C = psg.CSRMatrix(A.indptr.copy(), A.indices.copy(), A.values.copy(), shape=A.shape)
    np.testing.assert_array_equal(psg.spmm(C, X, plan=plan), psg.spmm(A, X, plan=plan))
    # a CSR plan reads the matrix it is given, so it serves B
    csr = psg.plan_spmm(A, 8, layout="csr")
    B = others["values"]
    np.testing.assert_allclose(psg.spmm(B, X, plan=csr), B.to_scipy() @ X, rtol=1e-5, atol=1e-5)


def test_plan_cached_and_repr(rng):
    A = random_csr(50, 50, 300, rng)
    p = psg.plan_spmm(A, 16, n_threads=2)
    assert psg.plan_spmm(A, 16, n_threads=2) is p
    assert "layout='csr'" in repr(p) and "k=16" in repr(p) and p.build_seconds >= 0 and p.nbytes > 0


# ---- bfloat16 ------------------------------------------------------------

def _bf16_reference(x):
    """Round-to-nearest-even float32 -> bf16 bits, computed independently in numpy."""
    u = x.view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    r[nan] = (u[nan] >> 16).astype(np.uint16) | 0x40
    return r


def test_to_bfloat16_rounding(rng):
    x = np.concatenate([rng.standard_normal(10000).astype(np.float32) * 1e3,
                        np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 3.4e38, 1e-40, 1.00390625, 1.01171875],
                                 dtype=np.float32)])
    b = psg.to_bfloat16(x)
    assert b.dtype == np.uint16 and b.shape == x.shape
    assert b.ctypes.data % 64 == 0 and b.flags.c_contiguous and b.flags.writeable  # rows on whole cache lines
    np.testing.assert_array_equal(b, _bf16_reference(x))
    b2 = psg.to_bfloat16(x[:10000].reshape(100, 100))
    assert b2.shape == (100, 100) and b2.ctypes.data % 64 == 0
    np.testing.assert_array_equal(b2, _bf16_reference(x[:10000]).reshape(100, 100))
    b0 = psg.to_bfloat16(np.float32(1.5))  # same shape for 0-d input too
    assert b0.shape == () and int(b0) == 0x3FC0
    back = from_bfloat16(b)
    finite = np.isfinite(x) & (np.abs(x) < 3e38)
    assert np.all(np.abs(back[finite] - x[finite]) <= np.abs(x[finite]) * 2.0 ** -8 + 1e-38)
    assert np.isnan(back[np.isnan(x)]).all()


@pytest.mark.parametrize("k", [3, 16, 64, 100])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_spmm_bf16_every_isa(k, index_dtype, rng):
    A = random_csr(400, 300, 5000, rng, hub=2, hub_frac=0.4, index_dtype=index_dtype)
    X = rng.standard_normal((300, k)).astype(np.float32)
    Xb = psg.to_bfloat16(X)
    ref_exact = reference(A, from_bfloat16(Xb))  # the same bf16 inputs, float64 math
    ref = reference(A, X)
    outs = []
    plan = psg.plan_spmm(A, k, n_chunks=8, cache=False)
    for isa in ISAS:
        with force_isa(isa):
            for t in (1, 2):
                y = psg.spmm_bf16(A, Xb, n_threads=t, plan=plan)
                assert y.dtype == np.float32
                assert_close(y, ref_exact, np.float32)
                outs.append(y)
    for y in outs[1:]:
        assert np.array_equal(y, outs[0])
    rel = np.linalg.norm(outs[0] - ref) / np.linalg.norm(ref)
    assert rel < 1e-2
    # the float32 path on the bf16-rounded X gives the same bits
    assert np.array_equal(outs[0], psg.spmm(A, from_bfloat16(Xb)))


def test_bf16_bad_input(rng):
    A = random_csr(20, 10, 50, rng)
    with pytest.raises(errors.DTypeError):
        psg.spmm_bf16(A, np.ones((10, 4), dtype=np.float32))
    with pytest.raises(errors.ShapeMismatchError):
        psg.spmm_bf16(A, np.ones((11, 4), dtype=np.uint16))
    with pytest.raises(errors.DTypeError):
        psg.to_bfloat16(np.ones(3))


# ---- real graphs ----------------------------------------------------------

REAL = ["soc-Slashdot0902", "cnr-2000", "uk-2007-05@100000", "coAuthorsDBLP"]


def _real_graph(name):
    """A graph of the shared data folder (the test is skipped where the folder or the graph is absent)."""
    d = datasets.shared_data_dir()
    if d is None:
        pytest.skip("shared data folder not found (set PYSPARSEGRAPH_DATA)")
    path = os.path.join(d, name, name + ".npz")
    if not os.path.exists(path):
        pytest.skip(f"{path} is absent")
    return datasets.load_npz_graph(path)


@pytest.mark.parametrize("name", REAL)
def test_real_graphs(name):
    A = _real_graph(name)
    rng = np.random.default_rng(7)
    X = rng.standard_normal((A.n_cols, 64)).astype(np.float32)
    ref = reference(A, X)
    y1 = psg.spmm(A, X, n_threads=1)
    assert_close(y1, ref, np.float32)
    assert np.array_equal(y1, psg.spmm(A, X, n_threads=2))
    hub = psg.plan_spmm(A, 64, split_len=256, cache=False)
    assert hub.n_hubs > 0
    yh = psg.spmm(A, X, n_threads=2, plan=hub)
    assert_close(yh, ref, np.float32)
    assert np.array_equal(yh, psg.spmm(A, X, n_threads=1, plan=hub))
    bl = psg.plan_spmm(A, 64, layout="blocked", cache=False)
    assert_close(psg.spmm(A, X, n_threads=2, plan=bl), ref, np.float32)


def _gather_miss_reference(indices, window):
    """The planner's gather-miss estimate computed exactly (no hashing): in 2 to 8 stretches of
    2 * window entries (as many as keep them to 2^18 entries), the share of the second half's entries
    whose column the stretch shows first."""
    nnz = len(indices)
    window = min(window, nnz // 2)
    samples = min(8, max(2, 2**18 // (2 * window)))
    miss = 0
    for s in range(samples):
        a = (nnz - 2 * window) // (samples - 1) * s
        _, first = np.unique(indices[a:a + 2 * window], return_index=True)
        miss += int(np.count_nonzero(first >= window))
    return miss / (samples * window)


@pytest.mark.parametrize("name", REAL)
def test_real_graphs_narrow_rows(name):
    from pysparsegraph.plan import cache_bytes

    A = _real_graph(name)
    auto = psg.plan_spmm(A, 16, cache=False)
    l2_rows = cache_bytes(2) // 64
    if A.n_cols <= l2_rows:
        assert auto.gather_miss is None
    else:
        ref_miss = _gather_miss_reference(A.indices, l2_rows)
        assert abs(auto.gather_miss - ref_miss) < 0.01, (auto.gather_miss, ref_miss)
    X = np.random.default_rng(8).standard_normal((A.n_cols, 16)).astype(np.float32)
    ref = reference(A, X)
    y_off = psg.spmm(A, X, n_threads=2, plan=psg.plan_spmm(A, 16, narrow_prefetch="off", cache=False))
    for t in (1, 2):
        y_on = psg.spmm(A, X, n_threads=t, plan=psg.plan_spmm(A, 16, narrow_prefetch="on", cache=False))
        np.testing.assert_array_equal(y_on, y_off)
    assert_close(y_off, ref, np.float32)


def test_small_work_runs_serially_and_large_in_parallel(rng):
    small = random_csr(100, 100, 500, rng)
    p = psg.plan_spmm(small, 16, n_threads=2)
    assert p.serial and "serial=True" in repr(p)
    X = rng.standard_normal((100, 16)).astype(np.float32)
    psg.spmm(small, X, n_threads=2, plan=p)
    assert psg._core.last_team_size() == 1
    big = random_csr(20000, 20000, 300000, rng)
    q = psg.plan_spmm(big, 64, n_threads=2)
    assert not q.serial
    psg.spmm(big, rng.standard_normal((20000, 64)).astype(np.float32), n_threads=2, plan=q)
    assert psg._core.last_team_size() == 2


def test_small_work_gets_the_team_only_in_a_hot_loop(rng):
    # Serial plans use the team when a call starts within 1 ms of the previous
    # product and has at least 2^17 multiply-adds; the bits never change.
    A = random_csr(3000, 3000, 12000, rng)  # (12000 + 3000) * 16 = 240k
    X = rng.standard_normal((3000, 16)).astype(np.float32)
    p = psg.plan_spmm(A, 16, n_threads=2, cache=False)
    assert p.serial
    time.sleep(0.05)  # idle: the first call runs serially
    y_solo = psg.spmm(A, X, n_threads=2, plan=p)
    assert psg._core.last_team_size() == 1
    teams = []
    for _ in range(50):  # back to back: the team, unless the OS stalls us for 1 ms every time
        y = psg.spmm(A, X, n_threads=2, plan=p)
        teams.append(psg._core.last_team_size())
        assert np.array_equal(y, y_solo)
    if psg._core.has_openmp() and psg._core.max_threads() >= 2:
        assert 2 in teams
    assert_close(y_solo, A.to_scipy() @ X, np.float32)
    psg.spmm(A, X, n_threads=1, plan=p)  # an explicit single thread stays single
    assert psg._core.last_team_size() == 1
    tiny = random_csr(100, 100, 500, rng)  # 9600 multiply-adds: below the hot-loop floor
    Xt = rng.standard_normal((100, 16)).astype(np.float32)
    for _ in range(20):
        psg.spmm(tiny, Xt, n_threads=2)
        assert psg._core.last_team_size() == 1


# ---- streaming stores of Y ----------------------------------------------

@pytest.mark.parametrize("k", [8, 16, 24, 64, 128])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streamed_y_same_bits_as_cached(k, dtype, rng):
    # a split hub row, duplicates and unsorted columns; aligned and misaligned out
    A = random_csr(700, 500, 12000, rng, hub=9, hub_frac=0.4)
    X = rng.standard_normal((500, k)).astype(dtype)
    ref = reference(A, X)
    for isa in ISAS:
        cached = psg.plan_spmm(A, k, dtype, n_threads=2, isa=isa, split_len=1000, store="cached", cache=False)
        stream = psg.plan_spmm(A, k, dtype, n_threads=2, isa=isa, split_len=1000, store="stream", cache=False)
        assert not cached.stream and stream.stream and stream.n_hubs == 1 and "stream=True" in repr(stream)
        for t in (1, 2):
            yc = psg.spmm(A, X, n_threads=t, plan=cached)
            ys = psg.spmm(A, X, n_threads=t, plan=stream)  # spmm allocates out 64-byte aligned
            assert ys.ctypes.data % 64 == 0
            np.testing.assert_array_equal(ys, yc)
            assert_close(ys, ref, dtype)
            buf = psg.empty_aligned(A.shape[0] * k + 1, dtype)
            shifted = buf[1:].reshape(A.shape[0], k)  # not aligned: plain stores instead
            shifted[:] = np.nan
            psg.spmm(A, X, out=shifted, n_threads=t, plan=stream)
            np.testing.assert_array_equal(shifted, yc)


def test_planner_streams_once_y_and_x_outgrow_the_last_level_cache():
    from pysparsegraph.plan import cache_bytes

    def plan(n_rows, n_cols, k, **kw):
        empty = psg.CSRMatrix(np.zeros(n_rows + 1, np.int64), np.zeros(0, np.int32), None, shape=(n_rows, n_cols))
        return psg.plan_spmm(empty, k, cache=False, **kw)

    rows = cache_bytes() // (2 * 64 * 4)  # square n x n at K = 64: Y and X fill the cache at n = rows
    big, small = rows + rows // 16 + 1, rows - rows // 16
    assert plan(big, big, 64).stream
    assert not plan(big, big, 16).stream  # a quarter of the bytes
    assert not plan(small, small, 64).stream
    assert plan(16, 2 * big, 64).stream and plan(2 * big, 16, 64).stream  # either one large enough
    assert not plan(big, big, 64, layout="blocked", store="stream").stream
    with pytest.raises(errors.InvalidArgumentError, match="store"):
        plan(small, small, 64, store="nontemporal")


# ---- prefetching X in one-vector rows ------------------------------------

def _assert_same_bits(A, X, ref, dtype, off, on):
    """Plan ``on``'s products equal plan ``off``'s bit for bit and the reference, on 1 and 2 threads, for
    a bfloat16 X too (float32 plans)."""
    for t in (1, 2):
        y_on = psg.spmm(A, X, n_threads=t, plan=on)
        np.testing.assert_array_equal(y_on, psg.spmm(A, X, n_threads=t, plan=off))
        assert_close(y_on, ref, dtype)
        if dtype == np.float32:
            Xb = psg.to_bfloat16(X)
            yb = psg.spmm_bf16(A, Xb, n_threads=t, plan=on)
            np.testing.assert_array_equal(yb, psg.spmm_bf16(A, Xb, n_threads=t, plan=off))
            assert_close(yb, reference(A, from_bfloat16(Xb)), np.float32)


@pytest.mark.parametrize("k", [4, 8, 16, 32])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [True, False])
def test_narrow_prefetch_same_bits(k, dtype, weighted, rng):
    # a split hub row as the last row (the prefetch looks ahead and must stop at nnz), duplicates,
    # unsorted columns and empty rows; every ISA and thread count, bfloat16 X too
    A = random_csr(600, 900, 15000, rng, hub=599, hub_frac=0.3, empty_every=9, weighted=weighted)
    X = rng.standard_normal((900, k)).astype(dtype)
    ref = reference(A, X)
    for isa in ISAS:
        off, on = (psg.plan_spmm(A, k, dtype, n_threads=2, isa=isa, split_len=900, narrow_prefetch=m, cache=False)
                   for m in ("off", "on"))
        assert on.narrow_prefetch and not off.narrow_prefetch and on.n_hubs == 1
        assert "narrow_prefetch=True" in repr(on) and "narrow_prefetch" not in repr(off)
        _assert_same_bits(A, X, ref, dtype, off, on)


# ---- feature tiles: rows of Y in 128-byte tiles -------------------------

@pytest.mark.parametrize("k", [64, 72, 256, 320])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [True, False])
def test_feature_tiles_same_bits(k, dtype, weighted, rng):
    # a split hub row as the last row (the last tile prefetches one row length ahead and must stop at
    # nnz), duplicates, unsorted columns and empty rows; every ISA, thread count and store, bfloat16 X too
    A = random_csr(500, 700, 12000, rng, hub=499, hub_frac=0.3, empty_every=9, weighted=weighted)
    X = rng.standard_normal((700, k)).astype(dtype)
    ref = reference(A, X)
    tiled = (k * np.dtype(dtype).itemsize) % 128 == 0  # a row of Y a whole number of 128-byte tiles
    for isa in ISAS:
        for store in ("cached", "stream"):
            off, on = (psg.plan_spmm(A, k, dtype, n_threads=2, isa=isa, split_len=700, store=store,
                                     feature_tiles=m, cache=False) for m in ("off", "on"))
            assert on.feature_tiles == tiled and not off.feature_tiles and on.n_hubs == 1
            assert ("feature_tiles=True" in repr(on)) == tiled and "feature_tiles" not in repr(off)
            assert on.gather_miss_llc is None  # the option decides: nothing estimated
            _assert_same_bits(A, X, ref, dtype, off, on)


def test_planner_feature_tiles_rule():
    from pysparsegraph.plan import cache_bytes

    # columns at random from 16 times the rows of X (1 KiB each) the last-level cache holds: about 91%
    # of the gathers are new to the window of those rows before them (16 (e^-1/16 - e^-2/16)); in a band
    # of nearby columns, one in 8.
    llc_rows = cache_bytes() // 1024
    n_cols, n_rows, deg = 16 * llc_rows, max(llc_rows, 1 << 15), 8
    rng = np.random.default_rng(7)
    indptr = np.arange(n_rows + 1, dtype=np.int64) * deg
    rand = psg.CSRMatrix(indptr, rng.integers(0, n_cols, n_rows * deg).astype(np.int32), None,
                         shape=(n_rows, n_cols))
    band = psg.CSRMatrix(indptr, (np.repeat(np.arange(n_rows), deg) + np.tile(np.arange(deg), n_rows))
                         .astype(np.int32), None, shape=(n_rows, n_cols))

    def plan(A, k=256, dtype=np.float32, **kw):
        return psg.plan_spmm(A, k, dtype, n_threads=1, cache=False, **kw)

    p = plan(rand)
    assert p.feature_tiles and "feature_tiles=True" in repr(p)
    assert 0.86 < p.gather_miss_llc < 0.96
    assert plan(rand, k=128, dtype=np.float64).feature_tiles  # rows of 1 KiB too
    assert abs(plan(band).gather_miss_llc - 1 / deg) < 0.02  # each row meets one column the last did not
    assert not plan(band).feature_tiles
    assert plan(rand, k=128).gather_miss_llc is None and not plan(rand, k=128).feature_tiles  # rows of 512 B
    small = psg.CSRMatrix(indptr, (rand.indices % llc_rows).astype(np.int32), None, shape=(n_rows, llc_rows))
    assert plan(small).gather_miss_llc is None and not plan(small).feature_tiles  # X exactly the cache
    assert not plan(rand, layout="blocked").feature_tiles
    assert plan(rand, feature_tiles="off").gather_miss_llc is None and not plan(rand, feature_tiles="off").feature_tiles
    assert plan(band, k=64, feature_tiles="on").feature_tiles
    assert not plan(band, k=80, feature_tiles="on").feature_tiles  # 320 bytes: no whole number of tiles
    with pytest.raises(errors.InvalidArgumentError, match="feature_tiles"):
        plan(band, feature_tiles=True)


def _sysfs_llc_bytes():
    """CPU 0's highest-level cache as Linux lists it, read here apart from the C core (None if absent)."""
    import glob

    best = None
    for d in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*"):
        try:
            with open(os.path.join(d, "level")) as f:
                level = int(f.read())
            with open(os.path.join(d, "size")) as f:
                text = f.read().strip()
            with open(os.path.join(d, "type")) as f:
                if f.read().startswith("Instruction"):
                    continue
        except (OSError, ValueError):
            continue
        size = int(text.rstrip("KM")) << {"K": 10, "M": 20}.get(text[-1:], 0)
        if size > 0 and (best is None or level > best[0]):
            best = (level, size)
    return best[1] if best else None


def _usable_cpus():
    """CPUs this process may use, found here apart from the C core: online, in the affinity mask, within
    a cgroup v2 CPU quota."""
    n = os.sysconf("SC_NPROCESSORS_ONLN")
    if hasattr(os, "sched_getaffinity"):
        n = min(n, len(os.sched_getaffinity(0)))
    try:
        with open("/sys/fs/cgroup/cpu.max") as f:
            quota, period = f.read().split()[:2]
        if quota != "max" and int(quota) > 0 and int(period) > 0:
            n = min(n, -(-int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return n


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no affinity masks on this platform")
def test_cache_cap_counts_the_cpus_of_the_affinity_mask():
    # a process pinned to one CPU (a batch job's or container's cpuset) counts 16 MiB of last level at most
    cpu = min(os.sched_getaffinity(0))
    code = (f"import os; os.sched_setaffinity(0, {{{cpu}}}); "
            "from pysparsegraph.plan import cache_bytes; print(cache_bytes(0), cache_bytes(3))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    llc, l3 = map(int, out.stdout.split())
    assert llc <= 16 << 20 and l3 <= 16 << 20
    sysfs = _sysfs_llc_bytes()
    if sysfs and (16 << 10) <= sysfs <= (4 << 30):
        assert llc == min(sysfs, 16 << 20)


def test_planner_narrow_prefetch_rule_and_cache_sizes():
    from pysparsegraph.plan import cache_bytes

    llc = cache_bytes()
    sysfs = _sysfs_llc_bytes()
    assert (16 << 10) <= llc <= (4 << 30) and (16 << 10) <= cache_bytes(2) and (16 << 10) <= cache_bytes(1)
    # past the L2, at most 16 MiB a usable CPU: a VM's guest or a container may be shown its host's whole L3
    cap = (16 << 20) * _usable_cpus()
    assert llc <= cap and cache_bytes(3) <= cap
    if sysfs and (16 << 10) <= sysfs <= (4 << 30):
        assert llc == min(sysfs, cap)
    cfg = psg.show_config(file=io.StringIO())["cache_bytes"]
    assert cfg == {"l1d": cache_bytes(1), "l2": cache_bytes(2), "last": llc}
    for bad in (4, -1, True, 1.0):
        with pytest.raises(errors.InvalidArgumentError, match="level"):
            cache_bytes(bad)

    def plan(n_cols, k=16, dtype=np.float32, **kw):
        A = psg.CSRMatrix(np.zeros(3, np.int64), np.zeros(0, np.int32), None, shape=(2, n_cols))
        return psg.plan_spmm(A, k, dtype, cache=False, **kw)

    assert not plan(llc // 64).narrow_prefetch  # X exactly the size of the cache
    assert plan(llc // 64 + 1).narrow_prefetch
    assert plan(llc // 128 + 1, dtype=np.float64).narrow_prefetch
    assert not plan(llc // 128, dtype=np.float64).narrow_prefetch
    assert plan(llc // 16 + 1, k=4).narrow_prefetch  # the rule is X's bytes, whatever the width
    assert not plan(llc // 16, k=4).narrow_prefetch
    assert not plan(llc // 64 + 1, layout="blocked").narrow_prefetch
    assert not plan(llc // 64 + 1, narrow_prefetch="off").narrow_prefetch
    assert plan(10, narrow_prefetch="on").narrow_prefetch and not plan(10).narrow_prefetch
    l2_rows = cache_bytes(2) // 64
    assert plan(l2_rows + 1).gather_miss == 0  # no entries, no misses
    assert plan(l2_rows).gather_miss is None  # X fits the L2: nothing to weigh
    assert plan(l2_rows + 1, narrow_prefetch="off").gather_miss is None
    assert plan(l2_rows + 1, k=32).gather_miss is None  # rows of two vectors always prefetch
    with pytest.raises(errors.InvalidArgumentError, match="narrow_prefetch"):
        plan(10, narrow_prefetch=True)



# ---- gathering from an aligned copy of X ---------------------------------

def _off_line(a, offset=16):
    """A copy of ``a`` whose data starts ``offset`` bytes past a 64-byte line (where NumPy puts large arrays)."""
    buf = psg.empty_aligned(a.nbytes + 64, np.uint8)
    out = buf[offset:offset + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    assert out.ctypes.data % 64 == offset
    return out


@pytest.mark.parametrize("k", [8, 16, 20, 64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_align_x_same_bits(k, dtype, rng):
    # 40 entries a column, a split hub row, duplicates and empty rows, X 16 bytes off a line; the plain sum,
    # fused GNN products and bfloat16 X, every ISA and thread count (a serial plan: auto copies rows of whole
    # lines)
    A = random_csr(301, 301, 12040, rng, hub=3, hub_frac=0.2, empty_every=11)
    X = _off_line(rng.standard_normal((301, k)).astype(dtype))
    ref = reference(A, X)
    for isa in ISAS:
        off, on, auto = (psg.plan_spmm(A, k, dtype, n_threads=2, isa=isa, split_len=600, align_x=m, cache=False)
                         for m in ("off", "on", "auto"))
        assert on.align_x and not off.align_x and auto.align_x == (k * X.itemsize % 64 == 0) and auto.serial
        assert "align_x=True" in repr(on) and "align_x" not in repr(off)
        for t in (1, 2):
            y = psg.spmm(A, X, n_threads=t, plan=off)
            assert_close(y, ref, dtype)
            for p in (on, auto):
                np.testing.assert_array_equal(psg.spmm(A, X, n_threads=t, plan=p), y)
                for kw in (dict(norm="row", add_self_loops=True), dict(reduce="max")):
                    np.testing.assert_array_equal(psg.spmm(A, X, n_threads=t, plan=p, **kw),
                                                  psg.spmm(A, X, n_threads=t, plan=off, **kw))
            if dtype == np.float32:
                Xb = _off_line(psg.to_bfloat16(X))
                yb = psg.spmm_bf16(A, Xb, n_threads=t, plan=on)
                np.testing.assert_array_equal(yb, psg.spmm_bf16(A, Xb, n_threads=t, plan=off))
                assert_close(yb, reference(A, from_bfloat16(Xb)), np.float32)


def test_align_x_kept_buffer_and_concurrent_calls(rng):
    # the plan keeps the aligned copy's buffer (nbytes counts it) and a later call copies its own X into it;
    # calls from several Python threads on one plan (the GIL released) each get their own X's product
    from concurrent.futures import ThreadPoolExecutor

    A = random_csr(3001, 3001, 90000, rng, hub=5, hub_frac=0.2)
    plan = psg.plan_spmm(A, 16, n_threads=2, align_x="on", cache=False)
    before = plan.nbytes
    Xs = [_off_line(rng.standard_normal((3001, 16)).astype(np.float32)) for _ in range(6)]
    off = psg.plan_spmm(A, 16, n_threads=2, align_x="off", cache=False)
    refs = [psg.spmm(A, X, n_threads=2, plan=off) for X in Xs]
    for X, ref in zip(Xs, refs):
        np.testing.assert_array_equal(psg.spmm(A, X, n_threads=2, plan=plan), ref)
    assert plan.nbytes == before + 3001 * 16 * 4  # rows of 64 bytes: a whole number of lines
    assert_close(refs[0], reference(A, Xs[0]), np.float32)

    def call(i):
        X = Xs[i % len(Xs)]
        return i, [psg.spmm(A, X, n_threads=1 + i % 2, plan=plan) for _ in range(20)]

    with ThreadPoolExecutor(4) as pool:
        for i, ys in pool.map(call, range(16)):
            for y in ys:
                np.testing.assert_array_equal(y, refs[i % len(Xs)])
    assert plan.nbytes == before + 3001 * 16 * 4  # still one buffer: calls that found it taken used their own


def test_planner_align_x_rule():
    from pysparsegraph.plan import cache_bytes

    llc = cache_bytes()

    def plan(n_cols, nnz, k=16, dtype=np.float32, n_threads=1, **kw):
        A = psg.CSRMatrix(np.array([0, nnz // 2, nnz]), (np.arange(nnz) % n_cols).astype(np.int32), None,
                          shape=(2, n_cols))
        return psg.plan_spmm(A, k, dtype, n_threads=n_threads, cache=False, **kw)

    w = 1 << 23  # enough entries that none of the plans below is serial
    assert plan(32, w // 4096, k=4096).align_x  # 64 entries a column
    assert plan(32, w // 4096, k=4096, n_threads=2).align_x  # a team too, for rows of more than one line
    assert plan(32, w // 16).align_x and not plan(32, w // 16, n_threads=2).align_x  # rows of one line
    if llc >= 8 << 20:  # X of 4 MiB
        assert plan(2048, 65536, k=512).align_x  # 32 entries a column
        assert not plan(2048, 65535, k=512).align_x
    assert not plan(32, 2048, k=4100).align_x  # rows of 16400 bytes: an aligned start leaves most rows straddling
    assert plan(32, 4096, k=2048, dtype=np.float64).align_x
    rows = llc // 2 // 16384  # rows of 4096 floats keep the matrix small
    assert plan(rows, max(32 * rows, w // 4096), k=4096).align_x  # X and its copy exactly the size of the cache
    assert not plan(rows + 1, max(32 * (rows + 1), w // 4096), k=4096).align_x
    assert not plan(32, 2048, k=4096, layout="blocked").align_x
    assert not plan(32, 2048, k=4096, align_x="off").align_x
    assert plan(100, 100, k=20, align_x="on").align_x
    assert not plan(100, 0).align_x  # nothing to gather
    with pytest.raises(errors.InvalidArgumentError, match="align_x"):
        plan(100, 1600, align_x=True)

def test_empty_aligned():
    for shape, dtype in [((3, 5), np.float64), (7, np.float32), ((0, 4), np.float32), ((2, 3, 4), np.uint16)]:
        a = psg.empty_aligned(shape, dtype)
        assert a.ctypes.data % 64 == 0 and a.flags.c_contiguous and a.flags.writeable
        assert a.shape == (shape if isinstance(shape, tuple) else (shape,)) and a.dtype == dtype
    with pytest.raises(errors.InvalidArgumentError):
        psg.empty_aligned((3, -1))
    for dtype in (">f8", ">i4", "<c16"):  # the byte order asked for, as numpy.empty gives
        a = psg.empty_aligned((5, 3), dtype)
        assert a.dtype == np.dtype(dtype) and a.ctypes.data % 64 == 0
        a[:] = np.arange(15).reshape(5, 3)
        assert a.tobytes() == np.arange(15).reshape(5, 3).astype(dtype).tobytes()
    # the array is a view of a larger byte buffer: a slice of it must keep that buffer alive
    a = psg.empty_aligned((1000, 3), np.float64)
    a[:] = np.arange(3000.0).reshape(1000, 3)
    tail = a[10:]
    del a
    gc.collect()
    junk = [np.full(3000, -1.0) for _ in range(50)]  # would reuse the buffer's memory if it were freed
    np.testing.assert_array_equal(tail, np.arange(30.0, 3000.0).reshape(990, 3))
    del junk


@pytest.mark.parametrize("reduce,norm,loops,edge", [("sum", "sym", True, False), ("mean", None, False, True),
                                                     ("sum", "row", False, True), ("max", None, True, False),
                                                     ("min", "col", False, False)])
def test_streamed_y_in_fused_gnn_products(reduce, norm, loops, edge, rng):
    # sum/mean rows finish in registers and stream; max/min finish after the store and keep plain
    # stores; either way the same bits as a cached plan, on every ISA and thread count
    A = random_csr(600, 600, 9000, rng, hub=3, hub_frac=0.3, empty_every=7, weighted=False)
    k = 32
    X = rng.standard_normal((600, k)).astype(np.float32)
    ev = rng.random(A.nnz).astype(np.float32) + 0.5 if edge else None
    for isa in ISAS:
        cached = psg.plan_spmm(A, k, n_threads=2, isa=isa, split_len=800, store="cached", cache=False)
        stream = psg.plan_spmm(A, k, n_threads=2, isa=isa, split_len=800, store="stream", cache=False)
        for t in (1, 2):
            kw = dict(reduce=reduce, norm=norm, add_self_loops=loops, edge_values=ev, n_threads=t)
            yc = psg.spmm(A, X, plan=cached, **kw)
            ys = psg.spmm(A, X, plan=stream, **kw)
            assert ys.ctypes.data % 64 == 0
            np.testing.assert_array_equal(ys, yc)


_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(psg.__file__)))  # for child processes


def test_force_isa_restores_the_path_forced_before_it():
    start = active_isa()
    with force_isa("generic"):
        assert active_isa() == "generic"
        with force_isa("auto"):
            assert active_isa() == start
        assert active_isa() == "generic"  # the outer block's choice is back
    assert active_isa() == start
    script = ("from pysparsegraph.plan import active_isa, force_isa\n"
              "with force_isa('auto'):\n    pass\nprint(active_isa())")
    env = dict(os.environ, PYSPARSEGRAPH_ISA="generic", PYTHONPATH=_PACKAGE_ROOT)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "generic"  # the environment's choice survives a block


def test_plans_are_checked_for_empty_products_too_and_read_only():
    A = psg.CSRMatrix(np.zeros(1, np.int64), np.zeros(0, np.int32), shape=(0, 4))
    B = psg.from_edges([0, 1], [1, 0], shape=(2, 2))
    p = psg.plan_spmm(B, 7)
    for bad, err in (("not a plan", errors.InvalidArgumentError), (p, errors.InvalidArgumentError)):
        with pytest.raises(err):
            psg.spmm(A, np.ones((4, 7), np.float32), plan=bad)
        with pytest.raises(err):
            psg.spmm(A, np.ones((4, 7), np.float32), plan=bad, norm="row")
    with pytest.raises(errors.ShapeMismatchError, match="k=7"):
        psg.spmm(B, np.ones((2, 0), np.float32), plan=p)
    with pytest.raises(AttributeError, match="read-only"):
        p.k = 99
    assert p.k == 7
    # copies are the plan itself (read-only); pickling names the fix instead of Cython's "self.ptr"
    import copy
    import pickle
    assert copy.copy(p) is p and copy.deepcopy({"p": p})["p"] is p
    with pytest.raises(errors.UnsupportedError, match="cannot be pickled; pickle the matrix"):
        pickle.dumps(p)
    np.testing.assert_array_equal(psg.spmm(B, np.eye(2, 7, dtype=np.float32), plan=copy.deepcopy(p)),
                                  B.to_scipy() @ np.eye(2, 7, dtype=np.float32))


def test_a_blocked_plan_accepts_the_same_values_with_nan():
    A = psg.CSRMatrix(np.array([0, 2, 3]), np.array([0, 1, 1], np.int32), np.array([np.nan, 1.0, 2.0], np.float32),
                      shape=(2, 2))
    p = psg.plan_spmm(A, 16, layout="blocked")
    twin = psg.CSRMatrix(A.indptr.copy(), A.indices.copy(), A.values.copy(), shape=A.shape)
    x = np.ones((2, 16), np.float32)
    np.testing.assert_array_equal(psg.spmm(twin, x, plan=p), A.to_scipy() @ x)


def test_a_blocked_plan_for_a_huge_column_count_is_refused_not_a_crash():
    # 2^63 - 1 columns: the segment count (n_cols + W - 1) / W wrapped and the build wrote out of bounds.
    # (An X of that many rows of 16 values has no 64-bit byte count: refused as an overflow, before the
    # blocked copy's allocation is refused on the 2**62 x 1 segments.)
    script = ("import numpy as np, pysparsegraph as psg\nfrom pysparsegraph import errors\n"
              "for n, kw in ((2**63 - 1, {}), (2**62, dict(seg_width=1, n_threads=4))):\n"
              "    A = psg.CSRMatrix(np.array([0, 1]), np.array([5]), shape=(1, n))\n"
              "    try:\n        psg.plan_spmm(A, 16, layout='blocked', **kw)\n"
              "    except (errors.PSGMemoryError, errors.IndexOverflowError):\n        print('refused')\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=_PACKAGE_ROOT))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["refused", "refused"]


def test_a_matrix_keeps_a_bounded_number_of_plans():
    from pysparsegraph.plan import MAX_CACHED_PLANS
    rng = np.random.default_rng(4)
    S = sp.random_array((200, 300), density=0.05, format="csr", dtype=np.float32, rng=rng)
    A = psg.from_scipy(S)
    plans = [psg.plan_spmm(A, k, layout="blocked") for k in range(1, MAX_CACHED_PLANS + 5)]
    cached = [k for k in A._cache if isinstance(k, tuple) and k[0] == "spmm_plan"]
    assert len(cached) == MAX_CACHED_PLANS and cached[-1][1] == MAX_CACHED_PLANS + 4  # the oldest dropped
    x = rng.standard_normal((300, 1)).astype(np.float32)
    np.testing.assert_allclose(psg.spmm(A, x, plan=plans[0]), S @ x, rtol=1e-5, atol=1e-5)  # held: still works


# ---- docs/planner.md ------------------------------------------------------
def test_planner_page_example_runs_and_its_hub_rule_holds():
    import pathlib
    import re

    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "planner.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", page, re.S)
    ns = {}
    exec(example, ns)
    A, X, Y, plan = ns["A"], ns["X"], ns["Y"], ns["plan"]
    assert plan.k == 64 and plan.layout == "csr" and plan.n_threads == 2
    np.testing.assert_allclose(Y, A.to_scipy() @ X, rtol=1e-5, atol=1e-5)
    # the page's hub rule: split_len = max(2048, nnz / 128 rounded up), whatever the thread count
    S = sp.random(3000, 3000, density=0.05, format="csr", dtype=np.float32, random_state=4)
    want = max(2048, -(-S.nnz // 128))
    assert want > 2048 and all(psg.plan_spmm(S, 16, n_threads=t, cache=False).split_len == want for t in (1, 2, 3))
