# Sparse-weight layers for pruned models (included by _core.pyx).

cdef extern from "pysparsegraph/sparse_linear.h" nogil:
    psg_status psg_sparse_linear_layout_f32(int64_t n_out, int64_t n_in, const int64_t *indptr, const void *indices,
                                            int index_bytes, const float *values, const float *bias, const float *x,
                                            int64_t batch, float *y, int act, float clamp_max, int isa,
                                            int n_threads, int layout)
    int psg_sparse_linear_best_isa()
    int psg_isa_supported(int isa)
    psg_status psg_nonzero_columns_f32(int64_t n_rows, int64_t batch, const float *a, int64_t *keep,
                                       int64_t *n_keep, int n_threads)
    psg_status psg_transpose_f32(int64_t n_rows, int64_t n_cols, const float *a, float *out, int n_threads)
    psg_status psg_gather_columns_f32(int64_t n_rows, int64_t batch, const float *a, const int64_t *keep,
                                      int64_t n_keep, float *out, int n_threads)


def sparse_linear_layout(int64_t n_in, cnp.ndarray indptr, cnp.ndarray indices, cnp.ndarray values, bias,
                         cnp.ndarray x, cnp.ndarray y, int act, float clamp_max, int isa, int n_threads,
                         int layout):
    """y[:] = min(clamp_max, act(W x + bias)) with validated C-contiguous float32 operands, each
    feature-major (x (n_in, batch), y (n_out, batch)) or row-major by the layout bits
    (1: x is (batch, n_in), 2: y is (batch, n_out)); indices uint16 or int32."""
    cdef int64_t n_out = indptr.shape[0] - 1
    cdef int64_t batch = x.shape[0] if layout & 1 else x.shape[1]
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *ix = _ptr(indices)
    cdef const float *v = <const float *>_ptr(values)
    cdef const float *b = <const float *>_ptr(bias)
    cdef const float *xp = <const float *>_ptr(x)
    cdef float *yp = <float *>_ptr(y)
    cdef int ib = 2 if indices.dtype == np.uint16 else 4
    cdef psg_status st
    with nogil:
        st = psg_sparse_linear_layout_f32(n_out, n_in, p, ix, ib, v, b, xp, batch, yp, act, clamp_max, isa,
                                          n_threads, layout)
    _check(st)


def sparse_linear_best_isa():
    """Kernel ISA chosen automatically here: 1 portable C, 2 AVX2+FMA, 3 AVX-512."""
    return psg_sparse_linear_best_isa()


def isa_supported(int isa):
    return bool(psg_isa_supported(isa))


def nonzero_columns(cnp.ndarray a, int n_threads):
    """Ids (int64) of the columns of the C-contiguous float32 matrix a holding a non-zero."""
    cdef int64_t n_rows = a.shape[0]
    cdef int64_t batch = a.shape[1]
    cdef cnp.ndarray keep = np.empty(max(batch, 1), dtype=np.int64)
    cdef int64_t n_keep = 0
    cdef const float *ap = <const float *>_ptr(a)
    cdef int64_t *kp = <int64_t *>_ptr(keep)
    cdef psg_status st
    with nogil:
        st = psg_nonzero_columns_f32(n_rows, batch, ap, kp, &n_keep, n_threads)
    _check(st)
    return keep[:n_keep]


def gather_columns(cnp.ndarray a, cnp.ndarray keep, int n_threads):
    """a[:, keep] for a C-contiguous float32 matrix and int64 keep."""
    cdef int64_t n_rows = a.shape[0]
    cdef int64_t batch = a.shape[1]
    cdef int64_t n_keep = keep.shape[0]
    cdef cnp.ndarray out = np.empty((n_rows, n_keep), dtype=np.float32)
    cdef const float *ap = <const float *>_ptr(a)
    cdef const int64_t *kp = <const int64_t *>_ptr(keep)
    cdef float *op = <float *>_ptr(out)
    cdef psg_status st
    with nogil:
        st = psg_gather_columns_f32(n_rows, batch, ap, kp, n_keep, op, n_threads)
    _check(st)
    return out


def transpose(cnp.ndarray a, int n_threads, out=None):
    """a.T as a C-contiguous float32 array (written into ``out`` when given: C-contiguous
    float32 of shape a.shape[::-1], not overlapping a) for a C-contiguous 2-D float32 a."""
    cdef int64_t n_rows = a.shape[0]
    cdef int64_t n_cols = a.shape[1]
    if out is None:
        out = np.empty((n_cols, n_rows), dtype=np.float32)
    cdef const float *ap = <const float *>_ptr(a)
    cdef float *op = <float *>_ptr(<cnp.ndarray>out)
    cdef psg_status st
    with nogil:
        st = psg_transpose_f32(n_rows, n_cols, ap, op, n_threads)
    _check(st)
    return out
