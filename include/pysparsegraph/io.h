/* pysparsegraph — graph file input/output: text parsing into CSR, WebGraph
 * BVGraph decoding, text formatting, and locality reorderings.
 *
 * Text input goes through a *builder*: the caller feeds blocks of whole lines
 * (an edge list or a Matrix Market body), the builder parses every block in
 * parallel (the block is cut at newlines, one piece per thread, integers and
 * reals parsed by hand, no per-line allocation) and appends the entries to a
 * compact store; psg_tb_finish turns the store into CSR. Only one block of
 * text is ever held, so reading a compressed file streams it once.
 *
 * The store keeps the file order. While the first (or second) id column of the
 * file is non-decreasing -- SNAP lists sorted by source, SuiteSparse files
 * sorted by column -- it is kept as a run-length CSR (one int32 per entry plus
 * one counter per key), which is already the CSR (or its transpose); otherwise
 * it falls back to explicit int32 pairs. That keeps peak memory close to the
 * final CSR size.
 */
#ifndef PYSPARSEGRAPH_IO_H
#define PYSPARSEGRAPH_IO_H

#include <stdint.h>
#include "pysparsegraph/status.h"
#include "pysparsegraph/csr.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct psg_text_builder psg_text_builder;

/* What a body line holds. */
typedef struct {
    int n_ids;          /* 2: two integer ids per line (edge list, MM coordinate); 0: values only (MM array) */
    int value_mode;     /* 0: no value column; 1: exactly one real value after the ids (MM real/integer);
                           2: edge list, an optional third column is the weight (all lines must agree),
                              further columns are ignored */
    int one_based;      /* ids in the file start at 1 (Matrix Market); stored 0-based */
    int strict_fields;  /* nonzero: extra text after the expected fields is an error (Matrix Market) */
    int64_t bound_a;    /* ids of column 1 must be < bound_a after the shift; < 0: no declared bound */
    int64_t bound_b;    /* same for column 2 */
    int64_t first_line; /* 1-based line number of the first byte fed (for messages) */
    int n_threads;      /* <= 0: the OpenMP runtime's limit */
    int64_t capacity_hint; /* expected number of entries (Matrix Market nnz), 0 if unknown */
} psg_text_options;

/* Creates a builder. opt in (copied); *out receives the builder (free with psg_tb_free). */
psg_status psg_tb_new(const psg_text_options *opt, psg_text_builder **out);

/* Parses one block of text and appends its entries.
 *   buf[len] in: whole lines; only the last block of a file may end without '\n'.
 * Errors (PSG_ERR_FORMAT, PSG_ERR_INDEX_RANGE, PSG_ERR_OVERFLOW) name the line
 * number; after an error the builder must only be freed. */
psg_status psg_tb_feed(psg_text_builder *b, const char *buf, int64_t len);

/* What was read so far.
 *   stats[8] out: entries, max id col 1 (-1 if none), max id col 2, lines seen,
 *   fields per line (-1 unknown), lines with a weight, store mode (0 run on col 1,
 *   1 run on col 2, 2 pairs, 3 values only), bytes held by the store. */
psg_status psg_tb_stats(const psg_text_builder *b, int64_t *stats);

/* How psg_tb_finish mirrors entries. */
enum {
    PSG_MIRROR_NONE = 0,      /* entry (a, b) -> (row a, col b) */
    PSG_MIRROR_SYMMETRIC = 1, /* also (b, a) for a != b, same value */
    PSG_MIRROR_SKEW = 2       /* also (b, a) for a != b, negated value */
};

/* Builds the CSR from the store and empties it.
 *   n_rows, n_cols in: every stored id must be below them (checked).
 *   transpose in: nonzero swaps the two columns (entry (a, b) -> row b, col a).
 *   mirror in: PSG_MIRROR_*; needs n_rows == n_cols.
 *   duplicates, self_loops in: as for psg_edges_to_csr (PSG_LOOPS_ADD is not accepted).
 *   keep_values in: zero drops the value column (pattern result).
 *   out: indptr[n_rows+1], indices[nnz] int32, values[nnz] double or NULL; owned
 *   by the caller (psg_free). Columns are sorted within each row; entries with
 *   the same (row, col) keep their file order, so "first" and the summation
 *   order are the file's. */
psg_status psg_tb_finish(psg_text_builder *b, int64_t n_rows, int64_t n_cols, int transpose, int mirror,
                         psg_dup_policy duplicates, psg_loop_policy self_loops, int keep_values,
                         psg_csr_arrays *out);

/* Hands over the value column of a values-only builder (n_ids == 0).
 *   *values out: double[*n] owned by the caller (psg_free); *n out. */
psg_status psg_tb_take_values(psg_text_builder *b, double **values, int64_t *n);

/* Frees a builder (NULL is fine). */
void psg_tb_free(psg_text_builder *b);

/* Formats entries as text lines "a b[ v]\n".
 *   a[n], b[n] in: int64 ids, printed plus `offset` (1 for Matrix Market).
 *   values[n] in or NULL; printed with %.17g (round-trips doubles).
 *   buf[cap] out; *written out: bytes used. Fills whole lines only; *consumed
 *   out: how many entries were written (less than n when buf is full). */
psg_status psg_format_entries(int64_t n, const int64_t *a, const int64_t *b, const double *values,
                              int64_t offset, char *buf, int64_t cap, int64_t *written, int64_t *consumed);

/* ---- WebGraph BVGraph --------------------------------------------------- */

/* Parameters of a BVGraph, from its .properties file. */
typedef struct {
    int64_t n_nodes;
    int64_t n_arcs;
    int window_size;
    int max_ref_count;
    int min_interval_length;
    int zeta_k;
    /* codes: 0 gamma, 1 delta, 2 zeta_k, 3 unary, 4 nibble; order: outdegrees,
     * references, blocks, intervals, residuals, block count, offsets */
    int code_outdegrees, code_references, code_blocks, code_residuals, code_block_count;
} psg_bvgraph_params;

/* Decodes a BVGraph bit stream into CSR.
 *   data[len] in: the .graph file. p in.
 *   out: indptr[n+1], indices[n_arcs] (int32, sorted per row, as stored);
 *   counters[8] out (may be NULL): copied arcs, intervalised arcs, residual arcs,
 *   bits for outdegrees, references, blocks, intervals, residuals (comparable
 *   with the .properties statistics).
 * Decoding is sequential (references point to previous lists) but row starts are
 * found first so the lists are written in one pass. Malformed input fails with
 * PSG_ERR_FORMAT, never reads outside data. */
psg_status psg_bvgraph_decode(const uint8_t *data, int64_t len, const psg_bvgraph_params *p,
                              psg_csr_arrays *out, int64_t *counters);

/* ---- reordering --------------------------------------------------------- */

/* Orders returned as perm[new] = old (the node placed at position new).
 *   indptr[n+1], indices[nnz] int32 in (a square pattern; for RCM and the
 *   community order it is treated as undirected: pass a symmetric graph or
 *   accept that only out-edges are followed). They must form a valid CSR:
 *   check them with psg_check_indptr / psg_check_indices_i32 first, as the
 *   kernels do not (psg_order_degree refuses a decreasing indptr).
 *   perm[n] out (int64). */
psg_status psg_order_degree(int64_t n, const int64_t *indptr, int64_t *perm, int n_threads);
psg_status psg_order_rcm(int64_t n, const int64_t *indptr, const int32_t *indices, int64_t *perm);
psg_status psg_order_hubcluster(int64_t n, const int64_t *indptr, int64_t *perm);
psg_status psg_order_bfs_community(int64_t n, const int64_t *indptr, const int32_t *indices, int64_t *perm);

/* Applies a symmetric permutation P A P^T: new row i is old row perm[i], columns
 * renamed by inv (inv[old] = new), and each row re-sorted. indptr/indices must be
 * a valid CSR (see above); perm and inv are checked (a permutation and its inverse)
 * before anything is written beyond out_indptr[0].
 *   indptr[n+1], indices[nnz], values[nnz] (double/float by value_size, or NULL) in;
 *   perm[n_rows], inv[n_cols] in; out_indptr[n+1], out_indices[nnz], out_values out. */
psg_status psg_permute_csr(int64_t n_rows, const int64_t *indptr, const int32_t *indices, const void *values,
                           int value_size, const int64_t *perm, const int64_t *inv, int64_t *out_indptr,
                           int32_t *out_indices, void *out_values, int n_threads);

#ifdef __cplusplus
}
#endif
#endif
