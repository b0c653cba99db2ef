"""Shared pieces of the benchmark scripts: timing, graph lookup, tables, option types."""
import argparse
import os
import time

import numpy as np

from pysparsegraph.datasets import load_cora, load_npz_graph, shared_data_dir


def timed_block(fn, calls, min_s=0.0):
    """Seconds of each of at least ``calls`` back-to-back calls of ``fn``; it
    keeps calling until ``min_s`` seconds are spent (like timeit's autorange),
    so a call of tens of microseconds is not timed only in the first calls
    after a pause, which measure how fast idle cores wake up."""
    ts, spent = [], 0.0
    while len(ts) < calls or spent < min_s:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        ts.append(dt)
        spent += dt
    return ts


def median_spread(times):
    """Per name: (median seconds, interquartile range / median)."""
    out = {}
    for name, ts in times.items():
        q1, med, q3 = (float(q) for q in np.percentile(np.asarray(ts), [25, 50, 75]))
        out[name] = (med, (q3 - q1) / med if med > 0 else 0.0)
    return out


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
            times[name] += timed_block(fn, 1)
    return median_spread(times)


def placed(a, offset):
    """A copy of array ``a`` (C order) whose data starts ``offset`` bytes past
    a 64-byte boundary. Where an array lands decides how its rows straddle
    cache lines: a 1 KiB row 16 bytes off a line spans 17 lines, and every
    vector load of it crosses two; ego-Facebook at K = 256 ran 1.3x slower
    for pysparsegraph and 1.8x for MKL with X 16 bytes off than with X on a
    line. NumPy puts a large array 16 bytes past a page or anywhere on a
    16-byte boundary, so without this a run's result for a case depends on
    which it got (bench/RESULTS.md)."""
    if not 0 <= offset < 64 or offset % a.itemsize:
        raise ValueError(f"offset must be a multiple of {a.itemsize} in [0, 64), got {offset}")
    from pysparsegraph import empty_aligned

    buf = empty_aligned(a.nbytes + 64, np.uint8)
    out = buf[offset:offset + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
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


# ---- argparse types: a bad value is a usage error (exit 2), not a traceback later on
def _items(text):
    return [v.strip() for v in text.split(",") if v.strip()]


def count(minimum=1):
    """An integer >= minimum."""
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {v}")
        return v
    return parse


def counts(minimum=1):
    """A comma-separated, non-empty list of integers >= minimum."""
    one = count(minimum)

    def parse(text):
        vals = [one(v) for v in _items(text)]
        if not vals:
            raise argparse.ArgumentTypeError("expected at least one value")
        return vals
    return parse


def non_negative(text):
    """A finite float >= 0 (seconds, milliseconds)."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= v < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return v


def fractions(text):
    """A comma-separated, non-empty list of numbers in [0, 1]."""
    vals = []
    for v in _items(text):
        try:
            f = float(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected numbers in [0, 1], got {v!r}") from None
        if not 0.0 <= f <= 1.0:
            raise argparse.ArgumentTypeError(f"expected numbers in [0, 1], got {f}")
        vals.append(f)
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one value")
    return vals


def one_of(*options):
    """A comma-separated, non-empty subset of ``options``."""
    def parse(text):
        vals = _items(text)
        bad = [v for v in vals if v not in options]
        if bad or not vals:
            raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(options)}, got {text!r}")
        return vals
    return parse
