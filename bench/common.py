"""Shared pieces of the benchmark scripts: timing, graph lookup, tables, option types."""
import argparse
import os
import sys
import time

import numpy as np

from pysparsegraph.datasets import load_cora, load_npz_graph, shared_data_dir


def timed_block(fn, calls, min_s=0.0):
    """Seconds of each of at least ``calls`` back-to-back calls of ``fn``; it
    keeps calling until ``min_s`` seconds are spent (like timeit's autorange),
    so a call of tens of microseconds is not timed only in the first calls
    after a pause, which measure how fast idle cores wake up. A ``fn`` with
    ``self_timed = True`` returns its own seconds (a probe that times its
    passes inside C)."""
    ts, spent = [], 0.0
    own = getattr(fn, "self_timed", False)
    while len(ts) < calls or spent < min_s:
        t0 = time.perf_counter()
        r = fn()
        dt = r if own else time.perf_counter() - t0
        # a result allocated per call (scipy's) goes now, outside the next call's time and before it
        # allocates another: kept to the next assignment, freeing it was timed and two were alive
        r = None
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


def warm_state_medians(fns, repeats, rounds=2, pause=0.3, min_round_s=0.0):
    """Median and spread (IQR/median) per tool, each tool timed in its own
    warm state: a pause (idle OpenMP/MKL workers of the previous tool stop
    spinning), one warm-up call, then back-to-back repetitions. Tools take
    turns, in rotated order, over `rounds` rounds, so drifts of the machine
    hit every tool alike. Strict call-by-call interleaving is unfair on a
    2-core machine: the runtimes of MKL and torch keep their workers spinning
    ~200 ms after a call, which steals the cores from whichever tool runs next.

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


def add_wait_policy(parser):
    """The --wait-policy option every subcommand shares (see apply_wait_policy)."""
    parser.add_argument("--wait-policy", default="passive", choices=["passive", "active", "inherit"],
                        help="OMP_WAIT_POLICY for every OpenMP runtime in the run (GNU: ours, GraphBLAS, torch; "
                             "Intel: MKL). passive (default): idle workers sleep at once, which on a shared, "
                             "oversubscribed machine avoids spinning threads holding the cores that a woken "
                             "worker needs; it is the same for every tool. 'inherit' keeps the environment's.")


def apply_wait_policy(args, subcommand, argv):
    """Restarts the process with OMP_WAIT_POLICY set as --wait-policy asks (the
    OpenMP runtimes read it once, when loaded); returns the line to print."""
    if args.wait_policy != "inherit" and os.environ.get("OMP_WAIT_POLICY", "").lower() != args.wait_policy:
        os.environ["OMP_WAIT_POLICY"] = args.wait_policy
        os.execv(sys.executable, [sys.executable, "-m", "bench", subcommand] + list(
            argv if argv is not None else sys.argv[1:]))
    return f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}"


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


def graph_file_problem(name):
    """Why :func:`load_graph` would fail on ``name`` (None when it would not)."""
    if name == "cora":
        return None
    root = shared_data_dir()
    if root is None:
        return "shared data folder not found: set PYSPARSEGRAPH_DATA to the shared/data folder"
    path = os.path.join(root, name, f"{name}.npz")
    return None if os.path.exists(path) else f"no graph {name!r}: {path} does not exist"


def check_graphs(parser, names):
    """Every name of a comma-separated --graphs list checked before a run starts (a bad last
    name used to end the run after every earlier graph had been timed, its results unprinted)."""
    for name in names.split(","):
        why = graph_file_problem(name)
        if why:
            parser.error(why)


def load_graph(name):
    """``cora`` (bundled) or the name of a folder of ../shared/data with NAME.npz."""
    why = graph_file_problem(name)
    if why:
        raise SystemExit(why)
    if name == "cora":
        return load_cora(features=False).graph
    return load_npz_graph(os.path.join(shared_data_dir(), name, f"{name}.npz"))


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
