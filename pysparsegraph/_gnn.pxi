# GNN kernels: generalized SpMM, its max/min backward, SDDMM, edge softmax,
# degrees and the transposed structure (included by _core.pyx). Operands
# arrive validated (dtype, shape, C order) from pysparsegraph/gnn.py.

cdef extern from "pysparsegraph/gnn.h" nogil:
    ctypedef struct psg_gspmm_opts:
        int reduce
        const void *edge_values
        int64_t edge_width
        const int64_t *eid
        int64_t nnz_edges
        const void *row_scale
        const void *col_scale
        int self_loops
        int64_t *argidx
    psg_status psg_gspmm(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                         const int64_t *indptr, const void *indices, const psg_gspmm_opts *opts,
                         const void *x, int64_t k, void *y, int n_threads)
    psg_status psg_gspmm_plan(int index_size, int value_size, const psg_spmm_plan *plan, int64_t n_rows,
                              int64_t n_cols, const int64_t *indptr, const void *indices,
                              const psg_gspmm_opts *opts, const void *x, int64_t k, void *y, int n_threads)
    psg_status psg_gspmm_arg_backward_x(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                                        const int64_t *t_indptr, const void *t_indices, const int64_t *t_eid,
                                        const psg_gspmm_opts *opts, const void *grad_y, int64_t k,
                                        void *grad_x, int n_threads)
    psg_status psg_gspmm_arg_backward_e(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                                        const int64_t *indptr, const void *indices, const psg_gspmm_opts *opts,
                                        const void *x, const void *grad_y, int64_t k, int64_t edge_width,
                                        void *grad_e, int n_threads)
    psg_status psg_gspmm_check_argidx(int64_t n_rows, int64_t n_cols, const int64_t *indptr, int self_loops,
                                      int64_t nnz_edges, const int64_t *argidx, int64_t k, int n_threads)
    psg_status psg_sddmm(int index_size, int value_size, int op, int64_t n_rows, int64_t n_cols,
                         const int64_t *indptr, const void *indices, const void *x, int64_t kx,
                         const void *y, int64_t ky, int64_t heads, void *out, int n_threads)
    psg_status psg_edge_softmax(int value_size, int64_t n_rows, const int64_t *indptr,
                                const void *scores, int64_t heads, void *out, int n_threads)
    psg_status psg_edge_softmax_backward(int value_size, int64_t n_rows, const int64_t *indptr,
                                         const void *alpha, const void *grad_alpha, int64_t heads,
                                         void *grad_scores, int n_threads)
    psg_status psg_csr_degrees(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                               const int64_t *indptr, const void *indices, const void *values,
                               double *row_deg, double *col_deg, int n_threads)
    psg_status psg_csr_transpose(int index_size, int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                                 const void *indices, int64_t *t_indptr, void *t_indices, int64_t *t_eid,
                                 int n_threads)


cdef void _fill_opts(psg_gspmm_opts *o, int reduce, edge_values, int64_t edge_width, eid, int64_t nnz_edges,
                     row_scale, col_scale, bint self_loops, argidx):
    o.reduce = reduce
    o.edge_values = _ptr(edge_values)
    o.edge_width = edge_width
    o.eid = <const int64_t *>_ptr(eid)
    o.nnz_edges = nnz_edges
    o.row_scale = _ptr(row_scale)
    o.col_scale = _ptr(col_scale)
    o.self_loops = self_loops
    o.argidx = <int64_t *>_ptr(argidx)


def gspmm(int64_t n_cols, cnp.ndarray indptr, cnp.ndarray indices, int reduce, edge_values, int64_t edge_width,
          eid, int64_t nnz_edges, row_scale, col_scale, bint self_loops, argidx, cnp.ndarray x, cnp.ndarray y,
          int n_threads, _SpmmPlan plan=None):
    """y[:] = reduce over the rows of (indptr, indices) of weighted messages from x; with a
    plan (built for this structure, k and dtype) on its chunks, scheduler and SIMD kernels."""
    cdef psg_gspmm_opts o
    _fill_opts(&o, reduce, edge_values, edge_width, eid, nnz_edges, row_scale, col_scale, self_loops, argidx)
    cdef int64_t n_rows = indptr.shape[0] - 1
    cdef int isz = indices.itemsize, vsz = x.itemsize
    cdef int64_t k = x.shape[1]
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *ix = _ptr(indices)
    cdef const void *xp = _ptr(x)
    cdef void *yp = _ptr(y)
    cdef psg_status st
    cdef const psg_spmm_plan *pl = NULL if plan is None else plan.ptr
    with nogil:
        if pl != NULL:
            st = psg_gspmm_plan(isz, vsz, pl, n_rows, n_cols, p, ix, &o, xp, k, yp, n_threads)
        else:
            st = psg_gspmm(isz, vsz, n_rows, n_cols, p, ix, &o, xp, k, yp, n_threads)
    _check(st)


def gspmm_check_argidx(int64_t n_cols, cnp.ndarray indptr, bint self_loops, int64_t nnz_edges,
                       cnp.ndarray argidx, int n_threads):
    """Raises IndexOutOfRangeError unless every arg index is an edge id of its row."""
    cdef int64_t n_rows = indptr.shape[0] - 1, k = argidx.shape[1]
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const int64_t *a = <const int64_t *>_ptr(argidx)
    cdef psg_status st
    with nogil:
        st = psg_gspmm_check_argidx(n_rows, n_cols, p, self_loops, nnz_edges, a, k, n_threads)
    _check(st)


def gspmm_arg_backward_x(int64_t n_rows, cnp.ndarray t_indptr, cnp.ndarray t_indices, cnp.ndarray t_eid,
                         edge_values, int64_t edge_width, int64_t nnz_edges, row_scale, col_scale,
                         bint self_loops, cnp.ndarray argidx, cnp.ndarray grad_y, cnp.ndarray grad_x,
                         int n_threads):
    cdef psg_gspmm_opts o
    _fill_opts(&o, 2, edge_values, edge_width, None, nnz_edges, row_scale, col_scale, self_loops, argidx)
    cdef int64_t n_cols = t_indptr.shape[0] - 1
    cdef int isz = t_indices.itemsize, vsz = grad_y.itemsize
    cdef int64_t k = grad_y.shape[1]
    cdef const int64_t *tp = <const int64_t *>_ptr(t_indptr)
    cdef const void *ti = _ptr(t_indices)
    cdef const int64_t *te = <const int64_t *>_ptr(t_eid)
    cdef const void *gy = _ptr(grad_y)
    cdef void *gx = _ptr(grad_x)
    cdef psg_status st
    with nogil:
        st = psg_gspmm_arg_backward_x(isz, vsz, n_rows, n_cols, tp, ti, te, &o, gy, k, gx, n_threads)
    _check(st)


def gspmm_arg_backward_e(int64_t n_cols, cnp.ndarray indptr, cnp.ndarray indices, row_scale, col_scale,
                         cnp.ndarray argidx, cnp.ndarray x, cnp.ndarray grad_y, int64_t edge_width,
                         cnp.ndarray grad_e, int n_threads):
    cdef psg_gspmm_opts o
    _fill_opts(&o, 2, None, 1, None, indices.shape[0], row_scale, col_scale, False, argidx)
    cdef int64_t n_rows = indptr.shape[0] - 1
    cdef int isz = indices.itemsize, vsz = grad_y.itemsize
    cdef int64_t k = grad_y.shape[1]
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *ix = _ptr(indices)
    cdef const void *xp = _ptr(x)
    cdef const void *gy = _ptr(grad_y)
    cdef void *ge = _ptr(grad_e)
    cdef psg_status st
    with nogil:
        st = psg_gspmm_arg_backward_e(isz, vsz, n_rows, n_cols, p, ix, &o, xp, gy, k, edge_width, ge, n_threads)
    _check(st)


def sddmm(int op, int64_t n_cols, cnp.ndarray indptr, cnp.ndarray indices, cnp.ndarray x, cnp.ndarray y,
          int64_t heads, cnp.ndarray out, int n_threads):
    cdef int64_t n_rows = indptr.shape[0] - 1
    cdef int isz = indices.itemsize, vsz = x.itemsize
    cdef int64_t kx = x.shape[1], ky = y.shape[1]
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *ix = _ptr(indices)
    cdef const void *xp = _ptr(x)
    cdef const void *yp = _ptr(y)
    cdef void *op_ = _ptr(out)
    cdef psg_status st
    with nogil:
        st = psg_sddmm(isz, vsz, op, n_rows, n_cols, p, ix, xp, kx, yp, ky, heads, op_, n_threads)
    _check(st)


def edge_softmax(cnp.ndarray indptr, cnp.ndarray scores, int64_t heads, cnp.ndarray out, int n_threads):
    cdef int64_t n_rows = indptr.shape[0] - 1
    cdef int vsz = scores.itemsize
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *sp = _ptr(scores)
    cdef void *op_ = _ptr(out)
    cdef psg_status st
    with nogil:
        st = psg_edge_softmax(vsz, n_rows, p, sp, heads, op_, n_threads)
    _check(st)


def edge_softmax_backward(cnp.ndarray indptr, cnp.ndarray alpha, cnp.ndarray grad_alpha, int64_t heads,
                          cnp.ndarray out, int n_threads):
    cdef int64_t n_rows = indptr.shape[0] - 1
    cdef int vsz = alpha.itemsize
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *ap = _ptr(alpha)
    cdef const void *gp = _ptr(grad_alpha)
    cdef void *op_ = _ptr(out)
    cdef psg_status st
    with nogil:
        st = psg_edge_softmax_backward(vsz, n_rows, p, ap, gp, heads, op_, n_threads)
    _check(st)


def csr_degrees(int64_t n_cols, cnp.ndarray indptr, cnp.ndarray indices, values, int n_threads):
    """(row_deg, col_deg) as float64 arrays (weighted by values when given)."""
    cdef int64_t n_rows = indptr.shape[0] - 1
    row = np.empty(n_rows, dtype=np.float64)
    col = np.empty(n_cols, dtype=np.float64)
    cdef int isz = indices.itemsize
    cdef int vsz = 8 if values is None else values.itemsize
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *ix = _ptr(indices)
    cdef const void *vp = _ptr(values)
    cdef double *rp = <double *>_ptr(row)
    cdef double *cp = <double *>_ptr(col)
    cdef psg_status st
    with nogil:
        st = psg_csr_degrees(isz, vsz, n_rows, n_cols, p, ix, vp, rp, cp, n_threads)
    _check(st)
    return row, col


def csr_transpose(int64_t n_cols, cnp.ndarray indptr, cnp.ndarray indices, bint with_eid, int n_threads):
    """(t_indptr, t_indices, t_eid) of the transpose (same index dtype); t_eid is None without with_eid."""
    cdef int64_t n_rows = indptr.shape[0] - 1
    cdef int64_t nnz = indices.shape[0]
    t_indptr = np.empty(n_cols + 1, dtype=np.int64)
    t_indices = np.empty(nnz, dtype=indices.dtype)
    t_eid = np.empty(nnz, dtype=np.int64) if with_eid else None
    cdef int isz = indices.itemsize
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *ix = _ptr(indices)
    cdef int64_t *tp = <int64_t *>_ptr(t_indptr)
    cdef void *ti = _ptr(t_indices)
    cdef int64_t *te = <int64_t *>_ptr(t_eid)
    cdef psg_status st
    with nogil:
        st = psg_csr_transpose(isz, n_rows, n_cols, p, ix, tp, ti, te, n_threads)
    _check(st)
    return t_indptr, t_indices, t_eid
