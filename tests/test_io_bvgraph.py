"""BVGraph decoder: equal to the npz beside each LAW graph, every statistic of
the .properties file reproduced, and corrupted streams fail cleanly."""
import os
import shutil

import numpy as np
import pytest

from pysparsegraph import errors, io
from pysparsegraph.bvgraph import COUNTER_KEYS, read_bvgraph, read_properties
from pysparsegraph.datasets import shared_data_dir

DATA = shared_data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="shared/data not found (set PYSPARSEGRAPH_DATA)")
GRAPHS = ["cnr-2000/cnr-2000", "uk-2007-05@100000/uk-2007-05@100000"]


@needs_data
@pytest.mark.parametrize("base", GRAPHS)
def test_matches_npz_and_properties(base):
    path = os.path.join(DATA, base)
    g, counters = read_bvgraph(path, return_counters=True)
    d = np.load(path + ".npz")
    np.testing.assert_array_equal(g.indptr, d["indptr"])
    np.testing.assert_array_equal(g.indices, d["indices"])
    props = read_properties(path + ".properties")
    assert g.shape == (int(props["nodes"]),) * 2 and g.nnz == int(props["arcs"])
    for key in COUNTER_KEYS:
        assert counters[key] == int(props[key]), key
    assert counters["copiedarcs"] + counters["intervalisedarcs"] + counters["residualarcs"] == g.nnz
    # and through the generic reader
    assert io.read(path + ".graph").nnz == g.nnz


def _copy(tmp_path, base):
    src = os.path.join(DATA, base)
    dst = tmp_path / "g"
    shutil.copy(src + ".properties", str(dst) + ".properties")
    return dst, np.fromfile(src + ".graph", dtype=np.uint8)


@needs_data
def test_truncated_and_corrupted_streams(tmp_path):
    dst, data = _copy(tmp_path, GRAPHS[1])
    for cut in (0, 1, 1000, len(data) // 2, len(data) - 1):
        data[:cut].tofile(str(dst) + ".graph")
        with pytest.raises(errors.FormatError, match="g.graph"):
            read_bvgraph(dst)
    rng = np.random.default_rng(0)
    failures = 0
    for pos in rng.integers(0, len(data), 12):
        bad = data.copy()
        bad[pos] ^= 0xFF
        bad.tofile(str(dst) + ".graph")
        try:
            g = read_bvgraph(dst)
        except errors.FormatError:
            failures += 1
            continue
        # a flip that still decodes must give a valid CSR of the announced size
        assert g.nnz == 3050615
        assert (np.asarray(g.indices) >= 0).all() and (np.asarray(g.indices) < 100000).all()
    assert failures >= 1


@needs_data
def test_bad_properties(tmp_path):
    dst, data = _copy(tmp_path, GRAPHS[0])
    data.tofile(str(dst) + ".graph")
    text = open(str(dst) + ".properties").read()
    with open(str(dst) + ".properties", "w") as fh:
        fh.write(text.replace("arcs=3216152", "arcs=3216151"))
    with pytest.raises(errors.FormatError):
        read_bvgraph(dst)
    with open(str(dst) + ".properties", "w") as fh:
        fh.write(text.replace("compressionflags=", "compressionflags=RESIDUALS_NIBBLE"))
    with pytest.raises(errors.UnsupportedError):
        read_bvgraph(dst)
    with open(str(dst) + ".properties", "w") as fh:
        fh.write(text.replace("nodes=325557", ""))
    with pytest.raises(errors.FormatError, match="nodes"):
        read_bvgraph(dst)
    with pytest.raises(FileNotFoundError):
        read_bvgraph(tmp_path / "missing")


def test_properties_beyond_the_c_types_are_format_errors(tmp_path):
    base = str(tmp_path / "bv")
    with open(base + ".graph", "wb") as f:
        f.write(b"\x80")  # one node of outdegree 0
    for key, v in (("windowsize", 2 ** 31), ("nodes", 10 ** 20), ("zetak", 2 ** 32), ("maxrefcount", 10 ** 11),
                   ("arcs", 2 ** 64), ("minintervallength", -2 ** 31 - 1)):
        props = {"nodes": 1, "arcs": 0, "windowsize": 2, "minintervallength": 4, key: v}
        with open(base + ".properties", "w") as f:
            f.write("".join(f"{k}={x}\n" for k, x in props.items()))
        with pytest.raises(errors.FormatError, match=f"'{key}' = {v} is out of range"):
            io.read_bvgraph(base)
    with open(base + ".properties", "w") as f:
        f.write("nodes=1\narcs=0\nwindowsize=2\nminintervallength=4\n")
    assert io.read_bvgraph(base).shape == (1, 1)
