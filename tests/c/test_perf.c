/* C-only tests of the performance core: the work-stealing scheduler hands
 * out every chunk exactly once; planned SpMM (hub splitting, every schedule,
 * every ISA the CPU has, blocked layout) matches a dense reference and is
 * bit-identical across thread counts; streaming stores of Y give the same
 * bits; generators are thread-count independent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pysparsegraph/pysparsegraph.h"
#include "pysparsegraph/generate.h"
#include "../../src/schedule.h"
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

static void test_planned_spmm(void)
{
    enum { N = 300, M = 20000, K = 37 };
    int64_t *src = malloc(M * sizeof *src), *dst = malloc(M * sizeof *dst);
    CHECK(psg_generate_er(N, M, 5, src, dst, 1) == PSG_OK, "er");
    for (int e = 0; e < M / 2; e++) src[e] = 7; /* hub row */
    int64_t *indptr = calloc(N + 1, sizeof *indptr);
    int32_t *ind = malloc(M * sizeof *ind);
    float *val = malloc(M * sizeof *val);
    for (int e = 0; e < M; e++) indptr[src[e] + 1]++;
    for (int r = 0; r < N; r++) indptr[r + 1] += indptr[r];
    int64_t *pos = malloc(N * sizeof *pos);
    memcpy(pos, indptr, N * sizeof *pos);
    for (int e = 0; e < M; e++) {
        int64_t p = pos[src[e]]++;
        ind[p] = (int32_t)dst[e];
        val[p] = (float)((e % 13) - 6) * 0.25f;
    }
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
    free(src); free(dst); free(indptr); free(ind); free(val); free(pos);
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
    int64_t *src = malloc(M * sizeof *src), *dst = malloc(M * sizeof *dst);
    CHECK(psg_generate_er(N, M, 11, src, dst, 1) == PSG_OK, "er");
    for (int e = 0; e < M / 3; e++) src[e] = 5; /* hub row */
    int64_t *indptr = calloc(N + 1, sizeof *indptr), *pos = malloc(N * sizeof *pos);
    int32_t *ind = malloc(M * sizeof *ind);
    float *val = malloc(M * sizeof *val);
    double *val64 = malloc(M * sizeof *val64);
    for (int e = 0; e < M; e++) indptr[src[e] + 1]++;
    for (int r = 0; r < N; r++) indptr[r + 1] += indptr[r];
    memcpy(pos, indptr, N * sizeof *pos);
    for (int e = 0; e < M; e++) {
        int64_t q = pos[src[e]]++;
        ind[q] = (int32_t)dst[e];
        val64[q] = val[q] = (float)((e % 17) - 8) * 0.125f + 0.01f;
    }
    const int widths[] = {8, 16, 24, 48, 64, 128};
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++) {
        const int K = widths[wi];
        const size_t n = (size_t)N * K;
        /* 64-byte aligned buffers with room for a y shifted by one value (misaligned) */
        float *x = aligned_alloc(64, (n * 4 + 64 + 63) / 64 * 64), *yc = aligned_alloc(64, (n * 4 + 64 + 63) / 64 * 64),
              *ys = aligned_alloc(64, (n * 4 + 64 + 63) / 64 * 64);
        double *x64 = aligned_alloc(64, (n * 8 + 64 + 63) / 64 * 64), *yc64 = aligned_alloc(64, (n * 8 + 64 + 63) / 64 * 64),
               *ys64 = aligned_alloc(64, (n * 8 + 64 + 63) / 64 * 64);
        for (size_t i = 0; i < n; i++) x64[i] = x[i] = (float)((i * 7919) % 101) / 50.0f - 1.0f;
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
        free(x); free(yc); free(ys); free(x64); free(yc64); free(ys64);
    }
    /* the planner: a Y over 32 MiB streams, a small one or a blocked plan does not */
    {
        enum { BIG = 140000 };
        int64_t *ip = calloc(BIG + 1, sizeof *ip);
        psg_spmm_plan *p;
        psg_spmm_plan_info info;
        CHECK(psg_spmm_plan_build_i32_f32(BIG, BIG, ip, NULL, NULL, 64, 1, NULL, &p) == PSG_OK, "build big");
        psg_spmm_plan_describe(p, &info);
        CHECK(info.stream == 1, "auto streams a 36 MB Y");
        psg_spmm_plan_free(p);
        CHECK(psg_spmm_plan_build_i32_f32(BIG, BIG, ip, NULL, NULL, 16, 1, NULL, &p) == PSG_OK, "build");
        psg_spmm_plan_describe(p, &info);
        CHECK(info.stream == 0, "auto keeps a 9 MB Y in cache");
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
    free(src); free(dst); free(indptr); free(pos); free(ind); free(val); free(val64);
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

int main(void)
{
    test_scheduler();
    test_planned_spmm();
    test_streamed_spmm();
    test_generators();
    return CHECK_REPORT("perf");
}
