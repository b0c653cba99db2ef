"""Hypothesis property tests of the GNN kernels: random graphs (non-square,
duplicates kept, empty rows), all reducers and norms, transpose; against the
edge-by-edge reference of test_gnn_kernels and across thread counts."""
import importlib.util
import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import pysparsegraph as psg
from pysparsegraph.gnn import gspmm

_spec = importlib.util.spec_from_file_location(
    "gnn_kernels_ref", os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_gnn_kernels.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


@st.composite
def graphs(draw):
    square = draw(st.booleans())
    n_rows = draw(st.integers(0, 30))
    n_cols = n_rows if square else draw(st.integers(0, 30))
    m = draw(st.integers(0, 150)) if n_rows and n_cols else 0
    src = np.array(draw(st.lists(st.integers(0, max(n_rows - 1, 0)), min_size=m, max_size=m)), np.int64)
    dst = np.array(draw(st.lists(st.integers(0, max(n_cols - 1, 0)), min_size=m, max_size=m)), np.int64)
    vals = np.array(draw(st.lists(st.floats(0.25, 4, width=32), min_size=m, max_size=m)), np.float64)
    weighted = draw(st.booleans())
    return psg.from_edges(src, dst, vals if weighted else None, shape=(n_rows, n_cols), duplicates="keep"), square


@settings(max_examples=120, deadline=None)
@given(g=graphs(), k=st.integers(1, 6), reduce=st.sampled_from(["sum", "mean", "max", "min"]),
       norm=st.sampled_from([None, "sym", "row", "col"]), loops=st.booleans(), transpose=st.booleans(),
       f32=st.booleans())
def test_gspmm_matches_reference(g, k, reduce, norm, loops, transpose, f32):
    A, square = g
    loops = loops and square
    dtype = np.float32 if f32 else np.float64
    n_in = A.n_rows if transpose else A.n_cols
    X = np.random.default_rng(k).standard_normal((n_in, k)).astype(dtype)
    kw = dict(reduce=reduce, norm=norm, add_self_loops=loops, transpose=transpose)
    y1 = gspmm(A, X, n_threads=1, **kw)
    y2 = gspmm(A, X, n_threads=2, **kw)
    assert y1.tobytes() == y2.tobytes()
    want = ref.ref_gspmm(A, X, reduce, norm, loops, transpose=transpose)[0]
    np.testing.assert_allclose(y1, want, **ref.tol(dtype))
