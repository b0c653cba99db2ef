"""Pruning of dense weight matrices into the library's sparse formats.

Every function takes a weight in the ``torch.nn.Linear`` convention, shape
``(out_features, in_features)``, and returns a boolean *keep mask* of the same
shape (``True`` = the weight survives). :func:`to_csr` turns a weight and its
mask into a :class:`~pysparsegraph.CSRMatrix`; :func:`storage_bytes` reports
what it costs with narrow (``uint16``) column ids, which
:class:`pysparsegraph.nn.SparseLinear` uses whenever ``in_features <= 65536``.

Patterns
--------
``"unstructured"``
    The ``round(sparsity * size)`` lowest-scoring weights are removed (exact
    count; ties are broken by position, so the mask is deterministic).
    ``granularity="layer"`` ranks the whole matrix, ``"row"`` ranks every
    output row separately (each row then keeps the same count).
``"N:M"`` (e.g. ``"2:4"``, ``"4:8"``)
    In every group of ``M`` consecutive input columns of a row, the ``N``
    highest-scoring weights are kept (the sparse tensor core layout).
    ``in_features`` must be a multiple of ``M``; the sparsity is ``1 - N/M``.
``"1x4"``, ``"4x1"`` (any ``"RxC"``)
    Blocks of ``R`` rows × ``C`` columns are kept or removed together, ranked
    by the sum of their scores; the shape must be a multiple of the block.

Scores
------
``"magnitude"``: ``|W|``. ``"wanda"``: ``|W| * ||X[:, j]||_2`` (Sun et al.,
"A Simple and Effective Pruning Approach for Large Language Models", 2023),
where ``X`` is a calibration batch of the layer's *inputs*, shape
``(n_samples, in_features)``; Wanda ranks per output row by default.
"""
import re

import numpy as np

from pysparsegraph import errors
from pysparsegraph._validate import as_dim, as_dtype, is_one_of, is_real_dtype, to_ndarray

__all__ = ["prune", "prune_global", "scores", "apply_mask", "to_csr", "storage_bytes", "check_n_m"]


def _as_weight(weight, name="weight"):
    if hasattr(weight, "tocsr") or type(weight).__name__ == "CSRMatrix":
        raise errors.InvalidArgumentError(f"{name} must be a dense array: pruning ranks every entry, zeros included; "
                                          "densify with .toarray(), or pass a sparse weight to SparseLinear(...) "
                                          "directly to keep its pattern")
    w = to_ndarray(weight, name)
    if w.ndim != 2:
        raise errors.ShapeMismatchError(f"{name} must be a 2-D (out_features, in_features) array, got shape {w.shape}")
    return _check_real(w, name)


def _check_real(a, name):
    if not is_real_dtype(a.dtype):
        raise errors.DTypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    return a


def _check_n_m(n, m, what):
    if m < 1 or not 0 <= n <= m:
        raise errors.InvalidArgumentError(f"{what}: N:M needs 0 <= N <= M and M >= 1")


def _check_sparsity(sparsity):
    if isinstance(sparsity, (bool, np.bool_)) or not isinstance(sparsity, (int, float, np.floating, np.integer)):
        raise errors.InvalidArgumentError(f"sparsity must be a number in [0, 1], got {sparsity!r}")
    s = float(sparsity)
    if not 0.0 <= s <= 1.0:
        raise errors.InvalidArgumentError(f"sparsity must be in [0, 1] (fraction of weights removed), got {s}")
    return s


def scores(weight, score="magnitude", activations=None):
    """Importance of each weight (float64, same shape as ``weight``).

    Parameters
    ----------
    weight : array_like, shape (out_features, in_features)
    score : {"magnitude", "wanda"}
    activations : array_like, shape (n_samples, in_features), optional
        Calibration inputs of the layer; required by ``"wanda"``.

    Activations holding NaN or inf, or no rows, raise
    :class:`~pysparsegraph.errors.InvalidArgumentError` naming the column. A
    NaN score (a NaN weight, or an infinite weight over an all-zero
    activation column) raises it naming the weight: it has no rank, and
    sorting would have kept it as the largest in one pattern and dropped it in
    another. Infinite weights rank above every finite one.
    """
    w = _as_weight(weight)
    norms = _norms(w, score, activations)
    _check_nan(w, norms, score, "weight")
    return _full_scores(w, norms, np.float64, out=np.empty_like(w, dtype=np.float64))  # in w's memory order


# Rows per chunk hold about this many entries: pruning works chunk by chunk so that its
# temporaries (scores, sort orders) stay small next to the weight.
_CHUNK = 1 << 18


def _row_chunks(shape):
    step = max(1, _CHUNK // max(1, shape[1]))
    return [slice(r, min(r + step, shape[0])) for r in range(0, shape[0], step)]


def _score_rows(w, norms, dtype):
    """Scores of the rows ``w`` (a chunk): computed the same way for every chunk and pass, so equal bits."""
    a = w.astype(dtype)
    np.abs(a, out=a)  # after the conversion: abs of the most negative integer overflows
    if norms is not None:
        with np.errstate(invalid="ignore", over="ignore"):  # NaN scores are refused by _check_nan, by name
            a *= norms
    return a


def _full_scores(w, norms, dtype, out=None):
    s = np.empty(w.shape, dtype=dtype) if out is None else out
    for rows in _row_chunks(w.shape):
        s[rows] = _score_rows(w[rows], norms, dtype)
    return s


def _score_dtype(w, norms):
    """float32 scores for float32 magnitude pruning: |w| is exact, so they rank as the float64 ones do."""
    return np.float32 if norms is None and w.dtype == np.float32 else np.float64


def _check_nan(w, norms, score, name):
    for rows in _row_chunks(w.shape):
        if np.isnan(_score_rows(w[rows], norms, np.float64)).any():
            bad = np.isnan(_full_scores(w, norms, np.float64))
            i, j = (int(v) for v in np.argwhere(bad)[0])
            v = float(w[i, j])
            why = ("the weight is NaN" if np.isnan(v) else
                   f"an infinite weight times input column {j}'s all-zero activations")
            raise errors.InvalidArgumentError(
                f"{name}[{i}, {j}] has a NaN {score} score ({why}; {int(bad.sum())} NaN score(s) in all): "
                "fix or zero such weights, or drop such calibration rows, before pruning")


def _check_score(score):
    if not (isinstance(score, str) and score in ("magnitude", "wanda")):  # not ==: an array compares elementwise
        raise errors.InvalidArgumentError(f"score must be 'magnitude' or 'wanda', got {score!r}")


def _norms(w, score, activations):
    """None for magnitude; for Wanda the (in_features,) float64 factors ``||X[:, j]||_2`` that scale ``|W|``."""
    _check_score(score)
    if score == "magnitude":
        return None
    if activations is None:
        raise errors.InvalidArgumentError("score='wanda' needs activations: a calibration batch of the layer's "
                                          "inputs, shape (n_samples, in_features)")
    # checked first: a string array would fail deep in the float conversion
    x = _check_real(to_ndarray(activations, "activations"), "activations").astype(np.float64, copy=False)
    if x.ndim != 2 or x.shape[1] != w.shape[1]:
        raise errors.ShapeMismatchError(f"activations must have shape (n_samples, {w.shape[1]}) for a weight of "
                                        f"shape {w.shape}, got {x.shape}")
    if x.shape[0] == 0:
        raise errors.InvalidArgumentError("activations hold no samples: Wanda needs a calibration batch of at "
                                          "least one row")
    bad = np.flatnonzero(~np.isfinite(x).all(axis=0))
    if bad.size:  # an inf would make every weight of its column score inf and be kept
        raise errors.InvalidArgumentError(f"activations column {int(bad[0])} holds NaN or inf; fix it or drop "
                                          "such calibration rows before pruning")
    # each column's norm scaled by its largest magnitude, so that squares of large finite
    # activations (1e200) do not overflow
    top = np.abs(x).max(axis=0, initial=0.0)
    scale = np.where(top > 0, top, 1.0)
    xs = x / scale
    with np.errstate(invalid="ignore", over="ignore"):
        return scale * np.sqrt(np.einsum("ij,ij->j", xs, xs))


def _threshold(s, n_remove):
    """``(t, n_tied)`` for 0 < n_remove <= s.size: a stable ascending sort of ``s`` removes every score below
    ``t``, then the first ``n_tied`` (by position) equal to ``t``. ``s`` is 1-D scratch, partitioned in place."""
    k = n_remove - 1
    s.partition(k)
    t = s[k]
    # what is below t sits in s[:k]; counted in chunks to keep the bool temporary small
    below = sum(int(np.count_nonzero(s[i:min(i + _CHUNK, k)] < t)) for i in range(0, k, _CHUNK))
    return t, n_remove - below


def _mark_kept(s, t, n_tied, out):
    """Keep mask of the chunk ``s`` into ``out`` (C-contiguous); returns the ties still to remove after it."""
    if not n_tied:
        np.greater_equal(s, t, out=out)
        return 0
    np.greater(s, t, out=out)
    tied = np.flatnonzero(s == t)
    out.reshape(-1)[tied[n_tied:]] = True
    return max(0, n_tied - tied.size)


def _keep_top(layers, n_remove, dtype):
    """Keep masks removing exactly n_remove lowest scores of all ``(w, norms)`` layers ranked as one flat array,
    ties broken by position as a stable argsort does; scores are recomputed per chunk instead of kept."""
    sizes = [w.size for w, _ in layers]
    keep = np.ones(sum(sizes), dtype=bool)
    masks = [keep[p - n:p].reshape(w.shape) for (w, _), n, p in zip(layers, sizes, np.cumsum(sizes))]
    if n_remove == 0:
        return masks
    flat = np.empty(keep.size, dtype=dtype)
    for (w, norms), n, p in zip(layers, sizes, np.cumsum(sizes)):
        _full_scores(w, norms, dtype, out=flat[p - n:p].reshape(w.shape))
    t, n_tied = _threshold(flat, n_remove)
    del flat
    for (w, norms), mask in zip(layers, masks):
        for rows in _row_chunks(w.shape):
            n_tied = _mark_kept(_score_rows(w[rows], norms, dtype), t, n_tied, mask[rows])
    return masks


def _parse_pattern(pattern):
    if isinstance(pattern, str):  # first: == on an array would compare elementwise
        if pattern == "unstructured":
            return ("unstructured",)
        m = re.fullmatch(r"\s*(\d{1,18})\s*:\s*(\d{1,18})\s*", pattern)  # longer numbers fail int()
        if m:
            n, mm = int(m.group(1)), int(m.group(2))
            _check_n_m(n, mm, f"pattern {pattern!r}")
            return ("nm", n, mm)
        m = re.fullmatch(r"\s*(\d{1,18})\s*[xX]\s*(\d{1,18})\s*", pattern)
        if m:
            r, c = int(m.group(1)), int(m.group(2))
            if r < 1 or c < 1:
                raise errors.InvalidArgumentError(f"pattern {pattern!r}: block sides must be >= 1")
            return ("block", r, c)
    raise errors.InvalidArgumentError(
        f"pattern must be 'unstructured', an N:M string like '2:4' or a block like '1x4' / '4x1', got {pattern!r}")


def prune(weight, sparsity=None, *, pattern="unstructured", score="magnitude", activations=None, granularity=None):
    """Keep mask of one weight matrix.

    Parameters
    ----------
    weight : array_like, shape (out_features, in_features)
    sparsity : float in [0, 1], optional
        Fraction of weights to remove. Required except for N:M patterns, whose
        sparsity is ``1 - N/M`` (passing a different value raises).
    pattern : str
        ``"unstructured"``, ``"N:M"`` or ``"RxC"`` (see the module docs).
    score : {"magnitude", "wanda"}
    activations : array_like, shape (n_samples, in_features), optional
        Calibration inputs (for ``score="wanda"``).
    granularity : {"layer", "row"}, optional
        For unstructured pruning: rank over the whole matrix or per output
        row. Default ``"layer"`` for magnitude and ``"row"`` for Wanda. N:M
        and block patterns fix their own grouping and ignore it.

    Returns
    -------
    numpy.ndarray of bool, shape of ``weight``
    """
    w = _as_weight(weight)
    kind = _parse_pattern(pattern)
    if granularity is not None and not is_one_of(granularity, ("layer", "row")):
        raise errors.InvalidArgumentError(f"granularity must be 'layer', 'row' or None, got {granularity!r}")
    norms = _norms(w, score, activations)
    _check_nan(w, norms, score, "weight")
    dtype = _score_dtype(w, norms)
    out_f, in_f = w.shape
    if kind[0] == "nm":
        _, n, m = kind
        if sparsity is not None and abs(_check_sparsity(sparsity) - (1 - n / m)) > 1e-12:
            raise errors.InvalidArgumentError(f"pattern {pattern!r} fixes the sparsity at {1 - n / m:g}; "
                                              f"got sparsity={sparsity!r} (pass None)")
        if in_f % m:
            raise errors.ShapeMismatchError(f"pattern {pattern!r} needs in_features to be a multiple of {m}, "
                                            f"got weight shape {w.shape}")
        keep = np.zeros(w.shape, dtype=bool)
        for rows in _row_chunks(w.shape):
            g = _score_rows(w[rows], norms, dtype).reshape(rows.stop - rows.start, in_f // m, m)
            # Rank within each group; a stable argsort keeps the earlier column on ties.
            order = np.argsort(np.negative(g, out=g), axis=2, kind="stable")
            np.put_along_axis(keep[rows].reshape(g.shape), order[:, :, :n], True, axis=2)
        return keep
    if sparsity is None:
        raise errors.InvalidArgumentError(f"pattern {pattern!r} needs a sparsity in [0, 1]")
    sp = _check_sparsity(sparsity)
    if kind[0] == "block":
        _, r, c = kind
        if out_f % r or in_f % c:
            raise errors.ShapeMismatchError(f"block pattern {pattern!r} needs the weight shape to be a multiple of "
                                            f"({r}, {c}), got {w.shape}")
        bs = _full_scores(w, norms, np.float64).reshape(out_f // r, r, in_f // c, c).sum(axis=(1, 3))
        kb, = _keep_top([(bs, None)], int(round(sp * bs.size)), np.float64)  # bs >= 0: |bs| is bs
        return np.repeat(np.repeat(kb, r, axis=0), c, axis=1)
    gran = granularity or ("row" if score == "wanda" else "layer")
    if gran == "layer":
        return _keep_top([(w, norms)], int(round(sp * w.size)), dtype)[0]
    n_remove = int(round(sp * in_f))  # per row
    keep = np.ones(w.shape, dtype=bool)
    if n_remove:
        for rows in _row_chunks(w.shape):
            order = np.argsort(_score_rows(w[rows], norms, dtype), axis=1, kind="stable")[:, :n_remove]
            np.put_along_axis(keep[rows], order, False, axis=1)
    return keep


def prune_global(weights, sparsity, *, score="magnitude", activations=None):
    """Keep masks for several layers ranked together (global magnitude pruning).

    Parameters
    ----------
    weights : dict of name -> array_like (out_features, in_features)
    sparsity : float in [0, 1]
        Fraction of *all* weights removed; layers end up with different sparsities.
    score : {"magnitude", "wanda"}
    activations : dict of name -> array_like, optional (for Wanda)

    Returns
    -------
    dict of name -> bool mask
    """
    sp = _check_sparsity(sparsity)
    _check_score(score)
    if not isinstance(weights, dict) or not weights:
        raise errors.InvalidArgumentError("weights must be a non-empty dict of name -> 2-D array")
    if activations is not None and not isinstance(activations, dict):
        raise errors.InvalidArgumentError("activations must be a dict of layer name -> calibration batch (the "
                                          f"layers' inputs), got {type(activations).__name__}")
    layers = []
    for name in weights:
        act = None if activations is None else activations.get(name)
        if act is None and score == "wanda":
            raise errors.InvalidArgumentError(f"score='wanda' needs activations[{name!r}]: a calibration batch of "
                                              f"layer {name!r}'s inputs, shape (n_samples, in_features)")
        w = _as_weight(weights[name], f"weights[{name!r}]")
        norms = _norms(w, score, act)
        _check_nan(w, norms, score, f"weights[{name!r}]")
        layers.append((w, norms))
    n_remove = int(round(sp * sum(w.size for w, _ in layers)))
    dtype = np.result_type(*(_score_dtype(w, norms) for w, norms in layers))
    return dict(zip(weights, _keep_top(layers, n_remove, dtype)))


def apply_mask(weight, mask):
    """A pruned copy of ``weight`` (zeros where ``mask`` is False); the input is not modified."""
    w = _as_weight(weight)
    m = to_ndarray(mask, "mask")
    if m.shape != w.shape or m.dtype != np.bool_:
        raise errors.ShapeMismatchError(f"mask must be a bool array of shape {w.shape}, got {m.dtype} {m.shape}")
    return np.where(m, w, np.zeros((), dtype=w.dtype))


def to_csr(weight, mask=None, *, dtype=np.float32):
    """The pruned weight as a :class:`~pysparsegraph.CSRMatrix` (int32 ids, sorted rows).

    Parameters
    ----------
    weight : array_like, shape (out_features, in_features)
    mask : bool array of the same shape, optional
        Entries to keep. ``None`` keeps every non-zero of ``weight``. Kept
        entries whose value is exactly 0 are still stored (the pattern is the mask).
    dtype : float32 or float64
    """
    from pysparsegraph.matrix import CSRMatrix
    w = _as_weight(weight)
    m = None if mask is None else to_ndarray(mask, "mask")
    if m is not None and (m.shape != w.shape or m.dtype != np.bool_):
        raise errors.ShapeMismatchError(f"mask must be a bool array of shape {w.shape}, got {m.dtype} {m.shape}")
    dtype = as_dtype(dtype, "dtype")
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise errors.DTypeError(f"dtype must be float32 or float64, got {dtype}")
    idx_dtype = np.int32 if w.shape[1] <= np.iinfo(np.int32).max else np.int64
    return CSRMatrix(*_csr_arrays(w, m, dtype, idx_dtype), shape=w.shape, check=False)


def _csr_arrays(w, mask, dtype, idx_dtype):
    """(indptr, indices, values) of the entries of ``w`` under ``mask`` (None: its non-zeros), filled chunk by
    chunk straight into the output dtypes: no int64 (row, col) pairs or mask of the whole matrix."""
    chunks = _row_chunks(w.shape)
    keep = (lambda rows: w[rows] != 0) if mask is None else (lambda rows: mask[rows])
    indptr = np.zeros(w.shape[0] + 1, dtype=np.int64)
    for rows in chunks:
        indptr[rows.start + 1:rows.stop + 1] = keep(rows).sum(axis=1, dtype=np.int64)
    np.cumsum(indptr, out=indptr)
    nnz = int(indptr[-1])
    indices, values = np.empty(nnz, dtype=idx_dtype), np.empty(nnz, dtype=dtype)
    for rows in chunks:
        r, c = np.nonzero(keep(rows))  # row-major order: rows sorted, columns sorted within a row
        lo, hi = indptr[rows.start], indptr[rows.stop]
        indices[lo:hi] = c
        values[lo:hi] = w[rows][r, c]
    return indptr, indices, values


def storage_bytes(n_rows, n_cols, nnz, *, value_bytes=4, index_dtype="auto"):
    """Bytes of a CSR weight: int64 row pointers + column ids + values.

    ``index_dtype="auto"`` picks uint16 when ``n_cols <= 65536`` (what
    :class:`~pysparsegraph.nn.SparseLinear` stores), else int32/int64.
    Returns a dict with ``indptr``, ``indices``, ``values``, ``total`` and
    ``dense`` (the float32/float64 dense matrix) bytes.
    """
    n_rows, n_cols, nnz = as_dim(n_rows, "n_rows"), as_dim(n_cols, "n_cols"), as_dim(nnz, "nnz")
    value_bytes = as_dim(value_bytes, "value_bytes")
    if nnz > n_rows * n_cols:
        raise errors.InvalidArgumentError(f"nnz={nnz} exceeds the {n_rows} x {n_cols} entries of the matrix")
    if is_one_of(index_dtype, ("auto",)):
        index_dtype = np.uint16 if n_cols <= 65536 else (np.int32 if n_cols <= np.iinfo(np.int32).max else np.int64)
    index_dtype = as_dtype(index_dtype, "index_dtype")
    if not np.issubdtype(index_dtype, np.integer):
        raise errors.DTypeError(f"index_dtype must be an integer dtype, got {index_dtype}")
    if n_cols > 0 and n_cols - 1 > np.iinfo(index_dtype).max:
        raise errors.IndexOverflowError(f"index_dtype {index_dtype} holds column ids up to "
                                        f"{np.iinfo(index_dtype).max}, but n_cols = {n_cols}")
    ib = index_dtype.itemsize
    out = {"indptr": 8 * (n_rows + 1), "indices": ib * nnz, "values": value_bytes * nnz}
    out["total"] = out["indptr"] + out["indices"] + out["values"]
    out["dense"] = value_bytes * n_rows * n_cols
    out["index_dtype"] = index_dtype.name
    return out


def check_n_m(mask, n, m):
    """True when every group of ``m`` consecutive columns of every row keeps at most ``n`` entries."""
    _check_n_m(as_dim(n, "n"), as_dim(m, "m"), f"n={n}, m={m}")
    k = np.asarray(to_ndarray(mask, "mask"), dtype=bool)
    if k.ndim != 2 or k.shape[1] % m:
        return False
    return bool((k.reshape(k.shape[0], k.shape[1] // m, m).sum(axis=2) <= n).all())
