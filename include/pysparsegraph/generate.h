/* pysparsegraph — synthetic graph generators.
 *
 * Every random draw comes from a counter-based generator keyed by (seed,
 * edge id, draw number), so edge e is the same whatever thread makes it:
 * results depend on the seed only, never on the thread count.
 */
#ifndef PYSPARSEGRAPH_GENERATE_H
#define PYSPARSEGRAPH_GENERATE_H
#include <stdint.h>
#include "pysparsegraph/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* R-MAT / Kronecker edges on 2^scale nodes (Graph500: a=0.57, b=0.19, c=0.19,
 * d = 1-a-b-c). scale in [0, 40]; n_edges >= 0; a, b, c >= 0 with a+b+c <= 1.
 * scramble != 0 relabels nodes with a seeded bijection of [0, 2^scale) so
 * high degree is not concentrated at low ids (as Graph500 does).
 *   src[n_edges] out, dst[n_edges] out. n_threads <= 0: OpenMP limit. */
psg_status psg_generate_rmat(int scale, int64_t n_edges, double a, double b, double c, uint64_t seed,
                             int scramble, int64_t *src, int64_t *dst, int n_threads);

/* Erdős–Rényi G(n, m): n_edges edges with both ends uniform in [0, n).
 *   src[n_edges] out, dst[n_edges] out. */
psg_status psg_generate_er(int64_t n, int64_t n_edges, uint64_t seed, int64_t *src, int64_t *dst,
                           int n_threads);

/* 2-D grid of rows × cols nodes (id = i*cols + j), 4-neighbour, both
 * directions stored, columns sorted. rows*cols < 2^31.
 *   indptr[rows*cols+1] out, indices[2*(rows*(cols-1) + cols*(rows-1))] out. */
psg_status psg_generate_grid2d(int64_t rows, int64_t cols, int64_t *indptr, int32_t *indices, int n_threads);

#ifdef __cplusplus
}
#endif
#endif
