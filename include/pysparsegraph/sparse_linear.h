/* pysparsegraph — sparse-weight linear layer (pruned models).
 *
 * Computes, in the feature-major ("transposed") activation layout,
 *
 *     Yt = min(clamp_max, act(W · Xt + bias))
 *
 * where W is the pruned weight (n_out × n_in) in CSR, Xt = Xᵀ is the input
 * activation stored as n_in rows of `batch` contiguous floats, and Yt = Yᵀ
 * is n_out rows of `batch` floats. In this layout every stored weight w_oj
 * multiplies one contiguous row of Xt (the batch vector of input feature j),
 * so the product is an SpMM whose dense operand rows are contiguous SIMD
 * vectors; bias, activation and clamp are applied in registers (epilogue)
 * before the single store of each output row.
 *
 * Each output row is summed by one thread in storage order, so Yt is
 * bit-identical for every thread count.
 */
#ifndef PYSPARSEGRAPH_SPARSE_LINEAR_H
#define PYSPARSEGRAPH_SPARSE_LINEAR_H

#include <stdint.h>
#include "pysparsegraph/status.h"
#include "pysparsegraph/isa.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activation applied in the epilogue. */
enum {
    PSG_ACT_NONE = 0,
    PSG_ACT_RELU = 1, /* max(0, x) */
    PSG_ACT_GELU = 2  /* x/2 (1 + erf(x/sqrt 2)), erf to ~2e-7 absolute */
};

/* Instruction set of the kernel (the `isa` argument): PSG_ISA_* of isa.h. */

/* Yt = min(clamp_max, act(W · Xt + bias)).
 *   n_out, n_in           in: W's shape (rows = output features).
 *   indptr[n_out+1]       in: CSR row pointers of W (validated: monotone, 0..nnz).
 *   indices[nnz]          in: column ids of W, each in [0, n_in) (validated by the caller).
 *                            The _u16 variant stores them as uint16 (n_in <= 65536),
 *                            halving index traffic; _i32 as int32.
 *   values[nnz]           in: weights.
 *   bias[n_out]           in or NULL (no bias).
 *   xt[n_in*batch]        in: Xᵀ, row j = input feature j over the batch.
 *   batch                 in: batch size (>= 0; any value, tails are masked).
 *   yt[n_out*batch]       out: Yᵀ, fully overwritten; must not overlap xt.
 *   act                   in: PSG_ACT_*.
 *   clamp_max             in: upper clamp (pass INFINITY for none; NaN is rejected).
 *   isa                   in: PSG_ISA_*; a forced ISA the CPU lacks -> PSG_ERR_UNSUPPORTED.
 *   n_threads             in: <= 0 means the OpenMP runtime's limit at call time. */
psg_status psg_sparse_linear_u16_f32(int64_t n_out, int64_t n_in, const int64_t *indptr,
                                     const uint16_t *indices, const float *values,
                                     const float *bias, const float *xt, int64_t batch,
                                     float *yt, int act, float clamp_max, int isa, int n_threads);
psg_status psg_sparse_linear_i32_f32(int64_t n_out, int64_t n_in, const int64_t *indptr,
                                     const int32_t *indices, const float *values,
                                     const float *bias, const float *xt, int64_t batch,
                                     float *yt, int act, float clamp_max, int isa, int n_threads);

/* The layout argument of psg_sparse_linear_layout_f32: which operands are
 * row-major (sample-major, the usual layout) instead of feature-major. */
enum {
    PSG_SL_X_ROW_MAJOR = 1, /* x[batch*n_in]: row b = sample b */
    PSG_SL_Y_ROW_MAJOR = 2  /* y[batch*n_out]: row b = sample b */
};

/* The same layer with each activation operand in either layout:
 *   indices[nnz]          in: uint16 (index_bytes = 2) or int32 (index_bytes = 4) column ids.
 *   x                     in: Xt[n_in*batch], or X[batch*n_in] with PSG_SL_X_ROW_MAJOR.
 *   y                     out: Yt[n_out*batch], or Y[batch*n_out] with PSG_SL_Y_ROW_MAJOR;
 *                            fully overwritten, must not overlap x.
 *   layout                in: 0 or PSG_SL_X_ROW_MAJOR | PSG_SL_Y_ROW_MAJOR (either or both).
 *   every other argument as above.
 * Same kernels, tiles and summation order whatever the layout, so results are
 * bit-identical to the feature-major functions (transposed where asked). A
 * thread transposes the input tile it computes while packing it, and each
 * block of outputs while storing it: no transposed copy of X or Y is made. */
psg_status psg_sparse_linear_layout_f32(int64_t n_out, int64_t n_in, const int64_t *indptr, const void *indices,
                                        int index_bytes, const float *values, const float *bias, const float *x,
                                        int64_t batch, float *y, int act, float clamp_max, int isa, int n_threads,
                                        int layout);

/* The ISA that PSG_ISA_AUTO selects on this CPU (one of PSG_ISA_GENERIC/AVX2/AVX512),
 * or whether a given ISA can run here: psg_isa_supported(isa) -> 1/0. */
int psg_sparse_linear_best_isa(void);
int psg_isa_supported(int isa);

/* Counts the columns j of the n_rows × batch row-major matrix a that hold at
 * least one non-zero, and writes their ids in increasing order.
 *   a[n_rows*batch] in, keep[batch] out (first *n_keep entries valid), n_keep out.
 * Used by inference loops to drop batch items whose activations died (Sparse DNN
 * Graph Challenge), without a Python pass over the matrix. */
psg_status psg_nonzero_columns_f32(int64_t n_rows, int64_t batch, const float *a,
                                   int64_t *keep, int64_t *n_keep, int n_threads);

/* out[n_rows*n_keep] = a[:, keep]: gathers the columns listed in keep[n_keep]
 * (each in [0, batch)) of the n_rows × batch row-major matrix a. */
psg_status psg_gather_columns_f32(int64_t n_rows, int64_t batch, const float *a,
                                  const int64_t *keep, int64_t n_keep, float *out, int n_threads);

/* out[n_cols*n_rows] = transpose of a[n_rows*n_cols] (both row-major, float32),
 * cache-blocked and parallel over row blocks; out must not overlap a. Converts
 * between the row-major (batch × features) activations users pass and the
 * feature-major layout of the kernels above. */
psg_status psg_transpose_f32(int64_t n_rows, int64_t n_cols, const float *a, float *out, int n_threads);

#ifdef __cplusplus
}
#endif
#endif
