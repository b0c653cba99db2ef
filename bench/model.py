"""``python -m bench model``: sparse-weight layers beside dense and sparse peers.

Two parts (``--part ffn,dnn``):

ffn
    One linear layer ``Y = X W^T + b`` of MiniLM's FFN shapes (out × in =
    1536×384, 384×1536, 384×384) at batch 128 and 512, weights pruned by
    magnitude at 50–95% sparsity (random Gaussian weights: the speed depends
    on the pattern's density, not on the values). Tools, side by side in one
    run with interleaved repetitions (medians):
    numpy dense (OpenBLAS sgemm, ``X @ W.T + b``), torch dense
    (``F.linear``), scipy CSR (``W @ Xt``), torch sparse CSR
    (``torch.sparse.mm``), MKL sparse (``sparse_dot_mkl``, if it loads) and
    pysparsegraph (``SparseLinear.forward_t``: the feature-major layout that
    :class:`SparseSequential` keeps between layers; bias fused; at 90% also
    ``SparseLinear.forward`` on the row-major X, both transposes included). Peers
    without a bias epilogue skip the bias add. The sparse peers also get the
    feature-major operand ``Xt`` (their best layout for CSR × dense). Run at
    1 and 2 threads (scipy has no threads); each thread count is its own
    phase, and tools are timed in blocks separated by pauses (see
    blocked_medians) so idle workers of one runtime do not spin into the next.
    Each case also gets a load floor measured in the same run (layer_floor:
    the kept weights' input rows loaded from the packed batch tiles, nothing
    else), and "bound" = fastest dense / floor, the most a kernel that walks
    W row by row, loading each kept weight's inputs once, can gain over dense.
ablation
    pysparsegraph's own kernel choices per sparsity and thread count: uint16 vs
    int32 column ids, AVX-512 vs AVX2 vs portable C, 4- vs 8-vector batch
    tiles, feature blocks off (PSG_SL_NV, PSG_SL_FB: experiment-only
    overrides of the C driver), and the cost of a fused GELU epilogue.
dnn
    Sparse DNN Graph Challenge inference (30 layers of 1024 neurons, 1200
    inputs): edges/s = 1200 · 32768 · 30 / time, beside scipy
    (sparse Y @ W + elementwise) and python-graphblas (plus_times mxm +
    apply + select), as in the challenge's reference implementations.

For a fair comparison with numpy unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
for this command only (``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE``); the
BLAS kernel in use is printed (threadpoolctl).
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np

from bench.common import (add_wait_policy, apply_wait_policy, count, counts, fractions, markdown_table,
                          median_spread, non_negative, one_of, placed, timed_block)
from bench.peers import as_array, poison, rel_error


def blocked_medians(fns, repeats, rounds=2, pause=0.25, min_block_s=0.0):
    """Median seconds per tool, timed in blocks: each round runs every tool for
    repeats/rounds calls (after one warm-up call; more until ``min_block_s``
    seconds are spent, see bench.common.timed_block) and then sleeps ``pause``
    seconds so the idle workers of that tool's thread pool (OpenBLAS, MKL's and
    torch's OpenMP runtimes spin for up to ~200 ms after a parallel call) are
    asleep before the next tool runs. Call-by-call interleaving would make each
    tool compete with the spinning workers of the previous one on 2 cores.
    Rounds still interleave the tools so slow drifts of the machine hit all."""
    times = {name: [] for name in fns}
    per_round = max(1, -(-repeats // rounds))
    for _ in range(rounds):
        for name, fn in fns.items():
            fn()
            times[name] += timed_block(fn, per_round, min_block_s)
            time.sleep(pause)
    return median_spread(times)


def _threadpool_line():
    try:
        from threadpoolctl import threadpool_info
        return "; ".join(f"{i['internal_api']} {i.get('version') or ''} arch={i.get('architecture')} "
                         f"threads={i['num_threads']}" for i in threadpool_info())
    except Exception as e:  # pragma: no cover
        return f"threadpoolctl unavailable ({e})"


def _peers():
    peers = {}
    try:
        import torch
        peers["torch"] = torch
    except ImportError:
        pass
    try:
        from sparse_dot_mkl import dot_product_mkl
        import scipy.sparse as sps
        dot_product_mkl(sps.eye(4, format="csr", dtype=np.float32), np.ones((4, 2), np.float32))
        peers["mkl"] = dot_product_mkl
    except Exception as e:  # ImportError, or the MKL runtime is missing
        print(f"(sparse_dot_mkl not usable here: {type(e).__name__}: {str(e).splitlines()[0][:100]})")
    return peers


def layer_floor(idx, xt, threads, tile, lanes):
    """Seconds for the input loads alone of a sparse layer ``W @ Xt``: for every
    kept weight, in storage order, its input row of each batch tile of ``tile``
    columns (padded to whole vectors of ``lanes``), loaded from a packed,
    64-byte-aligned copy of that tile (what the kernel reads) and nothing
    else: no FMAs, no packing, no output (the gather probe of the SpMM suite,
    see bench/suite.py). At unstructured sparsity two rows of W rarely share
    a column, so a kernel that walks W row by row loads each kept weight's
    inputs once: fastest dense / floor estimates the most such a kernel can
    gain over dense (an estimate: the best of several passes, timed apart from
    the tools). Kernels that revisit L1-sized blocks of the tile (the
    dense-row feature blocks) can beat the floor, which then bounds nothing.
    idx: W's int32 column ids. None without entries."""
    import pysparsegraph as psg
    if idx is None or not idx.size:
        return None
    total = 0.0
    for c0 in range(0, xt.shape[1], tile):
        w = min(tile, xt.shape[1] - c0)
        packed = psg.empty_aligned((xt.shape[0], -(-w // lanes) * lanes), np.float32)
        packed[:, :w] = xt[:, c0:c0 + w]
        packed[:, w:] = 0
        total += _gather_best(packed, idx, threads)
    return total


def _gather_best(x32, idx, threads):
    """Seconds of the fastest of several passes of the suite's gather probe over
    rows ``idx`` of ``x32`` (each pass with and without prefetch)."""
    from pysparsegraph import _core
    reps = int(min(200, max(8, 3e7 // (idx.size * x32.shape[1]))))  # 8+ passes each way: a noisy VM
    return idx.size * x32.shape[1] * 4 / _core.probe_gather(x32, idx, reps, threads)[0] / 1e9


def _check_ffn(fns, x, w, b, layers, threads, what):
    """Names (with ``what``) of the tools of an ffn case whose output, from one more
    call, is off float64 math by more than 1e-4 of the reference's largest value:
    dense tools compute x W^T + b with the unpruned W, the sparse peers S Xt (no
    bias), pysparsegraph S Xt + b (forward_t) or its transpose (forward)."""
    from threadpoolctl import threadpool_limits

    x64, xt64 = x.astype(np.float64), x.T.astype(np.float64)
    dense = x64 @ w.astype(np.float64).T + b
    bad = []
    for name, fn in fns.items():
        if "dense" in name:
            ref = dense
        else:
            sp = float(name.split()[-1])
            plain = layers[sp][1].astype(np.float64) @ xt64
            ref = (plain + b[:, None]) if name.startswith("psg") else plain
            if "row-major" in name:
                ref = ref.T
        poison(fn)
        with threadpool_limits(threads):
            got = as_array(fn())
        err = rel_error(got, ref)
        if not err <= 1e-4:
            bad.append(f"{what} {name} (error {err:.1e})")
    return bad


def run_ffn(args):
    import scipy.sparse as sps
    from threadpoolctl import threadpool_limits

    from pysparsegraph import prune
    from pysparsegraph.nn import SparseLinear, kernel_isa

    peers = _peers()
    torch = peers.get("torch")
    mkl = peers.get("mkl")
    isa = kernel_isa()
    print(f"pysparsegraph kernel: {isa}; BLAS: {_threadpool_line()}")
    # the kernel's batch tile (8 vectors) and vector width; the portable kernel takes the batch whole
    lanes = {"avx512": 16, "avx2": 8}.get(isa, 1)
    shapes, batches, sparsities, threads = args.shapes, args.batch, args.sparsity, args.threads
    offset = args.x_offset
    print(f"X and Xt start {offset} bytes past a 64-byte boundary (--x-offset)")
    rows, summary, failures = [], [], []
    for (out_f, in_f) in shapes:
        rng = np.random.default_rng(0)
        w = rng.standard_normal((out_f, in_f)).astype(np.float32)
        b = rng.standard_normal(out_f).astype(np.float32)
        layers = {}
        for s in sparsities:
            keep = prune.prune(w, s)
            csr = prune.to_csr(w, keep)
            layers[s] = (SparseLinear(csr, b), csr.to_scipy().astype(np.float32))
        for batch in batches:
            x = placed(rng.standard_normal((batch, in_f)).astype(np.float32), offset)
            xt = placed(np.ascontiguousarray(x.T), offset)
            yt = np.empty((out_f, batch), np.float32)
            for t in threads:
                fns = {}
                with threadpool_limits(t):
                    fns["numpy dense"] = lambda: np.add(x @ w.T, b)
                    if torch is not None:
                        tw, tb, tx, txt = (torch.from_numpy(w), torch.from_numpy(b), torch.from_numpy(x),
                                           torch.from_numpy(xt))
                        torch.set_num_threads(t)
                        fns["torch dense"] = lambda: torch.nn.functional.linear(tx, tw, tb)
                    for s in sparsities:
                        layer, S = layers[s]
                        fns[f"psg {s:.2f}"] = (lambda layer=layer: layer.forward_t(xt, out=yt, n_threads=t))
                        fns[f"psg {s:.2f}"].out = yt  # shared by the sparsities: poisoned before each check
                        if abs(s - 0.9) < 1e-9:  # row-major in and out: forward() incl. both transposes
                            fns["psg row-major 0.90"] = (lambda layer=layer: layer.forward(x, n_threads=t))
                        fns[f"scipy {s:.2f}"] = (lambda S=S: S @ xt)
                        if torch is not None:  # int32 ids and a preallocated output, as in the SpMM suite
                            tS = torch.sparse_csr_tensor(torch.from_numpy(S.indptr.astype(np.int32)),
                                                         torch.from_numpy(S.indices.astype(np.int32)),
                                                         torch.from_numpy(S.data), size=S.shape)
                            tout = torch.empty((out_f, batch), dtype=torch.float32)
                            fns[f"torch.sparse {s:.2f}"] = (lambda tS=tS, tout=tout: torch.mm(tS, txt, out=tout))
                            fns[f"torch.sparse {s:.2f}"].out = tout
                        if mkl is not None:
                            fns[f"mkl {s:.2f}"] = (lambda S=S: mkl(S, xt))
                    res = blocked_medians(fns, args.repeats, rounds=args.rounds, pause=args.pause,
                                          min_block_s=args.min_block_ms / 1e3)
                dense_best = min(v[0] for k, v in res.items() if "dense" in k)
                for s in sparsities:
                    psg_t = res[f"psg {s:.2f}"][0]
                    floor = layer_floor(layers[s][1].indices.astype(np.int32), xt, t,
                                        8 * lanes if lanes > 1 else batch, lanes)
                    sparse_peers = {k.split()[0]: v[0] for k, v in res.items()
                                    if k.endswith(f"{s:.2f}") and not k.startswith("psg")}
                    rm = res.get("psg row-major 0.90") if abs(s - 0.9) < 1e-9 else None
                    best_sparse_name = min(sparse_peers, key=sparse_peers.get)
                    row = [f"{out_f}x{in_f}", batch, t, f"{s:.0%}", f"{res['numpy dense'][0] * 1e3:.3f}",
                           f"{res['torch dense'][0] * 1e3:.3f}" if "torch dense" in res else "-",
                           f"{psg_t * 1e3:.3f}"]
                    for name in ("scipy", "torch.sparse", "mkl"):
                        row.append(f"{sparse_peers[name] * 1e3:.3f}" if name in sparse_peers else "-")
                    row += [f"{dense_best / psg_t:.2f}x", f"{sparse_peers[best_sparse_name] / psg_t:.2f}x "
                            f"({best_sparse_name})"]
                    row.append(f"{rm[0] * 1e3:.3f} ({dense_best / rm[0]:.2f}x)" if rm else "")
                    row += [f"{floor * 1e3:.4f}", f"{floor / psg_t:.2f}", f"{dense_best / floor:.2f}x"] if floor else \
                        ["-", "-", "-"]
                    rows.append(row)
                    summary.append((out_f, in_f, batch, t, s, dense_best / psg_t,
                                    sparse_peers[best_sparse_name] / psg_t, dense_best / floor if floor else None))
                failures += _check_ffn(fns, x, w, b, layers, t, f"{out_f}x{in_f} batch {batch} {t}T")
    print(markdown_table(["W (out×in)", "batch", "threads", "sparsity", "numpy dense ms", "torch dense ms", "psg ms",
                          "scipy ms", "torch.sparse ms", "mkl ms", "psg vs best dense", "psg vs best sparse",
                          "psg forward() row-major ms (vs best dense)", "load floor ms", "floor / psg",
                          "bound: best dense / floor"],
                         rows))
    # break-even sparsity per config: the lowest measured sparsity where psg beats the fastest dense
    print("\nbreak-even (lowest measured sparsity with psg faster than the fastest dense), and 90% ratios:")
    keys = sorted({(o, i, bt, t) for o, i, bt, t, *_ in summary})
    lines = []
    for k in keys:
        sub = [r for r in summary if r[:4] == k]
        be = next((f"{r[4]:.0%}" for r in sorted(sub, key=lambda r: r[4]) if r[5] >= 1.0), "not reached")
        r90 = next((r for r in sub if abs(r[4] - 0.9) < 1e-9), None)
        lines.append([f"{k[0]}x{k[1]}", k[2], k[3], be, f"{r90[5]:.2f}x" if r90 else "-",
                      f"{r90[6]:.2f}x" if r90 else "-", f"{r90[7]:.2f}x" if r90 and r90[7] else "-"])
    print(markdown_table(["W (out×in)", "batch", "threads", "break-even", "90%: vs best dense",
                          "90%: vs best sparse", "90%: bound vs best dense"], lines))
    print("\nevery timed tool's output after timing, against float64 math on the same weights: "
          + (f"{len(failures)} differ by more than 1e-4 of the largest value:\n  " + "\n  ".join(failures)
             if failures else "all within 1e-4 of the largest value"))
    return len(failures)
    bounds = [r[7] for r in summary if abs(r[4] - 0.9) < 1e-9 and r[7]]
    if bounds:
        print(f"\n90%: the load floor leaves at least 4x over the fastest dense path in {sum(b >= 4.0 for b in bounds)} "
              f"of {len(bounds)} cases (no kernel that walks W row by row, loading each kept weight's inputs "
              f"once from the packed tile, can be faster than the floor)")


def run_ablation(args):
    """Kernel choices per sparsity and thread count: index width, ISA, batch-tile width,
    feature blocks, fused GELU."""
    from pysparsegraph import prune
    from pysparsegraph.nn import SparseLinear, isa_supported

    rows, failures = [], []
    for s in args.sparsity:
        for out_f, in_f in args.shapes:
            shape = f"{out_f}x{in_f}"
            rng = np.random.default_rng(0)
            w = rng.standard_normal((out_f, in_f)).astype(np.float32)
            csr = prune.to_csr(w, prune.prune(w, s))
            l16, l32 = SparseLinear(csr, index_dtype="uint16"), SparseLinear(csr, index_dtype="int32")
            l16g = SparseLinear(csr, index_dtype="uint16", activation="gelu")
            for batch in args.batch:
                xt = rng.standard_normal((in_f, batch)).astype(np.float32)
                yt = np.empty((out_f, batch), np.float32)
                for threads in args.threads:
                    def run(layer, isa="auto", nv=None, fb=None):
                        def f():
                            for name, v in (("PSG_SL_NV", nv), ("PSG_SL_FB", fb)):
                                if v is None:
                                    os.environ.pop(name, None)
                                else:
                                    os.environ[name] = v
                            layer.forward_t(xt, out=yt, n_threads=threads, isa=isa)
                        return f
                    fns = {"default (uint16, auto ISA, auto tile)": run(l16), "int32 ids": run(l32),
                           "tile 4 vectors": run(l16, nv="4"), "tile 8 vectors": run(l16, nv="8"),
                           "no feature blocks": run(l16, fb="0"), "with GELU epilogue": run(l16g)}
                    for isa in ("avx2", "portable"):
                        if isa_supported(isa):
                            fns[f"{isa} kernel"] = run(l16, isa=isa)
                    res = blocked_medians(fns, args.repeats, rounds=args.rounds, pause=0.05,
                                          min_block_s=args.min_block_ms / 1e3)
                    plain = csr.to_scipy().astype(np.float64) @ xt.astype(np.float64)
                    for name, fn in fns.items():  # every variant's output, against float64 math
                        yt.fill(np.nan)  # shared by the variants: what this call writes, not the last one's
                        fn()
                        ref = _gelu(plain) if "GELU" in name else plain
                        err = rel_error(yt, ref)
                        if not err <= 1e-4:
                            failures.append(f"ablation {shape} {s:.0%} batch {batch} {threads}T {name} "
                                            f"(error {err:.1e})")
                    os.environ.pop("PSG_SL_NV", None)
                    os.environ.pop("PSG_SL_FB", None)
                    base = res["default (uint16, auto ISA, auto tile)"][0]
                    for k, (med, _) in res.items():
                        rows.append([shape, batch, threads, f"{s:.0%}", k, f"{med * 1e3:.3f}",
                                     f"{med / base:.2f}"])
    print(markdown_table(["W (out×in)", "batch", "threads", "sparsity", "variant", "median ms", "time / default"],
                         rows))
    print("every variant's output against float64 math: "
          + ("\n  ".join([f"{len(failures)} differ by more than 1e-4:"] + failures) if failures else "all within 1e-4"))
    return len(failures)


def _gelu(y):
    """Exact (erf) GELU of a float64 array, the reference of the fused epilogue."""
    from scipy.special import erf
    return 0.5 * y * (1.0 + erf(y / np.sqrt(2.0)))


def _read_mtx_gz(path):
    import scipy.io
    import scipy.sparse as sps
    with gzip.open(path) as f:
        return sps.csr_matrix(scipy.io.mmread(f))


def run_dnn(args):
    import scipy.sparse as sps
    from threadpoolctl import threadpool_limits

    from pysparsegraph.datasets import shared_data_dir
    from pysparsegraph.nn import SparseLinear, SparseSequential

    root = shared_data_dir()
    if root is None:
        raise SystemExit("shared data folder not found: set PYSPARSEGRAPH_DATA")
    d = os.path.join(root, "sparse-dnn-graphchallenge")
    ws = [_read_mtx_gz(os.path.join(d, f"n1024-l{i}.mtx.gz")).astype(np.float32) for i in range(1, 31)]
    y0 = _read_mtx_gz(os.path.join(d, "sparse-images-1024_subset.mtx.gz")).astype(np.float32)
    cats = np.sort(_read_mtx_gz(os.path.join(d, "neuron1024-l120-categories_subset.mtx.gz")).tocoo().row)
    edges = y0.shape[0] * sum(w.nnz for w in ws)
    bias = np.full(1024, -0.3, np.float32)
    layers = [SparseLinear(w.T.tocsr(), bias, activation="relu", clamp_max=32.0) for w in ws]
    net_drop = SparseSequential(layers, drop_dead=True)
    net_full = SparseSequential(layers)
    x = y0.toarray()
    xt = np.ascontiguousarray(x.T)

    def scipy_run():
        y = y0
        for w in ws:
            z = y @ w
            z.data -= 0.3
            np.clip(z.data, 0.0, 32.0, out=z.data)
            z.eliminate_zeros()
            y = z
        return y

    fns = {"scipy (1T)": scipy_run}
    try:
        import graphblas as gb
        from graphblas import binary, select, semiring
        gws = [gb.io.from_scipy_sparse(w) for w in ws]
        gy0 = gb.io.from_scipy_sparse(y0)

        def gb_run():
            y = gy0
            for w in gws:
                z = y.mxm(w, semiring.plus_times).new()
                z << z.apply(binary.plus, right=-0.3)
                z << select.valuegt(z, 0.0)
                z << z.apply(binary.min, right=32.0)
                y = z
            return y
        have_gb = True
    except ImportError:
        have_gb = False
        print("(python-graphblas not installed)")
    rows = []
    check = {}
    for t in args.threads:
        with threadpool_limits(t):
            f = dict(fns) if t == 1 else {}
            if have_gb:
                gb.ss.config["nthreads"] = t
                f[f"GraphBLAS {t}T"] = gb_run
            f[f"psg {t}T (drop dead inputs)"] = (lambda: net_drop.forward_t(xt, n_threads=t))
            f[f"psg {t}T (all 1200 inputs)"] = (lambda: net_full.forward_t(xt, n_threads=t))
            res = blocked_medians(f, args.repeats, rounds=args.rounds, pause=args.pause,
                                  min_block_s=args.min_block_ms / 1e3)
        check.update(res)
        for k, (med, spread) in res.items():
            rows.append([k, f"{med * 1e3:.1f}", f"{spread:.2f}", f"{edges / med / 1e9:.2f}"])
    # every tool's final activations, after timing: the published categories, and the same values
    ys = scipy_run()
    outs = {"scipy": ys.toarray(), "psg (drop dead inputs)": net_drop.forward_t(xt).T,
            "psg (all 1200 inputs)": net_full.forward_t(xt).T}
    if have_gb:
        outs["GraphBLAS"] = gb_run().to_dense(fill_value=0)
    failures = []
    for name, y in outs.items():
        alive = np.flatnonzero((y != 0).any(axis=1))
        err = float(np.max(np.abs(y - outs["scipy"]))) / 32.0  # activations are clamped to [0, 32]
        if not (np.array_equal(alive, cats) and err <= 1e-4):
            failures.append(f"dnn {name}: {len(alive)} rows left (the categories list {len(cats)}), "
                            f"max difference from scipy {err * 32:.1e}")
    sc = check["scipy (1T)"][0]
    gbs = {k: v[0] for k, v in check.items() if k.startswith("GraphBLAS")}
    out = []
    for r in rows:
        med = float(r[1]) / 1e3
        out.append(r + [f"{sc / med:.2f}x", f"{min(gbs.values()) / med:.2f}x" if gbs else "-"])
    print(f"Sparse DNN Graph Challenge, 1024 neurons × 30 layers, 1200 inputs, edges = {edges:,} "
          f"(every tool's output leaves the {len(cats)} category rows and equals scipy's: "
          + ("; ".join(failures) if failures else "ok") + ")")
    print(markdown_table(["tool", "median ms", "IQR/med", "Gedges/s", "vs scipy", "vs best GraphBLAS"], out))
    return len(failures)


def _shapes(text):
    """argparse type: comma-separated OUTxIN layer shapes."""
    out = []
    for s in (v.strip() for v in text.split(",") if v.strip()):
        try:
            o, i = (int(v) for v in s.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected shapes like 1536x384, got {s!r}") from None
        if o < 1 or i < 1:
            raise argparse.ArgumentTypeError(f"expected positive sizes, got {s!r}")
        out.append((o, i))
    if not out:
        raise argparse.ArgumentTypeError("expected at least one shape")
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench model", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", type=one_of("ffn", "dnn", "ablation"), default="ffn,dnn",
                   help="comma-separated: ffn, dnn, ablation (kernel variants at each "
                        "--sparsity and --threads) (default: %(default)s)")
    p.add_argument("--shapes", type=_shapes, default="1536x384,384x1536,384x384",
                   help="out x in (default: %(default)s)")
    p.add_argument("--batch", type=counts(), default="128,512")
    p.add_argument("--sparsity", type=fractions, default="0.5,0.6,0.7,0.8,0.9,0.95")
    p.add_argument("--threads", type=counts(), default="1,2")
    p.add_argument("--repeats", type=count(), default=16)
    p.add_argument("--pause", type=non_negative, default=0.25, help="seconds of sleep between tool blocks")
    p.add_argument("--rounds", type=count(), default=2,
                   help="rounds over all tools (repeats are split among them)")
    p.add_argument("--x-offset", type=int, choices=(0, 16, 32, 48), default=0,
                   help="bytes past a 64-byte boundary where X and Xt start (ffn part). MKL's sparse product ran "
                        "1.8x faster with Xt on a line (0) than 16 bytes off, where NumPy often puts it, so a "
                        "fixed placement makes runs compare; the default, on a line, is MKL's best case")
    p.add_argument("--min-block-ms", type=non_negative, default=50.0,
                   help="each tool repeats its call in a block until this many ms are spent (at least "
                        "--repeats/--rounds calls); 0 = exactly that many calls")
    add_wait_policy(p)
    args = p.parse_args(argv)
    print(apply_wait_policy(args, "model", argv))
    t0 = time.time()
    parts = args.part
    wrong = 0
    if "ffn" in parts:
        wrong += run_ffn(args)
    if "dnn" in parts:
        wrong += run_dnn(args)
    if "ablation" in parts:
        wrong += run_ablation(args)
    print(f"\n(total {time.time() - t0:.0f} s)")
    if wrong:
        print(f"{wrong} output(s) wrong (listed above)", file=sys.stderr)
        return 1
    return 0
