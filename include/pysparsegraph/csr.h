/* pysparsegraph — CSR storage: validation and construction.
 *
 * A CSR matrix is (n_rows, n_cols, indptr, indices, values):
 *   indptr[n_rows+1]  int64, indptr[0] == 0, non-decreasing, indptr[n_rows] == nnz
 *   indices[nnz]      int32 or int64 column ids in [0, n_cols)
 *   values[nnz]       float32 / float64, or NULL for an unweighted graph (implicit ones)
 * Index type suffix: _i32 / _i64. Value type suffix: _f32 / _f64.
 */
#ifndef PYSPARSEGRAPH_CSR_H
#define PYSPARSEGRAPH_CSR_H

#include <stdint.h>
#include "pysparsegraph/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Checks that indptr is a valid row pointer for nnz entries.
 *   indptr[n_rows+1] in. Errors: PSG_ERR_INDPTR naming the first bad position. */
psg_status psg_check_indptr(int64_t n_rows, const int64_t *indptr, int64_t nnz);

/* Checks every column index lies in [0, n_cols). Runs in parallel.
 *   indices[nnz] in. Errors: PSG_ERR_INDEX_RANGE naming the first bad entry. */
psg_status psg_check_indices_i32(int64_t nnz, const int32_t *indices, int64_t n_cols, int n_threads);
psg_status psg_check_indices_i64(int64_t nnz, const int64_t *indices, int64_t n_cols, int n_threads);

/* Row id of every stored entry (the COO row array), in parallel.
 *   indptr[n_rows+1] in, rows[indptr[n_rows]] out. */
psg_status psg_expand_rows_i32(int64_t n_rows, const int64_t *indptr, int32_t *rows, int n_threads);
psg_status psg_expand_rows_i64(int64_t n_rows, const int64_t *indptr, int64_t *rows, int n_threads);

/* How edges_to_csr treats repeated (src, dst) pairs. */
typedef enum {
    PSG_DUP_SUM = 0,   /* one entry, values summed in input order */
    PSG_DUP_FIRST = 1, /* one entry, the first value in input order is kept */
    PSG_DUP_KEEP = 2   /* every repetition kept as its own entry */
} psg_dup_policy;

/* How edges_to_csr treats self loops (src == dst). */
typedef enum {
    PSG_LOOPS_KEEP = 0, /* as given */
    PSG_LOOPS_DROP = 1, /* removed */
    PSG_LOOPS_ADD = 2   /* every node i < min(n_rows, n_cols) without one gets (i, i, loop_value) */
} psg_loop_policy;

typedef struct {
    psg_dup_policy duplicates;
    psg_loop_policy self_loops;
    int symmetrize;      /* nonzero: every (u, v, w) is also inserted as (v, u, w); needs n_rows == n_cols */
    double loop_value;   /* value of added self loops (PSG_LOOPS_ADD) */
    int n_threads;       /* <= 0: the OpenMP runtime's limit */
} psg_edge_options;

/* Result of psg_edges_to_csr: arrays malloc'ed by the library, owned by the
 * caller afterwards (free with psg_free). Column ids are sorted within each row. */
typedef struct {
    int64_t *indptr;  /* [n_rows+1] */
    void *indices;    /* [nnz], int32_t or int64_t as requested */
    void *values;     /* [nnz], same value type as the input, NULL if input had none */
    int64_t nnz;
} psg_csr_arrays;

/* Builds a CSR matrix from edge arrays by a parallel, stable counting sort.
 *   src[m], dst[m] in: int64 node ids (src < n_rows, dst < n_cols).
 *   values[m] in: float (value_size 4) or double (value_size 8), or NULL.
 *   index_size: 4 (int32 column ids, requires n_cols <= INT32_MAX) or 8.
 *   out: filled on success; untouched on failure (nothing to free).
 * The result does not depend on the thread count. */
psg_status psg_edges_to_csr(int64_t n_rows, int64_t n_cols, int64_t m,
                            const int64_t *src, const int64_t *dst,
                            const void *values, int value_size, int index_size,
                            const psg_edge_options *opts, psg_csr_arrays *out);

/* Frees memory returned by the library (psg_csr_arrays members etc.). */
void psg_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
