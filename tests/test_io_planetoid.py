"""Planetoid reader: identical to the npz conventions in shared/data, and the
restricted unpickler refuses code execution."""
import os
import pickle

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
