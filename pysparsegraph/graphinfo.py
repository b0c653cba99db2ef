"""Graph statistics for ``pysparsegraph info`` (vectorized numpy, O(n + nnz))."""
import numpy as np


from pysparsegraph import errors

# in-degrees are counted in an array of one slot per column up to this many columns; past it (and
# past what the entries could fill) only the columns that occur are counted, the rest known to be 0
_DENSE_IN_DEGREES = 1 << 26


def _degrees(x, name):
    x = np.asarray(x)
    if x.ndim != 1 or x.dtype.kind not in "iuf" or (x.size and not (np.isfinite(x).all() and x.min() >= 0)):
        raise errors.InvalidArgumentError(f"{name} must be a 1-D array of finite non-negative numbers, got "
                                          f"shape {x.shape} of {x.dtype}")
    return x


def _at(sorted_x, n_zero, p):
    """Element ``p`` of ``n_zero`` zeros followed by ``sorted_x``."""
    return 0 if p < n_zero else sorted_x[p - n_zero]


def gini(x, n_zero=0):
    """Gini coefficient of a non-negative sequence (0: all equal, -> 1: concentrated),
    counting ``n_zero`` more zeros."""
    x = np.sort(_degrees(x, "x").astype(np.float64))
    n = x.shape[0] + n_zero
    total = x.sum()
    if n == 0 or total == 0:
        return 0.0
    i = np.arange(n_zero + 1, n + 1)
    return float((2.0 * (i * x).sum()) / (n * total) - (n + 1.0) / n)


def top_share(deg, frac=0.01, n_zero=0):
    """Share of all entries held by the top ``frac`` of rows by degree (``n_zero`` more rows of degree 0)."""
    deg = _degrees(deg, "deg")
    if not 0 < frac <= 1:  # also NaN
        raise errors.InvalidArgumentError(f"frac must be in (0, 1], got {frac!r}")
    if deg.size == 0 or deg.sum() == 0:
        return 0.0
    k = max(1, int(np.ceil(frac * (deg.shape[0] + n_zero))))
    return float(np.sort(deg)[::-1][:k].sum() / deg.sum())


def degree_stats(deg, n_zero=0):
    """dict of max, mean, median, Gini, top-1% share and zero count of a degree array
    (plus ``n_zero`` more degrees of 0, not stored)."""
    deg = _degrees(deg, "deg")
    n = deg.size + n_zero
    if n == 0:
        return {"max": 0, "mean": 0.0, "median": 0.0, "gini": 0.0, "top1_share": 0.0, "zero": 0}
    srt = np.sort(deg)
    median = (float(_at(srt, n_zero, (n - 1) // 2)) + float(_at(srt, n_zero, n // 2))) / 2
    return {"max": int(srt[-1]) if srt.size else 0, "mean": float(deg.sum() / n), "median": median,
            "gini": gini(deg, n_zero), "top1_share": top_share(deg, n_zero=n_zero),
            "zero": int((deg == 0).sum()) + n_zero}


def graph_info(g):
    """dict of counts, out/in degree statistics and memory per storage format."""
    from pysparsegraph.matrix import as_csr

    g = as_csr(g, "g")  # a scipy matrix too
    indptr = np.asarray(g.indptr)
    indices = np.asarray(g.indices)
    n, m = g.shape
    nnz = g.nnz
    out_deg = np.diff(indptr)
    if m <= max(_DENSE_IN_DEGREES, 4 * nnz):
        in_deg, in_zero = np.bincount(indices, minlength=m) if nnz else np.zeros(m, dtype=np.int64), 0
    else:  # hypersparse columns (a 1 x 2**40 matrix): no array of one slot per column
        in_deg = np.unique(indices, return_counts=True)[1]
        in_zero = m - in_deg.size
    rows = np.repeat(np.arange(n, dtype=indices.dtype), out_deg)
    loops = int((rows == indices).sum()) if n == m else 0
    vbytes = 0 if g.values is None else g.values.dtype.itemsize
    mem = {
        "pysparsegraph CSR (as stored)": indptr.nbytes + indices.nbytes + nnz * vbytes,
        "pysparsegraph CSR unweighted int32": 8 * (n + 1) + 4 * nnz,
        "scipy CSR (int32 idx, float32 data)": 4 * (n + 1) + 8 * nnz,
        "scipy CSR (int64 idx, float64 data)": 8 * (n + 1) + 16 * nnz,
        "COO int64 + float32": 20 * nnz,
        "dense float32": 4 * n * m,
    }
    # _in_deg may leave out the columns of in-degree 0: the plot draws degrees >= 1 only
    return {"shape": (n, m), "nnz": nnz, "self_loops": loops, "weighted": g.values is not None,
            "index_dtype": str(indices.dtype), "out_degree": degree_stats(out_deg),
            "in_degree": degree_stats(in_deg, in_zero), "memory_bytes": mem, "_out_deg": out_deg, "_in_deg": in_deg}


def _human(b):
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{b} B"
        b /= 1024.0


def format_info(info, name=""):
    """The :func:`graph_info` dict as the multi-line text ``pysparsegraph info`` prints, headed by ``name``."""
    n, m = info["shape"]
    lines = [f"{name}", f"  shape          {n:,} x {m:,}", f"  stored entries {info['nnz']:,}",
             f"  self loops     {info['self_loops']:,}", f"  weighted       {info['weighted']}",
             f"  index dtype    {info['index_dtype']}"]
    for side in ("out_degree", "in_degree"):
        s = info[side]
        lines.append(f"  {side.replace('_', '-'):10s}     max {s['max']:,}  mean {s['mean']:.2f}  median "
                     f"{s['median']:g}  Gini {s['gini']:.3f}  top-1% share {s['top1_share']:.3f}  "
                     f"zero {s['zero']:,}")
    lines.append("  memory per format:")
    for k, v in info["memory_bytes"].items():
        lines.append(f"    {k:40s} {_human(v):>12s}")
    return "\n".join(lines)


def plot_degrees(info, path, title=""):
    """Log-log degree distribution (out and in) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("_out_deg", "out-degree"), ("_in_deg", "in-degree")):
        deg = info[key]
        cnt = np.bincount(deg)
        k = np.nonzero(cnt)[0]
        k = k[k > 0]
        ax.loglog(k, cnt[k], ".", label=label, alpha=0.7)
    ax.set_xlabel("degree")
    ax.set_ylabel("number of nodes")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
