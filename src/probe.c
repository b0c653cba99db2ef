/* Memory-system probes (triad bandwidth, random row-gather bandwidth). */
#include <stdlib.h>
#include "internal.h"
#include "spmm_plan.h"
#include "pysparsegraph/probe.h"

psg_status psg_probe_triad(int64_t n, int reps, int n_threads, double *gbps)
{
    psg__clear_error();
    if (n <= 0 || reps <= 0 || !gbps) return psg__fail(PSG_ERR_INVALID_ARG, "n, reps must be > 0 and gbps non-NULL");
    double *a = malloc((size_t)n * 8), *b = malloc((size_t)n * 8), *c = malloc((size_t)n * 8);
    if (!a || !b || !c) {
        free(a); free(b); free(c);
        return psg__fail(PSG_ERR_NO_MEMORY, "cannot allocate 3 x %lld doubles", (long long)n);
    }
    const int threads = psg__resolve_threads(n_threads);
    (void)threads;
    /* first touch in parallel, with the same static split as the timed loop */
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; i++) { a[i] = 0; b[i] = 1.0; c[i] = 2.0; }
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = psg__now();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t i = 0; i < n; i++) a[i] = b[i] + 3.0 * c[i];
        double t = psg__now() - t0;
        if (t < best) best = t;
    }
    *gbps = 24.0 * (double)n / best / 1e9;
    volatile double sink = a[n / 2];
    (void)sink;
    free(a); free(b); free(c);
    return PSG_OK;
}

psg_status psg_probe_gather(int64_t n_rows, int64_t k, const float *x, int64_t m, const int32_t *idx,
                            int reps, int n_threads, double *gbps)
{
    psg__clear_error();
    if (n_rows <= 0 || k <= 0 || m <= 0 || reps <= 0 || !x || !idx || !gbps)
        return psg__fail(PSG_ERR_INVALID_ARG, "sizes must be > 0 and pointers non-NULL");
    const int threads = psg__resolve_threads(n_threads);
    (void)threads;
    double best = 1e30;
    float sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = psg__now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            float *acc = calloc((size_t)k, sizeof(float));
            if (acc) {
#pragma omp for schedule(static)
                for (int64_t i = 0; i < m; i++) {
                    /* prefetch ahead like the SpMM kernels do: a fair ceiling */
                    if (i + 12 < m) __builtin_prefetch(x + (int64_t)idx[i + 12] * k, 0, 3);
                    const float *xr = x + (int64_t)idx[i] * k;
#pragma omp simd
                    for (int64_t c = 0; c < k; c++) acc[c] += xr[c];
                }
                sink += acc[0];
                free(acc);
            }
        }
        double t = psg__now() - t0;
        if (t < best) best = t;
    }
    volatile float keep = sink;
    (void)keep;
    *gbps = (double)m * (double)k * 4.0 / best / 1e9;
    return PSG_OK;
}
