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
    return _scores(weight, score, activations, "weight")


def _scores(weight, score, activations, name):
    w = _as_weight(weight, name)
    s = _raw_scores(w, score, activations)
    bad = np.isnan(s)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        v = float(w[i, j])
        why = ("the weight is NaN" if np.isnan(v) else
               f"an infinite weight times input column {j}'s all-zero activations")
        raise errors.InvalidArgumentError(
            f"{name}[{i}, {j}] has a NaN {score} score ({why}; {int(bad.sum())} NaN score(s) in all): "
            "fix or zero such weights, or drop such calibration rows, before pruning")
    return s


def _check_score(score):
    if not (isinstance(score, str) and score in ("magnitude", "wanda")):  # not ==: an array compares elementwise
        raise errors.InvalidArgumentError(f"score must be 'magnitude' or 'wanda', got {score!r}")


def _raw_scores(w, score, activations):
    _check_score(score)
    a = np.abs(w.astype(np.float64, copy=False))
    if score == "magnitude":
        return a
    if score == "wanda":
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
        with np.errstate(invalid="ignore", over="ignore"):  # NaN scores are refused by the caller, by name
            return a * (scale * np.sqrt(np.einsum("ij,ij->j", xs, xs)))[None, :]


def _keep_top(s, n_remove):
    """Boolean keep mask over a 1-D score array removing exactly n_remove lowest (stable order)."""
    keep = np.ones(s.shape[0], dtype=bool)
    if n_remove > 0:
        keep[np.argsort(s, kind="stable")[:n_remove]] = False
    return keep


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
    s = _scores(w, score, activations, "weight")
    out_f, in_f = w.shape
    if kind[0] == "nm":
        _, n, m = kind
        if sparsity is not None and abs(_check_sparsity(sparsity) - (1 - n / m)) > 1e-12:
            raise errors.InvalidArgumentError(f"pattern {pattern!r} fixes the sparsity at {1 - n / m:g}; "
                                              f"got sparsity={sparsity!r} (pass None)")
        if in_f % m:
            raise errors.ShapeMismatchError(f"pattern {pattern!r} needs in_features to be a multiple of {m}, "
                                            f"got weight shape {w.shape}")
        g = s.reshape(out_f, in_f // m, m)
        # Rank within each group; a stable argsort keeps the earlier column on ties.
        order = np.argsort(-g, axis=2, kind="stable")
        keep = np.zeros(g.shape, dtype=bool)
        np.put_along_axis(keep, order[:, :, :n], True, axis=2)
        return keep.reshape(out_f, in_f)
    if sparsity is None:
        raise errors.InvalidArgumentError(f"pattern {pattern!r} needs a sparsity in [0, 1]")
    sp = _check_sparsity(sparsity)
    if kind[0] == "block":
        _, r, c = kind
        if out_f % r or in_f % c:
            raise errors.ShapeMismatchError(f"block pattern {pattern!r} needs the weight shape to be a multiple of "
                                            f"({r}, {c}), got {w.shape}")
        bs = s.reshape(out_f // r, r, in_f // c, c).sum(axis=(1, 3))
        kb = _keep_top(bs.ravel(), int(round(sp * bs.size))).reshape(bs.shape)
        return np.repeat(np.repeat(kb, r, axis=0), c, axis=1)
    gran = granularity or ("row" if score == "wanda" else "layer")
    if gran == "layer":
        return _keep_top(s.ravel(), int(round(sp * s.size))).reshape(w.shape)
    n_remove = int(round(sp * in_f))  # per row
    keep = np.ones(w.shape, dtype=bool)
    if n_remove:
        order = np.argsort(s, axis=1, kind="stable")[:, :n_remove]
        np.put_along_axis(keep, order, False, axis=1)
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
    names = list(weights)
    sc = []
    for name in names:
        act = None if activations is None else activations.get(name)
        if act is None and score == "wanda":
            raise errors.InvalidArgumentError(f"score='wanda' needs activations[{name!r}]: a calibration batch of "
                                              f"layer {name!r}'s inputs, shape (n_samples, in_features)")
        sc.append(_scores(weights[name], score, act, f"weights[{name!r}]").ravel())
    flat = np.concatenate(sc)
    keep = _keep_top(flat, int(round(sp * flat.size)))
    out, pos = {}, 0
    for name, s in zip(names, sc):
        out[name] = keep[pos:pos + s.size].reshape(np.shape(weights[name]))
        pos += s.size
    return out


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
    m = (w != 0) if mask is None else to_ndarray(mask, "mask")
    if m.shape != w.shape or m.dtype != np.bool_:
        raise errors.ShapeMismatchError(f"mask must be a bool array of shape {w.shape}, got {m.dtype} {m.shape}")
    dtype = as_dtype(dtype, "dtype")
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise errors.DTypeError(f"dtype must be float32 or float64, got {dtype}")
    counts = m.sum(axis=1, dtype=np.int64)
    indptr = np.zeros(w.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    rows, cols = np.nonzero(m)  # row-major order: rows sorted, columns sorted within a row
    values = np.ascontiguousarray(w[rows, cols], dtype=dtype)
    idx_dtype = np.int32 if w.shape[1] <= np.iinfo(np.int32).max else np.int64
    return CSRMatrix(indptr, cols.astype(idx_dtype), values, shape=w.shape, check=False)


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
