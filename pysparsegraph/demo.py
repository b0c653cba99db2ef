"""``python -m pysparsegraph demo``: SpMM on the bundled Cora graph beside scipy.sparse."""
import time

import numpy as np

from pysparsegraph import _core
from pysparsegraph.datasets import load_cora
from pysparsegraph.ops import spmm


def _median_time(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run(k=64, repeats=50, out=print):
    """Times Cora ``A @ X`` (K = ``k``, median of ``repeats``) beside scipy via ``out``; returns the times in a dict."""
    data = load_cora(features=False)
    A = data.graph
    rng = np.random.default_rng(0)
    X = rng.standard_normal((A.n_cols, k), dtype=np.float32)
    Y = np.empty((A.n_rows, k), np.float32)
    flops = 2.0 * A.nnz * k
    out(f"Cora: {A.n_rows} nodes, {A.nnz} stored edges, K = {k}, float32, "
        f"{_core.max_threads()} thread(s); graph uses {A.nbytes} bytes ({A.bytes_per_edge:.2f} per edge)")
    t_psg = _median_time(lambda: spmm(A, X, out=Y), repeats)
    out(f"  pysparsegraph.spmm : {t_psg * 1e3:8.3f} ms  {flops / t_psg / 1e9:7.2f} GFLOP/s")
    try:
        import scipy.sparse  # noqa: F401
    except ImportError:
        out("  scipy.sparse       : not installed (pip install scipy to compare)")
        return {"pysparsegraph_s": t_psg}
    S = A.to_scipy(dtype=np.float32)
    t_sp = _median_time(lambda: S @ X, repeats)
    err = float(np.max(np.abs(S @ X - Y)))
    out(f"  scipy.sparse @     : {t_sp * 1e3:8.3f} ms  {flops / t_sp / 1e9:7.2f} GFLOP/s")
    out(f"  speedup {t_sp / t_psg:.2f}x over scipy; max |difference| = {err:.2e}")
    return {"pysparsegraph_s": t_psg, "scipy_s": t_sp, "max_abs_diff": err}
