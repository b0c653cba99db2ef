"""The GAT example (examples/gat_numpy.py): attention layers from sddmm +
edge_softmax + spmm with a hand-written backward. A shortened run lowers the
loss and the backward matches finite differences."""
import numpy as np
import pytest

import pysparsegraph as psg
from conftest import load_example


@pytest.fixture(scope="module")
def gat():
    return load_example("gat_numpy")


def test_short_training_lowers_loss(gat):
    losses, _, test_acc = gat.train(epochs=25, seed=0)
    assert all(np.isfinite(losses)) and losses[0] > 1.8
    assert np.mean(losses[-5:]) < 0.95 * np.mean(losses[:5])
    assert test_acc > 0.5


def test_gradients_match_finite_differences(gat):
    ds, A, X32 = gat.load()
    X = psg.CSRMatrix(X32.indptr, X32.indices, X32.values.astype(np.float64), shape=X32.shape)
    params = gat.init_params(X.n_cols, ds.num_classes, heads=2, hidden=3, seed=3, dtype=np.float64)
    idx = ds.idx_train

    def loss():
        return gat.forward(params, A, X, ds.labels, idx)[0]

    _, _, cache = gat.forward(params, A, X, ds.labels, idx)
    grads = gat.backward(params, A, cache)
    rng = np.random.default_rng(0)
    eps = 1e-6
    for name, p in params.items():
        flat, g = p.reshape(-1), grads[name].reshape(-1)
        probe = np.unique(np.concatenate([np.argsort(-np.abs(g))[:5],
                                          rng.choice(flat.size, min(5, flat.size), replace=False)]))
        for j in probe:
            old = flat[j]
            flat[j] = old + eps
            up = loss()
            flat[j] = old - eps
            down = loss()
            flat[j] = old
            num = (up - down) / (2 * eps)
            assert abs(num - g[j]) <= 1e-6 + 1e-4 * abs(num), (name, j, num, g[j])
