"""Planetoid reader: identical to the npz conventions in shared/data, and the
restricted unpickler refuses code execution."""
import os
import pickle
import struct

import numpy as np
import pytest

from pysparsegraph import errors, io
from pysparsegraph.datasets import shared_data_dir
from pysparsegraph.planetoid import safe_load_pickle

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="shared/data not found (set PYSPARSEGRAPH_DATA)")


@needs_data
@pytest.mark.parametrize("name", ["cora", "citeseer", "pubmed"])
def test_planetoid_matches_npz(name):
    ds = io.read_planetoid(os.path.join(DATA, name), name)
    d = np.load(os.path.join(DATA, name, name + ".npz"))
    np.testing.assert_array_equal(ds.graph.indptr, d["indptr"])
    np.testing.assert_array_equal(ds.graph.indices, d["indices"])
    assert ds.graph.values is None
    np.testing.assert_array_equal(ds.labels, d["labels"])
    for k in ("idx_train", "idx_val", "idx_test"):
        np.testing.assert_array_equal(getattr(ds, k), d[k])
    assert ds.num_classes == int(d["num_classes"])
    if "features" in d.files:
        assert ds.features.dtype == np.float32
        np.testing.assert_array_equal(ds.features, d["features"])
    else:  # pubmed without allx
        assert ds.features is None
        np.testing.assert_array_equal(ds.features_known_rows, d["features_known_rows"])
        np.testing.assert_array_equal(ds.features_known, d["features_known"])
        assert tuple(ds.features_shape) == tuple(d["features_shape"])


@needs_data
def test_generic_reader_dispatch():
    d = np.load(os.path.join(DATA, "citeseer", "citeseer.npz"))
    for path in (os.path.join(DATA, "citeseer"), os.path.join(DATA, "citeseer", "ind.citeseer.graph")):
        g = io.read(path)
        np.testing.assert_array_equal(g.indices, d["indices"])


@needs_data
def test_citeseer_quirk():
    ds = io.read_planetoid(os.path.join(DATA, "citeseer"), "citeseer")
    missing = [2407, 2489, 2553, 2682, 2781, 2953, 3042, 3063, 3212, 3214, 3250, 3292, 3305, 3306, 3309]
    assert not ds.features[missing].any()
    assert (ds.labels[missing] == 0).all()
    deg = np.diff(ds.graph.indptr)
    assert (deg == 0).sum() == 48 and (deg[missing] > 0).all()
    assert np.bincount(ds.labels, minlength=6).tolist() == [264, 590, 668, 701, 596, 508]


@needs_data
def test_graph_is_symmetric_without_loops():
    sp = pytest.importorskip("scipy.sparse")
    ds = io.read_planetoid(os.path.join(DATA, "cora"), "cora")
    A = ds.graph.to_scipy()
    assert (A != A.T).nnz == 0 and A.diagonal().sum() == 0 and A.nnz == 10556


class _Evil:
    marker = None

    def __reduce__(self):
        return (os.system, (f"touch {_Evil.marker}",))


class _Evil2:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("payload", [_Evil(), _Evil2(), {"x": _Evil()}])
@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_malicious_pickle_is_refused(tmp_path, payload, protocol):
    _Evil.marker = tmp_path / "pwned"
    p = tmp_path / "ind.evil.graph"
    p.write_bytes(pickle.dumps(payload, protocol=protocol))
    with pytest.raises(errors.FormatError, match="not allowed"):
        safe_load_pickle(p)
    assert not (tmp_path / "pwned").exists()
    # control: the plain unpickler would have run the command
    if isinstance(payload, _Evil):
        pickle.loads(p.read_bytes())
        assert (tmp_path / "pwned").exists()


def test_object_arrays_and_subclasses_are_refused(tmp_path):
    p = tmp_path / "obj.pkl"
    p.write_bytes(pickle.dumps(np.array([1, "a"], dtype=object), protocol=2))
    with pytest.raises(errors.FormatError):
        safe_load_pickle(p)
    p.write_bytes(pickle.dumps(np.ma.masked_array([1, 2]), protocol=2))
    with pytest.raises(errors.FormatError):
        safe_load_pickle(p)
    p.write_bytes(b"\x80\x02garbage")
    with pytest.raises(errors.FormatError):
        safe_load_pickle(p)


def test_plain_arrays_and_defaultdict_load(tmp_path):
    import collections

    d = collections.defaultdict(list, {0: [1, 2], 1: [0]})
    p = tmp_path / "g.pkl"
    p.write_bytes(pickle.dumps(d, protocol=2))
    assert safe_load_pickle(p) == d
    p.write_bytes(pickle.dumps(np.eye(3, dtype=np.int32), protocol=2))
    np.testing.assert_array_equal(safe_load_pickle(p), np.eye(3))


@pytest.fixture
def cora_copy(tmp_path):
    import shutil

    shutil.copytree(os.path.join(DATA, "cora"), tmp_path / "cora", ignore=shutil.ignore_patterns("*.npz"))
    return tmp_path / "cora"


def _test_ids(folder):
    return (folder / "ind.cora.test.index").read_text().split()


def _broken_read(folder, file):
    """read_planetoid must fail with a FormatError that names ``file``."""
    with pytest.raises(errors.FormatError, match=f"ind\\.cora\\.{file}"):
        io.read_planetoid(folder, "cora")


@needs_data
@pytest.mark.parametrize("edit", ["empty", "negative", "below", "beyond", "huge", "duplicate", "two columns"])
def test_planetoid_bad_test_index(cora_copy, edit):
    import tracemalloc

    ids = _test_ids(cora_copy)
    ids[0] = {"negative": "-5", "below": "1000", "beyond": "5000", "huge": "99999999",
              "duplicate": ids[1]}.get(edit, ids[0])
    text = "" if edit == "empty" else "\n".join(ids)
    if edit == "two columns":
        text = "\n".join(f"{a} {a}" for a in ids)
    (cora_copy / "ind.cora.test.index").write_text(text)
    tracemalloc.start()
    try:
        _broken_read(cora_copy, "test.index")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20e6  # no arrays sized by the bogus id (5000 used to give 5001 nodes, x 1433 features)


def _pickle_csr(folder, file, edit):
    sp = pytest.importorskip("scipy.sparse")
    from pysparsegraph.planetoid import safe_load_pickle

    state = safe_load_pickle(folder / f"ind.cora.{file}").state
    S = sp.csr_matrix((state["data"], state["indices"], state["indptr"]), shape=state["_shape"])
    out = edit(S)  # in place, or a new matrix
    S = S if out is None else out
    (folder / f"ind.cora.{file}").write_bytes(pickle.dumps(S, protocol=2))


def _decreasing_indptr(S):
    S.indptr[5] = S.indptr[6] + 1000


def _column_out_of_range(S):
    S.indices[3] = S.shape[1] + 7


def _huge_width(S):
    S._shape = (S.shape[0], 10**12)  # as a flipped bit in the pickled shape would give


@needs_data
@pytest.mark.parametrize("file", ["tx", "allx"])
@pytest.mark.parametrize("edit", [_decreasing_indptr, _column_out_of_range, _huge_width])
def test_planetoid_corrupt_feature_pickles(cora_copy, file, edit):
    _pickle_csr(cora_copy, file, edit)
    _broken_read(cora_copy, file)


@needs_data
def test_planetoid_feature_rows_must_match(cora_copy):
    _pickle_csr(cora_copy, "allx", lambda S: S[:-1])  # a valid matrix, one row short of ally
    _broken_read(cora_copy, "allx")


@needs_data
@pytest.mark.parametrize("graph", [{0: ["a"]}, {0: 5}, {0: [2**70]}, {0: [2**63]}, {0: [1.5]}, {"a": [1]},
                                   {0: [[1, 2]]}, {0: [-1]}, {0: [99999]}])
def test_planetoid_malformed_graph_dict(cora_copy, graph):
    import collections

    d = collections.defaultdict(list, graph)
    (cora_copy / "ind.cora.graph").write_bytes(pickle.dumps(d, protocol=2))
    _broken_read(cora_copy, "graph")


def test_planetoid_too_few_rows_for_the_validation_split_is_refused(tmp_path):
    # 2 training rows and 3 rows of ally: the 500 validation ids after the training rows would lie outside
    import collections

    def dump(ext, obj):
        (tmp_path / f"ind.tiny.{ext}").write_bytes(pickle.dumps(obj, protocol=2))
    eye = np.eye(2)
    dump("y", eye[[0, 1]])
    dump("ally", eye[[0, 1, 0]])
    dump("ty", eye[[1, 0]])
    dump("allx", np.ones((3, 4)))
    dump("tx", np.ones((2, 4)))
    dump("x", np.ones((2, 4)))
    dump("graph", collections.defaultdict(list, {0: [1], 1: [0, 2], 2: [1], 3: [4], 4: [3]}))
    (tmp_path / "ind.tiny.test.index").write_text("3\n4\n")
    with pytest.raises(errors.FormatError, match=r"ind\.tiny\.y.*500 validation rows"):
        io.read_planetoid(tmp_path, "tiny")


_HUGE = struct.pack("<Q", 1 << 30)


@pytest.mark.parametrize("opcode", [b"B" + struct.pack("<I", 1 << 30), b"\x8e" + _HUGE, b"\x96" + _HUGE,
                                    b"\x8e" + b"\xff" * 8, b"\x96" + b"\xff" * 8, b"\x8d" + b"\xff" * 8],
                         ids=["BINBYTES-1GiB", "BINBYTES8-1GiB", "BYTEARRAY8-1GiB", "BINBYTES8-2**64-1",
                              "BYTEARRAY8-2**64-1", "BINUNICODE8-2**64-1"])
def test_pickle_lengths_beyond_the_file_are_refused_before_allocating(tmp_path, opcode):
    import tracemalloc

    p = tmp_path / "ind.t.y"
    p.write_bytes(b"\x80\x05" + opcode + b"abc")
    tracemalloc.start()
    try:
        # the unpickler allocates what the length claims (or raises OverflowError) before it reads
        with pytest.raises(errors.FormatError, match="ind.t.y: not a valid Planetoid pickle"):
            safe_load_pickle(p)
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()
