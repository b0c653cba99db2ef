"""``python -m bench spmm``: pysparsegraph SpMM beside scipy.sparse.

For each graph and K: median time (interleaved repetitions), GFLOP/s
(2·nnz·K flops) and the speedup over scipy on the same float32 input. scipy
runs single-threaded (it has no threaded SpMM); pysparsegraph runs at each
requested thread count.
"""
import argparse
import sys

import numpy as np

from bench.common import (add_wait_policy, apply_wait_policy, check_graphs, count, counts, load_graph, markdown_table,
                          warm_state_medians)
from bench.peers import check_outputs
from bench.suite import TOLERANCE
from pysparsegraph import spmm


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench spmm", description=__doc__)
    p.add_argument("--graphs", default="cora,soc-Slashdot0902,coAuthorsDBLP",
                   help="comma-separated: cora or folders of the shared data (default: %(default)s)")
    p.add_argument("-k", "--k", type=counts(), default="64",
                   help="comma-separated feature widths (default: %(default)s)")
    p.add_argument("--threads", type=counts(), default="1,2",
                   help="comma-separated thread counts (default: %(default)s)")
    p.add_argument("--repeats", type=count(), default=20)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    add_wait_policy(p)
    args = p.parse_args(argv)
    check_graphs(p, args.graphs)
    print(apply_wait_policy(args, "spmm", argv))
    import scipy.sparse  # noqa: F401  (fail early with a clear ImportError)

    rows, wrong = [], 0
    for name in args.graphs.split(","):
        A = load_graph(name)
        S = A.to_scipy(dtype=args.dtype)
        for k in args.k:
            X = np.random.default_rng(0).standard_normal((A.n_cols, k)).astype(args.dtype)
            Y = np.empty((A.n_rows, k), args.dtype)
            fns = {"scipy": lambda: S @ X}
            for t in args.threads:
                fns[f"psg {t}T"] = (lambda t=t: spmm(A, X, out=Y, n_threads=t))
                fns[f"psg {t}T"].out = Y  # poisoned before its output check
            res = warm_state_medians(fns, args.repeats)
            errs = check_outputs(fns, S @ X, TOLERANCE[args.dtype], skip=("scipy",))
            flops = 2.0 * A.nnz * k
            sp_t = res["scipy"][0]
            for label, (med, spread) in res.items():
                err = f"{errs[label][0]:.1e}" + ("" if errs[label][1] else " WRONG") if label in errs else ""
                rows.append([name, k, label, f"{med * 1e3:.3f}", f"{spread:.2f}", f"{flops / med / 1e9:.2f}",
                             f"{sp_t / med:.2f}x", err])
                wrong += label in errs and not errs[label][1]
    print(markdown_table(["graph", "K", "tool", "median ms", "IQR/med", "GFLOP/s", "vs scipy 1T",
                          "max rel err vs scipy"], rows))
    if wrong:
        print(f"{wrong} output(s) differ from scipy beyond the tolerance", file=sys.stderr)
        return 1
    return 0
