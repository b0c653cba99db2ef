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

#ifdef __cplusplus
}
#endif
#endif
