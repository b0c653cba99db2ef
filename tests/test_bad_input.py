"""Every kind of bad input gets its own error class and a message naming the argument."""
import os

import numpy as np
import pytest

import pysparsegraph as psg
from pysparsegraph import errors

I64 = np.int64
I32 = np.int32


def test_errors_derive_from_builtin_kinds():
    assert issubclass(errors.InvalidIndptrError, ValueError)
    assert issubclass(errors.IndexOutOfRangeError, IndexError)
    assert issubclass(errors.DTypeError, TypeError)
    assert issubclass(errors.ShapeMismatchError, ValueError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.PSGError) or name == "PSGError"


def test_non_monotone_indptr():
    with pytest.raises(errors.InvalidIndptrError, match=r"non-decreasing.*indptr\[1\] = 3 > indptr\[2\] = 1"):
        psg.CSRMatrix(np.array([0, 3, 1, 4], I64), np.zeros(4, I32), shape=(3, 3))


def test_indptr_wrong_length():
    with pytest.raises(errors.InvalidIndptrError, match="indptr has length 3 but shape"):
        psg.CSRMatrix(np.array([0, 1, 2], I64), np.zeros(2, I32), shape=(4, 4))
    with pytest.raises(errors.InvalidIndptrError, match="n_rows \\+ 1 >= 1"):
        psg.CSRMatrix(np.zeros(0, I64), np.zeros(0, I32), shape=(0, 0))


def test_indptr_not_starting_at_zero():
    with pytest.raises(errors.InvalidIndptrError, match=r"indptr\[0\] must be 0, got 1"):
        psg.CSRMatrix(np.array([1, 2, 3], I64), np.zeros(3, I32), shape=(2, 2))


def test_indptr_end_disagrees_with_indices_length():
    with pytest.raises(errors.InvalidIndptrError, match=r"indptr\[-1\] = 5 but there are 4"):
        psg.CSRMatrix(np.array([0, 2, 5], I64), np.zeros(4, I32), shape=(2, 2))


def test_column_index_out_of_range_and_negative():
    with pytest.raises(errors.IndexOutOfRangeError, match=r"indices\[2\] = 7 is outside \[0, 4\)"):
        psg.CSRMatrix(np.array([0, 2, 3], I64), np.array([0, 1, 7], I32), shape=(2, 4))
    with pytest.raises(errors.IndexOutOfRangeError, match=r"indices\[1\] = -1"):
        psg.CSRMatrix(np.array([0, 2, 3], I64), np.array([0, -1, 2], I64), shape=(2, 4))


def test_edges_out_of_range():
    with pytest.raises(errors.IndexOutOfRangeError, match=r"edge 1 = \(5, 0\) is outside the 3 x 3 shape"):
        psg.from_edges([0, 5], [1, 0], shape=(3, 3))
    with pytest.raises(errors.IndexOutOfRangeError, match="node ids must be >= 0"):
        psg.from_edges([0, -2], [1, 0])


def test_mismatched_lengths():
    with pytest.raises(errors.ShapeMismatchError, match="values has 2 entries but indices has 3"):
        psg.CSRMatrix(np.array([0, 3], I64), np.zeros(3, I32), np.ones(2), shape=(1, 1))
    with pytest.raises(errors.ShapeMismatchError, match="src has 2 entries but dst has 3"):
        psg.from_edges([0, 1], [0, 1, 1])
    with pytest.raises(errors.ShapeMismatchError, match="values has 1 entries but there are 2 edges"):
        psg.from_edges([0, 1], [0, 1], [1.0])


def test_wrong_dtypes():
    with pytest.raises(errors.DTypeError, match="indices must be an integer array"):
        psg.CSRMatrix(np.array([0, 1], I64), np.array([0.5]), shape=(1, 1))
    with pytest.raises(errors.DTypeError, match="indptr has dtype float64"):
        psg.CSRMatrix(np.array([0.0, 1.0]), np.array([0], I32), shape=(1, 1))
    with pytest.raises(errors.DTypeError, match="values has dtype complex128"):
        psg.CSRMatrix(np.array([0, 1], I64), np.array([0], I32), np.array([1j]), shape=(1, 1))
    with pytest.raises(errors.DTypeError, match="src has dtype float64"):
        psg.from_edges(np.array([0.0, 1.0]), [0, 1])


def test_spmm_shape_mismatch():
    A = psg.from_edges([0, 1], [1, 2], shape=(2, 3))
    with pytest.raises(errors.ShapeMismatchError, match="A has 3 columns but X has 4 rows"):
        psg.spmm(A, np.ones((4, 2)))
    with pytest.raises(errors.ShapeMismatchError, match="X must be 1-D or 2-D"):
        psg.spmm(A, np.ones((3, 2, 2)))


def test_spmm_wrong_x_dtype_names_the_fix():
    A = psg.from_edges([0, 1], [1, 2], shape=(2, 3))
    with pytest.raises(errors.DTypeError, match=r"X must be float32 or float64, got int64.*astype"):
        psg.spmm(A, np.ones((3, 2), np.int64))
    with pytest.raises(errors.DTypeError, match="A must be a pysparsegraph.CSRMatrix"):
        psg.spmm(np.eye(3), np.ones((3, 2)))


def test_spmm_bad_out():
    A = psg.from_edges([0, 1], [1, 2], shape=(2, 3))
    X = np.ones((3, 4))
    with pytest.raises(errors.ShapeMismatchError, match=r"out has shape \(2, 3\), expected \(2, 4\)"):
        psg.spmm(A, X, out=np.empty((2, 3)))
    with pytest.raises(errors.DTypeError, match="out has dtype float32, expected float64"):
        psg.spmm(A, X, out=np.empty((2, 4), np.float32))
    with pytest.raises(errors.InvalidArgumentError, match="C-contiguous and writeable"):
        psg.spmm(A, X, out=np.empty((4, 2)).T)
    big = np.ones((3, 4))
    with pytest.raises(errors.InvalidArgumentError, match="overlap"):
        psg.spmm(psg.from_edges([0, 1, 2], [1, 2, 0]), big, out=big)


# np.asmatrix (one of the X subclasses tried) warns that np.matrix is on its way out
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_fast_argument_gates_agree_with_the_full_checks():
    # spmm first asks two C gates (c_float_ndim for X, out_ready for out) and runs
    # the Python checks only when they say no: every candidate must end as the
    # full checks decide, a result equal to scipy's or the error naming the problem
    A = psg.from_edges([0, 1, 2, 2], [1, 2, 0, 3], shape=(3, 4))
    S = A.to_scipy()
    X = np.arange(8, dtype=np.float64).reshape(4, 2)
    ro = np.empty((3, 2))
    ro.flags.writeable = False
    outs = [(np.empty((3, 2)), None), (np.empty((3, 2), ">f8"), errors.DTypeError),
            (np.empty((3, 2), np.float32), errors.DTypeError), (np.empty((2, 3)), errors.ShapeMismatchError),
            (np.empty((3, 2, 1)), errors.ShapeMismatchError), (np.empty(3), errors.ShapeMismatchError),
            (ro, errors.InvalidArgumentError), (np.empty((2, 3)).T, errors.InvalidArgumentError),
            (np.empty((3, 4))[:, :2], errors.InvalidArgumentError), ([[0.0] * 2] * 3, errors.DTypeError)]
    for out, err in outs:
        if err is None:
            assert psg.spmm(A, X, out=out) is out
            np.testing.assert_array_equal(out, S @ X)
        else:
            with pytest.raises(err):
                psg.spmm(A, X, out=out)
    for x, err in [(X, None), (X.tolist(), None), (np.asfortranarray(X), None), (X.astype(">f8"), None),
                   (X.astype(np.float32), None), (X[:, 0].copy(), None), (X.astype(np.int64), errors.DTypeError),
                   (np.asmatrix(X), None), (np.ma.masked_array(X), None),
                   (X.reshape(4, 2, 1), errors.ShapeMismatchError), (np.float64(1.0), errors.ShapeMismatchError)]:
        if err is None:
            np.testing.assert_allclose(psg.spmm(A, x), S @ np.asarray(x, np.float64), rtol=1e-6)
        else:
            with pytest.raises(err):
                psg.spmm(A, x)
    x1 = X[:, 0].copy()  # a vector's out is 1-D
    out1 = np.empty(3)
    assert psg.spmm(A, x1, out=out1) is out1
    np.testing.assert_array_equal(out1, S @ x1)
    with pytest.raises(errors.ShapeMismatchError):
        psg.spmm(A, x1, out=np.empty((3, 1)))


def test_overlap_check_agrees_with_numpy():
    # the byte-range check behind "out must not overlap", against numpy.shares_memory:
    # contiguous slices of one buffer (adjacent, overlapping by a byte, disjoint),
    # strided views, other dtypes, empty arrays
    buf = np.zeros(4096, np.uint8)
    rng = np.random.default_rng(0)
    views = [buf[0:64].view(np.float32), buf[64:128].view(np.float32), buf[60:124].view(np.float32),
             buf[1:65], buf[128:128], buf[::2], buf[1::2], buf[1000:2000].view(np.int64).reshape(5, 25).T,
             np.zeros(8, np.float32), buf[4095:]]
    for _ in range(300):
        a, b = rng.integers(0, 4096, 2), rng.integers(1, 4, 2)
        views.append(buf[min(a):max(a):b[0]])
    for out in views:
        for other in views:
            assert psg._core.overlaps(out, (None, other)) == np.shares_memory(out, other)


def test_bad_thread_counts_and_options():
    A = psg.from_edges([0, 1], [1, 0])
    for bad in (0, -1, 1.5, True):
        with pytest.raises(errors.InvalidArgumentError, match="n_threads"):
            psg.spmm(A, np.ones((2, 2)), n_threads=bad)
    with pytest.raises(errors.InvalidArgumentError, match="duplicates must be one of"):
        psg.from_edges([0], [0], duplicates="mean")
    with pytest.raises(errors.InvalidArgumentError, match="self_loops must be one of"):
        psg.from_edges([0], [0], self_loops="remove")
    with pytest.raises(errors.ShapeMismatchError, match="symmetrize needs a square shape"):
        psg.from_edges([0], [1], shape=(1, 2), symmetrize=True)
    with pytest.raises(errors.InvalidArgumentError, match="shape\\[1\\] must be >= 0"):
        psg.from_edges([0], [0], shape=(1, -1))


def test_int32_overflow_in_nnz_is_caught_before_memory_is_touched():
    # An indptr that claims more entries than int32 can count, with a short
    # indices array: must be rejected by the length check, not read past the end.
    indptr = np.array([0, 2**31 + 10], I64)
    with pytest.raises(errors.InvalidIndptrError, match=r"indptr\[-1\] = 2147483658 but there are 3"):
        psg.CSRMatrix(indptr, np.zeros(3, I32), shape=(1, 1))
    # int32 indptr whose running count wrapped around reads as decreasing
    wrapped = np.array([0, 2**31 - 1, -(2**31) + 5], np.int64).astype(np.int32)
    with pytest.raises(errors.InvalidIndptrError, match="non-decreasing"):
        psg.CSRMatrix(wrapped, np.zeros(5, I32), shape=(2, 2))
    # column ids beyond int32 cannot be stored as int32
    with pytest.raises(errors.IndexOverflowError, match="int32"):
        psg.from_edges([0], [0], shape=(1, 2**31), index_dtype=np.int32)
    # uint32 ids are narrowed to int32 when the shape allows; one that does not
    # fit must not wrap around to a negative (or wrong) column
    with pytest.raises(errors.IndexOverflowError, match="indices has values outside the int32 range"):
        psg.CSRMatrix(np.array([0, 1], I64), np.array([2**31 + 3], np.uint32), shape=(1, 10))


def test_caller_arrays_unchanged_after_errors():
    indptr = np.array([0, 2, 1], I64)
    indices = np.array([0, 5], I32)
    before = indptr.copy(), indices.copy()
    with pytest.raises(errors.PSGError):
        psg.CSRMatrix(indptr, indices, shape=(2, 2))
    assert np.array_equal(indptr, before[0]) and np.array_equal(indices, before[1])


def test_malformed_arguments_get_the_library_s_errors():
    """Arguments of the wrong kind get a PSGError naming them, not a raw
    TypeError / OverflowError from numpy or the C conversion, and no silent
    truncation (found by fuzzing the public functions)."""
    from pysparsegraph import gnn
    from pysparsegraph.nn import SparseLinear

    A = psg.CSRMatrix([0, 1, 2], [1, 0], shape=(2, 2))
    cases = [
        (lambda: psg.CSRMatrix([0, 1, 2], [1, 0], shape=5), errors.ShapeMismatchError, "pair"),
        (lambda: psg.from_edges([0], [1], shape=5), errors.ShapeMismatchError, "pair"),
        (lambda: psg.CSRMatrix([0, 1, 2], [1, 0], shape=(2, 2**63)), errors.InvalidArgumentError, r"2\*\*63"),
        (lambda: psg.plan_spmm(A, 8, split_len=2**63), errors.InvalidArgumentError, "split_len"),
        (lambda: psg.plan_spmm(A, 8, split_len=-5), errors.InvalidArgumentError, "-1 .never."),
        # k * 4 wrapped to 0 and the planner divided by it (SIGFPE)
        (lambda: psg.plan_spmm(A, 2**62), errors.IndexOverflowError, "does not fit a 64-bit byte count"),
        (lambda: psg.plan_spmm(A, 2**61, np.float64), errors.IndexOverflowError, "does not fit a 64-bit"),
        (lambda: psg.plan_spmm(A, 8, layout=["csr"]), errors.InvalidArgumentError, "layout"),
        (lambda: SparseLinear(np.eye(2, dtype=np.float32), activation=["relu"]), errors.InvalidArgumentError,
         "activation"),
        (lambda: psg.plan_spmm(A, 8, "foo"), errors.DTypeError, "dtype"),
        (lambda: psg.empty_aligned((3,), "foo"), errors.DTypeError, "dtype"),
        (lambda: psg.empty_aligned((2, 2), object), errors.DTypeError, "numeric"),  # used to segfault
        (lambda: psg.empty_aligned((2, 2), "U5"), errors.DTypeError, "numeric"),
        (lambda: psg.empty_aligned((2**62,)), errors.PSGMemoryError, "cannot allocate"),
        # empty, but NumPy counts the other sizes: no "cannot allocate 0 bytes", no raw ValueError
        (lambda: psg.empty_aligned((0, 2**61), np.float64), errors.InvalidArgumentError, "even an empty one"),
        (lambda: psg.empty_aligned((2**62, 0)), errors.InvalidArgumentError, "even an empty one"),
        (lambda: psg.empty_aligned((1,) * 65), errors.ShapeMismatchError, "64 dimensions"),
        (lambda: psg.empty_aligned((2.7, 3)), errors.InvalidArgumentError, "integer"),
        (lambda: psg.from_edges([0], [1], loop_value="x"), errors.InvalidArgumentError, "loop_value"),
        (lambda: psg.from_edges([0], [1], index_dtype="foo"), errors.DTypeError, "index_dtype"),
        (lambda: gnn.sddmm_backward(A, np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 1)), heads="2"),
         errors.InvalidArgumentError, "heads"),
        (lambda: gnn.sddmm_backward(A, np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), heads=2.0),
         errors.InvalidArgumentError, "heads"),
    ]
    from pysparsegraph import io, planetoid, prune, weights
    cases += [
        (lambda: io.write_matrix_market(None, A), errors.DTypeError, "path must be"),
        (lambda: io.write_npz(None, A), errors.DTypeError, "path must be"),
        (lambda: io.save(A, None), errors.DTypeError, "path must be"),
        (lambda: weights.save_safetensors(None, {"a": np.ones(2)}), errors.DTypeError, "path must be"),
        (lambda: weights.save_safetensors("x.safetensors", [np.ones(2)]), errors.InvalidArgumentError, "tensors"),
        (lambda: weights.save_safetensors("x.safetensors", {"a": np.ones(2)}, metadata=[("k", "v")]),
         errors.InvalidArgumentError, "metadata"),
        (lambda: planetoid.read_planetoid(None, "cora"), errors.DTypeError, "folder must be"),
        (lambda: planetoid.read_planetoid(3, "cora"), errors.DTypeError, "folder must be"),
    ]
    cases += [  # an array where a string option goes: == would compare elementwise
        (lambda: prune.prune(np.ones((4, 8)), 0.5, pattern=np.array(["2:4", "1x4"])), errors.InvalidArgumentError,
         "pattern"),
        (lambda: prune.prune(np.ones((4, 8)), 0.5, score=np.array(["wanda", "x"])), errors.InvalidArgumentError,
         "score"),
        (lambda: prune.prune_global({"a": np.ones((4, 8))}, 0.5, score=np.array(["wanda"] * 2)),
         errors.InvalidArgumentError, "score"),
        (lambda: psg.spmm(A, np.ones((2, 2)), reduce=np.array(["sum", "max"])), errors.InvalidArgumentError,
         "reduce"),
    ]
    for call, err, msg in cases:
        with pytest.raises(err, match=msg):
            call()
    # an empty list of ids is an empty matrix, not a float array
    E = psg.CSRMatrix([0], [])
    assert E.shape == (0, 0) and E.nnz == 0


def test_numpy_strings_are_options_like_str():
    """A numpy.str_ (what indexing a string array gives) passes the option
    checks as the str it is, and the typed C wrappers get a plain str."""
    from pysparsegraph import io, reorder

    s = np.array(["first", "add", "rcm"])
    A = psg.from_edges([0, 1, 1], [1, 2, 2], [1.0, 2.0, 3.0], duplicates=s[0], self_loops=s[1])
    B = psg.from_edges([0, 1, 1], [1, 2, 2], [1.0, 2.0, 3.0], duplicates="first", self_loops="add")
    assert np.array_equal(A.indptr, B.indptr) and np.array_equal(A.values, B.values)
    assert np.array_equal(reorder.order(A, s[2]), reorder.order(A, "rcm"))
    assert psg.generate.erdos_renyi(64, 4.0, seed=1, duplicates=s[0]).nnz > 0
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/e.txt"
        with open(path, "w") as f:
            f.write("0 1\n1 2\n1 2\n")
        assert io.read_edgelist(path, duplicates=s[0], self_loops=s[1]).nnz == 5


def test_safetensors_headers_with_wrong_types_or_overflowing_shapes(tmp_path):
    import json

    from pysparsegraph import weights

    def write(name, entry, data=b""):
        head = json.dumps({"t": entry}).encode()
        (tmp_path / name).write_bytes(len(head).to_bytes(8, "little") + head + data)
        return tmp_path / name

    bad = {
        "wrap.safetensors": {"dtype": "F32", "shape": [2**32, 2**32], "data_offsets": [0, 0]},
        "huge.safetensors": {"dtype": "F32", "shape": [2**64], "data_offsets": [0, 0]},
        "bool.safetensors": {"dtype": "F32", "shape": [True, 1], "data_offsets": [0, 4]},
        "list.safetensors": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]},
    }
    for name, entry in bad.items():
        with pytest.raises((errors.FormatError, errors.UnsupportedError), match=name):
            weights.load(write(name, entry, b"\0" * 4))
    ok = weights.load(write("ok.safetensors", {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, b"\0" * 4))
    np.testing.assert_array_equal(ok["t"], [0.0])


def test_torch_tensors_without_a_dense_numpy_form_are_refused(tmp_path):
    torch = pytest.importorskip("torch", reason="torch not installed: PyTorch checkpoint loading is optional")
    from pysparsegraph import weights

    torch.save({"s": torch.eye(3).to_sparse()}, tmp_path / "s.pt")
    with pytest.raises(errors.UnsupportedError, match="'s'"):
        weights.load(tmp_path / "s.pt")


def test_safetensors_names_must_be_strings_and_npz_shape_must_be_integers(tmp_path):
    from pysparsegraph import io, weights

    with pytest.raises(errors.InvalidArgumentError, match="strings"):
        weights.save_safetensors(tmp_path / "n.safetensors", {1: np.ones(1), "1": np.zeros(1)})
    arrays = dict(indptr=np.array([0, 1, 1]), indices=np.array([1]))
    for shape in (np.array("2x2"), np.array(["a", "b"]), np.array(2)):
        np.savez(tmp_path / "s.npz", shape=shape, **arrays)
        with pytest.raises(errors.FormatError, match="shape"):
            io.read_npz(tmp_path / "s.npz")


def test_huge_thread_counts_are_clamped_not_a_crash():
    # 65536 threads (the Python-side cap) overflowed libgomp's stack in from_edges: a segfault
    src, dst = np.arange(100), np.arange(100)[::-1]
    B = psg.from_edges(src, dst, n_threads=65536)
    np.testing.assert_array_equal(B.to_scipy(np.float64).toarray(), psg.from_edges(src, dst).to_scipy(np.float64)
                                  .toarray())
    X = np.arange(400, dtype=np.float32).reshape(100, 4)
    np.testing.assert_array_equal(psg.spmm(B, X, n_threads=65536), psg.spmm(B, X, n_threads=1))


def test_a_column_id_leaving_no_int64_column_count_is_refused():
    # shape=None takes n_cols = max(indices) + 1: 2**63 overflowed the C check's int64 with a bare OverflowError
    for ids in (np.array([2**63 - 1], I64), np.array([5, 2**64 - 1], np.uint64)):
        with pytest.raises(errors.IndexOverflowError, match="max\\(indices\\) \\+ 1"):
            psg.CSRMatrix(np.array([0, ids.size], I64), ids)
    A = psg.CSRMatrix(np.array([0, 1], I64), np.array([2**63 - 2], I64), [2.0])  # the largest that fits
    assert A.shape == (1, 2**63 - 1) and A.index_dtype == np.int64
    assert A.to_scipy().shape == A.shape


def test_ragged_array_likes_are_a_shape_error_naming_the_argument():
    # numpy's bare ValueError (inhomogeneous shape) came through before
    A = psg.from_edges([0, 1], [1, 0])
    ragged = [[1.0, 2.0], [3.0]]
    cases = [(lambda: psg.CSRMatrix([0, [2]], [0, 1]), "indptr"),
             (lambda: psg.CSRMatrix([0, 2], [0, [1]]), "indices"),
             (lambda: psg.CSRMatrix([0, 2], [0, 1], ragged), "values"),
             (lambda: psg.from_edges([0, [1]], [0, 1]), "src"),
             (lambda: psg.from_edges([0, 1], [0, 1], [1.0, [2.0]]), "values"),
             (lambda: psg.spmm(A, ragged), "X"),
             (lambda: A @ ragged, "X")]
    for call, name in cases:
        with pytest.raises(errors.ShapeMismatchError, match=f"^{name} cannot be read as an array"):
            call()
    with pytest.raises(errors.InvalidArgumentError, match="shape"):
        psg.empty_aligned([2, [3]])
    X = np.array([[1.0, 2.0], [3.0, 4.0]])  # the same call with a well-formed list agrees with numpy
    np.testing.assert_array_equal(psg.spmm(A, X.tolist()), A.to_scipy(np.float64).toarray() @ X)


def _misaligned(a):
    """A copy of ``a`` whose data starts one byte past an item boundary (a view at an odd offset of a buffer)."""
    a = np.asarray(a)
    raw = np.empty(a.nbytes + 1, np.uint8)[1:].view(a.dtype).reshape(a.shape)
    raw[...] = a
    assert not raw.flags.aligned and raw.flags.c_contiguous
    return raw


def test_misaligned_arrays_are_copied_in_or_refused_as_out():
    # such views (np.frombuffer at an odd offset, a packed file) reached the C core, which reads them through typed
    # pointers: undefined behaviour in C (UBSan's alignment check, pytest-asan, stops there). Inputs are copied,
    # an out= is refused by name.
    from pysparsegraph import gnn, nn, plan, reorder
    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, 50, 400), rng.integers(0, 50, 400)
    A = psg.from_edges(src, dst, rng.random(400).astype(np.float32), shape=(50, 50))
    dense = A.to_scipy().toarray().astype(np.float64)
    X = rng.standard_normal((50, 8)).astype(np.float32)
    Xm = _misaligned(X)
    np.testing.assert_allclose(psg.spmm(A, Xm), dense @ X, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(psg.spmm(A, _misaligned(X[:, 0])), dense @ X[:, 0], rtol=1e-5, atol=1e-5)
    B = psg.CSRMatrix(_misaligned(A.indptr), _misaligned(A.indices), _misaligned(A.values), shape=A.shape)
    assert B.indptr.flags.aligned and B.indices.flags.aligned and B.values.flags.aligned
    np.testing.assert_array_equal(psg.spmm(B, X), psg.spmm(A, X))
    w = rng.random(A.nnz).astype(np.float32)
    np.testing.assert_array_equal(gnn.gspmm(A, Xm, edge_values=_misaligned(w)), gnn.gspmm(A, X, edge_values=w))
    np.testing.assert_array_equal(gnn.gspmm(A, Xm, transpose=True, reduce="max"),
                                  gnn.gspmm(A, X, transpose=True, reduce="max"))
    np.testing.assert_array_equal(gnn.edge_softmax(A, _misaligned(w)), gnn.edge_softmax(A, w))
    np.testing.assert_array_equal(gnn.sddmm(A, Xm, _misaligned(X)), gnn.sddmm(A, X, X))
    np.testing.assert_array_equal(plan.to_bfloat16(Xm), plan.to_bfloat16(X))
    Xb = plan.to_bfloat16(X)
    np.testing.assert_array_equal(plan.spmm_bf16(A, _misaligned(Xb)), plan.spmm_bf16(A, Xb))
    perm = rng.permutation(50)
    np.testing.assert_array_equal(reorder.permute(A, _misaligned(perm)).to_scipy().toarray(),
                                  reorder.permute(A, perm).to_scipy().toarray())
    layer = nn.SparseLinear(psg.from_edges(src % 7, dst, shape=(7, 50)))
    np.testing.assert_array_equal(layer.forward(_misaligned(X.T.copy())), layer.forward(X.T.copy()))
    np.testing.assert_array_equal(layer.forward_t(Xm), layer.forward_t(X))
    for call in (lambda o: psg.spmm(A, X, out=o), lambda o: gnn.gspmm(A, X, out=o, reduce="mean")):
        out = _misaligned(np.zeros((50, 8), np.float32))
        with pytest.raises(errors.InvalidArgumentError, match="^out is a view at an odd byte offset"):
            call(out)
        assert not out.any()
    with pytest.raises(errors.InvalidArgumentError, match="odd byte offset"):
        layer.forward_t(X, out=_misaligned(np.zeros((7, 8), np.float32)))


def test_yes_no_options_refuse_values_that_are_only_truthy():
    # transpose="no" is a non-empty string, so truthy: it ran Aᵀ @ X, a wrong result with no error
    from pysparsegraph import gnn
    A = psg.from_edges([0, 0, 1, 2], [1, 2, 2, 0], [1.0, 2.0, 3.0, 4.0], shape=(3, 3))
    X = np.arange(6, dtype=np.float64).reshape(3, 2)
    dense = A.to_scipy(np.float64).toarray()
    for bad in ("no", "False", None, 2, 0.0, [0]):
        for call, name in ((lambda v: psg.spmm(A, X, transpose=v, reduce="mean"), "transpose"),
                           (lambda v: gnn.gspmm(A, X, transpose=v), "transpose"),
                           (lambda v: gnn.gspmm(A, X, add_self_loops=v), "add_self_loops"),
                           (lambda v: gnn.gspmm(A, X, reduce="max", return_argidx=v), "return_argidx"),
                           (lambda v: gnn.spmm_backward(A, X, X, need_edge_grad=v), "need_edge_grad"),
                           (lambda v: gnn.degrees(A, add_self_loops=v), "add_self_loops"),
                           (lambda v: psg.from_edges([0], [1], symmetrize=v), "symmetrize")):
            with pytest.raises(errors.InvalidArgumentError, match=f"^{name} must be True or False"):
                call(bad)
    # bool, numpy.bool_ and 0 / 1 keep working, and mean what they say
    for yes, no in ((True, False), (np.True_, np.False_), (1, 0)):
        np.testing.assert_allclose(gnn.gspmm(A, X, transpose=yes), dense.T @ X)
        np.testing.assert_allclose(gnn.gspmm(A, X, transpose=no), dense @ X)
        np.testing.assert_allclose(gnn.gspmm(A, X, add_self_loops=yes), (dense + np.eye(3)) @ X)
        assert psg.from_edges([0], [1], symmetrize=yes).nnz == 2 and psg.from_edges([0], [1], symmetrize=no).nnz == 1


def test_read_edgelist_refuses_a_symmetrize_that_is_only_truthy(tmp_path):
    p = tmp_path / "g.txt"
    p.write_text("0 1\n1 2\n")
    with pytest.raises(errors.InvalidArgumentError, match="^symmetrize must be True or False"):
        psg.io.read_edgelist(p, symmetrize="no")
    assert psg.io.read_edgelist(p, symmetrize=np.True_).nnz == 4


def test_csr_work_arrays_beyond_physical_memory_are_refused_before_allocating():
    # Linux grants such allocations (overcommit) and kills the process when the pages are touched:
    # rmat(31, edge_factor=0) (48 GiB of row histograms for no edge) was killed on a 24 GiB machine
    phys = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGESIZE") if hasattr(os, "sysconf") else 0
    if phys <= 0:
        pytest.skip("physical memory size unknown")
    n = phys // 8  # row pointers alone about the size of the memory, three arrays of them
    calls = [lambda: psg.from_edges([0], [0], shape=(n, n)),
             lambda: psg.from_edges(np.zeros(0, I64), np.zeros(0, I64), shape=(n, 1))]
    if 3 * 8 * 2**31 > phys:  # the largest R-MAT scale, 31
        calls.append(lambda: psg.generate.rmat(31, edge_factor=0))
    for call in calls:
        with pytest.raises(errors.PSGMemoryError, match=r"GiB, more than this machine's [0-9.]+ GiB of memory"):
            call()
    assert psg.from_edges([0], [0], shape=(4, 4)).nnz == 1


def test_big_endian_floats_are_read_by_value_at_their_own_width():
    # a big-endian float32 (network order, a FITS or HDF5 file) was stored as float64 (twice the memory) when it
    # was a graph's values, and refused with a DTypeError when it was X or edge scores; now each is the same
    # values in native order, at the same width, and every result equals the native input's
    from pysparsegraph import gnn, nn, plan
    rng = np.random.default_rng(4)
    src, dst = rng.integers(0, 40, 300), rng.integers(0, 40, 300)
    w = rng.standard_normal(300).astype(np.float32)
    A = psg.from_edges(src, dst, w, shape=(40, 40))
    for dt in (np.float32, np.float64):
        be = np.dtype(dt).newbyteorder(">")
        Ab = psg.from_edges(src, dst, w.astype(be), shape=(40, 40))
        assert Ab.values.dtype == np.dtype(dt)
        Cb = psg.CSRMatrix(A.indptr, A.indices, A.values.astype(be), shape=A.shape)
        assert Cb.values.dtype == np.dtype(dt)
        np.testing.assert_array_equal(Cb.values, A.values.astype(dt))
        X = rng.standard_normal((40, 8)).astype(dt)
        Xb = X.astype(be)
        assert psg.spmm(A, Xb).dtype == np.dtype(dt)
        np.testing.assert_array_equal(psg.spmm(A, Xb), psg.spmm(A, X))
        np.testing.assert_array_equal(psg.spmm(A, Xb[:, 0]), psg.spmm(A, X[:, 0]))
        np.testing.assert_array_equal(gnn.gspmm(A, Xb, reduce="max", transpose=True),
                                      gnn.gspmm(A, X, reduce="max", transpose=True))
        np.testing.assert_array_equal(gnn.sddmm(A, Xb, Xb), gnn.sddmm(A, X, X))
        s = rng.standard_normal(A.nnz).astype(dt)
        np.testing.assert_array_equal(gnn.edge_softmax(A, s.astype(be)), gnn.edge_softmax(A, s))
    X = rng.standard_normal((40, 8)).astype(np.float32)
    np.testing.assert_array_equal(plan.to_bfloat16(X.astype(">f4")), plan.to_bfloat16(X))
    layer = nn.SparseLinear(psg.from_edges(src % 7, dst, shape=(7, 40)))
    np.testing.assert_array_equal(layer.forward_t(X.astype(">f4")), layer.forward_t(X))
    with pytest.raises(errors.DTypeError):  # other dtypes stay refused: float16 is not silently widened for X
        psg.spmm(A, X.astype(">f2"))
