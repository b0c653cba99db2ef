"""Planetoid citation datasets (``ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}``).

The files are Python 2 pickles. They are read with a *restricted* unpickler
that resolves only the handful of globals these files contain -- numpy's
array reconstruction (``ndarray``, ``dtype``, ``_reconstruct``), scipy's
``csr_matrix`` (replaced by an inert stand-in that only records the pickled
arrays, so scipy is not needed), ``collections.defaultdict`` and ``list`` --
and refuses everything else (``os.system``, ``builtins.eval``, ...) with a
:class:`~pysparsegraph.errors.FormatError`. Object arrays are refused too,
so a crafted file cannot run code while loading.

The result follows PyTorch Geometric's ``read_planetoid_data`` conventions
(Yang et al., ICML 2016 split; Fey & Lenssen 2019):
features = ``allx`` stacked on ``tx`` with the test rows put in
``test.index`` order; labels = argmax of ``ally``/``ty`` the same way;
train = the first ``len(y)`` nodes, val = the next 500, test = the sorted test
index; Citeseer's 15 test ids missing from the index range get zero feature
and label rows (label 0); the ``graph`` dict is flattened, self loops are
removed and the edges coalesced (sorted, de-duplicated).
"""
import collections
import io as _io
import itertools
import os
import pickle
import pickletools
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from pysparsegraph import errors
from pysparsegraph._validate import as_array, as_path, is_integer_dtype
from pysparsegraph.datasets import NodeDataset
from pysparsegraph.matrix import CSRMatrix


class _PickledCSR:
    """Stand-in for ``scipy.sparse.csr_matrix``: keeps the pickled state only."""

    def __setstate__(self, state):
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("unexpected csr_matrix state")
        self.state = state

    def shape(self, path):
        """The pickled (rows, cols), checked, without building anything."""
        try:
            shape = tuple(int(s) for s in self.state["_shape"])
        except KeyError:
            raise errors.FormatError(f"{path}: csr_matrix pickle without '_shape'") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise errors.FormatError(f"{path}: csr_matrix pickle with an invalid shape ({exc})") from None
        if len(shape) != 2 or min(shape) < 0:
            raise errors.FormatError(f"{path}: csr_matrix shape {shape} is not two sizes")
        return shape

    def to_dense(self, path, dtype=np.float32):
        st = self.state
        shape = self.shape(path)
        try:
            data, indices, indptr = (np.asarray(st[k]) for k in ("data", "indices", "indptr"))
            if indptr.shape != (shape[0] + 1,) or data.shape != (int(indptr[-1]),):
                raise errors.FormatError(f"{len(indptr)} indptr entries and {data.size} values for shape {shape}")
            m = CSRMatrix(indptr, indices, data.astype(np.float64), shape=shape)  # validates
        except KeyError as exc:
            raise errors.FormatError(f"{path}: csr_matrix pickle without {exc}") from None
        # a flipped bit shows up as a decreasing indptr, an id out of range, a non-numeric array ...
        except (errors.PSGError, ValueError, TypeError, IndexError, OverflowError) as exc:
            raise errors.FormatError(f"{path}: corrupt csr_matrix pickle ({exc})") from None
        out = np.zeros(shape, dtype=dtype)
        rows = np.repeat(np.arange(shape[0]), np.diff(np.asarray(m.indptr)))
        np.add.at(out, (rows, np.asarray(m.indices)), np.asarray(m.values).astype(dtype))
        return out


def _safe_reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"refusing to reconstruct {subtype!r}")
    from numpy._core.multiarray import _reconstruct

    return _reconstruct(subtype, shape, dtype)


def _safe_dtype(*args, **kw):
    dt = np.dtype(*args, **kw)
    if dt.hasobject:
        raise pickle.UnpicklingError("refusing an object dtype")
    return dt


def _safe_codecs_encode(text, encoding="utf-8"):
    """Python 3 pickles of bytes use _codecs.encode(str, 'latin1'); nothing else is allowed."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refusing _codecs.encode with these arguments")
    return text.encode("latin1")


_ALLOWED = {
    ("_codecs", "encode"): _safe_codecs_encode,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("scipy.sparse.csr", "csr_matrix"): _PickledCSR,
    ("scipy.sparse._csr", "csr_matrix"): _PickledCSR,
    ("scipy.sparse", "csr_matrix"): _PickledCSR,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that only resolves the globals Planetoid files use."""

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a Planetoid file") from None


def safe_load_pickle(path):
    """Loads one Planetoid pickle with :class:`RestrictedUnpickler` (latin1, as
    the files were written by Python 2). Anything else raises FormatError."""
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        # The unpickler allocates what a BINBYTES/BYTEARRAY8 length claims before reading: a 12-byte
        # file could ask for 4 GB. Parsing the opcodes first (nothing is built) checks each length
        # against the bytes that follow it.
        for _ in pickletools.genops(data):
            pass
        return RestrictedUnpickler(_io.BytesIO(data), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, OverflowError) as exc:
        raise errors.FormatError(f"{path}: not a valid Planetoid pickle ({exc})") from None


@dataclass
class PlanetoidDataset(NodeDataset):
    """A :class:`~pysparsegraph.datasets.NodeDataset` plus, when
    ``ind.NAME.allx`` is absent (PubMed in ``shared/data``), the features that
    are known: ``features`` is then None, ``features_known_rows`` the sorted
    node ids (train and test nodes) and ``features_known`` their rows."""
    features_known_rows: Optional[np.ndarray] = None
    features_known: Optional[np.ndarray] = None
    features_shape: Optional[tuple] = None


def _matrix_shape(obj, path):
    if isinstance(obj, _PickledCSR):
        return obj.shape(path)
    if isinstance(obj, np.ndarray) and obj.ndim == 2:
        return obj.shape
    raise errors.FormatError(f"{path}: expected a matrix, got {type(obj).__name__}")


def _dense(obj, path, rows, rows_from, cols=None, cols_from=None):
    """``obj`` as a dense array after checking its shape against ``rows`` (as
    ``rows_from`` gives) and ``cols`` (as ``cols_from`` has): a corrupt size
    then fails before it is allocated."""
    shape = _matrix_shape(obj, path)
    if shape[0] != rows:
        raise errors.FormatError(f"{path}: {shape[0]} rows, but {rows_from} gives {rows}")
    if cols is not None and shape[1] != cols:
        raise errors.FormatError(f"{path}: {shape[1]} feature columns, but {cols_from} has {cols}")
    return obj.to_dense(path) if isinstance(obj, _PickledCSR) else obj


def read_planetoid(folder, name):
    """Reads ``ind.NAME.*`` from ``folder``.

    Returns
    -------
    PlanetoidDataset
        ``graph`` (unweighted, symmetric CSR without self loops), ``features``
        (dense float32), ``labels`` (int64), ``idx_train``/``idx_val``/
        ``idx_test`` (sorted int64), ``num_classes``.
    """
    folder = as_path(folder, "folder")
    p = lambda ext: os.path.join(folder, f"ind.{name}.{ext}")  # noqa: E731
    for ext in ("y", "ty", "ally", "graph", "test.index"):
        if not os.path.exists(p(ext)):
            raise errors.MissingFileError(f"{p(ext)}: missing Planetoid file")
    y, ty, ally = (safe_load_pickle(p(e)) for e in ("y", "ty", "ally"))
    for arr, e in ((y, "y"), (ty, "ty"), (ally, "ally")):
        if not isinstance(arr, np.ndarray) or arr.ndim != 2:
            raise errors.FormatError(f"{p(e)}: expected a 2-D one-hot array")
    graph = safe_load_pickle(p("graph"))
    if not isinstance(graph, dict):
        raise errors.FormatError(f"{p('graph')}: expected a dict of neighbour lists")
    try:
        with warnings.catch_warnings():  # an empty file is reported below, as an error
            warnings.filterwarnings("ignore", "loadtxt: input contained no data")
            test_index = np.loadtxt(p("test.index"), dtype=np.int64, ndmin=1)
    except ValueError as exc:
        raise errors.FormatError(f"{p('test.index')}: {exc}") from None
    if test_index.ndim != 1 or test_index.size == 0:
        raise errors.FormatError(f"{p('test.index')}: expected one test node id per line, got "
                                 f"{'no ids' if test_index.size == 0 else f'shape {test_index.shape}'}")
    n_known, n_test, n_classes = ally.shape[0], test_index.shape[0], ally.shape[1]
    for arr, e, rows in ((y, "y", None), (ty, "ty", n_test)):
        if arr.shape[1] != n_classes:
            raise errors.FormatError(f"{p(e)}: {arr.shape[1]} classes, but ally has {n_classes}")
        if rows is not None and arr.shape[0] != rows:
            raise errors.FormatError(f"{p(e)}: {arr.shape[0]} rows, but test.index has {rows} ids")
    if y.shape[0] + 500 > n_known:  # the Planetoid split: the 500 rows after the training rows validate
        raise errors.FormatError(f"{p('y')}: {y.shape[0]} training rows and the 500 validation rows after them "
                                 f"need {y.shape[0] + 500} rows of ally, which has {n_known}")
    sorted_test = np.sort(test_index)
    lo, hi = int(sorted_test[0]), int(sorted_test[-1])
    # Test nodes are numbered right after the ally rows (a smaller id would take a training row's
    # place). Ids past n_known + n_test leave gaps (Citeseer's ids without a tx/ty row) that must be
    # nodes of the graph dict (one key per node): this bounds the arrays below by the file sizes,
    # whatever id the file names.
    n_max = max(n_known + n_test, len(graph))
    if lo != n_known or hi >= n_max:
        raise errors.FormatError(f"{p('test.index')}: test ids must lie in [{n_known}, {n_max}) (after the "
                                 f"{n_known} ally rows, within the graph's {len(graph)} nodes), found {lo}..{hi}")
    if np.any(sorted_test[1:] == sorted_test[:-1]):
        dup = int(sorted_test[1:][sorted_test[1:] == sorted_test[:-1]][0])
        raise errors.FormatError(f"{p('test.index')}: test id {dup} appears more than once")
    if hi - lo + 1 != n_test:
        # Citeseer: some ids in the test range have no row in tx/ty
        ty_ext = np.zeros((hi - lo + 1, ty.shape[1]), dtype=ty.dtype)
        ty_ext[sorted_test - lo] = ty
        ty = ty_ext
    labels_all = np.concatenate([ally, ty]).argmax(1).astype(np.int64)
    labels = labels_all.copy()
    labels[test_index] = labels_all[sorted_test]
    N = labels.shape[0]
    # graph: flatten the dict, drop loops, coalesce in C. np.array infers the dtype (where
    # np.fromiter would convert), so a float, string or too large id is refused, not truncated.
    try:
        keys = as_array(np.array(list(graph.keys())), "node ids (keys)", np.int64, allowed_from=is_integer_dtype)
        lens = np.fromiter(map(len, graph.values()), dtype=np.int64, count=len(graph))
        dst = as_array(np.array(list(itertools.chain.from_iterable(graph.values()))), "neighbour ids", np.int64,
                       allowed_from=is_integer_dtype)
    except (errors.PSGError, TypeError, ValueError, OverflowError) as exc:
        raise errors.FormatError(f"{p('graph')}: expected a dict of integer node id -> list of integer "
                                 f"neighbour ids ({exc})") from None
    src = np.repeat(keys, lens)
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= N):
        raise errors.FormatError(f"{p('graph')}: node ids outside [0, {N})")
    g = CSRMatrix.from_edges(src, dst, shape=(N, N), duplicates="first", self_loops="drop")
    idx_train = np.arange(y.shape[0], dtype=np.int64)
    idx_val = np.arange(y.shape[0], y.shape[0] + 500, dtype=np.int64)
    idx_test = sorted_test.astype(np.int64)
    num_classes = int(ally.shape[1])

    features = known_rows = known = fshape = None
    has_allx = os.path.exists(p("allx"))
    other = "allx" if has_allx else "x"  # only x (= allx[:len(y)]) for PubMed in shared/data
    other_obj = safe_load_pickle(p(other))
    n_feat = _matrix_shape(other_obj, p(other))[1]
    tx = _dense(safe_load_pickle(p("tx")), p("tx"), n_test, "test.index", n_feat, p(other))
    if tx.shape[0] != ty.shape[0]:
        tx_ext = np.zeros((ty.shape[0], tx.shape[1]), dtype=tx.dtype)
        tx_ext[sorted_test - lo] = tx
        tx = tx_ext
    if has_allx:
        allx = _dense(other_obj, p("allx"), n_known, "ally")
        x_all = np.concatenate([allx, tx]).astype(np.float32)  # N rows: n_known + the test id range
        features = x_all.copy()
        features[test_index] = x_all[sorted_test]
    else:
        # Only x and tx are present: the train and test rows.
        x = _dense(other_obj, p("x"), y.shape[0], "y").astype(np.float32)
        fshape = (N, x.shape[1])
        known_rows = np.concatenate([idx_train, idx_test])
        known = np.zeros((known_rows.shape[0], x.shape[1]), dtype=np.float32)
        known[: idx_train.shape[0]] = x
        # node test_index[i] takes old row sorted_test[i], which lies in tx
        src_rows = np.empty(N, dtype=np.int64)
        src_rows[test_index] = sorted_test
        known[idx_train.shape[0]:] = tx[src_rows[idx_test] - n_known]
        order = np.argsort(known_rows, kind="stable")
        known_rows, known = known_rows[order], known[order]
    return PlanetoidDataset(name, g, features, labels, idx_train, idx_val, idx_test, num_classes,
                            known_rows, known, fshape)
