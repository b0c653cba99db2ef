"""Hypothesis property tests: random edge sets, dtypes and widths vs dense NumPy."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import pysparsegraph as psg


@st.composite
def edge_sets(draw):
    n_rows = draw(st.integers(0, 40))
    n_cols = draw(st.integers(0, 40))
    m = draw(st.integers(0, 200)) if n_rows and n_cols else 0
    src = draw(st.lists(st.integers(0, max(n_rows - 1, 0)), min_size=m, max_size=m))
    dst = draw(st.lists(st.integers(0, max(n_cols - 1, 0)), min_size=m, max_size=m))
    vals = draw(st.lists(st.floats(-8, 8, allow_nan=False, width=32), min_size=m, max_size=m))
    return n_rows, n_cols, np.array(src, np.int64), np.array(dst, np.int64), np.array(vals, np.float64)


@settings(max_examples=150, deadline=None)
@given(edges=edge_sets(), k=st.integers(1, 9), weighted=st.booleans(), f32=st.booleans(),
       duplicates=st.sampled_from(["sum", "keep"]), threads=st.sampled_from([1, 2]))
def test_spmm_equals_dense_product(edges, k, weighted, f32, duplicates, threads):
    n_rows, n_cols, src, dst, vals = edges
    dtype = np.float32 if f32 else np.float64
    A = psg.from_edges(src, dst, vals.astype(dtype) if weighted else None, shape=(n_rows, n_cols),
                       duplicates=duplicates, n_threads=threads)
    dense = np.zeros((n_rows, n_cols))
    np.add.at(dense, (src, dst), vals if weighted else 1.0)
    if not weighted and duplicates != "keep":
        dense = np.minimum(dense, 1.0)  # no values to sum: a repeated edge is one edge
    X = np.random.default_rng(k).standard_normal((n_cols, k)).astype(dtype)
    y = psg.spmm(A, X, n_threads=threads)
    np.testing.assert_allclose(y, dense @ X.astype(np.float64), rtol=1e-4 if f32 else 1e-10,
                               atol=1e-3 if f32 else 1e-10)
    assert y.tobytes() == psg.spmm(A, X, n_threads=3 - threads).tobytes()


@settings(max_examples=100, deadline=None)
@given(edges=edge_sets(), loops=st.sampled_from(["keep", "drop", "add"]))
def test_edges_round_trip_through_csr(edges, loops):
    n_rows, n_cols, src, dst, vals = edges
    A = psg.from_edges(src, dst, vals, shape=(n_rows, n_cols), self_loops=loops)
    s, d, v = A.to_edges()
    assert np.all(np.diff(A.indptr) >= 0) and A.indptr[-1] == A.nnz
    dense = np.zeros((n_rows, n_cols))
    keep = (src != dst) if loops == "drop" else np.ones(src.size, bool)
    np.add.at(dense, (src[keep], dst[keep]), vals[keep])
    if loops == "add":
        present = np.zeros(min(n_rows, n_cols), bool)
        present[src[src == dst]] = True
        idx = np.nonzero(~present)[0]
        dense[idx, idx] = 1.0
    rebuilt = np.zeros((n_rows, n_cols))
    np.add.at(rebuilt, (s, d), v)
    np.testing.assert_allclose(rebuilt, dense, rtol=1e-12, atol=1e-12)
    # rows come out sorted and without repeats
    for r in range(n_rows):
        row = A.indices[A.indptr[r]:A.indptr[r + 1]]
        assert np.all(np.diff(row) > 0)
