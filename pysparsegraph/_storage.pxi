# CSR validation and construction (included by _core.pyx).

cdef extern from "pysparsegraph/csr.h" nogil:
    ctypedef enum psg_dup_policy:
        PSG_DUP_SUM
        PSG_DUP_FIRST
        PSG_DUP_KEEP
    ctypedef enum psg_loop_policy:
        PSG_LOOPS_KEEP
        PSG_LOOPS_DROP
        PSG_LOOPS_ADD
    ctypedef struct psg_edge_options:
        psg_dup_policy duplicates
        psg_loop_policy self_loops
        int symmetrize
        double loop_value
        int n_threads
    ctypedef struct psg_csr_arrays:
        int64_t *indptr
        void *indices
        void *values
        int64_t nnz
    psg_status psg_check_indptr(int64_t n_rows, const int64_t *indptr, int64_t nnz)
    psg_status psg_check_indices_i32(int64_t nnz, const int32_t *indices, int64_t n_cols, int n_threads)
    psg_status psg_check_indices_i64(int64_t nnz, const int64_t *indices, int64_t n_cols, int n_threads)
    psg_status psg_expand_rows_i32(int64_t n_rows, const int64_t *indptr, int32_t *rows, int n_threads)
    psg_status psg_expand_rows_i64(int64_t n_rows, const int64_t *indptr, int64_t *rows, int n_threads)
    psg_status psg_edges_to_csr(int64_t n_rows, int64_t n_cols, int64_t m, const int64_t *src,
                                const int64_t *dst, const void *values, int value_size, int index_size,
                                const psg_edge_options *opts, psg_csr_arrays *out)

_DUP_POLICIES = {"sum": PSG_DUP_SUM, "first": PSG_DUP_FIRST, "keep": PSG_DUP_KEEP}
_LOOP_POLICIES = {"keep": PSG_LOOPS_KEEP, "drop": PSG_LOOPS_DROP, "add": PSG_LOOPS_ADD}


def check_csr(cnp.ndarray indptr, cnp.ndarray indices, int64_t n_cols, int n_threads):
    """Validates indptr (int64) and indices (int32/int64) in C; raises on the first problem."""
    cdef int64_t n_rows = indptr.shape[0] - 1
    cdef int64_t nnz = indices.shape[0]
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef void *ix = _ptr(indices)
    cdef psg_status st
    with nogil:
        st = psg_check_indptr(n_rows, p, nnz)
    _check(st)
    if indices.dtype == np.int32:
        with nogil:
            st = psg_check_indices_i32(nnz, <const int32_t *>ix, n_cols, n_threads)
    else:
        with nogil:
            st = psg_check_indices_i64(nnz, <const int64_t *>ix, n_cols, n_threads)
    _check(st)


def expand_rows(cnp.ndarray indptr, index_dtype, int n_threads):
    """COO row ids (one per stored entry) from an int64 indptr."""
    cdef int64_t n_rows = indptr.shape[0] - 1
    rows = np.empty(int(indptr[n_rows]), dtype=index_dtype)
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef void *out = _ptr(rows)
    cdef psg_status st
    if rows.dtype == np.int32:
        with nogil:
            st = psg_expand_rows_i32(n_rows, p, <int32_t *>out, n_threads)
    else:
        with nogil:
            st = psg_expand_rows_i64(n_rows, p, <int64_t *>out, n_threads)
    _check(st)
    return rows


def edges_to_csr(int64_t n_rows, int64_t n_cols, cnp.ndarray src, cnp.ndarray dst, values,
                 int index_size, str duplicates, str self_loops, bint symmetrize,
                 double loop_value, int n_threads):
    """CSR arrays (indptr, indices, values-or-None) built in C from int64 edge arrays.

    The returned arrays are read-only views of memory the C core allocated."""
    cdef psg_edge_options opt
    opt.duplicates = _DUP_POLICIES[duplicates]
    opt.self_loops = _LOOP_POLICIES[self_loops]
    opt.symmetrize = symmetrize
    opt.loop_value = loop_value
    opt.n_threads = n_threads
    cdef psg_csr_arrays out
    cdef int64_t m = src.shape[0]
    cdef const int64_t *s = <const int64_t *>_ptr(src)
    cdef const int64_t *d = <const int64_t *>_ptr(dst)
    cdef const void *v = _ptr(values)
    cdef int value_size = 0 if values is None else values.dtype.itemsize
    cdef psg_status st
    with nogil:
        st = psg_edges_to_csr(n_rows, n_cols, m, s, d, v, value_size, index_size, &opt, &out)
    _check(st)
    indptr = _view_of_c(out.indptr, n_rows + 1, cnp.NPY_INT64)
    indices = _view_of_c(out.indices, out.nnz, cnp.NPY_INT32 if index_size == 4 else cnp.NPY_INT64)
    vals = None
    if values is not None:
        vals = _view_of_c(out.values, out.nnz, cnp.NPY_FLOAT32 if value_size == 4 else cnp.NPY_FLOAT64)
    return indptr, indices, vals
