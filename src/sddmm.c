/* SDDMM (dot / u_add_v / u_mul_v), weighted degrees, and the transposed CSR
 * structure used by the backward passes. */
#include <stdlib.h>
#include <string.h>
#include "gnn_common.h"
#include "partition.h"
#include "pysparsegraph/threads.h"

#define PSG_TEMPLATE "templates/sddmm.inc"
#include "templates/instantiate.h"
#undef PSG_TEMPLATE

psg_status psg_sddmm(int index_size, int value_size, int op, int64_t n_rows, int64_t n_cols,
                     const int64_t *indptr, const void *indices, const void *x, int64_t kx,
                     const void *y, int64_t ky, int64_t heads, void *out, int n_threads)
{
    psg__clear_error();
    const int slot = psg__type_slot(index_size, value_size);
    if (slot < 0)
        return psg__fail(PSG_ERR_INVALID_ARG, "index_size must be 4 or 8 and value_size 4 or 8, got %d and %d",
                         index_size, value_size);
    if (n_rows < 0 || n_cols < 0 || kx < 0 || ky < 0)
        return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension");
    if (!indptr) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    if (op == PSG_SDDMM_DOT) {
        if (kx != ky) return psg__fail(PSG_ERR_SHAPE, "dot needs equal widths, got %lld and %lld",
                                       (long long)kx, (long long)ky);
        if (heads < 1 || kx % heads != 0)
            return psg__fail(PSG_ERR_SHAPE, "heads=%lld must be >= 1 and divide the width %lld",
                             (long long)heads, (long long)kx);
    } else if (op == PSG_SDDMM_U_ADD_V || op == PSG_SDDMM_U_MUL_V) {
        if (kx != ky && kx != 1 && ky != 1)
            return psg__fail(PSG_ERR_SHAPE, "widths %lld and %lld do not broadcast (equal, or one of them 1)",
                             (long long)kx, (long long)ky);
        heads = 1;
    } else {
        return psg__fail(PSG_ERR_INVALID_ARG, "op must be 0 (dot), 1 (u_add_v) or 2 (u_mul_v), got %d", op);
    }
    if (n_rows == 0 || indptr[n_rows] == 0 || (op != PSG_SDDMM_DOT && (kx == 0 || ky == 0))) {
        psg__set_team_size(1);
        return PSG_OK;
    }
    if (!indices || !x || !y || !out) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    /* element counts of x, y and out (and their byte counts) must fit int64 */
    int64_t nx, ny, nout;
    const int64_t kmax = kx > ky ? kx : ky, most = INT64_MAX / 8;
    if (indptr[n_rows] < 0) return psg__fail(PSG_ERR_INDPTR, "indptr[n_rows] is negative");
    if (__builtin_mul_overflow(n_rows, kx, &nx) || __builtin_mul_overflow(n_cols, ky, &ny) ||
        __builtin_mul_overflow(indptr[n_rows], kmax, &nout) || nx > most || ny > most || nout > most)
        return psg__fail(PSG_ERR_OVERFLOW, "sizes overflow: n_rows=%lld n_cols=%lld nnz=%lld kx=%lld ky=%lld",
                         (long long)n_rows, (long long)n_cols, (long long)indptr[n_rows], (long long)kx,
                         (long long)ky);
    /* Prefetching the gathered rows of y pays once they outgrow the L2 (on cora, whose y fits, it cost
     * 5-12%; on coAuthorsDBLP and soc-Slashdot0902 it gave 1.05-1.40x; Intel Xeon VM, bench/RESULTS.md). */
    const int pf = (double)n_cols * (double)ky * (double)value_size > (double)psg_cache_bytes(2);
    psg_status st;
    PSG_DISPATCH(st, slot, psg__sddmm, op, n_rows, indptr, indices, x, kx, y, ky, heads, out, pf, n_threads);
    return st;
}

psg_status psg_csr_degrees(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                           const int64_t *indptr, const void *indices, const void *values,
                           double *row_deg, double *col_deg, int n_threads)
{
    psg__clear_error();
    const int slot = psg__type_slot(index_size, value_size);
    if (slot < 0) return PSG_ERR_INVALID_ARG;
    if (n_rows < 0 || n_cols < 0) return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension");
    if (!indptr || (indptr[n_rows] > 0 && col_deg && !indices))
        return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    psg_status st;
    PSG_DISPATCH(st, slot, psg__degrees, n_rows, n_cols, indptr, indices, values, row_deg, col_deg, n_threads);
    return st;
}

/* Stable counting sort by column: one pass to count, a prefix sum, one pass
 * to place. Serial on purpose: it runs once per graph (the caller caches it)
 * and a serial scatter keeps rows in increasing order inside every column
 * without a per-thread offset table. */
#define PSG_TRANSPOSE_BODY(PSG_I)                                                        \
    {                                                                                    \
        const PSG_I *ix = (const PSG_I *)indices;                                        \
        PSG_I *tix = (PSG_I *)t_indices;                                                 \
        const int64_t nnz = indptr[n_rows];                                              \
        memset(t_indptr, 0, (size_t)(n_cols + 1) * sizeof *t_indptr);                    \
        for (int64_t j = 0; j < nnz; j++) t_indptr[(int64_t)ix[j] + 1]++;                \
        for (int64_t c = 0; c < n_cols; c++) t_indptr[c + 1] += t_indptr[c];             \
        int64_t *next = malloc((size_t)(n_cols > 0 ? n_cols : 1) * sizeof *next);       \
        if (!next) return psg__fail(PSG_ERR_NO_MEMORY, "cannot allocate %lld counters",  \
                                    (long long)n_cols);                                  \
        memcpy(next, t_indptr, (size_t)n_cols * sizeof *next);                           \
        for (int64_t r = 0; r < n_rows; r++)                                             \
            for (int64_t j = indptr[r]; j < indptr[r + 1]; j++) {                        \
                const int64_t p = next[ix[j]]++;                                         \
                tix[p] = (PSG_I)r;                                                       \
                if (t_eid) t_eid[p] = j;                                                 \
            }                                                                            \
        free(next);                                                                      \
    }

psg_status psg_csr_transpose(int index_size, int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                             const void *indices, int64_t *t_indptr, void *t_indices, int64_t *t_eid,
                             int n_threads)
{
    (void)n_threads;
    psg__clear_error();
    if (index_size != 4 && index_size != 8)
        return psg__fail(PSG_ERR_INVALID_ARG, "index_size must be 4 or 8, got %d", index_size);
    if (n_rows < 0 || n_cols < 0) return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension");
    if (index_size == 4 && n_rows > INT32_MAX)
        return psg__fail(PSG_ERR_OVERFLOW, "n_rows=%lld does not fit int32 row ids; use int64 indices",
                         (long long)n_rows);
    if (!indptr || !t_indptr || (indptr[n_rows] > 0 && (!indices || !t_indices)))
        return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    if (index_size == 4) PSG_TRANSPOSE_BODY(int32_t) else PSG_TRANSPOSE_BODY(int64_t)
    psg__set_team_size(1);
    return PSG_OK;
}
