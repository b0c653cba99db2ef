/* pysparsegraph — sparse × dense products.
 *
 * Y = A · X with A in CSR (n_rows × n_cols), X dense row-major (n_cols × k),
 * Y dense row-major (n_rows × k). values == NULL means every stored entry is 1.
 * Each output row is summed by one thread in storage order, so Y is
 * bit-identical for every thread count.
 */
#ifndef PYSPARSEGRAPH_SPMM_H
#define PYSPARSEGRAPH_SPMM_H

#include <stdint.h>
#include "pysparsegraph/status.h"
#include "pysparsegraph/isa.h"

#ifdef __cplusplus
extern "C" {
#endif

/*   indptr[n_rows+1] in, indices[nnz] in (already validated: psg_check_*),
 *   values[nnz] in or NULL, x[n_cols*k] in, y[n_rows*k] out (fully overwritten).
 *   n_threads <= 0: the OpenMP runtime's limit. */
psg_status psg_spmm_i32_f32(int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                            const int32_t *indices, const float *values,
                            const float *x, int64_t k, float *y, int n_threads);
psg_status psg_spmm_i32_f64(int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                            const int32_t *indices, const double *values,
                            const double *x, int64_t k, double *y, int n_threads);
psg_status psg_spmm_i64_f32(int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                            const int64_t *indices, const float *values,
                            const float *x, int64_t k, float *y, int n_threads);
psg_status psg_spmm_i64_f64(int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                            const int64_t *indices, const double *values,
                            const double *x, int64_t k, double *y, int n_threads);

/* ---- Plans: partition, schedule, layout and ISA chosen once, reused per call ----
 *
 * A plan is built from A's structure for one feature width k and value type,
 * then passed to psg_spmm_plan_exec_* as often as needed. The hub-row split
 * points depend only on split_len (by default a function of nnz alone), never
 * on the thread count, so Y is bit-identical for every thread count and every
 * steal pattern of the scheduler. */
enum { PSG_LAYOUT_AUTO = 0, PSG_LAYOUT_CSR = 1, PSG_LAYOUT_BLOCKED = 2 };
enum { PSG_PART_AUTO = 0, PSG_PART_NNZ = 1, PSG_PART_ROWS = 2 };
enum { PSG_SCHED_AUTO = 0, PSG_SCHED_STATIC = 1, PSG_SCHED_DYNAMIC = 2, PSG_SCHED_STEAL = 3 };
enum { PSG_STORE_AUTO = 0, PSG_STORE_CACHED = 1, PSG_STORE_STREAM = 2 };
enum { PSG_PREFETCH_AUTO = 0, PSG_PREFETCH_OFF = 1, PSG_PREFETCH_ON = 2 };
enum { PSG_ALIGN_AUTO = 0, PSG_ALIGN_OFF = 1, PSG_ALIGN_ON = 2 };
enum { PSG_FTILE_AUTO = 0, PSG_FTILE_OFF = 1, PSG_FTILE_ON = 2 };

typedef struct {
    int layout;        /* PSG_LAYOUT_*: CSR, cache-blocked column segments, or auto (planner) */
    int partition;     /* PSG_PART_*: nnz-balanced chunks (auto) or equal row counts (ablation) */
    int schedule;      /* PSG_SCHED_*: work stealing (auto), static, or OpenMP dynamic */
    int isa;           /* PSG_ISA_*: auto = best this CPU supports */
    int64_t n_chunks;  /* 0: auto (a few per thread); otherwise the chunk count wanted */
    int64_t split_len; /* 0: auto (max(2048, nnz/128)); < 0: never split rows; rows with
                          more entries than split_len are cut every split_len entries */
    int64_t seg_width; /* blocked layout: columns per segment (<= 65536); 0: auto from L2 and k */
    int store;         /* PSG_STORE_*: how rows of Y are written. Streaming (non-temporal) stores
                          skip reading Y's lines into cache first; auto streams when Y is bigger
                          than a 32 MiB L3. They apply to CSR plans of the plain product and of
                          fused sum/mean products (psg_gspmm_plan) when
                          y is 64-byte aligned and a row of Y is whole cache lines */
    int narrow_prefetch; /* PSG_PREFETCH_*: whether plain CSR products whose row of X is one SIMD
                          vector (k = 16 float32 on AVX-512, 8 on AVX2) prefetch the X rows
                          they will gather. Wider rows always do; one-vector rows gain only
                          when most gathers miss the L2, so auto prefetches when X is larger
                          than the last-level cache (psg_cache_bytes), or larger than the L2
                          with over half of the gathers estimated to miss it (gather_miss in
                          psg_spmm_plan_info), judged per call by X's type */
    int align_x;       /* PSG_ALIGN_*: whether a call whose X does not start on a 64-byte line
                          first copies X (in parallel) to a buffer that does, so that no gathered
                          row straddles one line more than it must and no vector load splits
                          across two. The copy is read once; the gathers read each row nnz/n_cols
                          times on average. Auto copies when rows of X are whole 64-byte lines
                          (more than one for a call on several threads), X is gathered at least 16
                          times per row on average and fits half the last-level cache
                          (psg_cache_bytes); on copies any X off a line. The plan keeps the buffer
                          for its next call (up to the last-level cache in size; counted in
                          psg_spmm_plan_info.bytes once made; a call that finds it in use by
                          another makes its own). A copy that cannot be allocated is skipped. Same
                          bits either way. */
    int feature_tiles; /* PSG_FTILE_*: whether plain CSR products run each row of Y in tiles of
                          128 bytes, every tile summing over all of the row's entries before the
                          next starts, rather than all of the row at once: it pays when nearly
                          every gathered row of X comes from memory. Auto tiles when a row of X
                          is at least 1 KiB (K >= 256 float32), X is larger than the last-level
                          cache (psg_cache_bytes) and over 3/4 of the gathers are estimated to
                          miss it (gather_miss_llc in psg_spmm_plan_info); on tiles whenever a row
                          of Y is a whole number of 128-byte tiles. Judged per call by X's type.
                          Same bits either way. */
} psg_spmm_options;

typedef struct psg_spmm_plan psg_spmm_plan;

typedef struct {
    int layout, partition, schedule, isa, n_threads, value_bytes, index_bytes;
    int serial;             /* 1: the plan runs on one thread whatever is asked (tiny work) */
    int stream;             /* 1: rows of Y are written with streaming stores (see store) */
    int narrow_prefetch;    /* 1: one-vector rows prefetch X (see narrow_prefetch) for an X of
                               the plan's value type */
    int align_x;            /* 1: a call on the plan's thread count copies an X not on a 64-byte
                               line to one that is (see align_x), for an X of its value type */
    double gather_miss;     /* auto narrow_prefetch, CSR, rows of X of at most 64 bytes, X larger
                               than the L2: the estimated share of gathers that miss the L2
                               (sampled from A's column ids); -1 when not estimated */
    int feature_tiles;      /* 1: rows of Y run in 128-byte feature tiles (see feature_tiles) for
                               an X of the plan's value type */
    double gather_miss_llc; /* auto feature_tiles, CSR, rows of X of at least 1 KiB, X larger than
                               the last-level cache: the estimated share of gathers that miss it;
                               -1 when not estimated */
    int64_t k, n_chunks, split_len, n_hubs, n_slots, seg_width, n_segs, n_nonempty;
    int64_t bytes;          /* memory the plan holds (incl. a blocked copy of A and align_x's copy
                               of X once a call made it) */
    double build_seconds;   /* wall time psg_spmm_plan_build_* took */
} psg_spmm_plan_info;

/* Fills *opts with the auto settings (all zero). opts out. */
psg_status psg_spmm_options_default(psg_spmm_options *opts);

/* Builds a plan for Y = A·X with X of width k.
 *   indptr[n_rows+1] in, indices[nnz] in, values[nnz] in or NULL (read only
 *   when the blocked layout copies them); n_threads <= 0: OpenMP limit;
 *   opts in or NULL (auto); *plan out, free with psg_spmm_plan_free. */
psg_status psg_spmm_plan_build_i32_f32(int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                                       const int32_t *indices, const float *values, int64_t k,
                                       int n_threads, const psg_spmm_options *opts, psg_spmm_plan **plan);
psg_status psg_spmm_plan_build_i32_f64(int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                                       const int32_t *indices, const double *values, int64_t k,
                                       int n_threads, const psg_spmm_options *opts, psg_spmm_plan **plan);
psg_status psg_spmm_plan_build_i64_f32(int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                                       const int64_t *indices, const float *values, int64_t k,
                                       int n_threads, const psg_spmm_options *opts, psg_spmm_plan **plan);
psg_status psg_spmm_plan_build_i64_f64(int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                                       const int64_t *indices, const double *values, int64_t k,
                                       int n_threads, const psg_spmm_options *opts, psg_spmm_plan **plan);

/* plan in (may be NULL); frees it. */
psg_status psg_spmm_plan_free(psg_spmm_plan *plan);

/* plan in, info out. */
psg_status psg_spmm_plan_describe(const psg_spmm_plan *plan, psg_spmm_plan_info *info);

/* Y = A·X with a plan built for the same A (same indptr/nnz), k, index and
 * value types. Arguments as psg_spmm_*; the bf16 variants read X as bfloat16
 * (x[n_cols*k] uint16 in) and accumulate and write float32 (plan built with
 * psg_spmm_plan_build_*_f32). */
psg_status psg_spmm_plan_exec_i32_f32(const psg_spmm_plan *plan, const int64_t *indptr, const int32_t *indices,
                                      const float *values, const float *x, int64_t k, float *y, int n_threads);
psg_status psg_spmm_plan_exec_i32_f64(const psg_spmm_plan *plan, const int64_t *indptr, const int32_t *indices,
                                      const double *values, const double *x, int64_t k, double *y, int n_threads);
psg_status psg_spmm_plan_exec_i64_f32(const psg_spmm_plan *plan, const int64_t *indptr, const int64_t *indices,
                                      const float *values, const float *x, int64_t k, float *y, int n_threads);
psg_status psg_spmm_plan_exec_i64_f64(const psg_spmm_plan *plan, const int64_t *indptr, const int64_t *indices,
                                      const double *values, const double *x, int64_t k, double *y, int n_threads);
psg_status psg_spmm_plan_exec_i32_bf16(const psg_spmm_plan *plan, const int64_t *indptr, const int32_t *indices,
                                       const float *values, const uint16_t *x, int64_t k, float *y, int n_threads);
psg_status psg_spmm_plan_exec_i64_bf16(const psg_spmm_plan *plan, const int64_t *indptr, const int64_t *indices,
                                       const float *values, const uint16_t *x, int64_t k, float *y, int n_threads);

/* Converts src[n] float32 (in) to bfloat16 dst[n] (out), rounding to nearest
 * even; NaN stays NaN. Parallel over n_threads (<= 0: OpenMP limit). */
psg_status psg_f32_to_bf16(int64_t n, const float *src, uint16_t *dst, int n_threads);

/* Forces the ISA every SpMM uses from now on (process-wide), for tests and
 * benchmarks: PSG_ISA_AUTO restores detection. Returns PSG_ERR_UNSUPPORTED
 * when this CPU lacks the ISA. The environment variable PYSPARSEGRAPH_ISA
 * (generic|avx2|avx512) sets the initial value. */
psg_status psg_spmm_force_isa(int isa);

/* The ISA SpMM uses now (after forcing/detection): a PSG_ISA_* value. */
int psg_spmm_active_isa(void);

/* The ISA forced now (psg_spmm_force_isa or PYSPARSEGRAPH_ISA), PSG_ISA_AUTO
 * when none: what a caller saves to restore after forcing its own. */
int psg_spmm_forced_isa(void);

#ifdef __cplusplus
}
#endif
#endif
