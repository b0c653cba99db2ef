"""Sparse-weight layers for pruned networks.

:class:`SparseLinear` computes ``Y = act(X @ W.T + b)`` with the pruned weight
``W`` (out_features × in_features) stored in CSR with narrow column ids
(``uint16`` when ``in_features <= 65536``, else int32), float32 values.

Internally activations are kept *feature-major*: ``Xt = X.T`` with one row of
``batch`` contiguous floats per input feature, so that ``Yt = W @ Xt`` is a
sparse × dense product whose dense operand rows are contiguous SIMD vectors,
with bias, activation (and an optional clamp) fused into the kernel's store.
:meth:`SparseLinear.forward` takes and returns the usual row-major
``(batch, features)`` arrays (no transposed copies: each thread transposes
the tiles it computes);
:meth:`SparseLinear.forward_t` works on the feature-major arrays directly, and
:class:`SparseSequential` chains layers in that layout so only the two ends
transpose.
"""
import collections
import math
import numbers
import threading

import numpy as np

from pysparsegraph import _core, errors
from pysparsegraph._validate import c_aligned, is_one_of, resolve_threads, to_ndarray

__all__ = ["SparseLinear", "SparseSequential"]

_ACT = {None: 0, "none": 0, "linear": 0, "relu": 1, "gelu": 2}
_ISA = {"auto": 0, "portable": 1, "avx2": 2, "avx512": 3}
_ISA_NAMES = {v: k for k, v in _ISA.items()}
# layout bits of the C driver (PSG_SL_X_ROW_MAJOR, PSG_SL_Y_ROW_MAJOR): row-major input / output
_X_ROWS, _Y_ROWS = 1, 2


def _isa_code(isa):
    if not is_one_of(isa, _ISA):
        raise errors.InvalidArgumentError(f"isa must be one of {sorted(_ISA)}, got {isa!r}")
    return _ISA[isa]


def _scipy_gelu_free(x):
    """Reference GELU (exact erf form) in NumPy, for :meth:`SparseLinear.dense_forward`."""
    from math import sqrt
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - scipy is in the test extra
        erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / sqrt(2.0)))


class SparseLinear:
    """``Y = min(clamp_max, act(X @ W.T + bias))`` with a sparse ``W``.

    Parameters
    ----------
    weight : CSRMatrix, scipy.sparse matrix, or 2-D array_like (out_features, in_features)
        The (pruned) weight. A dense array stores its non-zeros. Values are
        stored as float32; the column ids as uint16 when ``in_features <=
        65536`` (``index_dtype="auto"``), else int32. One copy is made.
    bias : array_like (out_features,), optional
    activation : {None, "relu", "gelu"}
        Applied in the kernel's epilogue. ``"gelu"`` is the exact (erf) GELU,
        evaluated with a polynomial erf accurate to about 2e-7.
    clamp_max : float, optional
        Upper clamp applied after the activation (the Sparse DNN Graph
        Challenge uses 32). ``None``: no clamp.
    index_dtype : {"auto", "uint16", "int32"} or the NumPy dtype (np.uint16, np.int32)
    n_threads : int, optional
        Default thread count of this layer's calls; ``None`` = the OpenMP
        runtime's limit at call time (so ``threadpoolctl`` limits apply).
    """

    def __init__(self, weight, bias=None, *, activation=None, clamp_max=None, index_dtype="auto", n_threads=None):
        src, shape = _weight_source(weight)
        out_f, in_f = shape
        if is_one_of(index_dtype, ("auto",)):
            index_dtype = "uint16" if in_f <= 65536 else "int32"
        asked, index_dtype = index_dtype, _index_dtype_name(index_dtype)
        if index_dtype not in ("uint16", "int32"):
            raise errors.InvalidArgumentError(f"index_dtype must be 'auto', 'uint16' or 'int32', got {asked!r}")
        if index_dtype == "uint16" and in_f > 65536:
            raise errors.IndexOverflowError(f"index_dtype='uint16' holds column ids < 65536, but in_features = {in_f}")
        if in_f > np.iinfo(np.int32).max:
            raise errors.IndexOverflowError(f"in_features = {in_f} does not fit int32 column ids")
        if isinstance(src, _Dense):  # fresh arrays built in the layer's dtypes: nothing to copy
            from pysparsegraph.prune import _csr_arrays
            arrays = _csr_arrays(src.weight, src.mask, np.float32, np.dtype(index_dtype))
        else:  # the layer's own copies (one each, conversion included): frozen below without freezing the caller's
            arrays = (np.array(a, dtype=dt, order="C", copy=True)
                      for a, dt in zip(src, (np.int64, np.dtype(index_dtype), np.float32)))
        self._indptr, self._indices, self._values = arrays
        for a in (self._indptr, self._indices, self._values):
            a.flags.writeable = False
        self._shape = (int(out_f), int(in_f))
        if bias is not None:
            b = to_ndarray(bias, "bias")
            if b.ndim != 1 or b.shape[0] != out_f:
                raise errors.ShapeMismatchError(f"bias must have shape ({out_f},) for out_features = {out_f}, "
                                                f"got {b.shape}")
            if b.dtype.kind not in "fiub":
                raise errors.DTypeError(f"bias must be real numbers, got dtype {b.dtype}")
            bias = np.array(b, dtype=np.float32, copy=True)
            bias.flags.writeable = False
        self._bias = bias
        if not is_one_of(activation, _ACT):
            raise errors.InvalidArgumentError(f"activation must be None, 'relu' or 'gelu', got {activation!r}")
        self.activation = None if _ACT[activation] == 0 else activation
        if clamp_max is not None:
            if not isinstance(clamp_max, numbers.Real) or isinstance(clamp_max, bool):
                raise errors.InvalidArgumentError(f"clamp_max must be a real number or None, got {clamp_max!r}")
            try:
                clamp_max = float(clamp_max)
            except OverflowError:  # an int past float's range: no float32 output reaches it
                clamp_max = math.inf if clamp_max > 0 else -math.inf
            if math.isnan(clamp_max):
                raise errors.InvalidArgumentError(f"clamp_max must be a real number or None, got {clamp_max!r}")
        self.clamp_max = clamp_max
        resolve_threads(n_threads)
        self.n_threads = n_threads

    # ---- construction ---------------------------------------------------
    @classmethod
    def from_dense(cls, weight, bias=None, *, sparsity=None, pattern="unstructured", score="magnitude",
                   activations=None, granularity=None, **kwargs):
        """Prune a dense weight with :func:`pysparsegraph.prune.prune` and wrap it.

        ``sparsity``, ``pattern``, ``score``, ``activations`` and ``granularity``
        go to :func:`~pysparsegraph.prune.prune`; other keyword arguments to the
        constructor. With ``sparsity=None`` and ``pattern="unstructured"`` the
        weight's existing zeros define the pattern.
        """
        from pysparsegraph import prune as _prune
        w = _prune._as_weight(weight)
        _prune._check_score(score)  # before the == below: an array would compare elementwise
        if sparsity is None and isinstance(pattern, str) and pattern == "unstructured":
            if score != "magnitude" or activations is not None or granularity is not None:
                raise errors.InvalidArgumentError("score, activations and granularity choose what to prune: pass "
                                                  "sparsity= too (without it the weight's zeros are the pattern)")
            mask = w != 0
        else:
            mask = _prune.prune(w, sparsity, pattern=pattern, score=score, activations=activations,
                                granularity=granularity)
        return cls(_Dense(w, mask), bias, **kwargs)

    # ---- properties -----------------------------------------------------
    @property
    def in_features(self):
        """Input width: columns of the weight."""
        return self._shape[1]

    @property
    def out_features(self):
        """Output width: rows of the weight."""
        return self._shape[0]

    @property
    def shape(self):
        """``(out_features, in_features)``."""
        return self._shape

    @property
    def nnz(self):
        """Stored entries of the sparse weight."""
        return int(self._indptr[-1])

    @property
    def density(self):
        """``nnz / (out_features * in_features)`` as a float (0.0 for an empty shape)."""
        n = self._shape[0] * self._shape[1]
        return self.nnz / n if n else 0.0

    @property
    def index_dtype(self):
        """dtype of the stored column ids: uint16 or int32."""
        return self._indices.dtype

    @property
    def bias(self):
        """The layer's own read-only float32 copy of the bias ``(out_features,)``, or None."""
        return self._bias

    @property
    def nbytes(self):
        """Bytes of the sparse weight (row pointers + column ids + values), bias excluded."""
        return self._indptr.nbytes + self._indices.nbytes + self._values.nbytes

    @property
    def dense_nbytes(self):
        """Bytes of the same weight stored dense in float32."""
        return 4 * self._shape[0] * self._shape[1]

    def to_csr(self):
        """The weight as a :class:`~pysparsegraph.CSRMatrix` (int32 ids, float32 values; a copy of the ids)."""
        from pysparsegraph.matrix import CSRMatrix
        return CSRMatrix(self._indptr, self._indices.astype(np.int32), self._values, shape=self._shape, check=False)

    def to_dense(self):
        """The weight as a dense float32 ``(out_features, in_features)`` array."""
        w = np.zeros(self._shape, dtype=np.float32)
        rows = np.repeat(np.arange(self._shape[0]), np.diff(self._indptr))
        np.add.at(w, (rows, self._indices.astype(np.int64)), self._values)
        return w

    def __repr__(self):
        return (f"SparseLinear(in_features={self.in_features}, out_features={self.out_features}, nnz={self.nnz}, "
                f"density={self.density:.3f}, index_dtype={self.index_dtype}, activation={self.activation!r}, "
                f"clamp_max={self.clamp_max!r})")

    # ---- compute --------------------------------------------------------
    def forward_t(self, xt, out=None, *, n_threads=None, isa="auto"):
        """Feature-major forward: ``Yt = act(W @ Xt + bias[:, None])``.

        Parameters
        ----------
        xt : array_like, shape (in_features, batch)
            float32 C-contiguous is used without a copy; anything else is
            converted once (documented copy).
        out : ndarray float32 C-contiguous (out_features, batch), optional
        n_threads : int, optional (defaults to the layer's ``n_threads``)
        isa : {"auto", "portable", "avx2", "avx512"}
            Force a kernel (for tests); unsupported ones raise UnsupportedError.

        Returns
        -------
        ndarray float32, shape (out_features, batch)
        """
        xt = _as_f32_2d(xt, "xt")
        if xt.shape[0] != self.in_features:
            raise errors.ShapeMismatchError(f"xt must have shape (in_features={self.in_features}, batch), got "
                                            f"{xt.shape}; for row-major (batch, features) input use forward()")
        batch = xt.shape[1]
        if out is None:
            out = np.empty((self.out_features, batch), dtype=np.float32)
        else:
            _check_out(out, (self.out_features, batch))
            if np.shares_memory(out, xt):
                raise errors.InvalidArgumentError("out must not overlap xt")
        self._run(xt, out, n_threads, 0, _isa_code(isa))
        return out

    def forward(self, x, *, n_threads=None):
        """``Y = act(X @ W.T + bias)`` for row-major ``x`` of shape ``(batch, in_features)`` (or 1-D).

        Runs the feature-major kernel of :meth:`forward_t` without transposing X or Y
        as a whole: each thread transposes the input tile it computes while packing
        it, and its block of outputs while storing it (bit-identical to
        ``forward_t(x.T).T``). Non-float32 or non-contiguous input is converted
        first (one documented copy). Returns a float32 ``(batch, out_features)``
        array (1-D for 1-D input).
        """
        x, one = _rows_input(x, self.in_features)
        y = np.empty((x.shape[0], self.out_features), dtype=np.float32)
        self._run(x, y, n_threads, _X_ROWS | _Y_ROWS)
        return y[0] if one else y

    def _run(self, x, y, n_threads, layout, isa=_ISA["auto"]):
        """y[:] = the layer on validated C-contiguous float32 x, each operand feature-major
        or row-major by the ``layout`` bits (_X_ROWS, _Y_ROWS); ``isa`` is a C code (_isa_code)."""
        nt = resolve_threads(self.n_threads if n_threads is None else n_threads)
        clamp = np.inf if self.clamp_max is None else self.clamp_max
        _core.sparse_linear_layout(self.in_features, self._indptr, self._indices, self._values, self._bias, x, y,
                                   _ACT[self.activation], clamp, isa, nt, layout)

    __call__ = forward

    def dense_forward(self, x):
        """NumPy dense reference of :meth:`forward` (same pruned weights), float32 row-major.

        It multiplies the pruned zeros too, so an inf or NaN input gives NaN
        where :meth:`forward`, which only visits stored weights, gives a number."""
        x = np.asarray(to_ndarray(x, "x"), dtype=np.float32)
        y = x @ self.to_dense().T
        if self._bias is not None:
            y = y + self._bias
        if self.activation == "relu":
            y = np.maximum(y, 0)
        elif self.activation == "gelu":
            y = _scipy_gelu_free(y.astype(np.float64)).astype(np.float32)
        if self.clamp_max is not None:
            y = np.minimum(y, np.float32(self.clamp_max))
        return y


class SparseSequential:
    """A chain of :class:`SparseLinear` layers (an MLP or a transformer FFN block).

    Activations stay feature-major between layers (no transposes inside the
    chain); :meth:`forward` reads row-major input in the first layer and
    writes row-major output in the last (each thread transposes its own tiles).

    Parameters
    ----------
    layers : sequence of SparseLinear
    drop_dead : bool
        After every layer, drop the batch items whose activations are all zero
        (they stay zero when the following layers have no positive bias and a
        ReLU, as in the Sparse DNN Graph Challenge); their output rows are
        returned as zeros. Only valid for such networks, hence off by default.
    n_threads : int, optional
        Default thread count of :meth:`forward` and :meth:`forward_t`; ``None``
        leaves each layer's own ``n_threads`` in force (and the OpenMP limit at
        call time for the chain's own transposes and ``drop_dead`` steps).
    """

    def __init__(self, layers, *, drop_dead=False, n_threads=None):
        layers = list(layers)
        if not layers or not all(isinstance(l, SparseLinear) for l in layers):
            raise errors.InvalidArgumentError("layers must be a non-empty sequence of SparseLinear")
        for i in range(1, len(layers)):
            if layers[i].in_features != layers[i - 1].out_features:
                raise errors.ShapeMismatchError(f"layer {i} has in_features {layers[i].in_features} but layer {i - 1} "
                                                f"has out_features {layers[i - 1].out_features}")
        self.layers = layers
        self.drop_dead = bool(drop_dead)
        resolve_threads(n_threads)
        self.n_threads = n_threads
        self._scratch = _Scratch()

    @property
    def nnz(self):
        """Stored weight entries over all layers."""
        return sum(l.nnz for l in self.layers)

    @property
    def nbytes(self):
        """Bytes of all layers' sparse weights (:attr:`SparseLinear.nbytes`), biases excluded."""
        return sum(l.nbytes for l in self.layers)

    def forward_t(self, xt, *, n_threads=None):
        """Feature-major forward: ``(in_features, batch)`` -> ``(out_features, batch)`` float32."""
        n_threads = self.n_threads if n_threads is None else n_threads
        nt = resolve_threads(n_threads)
        h = _as_f32_2d(xt, "xt")
        if h.shape[0] != self.layers[0].in_features:
            raise errors.ShapeMismatchError(f"xt must have shape ({self.layers[0].in_features}, batch), got {h.shape}")
        batch = h.shape[1]
        alive = None  # ids of the batch items still computed (drop_dead)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            # intermediate activations go to per-thread scratch (two buffers, alternating);
            # the last layer's output is a fresh array owned by the caller
            out = None if i == last else self._scratch.get(f"h{i % 2}", (layer.out_features, h.shape[1]))
            h = layer.forward_t(h, out=out, n_threads=n_threads)
            if self.drop_dead:
                keep = _core.nonzero_columns(h, nt)
                if keep.shape[0] < h.shape[1]:
                    h = _core.gather_columns(h, keep, nt)
                    alive = keep if alive is None else alive[keep]
        if alive is None:
            return h
        full = np.zeros((h.shape[0], batch), dtype=np.float32)
        full[:, alive] = h
        return full

    def forward(self, x, *, n_threads=None):
        """Row-major forward: ``(batch, in_features)`` -> ``(batch, out_features)`` float32
        (1-D for 1-D input, as :meth:`SparseLinear.forward`).

        The first layer reads ``x`` row-major and the last one writes row-major
        output (each thread transposes its own tiles); activations in between stay
        feature-major. With ``drop_dead`` the chain runs on one transposed copy.
        """
        x, one = _rows_input(x, self.layers[0].in_features)
        n_threads = self.n_threads if n_threads is None else n_threads
        nt = resolve_threads(n_threads)
        if self.drop_dead:
            xt = _core.transpose(x, nt, self._scratch.get("xt", (self.layers[0].in_features, x.shape[0])))
            y = _core.transpose(self.forward_t(xt, n_threads=n_threads), nt)
            return y[0] if one else y
        batch, last = x.shape[0], len(self.layers) - 1
        h = x
        for i, layer in enumerate(self.layers):
            layout = (_X_ROWS if i == 0 else 0) | (_Y_ROWS if i == last else 0)
            out = (np.empty((batch, layer.out_features), dtype=np.float32) if i == last
                   else self._scratch.get(f"h{i % 2}", (layer.out_features, batch)))
            layer._run(h, out, n_threads, layout)
            h = out
        return h[0] if one else h

    __call__ = forward


def kernel_isa():
    """Name of the kernel the layers use on this CPU: 'avx512', 'avx2' or 'portable'."""
    return _ISA_NAMES[_core.sparse_linear_best_isa()]


def isa_supported(isa):
    """Whether ``forward_t(..., isa=isa)`` can run here."""
    return _core.isa_supported(_isa_code(isa))


# ---- helpers ---------------------------------------------------------------
class _Scratch(threading.local):
    """Per-thread reusable float32 buffers of the row-major paths (transposed
    input, intermediate activations). Reusing them matters: a fresh multi-MiB
    array is page-faulted in on every call, which cost more than the sparse
    product itself in measurements here. Thread-local, so concurrent calls from
    several Python threads never share a buffer; the buffers never escape to the
    caller."""

    def __reduce__(self):
        # a pickled or copied SparseSequential gets empty buffers of its own
        return (_Scratch, ())

    def get(self, key, shape):
        bufs = self.__dict__.setdefault("bufs", {})
        b = bufs.get(key)
        if b is None or b.shape != shape:
            b = bufs[key] = np.empty(shape, dtype=np.float32)
        return b

def _check_real(x, name):
    if x.dtype.kind not in "fiub":
        raise errors.DTypeError(f"{name} must hold real numbers, got dtype {x.dtype}")


def _as_f32_2d(a, name):
    a = to_ndarray(a, name)
    if a.ndim != 2:
        raise errors.ShapeMismatchError(f"{name} must be 2-D, got shape {a.shape}")
    _check_real(a, name)
    return c_aligned(np.asarray(a, dtype=np.float32))


def _rows_input(x, in_features):
    """(C-contiguous float32 2-D x, whether x was 1-D) of a row-major forward's input."""
    a = to_ndarray(x, "x")
    one = a.ndim == 1
    if a.ndim not in (1, 2) or a.shape[-1] != in_features:
        raise errors.ShapeMismatchError(f"x must have shape (batch, in_features={in_features}) or "
                                        f"(in_features,), got {a.shape}")
    _check_real(a, "x")
    return c_aligned(np.asarray(a[None, :] if one else a, dtype=np.float32)), one


def _index_dtype_name(value):
    """The dtype name of an index_dtype given as a name or a NumPy dtype (np.uint16), else value."""
    if value is None:  # np.dtype(None) is float64
        return value
    try:
        return np.dtype(value).name
    except (TypeError, ValueError):
        return value


def _check_out(out, shape):
    if not isinstance(out, np.ndarray) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise errors.DTypeError("out must be a C-contiguous float32 ndarray")
    if not out.flags.writeable:
        raise errors.InvalidArgumentError("out is read-only")
    if not out.flags.aligned:  # the C core writes it through typed pointers
        raise errors.InvalidArgumentError("out is a view at an odd byte offset, not aligned to its 4-byte items")
    if out.shape != shape:
        raise errors.ShapeMismatchError(f"out must have shape {shape}, got {out.shape}")


class _Dense(collections.namedtuple("_Dense", "weight mask")):
    """A validated dense weight and its keep mask (None: its non-zeros), for the layer to store directly."""


def _weight_source(weight):
    """(source, shape) of a validated weight, any accepted form: the caller's (indptr, indices, values), or a
    :class:`_Dense`."""
    from pysparsegraph.matrix import CSRMatrix
    if isinstance(weight, _Dense):
        return weight, weight.weight.shape
    if isinstance(weight, CSRMatrix):
        vals = weight.values
        if vals is None:
            vals = np.ones(weight.nnz, dtype=np.float32)
        return (weight.indptr, weight.indices, vals), weight.shape
    if hasattr(weight, "tocsr") and hasattr(weight, "format"):
        return _weight_source(CSRMatrix.from_scipy(weight))
    w = to_ndarray(weight, "weight")
    if w.ndim != 2:
        raise errors.ShapeMismatchError(f"weight must be 2-D (out_features, in_features) or sparse, got shape {w.shape}")
    if w.dtype.kind not in "fiub":
        raise errors.DTypeError(f"weight must hold real numbers, got dtype {w.dtype}")
    return _Dense(w, None), w.shape
