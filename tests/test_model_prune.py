"""Pruning: exact sparsity, pattern constraints, reference masks from NumPy."""
import numpy as np
import pytest

from pysparsegraph import errors, prune


def _w(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.6, 0.9, 0.95, 1.0])
def test_unstructured_layer_exact_count_and_threshold(sparsity):
    w = _w((48, 40))
    keep = prune.prune(w, sparsity)
    n_removed = int(round(sparsity * w.size))
    assert keep.dtype == np.bool_ and keep.shape == w.shape
    assert (~keep).sum() == n_removed
    if 0 < n_removed < w.size:
        # every kept weight is at least as large as every removed one
        assert np.abs(w[keep]).min() >= np.abs(w[~keep]).max()


def test_unstructured_row_granularity():
    w = _w((16, 50), 1)
    keep = prune.prune(w, 0.8, granularity="row")
    assert (keep.sum(axis=1) == 10).all()
    for r in range(16):
        assert np.abs(w[r, keep[r]]).min() >= np.abs(w[r, ~keep[r]]).max()


@pytest.mark.parametrize("pattern,n,m", [("2:4", 2, 4), ("4:8", 4, 8), ("1:4", 1, 4)])
def test_n_m(pattern, n, m):
    w = _w((32, 64), 2)
    keep = prune.prune(w, pattern=pattern)
    assert prune.check_n_m(keep, n, m)
    groups = keep.reshape(32, -1, m)
    assert (groups.sum(axis=2) == n).all()
    # the kept ones are the n largest of each group (reference: sort per group)
    aw = np.abs(w).reshape(32, -1, m)
    kth = -np.sort(-aw, axis=2)[:, :, n - 1:n]
    assert (aw[groups] >= kth.repeat(m, axis=2)[groups]).all()
    assert np.isclose(1 - keep.mean(), 1 - n / m)


def test_n_m_errors():
    w = _w((8, 10))
    with pytest.raises(errors.ShapeMismatchError, match="multiple of 4"):
        prune.prune(w, pattern="2:4")
    with pytest.raises(errors.InvalidArgumentError, match="fixes the sparsity"):
        prune.prune(_w((8, 16)), 0.9, pattern="2:4")
    with pytest.raises(errors.InvalidArgumentError, match="N:M"):
        prune.prune(_w((8, 16)), pattern="5:4")


@pytest.mark.parametrize("pattern,r,c", [("1x4", 1, 4), ("4x1", 4, 1), ("2x2", 2, 2)])
def test_block(pattern, r, c):
    w = _w((32, 48), 3)
    keep = prune.prune(w, 0.75, pattern=pattern)
    blocks = keep.reshape(32 // r, r, 48 // c, c)
    # every block is all kept or all removed
    s = blocks.sum(axis=(1, 3))
    assert np.isin(s, [0, r * c]).all()
    assert (s == 0).sum() == round(0.75 * s.size)
    # kept blocks have the larger L1 norms
    norms = np.abs(w).reshape(32 // r, r, 48 // c, c).sum(axis=(1, 3))
    assert norms[s > 0].min() >= norms[s == 0].max()


def test_block_shape_error():
    with pytest.raises(errors.ShapeMismatchError, match="multiple"):
        prune.prune(_w((6, 10)), 0.5, pattern="4x1")


def test_wanda_uses_activation_norms():
    w = np.ones((4, 6), dtype=np.float32)
    x = np.zeros((10, 6), dtype=np.float32)
    x[:, 3] = 5.0
    x[:, 1] = 1.0
    keep = prune.prune(w, 4 / 6, score="wanda", activations=x)
    # per-row Wanda: with equal |W| each row keeps the two columns of largest input norm
    assert (keep == np.isin(np.arange(6), [1, 3])[None, :]).all()
    s = prune.scores(w, "wanda", x)
    np.testing.assert_allclose(s[0], np.linalg.norm(x, axis=0))


def test_wanda_needs_activations_of_right_shape():
    with pytest.raises(errors.InvalidArgumentError, match="activations"):
        prune.prune(_w((4, 6)), 0.5, score="wanda")
    with pytest.raises(errors.ShapeMismatchError):
        prune.prune(_w((4, 6)), 0.5, score="wanda", activations=np.ones((3, 5)))


def test_global_pruning_ranks_across_layers():
    a = _w((10, 10), 4) * 10.0  # large weights
    b = _w((10, 20), 5)
    masks = prune.prune_global({"a": a, "b": b}, 0.5)
    total_removed = (~masks["a"]).sum() + (~masks["b"]).sum()
    assert total_removed == round(0.5 * 300)
    kept = np.concatenate([np.abs(a[masks["a"]]), np.abs(b[masks["b"]])])
    removed = np.concatenate([np.abs(a[~masks["a"]]), np.abs(b[~masks["b"]])])
    assert kept.min() >= removed.max()
    # the large layer keeps more than the small one
    assert masks["a"].mean() > masks["b"].mean()


def test_bad_sparsity_and_pattern():
    w = _w((4, 4))
    for bad in (-0.1, 1.5, "x", True):
        with pytest.raises(errors.InvalidArgumentError):
            prune.prune(w, bad)
    with pytest.raises(errors.InvalidArgumentError, match="pattern"):
        prune.prune(w, 0.5, pattern="diagonal")
    with pytest.raises(errors.ShapeMismatchError):
        prune.prune(np.ones(5), 0.5)
    with pytest.raises(errors.InvalidArgumentError, match="granularity"):
        prune.prune(w, 0.5, granularity="column")
    # numbers past Python's int-conversion digit limit gave its bare ValueError
    for huge in ("1:" + "9" * 5000, "9" * 5000 + "x1", "2:" + "0" * 30 + "4"):
        with pytest.raises(errors.InvalidArgumentError, match="^pattern must be"):
            prune.prune(w, 0.5, pattern=huge)
    np.testing.assert_array_equal(prune.prune(w, 0.5, pattern="0002:0004"), prune.prune(w, 0.5, pattern="2:4"))


def test_to_csr_and_apply_mask_match_dense():
    w = _w((30, 70), 6)
    keep = prune.prune(w, 0.9)
    w_before = w.copy()
    csr = prune.to_csr(w, keep)
    np.testing.assert_array_equal(w, w_before)  # caller's array untouched
    dense = prune.apply_mask(w, keep)
    np.testing.assert_array_equal(csr.to_scipy().toarray(), dense)
    assert csr.nnz == keep.sum()
    rep = prune.storage_bytes(30, 70, csr.nnz)
    assert rep["index_dtype"] == "uint16"
    assert rep["total"] == 8 * 31 + 2 * csr.nnz + 4 * csr.nnz
    assert prune.storage_bytes(10, 70000, 5)["index_dtype"] == "int32"


def test_input_not_modified_and_dtype_errors():
    w = _w((8, 8))
    w0 = w.copy()
    prune.prune(w, 0.5, pattern="1x4")
    np.testing.assert_array_equal(w, w0)
    with pytest.raises(errors.DTypeError):
        prune.prune(np.array([["a", "b"]]), 0.5)
    with pytest.raises(errors.ShapeMismatchError):
        prune.apply_mask(w, np.ones((8, 7), bool))


def test_check_n_m_validates_n_and_m():
    keep = prune.prune(_w((4, 8)), pattern="2:4")
    assert prune.check_n_m(keep, 2, 4) and not prune.check_n_m(keep, 1, 4)
    for n, m in [(2, 0), (5, 4), (-1, 4), (2, 4.0), (True, 4), ("2", 4)]:
        with pytest.raises(errors.InvalidArgumentError):
            prune.check_n_m(keep, n, m)


def test_wanda_activations_must_be_numeric():
    with pytest.raises(errors.DTypeError, match="activations"):
        prune.prune(_w((4, 24)), 0.5, score="wanda", activations=[["a"] * 24])
    with pytest.raises(errors.DTypeError, match="activations"):
        prune.scores(_w((4, 2)), "wanda", np.ones((3, 2), dtype=complex))


def test_nan_scores_are_refused_naming_the_weight():
    # a NaN has no rank: argsort kept it as the largest in unstructured pruning and
    # dropped it in N:M; every pattern now refuses it and names the weight
    w = _w((8, 8), 3)
    w[2, 5] = np.nan
    for kw in [dict(sparsity=0.5), dict(sparsity=0.5, granularity="row"), dict(pattern="2:4"),
               dict(sparsity=0.5, pattern="1x4")]:
        with pytest.raises(errors.InvalidArgumentError, match=r"weight\[2, 5\] has a NaN magnitude score \(the weight is NaN"):
            prune.prune(w, **kw)
    with pytest.raises(errors.InvalidArgumentError, match=r"weights\['b'\]\[2, 5\]"):
        prune.prune_global({"a": _w((4, 8)), "b": w}, 0.5)
    with pytest.raises(errors.InvalidArgumentError, match=r"weight\[2, 5\]"):
        prune.scores(w)
    # Wanda: a NaN or infinite activation in column 3 (an inf made every weight of its column score inf
    # and be kept, when none of them was 0), and an infinite weight over a dead column 6
    for bad in (np.inf, -np.inf, np.nan):
        x = np.ones((5, 8), np.float32)
        x[1, 3] = bad
        for w2 in (_w((8, 8), 4), _w((8, 8), 4) + 1.0):
            with pytest.raises(errors.InvalidArgumentError, match=r"activations column 3 holds NaN or inf"):
                prune.prune(w2, 0.5, score="wanda", activations=x)
    with pytest.raises(errors.InvalidArgumentError, match="no samples"):
        prune.prune(_w((8, 8), 4), 0.5, score="wanda", activations=np.ones((0, 8)))
    x = np.ones((5, 8), np.float32)
    x[:, 6] = 0.0
    w3 = _w((8, 8), 5)
    w3[4, 6] = np.inf
    with pytest.raises(errors.InvalidArgumentError, match=r"weight\[4, 6\].*infinite weight times input column 6"):
        prune.prune(w3, 0.5, score="wanda", activations=x)


def test_infinite_weights_rank_first():
    w = _w((6, 8), 6)
    w[1, 1], w[4, 2] = np.inf, -np.inf
    keep = prune.prune(w, 0.95)  # 46 of 48 removed: exactly the two infinities stay
    assert keep[1, 1] and keep[4, 2] and keep.sum() == 2
    nm = prune.prune(w, pattern="2:4")
    assert nm[1, 1] and nm[4, 2]


def test_wanda_norms_of_large_finite_activations_do_not_overflow():
    # squares of 1e200 overflow float64; the column norms (2e200) do not, and the
    # ranking must be the one of the same activations scaled down
    w = _w((3, 8))
    x = np.random.default_rng(1).uniform(0.5, 2.0, (4, 8)) * 1e200
    s = prune.scores(w, "wanda", x)
    assert np.isfinite(s).all()
    np.testing.assert_allclose(s, prune.scores(w, "wanda", x / 1e200) * 1e200, rtol=1e-12)
    np.testing.assert_array_equal(prune.prune(w, 0.5, score="wanda", activations=x),
                                  prune.prune(w, 0.5, score="wanda", activations=x / 1e200))
    # an infinite activation is refused by column
    x[0, 2], w[1, 2] = np.inf, 0.0
    with pytest.raises(errors.InvalidArgumentError, match="column 2"):
        prune.scores(w, "wanda", x)


def test_prune_global_activations_must_be_a_dict_naming_every_layer():
    ws = {"a": _w((4, 6)), "b": _w((4, 6), 1)}
    x = np.ones((3, 6))
    with pytest.raises(errors.InvalidArgumentError, match="activations must be a dict"):
        prune.prune_global(ws, 0.5, score="wanda", activations=x)
    with pytest.raises(errors.InvalidArgumentError, match=r"activations\['b'\]"):
        prune.prune_global(ws, 0.5, score="wanda", activations={"a": x})
    got = prune.prune_global(ws, 0.5, score="wanda", activations={"a": x, "b": x})
    assert sum(int(m.sum()) for m in got.values()) == 24


def test_granularity_is_checked_for_every_pattern():
    w = _w((4, 8))
    for pattern, sparsity in (("unstructured", 0.5), ("2:4", None), ("1x4", 0.5)):
        with pytest.raises(errors.InvalidArgumentError, match="granularity"):
            prune.prune(w, sparsity, pattern=pattern, granularity="bogus")
        with pytest.raises(errors.InvalidArgumentError, match="granularity"):
            prune.prune(w, sparsity, pattern=pattern, granularity=["row"])


def test_check_n_m_of_an_empty_mask():
    assert prune.check_n_m(np.zeros((0, 8), bool), 2, 4)
    assert prune.check_n_m(prune.prune(np.zeros((0, 8)), pattern="2:4"), 2, 4)


def test_storage_bytes_and_to_csr_validate_their_arguments():
    assert prune.storage_bytes(4, 10, 5)["total"] == 8 * 5 + 2 * 5 + 4 * 5
    for bad in ((-1, 10, 5), (1.5, 10, 5), (4, None, 5), (2, 2, 5)):
        with pytest.raises(errors.InvalidArgumentError):
            prune.storage_bytes(*bad)
    for dt in ("foo", np.float32):
        with pytest.raises(errors.DTypeError, match="index_dtype"):
            prune.storage_bytes(4, 10, 5, index_dtype=dt)
    with pytest.raises(errors.DTypeError, match="dtype"):
        prune.to_csr(_w((2, 2)), dtype="foo")


def test_storage_bytes_refuses_an_index_dtype_too_narrow_for_the_columns():
    assert prune.storage_bytes(4, 65536, 10, index_dtype=np.uint16)["index_dtype"] == "uint16"
    with pytest.raises(errors.IndexOverflowError, match="65535"):
        prune.storage_bytes(4, 65537, 10, index_dtype=np.uint16)
    with pytest.raises(errors.IndexOverflowError):
        prune.storage_bytes(4, 1000, 10, index_dtype=np.int8)


def test_inputs_numpy_cannot_read_raise_library_errors():
    w = _w((4, 8), 5)
    # ragged lists: NumPy's bare ValueError before
    with pytest.raises(errors.ShapeMismatchError, match="weight"):
        prune.prune([[1.0, 2.0], [3.0]], 0.5)
    with pytest.raises(errors.ShapeMismatchError, match="activations"):
        prune.prune(w, 0.5, score="wanda", activations=[[1.0] * 8, [1.0]])
    for f in (lambda m: prune.apply_mask(w, m), lambda m: prune.to_csr(w, m), lambda m: prune.check_n_m(m, 2, 4)):
        with pytest.raises(errors.ShapeMismatchError, match="mask"):
            f([[True] * 8, [True]])
    torch = pytest.importorskip("torch", reason="torch not installed")
    t = torch.from_numpy(w.copy())
    ref = prune.prune(w, 0.5)
    # a plain tensor works; one that requires grad, or a bfloat16 one, raised torch's RuntimeError / TypeError
    np.testing.assert_array_equal(prune.prune(t, 0.5), ref)
    for bad in (t.clone().requires_grad_(True), t.to(torch.bfloat16)):
        with pytest.raises(errors.DTypeError, match="weight cannot be read"):
            prune.prune(bad, 0.5)
    with pytest.raises(errors.DTypeError, match="activations"):
        prune.prune(w, 0.5, score="wanda", activations=torch.ones(3, 8, requires_grad=True))
    with pytest.raises(errors.DTypeError, match="weights\\['a'\\]"):
        prune.prune_global({"a": t.clone().requires_grad_(True)}, 0.5)


def _ref_prune(w, sparsity, pattern, granularity):
    """Straightforward argsort reference: float64 |W|, stable sorts (ties go by position)."""
    s = np.abs(np.asarray(w, dtype=np.float64))
    keep = np.ones(s.shape, dtype=bool)
    if pattern != "unstructured":
        n, m = (int(v) for v in pattern.split(":"))
        g = s.reshape(s.shape[0], -1, m)
        order = np.argsort(-g, axis=2, kind="stable")
        keep = np.zeros(g.shape, dtype=bool)
        np.put_along_axis(keep, order[:, :, :n], True, axis=2)
        return keep.reshape(s.shape)
    if granularity == "row":
        k = int(round(sparsity * s.shape[1]))
        for r in range(s.shape[0]):
            keep[r, np.argsort(s[r], kind="stable")[:k]] = False
        return keep
    keep.ravel()[np.argsort(s.ravel(), kind="stable")[:int(round(sparsity * s.size))]] = False
    return keep


def _adversarial_weights():
    rng = np.random.default_rng(7)
    for dt in (np.float32, np.float64):
        # (600, 1000) spans several of prune's internal row chunks
        for shape in ((8, 12), (600, 1000)):
            yield rng.integers(-2, 3, shape).astype(dt)  # massive ties, +-equal magnitudes
            w = rng.standard_normal(shape).astype(dt)
            w[rng.random(shape) < 0.3] = -0.0
            w[rng.random(shape) < 0.3] = 0.0
            w[rng.random(shape) < 0.02] = np.inf
            w[rng.random(shape) < 0.02] = -np.inf
            yield w
            yield np.full(shape, -1.5, dt)
            yield np.asfortranarray(rng.standard_normal(shape).astype(dt) * 1e-40)  # subnormals, Fortran order


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9, 1.0])
def test_prune_matches_an_argsort_reference_on_adversarial_inputs(sparsity):
    for w in _adversarial_weights():
        for gran in ("layer", "row"):
            np.testing.assert_array_equal(prune.prune(w, sparsity, granularity=gran),
                                          _ref_prune(w, sparsity, "unstructured", gran))
        got = prune.prune_global({"a": w, "b": w[:3]}, sparsity)
        ref = _ref_prune(np.concatenate([w.ravel(), w[:3].ravel()])[None, :], sparsity, "unstructured", "layer")
        np.testing.assert_array_equal(np.concatenate([got["a"].ravel(), got["b"].ravel()]), ref[0])
    for w in _adversarial_weights():
        for pattern in ("2:4", "1:4", "3:4"):
            np.testing.assert_array_equal(prune.prune(w, pattern=pattern), _ref_prune(w, None, pattern, None))


@pytest.mark.parametrize("kwargs", [dict(sparsity=0.9), dict(sparsity=0.9, granularity="row"), dict(pattern="2:4")])
def test_pruning_peak_memory_stays_near_the_weight_size(kwargs):
    import tracemalloc
    w = _w((1024, 1024), 3)
    tracemalloc.start()
    try:
        prune.prune(w, **kwargs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # float32 scores and chunked sorts: no float64 copies of W nor int64 sort orders of the whole matrix
    # (these took 4.3-6x the weight's bytes)
    assert peak < 2 * w.nbytes, peak / w.nbytes
