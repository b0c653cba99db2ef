"""Property tests of the text readers against a plain-Python reference, and
resource hygiene (no leaked threads after errors)."""
import gzip
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysparsegraph import CSRMatrix, errors, io

edge = st.tuples(st.integers(0, 40), st.integers(0, 40))
sep = st.sampled_from([" ", "\t", "  ", " \t "])
eol = st.sampled_from(["\n", "\r\n"])
junk = st.sampled_from(["", "# a comment", "% another", "   ", "#"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edges=st.lists(st.tuples(edge, sep, eol, junk), max_size=60), gz=st.booleans(),
       sym=st.booleans(), threads=st.sampled_from([1, 2]), sort=st.sampled_from([None, 0, 1]))
def test_edgelist_matches_reference(tmp_path_factory, edges, gz, sym, threads, sort):
    if sort is not None:  # sorted by source or by target: the run-length stores
        edges = sorted(edges, key=lambda e: (e[0][sort], e[0][1 - sort]))
    lines, src, dst = [], [], []
    for (a, b), s, e, j in edges:
        lines.append(f"{a}{s}{b}{e}")
        if j:
            lines.append(j + e)
        src.append(a)
        dst.append(b)
    text = "".join(lines).encode()
    p = tmp_path_factory.mktemp("fz") / ("e.txt.gz" if gz else "e.txt")
    p.write_bytes(gzip.compress(text) if gz else text)
    g = io.read_edgelist(p, symmetrize=sym, n_threads=threads, block_size=64)
    n = max(src + dst) + 1 if src else 0
    ref = CSRMatrix.from_edges(np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64), shape=(n, n),
                               symmetrize=sym, duplicates="sum")
    assert g.shape == ref.shape
    np.testing.assert_array_equal(g.indptr, ref.indptr)
    np.testing.assert_array_equal(g.indices, ref.indices)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9),
                                  st.floats(allow_nan=False, allow_infinity=False, width=64)), max_size=40),
       symmetry=st.sampled_from(["general", "symmetric", "skew-symmetric"]),
       order=st.sampled_from(["file", "by column", "by row"]), upper=st.booleans())
def test_matrix_market_matches_scipy(tmp_path_factory, entries, symmetry, order, upper):
    sio = pytest.importorskip("scipy.io")
    sp = pytest.importorskip("scipy.sparse")
    if symmetry != "general":  # one triangle only (strictly, for skew)
        entries = [(max(i, j), min(i, j), v) for i, j, v in entries if symmetry == "symmetric" or i != j]
        if upper:
            entries = [(j, i, v) for i, j, v in entries]
    # sorted files exercise the run-length stores (keyed on either column)
    if order == "by column":
        entries = sorted(entries, key=lambda e: (e[1], e[0]))
    elif order == "by row":
        entries = sorted(entries, key=lambda e: (e[0], e[1]))
    body = "".join(f"{i} {j} {v!r}\n" for i, j, v in entries)
    text = f"%%MatrixMarket matrix coordinate real {symmetry}\n9 9 {len(entries)}\n{body}"
    p = tmp_path_factory.mktemp("mm") / "m.mtx"
    p.write_text(text)
    g = io.read_matrix_market(p)
    M = sp.csr_array(sio.mmread(str(p)))
    M.sum_duplicates()
    M.sort_indices()
    np.testing.assert_array_equal(g.indptr, M.indptr)
    np.testing.assert_array_equal(g.indices, M.indices)
    np.testing.assert_allclose(g.values, M.data, rtol=1e-15, atol=0)


def test_no_thread_left_behind_after_errors(tmp_path):
    p = tmp_path / "b.txt.gz"
    text = "".join(f"{i} {i + 1}\n" for i in range(100000)) + "x y\n" + "1 2\n" * 1000
    p.write_bytes(gzip.compress(text.encode()))
    before = threading.active_count()
    for _ in range(3):
        with pytest.raises(errors.FormatError, match="line 100001"):
            io.read_edgelist(p, block_size=4096)
    assert threading.active_count() == before
