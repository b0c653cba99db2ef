"""Shared pieces of the benchmark scripts: timing, graph lookup, tables."""
import os
import time

import numpy as np

from pysparsegraph.datasets import load_cora, load_npz_graph, shared_data_dir


def interleaved_medians(fns, repeats, warmup=1):
    """Runs every callable of ``fns`` (a dict) ``repeats`` times, interleaving
    them round-robin so machine noise hits all alike. Returns per name the
    median and the spread (interquartile range / median) in seconds."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    out = {}
    for name, ts in times.items():
        ts = np.asarray(ts)
        med = float(np.median(ts))
        q1, q3 = np.percentile(ts, [25, 75])
        out[name] = (med, float((q3 - q1) / med) if med > 0 else 0.0)
    return out


def load_graph(name):
    """``cora`` (bundled) or the name of a folder of ../shared/data with NAME.npz."""
    if name == "cora":
        return load_cora(features=False).graph
    root = shared_data_dir()
    if root is None:
        raise SystemExit("shared data folder not found: set PYSPARSEGRAPH_DATA to the shared/data folder")
    path = os.path.join(root, name, f"{name}.npz")
    if not os.path.exists(path):
        raise SystemExit(f"no graph {name!r}: {path} does not exist")
    return load_npz_graph(path)


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
