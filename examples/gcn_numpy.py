"""Two-layer GCN (Kipf & Welling, ICLR 2017) in NumPy + pysparsegraph kernels.

Forward and backward are written by hand; the graph is only touched through
``pysparsegraph.spmm(..., norm="sym", add_self_loops=True)`` (the propagation
matrix D^-1/2 (A+I) D^-1/2, never materialized) and its backward
``pysparsegraph.spmm_backward``. The bag-of-words features are a sparse
matrix too: the first layer's ``X @ W1`` is ``pysparsegraph.spmm`` on the
feature matrix, with dropout applied to its stored values through
``edge_values`` (sparse dropout, as in the reference implementation), and
its weight gradient ``Xᵀ @ dP`` is ``pysparsegraph.spmm_transpose``. Trained on Cora with the public Planetoid
split (140 train / 500 val / 1000 test nodes) and the paper's settings: 16
hidden units, dropout 0.5, Adam lr 0.01, weight decay 5e-4 on the first
layer, row-normalized features, 200 epochs. The paper reports 81.5% test
accuracy.

    python examples/gcn_numpy.py [--epochs 200] [--seed 0]
"""
import argparse
import os
import sys
import time

import numpy as np

import pysparsegraph as psg
from pysparsegraph import datasets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the examples' shared optimizer
from adam import Adam  # noqa: E402

PROP = dict(norm="sym", add_self_loops=True)


def glorot(rng, fan_in, fan_out, dtype):
    r = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-r, r, (fan_in, fan_out)).astype(dtype)


def init_params(n_features, n_hidden, n_classes, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return {"W1": glorot(rng, n_features, n_hidden, dtype), "b1": np.zeros(n_hidden, dtype),
            "W2": glorot(rng, n_hidden, n_classes, dtype), "b2": np.zeros(n_classes, dtype)}


def forward(params, A, X, labels, idx, *, dropout=0.5, weight_decay=5e-4, rng=None, n_threads=None):
    """Loss on the nodes ``idx`` and everything backward needs.

    ``X`` is the sparse feature matrix (a CSRMatrix with values). ``rng=None``
    disables dropout (evaluation, gradient checks)."""
    def drop(h):
        if rng is None or dropout == 0:
            return h, None
        mask = (rng.random(h.shape, dtype=np.float32) >= dropout).astype(h.dtype) / (1 - dropout)
        return h * mask, mask

    x0, m0 = drop(X.values)            # dropout on the stored feature values only
    p1 = psg.spmm(X, params["W1"], edge_values=x0, n_threads=n_threads)
    z1 = psg.spmm(A, p1, n_threads=n_threads, **PROP) + params["b1"]
    h1 = np.maximum(z1, 0)
    h1d, m1 = drop(h1)
    p2 = h1d @ params["W2"]
    z2 = psg.spmm(A, p2, n_threads=n_threads, **PROP) + params["b2"]
    # softmax cross-entropy on the labelled nodes
    logits = z2[idx]
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    nll = -logp[np.arange(len(idx)), labels[idx]].mean()
    loss = nll + weight_decay * 0.5 * float((params["W1"] ** 2).sum())
    cache = dict(X=X, x0=x0, m0=m0, z1=z1, h1d=h1d, m1=m1, logp=logp, idx=idx, labels=labels,
                 weight_decay=weight_decay, n=z2.shape[0])
    return float(loss), z2, cache


def backward(params, A, cache, n_threads=None):
    """Gradients of the loss w.r.t. every parameter, by hand."""
    idx, labels = cache["idx"], cache["labels"]
    dlogits = np.exp(cache["logp"])
    dlogits[np.arange(len(idx)), labels[idx]] -= 1
    dlogits /= len(idx)
    dz2 = np.zeros((cache["n"], dlogits.shape[1]), dtype=dlogits.dtype)
    dz2[idx] = dlogits
    g = {"b2": dz2.sum(axis=0)}
    dp2, _ = psg.spmm_backward(A, dz2, n_threads=n_threads, **PROP)   # N(A)ᵀ dz2 via the cached transpose
    g["W2"] = cache["h1d"].T @ dp2
    dh1 = dp2 @ params["W2"].T
    if cache["m1"] is not None:
        dh1 *= cache["m1"]
    dz1 = dh1 * (cache["z1"] > 0)
    g["b1"] = dz1.sum(axis=0)
    dp1, _ = psg.spmm_backward(A, dz1, n_threads=n_threads, **PROP)
    g["W1"] = psg.spmm_transpose(cache["X"], dp1, edge_values=cache["x0"], n_threads=n_threads)
    g["W1"] += cache["weight_decay"] * params["W1"]
    return g




def accuracy(z, labels, idx):
    return float((z[idx].argmax(axis=1) == labels[idx]).mean())


def load(dtype=np.float32):
    """Cora and its row-normalized features (as in the paper) as a sparse CSRMatrix."""
    ds = datasets.load_cora()
    F = ds.features.astype(dtype)
    rs = F.sum(axis=1, keepdims=True)
    F = F / np.where(rs > 0, rs, 1)
    rows, cols = np.nonzero(F)
    X = psg.from_edges(rows, cols, F[rows, cols], shape=F.shape)
    return ds, X


def train(epochs=200, seed=0, hidden=16, lr=0.01, verbose=False, n_threads=None):
    """Trains on Cora; returns (train losses per epoch, val accuracy, test accuracy)."""
    ds, X = load()
    A = ds.graph
    params = init_params(X.n_cols, hidden, ds.num_classes, seed)
    opt = Adam(params, lr=lr)
    rng = np.random.default_rng(seed + 1)
    losses = []
    for epoch in range(epochs):
        loss, _, cache = forward(params, A, X, ds.labels, ds.idx_train, rng=rng, n_threads=n_threads)
        opt.step(params, backward(params, A, cache, n_threads=n_threads))
        losses.append(loss)
        if verbose and (epoch % 20 == 0 or epoch == epochs - 1):
            _, z, _ = forward(params, A, X, ds.labels, ds.idx_val, n_threads=n_threads)
            print(f"epoch {epoch:3d}  train loss {loss:.4f}  val acc {accuracy(z, ds.labels, ds.idx_val):.3f}")
    _, z, _ = forward(params, A, X, ds.labels, ds.idx_test, n_threads=n_threads)
    return losses, accuracy(z, ds.labels, ds.idx_val), accuracy(z, ds.labels, ds.idx_test)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=200, help="training epochs (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the weight initialization (default: %(default)s)")
    args = ap.parse_args(argv)
    if args.epochs < 1:
        ap.error(f"--epochs must be at least 1, got {args.epochs}")
    t0 = time.perf_counter()
    losses, val_acc, test_acc = train(args.epochs, args.seed, verbose=True)
    dt = time.perf_counter() - t0
    print(f"GCN on Cora (public Planetoid split), {args.epochs} epochs in {dt:.1f} s")
    print(f"val accuracy {val_acc:.3f}  test accuracy {test_acc:.3f}  (Kipf & Welling report 0.815)")
    return test_acc


if __name__ == "__main__":
    main()
