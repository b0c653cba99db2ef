# Graph file input/output (included by _core.pyx): text builder, text formatting.

cdef extern from "pysparsegraph/io.h" nogil:
    ctypedef struct psg_text_builder:
        pass
    ctypedef struct psg_text_options:
        int n_ids
        int value_mode
        int one_based
        int strict_fields
        int64_t bound_a
        int64_t bound_b
        int64_t first_line
        int n_threads
        int64_t capacity_hint
    psg_status psg_tb_new(const psg_text_options *opt, psg_text_builder **out)
    psg_status psg_tb_feed(psg_text_builder *b, const char *buf, int64_t len)
    psg_status psg_tb_stats(const psg_text_builder *b, int64_t *stats)
    psg_status psg_tb_finish(psg_text_builder *b, int64_t n_rows, int64_t n_cols, int transpose, int mirror,
                             psg_dup_policy duplicates, psg_loop_policy self_loops, int keep_values,
                             psg_csr_arrays *out)
    psg_status psg_tb_take_values(psg_text_builder *b, double **values, int64_t *n)
    void psg_tb_free(psg_text_builder *b)
    psg_status psg_format_entries(int64_t n, const int64_t *a, const int64_t *b, const double *values,
                                  int64_t offset, char *buf, int64_t cap, int64_t *written, int64_t *consumed)


cdef class TextBuilder:
    """Streams text blocks (whole lines) into the C builder; see io.h."""
    cdef psg_text_builder *b

    def __cinit__(self, int n_ids, int value_mode, bint one_based, bint strict, int64_t bound_a,
                  int64_t bound_b, int64_t first_line, int n_threads, int64_t capacity_hint=0):
        cdef psg_text_options o
        o.n_ids = n_ids
        o.value_mode = value_mode
        o.one_based = one_based
        o.strict_fields = strict
        o.bound_a = bound_a
        o.bound_b = bound_b
        o.first_line = first_line
        o.n_threads = n_threads
        o.capacity_hint = capacity_hint
        self.b = NULL
        _check(psg_tb_new(&o, &self.b))

    def __dealloc__(self):
        psg_tb_free(self.b)
        self.b = NULL

    def feed(self, const unsigned char[::1] buf):
        """Parses one block of whole lines (GIL released)."""
        cdef psg_status st
        cdef int64_t n = buf.shape[0]
        if n == 0:
            return
        with nogil:
            st = psg_tb_feed(self.b, <const char *>&buf[0], n)
        _check(st)

    def stats(self):
        """dict: entries, max_a, max_b, lines, fields, weighted_lines, mode, store_bytes."""
        cdef int64_t s[8]
        _check(psg_tb_stats(self.b, s))
        keys = ("entries", "max_a", "max_b", "lines", "fields", "weighted_lines", "mode", "store_bytes")
        return {k: s[i] for i, k in enumerate(keys)}

    def finish(self, int64_t n_rows, int64_t n_cols, bint transpose, int mirror, str duplicates,
               str self_loops, bint keep_values):
        """(indptr, indices int32, values float64 or None) as read-only views of C memory."""
        cdef psg_csr_arrays out
        cdef psg_status st
        cdef psg_dup_policy dp = _DUP_POLICIES[duplicates]
        cdef psg_loop_policy lp = _LOOP_POLICIES[self_loops]
        with nogil:
            st = psg_tb_finish(self.b, n_rows, n_cols, transpose, mirror, dp, lp, keep_values, &out)
        _check(st)
        indptr = _view_of_c(out.indptr, n_rows + 1, cnp.NPY_INT64)
        indices = _view_of_c(out.indices, out.nnz, cnp.NPY_INT32)
        vals = None
        if out.values != NULL:
            vals = _view_of_c(out.values, out.nnz, cnp.NPY_FLOAT64)
        return indptr, indices, vals

    def take_values(self):
        cdef double *v
        cdef int64_t n
        _check(psg_tb_take_values(self.b, &v, &n))
        return _view_of_c(v, n, cnp.NPY_FLOAT64)


def format_entries(cnp.ndarray a, cnp.ndarray b, values, int64_t offset, int64_t start, int64_t cap):
    """Text lines for entries a[start:], b[start:] (int64) into a buffer of at most cap bytes.
    Returns (a memoryview of the text, n_consumed): no copy into a bytes object."""
    cdef int64_t n = a.shape[0] - start
    buf = bytearray(cap)
    cdef unsigned char[::1] mv = buf
    cdef int64_t written = 0, consumed = 0
    cdef const int64_t *ap = <const int64_t *>_ptr(a) + start
    cdef const int64_t *bp = <const int64_t *>_ptr(b) + start
    cdef const double *vp = NULL
    if values is not None:
        vp = <const double *>_ptr(values) + start
    cdef psg_status st
    with nogil:
        st = psg_format_entries(n, ap, bp, vp, offset, <char *>&mv[0], cap, &written, &consumed)
    _check(st)
    return memoryview(buf)[:written], consumed


cdef extern from "pysparsegraph/io.h" nogil:
    ctypedef struct psg_bvgraph_params:
        int64_t n_nodes
        int64_t n_arcs
        int window_size
        int max_ref_count
        int min_interval_length
        int zeta_k
        int code_outdegrees, code_references, code_blocks, code_residuals, code_block_count
    psg_status psg_bvgraph_decode(const unsigned char *data, int64_t len, const psg_bvgraph_params *p,
                                  psg_csr_arrays *out, int64_t *counters)


def bvgraph_decode(const unsigned char[::1] data, int64_t n_nodes, int64_t n_arcs, int window_size,
                   int max_ref_count, int min_interval_length, int zeta_k, int c_out, int c_ref, int c_blk,
                   int c_res, int c_bcount):
    """(indptr, indices int32, counters[8]) decoded from a BVGraph bit stream."""
    cdef psg_bvgraph_params p
    p.n_nodes = n_nodes
    p.n_arcs = n_arcs
    p.window_size = window_size
    p.max_ref_count = max_ref_count
    p.min_interval_length = min_interval_length
    p.zeta_k = zeta_k
    p.code_outdegrees = c_out
    p.code_references = c_ref
    p.code_blocks = c_blk
    p.code_residuals = c_res
    p.code_block_count = c_bcount
    cdef psg_csr_arrays out
    cdef int64_t cnt[8]
    cdef psg_status st
    cdef const unsigned char *dp = &data[0] if data.shape[0] else NULL
    cdef unsigned char dummy = 0
    if dp == NULL:
        dp = &dummy
    with nogil:
        st = psg_bvgraph_decode(dp, data.shape[0], &p, &out, cnt)
    _check(st)
    indptr = _view_of_c(out.indptr, n_nodes + 1, cnp.NPY_INT64)
    indices = _view_of_c(out.indices, out.nnz, cnp.NPY_INT32)
    return indptr, indices, [cnt[i] for i in range(8)]


cdef extern from "pysparsegraph/io.h" nogil:
    psg_status psg_order_degree(int64_t n, const int64_t *indptr, int64_t *perm, int n_threads)
    psg_status psg_order_rcm(int64_t n, const int64_t *indptr, const int32_t *indices, int64_t *perm)
    psg_status psg_order_hubcluster(int64_t n, const int64_t *indptr, int64_t *perm)
    psg_status psg_order_bfs_community(int64_t n, const int64_t *indptr, const int32_t *indices, int64_t *perm)
    psg_status psg_permute_csr(int64_t n_rows, const int64_t *indptr, const int32_t *indices, const void *values,
                               int value_size, const int64_t *perm, const int64_t *inv, int64_t *out_indptr,
                               int32_t *out_indices, void *out_values, int n_threads)


def graph_order(str method, cnp.ndarray indptr, cnp.ndarray indices):
    """perm[new] = old for a validated square CSR with int32 indices."""
    cdef int64_t n = indptr.shape[0] - 1
    perm = np.empty(n, dtype=np.int64)
    cdef int64_t *pp = <int64_t *>_ptr(perm)
    cdef const int64_t *ip = <const int64_t *>_ptr(indptr)
    cdef const int32_t *ix = <const int32_t *>_ptr(indices)
    cdef psg_status st
    cdef int m = {"degree": 0, "rcm": 1, "hubsort": 2, "community": 3}[method]
    with nogil:
        if m == 0:
            st = psg_order_degree(n, ip, pp, 1)
        elif m == 1:
            st = psg_order_rcm(n, ip, ix, pp)
        elif m == 2:
            st = psg_order_hubcluster(n, ip, pp)
        else:
            st = psg_order_bfs_community(n, ip, ix, pp)
    _check(st)
    return perm


def permute_csr(cnp.ndarray indptr, cnp.ndarray indices, values, cnp.ndarray perm, cnp.ndarray inv,
                int n_threads):
    """P A P^T arrays (new row i = old row perm[i], columns renamed by inv, rows sorted)."""
    cdef int64_t n = indptr.shape[0] - 1
    cdef int64_t nnz = indices.shape[0]
    out_indptr = np.empty(n + 1, dtype=np.int64)
    out_indices = np.empty(nnz, dtype=np.int32)
    out_values = None if values is None else np.empty(nnz, dtype=values.dtype)
    cdef int vs = 0 if values is None else values.dtype.itemsize
    cdef const void *vp = _ptr(values)
    cdef void *ovp = _ptr(out_values)
    cdef const int64_t *ip = <const int64_t *>_ptr(indptr)
    cdef const int32_t *ix = <const int32_t *>_ptr(indices)
    cdef const int64_t *pp = <const int64_t *>_ptr(perm)
    cdef const int64_t *qp = <const int64_t *>_ptr(inv)
    cdef int64_t *oip = <int64_t *>_ptr(out_indptr)
    cdef int32_t *oix = <int32_t *>_ptr(out_indices)
    cdef psg_status st
    with nogil:
        st = psg_permute_csr(n, ip, ix, vp, vs, pp, qp, oip, oix, ovp, n_threads)
    _check(st)
    return out_indptr, out_indices, out_values
