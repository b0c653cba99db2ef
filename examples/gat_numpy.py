"""Two-layer GAT (Velickovic et al., ICLR 2018) in NumPy + pysparsegraph kernels.

Each attention layer is ``sddmm`` (per-edge scores from the two ends, op
"u_add_v"), a LeakyReLU, ``edge_softmax`` over each node's incoming edges and
``spmm`` with one weight per edge and head; the backward pass is written by
hand with ``spmm_backward``, ``edge_softmax_backward`` and
``sddmm_backward``. Cora, public Planetoid split, the paper's settings: 8 heads
of 8 hidden units (ELU), one output head, dropout 0.6 on inputs and attention,
Adam lr 0.005, weight decay 5e-4, self loops added. The paper reports 83.0%.

    python examples/gat_numpy.py [--epochs 200] [--seed 0]
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


def glorot(rng, shape, dtype):
    r = np.sqrt(6.0 / (shape[0] + shape[-1]))
    return rng.uniform(-r, r, shape).astype(dtype)


def init_params(n_features, n_classes, heads=8, hidden=8, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return {"W1": glorot(rng, (n_features, heads * hidden), dtype),
            "as1": glorot(rng, (heads, hidden), dtype), "ad1": glorot(rng, (heads, hidden), dtype),
            "b1": np.zeros(heads * hidden, dtype),
            "W2": glorot(rng, (heads * hidden, n_classes), dtype),
            "as2": glorot(rng, (1, n_classes), dtype), "ad2": glorot(rng, (1, n_classes), dtype),
            "b2": np.zeros(n_classes, dtype)}


def _dropout(a, p, rng):
    if rng is None or p == 0:
        return a, None
    mask = (rng.random(a.shape, dtype=np.float32) >= p).astype(a.dtype) / (1 - p)
    return a * mask, mask


def attention(A, Wh, a_src, a_dst, p, rng):
    """out_r = sum over edges (r, c) of alpha_rc * Wh_c per head; Wh is (n, heads*D)."""
    heads, D = a_src.shape
    Whh = Wh.reshape(-1, heads, D)
    el = np.einsum("nhd,hd->nh", Whh, a_dst)     # destination (row) part of the score
    er = np.einsum("nhd,hd->nh", Whh, a_src)     # source (column) part
    e = psg.sddmm(A, el, er, op="u_add_v")       # (nnz, heads)
    s = np.where(e > 0, e, 0.2 * e)              # LeakyReLU(0.2)
    alpha = psg.edge_softmax(A, s)
    alpha_d, m_att = _dropout(alpha, p, rng)
    out = psg.spmm(A, Wh, edge_values=alpha_d)   # one weight per edge and head
    return out, dict(Wh=Wh, el=el, er=er, e=e, alpha=alpha, alpha_d=alpha_d, m_att=m_att)


def attention_backward(A, dout, c, a_src, a_dst):
    """Gradients w.r.t. Wh, a_src, a_dst of :func:`attention`."""
    heads, D = a_src.shape
    Wh = c["Wh"]
    dWh, dalpha_d = psg.spmm_backward(A, dout, Wh, edge_values=c["alpha_d"], need_edge_grad=True)
    dalpha = dalpha_d if c["m_att"] is None else dalpha_d * c["m_att"]
    ds = psg.edge_softmax_backward(A, c["alpha"], dalpha)
    de = ds * np.where(c["e"] > 0, 1.0, 0.2).astype(ds.dtype)
    del_, der = psg.sddmm_backward(A, c["el"], c["er"], de, op="u_add_v")
    Whh = Wh.reshape(-1, heads, D)
    da_dst = np.einsum("nh,nhd->hd", del_, Whh)
    da_src = np.einsum("nh,nhd->hd", der, Whh)
    dWh = dWh + (del_[:, :, None] * a_dst[None] + der[:, :, None] * a_src[None]).reshape(dWh.shape)
    return dWh, da_src, da_dst


def forward(params, A, X, labels, idx, *, p=0.6, weight_decay=5e-4, rng=None):
    """Loss on ``idx`` and the cache for :func:`backward`. X: sparse features
    (CSRMatrix); ``rng=None`` disables dropout."""
    x0, m0 = _dropout(X.values, p, rng)
    Wh1 = psg.spmm(X, params["W1"], edge_values=x0)          # sparse features @ W1
    z1, c1 = attention(A, Wh1, params["as1"], params["ad1"], p, rng)
    z1 = z1 + params["b1"]
    h1 = np.where(z1 > 0, z1, np.expm1(np.minimum(z1, 0)))   # ELU
    h1d, m1 = _dropout(h1, p, rng)
    Wh2 = h1d @ params["W2"]
    z2, c2 = attention(A, Wh2, params["as2"], params["ad2"], p, rng)
    z2 = z2 + params["b2"]
    logits = z2[idx]
    sh = logits - logits.max(axis=1, keepdims=True)
    logp = sh - np.log(np.exp(sh).sum(axis=1, keepdims=True))
    l2 = sum(float((params[k] ** 2).sum()) for k in params)
    loss = -logp[np.arange(len(idx)), labels[idx]].mean() + 0.5 * weight_decay * l2
    cache = dict(X=X, x0=x0, c1=c1, z1=z1, h1d=h1d, m1=m1, c2=c2, logp=logp, idx=idx, labels=labels,
                 wd=weight_decay, n=z2.shape[0])
    return float(loss), z2, cache


def backward(params, A, c):
    idx, labels = c["idx"], c["labels"]
    dlog = np.exp(c["logp"])
    dlog[np.arange(len(idx)), labels[idx]] -= 1
    dlog /= len(idx)
    dz2 = np.zeros((c["n"], dlog.shape[1]), dlog.dtype)
    dz2[idx] = dlog
    g = {"b2": dz2.sum(axis=0)}
    dWh2, g["as2"], g["ad2"] = attention_backward(A, dz2, c["c2"], params["as2"], params["ad2"])
    g["W2"] = c["h1d"].T @ dWh2
    dh1 = dWh2 @ params["W2"].T
    if c["m1"] is not None:
        dh1 *= c["m1"]
    z1 = c["z1"]
    dz1 = dh1 * np.where(z1 > 0, 1.0, np.exp(np.minimum(z1, 0))).astype(dh1.dtype)
    g["b1"] = dz1.sum(axis=0)
    dWh1, g["as1"], g["ad1"] = attention_backward(A, dz1, c["c1"], params["as1"], params["ad1"])
    g["W1"] = psg.spmm_transpose(c["X"], dWh1, edge_values=c["x0"])
    for k in g:
        g[k] = g[k] + c["wd"] * params[k]
    return g




def load(dtype=np.float32):
    """Cora with self loops added, and its row-normalized sparse features."""
    ds = datasets.load_cora()
    src, dst, _ = ds.graph.to_edges()
    A = psg.from_edges(src, dst, shape=ds.graph.shape, self_loops="add")
    F = ds.features.astype(dtype)
    F = F / np.maximum(F.sum(axis=1, keepdims=True), 1)
    rows, cols = np.nonzero(F)
    return ds, A, psg.from_edges(rows, cols, F[rows, cols], shape=F.shape)


def train(epochs=200, seed=0, verbose=False):
    ds, A, X = load()
    params = init_params(X.n_cols, ds.num_classes, seed=seed)
    opt = Adam(params, lr=0.005)
    rng = np.random.default_rng(seed + 1)
    losses = []
    for epoch in range(epochs):
        loss, _, cache = forward(params, A, X, ds.labels, ds.idx_train, rng=rng)
        opt.step(params, backward(params, A, cache))
        losses.append(loss)
        if verbose and (epoch % 20 == 0 or epoch == epochs - 1):
            _, z, _ = forward(params, A, X, ds.labels, ds.idx_val)
            acc = float((z[ds.idx_val].argmax(1) == ds.labels[ds.idx_val]).mean())
            print(f"epoch {epoch:3d}  train loss {loss:.4f}  val acc {acc:.3f}")
    _, z, _ = forward(params, A, X, ds.labels, ds.idx_test)
    acc = lambda idx: float((z[idx].argmax(1) == ds.labels[idx]).mean())
    return losses, acc(ds.idx_val), acc(ds.idx_test)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=200, help="training epochs (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the weight initialization (default: %(default)s)")
    args = ap.parse_args(argv)
    if args.epochs < 1:
        ap.error(f"--epochs must be at least 1, got {args.epochs}")
    t0 = time.perf_counter()
    _, val_acc, test_acc = train(args.epochs, args.seed, verbose=True)
    print(f"GAT on Cora (public Planetoid split), {args.epochs} epochs in {time.perf_counter() - t0:.1f} s")
    print(f"val accuracy {val_acc:.3f}  test accuracy {test_acc:.3f}  (Velickovic et al. report 0.830)")
    return test_acc


if __name__ == "__main__":
    main()
