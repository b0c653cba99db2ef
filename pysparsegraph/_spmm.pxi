# Sparse x dense products (included by _core.pyx).

cdef extern from "pysparsegraph/spmm.h" nogil:
    psg_status psg_spmm_i32_f32(int64_t n_rows, int64_t n_cols, const int64_t *indptr, const int32_t *indices,
                                const float *values, const float *x, int64_t k, float *y, int n_threads)
    psg_status psg_spmm_i32_f64(int64_t n_rows, int64_t n_cols, const int64_t *indptr, const int32_t *indices,
                                const double *values, const double *x, int64_t k, double *y, int n_threads)
    psg_status psg_spmm_i64_f32(int64_t n_rows, int64_t n_cols, const int64_t *indptr, const int64_t *indices,
                                const float *values, const float *x, int64_t k, float *y, int n_threads)
    psg_status psg_spmm_i64_f64(int64_t n_rows, int64_t n_cols, const int64_t *indptr, const int64_t *indices,
                                const double *values, const double *x, int64_t k, double *y, int n_threads)


def spmm(int64_t n_cols, cnp.ndarray indptr, cnp.ndarray indices, values, cnp.ndarray x,
         cnp.ndarray y, int n_threads):
    """y[:] = A @ x for validated, C-contiguous operands of matching dtypes."""
    cdef int64_t n_rows = indptr.shape[0] - 1
    cdef int64_t k = x.shape[1]
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *ix = _ptr(indices)
    cdef const void *v = _ptr(values)
    cdef const void *xp = _ptr(x)
    cdef void *yp = _ptr(y)
    cdef bint i32 = indices.dtype == np.int32
    cdef bint f32 = x.dtype == np.float32
    cdef psg_status st
    with nogil:
        if i32 and f32:
            st = psg_spmm_i32_f32(n_rows, n_cols, p, <const int32_t *>ix, <const float *>v,
                                  <const float *>xp, k, <float *>yp, n_threads)
        elif i32:
            st = psg_spmm_i32_f64(n_rows, n_cols, p, <const int32_t *>ix, <const double *>v,
                                  <const double *>xp, k, <double *>yp, n_threads)
        elif f32:
            st = psg_spmm_i64_f32(n_rows, n_cols, p, <const int64_t *>ix, <const float *>v,
                                  <const float *>xp, k, <float *>yp, n_threads)
        else:
            st = psg_spmm_i64_f64(n_rows, n_cols, p, <const int64_t *>ix, <const double *>v,
                                  <const double *>xp, k, <double *>yp, n_threads)
    _check(st)
