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

from bench.common import (add_wait_policy, apply_wait_policy, count, counts, load_graph, markdown_table,
                          non_negative, one_of, placed, warm_state_medians)


from bench.peers import PEERS, available_peers, check_outputs

REAL = ["cora", "ego-Facebook", "soc-Slashdot0902", "coAuthorsDBLP", "cnr-2000", "uk-2007-05@100000",
        "delaunay_n17", "usa-road-FLA"]
POWER_LAW = {"soc-Slashdot0902", "coAuthorsDBLP", "cnr-2000", "uk-2007-05@100000", "ego-Facebook"}


FLOOR = "gather floor"  # the probe timed among the tools (not a peer)
TOLERANCE = {"float32": 1e-4, "float64": 1e-10}  # max |out - scipy| / max |scipy| accepted from any tool


def _generated(name):
    """(kind, scale) of 'rmatS' / 'erS' with 1 <= S <= 30, else None."""
    for kind in ("rmat", "er"):
        if name.startswith(kind) and name[len(kind):].isdigit() and 1 <= int(name[len(kind):]) <= 30:
            return kind, int(name[len(kind):])
    return None


def _real(name):
    """Whether ``name`` is cora or a graph folder of the shared data (a real graph wins over a generated name)."""
    from pysparsegraph.datasets import shared_data_dir
    root = shared_data_dir()
    return name == "cora" or (root is not None and os.path.exists(os.path.join(root, name, f"{name}.npz")))


def graph_problem(name):
    """Why ``name`` names no graph of the suite (None when it does): checked before a run starts."""
    if _real(name) or _generated(name):
        return None
    return (f"no graph {name!r}: expected cora, a folder of the shared data holding {name}.npz (PYSPARSEGRAPH_DATA) "
            "or rmatS / erS with a scale S from 1 to 30")


def get_graph(name):
    """A real graph by folder name, or 'rmatS' / 'erS' (2**S nodes, 16 edges per node) made in C."""
    from pysparsegraph import generate
    gen = None if _real(name) else _generated(name)
    if gen:
        kind, scale = gen
        return generate.rmat(scale, 16, seed=1) if kind == "rmat" else generate.erdos_renyi(1 << scale, 16, seed=1)
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
    p.add_argument("--f64-k", type=count(0), default=None,
                   help="the K also run in float64, one of --k (0: none; default 64 when --k has it, else none)")
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
    p.add_argument("--prefetch-graphs", default="none",
                   help="graphs for the narrow-prefetch table (X prefetched or not in one-vector rows, at "
                        "every --k and --threads); 'none' to skip")
    p.add_argument("--align-graphs", default="none",
                   help="graphs for the aligned-copy table (X gathered as placed by --x-offset or from an "
                        "aligned copy made in the call, at every --k and --threads); 'none' to skip")
    p.add_argument("--tiles-graphs", default="none",
                   help="graphs for the feature-tiles table (rows of Y computed whole or in 128-byte tiles, at "
                        "every --k and --threads); 'none' to skip")
    p.add_argument("--x-offset", type=int, default=16,
                   help="bytes past a 64-byte boundary where every case's X starts (default 16, where NumPy puts "
                        "large arrays; 0: on a line). Fixed, so that runs compare: left to the allocator, it "
                        "moved single cases by up to 1.8x")
    p.add_argument("--quick", action="store_true", help="cora,soc-Slashdot0902,rmat16; K=64; 3 repeats")
    p.add_argument("--out", default=os.path.join("bench", "out"), help="folder for .md/.json/.png results")
    add_wait_policy(p)
    args = p.parse_args(argv)
    if not 0 <= args.x_offset < 64 or args.x_offset % 8:
        p.error(f"--x-offset must be a multiple of 8 in [0, 64) (float64 X too), got {args.x_offset}")
    if args.quick:
        args.graphs, args.k, args.repeats = "cora,soc-Slashdot0902,rmat16", [64], 3
        args.bf16_graphs, args.ablation_graphs = "rmat16", "rmat16"
    lists = ((args.graphs, args.bf16_graphs, args.store_graphs, args.prefetch_graphs, args.align_graphs,
              args.tiles_graphs) +
             (() if args.skip_ablation else (args.ablation_graphs,)))
    for gname in {g for arg in lists for g in arg.split(",") if g and g != "none"}:
        if graph_problem(gname):
            p.error(graph_problem(gname))
    if args.f64_k is None:
        args.f64_k = 64 if 64 in args.k else 0
    elif args.f64_k and args.f64_k not in args.k:
        p.error(f"--f64-k {args.f64_k} is not one of --k {','.join(map(str, args.k))} (0: no float64 cases)")
    unknown = [q for q in args.peers.split(",") if q and q not in PEERS]
    if unknown:
        p.error(f"unknown peer(s) {', '.join(map(repr, unknown))}; the peers are {', '.join(PEERS)}")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        p.error(f"--out {args.out} is a file, not a folder")
    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        p.error(f"--out {args.out}: cannot create the folder ({exc.strerror})")
    policy = apply_wait_policy(args, "suite", argv)
    import pysparsegraph as psg
    from pysparsegraph import _core

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
    timing = dict(rounds=args.rounds, min_round_s=args.min_round_ms / 1e3)  # every table times alike
    peers, skipped = available_peers([s for s in args.peers.split(",") if s])
    emit(f"# SpMM suite {stamp} UTC")
    emit(f"command: python -m bench suite {' '.join(argv if argv is not None else sys.argv[1:])}")
    emit(f"peers: {', '.join(q.name for q in peers)}; skipped: "
         + ("; ".join(f"{n} ({why.splitlines()[0][:80]})" for n, why in skipped) or "none"))
    emit(f"{policy}; X of every case starts {args.x_offset} "
         "bytes past a 64-byte boundary (--x-offset)")
    emit(f"CPU features: {' '.join(_core.cpu_features())}; SpMM path: {psg.plan.active_isa()}")
    ceilings = {t: _core.probe_triad(1 << 24, 5, t) for t in threads}
    emit("triad GB/s (3 x 128 MiB arrays): " + ", ".join(f"{t}T {g:.1f}" for t, g in ceilings.items()))
    emit("")

    records = []
    header = ["graph", "K", "dtype", "T", "tool", "median ms", "IQR/med", "GFLOP/s", "eff GB/s", "psg speedup",
              "gather frac", "floor / time", "err vs scipy"]
    rows, failures = [], []
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
                # the last case's arrays and prepared tools go before this case's come: at scale 20 and
                # K = 256 each output is 1 GiB, and with both cases' alive the suite outgrew 24 GiB
                X = ref = Y = fns = plan = None
                S = S32 if dtype == np.float32 else A.to_scipy(dtype=dtype)
                X = placed(rng.standard_normal((A.n_cols, k), dtype=dtype), args.x_offset)
                ref = S @ X
                Y = psg.empty_aligned((A.n_rows, k), dtype)
                for t in threads:
                    fns = None  # the other thread count's tools, before this one's are prepared
                    f32 = dtype == np.float32  # the probes load float32 rows
                    gather = _core.probe_gather(X, gidx, 3, t)[0] if f32 else None
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
                    fns["pysparsegraph"].out = Y  # poisoned before its output check
                    if f32 and own_idx is not None:
                        fns[FLOOR] = floor_probe(X, own_idx, t)
                    res = warm_state_medians(fns, args.repeats, rounds=args.rounds,
                                             min_round_s=args.min_round_ms / 1e3)
                    checks = check_outputs(fns, ref, TOLERANCE[dtype.name], skip=(FLOOR,))
                    for q in peers:
                        q.release()
                    floor_s = res.pop(FLOOR)[0] if FLOOR in res else None
                    wrong = [n for n, (_, ok) in checks.items() if not ok]
                    failures += [f"{gname} K={k} {dtype.name} {t}T {n} (error {checks[n][0]:.1e})" for n in wrong]
                    err = checks["pysparsegraph"][0]
                    ours = res["pysparsegraph"][0]
                    flops = 2.0 * A.nnz * k
                    eb = effective_bytes(A, k, dtype.itemsize)
                    # a peer whose output is wrong is not a peer to beat
                    peer_times = {n: m for n, (m, _) in res.items() if n != "pysparsegraph" and n not in wrong}
                    best_peer = min(peer_times, key=peer_times.get) if peer_times else None
                    rec = dict(graph=gname, k=k, dtype=dtype.name, threads=t, nnz=A.nnz, n_rows=A.n_rows,
                               times={n: m for n, (m, _) in res.items()}, spread={n: s for n, (_, s) in res.items()},
                               gather_gbps=gather, gather_floor_s=floor_s, plan_build_s=plan_s, plan=repr(plan),
                               max_rel_err=err, errors={n: e for n, (e, _) in checks.items()}, wrong=wrong,
                               best_peer=best_peer,
                               speedup_best=(peer_times[best_peer] / ours) if best_peer and not
                               ("pysparsegraph" in wrong) else None)
                    records.append(rec)
                    with open(base + ".json", "w") as f:
                        json.dump(records, f, indent=1)
                    for n, (m, s) in res.items():
                        gbps = eb / m / 1e9
                        frac = (A.nnz * k * dtype.itemsize / m / 1e9) / gather if gather else None
                        rows.append([gname, k, dtype.name, t, n, f"{m * 1e3:.3f}", f"{s:.2f}", f"{flops / m / 1e9:.2f}",
                                     f"{gbps:.1f}", f"{m / ours:.2f}x" if n != "pysparsegraph" else "-",
                                     f"{frac:.2f}" if n == "pysparsegraph" and frac else "",
                                     f"{floor_s / m:.2f}" if floor_s else "",
                                     f"{checks[n][0]:.1e}" + (" WRONG" if n in wrong else "")])
                    emit(f"  K={k} {dtype.name} {t}T: psg {ours * 1e3:.2f} ms, best peer {best_peer} "
                         f"{peer_times.get(best_peer, float('nan')) * 1e3:.2f} ms -> "
                         f"{rec['speedup_best'] or float('nan'):.2f}x; plan build {plan_s * 1e3:.1f} ms; "
                         + (f"random-gather reference {gather:.1f} GB/s; " if gather else "")
                         + (f"gather floor probe {floor_s * 1e3:.2f} ms ({floor_s / ours:.2f} of psg's time, best "
                            f"peer {peer_times[best_peer] / floor_s:.2f}x above it); " if floor_s and best_peer else "")
                         + f"psg rel err {err:.1e}"
                         + (f"; OUTPUT WRONG: {', '.join(wrong)}" if wrong else ""))
    # the last case's arrays and prepared tools (peers' copies included: several GiB at scale 20 and
    # K = 256) go before the tables below make their own; kept, an option table outgrew 24 GiB
    X = ref = Y = fns = plan = S = S32 = None
    emit("")
    emit("timing: each tool in its own warm state (pause, warm-up, back-to-back repeats, at least "
         f"{args.min_round_ms:g} ms of calls per round), tools taking turns over {args.rounds} rounds; median over all "
         "repeats")
    emit("## Per case (psg speedup = peer time / pysparsegraph time; gather frac = X bytes gathered per second "
         "/ the random-gather reference (random row ids: no locality, so a graph's own ids can beat it); "
         "floor / time = the gather floor probe (the graph's own rows loaded in storage order, nothing else, "
         "float32; timed among the tools, each call the better of a pass with and without prefetch) / the "
         "tool's time; err vs scipy = max |output - scipy| / max |scipy| of each tool's output after timing "
         f"(scipy.sparse in the case's dtype; above {TOLERANCE['float32']:g} for float32 or "
         f"{TOLERANCE['float64']:g} for float64 is marked WRONG); scipy allocates its output in every call "
         "(it has no out=), every other tool writes into a preallocated one)")
    emit(markdown_table(header, rows))
    emit("")
    emit(summary(records, threads))

    if args.bf16_graphs and args.bf16_graphs != "none":
        emit("")
        emit(bf16_table([g for g in args.bf16_graphs.split(",") if g], graphs, threads, args.repeats, args.x_offset,
                        timing))
    for which, arg in (("store", args.store_graphs), ("prefetch", args.prefetch_graphs),
                       ("align", args.align_graphs), ("tiles", args.tiles_graphs)):
        if arg and arg != "none":
            emit("")
            emit(option_table(which, [g for g in arg.split(",") if g], graphs, ks, threads, args.repeats,
                              args.x_offset, timing, failures))
    if not args.skip_ablation:
        emit("")
        emit(ablation([g for g in args.ablation_graphs.split(",") if g], graphs, max(threads), args.repeats,
                      args.x_offset, timing, failures))
    log.close()
    with open(base + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(base + ".json", "w") as f:
        json.dump(records, f, indent=1)
    png = plot(records, base + ".png")
    print(f"\nwrote {base}.md, {base}.json" + (f", {png}" if png else ""))
    if failures:
        print(f"\n{len(failures)} output(s) differ from scipy beyond the tolerance:\n  " + "\n  ".join(failures),
              file=sys.stderr)
        return 1
    return 0


def _geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return float(np.exp(np.mean(np.log(xs)))) if xs else float("nan")


def floor_probe(X32, idx, threads):
    """A self-timed tool (see bench.common.timed_block) returning the seconds to
    load the rows of X32 named by idx (a CSR's column ids) and do nothing else:
    no row loop, no output, four independent chains; each call the better of
    one pass with the kernels' prefetch and one without. An SpMM that reads
    each entry's row in storage order does at least this work, so peer time /
    this time estimates the room such a kernel has over that peer. It is an
    estimate, not a bound: it is timed like the tools (medians over rounds),
    and a kernel's own prefetch or a lucky spell can beat it."""
    from pysparsegraph import _core
    nbytes = idx.size * X32.shape[1] * 4

    def run():
        return nbytes / _core.probe_gather(X32, idx, 1, threads)[0] / 1e9
    run.self_timed = True
    return run


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
            beat = sum(r["gather_floor_s"] > r["times"]["pysparsegraph"] for r in fl)
            out.append(f"  - the gather floor probe: {ours:.2f} of pysparsegraph's time (geometric mean); the fastest "
                       f"peer {_geomean(room):.2f}x above it, an estimate of the most a kernel that gathers in "
                       f"storage order could gain over the fastest peer on these {len(fl)} cases (geometric mean; "
                       f"{sum(q >= 2.0 for q in room)} of them leave 2x; pysparsegraph's median beat the probe's "
                       f"in {beat})")
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


def bf16_table(names, graphs, threads, repeats, x_offset, timing):
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
            res = warm_state_medians({"f32": lambda: psg.spmm(A, X, out=Y, n_threads=t, plan=plan),
                                       "f32 aligned": lambda: psg.spmm(A, Xa, out=Y, n_threads=t, plan=plan),
                                       "bf16": lambda: psg.spmm_bf16(A, Xb, out=Y, n_threads=t, plan=plan)},
                                      repeats, **timing)
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


# Plan options with two settings worth comparing: (option, (baseline, alternative), Plan attribute that says
# what auto picks, table title)
OPTION_TABLES = {
    "store": ("store", ("cached", "stream"), "stream",
              "Stores of Y: plain (cached) vs streaming, float32, same plan otherwise (median ms); \"+ ReLU\": "
              "the product, then an in-place ReLU over Y (what a GNN layer reads next: a streamed Y comes back "
              "from memory, a cached one from cache)"),
    "prefetch": ("narrow_prefetch", ("off", "on"), "narrow_prefetch",
                 "Prefetching X in one-vector rows (narrow_prefetch; K = 16 float32 on AVX-512): off vs on, "
                 "float32, same plan otherwise (median ms)"),
    "align": ("align_x", ("off", "on"), "align_x",
              "Gathering X as given (16 bytes off a line: --x-offset) or from an aligned copy made in the call "
              "(align_x): off vs on, float32, same plan otherwise (median ms)"),
    "tiles": ("feature_tiles", ("off", "on"), "feature_tiles",
              "Rows of Y whole or in 128-byte feature tiles (feature_tiles; K a multiple of 32 float32): off vs on, "
              "float32, same plan otherwise (median ms)"),
}


def option_table(which, names, graphs, ks, threads, repeats, x_offset, timing, failures):
    """One plan option's two settings (OPTION_TABLES[which]) side by side, same plan otherwise, and
    what auto picks; both outputs checked against scipy (a failure is added to ``failures``)."""
    import pysparsegraph as psg
    option, (base, alt), attr, title = OPTION_TABLES[which]
    rows = []
    for name in names:
        A = graphs.get(name) or get_graph(name)
        for k in ks:
            X = Y = fns = None  # the last case's, before this one's are made (as in the suite's cases)
            X = placed(np.random.default_rng(3).standard_normal((A.n_cols, k), dtype=np.float32), x_offset)
            Y = psg.empty_aligned((A.n_rows, k), np.float32)
            for t in threads:
                fns = None
                plans = {s: psg.plan_spmm(A, k, n_threads=t, cache=False, **{option: s}) for s in (base, alt)}
                fns = {s: _out_fn(lambda p=p: psg.spmm(A, X, out=Y, n_threads=t, plan=p), Y)
                       for s, p in plans.items()}
                then = {f"{s} + ReLU": lambda p=p: np.maximum(psg.spmm(A, X, out=Y, n_threads=t, plan=p), 0, out=Y)
                        for s, p in plans.items()} if which == "store" else {}
                res = warm_state_medians({**fns, **then}, repeats, **timing)
                _check_table(fns, A, X, f"{option} {name} K={k} {t}T", failures)
                auto = getattr(psg.plan_spmm(A, k, n_threads=t, cache=False), attr)
                pairs = [(base, alt)] + ([(f"{base} + ReLU", f"{alt} + ReLU")] if then else [])
                rows.append([name, k, t, f"{X.nbytes / 2**20:.0f}", f"{Y.nbytes / 2**20:.0f}"] +
                            [c for b, a in pairs for c in (f"{res[b][0] * 1e3:.2f}", f"{res[a][0] * 1e3:.2f}",
                                                          f"{res[b][0] / res[a][0]:.2f}x")] + [alt if auto else base])
    then_cols = [f"{base} + ReLU ms", f"{alt} + ReLU ms", f"{alt} + ReLU speedup"] if which == "store" else []
    return (f"## {title}\n" +
            markdown_table(["graph", "K", "T", "X MiB", "Y MiB", f"{base} ms", f"{alt} ms", f"{alt} speedup"] +
                           then_cols + ["auto picks"], rows))


ABLATION = [
    ("equal-row static", dict(partition="rows", schedule="static", split_len=-1)),
    ("nnz static", dict(schedule="static", split_len=-1)),
    ("nnz OpenMP dynamic", dict(schedule="dynamic", split_len=-1)),
    ("nnz dynamic + hub split", dict(schedule="dynamic")),
    ("work stealing + hub split (default)", dict()),
]


def _out_fn(fn, out):
    """``fn`` marked as writing into ``out`` (poisoned before its output check)."""
    fn.out = out
    return fn


def _check_table(fns, A, X, what, failures):
    """Every output of ``fns`` against scipy; failures named in ``failures``."""
    ref = A.to_scipy(dtype=X.dtype) @ X
    for n, (err, ok) in check_outputs(fns, ref, TOLERANCE[X.dtype.name]).items():
        if not ok:
            failures.append(f"{what} {n} (error {err:.1e})")


def ablation(names, graphs, t, repeats, x_offset, timing, failures):
    import pysparsegraph as psg
    out = [f"## Ablation ({t} threads, float32, K=64): median ms, speedup over equal-row static CSR"]
    # blocked plans keep whole rows (a hub is not split across segments' chunks), so their columns say so
    header = ["graph"] + [f"{n} / csr" if lay == "csr" else
                          (f"{n.replace(' + hub split', '')} / blocked (rows not split)" if "hub split" in n
                           else f"{n} / blocked") for n, _ in ABLATION for lay in ("csr", "blocked")]
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
                fns[(label, lay)] = _out_fn(lambda plan=plan: psg.spmm(A, X, out=Y, n_threads=t, plan=plan), Y)
        res = warm_state_medians(fns, repeats, **timing)
        _check_table(fns, A, X, f"ablation {name}", failures)
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
