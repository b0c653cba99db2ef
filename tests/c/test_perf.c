/* C-only tests of the performance core: the work-stealing scheduler hands
 * out every chunk exactly once; planned SpMM (hub splitting, every schedule,
 * every ISA the CPU has, blocked layout) matches a dense reference and is
 * bit-identical across thread counts; streaming stores of Y, prefetching X
 * and gathering from an aligned copy of X give the same bits; generators are
 * thread-count independent. */
#define _POSIX_C_SOURCE 200809L /* sysconf */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pysparsegraph/pysparsegraph.h"
#include "pysparsegraph/generate.h"
#include "../../src/schedule.h"
#include "../../src/spmm_plan.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"

static void test_scheduler(void)
{
    for (int64_t n = 0; n < 3000; n = n * 3 + 1) {
        for (int T = 1; T <= 4; T++) {
            int *seen = calloc((size_t)n + 1, sizeof(int));
            psg__ws ws;
            CHECK(psg__ws_init(&ws, n, T) == 0, "init");
#pragma omp parallel num_threads(T)
            {
                int tid = 0;
#ifdef _OPENMP
                tid = omp_get_thread_num();
#endif
                int64_t c;
                while ((c = psg__ws_next(&ws, tid)) >= 0) {
                    /* uneven work so that stealing actually happens */
                    volatile double s = 0;
                    for (int i = 0; i < (c % 7 == 0 ? 20000 : 10); i++) s += i;
#pragma omp atomic
                    seen[c]++;
                }
            }
            int ok = 1;
            for (int64_t c = 0; c < n; c++) ok &= seen[c] == 1;
            CHECK(ok, "every chunk exactly once (n=%lld T=%d)", (long long)n, T);
            psg__ws_free(&ws);
            free(seen);
        }
    }
}

/* A test matrix: N rows, the M edges of a seeded Erdos-Renyi list with the
 * first `hub_edges` of them moved to row `hub`, in edge order within a row;
 * edge e's value is ((e % mod) - mod / 2) * scale + offset, as float and as
 * double. Free with free_csr. */
typedef struct {
    int64_t *indptr;
    int32_t *ind;
    float *val;
    double *val64;
} test_csr;

static test_csr hub_csr(int N, int M, uint64_t seed, int hub, int hub_edges, int mod, float scale, float offset)
{
    test_csr a;
    int64_t *src = malloc(M * sizeof *src), *dst = malloc(M * sizeof *dst), *pos = malloc(N * sizeof *pos);
    CHECK(psg_generate_er(N, M, seed, src, dst, 1) == PSG_OK, "er");
    for (int e = 0; e < hub_edges; e++) src[e] = hub;
    a.indptr = calloc(N + 1, sizeof *a.indptr);
    a.ind = malloc(M * sizeof *a.ind);
    a.val = malloc(M * sizeof *a.val);
    a.val64 = malloc(M * sizeof *a.val64);
    for (int e = 0; e < M; e++) a.indptr[src[e] + 1]++;
    for (int r = 0; r < N; r++) a.indptr[r + 1] += a.indptr[r];
    memcpy(pos, a.indptr, N * sizeof *pos);
    for (int e = 0; e < M; e++) {
        int64_t q = pos[src[e]]++;
        a.ind[q] = (int32_t)dst[e];
        a.val64[q] = a.val[q] = (float)((e % mod) - mod / 2) * scale + offset;
    }
    free(src); free(dst); free(pos);
    return a;
}

static void free_csr(test_csr a)
{
    free(a.indptr); free(a.ind); free(a.val); free(a.val64);
}

/* max |z - A x| over the n_rows x K output, A x summed in double here (values
 * when hv, else ones): the reference the kernels' outputs are checked against. */
static double err_vs_double_sum(test_csr a, int n_rows, int hv, const double *x64, int K, const double *z)
{
    double err = 0;
    for (int r = 0; r < n_rows; r++)
        for (int c = 0; c < K; c++) {
            double sum = 0;
            for (int64_t j = a.indptr[r]; j < a.indptr[r + 1]; j++)
                sum += (hv ? a.val64[j] : 1.0) * x64[(size_t)a.ind[j] * K + c];
            err = fmax(err, fabs(z[(size_t)r * K + c] - sum));
        }
    return err;
}

static void test_planned_spmm(void)
{
    enum { N = 300, M = 20000, K = 37 };
    test_csr a = hub_csr(N, M, 5, 7, M / 2, 13, 0.25f, 0.0f);
    int64_t *indptr = a.indptr;
    int32_t *ind = a.ind;
    float *val = a.val;
    float *x = malloc((size_t)N * K * sizeof *x), *y = malloc((size_t)N * K * sizeof *y),
          *y0 = malloc((size_t)N * K * sizeof *y0);
    double *ref = calloc((size_t)N * K, sizeof *ref);
    for (int i = 0; i < N * K; i++) x[i] = (float)((i * 7919) % 101) / 50.0f - 1.0f;
    for (int r = 0; r < N; r++)
        for (int64_t j = indptr[r]; j < indptr[r + 1]; j++)
            for (int c = 0; c < K; c++) ref[r * K + c] += (double)val[j] * x[ind[j] * K + c];
    int first = 1;
    for (int isa = 1; isa <= 3; isa++) {
        if (psg_spmm_force_isa(isa) != PSG_OK) continue;
        for (int sched = 1; sched <= 3; sched++) {
            for (int layout = 1; layout <= 2; layout++) {
                psg_spmm_options o;
                psg_spmm_options_default(&o);
                o.schedule = sched;
                o.layout = layout;
                o.split_len = 1000;
                o.n_chunks = 40;
                o.seg_width = 64;
                psg_spmm_plan *p;
                CHECK(psg_spmm_plan_build_i32_f32(N, N, indptr, ind, val, K, 2, &o, &p) == PSG_OK, "build");
                psg_spmm_plan_info info;
                psg_spmm_plan_describe(p, &info);
                if (layout == 1) CHECK(info.n_hubs == 1, "one hub split (got %lld)", (long long)info.n_hubs);
                for (int t = 1; t <= 2; t++) {
                    CHECK(psg_spmm_plan_exec_i32_f32(p, indptr, ind, val, x, K, y, t) == PSG_OK, "exec");
                    double err = 0;
                    for (int i = 0; i < N * K; i++) err = fmax(err, fabs(y[i] - ref[i]));
                    CHECK(err < 1e-3, "vs reference isa=%d sched=%d layout=%d t=%d err=%g", isa, sched, layout, t, err);
                    if (layout == 1) {
                        if (first) { memcpy(y0, y, (size_t)N * K * sizeof *y); first = 0; }
                        CHECK(!memcmp(y0, y, (size_t)N * K * sizeof *y), "bit-identical isa=%d sched=%d t=%d",
                              isa, sched, t);
                    }
                }
                psg_spmm_plan_free(p);
            }
        }
    }
    psg_spmm_force_isa(0);
    free_csr(a);
    free(x); free(y); free(y0); free(ref);
}

/* Streaming stores of Y (psg_spmm_options.store): the same bits as plain
 * stores for every ISA, schedule and thread count, with a split hub row, for
 * float32 and float64, for widths whose rows are whole 64-byte lines (streamed)
 * and widths or a y offset where the executor must fall back to plain stores;
 * what the planner reports; and a bad store option. */
static void test_streamed_spmm(void)
{
    enum { N = 300, M = 20000 };
    test_csr a = hub_csr(N, M, 11, 5, M / 3, 17, 0.125f, 0.01f);
    int64_t *indptr = a.indptr;
    int32_t *ind = a.ind;
    float *val = a.val;
    double *val64 = a.val64;
    const int widths[] = {8, 16, 24, 48, 64, 128};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        const int K = widths[wi];
        const size_t n = (size_t)N * K;
        /* 64-byte aligned buffers with room for a y shifted by one value (misaligned) */
        float *x = aligned_alloc(64, (n * 4 + 64 + 63) / 64 * 64), *yc = aligned_alloc(64, (n * 4 + 64 + 63) / 64 * 64),
              *ys = aligned_alloc(64, (n * 4 + 64 + 63) / 64 * 64);
        double *x64 = aligned_alloc(64, (n * 8 + 64 + 63) / 64 * 64), *yc64 = aligned_alloc(64, (n * 8 + 64 + 63) / 64 * 64),
               *ys64 = aligned_alloc(64, (n * 8 + 64 + 63) / 64 * 64);
        uint16_t *xb = malloc(n * 2);
        for (size_t i = 0; i < n; i++) x64[i] = x[i] = (float)((i * 7919) % 101) / 50.0f - 1.0f;
        psg_f32_to_bf16((int64_t)n, x, xb, 1);
        for (int isa = 1; isa <= 3; isa++) {
            if (psg_spmm_force_isa(isa) != PSG_OK) continue;
            for (int sched = 1; sched <= 3; sched++) {
                psg_spmm_options o;
                psg_spmm_options_default(&o);
                o.schedule = sched;
                o.split_len = 1500;
                o.n_chunks = 24;
                o.store = PSG_STORE_CACHED;
                psg_spmm_plan *pc, *ps, *pc64, *ps64;
                CHECK(psg_spmm_plan_build_i32_f32(N, N, indptr, ind, val, K, 2, &o, &pc) == PSG_OK, "build cached");
                CHECK(psg_spmm_plan_build_i32_f64(N, N, indptr, ind, val64, K, 2, &o, &pc64) == PSG_OK, "build");
                o.store = PSG_STORE_STREAM;
                CHECK(psg_spmm_plan_build_i32_f32(N, N, indptr, ind, val, K, 2, &o, &ps) == PSG_OK, "build stream");
                CHECK(psg_spmm_plan_build_i32_f64(N, N, indptr, ind, val64, K, 2, &o, &ps64) == PSG_OK, "build");
                psg_spmm_plan_info ic, is;
                psg_spmm_plan_describe(pc, &ic);
                psg_spmm_plan_describe(ps, &is);
                CHECK(ic.stream == 0 && is.stream == 1 && is.n_hubs == 1, "plan reports its stores (%d %d, %lld hubs)",
                      ic.stream, is.stream, (long long)is.n_hubs);
                for (int t = 1; t <= 2; t++)
                    for (int shift = 0; shift <= 1; shift++) {
                        CHECK(psg_spmm_plan_exec_i32_bf16(pc, indptr, ind, val, xb, K, yc + shift, t) == PSG_OK, "exec");
                        memset(ys, 0xff, n * 4 + 64);
                        CHECK(psg_spmm_plan_exec_i32_bf16(ps, indptr, ind, val, xb, K, ys + shift, t) == PSG_OK, "exec");
                        CHECK(!memcmp(yc + shift, ys + shift, n * 4), "bf16 streamed != cached K=%d isa=%d sched=%d "
                              "t=%d shift=%d", K, isa, sched, t, shift);
                        CHECK(psg_spmm_plan_exec_i32_f32(pc, indptr, ind, val, x, K, yc + shift, t) == PSG_OK, "exec");
                        memset(ys, 0xff, n * 4 + 64); /* NaN everywhere: a row left unwritten shows */
                        CHECK(psg_spmm_plan_exec_i32_f32(ps, indptr, ind, val, x, K, ys + shift, t) == PSG_OK, "exec");
                        CHECK(!memcmp(yc + shift, ys + shift, n * 4), "f32 streamed != cached K=%d isa=%d sched=%d t=%d "
                              "shift=%d", K, isa, sched, t, shift);
                        CHECK(psg_spmm_plan_exec_i32_f64(pc64, indptr, ind, val64, x64, K, yc64 + shift, t) == PSG_OK,
                              "exec");
                        memset(ys64, 0xff, n * 8 + 64);
                        CHECK(psg_spmm_plan_exec_i32_f64(ps64, indptr, ind, val64, x64, K, ys64 + shift, t) == PSG_OK,
                              "exec");
                        CHECK(!memcmp(yc64 + shift, ys64 + shift, n * 8), "f64 streamed != cached K=%d isa=%d sched=%d "
                              "t=%d shift=%d", K, isa, sched, t, shift);
                    }
                psg_spmm_plan_free(pc);
                psg_spmm_plan_free(ps);
                psg_spmm_plan_free(pc64);
                psg_spmm_plan_free(ps64);
            }
        }
        psg_spmm_force_isa(0);
        /* against an independent sum (double, storage order irrelevant at this tolerance) */
        double err = 0;
        for (int r = 0; r < N; r++)
            for (int c = 0; c < K; c++) {
                double sum = 0;
                for (int64_t j = indptr[r]; j < indptr[r + 1]; j++) sum += (double)val[j] * x[(size_t)ind[j] * K + c];
                err = fmax(err, fabs(ys[(size_t)r * K + c + 1] - sum));
            }
        CHECK(err < 1e-3, "streamed vs reference K=%d: %g", K, err);
        free(x); free(yc); free(ys); free(x64); free(yc64); free(ys64); free(xb);
    }
    /* the planner streams once Y and X together outgrow the last-level cache: square BIG x BIG
     * at K = 64 is 1/16 over it, at K = 16 (a quarter the bytes) well under, SMALL x SMALL at
     * K = 64 1/16 under; a short Y beside a wide X, and a tall Y beside a narrow X, stream too;
     * blocked plans never do */
    {
        const int64_t llc = psg_cache_bytes(0), pair = 2 * 64 * 4; /* bytes of a row of Y and of X */
        const int64_t BIG = llc / pair + llc / pair / 16 + 1, SMALL = llc / pair - llc / pair / 16;
        int64_t *ip = calloc(2 * BIG + 1, sizeof *ip);
        psg_spmm_plan *p;
        psg_spmm_plan_info info;
        CHECK(psg_spmm_plan_build_i32_f32(BIG, BIG, ip, NULL, NULL, 64, 1, NULL, &p) == PSG_OK, "build big");
        psg_spmm_plan_describe(p, &info);
        CHECK(info.stream == 1, "auto streams Y + X of %lld bytes", (long long)(2 * BIG * 256));
        /* a bfloat16 X is half the bytes: Y + X about 0.8 of the cache, kept */
        CHECK(psg__stream_y(p, 4) == 1 && psg__stream_y(p, 2) == 0, "a call with a bfloat16 X keeps Y in cache");
        psg_spmm_plan_free(p);
        CHECK(psg_spmm_plan_build_i32_f32(BIG, BIG, ip, NULL, NULL, 16, 1, NULL, &p) == PSG_OK, "build");
        psg_spmm_plan_describe(p, &info);
        CHECK(info.stream == 0, "auto keeps Y of %lld bytes in cache", (long long)(BIG * 64));
        psg_spmm_plan_free(p);
        CHECK(psg_spmm_plan_build_i32_f32(SMALL, SMALL, ip, NULL, NULL, 64, 1, NULL, &p) == PSG_OK, "build");
        psg_spmm_plan_describe(p, &info);
        CHECK(info.stream == 0, "auto keeps Y of %lld bytes beside X in cache", (long long)(SMALL * 256));
        psg_spmm_plan_free(p);
        CHECK(psg_spmm_plan_build_i32_f32(16, 2 * BIG, ip, NULL, NULL, 64, 1, NULL, &p) == PSG_OK, "build wide");
        psg_spmm_plan_describe(p, &info);
        CHECK(info.stream == 1, "a short Y beside a wide X streams");
        psg_spmm_plan_free(p);
        CHECK(psg_spmm_plan_build_i32_f32(2 * BIG, 16, ip, NULL, NULL, 64, 1, NULL, &p) == PSG_OK, "build tall");
        psg_spmm_plan_describe(p, &info);
        CHECK(info.stream == 1, "a tall Y beside a narrow X streams");
        psg_spmm_plan_free(p);
        psg_spmm_options o;
        psg_spmm_options_default(&o);
        o.layout = PSG_LAYOUT_BLOCKED;
        o.store = PSG_STORE_STREAM;
        CHECK(psg_spmm_plan_build_i32_f32(BIG, BIG, ip, NULL, NULL, 64, 1, &o, &p) == PSG_OK, "build blocked");
        psg_spmm_plan_describe(p, &info);
        CHECK(info.stream == 0, "blocked plans add onto Y: no streaming");
        psg_spmm_plan_free(p);
        o.layout = PSG_LAYOUT_AUTO;
        o.store = 3;
        CHECK(psg_spmm_plan_build_i32_f32(BIG, BIG, ip, NULL, NULL, 64, 1, &o, &p) == PSG_ERR_INVALID_ARG,
              "store 3 is refused");
        free(ip);
    }
    free_csr(a);
}

/* What the planner reports for a 2-row matrix with n_cols columns (unweighted,
 * float64 or float32 values) built with options o. */
static psg_spmm_plan_info plan_info(int f64, int64_t n_cols, const int64_t *ip, const int32_t *ind, int64_t k,
                                    const psg_spmm_options *o)
{
    psg_spmm_plan *p;
    psg_spmm_plan_info info;
    memset(&info, 0, sizeof info);
    const psg_status st = f64 ? psg_spmm_plan_build_i32_f64(2, n_cols, ip, ind, NULL, k, 1, o, &p)
                              : psg_spmm_plan_build_i32_f32(2, n_cols, ip, ind, NULL, k, 1, o, &p);
    CHECK(st == PSG_OK, "build (n_cols %lld, k %lld)", (long long)n_cols, (long long)k);
    if (st == PSG_OK) {
        psg_spmm_plan_describe(p, &info);
        psg_spmm_plan_free(p);
    }
    return info;
}

/* Column ids for the gather-miss estimates: kind 0 fresh random columns of
 * [0, n_cols) every entry, 1 the same 64 columns, 2 fresh ones every other
 * entry and column 0 between. */
static void column_kind(int32_t *ind, int64_t nnz, int64_t n_cols, int kind, uint64_t seed)
{
    uint64_t z = seed;
    for (int64_t j = 0; j < nnz; j++) {
        z = z * 6364136223846793005u + 1442695040888963407u;
        const int32_t fresh = (int32_t)((z >> 33) % (uint64_t)n_cols);
        ind[j] = kind == 0 ? fresh : kind == 1 ? (int32_t)(j % 64) : (j % 2 ? fresh : 0);
    }
}

/* Options that split the last row of hub_csr(300, 9000, ..., 2250, ...) into pieces, 16 chunks. */
static psg_spmm_options split_hub_options(void)
{
    psg_spmm_options o;
    psg_spmm_options_default(&o);
    o.split_len = 700;
    o.n_chunks = 16;
    return o;
}

/* Plans p[1] and q[1] (float32 and float64, an option on) give the bits of
 * p[0] and q[0] (the option off) for float32, float64 and bfloat16 X of
 * width K on 1 and 2 threads, and q[1] agrees with an independent double
 * sum; the four plans are freed. y0/y1 and z0/z1: N x K outputs. */
static void check_on_off_plans(const char *what, test_csr a, int N, int K, int isa, int hv, psg_spmm_plan *p[2],
                               psg_spmm_plan *q[2], const float *x, const double *x64, const uint16_t *xb, float *y0,
                               float *y1, double *z0, double *z1)
{
    const size_t n = (size_t)N * K;
    const float *v = hv ? a.val : NULL;
    const double *v64 = hv ? a.val64 : NULL;
    for (int t = 1; t <= 2; t++) {
        CHECK(psg_spmm_plan_exec_i32_f32(p[0], a.indptr, a.ind, v, x, K, y0, t) == PSG_OK, "exec");
        CHECK(psg_spmm_plan_exec_i32_f32(p[1], a.indptr, a.ind, v, x, K, y1, t) == PSG_OK, "exec");
        CHECK(!memcmp(y0, y1, n * 4), "f32 %s changed bits K=%d isa=%d values=%d t=%d", what, K, isa, hv, t);
        CHECK(psg_spmm_plan_exec_i32_f64(q[0], a.indptr, a.ind, v64, x64, K, z0, t) == PSG_OK, "exec");
        CHECK(psg_spmm_plan_exec_i32_f64(q[1], a.indptr, a.ind, v64, x64, K, z1, t) == PSG_OK, "exec");
        CHECK(!memcmp(z0, z1, n * 8), "f64 %s changed bits K=%d isa=%d values=%d t=%d", what, K, isa, hv, t);
        CHECK(psg_spmm_plan_exec_i32_bf16(p[0], a.indptr, a.ind, v, xb, K, y0, t) == PSG_OK, "exec");
        CHECK(psg_spmm_plan_exec_i32_bf16(p[1], a.indptr, a.ind, v, xb, K, y1, t) == PSG_OK, "exec");
        CHECK(!memcmp(y0, y1, n * 4), "bf16 %s changed bits K=%d isa=%d values=%d t=%d", what, K, isa, hv, t);
    }
    CHECK(psg_spmm_plan_exec_i32_f64(q[1], a.indptr, a.ind, v64, x64, K, z1, 2) == PSG_OK, "exec");
    const double err = err_vs_double_sum(a, N, hv, x64, K, z1);
    CHECK(err < 1e-9, "%s f64 vs reference K=%d isa=%d: %g", what, K, isa, err);
    for (int on = 0; on <= 1; on++) {
        psg_spmm_plan_free(p[on]);
        psg_spmm_plan_free(q[on]);
    }
}

/* Prefetching X in one-vector rows (psg_spmm_options.narrow_prefetch): the
 * same bits as without, for widths one vector wide on each ISA (4 and 8
 * floats, 16 on AVX-512; 2, 4 and 8 doubles) and others, with and without
 * values, a split hub row and entries up to the last (the prefetch looks 24
 * entries ahead and must stop short of nnz), float32, float64 and bfloat16 X,
 * 1 and 2 threads; and what the planner reports. */
static void test_narrow_prefetch(void)
{
    enum { N = 300, M = 9000 };
    test_csr a = hub_csr(N, M, 13, N - 1, M / 4, 11, 0.5f, 0.125f); /* the hub is the last row */
    const int widths[] = {2, 4, 8, 16, 32};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        const int K = widths[wi];
        const size_t n = (size_t)N * K;
        float *x = malloc(n * 4), *y0 = malloc(n * 4), *y1 = malloc(n * 4);
        double *x64 = malloc(n * 8), *z0 = malloc(n * 8), *z1 = malloc(n * 8);
        uint16_t *xb = malloc(n * 2);
        for (size_t i = 0; i < n; i++) x64[i] = x[i] = (float)((i * 7919) % 103) / 51.0f - 1.0f;
        psg_f32_to_bf16((int64_t)n, x, xb, 1);
        for (int isa = 1; isa <= 3; isa++) {
            if (psg_spmm_force_isa(isa) != PSG_OK) continue;
            for (int hv = 0; hv <= 1; hv++) {
                const float *v = hv ? a.val : NULL;
                const double *v64 = hv ? a.val64 : NULL;
                psg_spmm_options o = split_hub_options();
                psg_spmm_plan *p[2], *q[2];
                for (int on = 0; on <= 1; on++) {
                    o.narrow_prefetch = on ? PSG_PREFETCH_ON : PSG_PREFETCH_OFF;
                    CHECK(psg_spmm_plan_build_i32_f32(N, N, a.indptr, a.ind, v, K, 2, &o, &p[on]) == PSG_OK, "build");
                    CHECK(psg_spmm_plan_build_i32_f64(N, N, a.indptr, a.ind, v64, K, 2, &o, &q[on]) == PSG_OK, "build");
                    psg_spmm_plan_info info;
                    psg_spmm_plan_describe(p[on], &info);
                    CHECK(info.narrow_prefetch == on && info.n_hubs == 1, "plan reports prefetch %d (%d, %lld hubs)",
                          on, info.narrow_prefetch, (long long)info.n_hubs);
                }
                check_on_off_plans("prefetch", a, N, K, isa, hv, p, q, x, x64, xb, y0, y1, z0, z1);
            }
        }
        psg_spmm_force_isa(0);
        free(x); free(y0); free(y1); free(x64); free(z0); free(z1); free(xb);
    }
    free_csr(a);
    /* the planner: auto prefetches when X (n_cols x k values) is larger than the last-level cache */
    {
        const int64_t llc = psg_cache_bytes(0), k = 16;
        CHECK(llc >= (16 << 10) && psg_cache_bytes(2) >= (16 << 10) && psg_cache_bytes(1) >= (16 << 10) &&
              psg_cache_bytes(4) == 0 && psg_cache_bytes(-1) == 0, "cache sizes %lld %lld %lld",
              (long long)psg_cache_bytes(1), (long long)psg_cache_bytes(2), (long long)llc);
        /* a VM's guest shown its host's L3 counts 16 MiB a usable CPU at most (online, or fewer) */
        const int64_t cap = ((int64_t)16 << 20) * sysconf(_SC_NPROCESSORS_ONLN);
        CHECK(llc <= cap && psg_cache_bytes(3) <= cap, "last level %lld, L3 %lld over %lld",
              (long long)llc, (long long)psg_cache_bytes(3), (long long)cap);
        int64_t ip[3] = {0, 0, 0};
        struct { int64_t n_cols; int f64, layout, mode, want; } cases[] = {
            {llc / (4 * k), 0, 0, 0, 0},     /* X exactly the cache: no */
            {llc / (4 * k) + 1, 0, 0, 0, 1}, /* one row more: yes */
            {llc / (8 * k) + 1, 1, 0, 0, 1}, /* float64: half the columns suffice */
            {llc / (8 * k), 1, 0, 0, 0},
            {llc / (4 * k) + 1, 0, PSG_LAYOUT_BLOCKED, 0, 0}, /* blocked: its X slices fit */
            {llc / (4 * k) + 1, 0, 0, PSG_PREFETCH_OFF, 0},
            {100, 0, 0, PSG_PREFETCH_ON, 1},
            {100, 0, 0, 0, 0},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            psg_spmm_options o;
            psg_spmm_options_default(&o);
            o.layout = cases[i].layout;
            o.narrow_prefetch = cases[i].mode;
            const psg_spmm_plan_info info = plan_info(cases[i].f64, cases[i].n_cols, ip, NULL, k, &o);
            CHECK(info.narrow_prefetch == cases[i].want, "case %zu: narrow_prefetch %d, want %d", i,
                  info.narrow_prefetch, cases[i].want);
        }
        psg_spmm_options o;
        psg_spmm_options_default(&o);
        o.narrow_prefetch = 3;
        psg_spmm_plan *p;
        CHECK(psg_spmm_plan_build_i32_f32(2, 2, ip, NULL, NULL, k, 1, &o, &p) == PSG_ERR_INVALID_ARG,
              "narrow_prefetch 3 is refused");
        int64_t ip1[3] = {0, 1, 1};
        CHECK(psg_spmm_plan_build_i32_f32(2, 2, ip1, NULL, NULL, k, 1, NULL, &p) == PSG_ERR_INVALID_ARG,
              "NULL indices with an entry are refused");
    }
    /* the gather-miss estimate: about 1 for fresh columns every entry, about 0 for the same few, about
     * 1/2 for the two alternating; the planner prefetches an X between the L2 and the cache only for
     * the first (when the L2 is the smaller). K = 4 makes the sampled windows 4x longer, so the hashed
     * bitmap fills up (a 2 MiB L2: a quarter of its bits) and its collisions must be counted back. */
    for (int64_t k = 16; k >= 4; k /= 4) {
        const int64_t l2 = psg_cache_bytes(2), llc = psg_cache_bytes(0);
        const int64_t n_cols = llc / (4 * k), nnz = 1 << 20, n_rows = nnz / 8;
        int64_t *ip = malloc((n_rows + 1) * sizeof *ip);
        int32_t *ind = malloc(nnz * sizeof *ind);
        for (int64_t r = 0; r <= n_rows; r++) ip[r] = 8 * r;
        const double want[3] = {1, 0, 0.5};
        for (int kind = 0; kind < 3; kind++) {
            column_kind(ind, nnz, n_cols, kind, 12345);
            psg_spmm_plan *p;
            psg_spmm_plan_info info;
            CHECK(psg_spmm_plan_build_i32_f32(n_rows, n_cols, ip, ind, NULL, k, 1, NULL, &p) == PSG_OK, "build");
            psg_spmm_plan_describe(p, &info);
            /* fresh random columns repeat within a window of w entries about w / n_cols of the time */
            CHECK(fabs(info.gather_miss - want[kind]) < 0.03 + (kind != 1 ? (double)l2 / (4 * k) / n_cols : 0),
                  "K %lld: gather_miss %g, want about %g", (long long)k, info.gather_miss, want[kind]);
            CHECK(info.narrow_prefetch == (kind == 0 && n_cols > l2 / (4 * k)), "kind %d: narrow_prefetch %d",
                  kind, info.narrow_prefetch);
            psg_spmm_plan_free(p);
        }
        psg_spmm_options o;
        psg_spmm_options_default(&o);
        o.narrow_prefetch = PSG_PREFETCH_OFF;
        psg_spmm_plan *p;
        psg_spmm_plan_info info;
        CHECK(psg_spmm_plan_build_i32_f32(n_rows, n_cols, ip, ind, NULL, k, 1, &o, &p) == PSG_OK, "build");
        psg_spmm_plan_describe(p, &info);
        CHECK(info.gather_miss == -1 && info.narrow_prefetch == 0, "no estimate when the option decides");
        psg_spmm_plan_free(p);
        CHECK(psg_spmm_plan_build_i32_f32(n_rows, n_cols, ip, ind, NULL, 32, 1, NULL, &p) == PSG_OK, "build");
        psg_spmm_plan_describe(p, &info);
        CHECK(info.gather_miss == -1, "no estimate for rows of 128 bytes");
        psg_spmm_plan_free(p);
        free(ip);
        free(ind);
    }
}

/* The plan keeps align_x's buffer from call to call: a second call with
 * other values in X at the same place gathers those (calls on two threads,
 * X in two pieces of the copy, against X on a line), the buffer shows in the
 * plan's bytes, a call that finds it taken gets a buffer of its own, and one
 * larger than the last-level cache is not kept. Auto on two threads copies
 * rows of more than one line only. */
static void test_align_x_kept_buffer(void)
{
    enum { N = 1501, K = 16 }; /* X 96 KiB */
    test_csr a = hub_csr(N, 60000, 23, 7, 12000, 9, 0.5f, 0.25f);
    const size_t n = (size_t)N * K, xb = (n * 4 + 63) / 64 * 64;
    char *buf = aligned_alloc(64, xb + 64);
    float *x_off = (float *)(buf + 16), *x_on = aligned_alloc(64, xb), *y0 = malloc(n * 4), *y1 = malloc(n * 4);
    psg_spmm_options o;
    psg_spmm_options_default(&o);
    o.align_x = PSG_ALIGN_ON;
    o.n_chunks = 8; /* not a serial plan: a team makes the copy */
    psg_spmm_plan *p;
    CHECK(psg_spmm_plan_build_i32_f32(N, N, a.indptr, a.ind, a.val, K, 2, &o, &p) == PSG_OK, "build");
    psg_spmm_plan_info before, after;
    psg_spmm_plan_describe(p, &before);
    for (int round = 0; round < 3; round++) {
        const size_t mul = round ? 31 + round : 7919; /* other values each round */
        for (size_t i = 0; i < n; i++) x_on[i] = x_off[i] = (float)((i * mul) % 97) / 48.0f - 1.0f;
        CHECK(psg_spmm_plan_exec_i32_f32(p, a.indptr, a.ind, a.val, x_on, K, y0, 2) == PSG_OK, "exec");
        CHECK(psg_spmm_plan_exec_i32_f32(p, a.indptr, a.ind, a.val, x_off, K, y1, 2) == PSG_OK, "exec");
        CHECK(!memcmp(y0, y1, n * 4), "round %d: the kept buffer gave other bits than X on a line", round);
    }
    psg_spmm_plan_describe(p, &after);
    CHECK(after.bytes == before.bytes + (int64_t)xb, "plan bytes %lld after a copy, want %lld + %zu",
          (long long)after.bytes, (long long)before.bytes, xb);
    int held1, held2, held3;
    void *b1 = psg__x_copy_take(p, 64, &held1), *b2 = psg__x_copy_take(p, 64, &held2);
    CHECK(held1 && b1 == p->x_copy && !held2 && b2 && b2 != b1, "a taken buffer is not handed out twice");
    psg__x_copy_give(p, b2, held2);
    psg__x_copy_give(p, b1, held1);
    void *b3 = psg__x_copy_take(p, (size_t)psg_cache_bytes(0) + 64, &held3);
    CHECK(!held3 && b3 && p->x_copy == b1, "a buffer larger than the cache is the call's own");
    psg__x_copy_give(p, b3, held3);
    psg_spmm_plan_describe(p, &after);
    CHECK(after.bytes == before.bytes + (int64_t)xb, "plan bytes %lld, want %lld + %zu", (long long)after.bytes,
          (long long)before.bytes, xb);
    psg_spmm_plan_free(p);
    /* auto on a team (40 entries a column): rows of more than one line only */
    for (int k = 16; k <= 32; k += 16) {
        o.align_x = PSG_ALIGN_AUTO;
        CHECK(psg_spmm_plan_build_i32_f32(N, N, a.indptr, a.ind, a.val, k, 2, &o, &p) == PSG_OK, "build");
        psg_spmm_plan_describe(p, &after);
        CHECK(!after.serial && after.align_x == (k == 32), "2-thread auto plan K=%d: align_x %d", k, after.align_x);
        psg_spmm_plan_free(p);
    }
    free(buf); free(x_on); free(y0); free(y1);
    free_csr(a);
}

/* Gathering from an aligned copy of X (psg_spmm_options.align_x): with X
 * 16 bytes off a line, off / on / auto give the same bits as each other and
 * as X on a line, for rows of whole lines (16 and 32 floats, 8 and 16
 * doubles) and not (20), with and without values, float32, float64 and
 * bfloat16 X, every ISA, 1 and 2 threads (an odd row count, so the threads'
 * shares of the copy are uneven); and the planner's rule at its edges. */
static void test_align_x(void)
{
    enum { N = 301, M = 12000 }; /* about 40 entries a column: auto copies */
    test_csr a = hub_csr(N, M, 17, 5, M / 5, 9, 0.5f, 0.25f);
    const int widths[] = {8, 16, 20, 32};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        const int K = widths[wi];
        const size_t n = (size_t)N * K;
        /* each X twice: on a line, and 16 bytes past one */
        char *buf = aligned_alloc(64, (n * 8 + 64) / 64 * 64 * 2 + 128);
        float *x_on = (float *)buf, *x_off = (float *)(buf + (n * 4 + 63) / 64 * 64 + 16);
        double *x64_on = aligned_alloc(64, (n * 8 + 63) / 64 * 64), *x64_raw = aligned_alloc(64, (n * 8 + 64) / 64 * 64 + 64);
        double *x64_off = (double *)((char *)x64_raw + 16);
        uint16_t *xb_raw = aligned_alloc(64, (n * 2 + 64) / 64 * 64 + 64), *xb_off = (uint16_t *)((char *)xb_raw + 16);
        for (size_t i = 0; i < n; i++) x64_off[i] = x64_on[i] = x_off[i] = x_on[i] = (float)((i * 7919) % 97) / 48.0f - 1.0f;
        psg_f32_to_bf16((int64_t)n, x_off, xb_off, 1);
        float *y[4];
        double *z[4];
        for (int i = 0; i < 4; i++) {
            y[i] = malloc(n * 4);
            z[i] = malloc(n * 8);
        }
        for (int isa = 1; isa <= 3; isa++) {
            if (psg_spmm_force_isa(isa) != PSG_OK) continue;
            for (int hv = 0; hv <= 1; hv++) {
                const float *v = hv ? a.val : NULL;
                const double *v64 = hv ? a.val64 : NULL;
                const int modes[3] = {PSG_ALIGN_OFF, PSG_ALIGN_ON, PSG_ALIGN_AUTO};
                psg_spmm_plan *p[3], *q[3];
                for (int m = 0; m < 3; m++) {
                    psg_spmm_options o;
                    psg_spmm_options_default(&o);
                    o.align_x = modes[m];
                    o.split_len = 500; /* the hub row in pieces too */
                    CHECK(psg_spmm_plan_build_i32_f32(N, N, a.indptr, a.ind, v, K, 2, &o, &p[m]) == PSG_OK, "build");
                    CHECK(psg_spmm_plan_build_i32_f64(N, N, a.indptr, a.ind, v64, K, 2, &o, &q[m]) == PSG_OK, "build");
                    psg_spmm_plan_info info, info64;
                    psg_spmm_plan_describe(p[m], &info);
                    psg_spmm_plan_describe(q[m], &info64);
                    /* too little work for a team (a serial plan): auto copies rows of whole lines */
                    const int want = m == 1 || (m == 2 && K % 16 == 0), want64 = m == 1 || (m == 2 && K % 8 == 0);
                    CHECK(info.serial && info.align_x == want && info64.align_x == want64,
                          "K=%d mode %d: align_x %d/%d, want %d/%d", K, modes[m], info.align_x, info64.align_x, want,
                          want64);
                }
                for (int t = 1; t <= 2; t++) {
                    CHECK(psg_spmm_plan_exec_i32_f32(p[0], a.indptr, a.ind, v, x_on, K, y[3], t) == PSG_OK, "exec");
                    CHECK(psg_spmm_plan_exec_i32_f64(q[0], a.indptr, a.ind, v64, x64_on, K, z[3], t) == PSG_OK, "exec");
                    for (int m = 0; m < 3; m++) {
                        CHECK(psg_spmm_plan_exec_i32_f32(p[m], a.indptr, a.ind, v, x_off, K, y[m], t) == PSG_OK, "exec");
                        CHECK(!memcmp(y[m], y[3], n * 4), "f32 align_x mode %d changed bits K=%d isa=%d values=%d t=%d",
                              modes[m], K, isa, hv, t);
                        CHECK(psg_spmm_plan_exec_i32_f64(q[m], a.indptr, a.ind, v64, x64_off, K, z[m], t) == PSG_OK, "exec");
                        CHECK(!memcmp(z[m], z[3], n * 8), "f64 align_x mode %d changed bits K=%d isa=%d values=%d t=%d",
                              modes[m], K, isa, hv, t);
                    }
                    CHECK(psg_spmm_plan_exec_i32_bf16(p[0], a.indptr, a.ind, v, xb_off, K, y[0], t) == PSG_OK, "exec");
                    CHECK(psg_spmm_plan_exec_i32_bf16(p[1], a.indptr, a.ind, v, xb_off, K, y[1], t) == PSG_OK, "exec");
                    CHECK(!memcmp(y[0], y[1], n * 4), "bf16 align_x changed bits K=%d isa=%d values=%d t=%d", K, isa, hv, t);
                }
                /* the copy's product against an independent double sum */
                const double err = err_vs_double_sum(a, N, hv, x64_on, K, z[1]);
                CHECK(err < 1e-9, "aligned copy f64 vs reference K=%d isa=%d: %g", K, isa, err);
                for (int m = 0; m < 3; m++) {
                    psg_spmm_plan_free(p[m]);
                    psg_spmm_plan_free(q[m]);
                }
            }
        }
        psg_spmm_force_isa(0);
        for (int i = 0; i < 4; i++) {
            free(y[i]);
            free(z[i]);
        }
        free(buf); free(x64_on); free(x64_raw); free(xb_raw);
    }
    free_csr(a);
    /* the rule (plans for one thread): entries per column >= 32, X and its copy within the last-level
     * cache, rows of whole lines, CSR */
    {
        const int64_t llc = psg_cache_bytes(0), W = (int64_t)1 << 23; /* keeps entries a column above 32 */
        const int64_t e4 = llc / (8 * 4096), e8 = llc / (16 * 4096); /* rows of 4096 values: X = half the cache */
        struct { int64_t n_cols, nnz, k; int f64, layout, mode, want, min_llc_mib; } cases[] = {
            {e4, e4 * 32 > W / 4096 ? e4 * 32 : W / 4096, 4096, 0, 0, 0, 1, 0},  /* X and its copy = the cache */
            {e4 + 1, (e4 + 1) * 32 > W / 4096 ? (e4 + 1) * 32 : W / 4096, 4096, 0, 0, 0, 0, 0}, /* one row more */
            {e8, e8 * 32 > W / 4096 ? e8 * 32 : W / 4096, 4096, 1, 0, 0, 1, 0}, /* float64: half the columns */
            {e8 + 1, (e8 + 1) * 32 > W / 4096 ? (e8 + 1) * 32 : W / 4096, 4096, 1, 0, 0, 0, 0},
            {32, W / 4096, 4096, 0, 0, 0, 1, 0},     /* 64 entries a column */
            {2048, 65536, 512, 0, 0, 0, 1, 8},       /* 32 entries a column (X 4 MiB) */
            {2048, 65535, 512, 0, 0, 0, 0, 8},       /* 31.99 */
            {32, 2048, 4100, 0, 0, 0, 0, 0},         /* rows of 16400 bytes: not whole lines */
            {32, 4096, 2048, 1, 0, 0, 1, 0},         /* doubles */
            {32, 2048, 4096, 0, PSG_LAYOUT_BLOCKED, 0, 0, 0},
            {32, 2048, 4096, 0, 0, PSG_ALIGN_OFF, 0, 0},
            {100, 100, 20, 0, 0, PSG_ALIGN_ON, 1, 0},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (llc < ((int64_t)cases[i].min_llc_mib << 20)) continue; /* X would not fit this machine's cache */
            const int64_t nnz = cases[i].nnz;
            int64_t ip[3] = {0, nnz / 2, nnz}; /* two rows; entry j in column j % n_cols */
            int32_t *ind = malloc(nnz * sizeof *ind);
            for (int64_t j = 0; j < nnz; j++) ind[j] = (int32_t)(j % cases[i].n_cols);
            psg_spmm_options o;
            psg_spmm_options_default(&o);
            o.layout = cases[i].layout;
            o.align_x = cases[i].mode;
            const psg_spmm_plan_info info = plan_info(cases[i].f64, cases[i].n_cols, ip, ind, cases[i].k, &o);
            CHECK(info.align_x == cases[i].want, "case %zu: align_x %d, want %d", i, info.align_x, cases[i].want);
            free(ind);
        }
        psg_spmm_options o;
        psg_spmm_options_default(&o);
        o.align_x = 3;
        psg_spmm_plan *p;
        int64_t ip[3] = {0, 0, 0};
        CHECK(psg_spmm_plan_build_i32_f32(2, 2, ip, NULL, NULL, 16, 1, &o, &p) == PSG_ERR_INVALID_ARG,
              "align_x 3 is refused");
    }
}

static void test_generators(void)
{
    enum { M = 200000 };
    int64_t *s1 = malloc(M * 8), *d1 = malloc(M * 8), *s2 = malloc(M * 8), *d2 = malloc(M * 8);
    CHECK(psg_generate_rmat(16, M, 0.57, 0.19, 0.19, 42, 1, s1, d1, 1) == PSG_OK, "rmat 1T");
    CHECK(psg_generate_rmat(16, M, 0.57, 0.19, 0.19, 42, 1, s2, d2, 2) == PSG_OK, "rmat 2T");
    CHECK(!memcmp(s1, s2, M * 8) && !memcmp(d1, d2, M * 8), "rmat thread independent");
    int in_range = 1;
    for (int e = 0; e < M; e++) in_range &= s1[e] >= 0 && s1[e] < 65536 && d1[e] >= 0 && d1[e] < 65536;
    CHECK(in_range, "rmat ids in range");
    CHECK(psg_generate_rmat(16, M, 0.7, 0.2, 0.2, 42, 1, s1, d1, 1) == PSG_ERR_INVALID_ARG, "bad probabilities");
    free(s1); free(d1); free(s2); free(d2);
}

/* Feature tiles (psg_spmm_options.feature_tiles): the same bits as whole-row
 * tiles on each ISA for rows of Y that are 2-20 tiles of 128 bytes, with and
 * without values, a split hub row (its pieces keep whole-row tiles) and
 * entries up to the last (the last tile prefetches one row length ahead and
 * must stop short of nnz), plain and streaming stores, float32, float64 and
 * bfloat16 X, 1 and 2 threads; widths that are no whole number of tiles are
 * not tiled even when asked; and the planner's rule. */
static void test_feature_tiles(void)
{
    enum { N = 300, M = 9000 };
    test_csr a = hub_csr(N, M, 17, N - 1, M / 4, 11, 0.5f, 0.125f); /* the hub is the last row */
    const int widths[] = {64, 72, 128, 320};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        const int K = widths[wi];
        const size_t n = (size_t)N * K;
        float *x = malloc(n * 4), *y0 = aligned_alloc(64, n * 4), *y1 = aligned_alloc(64, n * 4);
        double *x64 = malloc(n * 8), *z0 = aligned_alloc(64, n * 8), *z1 = aligned_alloc(64, n * 8);
        uint16_t *xb = malloc(n * 2);
        for (size_t i = 0; i < n; i++) x64[i] = x[i] = (float)((i * 7919) % 103) / 51.0f - 1.0f;
        psg_f32_to_bf16((int64_t)n, x, xb, 1);
        for (int isa = 1; isa <= 3; isa++) {
            if (psg_spmm_force_isa(isa) != PSG_OK) continue;
            for (int hv = 0; hv <= 1; hv++)
                for (int store = PSG_STORE_CACHED; store <= PSG_STORE_STREAM; store++) {
                    const float *v = hv ? a.val : NULL;
                    const double *v64 = hv ? a.val64 : NULL;
                    psg_spmm_options o = split_hub_options();
                    o.store = store;
                    psg_spmm_plan *p[2], *q[2];
                    for (int on = 0; on <= 1; on++) {
                        o.feature_tiles = on ? PSG_FTILE_ON : PSG_FTILE_OFF;
                        CHECK(psg_spmm_plan_build_i32_f32(N, N, a.indptr, a.ind, v, K, 2, &o, &p[on]) == PSG_OK,
                              "build");
                        CHECK(psg_spmm_plan_build_i32_f64(N, N, a.indptr, a.ind, v64, K, 2, &o, &q[on]) == PSG_OK,
                              "build");
                        psg_spmm_plan_info info, info64;
                        psg_spmm_plan_describe(p[on], &info);
                        psg_spmm_plan_describe(q[on], &info64);
                        CHECK(info.feature_tiles == (on && K % 32 == 0) &&
                              info64.feature_tiles == (on && K % 16 == 0) && info.n_hubs == 1 &&
                              info.gather_miss_llc == -1, "K %d: plan reports feature tiles %d/%d (%d)", K,
                              info.feature_tiles, info64.feature_tiles, on);
                    }
                    check_on_off_plans("feature tiles", a, N, K, isa, hv, p, q, x, x64, xb, y0, y1, z0, z1);
                }
        }
        psg_spmm_force_isa(0);
        free(x); free(y0); free(y1); free(x64); free(z0); free(z1); free(xb);
    }
    free_csr(a);
    /* the planner: auto tiles rows of X of 1 KiB or more when X is larger than the last-level cache and
     * over 3/4 of the gathers miss it. Columns drawn at random from 16 times the rows of X the cache
     * holds (llc_rows, the estimate's window) are new to the previous llc_rows..2 llc_rows entries with
     * the chance exp(-(1 + u) / 16), u in [0, 1): 0.91 on average; fresh columns every other entry half
     * that, the same few columns 0. */
    const int64_t k = 256, llc_rows = psg_cache_bytes(0) / (4 * k), n_cols = 16 * llc_rows;
    const int64_t nnz = 8 * llc_rows > (1 << 18) ? 8 * llc_rows : (1 << 18), n_rows = nnz / 8;
    CHECK(n_cols < INT32_MAX, "test size");
    int64_t *ip = malloc((n_rows + 1) * sizeof *ip);
    int32_t *ind = malloc(nnz * sizeof *ind);
    for (int64_t r = 0; r <= n_rows; r++) ip[r] = 8 * r;
    const double fresh_new = 16 * (exp(-1.0 / 16) - exp(-2.0 / 16));
    const double want[3] = {fresh_new, 0, 0.5 * 32 * (exp(-1.0 / 32) - exp(-2.0 / 32))};
    for (int kind = 2; kind >= 0; kind--) { /* fresh columns last: the cases below use them */
        column_kind(ind, nnz, n_cols, kind, 4242);
        psg_spmm_plan *p;
        psg_spmm_plan_info info;
        CHECK(psg_spmm_plan_build_i32_f32(n_rows, n_cols, ip, ind, NULL, k, 1, NULL, &p) == PSG_OK, "build");
        psg_spmm_plan_describe(p, &info);
        CHECK(fabs(info.gather_miss_llc - want[kind]) < 0.04, "kind %d: gather_miss_llc %g, want about %g", kind,
              info.gather_miss_llc, want[kind]);
        CHECK(info.feature_tiles == (kind == 0), "kind %d: feature_tiles %d", kind, info.feature_tiles);
        psg_spmm_plan_free(p);
    }
    /* no estimate (and no tiles) for an X that fits the cache, rows under 1 KiB, blocked plans, or the
     * option given; float64 rows of 128 values are 1 KiB */
    struct { int64_t n_cols, k; int f64, layout, mode, miss, want; } cases[] = {
        {llc_rows, 256, 0, 0, 0, 0, 0},
        {n_cols, 128, 0, 0, 0, 0, 0},
        {n_cols, 128, 1, 0, 0, 1, 1},
        {n_cols, 256, 0, PSG_LAYOUT_BLOCKED, 0, 0, 0},
        {n_cols, 256, 0, 0, PSG_FTILE_OFF, 0, 0},
        {n_cols, 64, 0, 0, PSG_FTILE_ON, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        psg_spmm_options o;
        psg_spmm_options_default(&o);
        o.layout = cases[i].layout;
        o.feature_tiles = cases[i].mode;
        psg_spmm_plan *p;
        psg_spmm_plan_info info;
        const psg_status st = cases[i].f64 ? psg_spmm_plan_build_i32_f64(n_rows, cases[i].n_cols, ip, ind, NULL,
                                                                         cases[i].k, 1, &o, &p)
                                           : psg_spmm_plan_build_i32_f32(n_rows, cases[i].n_cols, ip, ind, NULL,
                                                                         cases[i].k, 1, &o, &p);
        CHECK(st == PSG_OK, "build");
        psg_spmm_plan_describe(p, &info);
        CHECK((info.gather_miss_llc >= 0) == cases[i].miss && info.feature_tiles == cases[i].want,
              "case %zu: gather_miss_llc %g, feature_tiles %d", i, info.gather_miss_llc, info.feature_tiles);
        psg_spmm_plan_free(p);
    }
    psg_spmm_options o;
    psg_spmm_options_default(&o);
    o.feature_tiles = 3;
    psg_spmm_plan *p;
    CHECK(psg_spmm_plan_build_i32_f32(n_rows, n_cols, ip, ind, NULL, k, 1, &o, &p) == PSG_ERR_INVALID_ARG,
          "feature_tiles 3 is refused");
    free(ip);
    free(ind);
}

int main(void)
{
    test_scheduler();
    test_planned_spmm();
    test_streamed_spmm();
    test_narrow_prefetch();
    test_feature_tiles();
    test_align_x();
    test_align_x_kept_buffer();
    test_generators();
    return CHECK_REPORT("perf");
}
