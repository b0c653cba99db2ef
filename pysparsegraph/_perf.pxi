# SpMM plans, ISA dispatch control and bfloat16 conversion (included by _core.pyx).
from libc.stdint cimport uint16_t, uint32_t

cdef extern from "pysparsegraph/spmm.h" nogil:
    ctypedef struct psg_spmm_options:
        int layout
        int partition
        int schedule
        int isa
        int64_t n_chunks
        int64_t split_len
        int64_t seg_width
        int store
        int narrow_prefetch
        int align_x
        int feature_tiles
    ctypedef struct psg_spmm_plan:
        pass
    ctypedef struct psg_spmm_plan_info:
        int layout, partition, schedule, isa, n_threads, value_bytes, index_bytes
        int serial
        int stream
        int narrow_prefetch
        int align_x
        double gather_miss
        int feature_tiles
        double gather_miss_llc
        int64_t k, n_chunks, split_len, n_hubs, n_slots, seg_width, n_segs, n_nonempty
        int64_t bytes
        double build_seconds
    psg_status psg_spmm_options_default(psg_spmm_options *opts)
    psg_status psg_spmm_plan_build_i32_f32(int64_t, int64_t, const int64_t *, const int32_t *, const float *,
                                           int64_t, int, const psg_spmm_options *, psg_spmm_plan **)
    psg_status psg_spmm_plan_build_i32_f64(int64_t, int64_t, const int64_t *, const int32_t *, const double *,
                                           int64_t, int, const psg_spmm_options *, psg_spmm_plan **)
    psg_status psg_spmm_plan_build_i64_f32(int64_t, int64_t, const int64_t *, const int64_t *, const float *,
                                           int64_t, int, const psg_spmm_options *, psg_spmm_plan **)
    psg_status psg_spmm_plan_build_i64_f64(int64_t, int64_t, const int64_t *, const int64_t *, const double *,
                                           int64_t, int, const psg_spmm_options *, psg_spmm_plan **)
    psg_status psg_spmm_plan_free(psg_spmm_plan *plan)
    psg_status psg_spmm_plan_describe(const psg_spmm_plan *plan, psg_spmm_plan_info *info)
    psg_status psg_spmm_plan_exec_i32_f32(const psg_spmm_plan *, const int64_t *, const int32_t *, const float *,
                                          const float *, int64_t, float *, int)
    psg_status psg_spmm_plan_exec_i32_f64(const psg_spmm_plan *, const int64_t *, const int32_t *, const double *,
                                          const double *, int64_t, double *, int)
    psg_status psg_spmm_plan_exec_i64_f32(const psg_spmm_plan *, const int64_t *, const int64_t *, const float *,
                                          const float *, int64_t, float *, int)
    psg_status psg_spmm_plan_exec_i64_f64(const psg_spmm_plan *, const int64_t *, const int64_t *, const double *,
                                          const double *, int64_t, double *, int)
    psg_status psg_spmm_plan_exec_i32_bf16(const psg_spmm_plan *, const int64_t *, const int32_t *, const float *,
                                           const uint16_t *, int64_t, float *, int)
    psg_status psg_spmm_plan_exec_i64_bf16(const psg_spmm_plan *, const int64_t *, const int64_t *, const float *,
                                           const uint16_t *, int64_t, float *, int)
    psg_status psg_f32_to_bf16(int64_t n, const float *src, uint16_t *dst, int n_threads)
    psg_status psg_spmm_force_isa(int isa)
    int psg_spmm_active_isa()
    int psg_spmm_forced_isa()


cdef class _SpmmPlan:
    """Owns one C SpMM plan (built for one matrix structure, k and value dtype)."""
    cdef psg_spmm_plan *ptr
    cdef readonly bint index64
    cdef readonly bint value64

    def __dealloc__(self):
        if self.ptr != NULL:
            psg_spmm_plan_free(self.ptr)
            self.ptr = NULL

    def info(self):
        cdef psg_spmm_plan_info inf
        _check(psg_spmm_plan_describe(self.ptr, &inf))
        return dict(layout=inf.layout, partition=inf.partition, schedule=inf.schedule, isa=inf.isa,
                    n_threads=inf.n_threads, serial=bool(inf.serial), stream=bool(inf.stream),
                    narrow_prefetch=bool(inf.narrow_prefetch), align_x=bool(inf.align_x),
                    gather_miss=inf.gather_miss, feature_tiles=bool(inf.feature_tiles),
                    gather_miss_llc=inf.gather_miss_llc,
                    value_bytes=inf.value_bytes, index_bytes=inf.index_bytes,
                    k=inf.k, n_chunks=inf.n_chunks, split_len=inf.split_len, n_hubs=inf.n_hubs,
                    n_slots=inf.n_slots, seg_width=inf.seg_width, n_segs=inf.n_segs,
                    n_nonempty=inf.n_nonempty, nbytes=inf.bytes, build_seconds=inf.build_seconds)


def spmm_plan_build(int64_t n_cols, cnp.ndarray indptr, cnp.ndarray indices, values, int64_t k,
                    bint value64, int n_threads, int layout, int partition, int schedule, int isa,
                    int64_t n_chunks, int64_t split_len, int64_t seg_width, int store, int narrow_prefetch,
                    int align_x, int feature_tiles):
    """A _SpmmPlan for validated CSR arrays (values: None or of the plan's value dtype)."""
    cdef psg_spmm_options o
    psg_spmm_options_default(&o)
    o.layout, o.partition, o.schedule, o.isa = layout, partition, schedule, isa
    o.n_chunks, o.split_len, o.seg_width, o.store = n_chunks, split_len, seg_width, store
    o.narrow_prefetch = narrow_prefetch
    o.align_x = align_x
    o.feature_tiles = feature_tiles
    cdef int64_t n_rows = indptr.shape[0] - 1
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *ix = _ptr(indices)
    cdef const void *v = _ptr(values)
    cdef bint i32 = indices.dtype == np.int32
    cdef psg_spmm_plan *plan = NULL
    cdef psg_status st
    with nogil:
        if i32 and not value64:
            st = psg_spmm_plan_build_i32_f32(n_rows, n_cols, p, <const int32_t *>ix, <const float *>v, k,
                                             n_threads, &o, &plan)
        elif i32:
            st = psg_spmm_plan_build_i32_f64(n_rows, n_cols, p, <const int32_t *>ix, <const double *>v, k,
                                             n_threads, &o, &plan)
        elif not value64:
            st = psg_spmm_plan_build_i64_f32(n_rows, n_cols, p, <const int64_t *>ix, <const float *>v, k,
                                             n_threads, &o, &plan)
        else:
            st = psg_spmm_plan_build_i64_f64(n_rows, n_cols, p, <const int64_t *>ix, <const double *>v, k,
                                             n_threads, &o, &plan)
    _check(st)
    cdef _SpmmPlan obj = _SpmmPlan()
    obj.ptr = plan
    obj.index64 = not i32
    obj.value64 = value64
    return obj


def spmm_plan_exec(_SpmmPlan plan, cnp.ndarray indptr, cnp.ndarray indices, values, cnp.ndarray x,
                   cnp.ndarray y, int n_threads):
    """y[:] = A @ x with a plan (x float32/float64, or uint16 holding bfloat16 -> y float32)."""
    cdef int64_t k = x.shape[1]
    cdef const int64_t *p = <const int64_t *>_ptr(indptr)
    cdef const void *ix = _ptr(indices)
    cdef const void *v = _ptr(values)
    cdef const void *xp = _ptr(x)
    cdef void *yp = _ptr(y)
    # type numbers, not dtype objects: comparing those cost ~0.5 us of a small product's call
    cdef bint i32 = cnp.PyArray_TYPE(indices) == cnp.NPY_INT32
    cdef int xt = cnp.PyArray_TYPE(x)
    cdef int kind = 0 if xt == cnp.NPY_FLOAT32 else (1 if xt == cnp.NPY_FLOAT64 else 2)
    cdef psg_status st
    with nogil:
        if kind == 0 and i32:
            st = psg_spmm_plan_exec_i32_f32(plan.ptr, p, <const int32_t *>ix, <const float *>v,
                                            <const float *>xp, k, <float *>yp, n_threads)
        elif kind == 0:
            st = psg_spmm_plan_exec_i64_f32(plan.ptr, p, <const int64_t *>ix, <const float *>v,
                                            <const float *>xp, k, <float *>yp, n_threads)
        elif kind == 1 and i32:
            st = psg_spmm_plan_exec_i32_f64(plan.ptr, p, <const int32_t *>ix, <const double *>v,
                                            <const double *>xp, k, <double *>yp, n_threads)
        elif kind == 1:
            st = psg_spmm_plan_exec_i64_f64(plan.ptr, p, <const int64_t *>ix, <const double *>v,
                                            <const double *>xp, k, <double *>yp, n_threads)
        elif i32:
            st = psg_spmm_plan_exec_i32_bf16(plan.ptr, p, <const int32_t *>ix, <const float *>v,
                                             <const uint16_t *>xp, k, <float *>yp, n_threads)
        else:
            st = psg_spmm_plan_exec_i64_bf16(plan.ptr, p, <const int64_t *>ix, <const float *>v,
                                             <const uint16_t *>xp, k, <float *>yp, n_threads)
    _check(st)


def f32_to_bf16(cnp.ndarray src, cnp.ndarray dst, int n_threads):
    """dst (uint16, same size) = bfloat16(src float32), round to nearest even."""
    cdef int64_t n = src.size
    cdef const float *s = <const float *>_ptr(src)
    cdef uint16_t *d = <uint16_t *>_ptr(dst)
    cdef psg_status st
    with nogil:
        st = psg_f32_to_bf16(n, s, d, n_threads)
    _check(st)


def spmm_force_isa(int isa):
    """Forces the SpMM ISA process-wide (0 auto, 1 generic, 2 avx2, 3 avx512)."""
    _check(psg_spmm_force_isa(isa))


def spmm_active_isa():
    return psg_spmm_active_isa()


def spmm_forced_isa():
    """The forced ISA code (0 when none is forced)."""
    return psg_spmm_forced_isa()


cdef extern from "pysparsegraph/probe.h" nogil:
    psg_status psg_probe_triad(int64_t n, int reps, int n_threads, double *gbps)
    psg_status psg_probe_gather(int64_t n_rows, int64_t k, const float *x, int64_t m, const int32_t *idx,
                                int reps, int n_threads, double *gbps, uint32_t *or_bits)


def probe_triad(int64_t n, int reps, int n_threads):
    """Best triad bandwidth in GB/s (24 bytes per element)."""
    cdef double g = 0
    cdef psg_status st
    with nogil:
        st = psg_probe_triad(n, reps, n_threads, &g)
    _check(st)
    return g


def probe_gather(cnp.ndarray x, cnp.ndarray idx, int reps, int n_threads):
    """(best row-gather bandwidth in GB/s, OR of every word loaded): the rows of
    float32 x (n_rows, k) named by int32 idx, loaded and nothing else (random ids
    give the machine's ceiling, a graph's column ids the floor of an SpMM over
    it in storage order)."""
    if x.ndim != 2 or x.dtype != np.float32 or not x.flags.c_contiguous:
        raise TypeError(f"x must be a C-contiguous 2-D float32 array, got {x.dtype} with shape {(<object>x).shape}")
    if idx.ndim != 1 or idx.dtype != np.int32 or not idx.flags.c_contiguous:
        raise TypeError(f"idx must be a contiguous 1-D int32 array, got {idx.dtype} with shape {(<object>idx).shape}")
    cdef double g = 0
    cdef uint32_t bits = 0
    cdef psg_status st
    cdef int64_t n = x.shape[0], k = x.shape[1], m = idx.shape[0]
    cdef const float *xp = <const float *>_ptr(x)
    cdef const int32_t *ip = <const int32_t *>_ptr(idx)
    with nogil:
        st = psg_probe_gather(n, k, xp, m, ip, reps, n_threads, &g, &bits)
    _check(st)
    return g, bits
