/* Memory-system probes (triad bandwidth, row-gather bandwidth). */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "spmm_plan.h"
#include "pysparsegraph/probe.h"
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#define PSG_PROBE_X86 1
#endif

psg_status psg_probe_triad(int64_t n, int reps, int n_threads, double *gbps)
{
    psg__clear_error();
    if (n <= 0 || reps <= 0 || !gbps) return psg__fail(PSG_ERR_INVALID_ARG, "n, reps must be > 0 and gbps non-NULL");
    if ((uint64_t)n > SIZE_MAX / 8)
        return psg__fail(PSG_ERR_OVERFLOW, "n = %lld doubles overflow a size", (long long)n);
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

/* One thread's share of the gather probe: every row of x named by idx[lo, hi)
 * is loaded once and folded into OR chains (1-cycle latency, so the loads bound
 * the loop, not the folds; an add chain would cap K = 16 at one row per add
 * latency), prefetched pfd entries ahead (0: not at all). Loads and nothing
 * else, so no kernel that gathers these rows in this order is faster. */
static uint32_t gather_rows_scalar(const float *x, int64_t k, const int32_t *idx, int64_t lo, int64_t hi, int pfd)
{
    uint32_t a = 0;
    for (int64_t i = lo; i < hi; i++) {
        if (pfd && i + pfd < hi) __builtin_prefetch(x + (int64_t)idx[i + pfd] * k, 0, 3);
        const float *r = x + (int64_t)idx[i] * k;
        for (int64_t c = 0; c < k; c++) {
            uint32_t u;
            memcpy(&u, r + c, 4);
            a |= u;
        }
    }
    return a;
}

#ifdef PSG_PROBE_X86
/* Rows of NV vectors (a compile-time count for the common widths, so no loop
 * or branch per vector there): rows of fewer than 4 vectors are taken 4 at a
 * time, one chain each; longer rows feed the 4 chains with their own vectors. */
#define PSG_GATHER_NV_(VT, LOAD, OR, VL, NV)                                                        \
    do {                                                                                            \
        const int step = (NV) < 4 ? 4 : 1;                                                          \
        int64_t i = lo;                                                                             \
        for (; i + step <= hi; i += step) {                                                         \
            if (pfd && i + step + pfd <= hi)                                                        \
                for (int e = 0; e < step; e++) {                                                    \
                    const char *pf = (const char *)(x + (int64_t)idx[i + e + pfd] * k);            \
                    for (int b = 0; b < (NV) * (VL) * 4; b += 64) __builtin_prefetch(pf + b, 0, 3); \
                }                                                                                   \
            for (int e = 0; e < step; e++) {                                                        \
                const float *r = x + (int64_t)idx[i + e] * k;                                       \
                for (int v = 0; v < (NV); v++) a[(e + v) & 3] = OR(a[(e + v) & 3], LOAD(r + v * (VL))); \
            }                                                                                       \
        }                                                                                           \
        for (; i < hi; i++) {                                                                       \
            const float *r = x + (int64_t)idx[i] * k;                                               \
            for (int v = 0; v < (NV); v++) a[v & 3] = OR(a[v & 3], LOAD(r + v * (VL)));             \
        }                                                                                           \
    } while (0)
#define PSG_GATHER_ROWS_(NAME, TARGET, VT, LOAD, OR, VL)                                           \
    __attribute__((target(TARGET))) static uint32_t NAME(const float *x, int64_t k, const int32_t *idx, \
                                                         int64_t lo, int64_t hi, int pfd)          \
    {                                                                                               \
        VT a[4];                                                                                    \
        memset(a, 0, sizeof a);                                                                     \
        switch (k / (VL)) {                                                                         \
        case 1: PSG_GATHER_NV_(VT, LOAD, OR, VL, 1); break;                                         \
        case 2: PSG_GATHER_NV_(VT, LOAD, OR, VL, 2); break;                                         \
        case 4: PSG_GATHER_NV_(VT, LOAD, OR, VL, 4); break;                                         \
        case 8: PSG_GATHER_NV_(VT, LOAD, OR, VL, 8); break;                                         \
        case 16: PSG_GATHER_NV_(VT, LOAD, OR, VL, 16); break;                                       \
        default: PSG_GATHER_NV_(VT, LOAD, OR, VL, k / (VL)); break;                                 \
        }                                                                                           \
        a[0] = OR(OR(a[0], a[1]), OR(a[2], a[3]));                                                  \
        uint32_t lanes[VL], out = 0;                                                                \
        memcpy(lanes, &a[0], sizeof lanes);                                                         \
        for (int l = 0; l < (VL); l++) out |= lanes[l];                                             \
        return out;                                                                                 \
    }
#define PSG_LD512_(p) _mm512_loadu_si512((const void *)(p))
#define PSG_LD256_(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
PSG_GATHER_ROWS_(gather_rows_avx512, "avx512f", __m512i, PSG_LD512_, _mm512_or_si512, 16)
PSG_GATHER_ROWS_(gather_rows_avx2, "avx2", __m256i, PSG_LD256_, _mm256_or_si256, 8)
#endif

psg_status psg_probe_gather(int64_t n_rows, int64_t k, const float *x, int64_t m, const int32_t *idx,
                            int reps, int n_threads, double *gbps, uint32_t *or_bits)
{
    psg__clear_error();
    if (n_rows <= 0 || k <= 0 || m <= 0 || reps <= 0 || !x || !idx || !gbps)
        return psg__fail(PSG_ERR_INVALID_ARG, "sizes must be > 0 and pointers non-NULL");
    for (int64_t i = 0; i < m; i++)
        if (idx[i] < 0 || idx[i] >= n_rows)
            return psg__fail(PSG_ERR_INDEX_RANGE, "idx[%lld] = %d is outside [0, %lld)", (long long)i,
                             (int)idx[i], (long long)n_rows);
    const int threads = psg__resolve_threads(n_threads);
    (void)threads;
    uint32_t (*rows)(const float *, int64_t, const int32_t *, int64_t, int64_t, int) = gather_rows_scalar;
#ifdef PSG_PROBE_X86
    __builtin_cpu_init();
    if (k % 16 == 0 && __builtin_cpu_supports("avx512f")) rows = gather_rows_avx512;
    else if (k % 8 == 0 && __builtin_cpu_supports("avx2")) rows = gather_rows_avx2;
#endif
    /* the SpMM kernels' prefetch distance (spmm_isa.inc), and none: the faster
       of the two counts, since prefetching rows that are already cached costs */
    const int pfds[2] = {k * 4 <= 256 ? 24 : 12, 0};
    double best = 1e30;
    uint32_t sink = 0;
    for (int r = 0; r < 2 * reps; r++) {
        const int pfd = pfds[r & 1];
        double t0 = psg__now();
#pragma omp parallel num_threads(threads) reduction(| : sink)
        {
            int me = 0, nt = 1;
#ifdef _OPENMP
            me = omp_get_thread_num();
            nt = omp_get_num_threads();
#endif
            /* equal shares of the entries: the nnz-balanced split */
            sink |= rows(x, k, idx, m * me / nt, m * (me + 1) / nt, pfd);
        }
        double t = psg__now() - t0;
        if (t < best) best = t;
    }
    volatile uint32_t keep = sink;
    (void)keep;
    *gbps = (double)m * (double)k * 4.0 / best / 1e9;
    if (or_bits) *or_bits = sink;
    return PSG_OK;
}
