/* pysparsegraph — graph neural network kernels ("gSpMM" / "gSDDMM").
 *
 * Conventions shared by every function here:
 *   - A is CSR: indptr[n_rows+1] (int64), indices[nnz] (int32 or int64, chosen
 *     by index_size = 4 or 8), already validated (psg_check_*).
 *   - Dense operands are row-major; value_size = 4 (float) or 8 (double) is
 *     the type of every floating array of the call.
 *   - Message direction: row r of A is the node that aggregates (the
 *     destination), the stored columns of row r are its incoming neighbours,
 *     exactly as in Y = A · X.
 *   - Every output row is produced by one thread in storage order, so results
 *     are bit-identical for every thread count. n_threads <= 0 means the
 *     OpenMP runtime's limit.
 */
#ifndef PYSPARSEGRAPH_GNN_H
#define PYSPARSEGRAPH_GNN_H

#include <stdint.h>
#include "pysparsegraph/status.h"
#include "pysparsegraph/spmm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    PSG_REDUCE_SUM = 0,
    PSG_REDUCE_MEAN = 1,
    PSG_REDUCE_MAX = 2,
    PSG_REDUCE_MIN = 3
} psg_reduce;

/* Options of the generalized SpMM. Zero-initialize, then set what you need.
 * The weight of stored entry j (edge id e = eid ? eid[j] : j, column c) in
 * row r is
 *     w = row_scale[r] * ev(e) * col_scale[c]
 * where ev(e) = edge_values[e] (edge_width 1), or, for edge_width H dividing
 * k ("heads"), the weight edge_values[e*H + h] for features [h*k/H, (h+1)*k/H)
 * (H = k: one weight per edge and feature), or 1 (edge_values NULL);
 * a NULL scale counts as 1. With self_loops, row r (r < n_cols) also gets an
 * implicit entry (r, r) with ev = 1, edge id nnz_edges + r. */
typedef struct {
    int reduce;                /* a psg_reduce */
    const void *edge_values;   /* [n_edges*edge_width] in, or NULL */
    int64_t edge_width;        /* 1, or H dividing k (ignored when edge_values is NULL) */
    const int64_t *eid;        /* [nnz] in or NULL: edge id of stored entry j, each in
                                  [0, nnz_edges) and trusted like the column ids: check
                                  with psg_check_indices_i64(nnz, eid, nnz_edges, ...) */
    int64_t nnz_edges;         /* number of edge ids (>= nnz; encodes self-loop ids) */
    const void *row_scale;     /* [n_rows] in or NULL */
    const void *col_scale;     /* [n_cols] in or NULL */
    int self_loops;            /* 0 / 1 */
    int64_t *argidx;           /* [n_rows*k] out or NULL (max/min only): the edge id
                                  that won each output element, -1 for empty rows */
} psg_gspmm_opts;

/* Generalized SpMM: Y[r, f] = reduce_{entries j of row r} w_j(f) * X[c_j, f].
 *   sum: the sum; mean: the sum divided by the row's entry count (self loop
 *   included); max / min: the extreme message, ties resolved to the first
 *   in storage order (the self loop comes last). Rows with no entries give 0.
 *   x[n_cols*k] in, y[n_rows*k] out (fully overwritten). */
psg_status psg_gspmm(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                     const int64_t *indptr, const void *indices, const psg_gspmm_opts *opts,
                     const void *x, int64_t k, void *y, int n_threads);

/* psg_gspmm on a plan: the same result, computed by the planned SpMM
 * machinery (the plan's nnz-balanced chunks and hub-row pieces, the
 * work-stealing scheduler, the SIMD kernels for the plan's ISA), so fused
 * normalization, self loops, edge values and every reducer cost about what
 * the plain sum does. psg_gspmm itself runs this way, on a plan built for
 * the call.
 *   plan in: built by psg_spmm_plan_build_* for this A (n_rows, n_cols,
 *   indptr), k, index and value types, CSR layout (not blocked);
 *   opts in and the other arguments: as for psg_gspmm. A hub row split into
 *   pieces is combined in piece order, so results are bit-identical for
 *   every thread count (they may differ in the last bits from an unsplit
 *   sum). */
psg_status psg_gspmm_plan(int index_size, int value_size, const psg_spmm_plan *plan, int64_t n_rows,
                          int64_t n_cols, const int64_t *indptr, const void *indices,
                          const psg_gspmm_opts *opts, const void *x, int64_t k, void *y, int n_threads);

/* Gradient of a max/min gspmm with respect to X, computed on the transposed
 * structure so that each row of grad_x is written by one thread:
 *   grad_x[c, f] = sum over entries (r, c) of A with argidx[r*k+f] == their
 *                  edge id of w(f) * grad_y[r, f].
 *   t_indptr[n_cols+1], t_indices[nnz] (row ids), t_eid[nnz] in: the transpose
 *   of A as built by psg_csr_transpose; opts: those of the forward call
 *   (eid must be NULL: t_eid gives the edge ids; row/col scales in forward
 *   orientation); argidx[n_rows*k] in, grad_y[n_rows*k] in,
 *   grad_x[n_cols*k] out. */
psg_status psg_gspmm_arg_backward_x(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                                    const int64_t *t_indptr, const void *t_indices, const int64_t *t_eid,
                                    const psg_gspmm_opts *opts, const void *grad_y, int64_t k,
                                    void *grad_x, int n_threads);

/* Gradient of a max/min gspmm with respect to the edge values:
 *   grad_e[e*H+h] = sum over the features f of head h (k/H of them) of
 *                   [argidx[r*k+f] == e] * s * grad_y[r,f] * x[c,f]   (H = edge_width)
 * with s = row_scale[r] * col_scale[c]; indexed by storage position (opts->eid
 * must be NULL). indptr/indices: A; x[n_cols*k], grad_y[n_rows*k] in;
 * grad_e[nnz*edge_width] out. */
psg_status psg_gspmm_arg_backward_e(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                                    const int64_t *indptr, const void *indices, const psg_gspmm_opts *opts,
                                    const void *x, const void *grad_y, int64_t k, int64_t edge_width,
                                    void *grad_e, int n_threads);

/* Checks arg indices before a max/min backward: argidx[r*k + f] must be an
 * edge id of row r (indptr[r] <= id < indptr[r+1], or nnz_edges + r for the
 * self loop when self_loops and r < n_cols), or -1 when row r has no message
 * at all. Ids of other rows would silently drop or misplace gradients.
 *   indptr[n_rows+1] in (A, forward orientation), argidx[n_rows*k] in.
 * Errors: PSG_ERR_INDEX_RANGE naming the first bad element (row-major order). */
psg_status psg_gspmm_check_argidx(int64_t n_rows, int64_t n_cols, const int64_t *indptr, int self_loops,
                                  int64_t nnz_edges, const int64_t *argidx, int64_t k, int n_threads);

typedef enum {
    PSG_SDDMM_DOT = 0,      /* out[j, h] = <X[r, h-th slice], Y[c, h-th slice]> */
    PSG_SDDMM_U_ADD_V = 1,  /* out[j, f] = X[r, f] + Y[c, f] (a width-1 side broadcasts) */
    PSG_SDDMM_U_MUL_V = 2   /* out[j, f] = X[r, f] * Y[c, f] (a width-1 side broadcasts) */
} psg_sddmm_op;

/* Sampled dense-dense products over the stored entries of A (row r, col c):
 *   x[n_rows*kx] in, y[n_cols*ky] in.
 *   DOT: kx == ky, heads divides kx, out[nnz*heads].
 *   U_ADD_V / U_MUL_V: kx == ky or one of them 1, out[nnz*max(kx,ky)].
 * Parallel over chunks of equal edge counts (a hub row is shared by threads). */
psg_status psg_sddmm(int index_size, int value_size, int op, int64_t n_rows, int64_t n_cols,
                     const int64_t *indptr, const void *indices, const void *x, int64_t kx,
                     const void *y, int64_t ky, int64_t heads, void *out, int n_threads);

/* Softmax of scores[nnz*heads] over the entries of each row of A (each head
 * separately), stable: exp(s - max) / sum. out[nnz*heads] out (may equal
 * scores). Rows without entries write nothing. */
psg_status psg_edge_softmax(int value_size, int64_t n_rows, const int64_t *indptr,
                            const void *scores, int64_t heads, void *out, int n_threads);

/* Backward of psg_edge_softmax: grad_s = a * (grad_a - sum_row(a * grad_a)).
 * alpha[nnz*heads] in (the forward output), grad_alpha[nnz*heads] in,
 * grad_scores[nnz*heads] out. */
psg_status psg_edge_softmax_backward(int value_size, int64_t n_rows, const int64_t *indptr,
                                     const void *alpha, const void *grad_alpha, int64_t heads,
                                     void *grad_scores, int n_threads);

/* Weighted degrees: row_deg[r] = sum of row r's values, col_deg[c] = sum of
 * column c's values (1 per entry when values is NULL), accumulated in double
 * in storage order (deterministic). values[nnz] in (value_size) or NULL;
 * row_deg[n_rows] out, col_deg[n_cols] out (either may be NULL). */
psg_status psg_csr_degrees(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                           const int64_t *indptr, const void *indices, const void *values,
                           double *row_deg, double *col_deg, int n_threads);

/* Structure of Aᵀ by a stable counting sort: t_indptr[n_cols+1] out,
 * t_indices[nnz] out (row ids, same index type as indices; fails with
 * PSG_ERR_OVERFLOW if n_rows does not fit it), t_eid[nnz] out or NULL
 * (storage position in A of each transposed entry). Within a column, rows come out in
 * increasing order. */
psg_status psg_csr_transpose(int index_size, int64_t n_rows, int64_t n_cols, const int64_t *indptr,
                             const void *indices, int64_t *t_indptr, void *t_indices, int64_t *t_eid,
                             int n_threads);

#ifdef __cplusplus
}
#endif
#endif
