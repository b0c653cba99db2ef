"""The GCN example (examples/gcn_numpy.py): a shortened training run lowers
the loss, and its hand-written backward matches finite differences."""
import numpy as np
import pytest

import pysparsegraph as psg
from conftest import load_example


@pytest.fixture(scope="module")
def gcn():
    return load_example("gcn_numpy")


def test_short_training_lowers_loss(gcn):
    losses, val_acc, test_acc = gcn.train(epochs=30, seed=0)
    assert len(losses) == 30 and all(np.isfinite(losses))
    # cross-entropy starts near log(7) = 1.95 and must fall clearly within 30 epochs
    assert losses[0] > 1.8
    assert np.mean(losses[-5:]) < 0.9 * np.mean(losses[:5])
    assert all(np.diff(np.convolve(losses, np.ones(5) / 5, "valid")) < 0)  # smoothed loss falls throughout
    assert test_acc > 0.6  # far above the 1/7 of chance after 30 epochs


@pytest.mark.parametrize("n_threads", [1, 2])
def test_gradients_match_finite_differences(gcn, n_threads):
    ds, X32 = gcn.load()
    X = psg.CSRMatrix(X32.indptr, X32.indices, X32.values.astype(np.float64), shape=X32.shape)
    A = ds.graph
    params = gcn.init_params(X.n_cols, 8, ds.num_classes, seed=3, dtype=np.float64)
    for k in ("b1", "b2"):
        params[k] = np.random.default_rng(4).standard_normal(params[k].shape) * 0.1
    idx = ds.idx_train

    def loss():
        return gcn.forward(params, A, X, ds.labels, idx, n_threads=n_threads)[0]

    _, _, cache = gcn.forward(params, A, X, ds.labels, idx, n_threads=n_threads)
    grads = gcn.backward(params, A, cache, n_threads=n_threads)
    rng = np.random.default_rng(5)
    eps = 1e-6
    for name, p in params.items():
        assert grads[name].shape == p.shape
        flat, g = p.reshape(-1), grads[name].reshape(-1)
        # probe the largest-gradient entries (most W1 rows touch no training node) plus random ones
        probe = np.unique(np.concatenate([np.argsort(-np.abs(g))[:8], rng.choice(flat.size, min(8, flat.size), replace=False)]))
        for j in probe:
            old = flat[j]
            flat[j] = old + eps
            up = loss()
            flat[j] = old - eps
            down = loss()
            flat[j] = old
            num = (up - down) / (2 * eps)
            assert abs(num - g[j]) <= 1e-6 + 1e-5 * abs(num), (name, j, num, g[j])
