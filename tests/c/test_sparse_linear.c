/* C-only test of the sparse linear layer: every available ISA against a dense
 * triple loop, uint16 and int32 column ids, batch tails, ReLU + clamp, GELU,
 * thread counts 1 and 2 (bit-identical). Links only against libpysparsegraph. */
#define _POSIX_C_SOURCE 200809L /* setenv: the test toggles PSG_SL_FB */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pysparsegraph/pysparsegraph.h"
#include "pysparsegraph/sparse_linear.h"
#include "internal.h" /* psg__l1d_bytes */

#include "check.h"

static unsigned rng = 2024u;
static float frand(void)
{
    rng = rng * 1103515245u + 12345u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* A random sparse layer for the tests below: CSR with both index types, weights, bias. */
typedef struct {
    int64_t *indptr, nnz;
    int32_t *ix;
    uint16_t *ix16;
    float *val, *bias;
} tlayer;

/* keep(r, c, n_in, param) says whether weight (r, c) is stored; it may draw frand(). */
static tlayer tlayer_make(int n_out, int n_in, int (*keep)(int, int, int, int), int param)
{
    tlayer l;
    l.indptr = malloc(sizeof(int64_t) * (n_out + 1));
    l.ix = malloc(sizeof(int32_t) * n_out * n_in);
    l.ix16 = malloc(sizeof(uint16_t) * n_out * n_in);
    l.val = malloc(sizeof(float) * n_out * n_in);
    l.bias = malloc(sizeof(float) * n_out);
    l.nnz = 0;
    l.indptr[0] = 0;
    for (int r = 0; r < n_out; r++) {
        for (int c = 0; c < n_in; c++)
            if (keep(r, c, n_in, param)) {
                l.ix[l.nnz] = c;
                l.ix16[l.nnz] = (uint16_t)c;
                l.val[l.nnz++] = frand();
            }
        l.indptr[r + 1] = l.nnz;
        l.bias[r] = frand();
    }
    return l;
}

static void tlayer_free(tlayer *l)
{
    free(l->indptr);
    free(l->ix);
    free(l->ix16);
    free(l->val);
    free(l->bias);
}

/* rows `pct`% dense, and sparse ones: row 5 mod 13 holds columns 3 and n_in - 1,
 * row 6 mod 13 only columns 0 and 1 (all its entries in the first feature block) */
static int keep_dense_mixed(int r, int c, int n_in, int pct)
{
    return r % 13 == 5 ? c == 3 || c == n_in - 1 : r % 13 == 6 ? c < 2 : frand() > 1.0f - pct / 50.0f;
}

/* about one weight in `inv`; row 4 empty */
static int keep_one_in(int r, int c, int n_in, int inv)
{
    (void)c;
    (void)n_in;
    return r != 4 && (int)((frand() + 1.0f) * 1000.0f) % inv == 0;
}

int main(void)
{
    /* The L1d size that sizes feature blocks: the C library's figure, read once, or
     * the caller's fallback where it has none, never a nonsense size. */
    {
        const int64_t l1 = psg__l1d_bytes(12345);
        CHECK(l1 == 12345 || (l1 >= 16384 && l1 <= 1048576), "psg__l1d_bytes gave %lld", (long long)l1);
        CHECK(psg__l1d_bytes(999) == (l1 == 12345 ? 999 : l1), "psg__l1d_bytes not stable: %lld then %lld",
              (long long)l1, (long long)psg__l1d_bytes(999));
    }
    enum { OUT = 70, IN = 50 };
    const int batches[] = {1, 5, 16, 37, 128, 200};
    int64_t indptr[OUT + 1];
    uint16_t idx16[OUT * IN];
    int32_t idx32[OUT * IN];
    float val[OUT * IN], bias[OUT], dense[OUT * IN];
    memset(dense, 0, sizeof dense);
    int64_t nnz = 0;
    indptr[0] = 0;
    for (int r = 0; r < OUT; r++) {
        for (int c = 0; c < IN; c++) {
            /* ~30% dense, row 7 empty, row 3 full (a hub row) */
            if (r == 7) continue;
            if (r != 3 && frand() < 0.4f) continue;
            idx16[nnz] = (uint16_t)c;
            idx32[nnz] = c;
            val[nnz] = frand();
            dense[r * IN + c] = val[nnz];
            nnz++;
        }
        indptr[r + 1] = nnz;
        bias[r] = frand();
    }
    for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
        const int b = batches[bi];
        float *xt = malloc(sizeof(float) * IN * b), *y = malloc(sizeof(float) * OUT * b),
              *y2 = malloc(sizeof(float) * OUT * b), *ref = malloc(sizeof(float) * OUT * b);
        for (int i = 0; i < IN * b; i++) xt[i] = 2.0f * frand();
        for (int act = 0; act <= 2; act++) {
            const float clamp = act == 1 ? 0.75f : INFINITY;
            for (int r = 0; r < OUT; r++)
                for (int k = 0; k < b; k++) {
                    double s = bias[r];
                    for (int c = 0; c < IN; c++) s += (double)dense[r * IN + c] * xt[c * b + k];
                    if (act == 1) s = s > 0 ? s : 0;
                    if (act == 2) s = 0.5 * s * (1.0 + erf(s / sqrt(2.0)));
                    if (s > clamp) s = clamp;
                    ref[r * b + k] = (float)s;
                }
            for (int isa = PSG_ISA_GENERIC; isa <= PSG_ISA_AVX512; isa++) {
                if (!psg_isa_supported(isa)) continue;
                for (int u16 = 0; u16 <= 1; u16++) {
                    for (int t = 1; t <= 2; t++) {
                        float *out = t == 1 ? y : y2;
                        psg_status st = u16 ? psg_sparse_linear_u16_f32(OUT, IN, indptr, idx16, val, bias, xt, b, out,
                                                                        act, clamp, isa, t)
                                            : psg_sparse_linear_i32_f32(OUT, IN, indptr, idx32, val, bias, xt, b, out,
                                                                        act, clamp, isa, t);
                        CHECK(st == PSG_OK, "status %d: %s", st, psg_last_error());
                    }
                    double err = 0;
                    for (int i = 0; i < OUT * b; i++) err = fmax(err, fabs(y[i] - ref[i]));
                    CHECK(err < 1e-4, "isa %d u16 %d batch %d act %d: max err %g", isa, u16, b, act, err);
                    CHECK(memcmp(y, y2, sizeof(float) * OUT * b) == 0, "isa %d batch %d: 1 vs 2 threads differ", isa, b);
                }
            }
        }
        free(xt);
        free(y);
        free(y2);
        free(ref);
    }
    /* Above the serial cut-off, so 2 threads really run: every input alignment
     * (in place when 64-byte aligned, else packed per thread), one tile, one tile
     * with a tail, several tiles; 1 vs 2 threads bit-identical, and vs dense. */
    {
        enum { BO = 600, BI = 200 };
        int64_t *bp = malloc(sizeof(int64_t) * (BO + 1));
        uint16_t *bix = malloc(sizeof(uint16_t) * BO * BI);
        float *bv = malloc(sizeof(float) * BO * BI), *bb = malloc(sizeof(float) * BO);
        int64_t bn = 0;
        bp[0] = 0;
        for (int r = 0; r < BO; r++) {
            for (int c = 0; c < BI; c++)
                if (frand() > 0.4f) { /* ~30% dense */
                    bix[bn] = (uint16_t)c;
                    bv[bn++] = frand();
                }
            bp[r + 1] = bn;
            bb[r] = frand();
        }
        const int bbatches[] = {128, 131, 300, 512};
        for (size_t bi = 0; bi < sizeof bbatches / sizeof bbatches[0]; bi++) {
            const int b = bbatches[bi];
            float *base = aligned_alloc(64, (sizeof(float) * ((size_t)BI * b + 64) + 63) / 64 * 64); /* C11: a multiple */
            float *y1 = malloc(sizeof(float) * BO * b), *y2 = malloc(sizeof(float) * BO * b);
            for (int off = 0; off <= 4; off += 4) { /* 64-byte aligned, then 16 bytes off */
                float *xt = base + off;
                for (int i = 0; i < BI * b; i++) xt[i] = frand();
                for (int isa = PSG_ISA_GENERIC; isa <= PSG_ISA_AVX512; isa++) {
                    if (!psg_isa_supported(isa)) continue;
                    CHECK(psg_sparse_linear_u16_f32(BO, BI, bp, bix, bv, bb, xt, b, y1, 1, INFINITY, isa, 1) ==
                              PSG_OK, "big 1T: %s", psg_last_error());
                    CHECK(psg_sparse_linear_u16_f32(BO, BI, bp, bix, bv, bb, xt, b, y2, 1, INFINITY, isa, 2) ==
                              PSG_OK, "big 2T: %s", psg_last_error());
#ifdef _OPENMP
                    CHECK(psg_last_team_size() == 2, "big layer ran on %d threads", psg_last_team_size());
#endif
                    CHECK(memcmp(y1, y2, sizeof(float) * BO * b) == 0, "big isa %d batch %d off %d: 1 vs 2 threads",
                          isa, b, off);
                    double err = 0;
                    for (int r = 0; r < BO; r += 7)
                        for (int k = 0; k < b; k++) {
                            double sum = bb[r];
                            for (int64_t j = bp[r]; j < bp[r + 1]; j++) sum += (double)bv[j] * xt[bix[j] * b + k];
                            if (sum < 0) sum = 0;
                            err = fmax(err, fabs(y1[r * b + k] - sum));
                        }
                    CHECK(err < 1e-4, "big isa %d batch %d off %d: max err %g", isa, b, off, err);
                }
            }
            free(base);
            free(y1);
            free(y2);
        }
        free(bp);
        free(bix);
        free(bv);
        free(bb);
    }
    /* Feature-blocked kernel (full 8-vector tiles): equal to the dense reference and
     * bit-identical to the unblocked kernel (PSG_SL_FB=0) for every activation, also
     * with a row whose column ids are out of order (the blocked kernel walks a row in
     * storage order, so it must still sum it right). 60% dense rows over 700 features
     * take L1-sized blocks; 10% dense rows over 1600 features (a tile that crowds L2)
     * take the larger blocks of the sparse-row rule. */
    const int fconf[][2] = {{700, 60}, {1600, 10}}; /* input features, % dense */
    for (size_t fi = 0; fi < sizeof fconf / sizeof fconf[0]; fi++) {
        enum { FO = 130 };
        const int FI = fconf[fi][0];
        tlayer fl = tlayer_make(FO, FI, keep_dense_mixed, fconf[fi][1]);
        int64_t *fp = fl.indptr;
        int32_t *fix = fl.ix;
        uint16_t *fix16 = fl.ix16;
        float *fv = fl.val, *fbias = fl.bias;
        const int64_t fnz = fl.nnz;
        const int fbatches[] = {64, 130, 512};
        for (size_t bi = 0; bi < sizeof fbatches / sizeof fbatches[0]; bi++) {
            const int b = fbatches[bi];
            float *xt = aligned_alloc(64, (sizeof(float) * (size_t)FI * b + 63) / 64 * 64);
            float *yb = malloc(sizeof(float) * FO * b), *yu = malloc(sizeof(float) * FO * b);
            for (int i = 0; i < FI * b; i++) xt[i] = frand();
            for (int unsorted = 0; unsorted <= 1; unsorted++) {
                if (unsorted) { /* swap two ids of row 0 (and their weights) */
                    int32_t ti = fix[0]; fix[0] = fix[1]; fix[1] = ti;
                    float tv = fv[0]; fv[0] = fv[1]; fv[1] = tv;
                }
                for (int64_t j = 0; j < fnz; j++) fix16[j] = (uint16_t)fix[j];
                for (int act = 0; act <= 2; act++)
                    for (int isa = PSG_ISA_AVX2; isa <= PSG_ISA_AVX512; isa++) {
                        if (!psg_isa_supported(isa)) continue;
                        for (int t = 1; t <= 2; t++) {
                            unsetenv("PSG_SL_FB");
                            CHECK(psg_sparse_linear_u16_f32(FO, FI, fp, fix16, fv, fbias, xt, b, yb, act, 1.5f, isa,
                                                            t) == PSG_OK, "blocked: %s", psg_last_error());
                            setenv("PSG_SL_FB", "0", 1);
                            CHECK(psg_sparse_linear_i32_f32(FO, FI, fp, fix, fv, fbias, xt, b, yu, act, 1.5f, isa,
                                                            t) == PSG_OK, "unblocked: %s", psg_last_error());
                            unsetenv("PSG_SL_FB");
                            CHECK(memcmp(yb, yu, sizeof(float) * FO * b) == 0,
                                  "isa %d in %d batch %d act %d unsorted %d %dT: blocked != unblocked", isa, FI, b,
                                  act, unsorted, t);
                        }
                        double err = 0;
                        for (int r = 0; r < FO; r += 3)
                            for (int k = 0; k < b; k += 5) {
                                double sum = fbias[r];
                                for (int64_t j = fp[r]; j < fp[r + 1]; j++) sum += (double)fv[j] * xt[fix[j] * b + k];
                                if (act == 1) sum = sum > 0 ? sum : 0;
                                if (act == 2) sum = 0.5 * sum * (1.0 + erf(sum / sqrt(2.0)));
                                if (sum > 1.5) sum = 1.5;
                                err = fmax(err, fabs(yb[r * b + k] - sum) / (1.0 + fabs(sum)));
                            }
                        CHECK(err < 1e-5, "blocked isa %d in %d batch %d act %d unsorted %d: max rel err %g", isa,
                              FI, b, act, unsorted, err);
                    }
                if (unsorted) { /* restore */
                    int32_t ti = fix[0]; fix[0] = fix[1]; fix[1] = ti;
                    float tv = fv[0]; fv[0] = fv[1]; fv[1] = tv;
                }
            }
            free(xt);
            free(yb);
            free(yu);
        }
        tlayer_free(&fl);
    }
    /* Row-major operands (psg_sparse_linear_layout_f32, X and/or Y): bit-identical to
     * the feature-major result (transposed where asked), for every ISA, index type,
     * thread count, activation, batch tails and both the blocked (dense rows) and
     * unblocked kernels. */
    {
        const int shapes[][3] = {{70, 50, 3}, {300, 200, 1}, {130, 700, 6}}; /* out, in, 1/density */
        const int rbatches[] = {1, 7, 64, 130, 300};
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const int RO = shapes[si][0], RI = shapes[si][1], inv = shapes[si][2];
            tlayer rl = tlayer_make(RO, RI, keep_one_in, inv);
            const int64_t *rp = rl.indptr;
            const int32_t *rix = rl.ix;
            const uint16_t *rix16 = rl.ix16;
            const float *rv = rl.val, *rb = rl.bias;
            for (size_t bi = 0; bi < sizeof rbatches / sizeof rbatches[0]; bi++) {
                const int b = rbatches[bi];
                float *x = malloc(sizeof(float) * RI * b), *xt = malloc(sizeof(float) * RI * b);
                float *yt = malloc(sizeof(float) * RO * b), *y = malloc(sizeof(float) * RO * b);
                for (int i = 0; i < b; i++)
                    for (int j = 0; j < RI; j++) xt[j * b + i] = x[i * RI + j] = 2.0f * frand();
                for (int isa = PSG_ISA_GENERIC; isa <= PSG_ISA_AVX512; isa++) {
                    if (!psg_isa_supported(isa)) continue;
                    for (int u16 = 0; u16 <= 1; u16++)
                        for (int act = 0; act <= 2; act++)
                            for (int t = 1; t <= 2; t++) {
                                psg_status s1 = u16 ? psg_sparse_linear_u16_f32(RO, RI, rp, rix16, rv, rb, xt, b, yt,
                                                                                act, 1.25f, isa, t)
                                                    : psg_sparse_linear_i32_f32(RO, RI, rp, rix, rv, rb, xt, b, yt,
                                                                                act, 1.25f, isa, t);
                                CHECK(s1 == PSG_OK, "feature-major: %s", psg_last_error());
                                int bad = 0;
                                for (int lay = 1; lay <= 3; lay++) {
                                    const void *ids = u16 ? (const void *)rix16 : (const void *)rix;
                                    psg_status s2 = psg_sparse_linear_layout_f32(RO, RI, rp, ids, u16 ? 2 : 4, rv, rb,
                                                                                 lay & 1 ? x : xt, b, y, act, 1.25f,
                                                                                 isa, t, lay);
                                    CHECK(s2 == PSG_OK, "layout %d: %s", lay, psg_last_error());
                                    for (int i = 0; i < b; i++)
                                        for (int r = 0; r < RO; r++)
                                            bad += memcmp(lay & 2 ? &y[i * RO + r] : &y[r * b + i], &yt[r * b + i],
                                                          sizeof(float)) != 0;
                                }
                                CHECK(bad == 0, "row-major %dx%d batch %d isa %d u16 %d act %d %dT: %d outputs differ",
                                      RO, RI, b, isa, u16, act, t, bad);
                            }
                }
                free(x);
                free(xt);
                free(yt);
                free(y);
            }
            tlayer_free(&rl);
        }
    }
    /* blocked transpose: odd sizes straddling the 32 × 32 blocks */
    {
        enum { R = 45, C = 70 };
        float a[R * C], t[C * R];
        for (int i = 0; i < R * C; i++) a[i] = (float)i;
        CHECK(psg_transpose_f32(R, C, a, t, 2) == PSG_OK, "transpose failed");
        int bad = 0;
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) bad += t[c * R + r] != a[r * C + c];
        CHECK(bad == 0, "transpose: %d wrong entries", bad);
    }
    /* bad arguments are reported, not crashed on */
    float x1[IN], y1[OUT];
    CHECK(psg_sparse_linear_layout_f32(OUT, IN, indptr, idx32, 4, val, NULL, x1, 1, y1, 0, INFINITY, 0, 1, 4) ==
              PSG_ERR_INVALID_ARG, "unknown layout bit accepted");
    CHECK(psg_sparse_linear_layout_f32(OUT, IN, indptr, idx32, 3, val, NULL, x1, 1, y1, 0, INFINITY, 0, 1, 3) ==
              PSG_ERR_INVALID_ARG, "index_bytes 3 accepted");
    CHECK(psg_sparse_linear_i32_f32(OUT, IN, indptr, idx32, val, NULL, x1, 1, y1, 7, INFINITY, 0, 1) ==
              PSG_ERR_INVALID_ARG, "bad activation accepted");
    CHECK(psg_sparse_linear_u16_f32(OUT, 70000, indptr, idx16, val, NULL, x1, 1, y1, 0, INFINITY, 0, 1) ==
              PSG_ERR_OVERFLOW, "uint16 with n_in > 65536 accepted");
    CHECK(psg_sparse_linear_i32_f32(OUT, IN, indptr, idx32, val, NULL, x1, 1, y1, 0, NAN, 0, 1) == PSG_ERR_INVALID_ARG,
          "NaN clamp accepted");
    CHECK(psg_sparse_linear_i32_f32(-1, IN, indptr, idx32, val, NULL, x1, 1, y1, 0, INFINITY, 0, 1) ==
              PSG_ERR_INVALID_ARG, "negative n_out accepted");
    CHECK(psg_sparse_linear_i32_f32(OUT, IN, indptr, idx32, val, NULL, x1, 1, y1, 0, INFINITY, 99, 1) ==
              PSG_ERR_UNSUPPORTED, "unknown isa accepted");
    return CHECK_REPORT("sparse_linear");
}
