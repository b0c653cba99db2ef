/* C-only test of the GNN kernels on a small hand-made CSR (no Python):
 * gspmm max with argidx and self loops, transpose + transposed sum, sddmm,
 * edge softmax, the error path for a bad reducer, psg_gspmm_plan on a hub
 * row cut into pieces of two entries (NaN, -inf and ties across pieces), and
 * whole max/min rows 16 features wide on every ISA (NaN first messages, self
 * loops compared last), and a column scale read only where it exists (a tall
 * matrix, the scale array followed by a guard page). */
#define _DEFAULT_SOURCE /* mmap, mprotect */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __unix__
#include <sys/mman.h>
#include <unistd.h>
#endif
#include "pysparsegraph/pysparsegraph.h"

#include "check.h"

#ifdef __unix__
/* A column scale of n_cols = 2 entries ending where a PROT_NONE page starts:
 * the kernels read col_scale[r] only for the self loop of a row r < n_cols.
 * They used to read it for every row of a tall matrix (a read past the array,
 * a crash when it reached unmapped memory); now such a read faults here. */
static void test_tall_col_scale(void)
{
    const long page = sysconf(_SC_PAGESIZE);
    char *mem = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(mem != MAP_FAILED && mprotect(mem + page, (size_t)page, PROT_NONE) == 0, "guard page");
    if (mem == MAP_FAILED) return;
    double *cs = (double *)(mem + page) - 2;
    cs[0] = 0.5;
    cs[1] = 4.0;
    enum { N = 4096, K = 16 };
    int64_t *indptr = malloc((N + 1) * sizeof *indptr);
    int32_t *indices = malloc(N * sizeof *indices);
    double *ev = malloc(N * sizeof *ev), *x = malloc(2 * K * sizeof *x), *y = malloc((size_t)N * K * sizeof *y);
    for (int r = 0; r <= N; r++) indptr[r] = r;
    for (int r = 0; r < N; r++) { indices[r] = r % 2; ev[r] = 1 + r % 3; }
    for (int f = 0; f < 2 * K; f++) x[f] = f + 1;
    const int reduces[3] = {PSG_REDUCE_SUM, PSG_REDUCE_MEAN, PSG_REDUCE_MAX};
    for (int ri = 0; ri < 3; ri++)
        for (int loops = 0; loops <= 1; loops++)
            for (int with_ev = 0; with_ev <= 1; with_ev++)
                for (int k = 3; k <= K; k += K - 3) {
                    psg_gspmm_opts o;
                    memset(&o, 0, sizeof o);
                    o.reduce = reduces[ri];
                    o.col_scale = cs;
                    o.self_loops = loops;
                    o.edge_values = with_ev ? ev : NULL;
                    o.edge_width = 1;
                    o.nnz_edges = N;
                    psg_status st = psg_gspmm(4, 8, N, 2, indptr, indices, &o, x, k, y, 2);
                    int bad = 0;
                    for (int r = 0; r < N && st == PSG_OK; r++)
                        for (int f = 0; f < k; f++) {
                            const int c = r % 2;
                            double m = (with_ev ? ev[r] : 1) * cs[c] * x[c * k + f], want = m;
                            if (loops && r < 2) { /* row r's loop (r, r): weight cs[r] */
                                const double l = cs[r] * x[r * k + f];
                                want = o.reduce == PSG_REDUCE_MAX ? fmax(m, l) : m + l;
                                if (o.reduce == PSG_REDUCE_MEAN) want /= 2;
                            }
                            bad += fabs(y[(int64_t)r * k + f] - want) > 1e-12 * fabs(want);
                        }
                    CHECK(st == PSG_OK && bad == 0, "tall matrix, col_scale, reduce %d loops %d ev %d k %d: %s, "
                          "%d wrong", o.reduce, loops, with_ev, k, st ? psg_last_error() : "ok", bad);
                }
    free(indptr); free(indices); free(ev); free(x); free(y);
    munmap(mem, 2 * (size_t)page);
}
#else
static void test_tall_col_scale(void) {}
#endif

/* Row 0 of a 2x8 matrix holds 7 entries (columns 1..7), cut every 2 entries
 * by the plan; x has one feature. A sequential scan (first message starts,
 * a strictly better one replaces it) gives the expected max/min and arg. */
static void test_planned_pieces(void)
{
    const int64_t indptr[3] = {0, 7, 8};
    const int32_t indices[8] = {1, 2, 3, 4, 5, 6, 7, 0};
    /* messages of row 0 in storage order: 1, NaN, 5, 5, -inf, 3, NaN */
    const float x[8] = {2, 1, NAN, 5, 5, -INFINITY, 3, NAN};
    psg_spmm_options po;
    psg_spmm_options_default(&po);
    po.layout = PSG_LAYOUT_CSR;
    po.split_len = 2;
    psg_spmm_plan *plan = NULL;
    CHECK(psg_spmm_plan_build_i32_f32(2, 8, indptr, indices, NULL, 1, 2, &po, &plan) == PSG_OK && plan,
          "plan: %s", psg_last_error());
    psg_spmm_plan_info info;
    psg_spmm_plan_describe(plan, &info);
    CHECK(info.n_hubs == 1 && info.n_slots == 4, "row 0 is a hub of 4 pieces (n_hubs %lld, n_slots %lld)",
          (long long)info.n_hubs, (long long)info.n_slots);
    float y[2];
    int64_t arg[2];
    psg_gspmm_opts o;
    memset(&o, 0, sizeof o);
    o.nnz_edges = 8;
    o.argidx = arg;
    for (int threads = 1; threads <= 2; threads++) {
        o.reduce = PSG_REDUCE_MAX;
        CHECK(psg_gspmm_plan(4, 4, plan, 2, 8, indptr, indices, &o, x, 1, y, threads) == PSG_OK, "planned max");
        /* 5 first appears at entry 2; the later NaN and the tie at entry 3 do not replace it */
        CHECK(y[0] == 5 && arg[0] == 2 && y[1] == 2 && arg[1] == 7, "planned max: %g (edge %lld)", y[0],
              (long long)arg[0]);
        o.reduce = PSG_REDUCE_MIN;
        CHECK(psg_gspmm_plan(4, 4, plan, 2, 8, indptr, indices, &o, x, 1, y, threads) == PSG_OK, "planned min");
        CHECK(y[0] == -INFINITY && arg[0] == 4, "planned min: %g (edge %lld)", y[0], (long long)arg[0]);
        o.reduce = PSG_REDUCE_MEAN;
        o.argidx = NULL;
        o.self_loops = 1;
        const float xs[8] = {2, 1, 1, 5, 5, 1, 3, 4};
        CHECK(psg_gspmm_plan(4, 4, plan, 2, 8, indptr, indices, &o, xs, 1, y, threads) == PSG_OK, "planned mean");
        /* row 0: (1+1+5+5+1+3+4 + self loop 2) / 8; row 1: (x0 + self loop x1) / 2 */
        CHECK(y[0] == 22.0f / 8 && y[1] == 1.5f, "planned mean with self loops: %g %g", y[0], y[1]);
        o.self_loops = 0;
        o.argidx = arg;
    }
    /* a first message that is NaN stays the result (nothing compares better) */
    const float xn[8] = {0, NAN, 1, 9, 2, 3, 4, 5};
    o.reduce = PSG_REDUCE_MAX;
    CHECK(psg_gspmm_plan(4, 4, plan, 2, 8, indptr, indices, &o, xn, 1, y, 2) == PSG_OK, "planned max, NaN first");
    CHECK(isnan(y[0]) && arg[0] == 0, "NaN first message: %g (edge %lld)", y[0], (long long)arg[0]);
    o.edge_values = x;
    o.edge_width = 4;
    CHECK(psg_gspmm_plan(4, 4, plan, 2, 8, indptr, indices, &o, xn, 1, y, 2) == PSG_ERR_SHAPE,
          "edge_width must divide k");
    psg_spmm_plan_free(plan);
}

/* Whole rows (no hub pieces), 16 features wide so the SIMD tiles run on
 * every ISA this CPU has: a row's first message starts its reduction even
 * when it is NaN, and the self loop is compared last. Row 0 -> columns
 * {1, 2, 3}, row 1 -> {0}; feature f of x: row 0 = 7, row 1 = NaN for even f
 * else 1, row 2 = 3, row 3 = f. */
static void test_whole_rows_simd(void)
{
    enum { K = 16 };
    const int64_t indptr[3] = {0, 3, 4};
    const int32_t indices[4] = {1, 2, 3, 0};
    float x[4 * K], y[2 * K];
    int64_t arg[2 * K];
    for (int f = 0; f < K; f++) {
        x[f] = 7;
        x[K + f] = f % 2 == 0 ? NAN : 1;
        x[2 * K + f] = 3;
        x[3 * K + f] = (float)f;
    }
    psg_gspmm_opts o;
    memset(&o, 0, sizeof o);
    o.nnz_edges = 4;
    o.argidx = arg;
    for (int isa = PSG_ISA_GENERIC; isa <= PSG_ISA_AVX512; isa++) {
        if (psg_spmm_force_isa(isa) != PSG_OK) continue;
        for (int loops = 0; loops <= 1; loops++) {
            o.self_loops = loops;
            o.reduce = PSG_REDUCE_MAX;
            CHECK(psg_gspmm(4, 4, 2, 4, indptr, indices, &o, x, K, y, 1) == PSG_OK, "whole-row max");
            for (int f = 0; f < K; f++) {
                /* odd lanes: 1 (edge 0), 3 (edge 1), f (edge 2), then 7 (row 0's self loop, edge 4) */
                float want = f % 2 == 0 ? NAN : f > 3 ? (float)f : 3;
                int64_t want_arg = f % 2 == 0 ? 0 : f > 3 ? 2 : 1;
                if (loops && f % 2 == 1 && want < 7) {
                    want = 7;
                    want_arg = 4;
                }
                const int same = isnan(want) ? isnan(y[f]) : y[f] == want;
                CHECK(same && arg[f] == want_arg, "isa %d loops %d lane %d: max %g (edge %lld), want %g (edge %lld)",
                      isa, loops, f, y[f], (long long)arg[f], want, (long long)want_arg);
                /* row 1: its one message 7 (edge 3); its self loop (NaN or 1) never beats it */
                CHECK(y[K + f] == 7 && arg[K + f] == 3, "isa %d loops %d lane %d: row 1 max %g (edge %lld)", isa,
                      loops, f, y[K + f], (long long)arg[K + f]);
            }
            o.reduce = PSG_REDUCE_MIN;
            o.argidx = NULL; /* the path without positions (one min instruction per message) */
            CHECK(psg_gspmm(4, 4, 2, 4, indptr, indices, &o, x, K, y, 1) == PSG_OK, "whole-row min");
            for (int f = 0; f < K; f++) {
                const float want = f % 2 == 0 ? NAN : 1;
                CHECK(isnan(want) ? isnan(y[f]) : y[f] == want, "isa %d loops %d lane %d: min %g", isa, loops, f,
                      y[f]);
                /* row 1: 7, then the self loop 1 on odd lanes wins; a NaN self loop does not */
                const float want1 = loops && f % 2 == 1 ? 1 : 7;
                CHECK(y[K + f] == want1, "isa %d loops %d lane %d: row 1 min %g", isa, loops, f, y[K + f]);
            }
            o.argidx = arg;
        }
    }
    psg_spmm_force_isa(PSG_ISA_AUTO);
}

int main(void)
{
    test_planned_pieces();
    test_whole_rows_simd();
    test_tall_col_scale();
    /* 4x4: row 0 -> {1, 2}, row 1 -> {0}, row 2 empty, row 3 -> {0, 1, 2} */
    const int64_t indptr[5] = {0, 2, 3, 3, 6};
    const int32_t indices[6] = {1, 2, 0, 0, 1, 2};
    const double x[4 * 2] = {1, -1, 4, 0, -2, 5, 3, 3};
    double y[4 * 2];
    int64_t arg[4 * 2];

    psg_gspmm_opts o;
    memset(&o, 0, sizeof o);
    o.reduce = PSG_REDUCE_MAX;
    o.self_loops = 1;
    o.nnz_edges = 6;
    o.argidx = arg;
    CHECK(psg_gspmm(4, 8, 4, 4, indptr, indices, &o, x, 2, y, 2) == PSG_OK, "gspmm: %s", psg_last_error());
    /* row 0: messages x1=(4,0), x2=(-2,5), self x0=(1,-1) -> (4, 5), edges (0, 1) */
    CHECK(y[0] == 4 && y[1] == 5 && arg[0] == 0 && arg[1] == 1, "row 0 max: %g %g %lld %lld", y[0], y[1],
          (long long)arg[0], (long long)arg[1]);
    /* row 2: only its self loop x2=(-2,5), edge id nnz + 2 = 8 */
    CHECK(y[4] == -2 && y[5] == 5 && arg[4] == 8 && arg[5] == 8, "row 2 self loop only");

    /* transpose, then Aᵀ·x as a sum over the transposed rows */
    int64_t tp[5], teid[6];
    int32_t ti[6];
    CHECK(psg_csr_transpose(4, 4, 4, indptr, indices, tp, ti, teid, 1) == PSG_OK, "transpose");
    CHECK(tp[4] == 6 && tp[1] == 2 && ti[0] == 1 && ti[1] == 3 && teid[0] == 2 && teid[1] == 3,
          "transpose structure");
    memset(&o, 0, sizeof o);
    o.reduce = PSG_REDUCE_SUM;
    o.eid = teid;
    o.nnz_edges = 6;
    CHECK(psg_gspmm(4, 8, 4, 4, tp, ti, &o, x, 2, y, 1) == PSG_OK, "transposed gspmm");
    /* (Aᵀx)[0] = x[1] + x[3] = (7, 3); (Aᵀx)[3] = 0 (no entry in column 3) */
    CHECK(y[0] == 7 && y[1] == 3 && y[6] == 0 && y[7] == 0, "Aᵀx: %g %g %g %g", y[0], y[1], y[6], y[7]);

    /* sddmm dot: out_j = <x_r, x_c> */
    double out[6];
    CHECK(psg_sddmm(4, 8, PSG_SDDMM_DOT, 4, 4, indptr, indices, x, 2, x, 2, 1, out, 2) == PSG_OK, "sddmm");
    CHECK(out[0] == 4 && out[1] == -7 && out[5] == -6 + 15, "sddmm values %g %g %g", out[0], out[1], out[5]);

    /* edge softmax: row 3 has three equal scores -> 1/3 each; huge scores stay finite */
    const double s[6] = {1000, 0, 5, 2, 2, 2};
    double a[6];
    CHECK(psg_edge_softmax(8, 4, indptr, s, 1, a, 2) == PSG_OK, "edge_softmax");
    CHECK(fabs(a[3] - 1.0 / 3) < 1e-15 && a[2] == 1 && a[0] == 1 && a[1] == 0, "softmax values");

    memset(&o, 0, sizeof o);
    o.reduce = 7;
    CHECK(psg_gspmm(4, 8, 4, 4, indptr, indices, &o, x, 2, y, 1) == PSG_ERR_INVALID_ARG &&
              strstr(psg_last_error(), "reduce") != NULL, "bad reducer is an error");
    return CHECK_REPORT("gnn");
}
