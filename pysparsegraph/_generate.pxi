# Synthetic graph generators (included by _core.pyx).
from libc.stdint cimport uint64_t

cdef extern from "pysparsegraph/generate.h" nogil:
    psg_status psg_generate_rmat(int scale, int64_t n_edges, double a, double b, double c, uint64_t seed,
                                 int scramble, int64_t *src, int64_t *dst, int n_threads)
    psg_status psg_generate_er(int64_t n, int64_t n_edges, uint64_t seed, int64_t *src, int64_t *dst,
                               int n_threads)
    psg_status psg_generate_grid2d(int64_t rows, int64_t cols, int64_t *indptr, int32_t *indices, int n_threads)


def generate_rmat(int scale, int64_t n_edges, double a, double b, double c, uint64_t seed, bint scramble,
                  int n_threads):
    """(src, dst) int64 edge arrays of an R-MAT graph."""
    src = np.empty(n_edges, dtype=np.int64)
    dst = np.empty(n_edges, dtype=np.int64)
    cdef int64_t *s = <int64_t *>_ptr(src)
    cdef int64_t *d = <int64_t *>_ptr(dst)
    cdef psg_status st
    with nogil:
        st = psg_generate_rmat(scale, n_edges, a, b, c, seed, scramble, s, d, n_threads)
    _check(st)
    return src, dst


def generate_er(int64_t n, int64_t n_edges, uint64_t seed, int n_threads):
    src = np.empty(n_edges, dtype=np.int64)
    dst = np.empty(n_edges, dtype=np.int64)
    cdef int64_t *s = <int64_t *>_ptr(src)
    cdef int64_t *d = <int64_t *>_ptr(dst)
    cdef psg_status st
    with nogil:
        st = psg_generate_er(n, n_edges, seed, s, d, n_threads)
    _check(st)
    return src, dst


def generate_grid2d(int64_t rows, int64_t cols, int n_threads):
    cdef int64_t n = rows * cols
    cdef int64_t m = 2 * (rows * max(cols - 1, 0) + cols * max(rows - 1, 0))
    indptr = np.empty(n + 1, dtype=np.int64)
    indices = np.empty(max(m, 0), dtype=np.int32)
    cdef int64_t *p = <int64_t *>_ptr(indptr)
    cdef int32_t *ix = <int32_t *>_ptr(indices)
    cdef psg_status st
    with nogil:
        st = psg_generate_grid2d(rows, cols, p, ix, n_threads)
    _check(st)
    return indptr, indices
