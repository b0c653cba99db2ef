"""Sparse DNN Graph Challenge (1024 neurons, first 30 layers, 1200 inputs): Y <- min(32, ReLU(Y W + b)), b = -0.3.

Data: ../shared/data/sparse-dnn-graphchallenge (MIT/IEEE/Amazon Sparse DNN Graph Challenge, converted to Matrix
Market by Tim Davis in LAGraph). The categories file lists the inputs whose activations stay non-zero.
"""
import gzip
import os

import numpy as np
import pytest

from pysparsegraph import datasets
from pysparsegraph.nn import SparseLinear, SparseSequential

sp = pytest.importorskip("scipy.sparse")
sio = pytest.importorskip("scipy.io")

N_LAYERS = 30


def _folder():
    base = datasets.shared_data_dir()
    if base is None:
        pytest.skip("shared data folder not found (set PYSPARSEGRAPH_DATA or keep ../shared/data beside the checkout)")
    d = os.path.join(base, "sparse-dnn-graphchallenge")
    if not os.path.isdir(d):
        pytest.skip(f"{d} is missing")
    return d


def _mtx(d, name):
    with gzip.open(os.path.join(d, name)) as f:
        return sp.csr_matrix(sio.mmread(f))


@pytest.fixture(scope="module")
def challenge():
    d = _folder()
    ws = [_mtx(d, f"n1024-l{i}.mtx.gz") for i in range(1, N_LAYERS + 1)]
    y0 = _mtx(d, "sparse-images-1024_subset.mtx.gz")
    cats = _mtx(d, "neuron1024-l120-categories_subset.mtx.gz")
    return ws, y0, cats


def _network(ws, **kw):
    # The challenge multiplies row vectors by W (Y W); a Linear layer computes X W'^T, so W' = W^T.
    return SparseSequential([SparseLinear(w.T.tocsr(), np.full(w.shape[1], -0.3, np.float32), activation="relu",
                                          clamp_max=32.0) for w in ws], **kw)


def _scipy_reference(ws, y0):
    y = y0.astype(np.float64).toarray()
    for w in ws:
        z = (sp.csr_matrix(y) @ w.astype(np.float64)).toarray()
        y = np.minimum(np.maximum(z - 0.3, 0.0), 32.0)
    return y


def test_files_are_what_the_readme_says(challenge):
    ws, y0, cats = challenge
    assert y0.shape == (1200, 1024) and y0.nnz == 122713
    assert all(w.shape == (1024, 1024) and w.nnz == 32768 for w in ws)  # n1024-l6 is stored symmetric
    assert cats.shape[0] == 1200 and cats.nnz == 19


@pytest.mark.parametrize("drop_dead", [True, False])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_categories_after_30_layers(challenge, drop_dead, n_threads):
    ws, y0, cats = challenge
    net = _network(ws, drop_dead=drop_dead)
    y = net.forward(y0.toarray(), n_threads=n_threads)
    alive = np.flatnonzero((y != 0).any(axis=1))
    expected = np.sort(cats.tocoo().row)
    assert len(alive) == 19
    np.testing.assert_array_equal(alive, expected)


def test_values_match_scipy_float64(challenge):
    ws, y0, _ = challenge
    y = _network(ws, drop_dead=True).forward(y0.toarray(), n_threads=2)
    ref = _scipy_reference(ws, y0)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
    assert ref.max() > 0  # a non-trivial output
