"""``python -m bench propagation``: SGC propagation S^k X, pysparsegraph beside scipy.sparse.

S = D^-1/2 (A + I) D^-1/2 (the GCN/SGC normalization), X float32 of width K
(random, or the real bag-of-words features of Cora/Citeseer with ``-k real``).
For each graph it times, interleaved, with medians:

* ``scipy``: ``S @ (S @ X)`` (k products) with S prebuilt as a scipy CSR
  (scipy has no threaded SpMM: 1 thread);
* ``psg spmm nT``: the same k products with ``pysparsegraph.spmm`` on S prebuilt
  by pysparsegraph.sklearn, at each thread count;
* ``GraphPropagation auto``: the scikit-learn transformer end to end
  (``transform(X)``: input validation + k products; S cached on the graph)
  with its default ``n_threads=None`` (the OpenMP limit; the cached SpMM plan
  runs small products on the calling thread by itself);

and, once per graph, the one-off cost of building S (self loops + scaling)
in each library, and the max aggregation of ``NeighborAggregation``
(``aggregator="max"``, K=64: the C max reducer at the default threads) beside
a plain numpy gather + ``maximum.reduceat`` over the whole graph (scipy has no
max-SpMM). Ratios are scipy's median over the tool's median (>1 = faster
than scipy).
"""
import argparse
import sys

import numpy as np

from bench.common import (add_wait_policy, apply_wait_policy, check_graphs, count, counts, load_graph, markdown_table,
                          warm_state_medians)
from bench.peers import check_outputs


def _scipy_sgc_matrix(A):
    import scipy.sparse as sp

    a = A.to_scipy(np.float32)
    n = a.shape[0]
    diag = a.diagonal()
    ahat = (a + sp.diags_array((diag == 0).astype(np.float32))).tocsr()
    deg = np.asarray(ahat.sum(axis=1)).ravel()
    r = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0).astype(np.float32)
    s = sp.diags_array(r) @ ahat @ sp.diags_array(r)
    return sp.csr_array(s, shape=(n, n))


def _numpy_segment_max(A, X):
    """Row-wise max of the neighbour rows of X (0 for empty rows): numpy gather
    + ``maximum.reduceat``, the baseline for the C max reducer."""
    out = np.zeros((A.n_rows, X.shape[1]), dtype=X.dtype)
    nonempty = np.flatnonzero(np.diff(A.indptr))
    if nonempty.size:
        out[nonempty] = np.maximum.reduceat(X[A.indices], A.indptr[nonempty], axis=0)
    return out


def _features(name, n, k):
    if k != "real":
        return np.random.default_rng(0).standard_normal((n, int(k))).astype(np.float32)
    if name == "cora":
        from pysparsegraph.datasets import load_cora

        return load_cora().features
    import os

    from pysparsegraph.datasets import shared_data_dir

    path = os.path.join(shared_data_dir() or "", name, f"{name}.npz")
    with np.load(path) as d:
        return d["features"].astype(np.float32) if "features" in d.files else None


def _widths(text):
    """argparse type: comma-separated feature widths (integers >= 1) or 'real'."""
    vals = [v.strip() for v in text.split(",") if v.strip()]
    if not vals or any(v != "real" and not (v.isdigit() and int(v) >= 1) for v in vals):
        raise argparse.ArgumentTypeError(f"expected widths >= 1 or 'real', comma-separated, got {text!r}")
    return vals


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench propagation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graphs", default="cora,citeseer,pubmed,coAuthorsDBLP,cnr-2000",
                   help="comma-separated: cora or folders of the shared data (default: %(default)s)")
    p.add_argument("-k", "--width", type=_widths, default="64,real",
                   help="comma-separated feature widths; 'real' = the dataset's own features where it has "
                        "them (default: %(default)s)")
    p.add_argument("--hops", type=count(), default=2, help="k of S^k X (default: %(default)s)")
    p.add_argument("--threads", type=counts(), default="1,2",
                   help="comma-separated thread counts (default: %(default)s)")
    p.add_argument("--repeats", type=count(), default=15)
    add_wait_policy(p)
    args = p.parse_args(argv)
    check_graphs(p, args.graphs)
    print(apply_wait_policy(args, "propagation", argv))
    import scipy.sparse  # noqa: F401  (fail early with a clear ImportError)

    from pysparsegraph import spmm
    from pysparsegraph.sklearn import GraphPropagation, _normalized, _segment_max

    threads = args.threads
    rows, build_rows, max_rows, wrong = [], [], [], 0
    for name in args.graphs.split(","):
        A = load_graph(name)
        # one-off: building S in each library, timed alike (pysparsegraph's cache cleared before each call)
        def build_psg():
            A.clear_cache()
            return _normalized(A, "sym", True, np.float32)  # in the dtype of the features, as transform() builds it
        built = warm_state_medians({"scipy": lambda: _scipy_sgc_matrix(A), "psg": build_psg}, 6)
        S_sp, S = _scipy_sgc_matrix(A), build_psg()
        t_sp, t_psg = built["scipy"][0], built["psg"][0]
        build_rows.append([name, A.n_rows, S.nnz, f"{t_sp * 1e3:.1f}", f"{t_psg * 1e3:.1f}", f"{t_sp / t_psg:.2f}x"])
        Xm = np.random.default_rng(1).standard_normal((A.n_rows, 64)).astype(np.float32)
        res = warm_state_medians({"numpy": lambda: _numpy_segment_max(A, Xm), "psg": lambda: _segment_max(A, Xm)},
                                  min(args.repeats, 5))
        same = np.array_equal(_numpy_segment_max(A, Xm), _segment_max(A, Xm))
        wrong += not same
        max_rows.append([name, A.nnz, f"{res['numpy'][0] * 1e3:.1f}", f"{res['psg'][0] * 1e3:.1f}",
                         f"{res['numpy'][0] / res['psg'][0]:.1f}x", "yes" if same else "NO"])
        for width in args.width:
            X = _features(name, A.n_rows, width)
            if X is None:
                continue
            K = X.shape[1]

            def scipy_prop(X=X):
                h = X
                for _ in range(args.hops):
                    h = S_sp @ h
                return h

            fns = {"scipy": scipy_prop}
            for t in threads:
                def psg_prop(X=X, t=t):
                    h = X
                    for _ in range(args.hops):
                        h = spmm(S, h, n_threads=t)
                    return h

                fns[f"psg spmm {t}T"] = psg_prop
            # the transformer as users call it: n_threads=None (the plan keeps
            # small products on the calling thread)
            est = GraphPropagation(A, k=args.hops).fit(X)
            fns["GraphPropagation auto"] = (lambda est=est, X=X: est.transform(X))
            res = warm_state_medians(fns, args.repeats)
            errs = check_outputs(fns, scipy_prop().astype(np.float64), 1e-4, skip=("scipy",))
            wrong += sum(not ok for _, ok in errs.values())
            base = res["scipy"][0]
            flops = 2.0 * S.nnz * K * args.hops
            for label, (med, spread) in res.items():
                err = f"{errs[label][0]:.1e}" + ("" if errs[label][1] else " WRONG") if label in errs else ""
                rows.append([name, K, label, f"{med * 1e3:.2f}", f"{spread:.2f}", f"{flops / med / 1e9:.2f}",
                             f"{base / med:.2f}x", err])
    print(f"S^{args.hops} X, S = D^-1/2 (A+I) D^-1/2, float32, {args.repeats} repeats (each tool in its own "
          "warm state, tools taking turns), medians\n")
    print(markdown_table(["graph", "K", "tool", "median ms", "IQR/med", "GFLOP/s", "vs scipy",
                          "max rel err vs scipy (float64)"], rows))
    print("\nOne-off construction of S (self loops + symmetric scaling), medians of 6 builds each; scipy on one "
          "thread, pysparsegraph at the OpenMP limit:\n")
    print(markdown_table(["graph", "nodes", "nnz(S)", "scipy ms", "pysparsegraph ms", "vs scipy"], build_rows))
    print("\nMax aggregation (NeighborAggregation aggregator='max'), K=64 float32, default threads:\n")
    print(markdown_table(["graph", "nnz", "numpy reduceat ms", "pysparsegraph ms", "vs numpy", "identical"],
                         max_rows))
    if wrong:
        print(f"{wrong} output(s) differ from scipy or numpy beyond the tolerance", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
