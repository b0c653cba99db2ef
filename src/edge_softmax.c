/* Edge softmax over the incoming edges of each destination (a row of A), and
 * its backward. */
#include <math.h>
#include <stdlib.h>
#include "gnn_common.h"
#include "partition.h"

#ifndef PSG_CAT
#define PSG_CAT_(a, b) a##b
#define PSG_CAT(a, b) PSG_CAT_(a, b)
#endif

#define PSG_V float
#define PSG_SFX _f32
#include "templates/edge_softmax.inc"
#undef PSG_V
#undef PSG_SFX

#define PSG_V double
#define PSG_SFX _f64
#include "templates/edge_softmax.inc"
#undef PSG_V
#undef PSG_SFX

static psg_status esm_call(int backward, int value_size, int64_t n_rows, const int64_t *indptr,
                           const void *a, const void *g, int64_t heads, void *out, int n_threads)
{
    psg__clear_error();
    if (value_size != 4 && value_size != 8)
        return psg__fail(PSG_ERR_INVALID_ARG, "value_size must be 4 or 8, got %d", value_size);
    if (n_rows < 0 || heads < 0) return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension");
    if (!indptr) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    if (n_rows == 0 || heads == 0 || indptr[n_rows] == 0) {
        psg__set_team_size(1);
        return PSG_OK;
    }
    if (!a || !out || (backward && !g)) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    int64_t count;
    if (indptr[n_rows] < 0) return psg__fail(PSG_ERR_INDPTR, "indptr[n_rows] is negative");
    if (__builtin_mul_overflow(indptr[n_rows], heads, &count) || count > INT64_MAX / 8)
        return psg__fail(PSG_ERR_OVERFLOW, "nnz (%lld) * heads (%lld) overflows", (long long)indptr[n_rows],
                         (long long)heads);
    if (value_size == 4) return psg__esm_f32(backward, n_rows, indptr, a, g, heads, out, n_threads);
    return psg__esm_f64(backward, n_rows, indptr, a, g, heads, out, n_threads);
}

psg_status psg_edge_softmax(int value_size, int64_t n_rows, const int64_t *indptr,
                            const void *scores, int64_t heads, void *out, int n_threads)
{
    return esm_call(0, value_size, n_rows, indptr, scores, NULL, heads, out, n_threads);
}

psg_status psg_edge_softmax_backward(int value_size, int64_t n_rows, const int64_t *indptr,
                                     const void *alpha, const void *grad_alpha, int64_t heads,
                                     void *grad_scores, int n_threads)
{
    return esm_call(1, value_size, n_rows, indptr, alpha, grad_alpha, heads, grad_scores, n_threads);
}
