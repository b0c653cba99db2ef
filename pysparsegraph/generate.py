"""Synthetic graphs generated in C: R-MAT (Graph500), Erdős–Rényi, 2-D grid.

Each generator is deterministic for a seed and independent of the thread
count (a counter-based random generator gives every edge its own draws).
"""
import numbers

import numpy as np

from pysparsegraph import _core, errors
from pysparsegraph._validate import choice, resolve_threads
from pysparsegraph.matrix import CSRMatrix

_SEED_MAX = (1 << 64) - 1


def _int(value, name, lo, hi=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise errors.InvalidArgumentError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        rng = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise errors.InvalidArgumentError(f"{name} must be {rng}, got {value}")
    return value


def _generated(what, nbytes, make, *args):
    """``make(*args)``: NumPy's MemoryError for the edge arrays becomes the library's, with the size."""
    try:
        return make(*args)
    except MemoryError:
        raise errors.PSGMemoryError(f"not enough memory to generate {what}: {nbytes / 2 ** 30:.1f} GiB of edge "
                                    "arrays") from None


def _check_options(duplicates, self_loops, n_threads):
    choice(duplicates, "duplicates", {"sum", "first", "keep"})
    choice(self_loops, "self_loops", {"keep", "drop", "add"})
    resolve_threads(n_threads)


def _probability(v, name):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not (0.0 <= float(v) <= 1.0):
        raise errors.InvalidArgumentError(f"{name} must be a probability in [0, 1], got {v!r}")
    return float(v)


def _to_csr(src, dst, n, duplicates, self_loops, symmetrize, n_threads):
    _check_options(duplicates, self_loops, n_threads)
    return CSRMatrix.from_edges(src, dst, shape=(n, n), duplicates=duplicates, self_loops=self_loops,
                                symmetrize=symmetrize, n_threads=n_threads)


def rmat(scale, edge_factor=16, seed=0, *, a=0.57, b=0.19, c=0.19, scramble=True, symmetrize=False,
         duplicates="first", self_loops="keep", n_threads=None):
    """R-MAT / Kronecker graph with Graph500 parameters.

    Parameters
    ----------
    scale : int
        ``2**scale`` nodes (0..31).
    edge_factor : int
        ``edge_factor * 2**scale`` edges are drawn (before duplicates are merged).
    seed : int
        Same seed, same graph, on any thread count.
    a, b, c : float
        Quadrant probabilities (d = 1 - a - b - c).
    scramble : bool
        Relabel nodes with a seeded bijection (Graph500 does), so hubs are not
        all at small ids.
    symmetrize : bool
        Store each edge both ways (an undirected graph).
    duplicates : {"first", "sum", "keep"}
        Repeated edges merged into one entry ("first", the default, or "sum":
        the same here, as the graph has no values to sum) or all kept ("keep").
    self_loops : {"keep", "drop", "add"}
    n_threads : int, optional
        Threads of the generation and the build; ``None`` = the OpenMP limit.
        The graph does not depend on it.

    Returns
    -------
    CSRMatrix
        Unweighted, ``2**scale`` square, int32 indices (int64 at scale 31).
    """
    scale = _int(scale, "scale", 0, 31)
    # at most 2^40 edges (16 TiB of edge arrays): a bound that the C sizes cannot overflow
    edge_factor = _int(edge_factor, "edge_factor", 0, (1 << 40) >> scale)
    seed = _int(seed, "seed", 0, _SEED_MAX)
    a, b, c = (_probability(v, name) for v, name in ((a, "a"), (b, "b"), (c, "c")))
    if a + b + c > 1.0 + 1e-12:
        raise errors.InvalidArgumentError(f"a + b + c must be <= 1, got {a + b + c}")
    n = 1 << scale
    t = resolve_threads(n_threads)
    m = edge_factor * n
    src, dst = _generated(f"{m} R-MAT edges", 16 * m, _core.generate_rmat, scale, m, float(a), float(b), float(c),
                          seed, bool(scramble), t)
    return _to_csr(src, dst, n, duplicates, self_loops, symmetrize, n_threads)


def erdos_renyi(n, avg_degree, seed=0, *, symmetrize=False, duplicates="first", self_loops="keep",
                n_threads=None):
    """Erdős–Rényi-style random graph: ``m = round(n * avg_degree)`` edges,
    each drawn uniformly from all ``n * n`` (source, target) pairs, with
    replacement: a pair drawn twice is merged by ``duplicates`` and self
    loops can occur (``self_loops="drop"`` removes them), so the graph has at
    most m distinct edges, close to m when m is much smaller than ``n * n``.

    With ``symmetrize=True`` each drawn edge is stored both ways (mean degree
    about ``2 * avg_degree``). Returns an unweighted ``n × n`` CSRMatrix.
    """
    n = _int(n, "n", 0, (1 << 31) - 1)
    if (isinstance(avg_degree, (bool, np.bool_)) or not isinstance(avg_degree, numbers.Real)
            or not (0 <= float(avg_degree) <= 1e6)):
        raise errors.InvalidArgumentError(f"avg_degree must be a number in [0, 1e6], got {avg_degree!r}")
    seed = _int(seed, "seed", 0, _SEED_MAX)
    _check_options(duplicates, self_loops, n_threads)  # also when n == 0
    if n == 0:
        return CSRMatrix(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), shape=(0, 0))
    m = int(round(n * float(avg_degree)))
    src, dst = _generated(f"{m} edges", 16 * m, _core.generate_er, n, m, seed, resolve_threads(n_threads))
    return _to_csr(src, dst, n, duplicates, self_loops, symmetrize, n_threads)


def grid2d(rows, cols, *, n_threads=None):
    """2-D grid graph (4-neighbour, undirected: both directions stored).

    Node ``(i, j)`` has id ``i * cols + j``. Returns an unweighted square
    CSRMatrix with sorted column ids.
    """
    rows = _int(rows, "rows", 0, (1 << 31) - 1)
    cols = _int(cols, "cols", 0, (1 << 31) - 1)
    if rows * cols > (1 << 31) - 1:
        raise errors.InvalidArgumentError(f"rows * cols must be < 2**31, got {rows * cols}")
    t = resolve_threads(n_threads)
    if rows * cols == 0:  # no nodes (the C loop would still walk every row of an empty grid)
        return CSRMatrix(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), shape=(0, 0))
    m = 2 * (rows * max(cols - 1, 0) + cols * max(rows - 1, 0))
    indptr, indices = _generated(f"a {rows} x {cols} grid", 8 * (rows * cols + 1) + 4 * m, _core.generate_grid2d,
                                 rows, cols, t)
    return CSRMatrix._trusted(indptr, indices, None, (rows * cols, rows * cols))
