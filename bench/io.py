"""I/O benchmarks: ``python -m bench io [--part read,memory,mmap,reorder] [--repeats N]``.

- read:    time to read soc-Slashdot0902 (SNAP .txt.gz) and coAuthorsDBLP
           (SuiteSparse .tar.gz) into CSR, beside numpy.loadtxt + scipy and
           scipy.io.mmread + tocsr on the same files (interleaved medians).
- memory:  peak RSS growth of each reader, each in its own subprocess
           (ru_maxrss after the read minus ru_maxrss before it, after imports
           and a warm-up read of a small file), against the final CSR size.
- mmap:    load time of the native .psg format with mmap=True for graphs of
           several sizes (O(1)), beside mmap=False and numpy .npz.
- reorder: SpMM (K=64, float32) time on the real graphs in their file order and
           after each reordering, the time to compute the order, and the number
           of SpMM calls after which the order has paid for itself.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from bench.common import add_wait_policy, apply_wait_policy, count, markdown_table, one_of, warm_state_medians
from pysparsegraph.datasets import shared_data_dir

SLASHDOT = ("soc-Slashdot0902", "soc-Slashdot0902.txt.gz")
DBLP = ("coAuthorsDBLP", "coAuthorsDBLP.tar.gz")


def _path(folder, name):
    root = shared_data_dir()
    if root is None:
        raise SystemExit("shared data folder not found: set PYSPARSEGRAPH_DATA")
    return os.path.join(root, folder, name)


# ---- readers (used in-process and in the memory subprocesses) ---------------
def read_psg_edgelist(path, n_threads=None):
    from pysparsegraph import io

    return io.read_edgelist(path, n_threads=n_threads)


def read_psg_mtx(path, n_threads=None):
    from pysparsegraph import io

    return io.read_matrix_market(path, n_threads=n_threads)


def read_numpy_loadtxt(path):
    import scipy.sparse as sp

    a = np.loadtxt(path, dtype=np.int64, comments="#")
    n = int(a.max()) + 1
    return sp.csr_array((np.ones(a.shape[0], np.float32), (a[:, 0], a[:, 1])), shape=(n, n))


def read_scipy_mmread(path):
    import tarfile

    import scipy.io

    with tarfile.open(path) as tf:
        member = [m for m in tf.getmembers() if m.name.endswith(".mtx")][0]
        return scipy.io.mmread(tf.extractfile(member)).tocsr()


READERS = {
    "pysparsegraph edgelist": read_psg_edgelist,
    "pysparsegraph mtx": read_psg_mtx,
    "numpy.loadtxt + scipy": read_numpy_loadtxt,
    "scipy.io.mmread + tocsr": read_scipy_mmread,
}


def _csr_bytes(g):
    if hasattr(g, "indptr") and hasattr(g, "indices"):
        vals = getattr(g, "values", None) if not hasattr(g, "data") else g.data
        return int(np.asarray(g.indptr).nbytes + np.asarray(g.indices).nbytes +
                   (0 if vals is None else np.asarray(vals).nbytes))
    raise TypeError(type(g))


def part_read(repeats):
    sd, db = _path(*SLASHDOT), _path(*DBLP)
    fns = {
        "slashdot pysparsegraph (default)": lambda: read_psg_edgelist(sd),
        "slashdot pysparsegraph (2 threads)": lambda: read_psg_edgelist(sd, 2),
        "slashdot numpy.loadtxt + scipy": lambda: read_numpy_loadtxt(sd),
        "dblp pysparsegraph (default)": lambda: read_psg_mtx(db),
        "dblp pysparsegraph (2 threads)": lambda: read_psg_mtx(db, 2),
        "dblp scipy.io.mmread + tocsr": lambda: read_scipy_mmread(db),
    }
    res, cpu = _interleaved_wall_and_cpu(fns, repeats)
    rows = []
    for graph, base in (("slashdot", "numpy.loadtxt + scipy"), ("dblp", "scipy.io.mmread + tocsr")):
        tb, cb = res[f"{graph} {base}"][0], cpu[f"{graph} {base}"]
        for k, (med, spread) in res.items():
            if k.startswith(graph):
                rows.append([k, f"{med * 1e3:.1f}", f"{spread:.2f}", f"{tb / med:.2f}x", f"{cpu[k] * 1e3:.1f}",
                             f"{cb / cpu[k]:.2f}x"])
    print("\n### Read into CSR (median ms, interleaved, %d repeats)\n" % repeats)
    print(markdown_table(["reader", "wall median ms", "IQR/median", "wall speedup", "CPU median ms (all threads)",
                          "CPU ratio"], rows))
    return res


def _interleaved_wall_and_cpu(fns, repeats):
    """Call-by-call interleaving (files read in turn), plus the median process CPU time
    (all threads) of each callable, which is steadier on a shared machine."""
    for fn in fns.values():
        fn()
    wall = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    out = {}
    for k, ts in wall.items():
        ts = np.asarray(ts)
        med = float(np.median(ts))
        q1, q3 = np.percentile(ts, [25, 75])
        out[k] = (med, float((q3 - q1) / med) if med > 0 else 0.0)
    return out, {k: float(np.median(v)) for k, v in cpu.items()}


def _proc_status(key):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _child(reader, path):
    """Runs in a subprocess: peak RSS growth of one read."""
    import resource

    import scipy.io  # noqa: F401  (import cost outside the measurement)
    import scipy.sparse  # noqa: F401

    import pysparsegraph  # noqa: F401

    fn = READERS[reader]
    # warm-up on a tiny file of the same kind: imports, thread pools, buffers
    with tempfile.TemporaryDirectory() as tmp:
        if reader in ("pysparsegraph edgelist", "numpy.loadtxt + scipy"):
            import gzip

            small = os.path.join(tmp, "s.txt.gz")
            with gzip.open(small, "wt") as fh:
                fh.write("# x\n0 1\n1 2\n")
        else:
            import io as _io
            import tarfile

            small = os.path.join(tmp, "s.tar.gz")
            data = b"%%MatrixMarket matrix coordinate pattern symmetric\n3 3 2\n2 1\n3 2\n"
            with tarfile.open(small, "w:gz") as tf:
                info = tarfile.TarInfo("s/s.mtx")
                info.size = len(data)
                tf.addfile(info, _io.BytesIO(data))
        fn(small)
    import gc

    gc.collect()
    # Linux: reset the high-water mark, then peak = VmHWM after the read minus
    # VmRSS before it. (ru_maxrss is inherited from the parent across
    # fork/exec, so it is only the fallback.)
    use_proc = os.path.exists("/proc/self/clear_refs")
    if use_proc:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        before = _proc_status("VmRSS")
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t = time.perf_counter()
    g = fn(path)
    dt = time.perf_counter() - t
    after = _proc_status("VmHWM") if use_proc else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"peak_growth": after - before, "csr_bytes": _csr_bytes(g), "seconds": dt}))


def part_memory():
    sd, db = _path(*SLASHDOT), _path(*DBLP)
    jobs = [("slashdot", "pysparsegraph edgelist", sd), ("slashdot", "numpy.loadtxt + scipy", sd),
            ("dblp", "pysparsegraph mtx", db), ("dblp", "scipy.io.mmread + tocsr", db)]
    rows = []
    ours = {}
    for graph, reader, path in jobs:
        out = subprocess.run([sys.executable, "-m", "bench.io", "--child", reader, path], capture_output=True,
                             text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        if out.returncode != 0:
            raise SystemExit(out.stderr)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if reader.startswith("pysparsegraph"):
            ours[graph] = r["csr_bytes"]
        ref = ours.get(graph, r["csr_bytes"])
        rows.append([graph, reader, f"{r['peak_growth'] / 2**20:.1f}", f"{r['csr_bytes'] / 2**20:.1f}",
                     f"{r['peak_growth'] / ref:.2f}"])
    print("\n### Peak memory of one read (RSS growth, own subprocess each)\n")
    print(markdown_table(["graph", "reader", "peak growth MiB", "its final CSR MiB",
                          "peak / pysparsegraph CSR size"], rows))


def part_mmap(repeats):
    from pysparsegraph import CSRMatrix, io

    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in (10**5, 10**6, 10**7, 4 * 10**7):
            n = max(1000, m // 10)
            g = CSRMatrix.from_edges(rng.integers(0, n, m), rng.integers(0, n, m), shape=(n, n),
                                     duplicates="keep")
            path = os.path.join(tmp, f"g{m}.psg")
            io.save(g, path)
            del g
            size = os.path.getsize(path)
            fns = {"mmap": lambda: io.load(path, mmap=True),
                   "mmap+verify": lambda: io.load(path, mmap=True, verify=True)}
            res = warm_state_medians(fns, repeats)
            rows.append([f"{m:,}", f"{size / 2**20:.1f}", f"{res['mmap'][0] * 1e6:.0f}",
                         f"{res['mmap+verify'][0] * 1e3:.1f}"])
    print("\n### Native format: load time against graph size\n")
    print(markdown_table(["stored entries", "file MiB", "load(mmap=True) us", "load(mmap=True, verify=True) ms"],
                         rows))


REORDER_GRAPHS = ["cnr-2000", "uk-2007-05@100000", "soc-Slashdot0902", "coAuthorsDBLP", "delaunay_n17"]


def part_reorder(repeats, k=64, graphs=None):
    from pysparsegraph import io, reorder, spmm

    rows = []
    for name in graphs or REORDER_GRAPHS:
        A = io.read_npz(_path(name, name + ".npz"))
        X = np.random.default_rng(1).random((A.n_rows, k), dtype=np.float32)
        directed = not _is_symmetric(A)
        fns = {"original": lambda A=A: spmm(A, X)}
        order_time = {}
        for method in reorder.METHODS:
            t = time.perf_counter()
            perm = reorder.order(A, method, symmetrize=directed)
            B = reorder.permute(A, perm)
            Xp = reorder.permute_rows(X, perm)
            order_time[method] = time.perf_counter() - t
            ref = spmm(A, X)
            got = reorder.unpermute_rows(spmm(B, Xp), perm)
            assert np.allclose(ref, got, rtol=1e-4, atol=1e-3), (name, method)
            fns[method] = lambda B=B, Xp=Xp: spmm(B, Xp)
        res = warm_state_medians(fns, repeats)
        t0 = res["original"][0]
        rows.append([name, "original", f"{t0 * 1e3:.2f}", "1.00", "-", "-"])
        for method in reorder.METHODS:
            t = res[method][0]
            gain = t0 - t
            be = f"{order_time[method] / gain:.0f}" if gain > 0 else "never"
            rows.append([name, method, f"{t * 1e3:.2f}", f"{t0 / t:.2f}", f"{order_time[method] * 1e3:.0f}", be])
    print(f"\n### SpMM after reordering (K={k}, float32, default threads; order time includes building P A P^T "
          "and permuting X)\n")
    print(markdown_table(["graph", "order", "SpMM median ms", "speedup", "order+permute ms",
                          "SpMM calls to break even"], rows))


def _is_symmetric(A):
    S = A.to_scipy()
    return (S != S.T).nnz == 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        _child(argv[1], argv[2])
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench io", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", type=one_of("read", "memory", "mmap", "reorder"), default="read,memory,mmap,reorder")
    ap.add_argument("--repeats", type=count(), default=9)
    ap.add_argument("--graphs", help="comma-separated graphs for the reorder part")
    add_wait_policy(ap)
    args = ap.parse_args(argv)
    parts = args.part
    graphs = [g for g in (args.graphs or "").split(",") if g] or None
    for g in graphs or ():
        if not os.path.exists(_path(g, g + ".npz")):
            ap.error(f"no graph {g!r}: {_path(g, g + '.npz')} does not exist")
    policy = apply_wait_policy(args, "io", argv)
    import pysparsegraph

    print(f"pysparsegraph {pysparsegraph.__version__}, threads {pysparsegraph._core.max_threads()}, {policy}, "
          f"python -m bench io {' '.join(argv)}")
    if "read" in parts:
        part_read(args.repeats)
    if "memory" in parts:
        part_memory()
    if "mmap" in parts:
        part_mmap(max(5, args.repeats))
    if "reorder" in parts:
        part_reorder(args.repeats, graphs=graphs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
