# cython: language_level=3
"""The only module that talks to C.

Takes NumPy arrays already validated by the Python layer, hands raw pointers to
the C core with the GIL released, turns C status codes into the exceptions of
``pysparsegraph.errors`` and returns zero-copy, read-only NumPy views of memory
the C core allocated. Feature areas live in the included ``.pxi`` files.
"""
cimport numpy as cnp
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport int32_t, int64_t

import numpy as np

from pysparsegraph import errors

cnp.import_array()

cdef extern from "pysparsegraph/pysparsegraph.h" nogil:
    ctypedef int psg_status
    const char *psg_last_error()
    const char *psg_status_name(psg_status status)
    int psg_last_team_size()
    int psg_max_threads()
    int psg_has_openmp()
    int psg_cpu_features(char *buf, int size)
    int64_t psg_cache_bytes(int level)
    void psg_free(void *ptr)
    enum:
        PSG_OK
        PSG_ERR_INVALID_ARG
        PSG_ERR_NO_MEMORY
        PSG_ERR_INDPTR
        PSG_ERR_INDEX_RANGE
        PSG_ERR_OVERFLOW
        PSG_ERR_SHAPE
        PSG_ERR_UNSUPPORTED
        PSG_ERR_FORMAT
        PSG_ERR_IO


_ERROR_CLASSES = {
    PSG_ERR_INVALID_ARG: errors.InvalidArgumentError,
    PSG_ERR_NO_MEMORY: errors.PSGMemoryError,
    PSG_ERR_INDPTR: errors.InvalidIndptrError,
    PSG_ERR_INDEX_RANGE: errors.IndexOutOfRangeError,
    PSG_ERR_OVERFLOW: errors.IndexOverflowError,
    PSG_ERR_SHAPE: errors.ShapeMismatchError,
    PSG_ERR_UNSUPPORTED: errors.UnsupportedError,
    PSG_ERR_FORMAT: errors.FormatError,
    PSG_ERR_IO: errors.PSGIOError,
}


cdef int _check(psg_status status) except -1:
    """Raises the Python exception matching a C status (call with the GIL held)."""
    if status == PSG_OK:
        return 0
    cls = _ERROR_CLASSES.get(status, errors.PSGError)
    detail = psg_last_error().decode("utf-8", "replace")
    name = psg_status_name(status).decode()
    raise cls(detail if detail else name)


cdef class _COwned:
    """Keeps one C allocation alive for the NumPy views that point into it."""
    cdef void *ptr

    def __dealloc__(self):
        if self.ptr != NULL:
            psg_free(self.ptr)
            self.ptr = NULL


cdef object _view_of_c(void *ptr, int64_t n, int typenum):
    """A read-only 1-D NumPy view of C memory; frees it when the last view dies."""
    cdef _COwned owner = _COwned()
    owner.ptr = ptr
    cdef cnp.npy_intp dims = <cnp.npy_intp>n
    arr = cnp.PyArray_SimpleNewFromData(1, &dims, typenum, ptr)
    cnp.set_array_base(arr, owner)
    arr.flags.writeable = False
    return arr


cdef inline void *_ptr(object arr) except? NULL:
    """Data pointer of a NumPy array, or NULL for None. An array whose data is
    not aligned to its item size (a view at an odd byte offset of a buffer) is
    refused: the C kernels read it through typed pointers, which C does not
    allow. The Python layer copies misaligned inputs before they get here."""
    if arr is None:
        return NULL
    if not cnp.PyArray_ISALIGNED(<cnp.ndarray>arr):
        raise errors.InvalidArgumentError(
            f"a {arr.dtype} array whose data is not aligned to its {arr.itemsize}-byte items reached the C core "
            "(a view at an odd byte offset); pass a copy (numpy.array(a)), which is aligned")
    return cnp.PyArray_DATA(<cnp.ndarray>arr)


def empty_on_line(tuple shape, cnp.dtype dtype):
    """An uninitialized C-contiguous array of a built-in ``dtype`` whose data
    starts on a 64-byte boundary: an oversized byte buffer (kept alive as the
    array's base) viewed from its first line boundary. The sizes are checked
    non-negative by the caller. numpy's ``ndarray(..., buffer=, offset=)``
    cost 0.5 us more, a fifth of a small product's call."""
    cdef int nd = len(shape)
    cdef cnp.npy_intp dims[64]  # numpy 2's NPY_MAXDIMS
    cdef cnp.npy_intp nbytes = dtype.itemsize
    cdef cnp.npy_intp s
    if nd > 64:
        raise errors.ShapeMismatchError(f"an array has at most 64 dimensions, got {nd}")
    for i in range(nd):
        s = shape[i]
        dims[i] = s
        if s != 0 and nbytes > (PY_SSIZE_T_MAX - 64) // s:
            raise MemoryError("the array is too big")
        nbytes *= s
    cdef cnp.npy_intp n = nbytes + 64
    cdef cnp.ndarray buf = cnp.PyArray_EMPTY(1, &n, cnp.NPY_UINT8, 0)
    cdef char *data = <char *>cnp.PyArray_DATA(buf)
    data += (-<size_t>data) & 63
    cdef cnp.ndarray arr = cnp.PyArray_SimpleNewFromData(nd, dims, dtype.type_num, data)
    cnp.set_array_base(arr, buf)
    return arr


def overlaps(cnp.ndarray out, inputs):
    """True when the bytes of ``out`` overlap those of an array in ``inputs``
    (None entries skipped). Contiguous arrays fill their byte range, so comparing
    ranges is exact for them and costs nanoseconds where numpy.shares_memory
    costs about a microsecond per pair (a fifth of a small product's call);
    other arrays go to numpy.shares_memory."""
    cdef char *o = <char *>cnp.PyArray_DATA(out)
    cdef char *oe = o + cnp.PyArray_NBYTES(out)
    cdef cnp.ndarray arr
    cdef char *s
    out_contig = cnp.PyArray_IS_C_CONTIGUOUS(out) or cnp.PyArray_IS_F_CONTIGUOUS(out)
    for a in inputs:
        if a is None:
            continue
        if not out_contig or not isinstance(a, np.ndarray) or not (
                cnp.PyArray_IS_C_CONTIGUOUS(a) or cnp.PyArray_IS_F_CONTIGUOUS(a)):
            if np.shares_memory(out, a):
                return True
            continue
        arr = <cnp.ndarray>a
        s = <char *>cnp.PyArray_DATA(arr)
        if o < oe and s < s + cnp.PyArray_NBYTES(arr) and s < oe and o < s + cnp.PyArray_NBYTES(arr):
            return True
    return False


def c_float_ndim(x):
    """x's ndim (1 or 2) when x is a C-contiguous, aligned ndarray (not a subclass, which
    the Python layer converts with numpy.asarray) of native float32 or float64,
    else 0. The common case of the Python layer's operand check in one C test
    (0.05 us where attribute by attribute cost 0.2 us); on 0 that layer runs
    its own checks, which name the problem."""
    if not cnp.PyArray_CheckExact(x):
        return 0
    cdef cnp.ndarray a = <cnp.ndarray>x
    cdef int nd = cnp.PyArray_NDIM(a)
    if (nd == 1 or nd == 2) and cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISNOTSWAPPED(a) and (
            cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT32 or cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT64) and (
            cnp.PyArray_ISALIGNED(a)):
        return nd
    return 0


def out_ready(out, tuple shape, cnp.dtype dtype, inputs):
    """True when ``out`` takes a result of ``shape`` and ``dtype`` as it is: an
    ndarray of exactly that shape and dtype, C-contiguous, aligned, writeable and not
    overlapping ``inputs``. The Python layer asks this first and runs its own
    checks, which name the problem, only on False (they cost 0.6 us of a
    2.4 us small product; this 0.1 us)."""
    if not cnp.PyArray_Check(out):
        return False
    cdef cnp.ndarray a = <cnp.ndarray>out
    cdef int nd = cnp.PyArray_NDIM(a)
    if (nd != len(shape) or not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_ISWRITEABLE(a)
            or not cnp.PyArray_ISALIGNED(a)):
        return False
    for i in range(nd):
        if cnp.PyArray_DIM(a, i) != <cnp.npy_intp>shape[i]:
            return False
    # a built-in numeric dtype (what the products take) is its type number and byte order
    if (dtype.type_num >= cnp.NPY_OBJECT or cnp.PyArray_TYPE(a) != dtype.type_num or not dtype.isnative
            or not cnp.PyArray_ISNOTSWAPPED(a)):
        return False
    return not overlaps(a, inputs)


def last_team_size():
    """OpenMP team size used by the last kernel run on this thread."""
    return psg_last_team_size()


def max_threads():
    """``omp_get_max_threads()`` of the core's OpenMP runtime, now (1 without OpenMP)."""
    return psg_max_threads()


def has_openmp():
    """True when the C core was compiled with OpenMP."""
    return bool(psg_has_openmp())


def cache_bytes(int level=0):
    """Bytes of the cache at ``level`` (0: the last) the SpMM planner assumes (``psg_cache_bytes``)."""
    return psg_cache_bytes(level)


def cpu_features():
    """SIMD features of this CPU as seen by the C core, e.g. ['avx2', 'fma', ...]."""
    cdef char buf[256]
    psg_cpu_features(buf, 256)
    return buf.decode().split()


include "_storage.pxi"
include "_spmm.pxi"
include "_perf.pxi"   # plans first: the GNN products run on them
include "_gnn.pxi"
include "_io.pxi"
include "_model.pxi"
include "_generate.pxi"
