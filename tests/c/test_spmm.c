/* C-only test: builds a CSR from edges with the library and checks SpMM
 * against a dense triple loop. Links only against libpysparsegraph (no Python). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "pysparsegraph/pysparsegraph.h"

#include "check.h"

int main(void)
{
    enum { N = 200, M = 3000, K = 7 };
    int64_t *src = malloc(M * sizeof *src), *dst = malloc(M * sizeof *dst);
    double *val = malloc(M * sizeof *val);
    unsigned s = 12345u;
    for (int e = 0; e < M; e++) {
        s = s * 1103515245u + 12345u;
        /* a hub: a third of all edges leave node 3 */
        src[e] = (e % 3 == 0) ? 3 : (int64_t)((s >> 8) % N);
        s = s * 1103515245u + 12345u;
        dst[e] = (int64_t)((s >> 8) % N);
        val[e] = (double)((int)((s >> 4) % 17) - 8) / 4.0;
    }
    psg_edge_options opt = {PSG_DUP_SUM, PSG_LOOPS_KEEP, 0, 1.0, 0};
    psg_csr_arrays a;
    CHECK(psg_edges_to_csr(N, N, M, src, dst, val, 8, 4, &opt, &a) == PSG_OK, "edges_to_csr: %s", psg_last_error());
    CHECK(psg_check_indptr(N, a.indptr, a.nnz) == PSG_OK, "indptr invalid: %s", psg_last_error());
    CHECK(psg_check_indices_i32(a.nnz, a.indices, N, 0) == PSG_OK, "indices invalid: %s", psg_last_error());

    /* dense reference: duplicates summed */
    double *dense = calloc((size_t)N * N, sizeof *dense);
    for (int e = 0; e < M; e++) dense[src[e] * N + dst[e]] += val[e];
    double *x = malloc((size_t)N * K * sizeof *x), *y = malloc((size_t)N * K * sizeof *y);
    for (int i = 0; i < N * K; i++) x[i] = sin(0.1 * i);
    for (int threads = 1; threads <= 2; threads++) {
        CHECK(psg_spmm_i32_f64(N, N, a.indptr, a.indices, a.values, x, K, y, threads) == PSG_OK, "spmm: %s",
              psg_last_error());
        double maxerr = 0;
        for (int r = 0; r < N; r++)
            for (int c = 0; c < K; c++) {
                double ref = 0;
                for (int j = 0; j < N; j++) ref += dense[r * N + j] * x[j * K + c];
                double err = fabs(ref - y[r * K + c]);
                if (err > maxerr) maxerr = err;
            }
        CHECK(maxerr < 1e-9, "threads=%d max error %g", threads, maxerr);
    }
    /* bad input is reported, not crashed on */
    int64_t bad_indptr[3] = {0, 5, 2};
    CHECK(psg_check_indptr(2, bad_indptr, 2) == PSG_ERR_INDPTR, "non-monotone indptr accepted");
    int64_t bad_src[1] = {N};
    CHECK(psg_edges_to_csr(N, N, 1, bad_src, dst, NULL, 0, 4, &opt, &a) == PSG_ERR_INDEX_RANGE,
          "out-of-range edge accepted");
    psg_free(a.indptr);
    psg_free(a.indices);
    psg_free(a.values);
    free(src); free(dst); free(val); free(dense); free(x); free(y);
    return CHECK_REPORT("spmm");
}
