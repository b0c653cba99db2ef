"""SparseLinear / SparseSequential against NumPy dense math with the same pruned weights."""
import time

import numpy as np
import pytest

import pysparsegraph as psg
from pysparsegraph import errors, prune
from pysparsegraph.nn import SparseLinear, SparseSequential, isa_supported, kernel_isa

ISAS = [i for i in ("portable", "avx2", "avx512") if isa_supported(i)]
erf = pytest.importorskip("scipy.special").erf


def _dense_ref(x, w, b, act, clamp):
    y = x.astype(np.float64) @ w.astype(np.float64).T
    if b is not None:
        y = y + b
    if act == "relu":
        y = np.maximum(y, 0)
    elif act == "gelu":
        y = 0.5 * y * (1 + erf(y / np.sqrt(2)))
    if clamp is not None:
        y = np.minimum(y, clamp)
    return y


def _layer(out_f, in_f, sparsity, seed, act=None, clamp=None, bias=True, pattern="unstructured", **kw):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((out_f, in_f)).astype(np.float32)
    b = rng.standard_normal(out_f).astype(np.float32) if bias else None
    keep = prune.prune(w, None if ":" in pattern else sparsity, pattern=pattern)
    wp = prune.apply_mask(w, keep)
    return SparseLinear(prune.to_csr(w, keep), b, activation=act, clamp_max=clamp, **kw), wp, b


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("batch", [1, 3, 16, 17, 100, 128, 131, 512])
@pytest.mark.parametrize("act", [None, "relu", "gelu"])
def test_forward_matches_dense(isa, batch, act):
    layer, wp, b = _layer(96, 72, 0.8, batch, act=act)
    x = np.random.default_rng(batch + 7).standard_normal((batch, 72)).astype(np.float32)
    y = layer.forward_t(np.ascontiguousarray(x.T), isa=isa).T
    np.testing.assert_allclose(y, _dense_ref(x, wp, b, act, None), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("index_dtype", ["uint16", "int32"])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("shape", [(1536, 384), (384, 1536), (384, 384)])
def test_minilm_shapes_threads_bit_identical(index_dtype, n_threads, shape):
    layer, wp, b = _layer(*shape, 0.9, 11, act="gelu", index_dtype=index_dtype)
    assert layer.index_dtype == np.dtype(index_dtype)
    x = np.random.default_rng(3).standard_normal((shape[1], 67)).astype(np.float32)
    y = layer.forward_t(x, n_threads=n_threads)
    y1 = layer.forward_t(x, n_threads=1)
    np.testing.assert_array_equal(y, y1)  # the kernel promises bit-identical results across thread counts
    np.testing.assert_allclose(y.T, _dense_ref(x.T, wp, b, "gelu", None), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("pattern", ["2:4", "4:8", "1x4", "4x1"])
def test_structured_patterns_forward(pattern):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((64, 32)).astype(np.float32)
    layer = SparseLinear.from_dense(w, sparsity=None if ":" in pattern else 0.75, pattern=pattern, activation="relu")
    keep = prune.prune(w, None if ":" in pattern else 0.75, pattern=pattern)
    x = rng.standard_normal((9, 32)).astype(np.float32)
    np.testing.assert_allclose(layer(x), _dense_ref(x, prune.apply_mask(w, keep), None, "relu", None),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(layer.to_dense() != 0, keep & (w != 0))


def test_clamp_relu_and_1d_input():
    layer, wp, b = _layer(20, 10, 0.5, 1, act="relu", clamp=0.5)
    x = np.random.default_rng(0).standard_normal(10).astype(np.float32) * 4
    y = layer(x)
    assert y.shape == (20,)
    np.testing.assert_allclose(y, _dense_ref(x[None], wp, b, "relu", 0.5)[0], rtol=1e-5, atol=1e-6)
    assert y.max() <= 0.5


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act", [None, "relu", "gelu"])
@pytest.mark.parametrize("clamp", [None, 0.5])
def test_nan_and_inf_pass_through_activation_and_clamp(isa, act, clamp):
    """NaN stays NaN through ReLU and the clamp (as np.maximum / np.minimum and
    torch.relu give): it is not turned into 0 or into clamp_max. Batches of 8
    vectors, narrow tiles and the scalar tail all meet it."""
    layer, wp, b = _layer(24, 10, 0.5, 2, act=act, clamp=clamp)
    x = np.random.default_rng(1).standard_normal((131, 10)).astype(np.float32)
    x[3, :] = np.nan      # every output of sample 3 is NaN
    x[70, :] = np.inf     # +-inf or NaN (inf - inf) in sample 70
    x[130, :] = -np.inf   # the last, tail sample
    y = layer.forward_t(np.ascontiguousarray(x.T), isa=isa).T
    with np.errstate(invalid="ignore", over="ignore"):
        ref = _dense_ref(x, wp, b, act, clamp)
    assert np.isnan(y[3]).all()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    fin = np.isfinite(ref)
    np.testing.assert_array_equal(y[~fin & ~np.isnan(ref)], ref[~fin & ~np.isnan(ref)])
    np.testing.assert_allclose(y[fin], ref[fin], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(layer(x), layer.forward_t(np.ascontiguousarray(x.T)).T)  # row-major path too


def test_edge_shapes_empty_rows_and_zero_batch():
    w = np.zeros((5, 7), np.float32)
    w[2, 3] = 2.0
    layer = SparseLinear(w, np.arange(5, dtype=np.float32))
    x = np.ones((4, 7), np.float32)
    np.testing.assert_allclose(layer(x), x @ w.T + np.arange(5))
    assert layer(np.zeros((0, 7), np.float32)).shape == (0, 5)
    empty = SparseLinear(np.zeros((3, 4), np.float32))
    assert empty.nnz == 0
    np.testing.assert_array_equal(empty(np.ones((2, 4))), np.zeros((2, 3)))


def test_inputs_not_modified_and_float64_input_copied():
    layer, wp, b = _layer(12, 8, 0.5, 2)
    x = np.random.default_rng(1).standard_normal((5, 8))
    x0 = x.copy()
    y = layer(x)
    np.testing.assert_array_equal(x, x0)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, _dense_ref(x.astype(np.float32), wp, b, None, None), rtol=1e-5, atol=1e-5)
    xt = np.asfortranarray(x.T.astype(np.float32))  # non-contiguous feature-major input: one documented copy
    np.testing.assert_allclose(layer.forward_t(xt).T, y, rtol=1e-6, atol=1e-6)


def test_from_scipy_and_csrmatrix_and_storage():
    sp = pytest.importorskip("scipy.sparse")
    m = sp.random(50, 300, density=0.1, format="csr", dtype=np.float32, random_state=0)
    a = SparseLinear(m)
    b = SparseLinear(psg.from_scipy(m))
    x = np.random.default_rng(0).standard_normal((7, 300)).astype(np.float32)
    np.testing.assert_allclose(a(x), (m @ x.T).T, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(a(x), b(x))
    assert a.index_dtype == np.uint16
    assert a.nbytes == 8 * 51 + 2 * m.nnz + 4 * m.nnz
    assert a.nbytes < a.dense_nbytes
    np.testing.assert_array_equal(a.to_csr().to_scipy().toarray(), m.toarray())


def test_out_argument():
    layer, wp, b = _layer(10, 6, 0.5, 3)
    xt = np.ones((6, 4), np.float32)
    out = np.empty((10, 4), np.float32)
    r = layer.forward_t(xt, out=out)
    assert r is out
    with pytest.raises(errors.ShapeMismatchError):
        layer.forward_t(xt, out=np.empty((10, 5), np.float32))
    with pytest.raises(errors.DTypeError):
        layer.forward_t(xt, out=np.empty((10, 4), np.float64))


def test_bad_input():
    layer, _, _ = _layer(10, 6, 0.5, 4)
    with pytest.raises(errors.ShapeMismatchError, match="in_features"):
        layer(np.ones((3, 5), np.float32))
    with pytest.raises(errors.ShapeMismatchError):
        layer.forward_t(np.ones((5, 3), np.float32))
    with pytest.raises(errors.DTypeError):
        layer(np.array([["a"] * 6]))
    with pytest.raises(errors.InvalidArgumentError, match="activation"):
        SparseLinear(np.eye(3), activation="tanh")
    with pytest.raises(errors.ShapeMismatchError, match="bias"):
        SparseLinear(np.eye(3), np.ones(4))
    with pytest.raises(errors.InvalidArgumentError, match="clamp_max"):
        SparseLinear(np.eye(3), clamp_max=float("nan"))
    # an int beyond float's range clamps nothing (or everything, below it)
    x = np.array([[1.0, -2.0, 3.0]], np.float32)
    np.testing.assert_array_equal(SparseLinear(np.eye(3), clamp_max=10 ** 400)(x), x)
    np.testing.assert_array_equal(SparseLinear(np.eye(3), clamp_max=-10 ** 400)(x), np.full((1, 3), -np.inf))
    with pytest.raises(errors.InvalidArgumentError, match="n_threads"):
        layer(np.ones((2, 6)), n_threads=0)
    for isa in ("neon", [], None):  # unhashable or wrong: the same clear error
        with pytest.raises(errors.InvalidArgumentError, match="isa"):
            layer.forward_t(np.ones((6, 2), np.float32), isa=isa)
        with pytest.raises(errors.InvalidArgumentError, match="isa"):
            isa_supported(isa)
    with pytest.raises(errors.IndexOverflowError):
        SparseLinear(psg.CSRMatrix([0, 1], [70000], [1.0], shape=(1, 70001)), index_dtype="uint16")
    with pytest.raises(errors.ShapeMismatchError):
        SparseLinear(np.ones(4))


def test_wide_input_uses_int32():
    m = psg.CSRMatrix([0, 2, 3], [5, 69999, 70000], [1.0, 2.0, 3.0], shape=(2, 70001))
    layer = SparseLinear(m)
    assert layer.index_dtype == np.int32
    x = np.zeros((1, 70001), np.float32)
    x[0, 69999], x[0, 70000], x[0, 5] = 1.0, 1.0, 1.0
    np.testing.assert_array_equal(layer(x), [[3.0, 3.0]])


def test_sequential_ffn_matches_dense_and_threads():
    l1, w1, b1 = _layer(256, 64, 0.9, 21, act="gelu")
    l2, w2, b2 = _layer(64, 256, 0.9, 22)
    net = SparseSequential([l1, l2])
    x = np.random.default_rng(9).standard_normal((33, 64)).astype(np.float32)
    ref = _dense_ref(_dense_ref(x, w1, b1, "gelu", None), w2, b2, None, None)
    y1 = net(x, n_threads=1)
    np.testing.assert_allclose(y1, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(net(x, n_threads=2), y1)
    with pytest.raises(errors.ShapeMismatchError):
        SparseSequential([l1, l1])
    with pytest.raises(errors.InvalidArgumentError):
        SparseSequential([])


@pytest.mark.parametrize("n_layers,batch", [(1, 130), (2, 64), (3, 7)])
def test_sequential_row_major_equals_feature_major(n_layers, batch):
    # forward() reads X row-major in the first layer and writes Y row-major in the last
    # (tile transposes inside the driver): bit-identical to forward_t on X.T
    sizes = [300, 500, 200, 96][:n_layers + 1]
    layers = [_layer(sizes[i + 1], sizes[i], (0.5, 0.9, 0.7)[i], 30 + i, act="relu" if i % 2 else "gelu")[0]
              for i in range(n_layers)]
    net = SparseSequential(layers)
    x = np.random.default_rng(batch).standard_normal((batch, sizes[0])).astype(np.float32)
    y = net(x, n_threads=2)
    assert y.shape == (batch, sizes[-1]) and y.flags.c_contiguous
    np.testing.assert_array_equal(y, net.forward_t(np.ascontiguousarray(x.T), n_threads=1).T)
    h = x
    for layer in layers:
        h = layer(h)
    np.testing.assert_array_equal(y, h)


def test_sequential_drop_dead_same_result():
    rng = np.random.default_rng(0)
    layers = []
    for i in range(4):
        w = np.abs(rng.standard_normal((40, 40))).astype(np.float32) * (rng.random((40, 40)) < 0.2)
        layers.append(SparseLinear(w, np.full(40, -1.0, np.float32), activation="relu", clamp_max=4.0))
    x = np.abs(rng.standard_normal((50, 40))).astype(np.float32) * (rng.random((50, 40)) < 0.1)
    a = SparseSequential(layers)(x)
    b = SparseSequential(layers, drop_dead=True)(x)
    np.testing.assert_array_equal(a, b)
    assert (a.sum(axis=1) == 0).any() and (a.sum(axis=1) > 0).any()  # the test exercises both kinds of rows


def test_team_size_follows_threadpoolctl():
    from threadpoolctl import threadpool_limits
    layer, _, _ = _layer(512, 512, 0.5, 5)
    xt = np.ones((512, 256), np.float32)
    with threadpool_limits(1):
        layer.forward_t(xt)
        assert psg._core.last_team_size() == 1


def test_small_layers_stay_on_the_calling_thread():
    # below 2**20 multiply-adds a second thread costs more than it saves (the layer's own cut-off)
    small, _, _ = _layer(64, 64, 0.5, 1)
    xs = np.ones((64, 8), np.float32)
    small.forward_t(xs, n_threads=2)
    assert psg._core.last_team_size() == 1
    big, _, _ = _layer(512, 512, 0.5, 5)
    xb = np.ones((512, 256), np.float32)
    y2 = big.forward_t(xb, n_threads=2)
    if psg._core.has_openmp() and psg._core.max_threads() >= 2:
        assert psg._core.last_team_size() == 2
    assert y2.tobytes() == big.forward_t(xb, n_threads=1).tobytes()


def test_small_layers_get_the_team_in_a_hot_loop():
    # from 2**16 to 2**20 multiply-adds a layer shares the team only when the previous
    # product ended under 1 ms ago (a chain of layers); the bits never change
    layer, wp, b = _layer(256, 256, 0.5, 3)  # (32768 + 256) * 8 = 264k multiply-adds
    x = np.random.default_rng(0).standard_normal((8, 256)).astype(np.float32)
    xt = np.ascontiguousarray(x.T)
    time.sleep(0.05)  # idle: the first call stays on the calling thread
    y1 = layer.forward_t(xt, n_threads=2)
    assert psg._core.last_team_size() == 1
    np.testing.assert_allclose(y1.T, _dense_ref(x, wp, b, None, None), rtol=1e-4, atol=1e-4)
    teams = []
    for _ in range(50):  # back to back: the team, unless the OS stalls us for 1 ms every time
        y = layer.forward_t(xt, n_threads=2)
        teams.append(psg._core.last_team_size())
        assert y.tobytes() == y1.tobytes()
    if psg._core.has_openmp() and psg._core.max_threads() >= 2:
        assert 2 in teams
    layer.forward_t(xt, n_threads=1)
    assert psg._core.last_team_size() == 1


def test_kernel_isa_name():
    assert kernel_isa() in ("portable", "avx2", "avx512")
    with pytest.raises(errors.InvalidArgumentError):
        isa_supported("sse9")


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("in_features,batch", [(1000, 300), (1000, 128), (800, 513), (100, 257)])
def test_wide_inputs_and_packed_batch_tiles(isa, in_features, batch):
    # batches wider than one 8-vector tile (128 floats with AVX-512, 64 with AVX2) are packed
    layer, wp, b = _layer(40, in_features, 0.9, in_features + batch, act="relu")
    x = np.random.default_rng(batch).standard_normal((batch, in_features)).astype(np.float32)
    y = layer.forward_t(np.ascontiguousarray(x.T), isa=isa, n_threads=2).T
    np.testing.assert_allclose(y, _dense_ref(x, wp, b, "relu", None), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(y, layer.forward_t(np.ascontiguousarray(x.T), isa=isa, n_threads=1).T)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("act", [None, "relu", "gelu"])
@pytest.mark.parametrize("sparsity,in_features,batch", [(0.5, 384, 128), (0.4, 1536, 130), (0.7, 500, 512),
                                                        (0.9, 1536, 128), (0.95, 2000, 64)])
def test_dense_rows_feature_blocked(isa, act, sparsity, in_features, batch, monkeypatch):
    # rows dense enough that the SIMD kernels visit the input features in L1-sized
    # blocks (the first three), or sparse rows over so many features that the tile
    # crowds L2 and they take larger blocks (the last two): same as dense math, and
    # bit-identical to the unblocked kernel (PSG_SL_FB=0)
    layer, wp, b = _layer(96, in_features, sparsity, batch, act=act, clamp=2.0)
    xt = np.ascontiguousarray(np.random.default_rng(3).standard_normal((in_features, batch)).astype(np.float32))
    y = layer.forward_t(xt, isa=isa, n_threads=2)
    np.testing.assert_allclose(y.T, _dense_ref(xt.T, wp, b, act, 2.0), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(y, layer.forward_t(xt, isa=isa, n_threads=1))
    monkeypatch.setenv("PSG_SL_FB", "0")
    np.testing.assert_array_equal(y, layer.forward_t(xt, isa=isa, n_threads=1))


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("sparsity,out_f,in_f,batch", [(0.9, 1536, 384, 128), (0.5, 384, 1536, 130),
                                                      (0.8, 96, 72, 5), (0.3, 200, 300, 513)])
def test_row_major_forward_equals_feature_major(n_threads, sparsity, out_f, in_f, batch):
    # forward() transposes tiles inside the kernel driver: bit-identical to forward_t on X.T
    layer, wp, b = _layer(out_f, in_f, sparsity, batch, act="gelu")
    x = np.random.default_rng(batch).standard_normal((batch, in_f)).astype(np.float32)
    y = layer.forward(x, n_threads=n_threads)
    assert y.shape == (batch, out_f) and y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_array_equal(y, layer.forward_t(np.ascontiguousarray(x.T), n_threads=n_threads).T)
    np.testing.assert_allclose(y, _dense_ref(x, wp, b, "gelu", None), rtol=1e-4, atol=1e-4)
    # a strided float64 view of the same numbers gives the same result
    x64 = np.asfortranarray(x.astype(np.float64))
    np.testing.assert_array_equal(layer.forward(x64, n_threads=n_threads), y)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (1, 1), (33, 65), (512, 384)])
def test_transpose_helper(shape):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(psg._core.transpose(a, 2), a.T)


def test_repeated_row_major_calls_do_not_alias():
    # the row-major path reuses per-thread scratch: results handed out must stay intact
    layer, wp, b = _layer(30, 20, 0.5, 8)
    net = SparseSequential([layer, SparseLinear(np.eye(30, dtype=np.float32))])
    x1 = np.ones((4, 20), np.float32)
    x2 = np.full((4, 20), 2.0, np.float32)
    y1, z1 = layer(x1), net(x1)
    y1c, z1c = y1.copy(), z1.copy()
    layer(x2), net(x2)
    np.testing.assert_array_equal(y1, y1c)
    np.testing.assert_array_equal(z1, z1c)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("offset", [0, 1, 4])
@pytest.mark.parametrize("batch", [128, 200, 512])
def test_any_input_alignment_same_bits_on_two_threads(isa, offset, batch):
    # the kernel reads 64-byte-aligned Xt in place and packs anything else per thread:
    # every alignment must give the same bits as one thread and match dense math
    layer, wp, b = _layer(1536, 384, 0.9, batch + offset, act="relu")
    x = np.random.default_rng(offset).standard_normal((batch, 384)).astype(np.float32)
    buf = np.empty(384 * batch + 16, np.float32)
    xt = buf[offset:offset + 384 * batch].reshape(384, batch)
    xt[...] = x.T
    assert xt.flags.c_contiguous
    y2 = layer.forward_t(xt, isa=isa, n_threads=2)
    if psg._core.has_openmp() and psg._core.max_threads() >= 2:
        assert psg._core.last_team_size() == 2
    np.testing.assert_array_equal(y2, layer.forward_t(xt, isa=isa, n_threads=1))
    np.testing.assert_allclose(y2.T, _dense_ref(x, wp, b, "relu", None), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("isa", [i for i in ISAS if i != "portable"])
@pytest.mark.parametrize("act", [None, "relu", "gelu"])
def test_sample_bits_do_not_depend_on_the_batch(isa, act):
    """Narrow batches run several rows interleaved; every output is still one
    FMA chain in storage order, so a sample gives the same bits alone, in any
    batch tail and inside a full 8-vector tile. Rows of every length, and
    empty ones, exercise the shortest-row split and the groups."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((203, 150)).astype(np.float32)
    keep = rng.random(w.shape) < rng.uniform(0.0, 0.6, size=(203, 1))  # per-row density 0-60%
    keep[::17] = False                                                   # empty rows
    b = rng.standard_normal(203).astype(np.float32)
    layer = SparseLinear(prune.to_csr(w, keep), b, activation=act, clamp_max=2.0 if act == "relu" else None)
    x = rng.standard_normal((256, 150)).astype(np.float32)
    full = layer.forward_t(np.ascontiguousarray(x.T), isa=isa, n_threads=1)
    np.testing.assert_allclose(full.T, _dense_ref(x, prune.apply_mask(w, keep), b, act,
                                                  2.0 if act == "relu" else None), rtol=1e-4, atol=1e-4)
    for lo, hi in [(0, 1), (5, 6), (3, 5), (10, 17), (20, 28), (30, 46), (40, 73), (100, 131), (0, 100)]:
        for t in (1, 2):
            part = layer.forward_t(np.ascontiguousarray(x[lo:hi].T), isa=isa, n_threads=t)
            np.testing.assert_array_equal(part, full[:, lo:hi], err_msg=f"{isa} samples {lo}:{hi} T={t}")


def test_a_layer_owns_its_weights_and_leaves_the_callers_arrays_alone():
    w = psg.CSRMatrix(np.array([0, 2]), np.array([0, 1], np.int32), np.array([1.0, 2.0], np.float32), shape=(1, 2))
    src = [np.array(w.indptr), np.array(w.values)]
    w2 = psg.CSRMatrix(src[0], np.array([0, 1], np.int32), src[1], shape=(1, 2))
    layer = SparseLinear(w2)
    assert all(a.flags.writeable for a in src)  # the caller keeps writeable arrays
    src[1][0] = 100.0  # a later change of the source does not reach the layer
    np.testing.assert_array_equal(layer.forward(np.ones((1, 2), np.float32)), [[3.0]])


def test_sequential_chains_pickle_and_copy_and_from_dense_wants_sparsity_for_a_score():
    import copy
    import pickle

    rng = np.random.default_rng(5)
    w1, w2 = rng.standard_normal((16, 8)).astype(np.float32), rng.standard_normal((4, 16)).astype(np.float32)
    seq = SparseSequential([SparseLinear.from_dense(w1, sparsity=0.5, activation="relu"),
                            SparseLinear.from_dense(w2, sparsity=0.5)])
    x = rng.standard_normal((5, 8)).astype(np.float32)
    y = seq.forward(x)
    for twin in (pickle.loads(pickle.dumps(seq)), copy.deepcopy(seq)):
        np.testing.assert_array_equal(twin.forward(x), y)
    with pytest.raises(errors.InvalidArgumentError, match="sparsity"):
        SparseLinear.from_dense(w1, score="wanda", activations=np.ones((3, 8)))


@pytest.mark.parametrize("drop_dead", [False, True])
def test_one_sample_inputs_and_the_messages_of_wrong_shapes(drop_dead):
    # a 1-D sample runs through a chain as through one layer (it was refused by the chain),
    # and a wrong shape is reported as given, not as the (1, n) the layer made of it
    l1, w1, b1 = _layer(12, 6, 0.5, 41, act="relu")
    l2, w2, b2 = _layer(5, 12, 0.5, 42)
    net = SparseSequential([l1, l2], drop_dead=drop_dead)
    x = np.random.default_rng(3).standard_normal(6).astype(np.float32)
    y = net(x)
    ref = _dense_ref(_dense_ref(x[None, :], w1, b1, "relu", None), w2, b2, None, None)[0]
    assert y.shape == (5,)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(y, net(x[None, :])[0])
    for bad in (np.ones(5, np.float32), np.ones((2, 3, 6), np.float32)):
        with pytest.raises(errors.ShapeMismatchError, match=r"got \(" + ", ".join(map(str, bad.shape))):
            l1(bad)
        with pytest.raises(errors.ShapeMismatchError, match=r"got \(" + ", ".join(map(str, bad.shape))):
            net(bad)


def test_index_dtype_as_numpy_dtype_and_sparse_weights_refused_by_pruning():
    w = np.random.default_rng(5).standard_normal((4, 9)).astype(np.float32)
    for dt in (np.uint16, np.dtype("int32"), "int32"):
        assert SparseLinear(w, index_dtype=dt).index_dtype == np.dtype(dt)
    for bad in (np.float32, np.int64, None, "int8"):
        with pytest.raises(errors.InvalidArgumentError, match="index_dtype"):
            SparseLinear(w, index_dtype=bad)
    with pytest.raises(errors.InvalidArgumentError, match="got 'int'"):  # as given, not as numpy reads it
        SparseLinear(w, index_dtype="int")
    sp = pytest.importorskip("scipy.sparse")
    for sparse in (sp.csr_array(w), psg.from_scipy(sp.csr_array(w))):
        with pytest.raises(errors.InvalidArgumentError, match="dense array"):
            SparseLinear.from_dense(sparse, sparsity=0.5)
        with pytest.raises(errors.InvalidArgumentError, match="dense array"):
            prune.prune(sparse, 0.5)


def test_inputs_numpy_cannot_read_and_array_options_raise_library_errors():
    rng = np.random.default_rng(11)
    w = rng.standard_normal((5, 6)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    layer = SparseLinear(w, b)
    x = rng.standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_allclose(layer(x), _dense_ref(x, w, b, None, None), rtol=1e-5, atol=1e-5)
    ragged = [[1.0] * 6, [1.0]]  # NumPy's bare ValueError before
    for f, what in ((lambda: SparseLinear(ragged), "weight"), (lambda: SparseLinear(w, [[1.0], [2.0, 3.0]]), "bias"),
                    (lambda: layer(ragged), "x"), (lambda: layer.forward_t(ragged), "xt"),
                    (lambda: SparseSequential([layer]).forward(ragged), "x")):
        with pytest.raises(errors.ShapeMismatchError, match=what):
            f()
    # an array as pattern or score compared elementwise: NumPy's "truth value ... is ambiguous" ValueError
    with pytest.raises(errors.InvalidArgumentError, match="pattern"):
        SparseLinear.from_dense(w, pattern=np.array(["unstructured", "2:4"]))
    with pytest.raises(errors.InvalidArgumentError, match="score"):
        SparseLinear.from_dense(w, score=np.array(["magnitude", "wanda"]))
    torch = pytest.importorskip("torch", reason="torch not installed")
    F = torch.nn.functional
    tw, tb, tx = torch.from_numpy(w), torch.from_numpy(b), torch.from_numpy(x)
    ref = F.linear(tx.double(), tw.double(), tb.double()).numpy()
    np.testing.assert_allclose(SparseLinear(tw, tb)(tx), ref, rtol=1e-5, atol=1e-5)
    # a Parameter (requires grad) or a bfloat16 tensor raised torch's RuntimeError / TypeError
    grad_w = torch.nn.Parameter(tw.clone())
    for f, what in ((lambda: SparseLinear(grad_w), "weight"),
                    (lambda: SparseLinear.from_dense(grad_w, sparsity=0.5), "weight"),
                    (lambda: SparseLinear(w, torch.nn.Parameter(tb.clone())), "bias"),
                    (lambda: layer(tx.clone().requires_grad_(True)), "x"), (lambda: layer(tx.bfloat16()), "x"),
                    (lambda: layer.forward_t(tx.T.bfloat16()), "xt")):
        with pytest.raises(errors.DTypeError, match=f"{what} cannot be read"):
            f()


def test_sparse_linear_from_a_dense_weight_stores_it_without_intermediate_copies():
    import tracemalloc
    rng = np.random.default_rng(5)
    w = rng.standard_normal((1024, 1024)).astype(np.float32)
    w[rng.random(w.shape) >= 0.1] = 0
    w[0, :3] = -0.0  # a signed zero is not stored
    tracemalloc.start()
    try:
        layer = SparseLinear(w)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rows, cols = np.nonzero(w)
    assert layer.index_dtype == np.uint16 and not layer._indices.flags.writeable
    np.testing.assert_array_equal(layer._indptr, np.concatenate([[0], np.cumsum((w != 0).sum(axis=1))]))
    np.testing.assert_array_equal(layer._indices, cols)
    np.testing.assert_array_equal(layer._values, w[rows, cols])
    # a whole-matrix mask, int64 (row, col) pairs and copies of fresh arrays took 5.6x the stored bytes
    assert peak < 4 * layer.nbytes, peak / layer.nbytes
