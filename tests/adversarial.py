"""Adversarial sparse matrices shared by the tests (built with numpy only)."""
import numpy as np


def coo_cases(rng):
    """(name, n_rows, n_cols, rows, cols) edge sets that stress kernels."""
    cases = []
    cases.append(("empty_0x0", 0, 0, np.zeros(0, np.int64), np.zeros(0, np.int64)))
    cases.append(("no_edges_5x7", 5, 7, np.zeros(0, np.int64), np.zeros(0, np.int64)))
    # one hub row holding most edges, many empty rows
    n = 3000
    hub_cols = rng.integers(0, n, 20000)
    other_r = rng.integers(0, n, 2000)
    other_c = rng.integers(0, n, 2000)
    cases.append(("hub_row", n, n, np.concatenate([np.full(20000, 17), other_r]),
                  np.concatenate([hub_cols, other_c])))
    # self loops everywhere plus duplicates, given unsorted
    r = rng.integers(0, 50, 600)
    c = rng.integers(0, 50, 600)
    r = np.concatenate([r, np.arange(50), r[:100]])
    c = np.concatenate([c, np.arange(50), c[:100]])
    cases.append(("loops_and_duplicates", 50, 50, r, c))
    # rectangular, most rows empty, last row populated
    cases.append(("rect_tail_row", 400, 31, np.full(90, 399), rng.integers(0, 31, 90)))
    # a single column (every X row access hits the same row)
    cases.append(("single_column", 200, 1, rng.integers(0, 200, 1000), np.zeros(1000, np.int64)))
    # power-law-ish random graph
    deg = np.minimum((rng.pareto(1.2, 2000) + 1).astype(np.int64), 1500)
    rr = np.repeat(np.arange(2000), deg)
    cases.append(("power_law", 2000, 2000, rr, rng.integers(0, 2000, rr.size)))
    return cases
