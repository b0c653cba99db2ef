"""``python -m bench suite``: the SpMM benchmark suite of the performance core.

Real graphs of the shared data folder plus R-MAT (Graph500 a=0.57, b=0.19,
c=0.19) and Erdős–Rényi graphs generated in C, K in {16, 64, 256}, float32
(float64 for one K), 1 and 2 threads. Every installed peer (scipy.sparse,
python-graphblas, sparse_dot_mkl plain and inspector-executor, torch.sparse
CSR) is timed side by side with pysparsegraph, interleaved, in the same run,
next to this machine's ceilings measured in that run (triad bandwidth, a
random row-gather probe over the same X, and the gather floor: the same probe
over the graph's own column ids, which loads the rows an SpMM in storage
order must load and does nothing else). Per case: median, spread
(IQR/median), GFLOP/s, effective GB/s, speedup over each peer and over the
fastest one, fraction of the gather ceiling, and the gather floor with the
largest speedup over the fastest peer it leaves to a storage-order kernel.
Then: bfloat16 vs float32, an ablation (partition × schedule × layout) and a PNG of the speedups.

Subsets: --graphs, --k, --threads, --dtypes, --peers, --skip-ablation, --quick.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from bench.common import (count, counts, load_graph, markdown_table, median_spread, non_negative, one_of, placed,
                          timed_block)


def warm_state_medians(fns, repeats, rounds=2, pause=0.3, min_round_s=0.0):
    """Median and spread (IQR/median) per tool, each tool timed in its own
    warm state: a pause (idle OpenMP/MKL workers of the previous tool stop
    spinning), one warm-up call, then back-to-back repetitions. Tools take
    turns, in rotated order, over `rounds` rounds, so drifts of the machine
    hit every tool alike. Strict call-by-call interleaving is what
    bench/common.py does; it is unfair here because the runtimes of MKL and
    torch keep their workers spinning ~200 ms after a call, which steals the
    two cores from whichever tool runs next.

    `min_round_s`: each tool keeps calling in a round until it has spent at
    least this long (and made its share of `repeats`), like timeit's
    autorange. Without it, a call of 0.05 ms is timed three times right
    after the pause, which measures how fast the idle cores wake, not the
    call; every tool gets the same rule."""
    names = list(fns)
    times = {n: [] for n in names}
    per_round = max(1, -(-repeats // rounds))
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            getattr(fns[n], "activate", lambda: None)()  # its own thread count (peers overwrite each other's)
            time.sleep(pause)
            fns[n]()
            times[n] += timed_block(fns[n], per_round, min_round_s)
    return median_spread(times)


interleaved_medians = warm_state_medians
from bench.peers import available_peers

REAL = ["cora", "ego-Facebook", "soc-Slashdot0902", "coAuthorsDBLP", "cnr-2000", "uk-2007-05@100000",
        "delaunay_n17", "usa-road-FLA"]
POWER_LAW = {"soc-Slashdot0902", "coAuthorsDBLP", "cnr-2000", "uk-2007-05@100000", "ego-Facebook"}


def get_graph(name):
    """A real graph by folder name, or 'rmatS' / 'erS' (2**S nodes, 16 edges per node) made in C."""
    from pysparsegraph import generate
    if name.startswith("rmat"):
        return generate.rmat(int(name[4:]), 16, seed=1)
    if name.startswith("er"):
        return generate.erdos_renyi(1 << int(name[2:]), 16, seed=1)
    return load_graph(name)


def effective_bytes(A, k, xsize):
    """Bytes an SpMM must move at least once: A (indptr, indices), gathered X rows, Y."""
    return (A.n_rows + 1) * 8 + A.nnz * A.indices.itemsize + A.nnz * k * xsize + A.n_rows * k * xsize


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench suite", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graphs", default=",".join(REAL + ["rmat20", "er20"]))
    p.add_argument("--k", type=counts(), default="16,64,256")
    p.add_argument("--threads", type=counts(), default="1,2")
    p.add_argument("--dtypes", type=one_of("float32", "float64"), default="float32",
                   help="comma list; float64 runs only at --f64-k")
    p.add_argument("--f64-k", type=count(0), default=64, help="the K also run in float64 (0: none)")
    p.add_argument("--peers", default="scipy,graphblas,mkl,mkl-ie,torch")
    p.add_argument("--repeats", type=count(), default=7)
    p.add_argument("--rounds", type=count(), default=2,
                   help="turns each tool takes per case (the repeats are spread over them): more rounds spread "
                        "every tool over more of the machine's slow and fast spells")
    p.add_argument("--min-round-ms", type=non_negative, default=50.0,
                   help="each tool repeats its call in a round until this many ms are spent (at least "
                        "--repeats/2 calls): short calls get more samples; 0 = exactly --repeats")
    p.add_argument("--bf16-graphs", default="rmat20,soc-Slashdot0902,cnr-2000", help="'none' to skip")
    p.add_argument("--ablation-graphs", default="rmat20,cnr-2000,soc-Slashdot0902")
    p.add_argument("--skip-ablation", action="store_true")
    p.add_argument("--store-graphs", default="none",
                   help="graphs for the streaming-stores table (plain vs streaming stores of Y at every "
                        "--k and --threads); 'none' to skip")
    p.add_argument("--x-offset", type=int, default=16,
                   help="bytes past a 64-byte boundary where every case's X starts (default 16, where NumPy puts "
                        "large arrays; 0: on a line). Fixed, so that runs compare: left to the allocator, it "
                        "moved single cases by up to 1.8x")
    p.add_argument("--quick", action="store_true", help="cora,soc-Slashdot0902,rmat16; K=64; 3 repeats")
    p.add_argument("--out", default=os.path.join("bench", "out"), help="folder for .md/.json/.png results")
    p.add_argument("--wait-policy", default="passive", choices=["passive", "active", "inherit"],
                   help="OMP_WAIT_POLICY for every OpenMP runtime in the run (GNU: ours, GraphBLAS, torch; "
                        "Intel: MKL). passive (default): idle workers sleep at once, which on a shared, "
                        "oversubscribed machine avoids spinning threads holding the cores that a woken "
                        "worker needs; it is the same for every tool. 'inherit' keeps the environment's.")
    args = p.parse_args(argv)
    if not 0 <= args.x_offset < 64 or args.x_offset % 8:
        p.error(f"--x-offset must be a multiple of 8 in [0, 64) (float64 X too), got {args.x_offset}")
    if args.wait_policy != "inherit" and os.environ.get("OMP_WAIT_POLICY", "").lower() != args.wait_policy:
        # OpenMP runtimes read this once when loaded, so restart the process with it set
        os.environ["OMP_WAIT_POLICY"] = args.wait_policy
        os.execv(sys.executable, [sys.executable, "-m", "bench", "suite"] + list(
            argv if argv is not None else sys.argv[1:]))
    if args.quick:
        args.graphs, args.k, args.repeats = "cora,soc-Slashdot0902,rmat16", [64], 3
        args.bf16_graphs, args.ablation_graphs = "rmat16", "rmat16"
    import pysparsegraph as psg
    from pysparsegraph import _core

    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = os.path.join(args.out, f"suite-{stamp}")
    lines = []
    log = open(base + ".log", "w")

    def emit(s=""):
        # also written as we go, so a long run that is stopped keeps its results
        print(s, flush=True)
        log.write(s + "\n")
        log.flush()
        lines.append(s)

    threads, ks = args.threads, args.k
    peers, skipped = available_peers([s for s in args.peers.split(",") if s])
    emit(f"# SpMM suite {stamp} UTC")
    emit(f"command: python -m bench suite {' '.join(argv if argv is not None else sys.argv[1:])}")
    emit(f"peers: {', '.join(q.name for q in peers)}; skipped: "
         + ("; ".join(f"{n} ({why.splitlines()[0][:80]})" for n, why in skipped) or "none"))
    emit(f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}; X of every case starts {args.x_offset} "
         "bytes past a 64-byte boundary (--x-offset)")
    emit(f"CPU features: {' '.join(_core.cpu_features())}; SpMM path: {psg.plan.active_isa()}")
    ceilings = {t: _core.probe_triad(1 << 24, 5, t) for t in threads}
    emit("triad GB/s (3 x 128 MiB arrays): " + ", ".join(f"{t}T {g:.1f}" for t, g in ceilings.items()))
    emit("")

    records = []
    header = ["graph", "K", "dtype", "T", "tool", "median ms", "IQR/med", "GFLOP/s", "eff GB/s", "psg speedup",
              "gather frac", "floor / time"]
    rows = []
    graphs = {}
    for gname in [g for g in args.graphs.split(",") if g]:
        t0 = time.perf_counter()
        try:
            A = get_graph(gname)
        except SystemExit as e:
            emit(f"skipping {gname}: {e}")
            continue
        gen_s = time.perf_counter() - t0
        graphs[gname] = A
        emit(f"graph {gname}: {A.n_rows} rows, {A.nnz} entries (loaded/generated in {gen_s:.1f} s)")
        S32 = A.to_scipy(dtype=np.float32)
        rng = np.random.default_rng(0)
        gidx = rng.integers(0, max(A.n_cols, 1), size=min(A.nnz, 1 << 22)).astype(np.int32)
        own_idx = np.ascontiguousarray(A.indices, dtype=np.int32) if A.nnz and A.n_cols < 2 ** 31 else None
        for k in ks:
            for dtype in [np.dtype(d) for d in args.dtypes] + (
                    [np.dtype(np.float64)] if args.f64_k == k and "float64" not in args.dtypes else []):
                S = S32 if dtype == np.float32 else A.to_scipy(dtype=dtype)
                X = placed(rng.standard_normal((A.n_cols, k)).astype(dtype), args.x_offset)
                ref = S @ X
                Y = psg.empty_aligned((A.n_rows, k), dtype)
                for t in threads:
                    X32 = X if dtype == np.float32 else placed(X.astype(np.float32), args.x_offset)
                    gather = _core.probe_gather(X32, gidx, 3, t)[0]
                    floor_s = gather_floor(X32, own_idx, t) if dtype == np.float32 else None
                    tb = time.perf_counter()
                    plan = psg.plan_spmm(A, k, dtype, n_threads=t, cache=False)
                    plan_s = time.perf_counter() - tb
                    plan = psg.plan_spmm(A, k, dtype, n_threads=t)
                    fns = {}
                    for q in peers:
                        if t > 1 and not q.threaded:
                            fns[q.name + " (1T)"] = q.prepare(S, X, 1)
                        else:
                            fns[q.name] = q.prepare(S, X, t)
                    fns["pysparsegraph"] = lambda: psg.spmm(A, X, out=Y, n_threads=t, plan=plan)
                    res = interleaved_medians(fns, args.repeats, rounds=args.rounds,
                                              min_round_s=args.min_round_ms / 1e3)
                    for q in peers:
                        q.release()
                    psg.spmm(A, X, out=Y, n_threads=t, plan=plan)
                    err = float(np.max(np.abs(Y - ref)) / max(float(np.max(np.abs(ref))), 1e-30)) if ref.size else 0.0
                    ours = res["pysparsegraph"][0]
                    flops = 2.0 * A.nnz * k
                    eb = effective_bytes(A, k, dtype.itemsize)
                    peer_times = {n: m for n, (m, _) in res.items() if n != "pysparsegraph"}
                    best_peer = min(peer_times, key=peer_times.get) if peer_times else None
                    rec = dict(graph=gname, k=k, dtype=dtype.name, threads=t, nnz=A.nnz, n_rows=A.n_rows,
                               times={n: m for n, (m, _) in res.items()}, spread={n: s for n, (_, s) in res.items()},
                               gather_gbps=gather, gather_floor_s=floor_s, plan_build_s=plan_s, plan=repr(plan),
                               max_rel_err=err, best_peer=best_peer,
                               speedup_best=(peer_times[best_peer] / ours) if best_peer else None)
                    records.append(rec)
                    with open(base + ".json", "w") as f:
                        json.dump(records, f, indent=1)
                    for n, (m, s) in res.items():
                        gbps = eb / m / 1e9
                        frac = (A.nnz * k * dtype.itemsize / m / 1e9) / gather if gather > 0 else float("nan")
                        rows.append([gname, k, dtype.name, t, n, f"{m * 1e3:.3f}", f"{s:.2f}", f"{flops / m / 1e9:.2f}",
                                     f"{gbps:.1f}", f"{m / ours:.2f}x" if n != "pysparsegraph" else "-",
                                     f"{frac:.2f}" if n == "pysparsegraph" else "",
                                     f"{floor_s / m:.2f}" if floor_s else ""])
                    emit(f"  K={k} {dtype.name} {t}T: psg {ours * 1e3:.2f} ms, best peer {best_peer} "
                         f"{peer_times.get(best_peer, float('nan')) * 1e3:.2f} ms -> "
                         f"{rec['speedup_best'] or float('nan'):.2f}x; plan build {plan_s * 1e3:.1f} ms; "
                         f"gather ceiling {gather:.1f} GB/s; "
                         + (f"gather floor {floor_s * 1e3:.2f} ms ({floor_s / ours:.2f} of psg's time, best peer "
                            f"{peer_times[best_peer] / floor_s:.2f}x above it); " if floor_s and best_peer else "")
                         + f"rel err {err:.1e}")
    emit("")
    emit("timing: each tool in its own warm state (pause, warm-up, back-to-back repeats, at least "
         f"{args.min_round_ms:g} ms of calls per round), tools taking turns over {args.rounds} rounds; median over all "
         "repeats")
    emit("## Per case (psg speedup = peer time / pysparsegraph time; gather frac = X bytes gathered per second "
         "/ random-gather probe; floor / time = the gather floor (the graph's own rows loaded in storage order, "
         "nothing else, float32) / the tool's time)")
    emit(markdown_table(header, rows))
    emit("")
    emit(summary(records, threads))

    if args.bf16_graphs and args.bf16_graphs != "none":
        emit("")
        emit(bf16_table([g for g in args.bf16_graphs.split(",") if g], graphs, threads, args.repeats, args.x_offset))
    if args.store_graphs and args.store_graphs != "none":
        emit("")
        emit(store_table([g for g in args.store_graphs.split(",") if g], graphs, ks, threads, args.repeats,
                          args.x_offset))
    if not args.skip_ablation:
        emit("")
        emit(ablation([g for g in args.ablation_graphs.split(",") if g], graphs, max(threads), args.repeats,
                       args.x_offset))
    log.close()
    with open(base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(base + ".json", "w") as f:
        json.dump(records, f, indent=1)
    png = plot(records, base + ".png")
    print(f"\nwrote {base}.md, {base}.json" + (f", {png}" if png else ""))
    return 0


def _geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")


def gather_floor(X32, idx, threads):
    """Seconds to load the rows of X32 named by idx (a CSR's column ids) and do
    nothing else: no row loop, no output, four independent chains, the best of
    several passes with and without prefetch. No SpMM that reads each entry's
    row in storage order is faster, so peer time / floor bounds the speedup a
    storage-order kernel can have over that peer. None without entries."""
    from pysparsegraph import _core
    if idx is None or not idx.size:
        return None
    reps = int(min(200, max(8, 3e7 // (idx.size * X32.shape[1]))))  # 8+ passes each way: a noisy VM
    return idx.size * X32.shape[1] * 4 / _core.probe_gather(X32, idx, reps, threads)[0] / 1e9


def summary(records, threads):
    out = ["## Summary against the targets of issue 3"]
    for t in threads:
        f32 = [r for r in records if r["threads"] == t and r["dtype"] == "float32" and r["speedup_best"]]
        if not f32:
            continue
        losses = [f"{r['graph']} K={r['k']} ({r['speedup_best']:.2f}x vs {r['best_peer']})"
                  for r in f32 if r["speedup_best"] < 1.0]
        out.append(f"- {t} thread(s), float32: geometric-mean speedup over the fastest peer of each case "
                   f"{_geomean([r['speedup_best'] for r in f32]):.2f}x over {len(f32)} cases; "
                   f"min {min(r['speedup_best'] for r in f32):.2f}x; cases lost: {', '.join(losses) or 'none'}")
        fl = [r for r in f32 if r.get("gather_floor_s")]
        if fl:
            room = [r["times"][r["best_peer"]] / r["gather_floor_s"] for r in fl]
            ours = _geomean([r["gather_floor_s"] / r["times"]["pysparsegraph"] for r in fl])
            out.append(f"  - the gather floor: {ours:.2f} of pysparsegraph's time (geometric mean); the fastest peer "
                       f"{_geomean(room):.2f}x above it, so no kernel that gathers in storage order can be more "
                       f"than {_geomean(room):.2f}x faster than the fastest peer on these {len(fl)} cases "
                       f"(geometric mean; {sum(q >= 2.0 for q in room)} of them leave 2x)")
    if 1 in threads and 2 in threads:
        sc = []
        for r in records:
            if r["threads"] == 2 and r["dtype"] == "float32" and r["graph"] in POWER_LAW | {"rmat20", "rmat18"}:
                one = [q for q in records if q["threads"] == 1 and q["graph"] == r["graph"] and q["k"] == r["k"]
                       and q["dtype"] == "float32"]
                if one:
                    sc.append((r["graph"], r["k"], one[0]["times"]["pysparsegraph"] / r["times"]["pysparsegraph"]))
        if sc:
            out.append(f"- 2T vs 1T on power-law graphs: geometric mean {_geomean([s for *_, s in sc]):.2f}x; "
                       + ", ".join(f"{g} K={k} {s:.2f}x" for g, k, s in sc))
    return "\n".join(out)


def bf16_table(names, graphs, threads, repeats, x_offset):
    import pysparsegraph as psg
    from pysparsegraph.plan import from_bfloat16  # noqa: F401
    rows = []
    for name in names:
        A = graphs.get(name) or get_graph(name)
        k = 64
        rng = np.random.default_rng(1)
        X = placed(rng.standard_normal((A.n_cols, k)).astype(np.float32), x_offset)
        # numpy starts a large array 16 bytes into a page (the default x_offset), so
        # its 256-byte rows span 5 cache lines; to_bfloat16 returns 64-byte-aligned rows
        # (2 lines). The f32 product is timed on both layouts, so the bf16 gain is not
        # an alignment gain.
        Xa = psg.empty_aligned(X.shape, np.float32)
        Xa[...] = X
        Xb = psg.to_bfloat16(X)
        ref = A.to_scipy(dtype=np.float64) @ X.astype(np.float64)
        Y = psg.empty_aligned((A.n_rows, k), np.float32)
        for t in threads:
            plan = psg.plan_spmm(A, k, n_threads=t)
            res = interleaved_medians({"f32": lambda: psg.spmm(A, X, out=Y, n_threads=t, plan=plan),
                                       "f32 aligned": lambda: psg.spmm(A, Xa, out=Y, n_threads=t, plan=plan),
                                       "bf16": lambda: psg.spmm_bf16(A, Xb, out=Y, n_threads=t, plan=plan)},
                                      repeats)
            yb = psg.spmm_bf16(A, Xb, n_threads=t, plan=plan)
            rel = float(np.linalg.norm(yb - ref) / np.linalg.norm(ref))
            f32, f32a, bf = res["f32"][0], res["f32 aligned"][0], res["bf16"][0]
            rows.append([name, k, t, f"{f32 * 1e3:.2f}", f"{f32a * 1e3:.2f}", f"{bf * 1e3:.2f}", f"{f32 / bf:.2f}x",
                         f"{f32a / bf:.2f}x", f"{rel:.1e}"])
    return ("## bfloat16 X (float32 accumulation) vs float32 X\n"
            f"X {x_offset} bytes past a 64-byte boundary (--x-offset; 16 is where numpy puts a large array) and "
            "the same X 64-byte aligned; "
            "bf16 X from to_bfloat16 (64-byte aligned).\n" +
            markdown_table(["graph", "K", "T", "f32 ms", "f32 aligned ms", "bf16 ms", "bf16 speedup",
                            "vs aligned f32", "rel err vs f64"], rows))


def store_table(names, graphs, ks, threads, repeats, x_offset):
    """Plain against streaming stores of Y (plan option ``store``), same plan otherwise."""
    import pysparsegraph as psg
    rows = []
    for name in names:
        A = graphs.get(name) or get_graph(name)
        for k in ks:
            X = placed(np.random.default_rng(3).standard_normal((A.n_cols, k)).astype(np.float32), x_offset)
            Y = psg.empty_aligned((A.n_rows, k), np.float32)
            for t in threads:
                plans = {s: psg.plan_spmm(A, k, n_threads=t, store=s, cache=False) for s in ("cached", "stream")}
                res = interleaved_medians({s: (lambda p=p: psg.spmm(A, X, out=Y, n_threads=t, plan=p))
                                           for s, p in plans.items()}, repeats)
                auto = psg.plan_spmm(A, k, n_threads=t, cache=False).stream
                rows.append([name, k, t, f"{Y.nbytes / 2**20:.0f}", f"{res['cached'][0] * 1e3:.2f}",
                             f"{res['stream'][0] * 1e3:.2f}", f"{res['cached'][0] / res['stream'][0]:.2f}x",
                             "stream" if auto else "cached"])
    return ("## Stores of Y: plain (cached) vs streaming, float32, same plan otherwise (median ms)\n" +
            markdown_table(["graph", "K", "T", "Y MiB", "cached ms", "stream ms", "stream speedup", "auto picks"],
                           rows))


ABLATION = [
    ("equal-row static", dict(partition="rows", schedule="static", split_len=-1)),
    ("nnz static", dict(schedule="static", split_len=-1)),
    ("nnz OpenMP dynamic", dict(schedule="dynamic", split_len=-1)),
    ("nnz dynamic + hub split", dict(schedule="dynamic")),
    ("work stealing + hub split (default)", dict()),
]


def ablation(names, graphs, t, repeats, x_offset):
    import pysparsegraph as psg
    out = [f"## Ablation ({t} threads, float32, K=64): median ms, speedup over equal-row static CSR"]
    header = ["graph"] + [f"{n} / {lay}" for n, _ in ABLATION for lay in ("csr", "blocked")]
    rows = []
    for name in names:
        A = graphs.get(name) or get_graph(name)
        k = 64
        X = placed(np.random.default_rng(2).standard_normal((A.n_cols, k)).astype(np.float32), x_offset)
        Y = psg.empty_aligned((A.n_rows, k), np.float32)
        fns = {}
        builds = {}
        for label, kw in ABLATION:
            for lay in ("csr", "blocked"):
                opts = dict(kw)
                if lay == "blocked":
                    opts.pop("split_len", None)
                plan = psg.plan_spmm(A, k, n_threads=t, layout=lay, cache=False, **opts)
                builds[(label, lay)] = plan.build_seconds
                fns[(label, lay)] = (lambda plan=plan: psg.spmm(A, X, out=Y, n_threads=t, plan=plan))
        res = interleaved_medians(fns, repeats)
        base = res[(ABLATION[0][0], "csr")][0]
        rows.append([name] + [f"{res[key][0] * 1e3:.1f} ({base / res[key][0]:.2f}x)" for key in fns])
        out_b = ", ".join(f"{lay} {label}: {builds[(label, lay)] * 1e3:.0f} ms" for label, lay in builds
                          if label == ABLATION[-1][0])
        rows.append([f"  plan build ({name})", out_b] + [""] * (len(header) - 2))
    out.append(markdown_table(header, rows))
    return "\n".join(out)


def plot(records, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    recs = [r for r in records if r["dtype"] == "float32" and r["speedup_best"]]
    if not recs:
        return None
    tmax = max(r["threads"] for r in recs)
    recs = [r for r in recs if r["threads"] == tmax]
    graphs = list(dict.fromkeys(r["graph"] for r in recs))
    ks = sorted({r["k"] for r in recs})
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(graphs)), 4))
    w = 0.8 / len(ks)
    for i, k in enumerate(ks):
        vals = [next((r["speedup_best"] for r in recs if r["graph"] == g and r["k"] == k), 0) for g in graphs]
        ax.bar(np.arange(len(graphs)) + i * w, vals, w, label=f"K={k}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(graphs)) + w * (len(ks) - 1) / 2)
    ax.set_xticklabels(graphs, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("speedup over fastest peer")
    ax.set_title(f"pysparsegraph SpMM, float32, {tmax} threads")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
