"""``python -m bench gnn``: GNN kernels of pysparsegraph beside their peers.

Per graph (float32, feature width K, one thread count, repetitions
interleaved, medians):

* fused: every GNN option of ``spmm`` (fused ``sym``/``row`` normalization,
  implicit self loops, ``mean``, one value per edge or per edge and head (8
  heads), ``max`` with and without
  arg indices) against the plain ``A @ X`` on the same automatic plan; the
  ratio shows what the option costs on top of the planned SIMD kernel.
* transpose: ``Aᵀ @ X`` (``spmm_transpose``, cached transposed structure)
  against the forward ``A @ X``, for the plain sum, the fused GCN
  normalization (``norm="sym", add_self_loops=True``) and ``reduce="max"``;
  the ratio must stay <= 1.5. scipy's ``S.T @ X`` is shown for scale.
* reducers: ``spmm(reduce=...)`` against ``torch.sparse.mm(A, X, reduce=...)``
  (CSR, if torch is installed), a torch_scatter-like gather + ``scatter_reduce``
  (torch), scipy (sum; mean through a pre-normalized copy of A) and a NumPy
  gather + ``ufunc.reduceat`` (max/min).
* sddmm (dot) against ``torch.sparse.sampled_addmm`` and a NumPy gather, and
  edge_softmax against a NumPy segment implementation.
* forward + backward of one normalized aggregation (as in a GCN layer) and of a
  max aggregation against ``torch.sparse.mm`` (``reduce="amax"``) + autograd,
  when torch is installed.
"""
import argparse

import numpy as np

from bench.common import (add_wait_policy, apply_wait_policy, check_graphs, count, load_graph, markdown_table,
                          warm_state_medians)
from bench.peers import as_array, poison, rel_error
import pysparsegraph as psg
from pysparsegraph import gnn


def _dense_out(r):
    """A tool's output as a NumPy array: the product of a (Y, argidx) pair, the
    stored values of a sparse torch result (sampled_addmm), else as_array."""
    if isinstance(r, tuple):
        r = r[0]
    if getattr(r, "layout", None) is not None and str(r.layout) != "torch.strided":
        r = r.values()
    return as_array(r)


def _check(fns, refs, what, failures, tol=1e-4):
    """Each tool of ``fns`` whose key (or its part before '|') names a reference in
    ``refs`` (float64 arrays), called once more after timing and compared:
    max |out - ref| / max |ref| above ``tol`` is added to ``failures``."""
    for key, fn in fns.items():
        ref = refs.get(key, refs.get(key.split("|")[0]))
        if ref is None:
            continue
        poison(fn)
        err = rel_error(_dense_out(fn()), ref)
        if not err <= tol:
            failures.append(f"{what}: {key} (error {err:.1e})")


def _segment(ufunc, indptr, indices, X):
    """``ufunc`` (np.maximum / np.minimum) over each row's X rows; 0 for an empty row."""
    indptr = np.asarray(indptr)
    full = np.diff(indptr) > 0
    out = np.zeros((len(indptr) - 1, X.shape[1]), X.dtype)
    if full.any():
        out[full] = ufunc.reduceat(X[np.asarray(indices)], indptr[:-1][full], axis=0)
    return out


def _check_argidx(fn, A, X, what, failures):
    """The arg indices of a (Y, argidx) max/min product: each names an edge of
    its own row (-1 only in empty rows) whose X value is the output."""
    poison(fn)
    Y, arg = fn()
    indptr = np.asarray(A.indptr)
    full = np.diff(indptr) > 0
    ok = bool(np.all(arg[~full] == -1))
    a = arg[full]
    lo, hi = indptr[:-1][full, None], indptr[1:][full, None]
    ok = ok and bool(np.all((a >= lo) & (a < hi)))
    if ok:  # the X value of output (r, c)'s winning edge, in column c
        picked = X[np.asarray(A.indices)[a], np.arange(X.shape[1])[None, :]]
        ok = np.array_equal(picked, np.asarray(Y)[full])
    if not ok:
        failures.append(f"{what}: arg indices do not name each output's winning edge")


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench gnn", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graphs", default="cora,soc-Slashdot0902,coAuthorsDBLP",
                   help="comma-separated: cora or folders of the shared data (default: %(default)s)")
    p.add_argument("-k", "--k", type=count(), default=64, help="feature width (default: %(default)s)")
    p.add_argument("--threads", type=count(), default=2,
                   help="threads of pysparsegraph and torch (scipy and NumPy run on one) (default: %(default)s)")
    p.add_argument("--repeats", type=count(), default=7)
    p.add_argument("--skip-baselines", action="store_true", help="only the transpose ratios")
    add_wait_policy(p)
    args = p.parse_args(argv)
    check_graphs(p, args.graphs)
    print(apply_wait_policy(args, "gnn", argv))
    import scipy.sparse as sp

    torch = _torch()
    if torch is not None:
        import warnings

        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        torch.set_num_threads(args.threads)
    t, k = args.threads, args.k
    frows, trows, rrows, srows, brows, failures = [], [], [], [], [], []
    for name in args.graphs.split(","):
        A = load_graph(name)
        if A.n_rows != A.n_cols:
            continue
        rng = np.random.default_rng(0)
        X = rng.standard_normal((A.n_cols, k)).astype(np.float32)
        S = A.to_scipy(np.float32)
        gnn.spmm_transpose(A, X, n_threads=t)      # build and cache the transposed structure once
        tbytes = gnn.transpose_nbytes(A)

        # ---- fused options vs the plain sum (same plan)
        ev = rng.uniform(0.5, 1.5, A.nnz).astype(np.float32)
        eh = rng.uniform(0.5, 1.5, (A.nnz, 8)).astype(np.float32)    # K must be a multiple of 8
        Yre, Are = psg.empty_aligned((A.n_rows, k)), np.empty((A.n_rows, k), np.int64)  # one training step's arrays
        fns = {
            "plain sum": lambda: psg.spmm(A, X, n_threads=t),
            "norm=sym + self loops": lambda: psg.spmm(A, X, norm="sym", add_self_loops=True, n_threads=t),
            "norm=row": lambda: psg.spmm(A, X, norm="row", n_threads=t),
            "reduce=mean": lambda: psg.spmm(A, X, reduce="mean", n_threads=t),
            "edge_values (nnz,)": lambda: psg.spmm(A, X, edge_values=ev, n_threads=t),
            "edge_values (nnz, 8 heads)": lambda: psg.spmm(A, X, edge_values=eh, n_threads=t),
            "reduce=max": lambda: psg.spmm(A, X, reduce="max", n_threads=t),
            "reduce=max + argidx": lambda: psg.spmm(A, X, reduce="max", return_argidx=True, n_threads=t),
            "reduce=max + argidx, reused out= and argidx_out=": lambda: psg.spmm(
                A, X, Yre, reduce="max", return_argidx=True, argidx_out=Are, n_threads=t),
            "reduce=min + self loops": lambda: psg.spmm(A, X, reduce="min", add_self_loops=True, n_threads=t),
            "int64 argidx alone (np.full)": lambda: np.full((A.n_rows, k), -1, np.int64),
        }
        res = warm_state_medians(fns, args.repeats)
        S64, X64 = S.astype(np.float64), X.astype(np.float64)
        deg = np.diff(A.indptr)
        # norm="sym" is D_out^-1/2 A D_in^-1/2 (row and column sums, here with the self loop): the two
        # differ on a directed graph such as soc-Slashdot0902
        L64 = S64 + sp.eye_array(A.n_rows)
        d_out, d_in = np.asarray(L64.sum(axis=1)).ravel(), np.asarray(L64.sum(axis=0)).ravel()
        Sn64 = sp.csr_array(sp.diags_array(d_out ** -0.5) @ L64 @ sp.diags_array(d_in ** -0.5))
        Srow64 = sp.csr_array(sp.diags_array(1.0 / np.where(deg > 0, deg, 1)) @ S64)
        Sev64 = sp.csr_array((ev.astype(np.float64), A.indices, A.indptr), shape=A.shape)
        # 8 heads: head h weights features [h*k/8, (h+1)*k/8) of each edge
        heads64 = np.hstack([sp.csr_array((eh[:, h].astype(np.float64), A.indices, A.indptr), shape=A.shape)
                             @ X64[:, h * k // 8:(h + 1) * k // 8] for h in range(8)])
        L = sp.csr_array(L64)  # the pattern with every self loop
        max64, min64 = _segment(np.maximum, A.indptr, A.indices, X64), _segment(np.minimum, L.indptr, L.indices, X64)
        _check(fns, {"plain sum": S64 @ X64, "norm=sym + self loops": Sn64 @ X64, "norm=row": Srow64 @ X64,
                     "reduce=mean": Srow64 @ X64, "edge_values (nnz,)": Sev64 @ X64,
                     "edge_values (nnz, 8 heads)": heads64, "reduce=max": max64, "reduce=max + argidx": max64,
                     "reduce=max + argidx, reused out= and argidx_out=": max64, "reduce=min + self loops": min64},
               f"{name} fused", failures)
        _check_argidx(fns["reduce=max + argidx"], A, X, f"{name} fused argidx", failures)
        base = res["plain sum"][0]
        for op, (med, spread) in res.items():
            frows.append([name, A.nnz, k, op, f"{med * 1e3:.2f}", f"{spread:.2f}", f"{med / base:.2f}"])

        # ---- transpose vs forward
        fns = {
            "sum fwd": lambda: psg.spmm(A, X, n_threads=t),
            "sum T": lambda: gnn.spmm_transpose(A, X, n_threads=t),
            "gcn fwd": lambda: psg.spmm(A, X, norm="sym", add_self_loops=True, n_threads=t),
            "gcn T": lambda: gnn.spmm_transpose(A, X, norm="sym", add_self_loops=True, n_threads=t),
            "max fwd": lambda: psg.spmm(A, X, reduce="max", n_threads=t),
            "max T": lambda: gnn.spmm_transpose(A, X, reduce="max", n_threads=t),
            "scipy S.T@X": lambda: S.T @ X,
        }
        res = warm_state_medians(fns, args.repeats)
        _check(fns, {"sum fwd": S64 @ X64, "sum T": S64.T @ X64, "gcn fwd": Sn64 @ X64, "gcn T": Sn64.T @ X64,
                     "scipy S.T@X": S64.T @ X64}, f"{name} transpose", failures)
        for op in ("sum", "gcn", "max"):
            f, tr = res[f"{op} fwd"][0], res[f"{op} T"][0]
            trows.append([name, A.nnz, k, op, f"{f * 1e3:.2f}", f"{tr * 1e3:.2f}", f"{tr / f:.2f}",
                          f"{res['scipy S.T@X'][0] * 1e3:.2f}" if op == "sum" else "",
                          f"{tbytes / 2**20:.1f} MiB ({tbytes / A.nbytes:.1f}x A)" if op == "sum" else ""])
        if args.skip_baselines:
            continue

        # ---- reducers
        rows_of = np.repeat(np.arange(A.n_rows), np.diff(A.indptr))
        cols = A.indices.astype(np.int64)
        Smean = sp.csr_array(sp.diags_array(1.0 / np.maximum(deg, 1)).astype(np.float32) @ S)

        def np_reduceat(ufunc):  # the NumPy peer: gather + segment reduce
            return _segment(ufunc, A.indptr, cols, X)

        fns = {}
        for red in ("sum", "mean", "max", "min"):
            fns[f"{red}|pysparsegraph"] = (lambda red=red: psg.spmm(A, X, reduce=red, n_threads=t))
        fns["sum|scipy"] = lambda: S @ X
        fns["mean|scipy (pre-normalized A)"] = lambda: Smean @ X
        fns["max|numpy gather+reduceat"] = lambda: np_reduceat(np.maximum)
        fns["min|numpy gather+reduceat"] = lambda: np_reduceat(np.minimum)
        if torch is not None:
            Tc = torch.sparse_csr_tensor(torch.from_numpy(np.array(A.indptr)), torch.from_numpy(cols),
                                         torch.ones(A.nnz), size=A.shape, check_invariants=False)
            Tx = torch.from_numpy(X)
            ridx = torch.from_numpy(rows_of).unsqueeze(1).expand(-1, k)
            cidx = torch.from_numpy(cols)
            for red, tred in (("sum", "sum"), ("mean", "mean"), ("max", "amax"), ("min", "amin")):
                fns[f"{red}|torch.sparse.mm reduce={tred}"] = (
                    lambda tred=tred: torch.sparse.mm(Tc, Tx, reduce=tred) if tred != "sum" else torch.sparse.mm(Tc, Tx))
                fns[f"{red}|torch gather+scatter_reduce"] = (
                    lambda tred=tred: torch.zeros(A.n_rows, k).scatter_reduce(0, ridx, Tx[cidx], tred,
                                                                            include_self=False))
        res = warm_state_medians(fns, args.repeats)
        _check(fns, {"sum": S64 @ X64, "mean": Srow64 @ X64, "max": np_reduceat(np.maximum).astype(np.float64),
                     "min": np_reduceat(np.minimum).astype(np.float64)}, f"{name} reducers", failures)
        for key, (med, spread) in res.items():
            red, tool = key.split("|")
            mine = res[f"{red}|pysparsegraph"][0]
            rrows.append([name, k, red, tool, f"{med * 1e3:.2f}", f"{spread:.2f}",
                          "" if tool == "pysparsegraph" else f"{med / mine:.2f}x"])

        # ---- sddmm and edge softmax
        Y = rng.standard_normal((A.n_cols, k)).astype(np.float32)
        s = rng.standard_normal(A.nnz).astype(np.float32)

        def np_softmax():
            m = np.full(A.n_rows, -np.inf, np.float32)
            np.maximum.at(m, rows_of, s)
            e = np.exp(s - m[rows_of])
            z = np.bincount(rows_of, weights=e, minlength=A.n_rows)
            return e / z[rows_of]

        fns = {"sddmm|pysparsegraph": lambda: gnn.sddmm(A, X, Y, n_threads=t),
               "sddmm|numpy gather": lambda: np.einsum("ij,ij->i", X[rows_of], Y[cols]),
               "edge_softmax|pysparsegraph": lambda: gnn.edge_softmax(A, s, n_threads=t),
               "edge_softmax|numpy segments": np_softmax}
        if torch is not None:
            Ty = torch.from_numpy(Y)
            fns["sddmm|torch.sparse.sampled_addmm"] = lambda: torch.sparse.sampled_addmm(Tc, Tx, Ty.T, beta=0.0)
        res = warm_state_medians(fns, args.repeats)
        m64 = np.full(A.n_rows, -np.inf)
        np.maximum.at(m64, rows_of, s.astype(np.float64))
        soft = np.exp(s.astype(np.float64) - m64[rows_of])
        soft /= np.bincount(rows_of, weights=soft, minlength=A.n_rows)[rows_of]
        _check(fns, {"sddmm": np.einsum("ij,ij->i", X64[rows_of], Y.astype(np.float64)[cols]), "edge_softmax": soft},
               f"{name} sddmm/softmax", failures)
        for key, (med, spread) in res.items():
            op, tool = key.split("|")
            mine = res[f"{op}|pysparsegraph"][0]
            srows.append([name, k, op, tool, f"{med * 1e3:.2f}", f"{spread:.2f}",
                          "" if tool == "pysparsegraph" else f"{med / mine:.2f}x"])

        # ---- forward + backward of a GCN aggregation
        if torch is not None:
            G = rng.standard_normal((A.n_rows, k)).astype(np.float32)

            def psg_fb():
                psg.spmm(A, X, norm="sym", add_self_loops=True, n_threads=t)
                return gnn.spmm_backward(A, G, norm="sym", add_self_loops=True, n_threads=t)

            Sn = Sn64.astype(np.float32)  # the same D_out^-1/2 (A + I) D_in^-1/2, normalized once outside the timing
            Tn = torch.sparse_csr_tensor(torch.from_numpy(Sn.indptr.astype(np.int64)),
                                         torch.from_numpy(Sn.indices.astype(np.int64)), torch.from_numpy(Sn.data),
                                         size=A.shape, check_invariants=False)
            Tg = torch.from_numpy(G)

            def torch_fb():
                xx = Tx.clone().requires_grad_(True)
                y = torch.sparse.mm(Tn, xx)
                y.backward(Tg)
                return xx.grad

            fns = {"pysparsegraph (fused norm)": psg_fb, "torch.sparse.mm + autograd (pre-normalized A)": torch_fb}
            try:
                from pysparsegraph.torch import spmm as tspmm
            except ImportError:
                tspmm = None
            if tspmm is not None:
                def psg_torch_fb():
                    xx = Tx.clone().requires_grad_(True)
                    y = tspmm(A, xx, norm="sym", add_self_loops=True)
                    y.backward(Tg)
                    return xx.grad

                fns["pysparsegraph.torch.spmm + autograd"] = psg_torch_fb
            res = warm_state_medians(fns, args.repeats)
            gcn_grad = Sn64.T @ G.astype(np.float64)
            _check(fns, {tool: gcn_grad for tool in fns}, f"{name} gcn backward", failures)
            mine = res["pysparsegraph (fused norm)"][0]
            for tool, (med, spread) in res.items():
                brows.append([name, k, "gcn sum", tool, f"{med * 1e3:.2f}", f"{spread:.2f}", f"{med / mine:.2f}x"])

            # max aggregation (GraphSAGE-pool style): arg indices from the forward route the gradient
            def psg_max_fb():
                _, arg = psg.spmm(A, X, reduce="max", return_argidx=True, n_threads=t)
                return gnn.spmm_backward(A, G, reduce="max", argidx=arg, n_threads=t)

            def torch_max_fb():
                xx = Tx.clone().requires_grad_(True)
                torch.sparse.mm(Tc, xx, reduce="amax").backward(Tg)
                return xx.grad

            fns = {"pysparsegraph": psg_max_fb, "torch.sparse.mm reduce=amax + autograd": torch_max_fb}
            if tspmm is not None:
                def psg_torch_max_fb():
                    xx = Tx.clone().requires_grad_(True)
                    tspmm(A, xx, reduce="max").backward(Tg)
                    return xx.grad

                fns["pysparsegraph.torch.spmm + autograd"] = psg_torch_max_fb
            res = warm_state_medians(fns, args.repeats)
            # the gradient of a row's max goes to the X row of its winning entry (random normal X: no ties;
            # the winners from NumPy: the entry of each row and column equal to the row's max)
            vals = X[cols]
            win = vals == np.repeat(np_reduceat(np.maximum)[deg > 0], deg[deg > 0], axis=0)
            max_grad = np.zeros((A.n_cols, k))
            e_idx, c_idx = np.nonzero(win)
            np.add.at(max_grad, (cols[e_idx], c_idx), G.astype(np.float64)[rows_of[e_idx], c_idx])
            _check(fns, {tool: max_grad for tool in fns}, f"{name} max backward", failures)
            mine = res["pysparsegraph"][0]
            for tool, (med, spread) in res.items():
                brows.append([name, k, "max", tool, f"{med * 1e3:.2f}", f"{spread:.2f}", f"{med / mine:.2f}x"])

    print(f"## Fused GNN options vs the plain sum (float32, K={k}, {t} threads, median of {args.repeats})\n")
    print(markdown_table(["graph", "nnz", "K", "op", "median ms", "IQR/med", "ratio to plain sum"], frows))
    print(f"\n## Transpose vs forward (float32, K={k}, {t} threads, median of {args.repeats})\n")
    print(markdown_table(["graph", "nnz", "K", "op", "A@X ms", "Aᵀ@X ms", "ratio T/fwd", "scipy S.T@X ms",
                          "cached transpose"], trows))
    if rrows:
        print(f"\n## Reducers ({t} threads; 'vs psg' = peer time / pysparsegraph time)\n")
        print(markdown_table(["graph", "K", "reduce", "tool", "median ms", "IQR/med", "vs psg"], rrows))
        print(f"\n## SDDMM (dot) and edge softmax ({t} threads)\n")
        print(markdown_table(["graph", "K", "op", "tool", "median ms", "IQR/med", "vs psg"], srows))
    if brows:
        print(f"\n## Forward + backward: GCN aggregation D^-1/2 (A+I) D^-1/2 X, and max aggregation ({t} threads)\n")
        print(markdown_table(["graph", "K", "aggregation", "tool", "median ms", "IQR/med", "vs psg"], brows))
    print("\nevery checked output (tables 1 and 2 against scipy/NumPy float64 math where it has an equivalent, "
          "every tool of the others) after timing: "
          + ("\n  ".join([f"{len(failures)} off by more than 1e-4 of the largest value:"] + failures) if failures
             else "all within 1e-4 of the largest value"))
    return 1 if failures else 0
