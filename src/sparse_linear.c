/* Sparse-weight linear layer Yt = min(clamp, act(W·Xt + b)) in the feature-major
 * activation layout (see include/pysparsegraph/sparse_linear.h), with runtime
 * dispatch between AVX-512, AVX2+FMA and portable C kernels. The SIMD kernels
 * are compiled for their ISA with `#pragma GCC target` (no -march=native), and
 * chosen per call with __builtin_cpu_supports, so one binary runs everywhere. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define PSG_SL_HAVE_PTHREAD 1
#endif
#include "internal.h"
#include "partition.h"
#include "schedule.h"
#include "pysparsegraph/sparse_linear.h"

#define PSG_CAT_(a, b) a##b
#define PSG_CAT(a, b) PSG_CAT_(a, b)

#if (defined(__GNUC__) && !defined(__clang__)) && defined(__x86_64__)
#define PSG_SL_HAVE_X86 1
#include <immintrin.h>
#else
#define PSG_SL_HAVE_X86 0
#endif

/* ---- GELU epilogue -------------------------------------------------------
 * erf from Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7) with a Cody-Waite
 * + degree-6 polynomial exp, all plain arithmetic so the loop vectorizes for
 * whichever ISA it is inlined into (a libm erff call per output would cost
 * more than the whole sparse dot product at 90% sparsity). */
static inline __attribute__((always_inline)) float psg__expf_poly(float x)
{
    /* Only called with x <= 0. exp(-60) ~ 9e-27: the GELU caller multiplies it
     * by a factor >= ~1e-7 and subtracts it from 1, so anything smaller gives
     * the same float, and its products stay normal (a product near 1e-38 is a
     * denormal, ~100 cycles per operation on some cores). Branch-free
     * (ternaries, truncation instead of floorf, a libm call on baseline x86-64)
     * so the caller's loop vectorizes. */
    x = x < -60.0f ? -60.0f : x;
    const float t = x * 1.44269504088896341f + 0.5f;
    float n = (float)(int32_t)t; /* floor(t): exact, |t| < 2^23 */
    n -= (float)(n > t);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    union { int32_t i; float f; } sc;
    sc.i = ((int32_t)n + 127) << 23;
    return p * sc.f;
}

static inline __attribute__((always_inline)) float psg__gelu1(float x)
{
    const float z = fabsf(x) * 0.70710678118654752f;
    const float t = 1.0f / (1.0f + 0.3275911f * z);
    const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f +
                       t * (-1.453152027f + t * 1.061405429f))));
    const float erfz = 1.0f - poly * psg__expf_poly(-z * z);
    /* erf is odd: 1 + erf(x) = 1 - erfz for x < 0 */
    return 0.5f * x * (1.0f + (1.0f - 2.0f * (float)(x < 0.0f)) * erfz);
}

static inline __attribute__((always_inline)) void psg__gelu_clamp(float *y, int64_t n, float clampv,
                                                                 int do_clamp)
{
    /* two loops, so neither has a branch inside (which stops vectorization) */
    if (do_clamp) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            const float g = psg__gelu1(y[i]);
            y[i] = g > clampv ? clampv : g; /* NaN stays NaN, as in np.minimum */
        }
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = psg__gelu1(y[i]);
    }
}

/* ---- portable kernel (any compiler / CPU) -------------------------------- */
/* Same interface as the SIMD `rows` kernels (one batch tile of w columns; the
 * driver gives the portable kernel the whole batch as one tile, read in place). */
#define PSG_SL_PORTABLE_ROWS(SUFFIX, IDX)                                                        \
    static void psg__sl_rows_portable_##SUFFIX(int64_t r0, int64_t r1, const int64_t *indptr,     \
                                               const IDX *idx, const float *val,                 \
                                               const float *bias, const float *xc, int64_t ldx,  \
                                               int64_t w, float *y, int64_t ldy, int act,        \
                                               float clampv, int do_clamp)                       \
    {                                                                                            \
        for (int64_t r = r0; r < r1; r++) {                                                      \
            float *restrict yr = y + (r - r0) * ldy;                                             \
            const float b = bias ? bias[r] : 0.0f;                                               \
            for (int64_t c = 0; c < w; c++) yr[c] = 0.0f;                                        \
            for (int64_t j = indptr[r]; j < indptr[r + 1]; j++) {                                \
                const float wv = val[j];                                                         \
                const float *restrict xr = xc + (int64_t)idx[j] * ldx;                           \
                _Pragma("omp simd") for (int64_t c = 0; c < w; c++) yr[c] += wv * xr[c];         \
            }                                                                                    \
            for (int64_t c = 0; c < w; c++) {                                                    \
                float t = yr[c] + b;                                                             \
                if (act == PSG_ACT_RELU) t = t < 0.0f ? 0.0f : t; /* NaN stays */               \
                if (do_clamp && act != PSG_ACT_GELU) t = t > clampv ? clampv : t;                \
                yr[c] = t;                                                                       \
            }                                                                                    \
            if (act == PSG_ACT_GELU) psg__gelu_clamp(yr, w, clampv, do_clamp);                   \
        }                                                                                        \
    }
PSG_SL_PORTABLE_ROWS(u16, uint16_t)
PSG_SL_PORTABLE_ROWS(i32, int32_t)

#if PSG_SL_HAVE_X86
/* ---- AVX-512F: 16 lanes ------------------------------------------------- */
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
#define PSG_SL_VEC __m512
#define PSG_SL_L 16
#define PSG_SL_ZERO() _mm512_setzero_ps()
#define PSG_SL_SET1(x) _mm512_set1_ps(x)
#define PSG_SL_LOAD(p) _mm512_loadu_ps(p)
#define PSG_SL_STORE(p, v) _mm512_storeu_ps((p), (v))
#define PSG_SL_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define PSG_SL_MAX(a, b) _mm512_max_ps((a), (b))
#define PSG_SL_MIN(a, b) _mm512_min_ps((a), (b))

#define PSG_I uint16_t
#define PSG_SL_FN(name) psg__sl_avx512_u16_##name
#include "templates/sparse_linear_simd.inc"
#undef PSG_I
#undef PSG_SL_FN
#define PSG_I int32_t
#define PSG_SL_FN(name) psg__sl_avx512_i32_##name
#include "templates/sparse_linear_simd.inc"
#undef PSG_I
#undef PSG_SL_FN

#include "templates/sparse_linear_undef.inc"
#pragma GCC pop_options

/* ---- AVX2 + FMA: 8 lanes ------------------------------------------------- */
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define PSG_SL_VEC __m256
#define PSG_SL_L 8
#define PSG_SL_ZERO() _mm256_setzero_ps()
#define PSG_SL_SET1(x) _mm256_set1_ps(x)
#define PSG_SL_LOAD(p) _mm256_loadu_ps(p)
#define PSG_SL_STORE(p, v) _mm256_storeu_ps((p), (v))
#define PSG_SL_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define PSG_SL_MAX(a, b) _mm256_max_ps((a), (b))
#define PSG_SL_MIN(a, b) _mm256_min_ps((a), (b))

#define PSG_I uint16_t
#define PSG_SL_FN(name) psg__sl_avx2_u16_##name
#include "templates/sparse_linear_simd.inc"
#undef PSG_I
#undef PSG_SL_FN
#define PSG_I int32_t
#define PSG_SL_FN(name) psg__sl_avx2_i32_##name
#include "templates/sparse_linear_simd.inc"
#undef PSG_I
#undef PSG_SL_FN

#include "templates/sparse_linear_undef.inc"
#pragma GCC pop_options
#endif /* PSG_SL_HAVE_X86 */

int psg_isa_supported(int isa)
{
    switch (isa) {
    case PSG_ISA_AUTO:
    case PSG_ISA_GENERIC:
        return 1;
#if PSG_SL_HAVE_X86
    case PSG_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case PSG_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

int psg_sparse_linear_best_isa(void)
{
    if (psg_isa_supported(PSG_ISA_AVX512)) return PSG_ISA_AVX512;
    if (psg_isa_supported(PSG_ISA_AVX2)) return PSG_ISA_AVX2;
    return PSG_ISA_GENERIC;
}

typedef void (*psg__sl_rows_fn)(int64_t, int64_t, const int64_t *, const void *, const float *,
                                const float *, const float *, int64_t, int64_t, float *, int64_t, int,
                                float, int);
typedef void (*psg__sl_blocked_fn)(int64_t, int64_t, const int64_t *, const void *, const float *,
                                   const float *, const float *, int64_t, float *, int64_t, float *, int64_t, int,
                                   float, int, int64_t, int64_t, int64_t *);

/* Bytes of a packed input tile that the feature-blocked kernel keeps in L1 at
 * once (rows_blocked in templates/sparse_linear_simd.inc): 3/4 of the core's L1d
 * (32 KiB where the C library cannot tell), leaving room for the weights, column
 * ids and output rows streaming past. Measured with a 48 KiB L1d (Intel Xeon VM,
 * 50% sparsity): 36 KiB blocks 1.02-1.08x faster than 24 KiB, 16 KiB 0.84-0.93x. */
#define PSG_SL_L1_BLOCK_BYTES (psg__l1d_bytes(32 * 1024) / 4 * 3)
/* Feature blocking pays when a row has at least this many entries per block on
 * average: each block costs a row one load and one store of its partial sums. */
#define PSG_SL_BLOCK_MIN_NNZ 16
/* Rows too sparse for L1-sized blocks (90% sparsity: ~10 entries per block) still
 * gain from larger blocks when the whole tile would crowd L2 (half of a 512 KiB
 * L2, where the weights stream through too): measured 1.2x for W 384x1536 at 90%
 * (1536 features, a 384 KiB tile, 48 KiB blocks), neutral for 384 features
 * (a 96 KiB tile stays in L2 anyway). Blocks stay under a quarter of that L2. */
#define PSG_SL_L2_TILE_BYTES (256 * 1024)
#define PSG_SL_L2_BLOCK_BYTES (128 * 1024)

/* Vectors per batch tile: 8, i.e. 8 independent FMA chains per output row and
 * each index/value load amortized over 8 FMAs. 4-vector tiles (smaller L2
 * footprint) were measured as well (`python -m bench model --part ablation`):
 * equal or slower on every MiniLM shape here, so they are only reachable
 * through the experiment override below. */
#define PSG_SL_NV_DEFAULT 8

/* Below this many multiply-adds a layer runs on the calling thread alone. It is
 * its own, not the SpMM planner's PSG_SERIAL_WORK, because a layer call is often
 * short and follows idle time (the wake-up below): measured on the 2-core VM with
 * the worker warm (back-to-back layer calls), 2 threads beat 1 down to ~5e4
 * multiply-adds (384x384 at 90%, batch 128, 1.9e6: 0.025 vs 0.046 ms); after
 * 5 ms idle they cost +0.025 ms there, and about 1e6 is where that wake-up
 * stops mattering. (After 20 ms idle any 2-thread call pays 4-7 ms to wake the
 * idle vCPU, whatever its size, so no cut-off can hide that.) */
#define PSG_SL_SERIAL_WORK ((int64_t)1 << 20)
/* ... except in a hot loop (the previous product ended under 1 ms ago, see
 * PSG_HOT_GAP_NS in partition.h): a chain of layers or a loop of calls finds
 * the worker awake, where 2 threads pay from ~5e4 multiply-adds (above). */
#define PSG_SL_HOT_MIN_WORK ((int64_t)1 << 16)

/* Per-thread scratch for a packed input tile, 64-byte aligned: reused across
 * calls because a fresh multi-MiB malloc is served by mmap and page-faulted in
 * on every call (several ms in a VM). Each OpenMP worker has its own (the
 * runtime keeps its workers alive between parallel regions), so a thread packs
 * only the tiles it computes, into memory that stays in its own core's cache.
 * Slot 0: the packed input tile; slot 1: the output block of the row-major
 * layout, which also holds the partial sums of feature blocks. A thread's
 * scratch is freed when the thread exits (a pthread key's destructor): a
 * program that calls from short-lived threads would otherwise leak it. */
typedef struct {
    float *buf[2];
    size_t cap[2];
} psg__sl_scratch_set;
static _Thread_local psg__sl_scratch_set *psg__sl_mine = NULL;

#if PSG_SL_HAVE_PTHREAD
static pthread_key_t psg__sl_key;
static int psg__sl_key_ok = 0;
static pthread_once_t psg__sl_once = PTHREAD_ONCE_INIT;

static void psg__sl_release(void *p)
{
    psg__sl_scratch_set *s = p;
    free(s->buf[0]);
    free(s->buf[1]);
    free(s);
}

static void psg__sl_make_key(void) { psg__sl_key_ok = pthread_key_create(&psg__sl_key, psg__sl_release) == 0; }
#endif

static float *psg__sl_scratch(int slot, size_t n)
{
    psg__sl_scratch_set *s = psg__sl_mine;
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return NULL;
#if PSG_SL_HAVE_PTHREAD
        pthread_once(&psg__sl_once, psg__sl_make_key);
        if (psg__sl_key_ok) pthread_setspecific(psg__sl_key, s);
#endif
        psg__sl_mine = s;
    }
    if (n > s->cap[slot]) {
        free(s->buf[slot]);
        const size_t bytes = (n * sizeof(float) + 63) / 64 * 64; /* aligned_alloc wants a multiple */
        s->buf[slot] = aligned_alloc(64, bytes);
        s->cap[slot] = s->buf[slot] ? n : 0;
    }
    return s->buf[slot];
}

/* 1 when a × b floats (a, b >= 0) cannot be addressed: the count or its byte count overflows int64. */
static int psg__sl_size_overflows(int64_t a, int64_t b)
{
    int64_t n;
    return __builtin_mul_overflow(a, b, &n) || n > INT64_MAX / (int64_t)sizeof(float);
}

/* One driver for both index types: checks, picks the kernel, cuts the work into
 * (batch tile, row chunk) items and runs them on a work-stealing team. */
static psg_status psg__sparse_linear(int64_t n_out, int64_t n_in, const int64_t *indptr,
                                     const void *indices, int idx16, const float *values,
                                     const float *bias, const float *xt, int64_t batch, float *yt,
                                     int act, float clamp_max, int isa, int n_threads, int layout)
{
    if (layout & ~(PSG_SL_X_ROW_MAJOR | PSG_SL_Y_ROW_MAJOR))
        return psg__fail(PSG_ERR_INVALID_ARG, "layout must combine PSG_SL_X_ROW_MAJOR and PSG_SL_Y_ROW_MAJOR, got %d",
                         layout);
    const int x_rm = (layout & PSG_SL_X_ROW_MAJOR) != 0, y_rm = (layout & PSG_SL_Y_ROW_MAJOR) != 0;
    psg__clear_error();
    if (n_out < 0 || n_in < 0 || batch < 0)
        return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension: n_out=%lld n_in=%lld batch=%lld",
                         (long long)n_out, (long long)n_in, (long long)batch);
    if (idx16 && n_in > 65536)
        return psg__fail(PSG_ERR_OVERFLOW, "uint16 column ids need n_in <= 65536, got %lld", (long long)n_in);
    if (psg__sl_size_overflows(n_out, batch) || psg__sl_size_overflows(n_in, batch))
        return psg__fail(PSG_ERR_OVERFLOW, "n_out=%lld or n_in=%lld times batch=%lld overflows", (long long)n_out,
                         (long long)n_in, (long long)batch);
    if (act != PSG_ACT_NONE && act != PSG_ACT_RELU && act != PSG_ACT_GELU)
        return psg__fail(PSG_ERR_INVALID_ARG, "unknown activation code %d", act);
    if (clamp_max != clamp_max) return psg__fail(PSG_ERR_INVALID_ARG, "clamp_max is NaN");
    if (isa == PSG_ISA_AUTO) isa = psg_sparse_linear_best_isa();
    if (!psg_isa_supported(isa))
        return psg__fail(PSG_ERR_UNSUPPORTED, "instruction set %d is not supported by this CPU or build", isa);
    if (n_out == 0 || batch == 0) {
        psg__set_team_size(1);
        return PSG_OK;
    }
    if (!indptr || !yt || (indptr[n_out] > 0 && (!indices || !values || !xt)))
        return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    const int do_clamp = !(clamp_max == INFINITY);

    psg__sl_rows_fn fn;
    psg__sl_blocked_fn bfn = NULL;
    switch (isa) {
#if PSG_SL_HAVE_X86
    case PSG_ISA_AVX512:
        fn = idx16 ? (psg__sl_rows_fn)psg__sl_avx512_u16_rows : (psg__sl_rows_fn)psg__sl_avx512_i32_rows;
        bfn = idx16 ? (psg__sl_blocked_fn)psg__sl_avx512_u16_rows_blocked
                    : (psg__sl_blocked_fn)psg__sl_avx512_i32_rows_blocked;
        break;
    case PSG_ISA_AVX2:
        fn = idx16 ? (psg__sl_rows_fn)psg__sl_avx2_u16_rows : (psg__sl_rows_fn)psg__sl_avx2_i32_rows;
        bfn = idx16 ? (psg__sl_blocked_fn)psg__sl_avx2_u16_rows_blocked
                    : (psg__sl_blocked_fn)psg__sl_avx2_i32_rows_blocked;
        break;
#endif
    default:
        fn = idx16 ? (psg__sl_rows_fn)psg__sl_rows_portable_u16 : (psg__sl_rows_fn)psg__sl_rows_portable_i32;
    }

    /* Batch tile width of the SIMD kernels (8 vectors); the portable kernel takes
     * the whole batch as one tile. The tile grid is fixed (tile t = columns
     * [t*tw, t*tw + tw)), whatever the thread count. */
    const int64_t lanes = isa == PSG_ISA_AVX512 ? 16 : 8;
    int nv = PSG_SL_NV_DEFAULT;
    {
        /* PSG_SL_NV=2|4|8 overrides the tile width: for the ablation in bench/model.py only. */
        const char *ev = getenv("PSG_SL_NV");
        if (ev && (ev[0] == '2' || ev[0] == '4' || ev[0] == '8') && ev[1] == 0) nv = ev[0] - '0';
    }
    const int64_t tw = isa == PSG_ISA_GENERIC ? batch : nv * lanes;
    const int64_t n_tiles = (batch + tw - 1) / tw;
    /* Read Xt in place only when it is one tile whose rows all start on a 64-byte
     * boundary: a vector load that straddles two cache lines costs two L1/L2
     * accesses, and the kernel is bound by exactly those (measured 2x slower
     * with NumPy's 16-byte-aligned arrays on an Intel Xeon). Otherwise each
     * thread packs the tile it computes into aligned rows of ldp floats, a
     * whole number of vectors, zero-padded past the batch: the kernels then
     * never need a masked load. */
    const int aligned = ((uintptr_t)xt % 64 == 0) && (batch * (int64_t)sizeof(float)) % 64 == 0;
    /* Row-major X (batch x n_in) is always packed: the packing loop transposes the tile.
     * With row-major Y (batch x n_out) each item's outputs go to a per-thread block that
     * is transposed into Y as it is stored. */
    const int pack = n_in > 0 && (x_rm || (isa != PSG_ISA_GENERIC && (n_tiles > 1 || !aligned)));
    const int64_t ldp = ((tw < batch ? tw : batch) + lanes - 1) / lanes * lanes;
    /* Feature blocks of fb input rows of the tile (full 8-vector tiles only):
     * worth it when the whole tile overflows L1 and rows keep enough entries
     * per block; for sparser rows, L2-sized blocks when the tile crowds L2.
     * PSG_SL_FB overrides fb (0: off), for bench/model.py only. */
    const int64_t row_bytes = tw * (int64_t)sizeof(float);
    int64_t fb = bfn && nv == 8 ? PSG_SL_L1_BLOCK_BYTES / row_bytes : 0;
    const int64_t max_blocks = n_out > 0 ? indptr[n_out] / (PSG_SL_BLOCK_MIN_NNZ * n_out) : 0;
    if (fb > 0 && fb < n_in && (n_in + fb - 1) / fb > max_blocks) {
        /* the fewest blocks that fit L2, in whole L1 blocks; still enough entries each */
        const int64_t l1 = fb, want = max_blocks > 1 ? (n_in + max_blocks - 1) / max_blocks : n_in;
        fb = (want + l1 - 1) / l1 * l1;
        if (n_in * row_bytes <= PSG_SL_L2_TILE_BYTES || fb * row_bytes > PSG_SL_L2_BLOCK_BYTES) fb = 0;
    }
    {
        const char *ev = getenv("PSG_SL_FB");
        if (ev && bfn && nv == 8) fb = atoll(ev);
    }
    if (fb > 0 && (fb >= n_in || indptr[n_out] < PSG_SL_BLOCK_MIN_NNZ * n_out * ((n_in + fb - 1) / fb)))
        fb = 0;
    const int64_t work = (indptr[n_out] + n_out) * batch;
    const int solo = work < PSG_SL_SERIAL_WORK && !psg__team_is_warm_for(work, PSG_SL_HOT_MIN_WORK);
    const int threads = solo ? 1 : psg__resolve_threads(n_threads);
    /* Row chunks per tile: a few per thread (work stealing evens out rows whose
     * cost nnz misjudges, and a thread delayed by another process), cut by nnz. */
    const int64_t per_tile = threads > 1 ? (n_tiles >= threads ? 4 : 8 * threads) : 1;
    const int64_t n_chunks = per_tile < n_out ? per_tile : n_out;
    const int64_t n_items = n_tiles * n_chunks;
    int64_t bounds_local[65];
    int64_t *bounds = n_chunks < 65 ? bounds_local : malloc((size_t)(n_chunks + 1) * sizeof *bounds);
    if (!bounds) return psg__fail(PSG_ERR_NO_MEMORY, "cannot allocate %lld chunk bounds", (long long)n_chunks);
    psg__partition_rows(n_out, indptr, n_chunks, bounds);
    psg__ws ws;
    if (psg__ws_init(&ws, n_items, threads) != 0) {
        if (bounds != bounds_local) free(bounds);
        return psg__fail(PSG_ERR_NO_MEMORY, "cannot allocate the scheduler");
    }
    int team = 1, no_mem = 0;
    /* Items are (tile, row chunk) pairs in tile-major order; thread t starts on
     * the t-th contiguous range, so with at least as many tiles as threads each
     * thread packs and streams only its own tiles. Items own disjoint output
     * blocks and every output is summed by one thread in storage order:
     * race-free and bit-identical for any team size. */
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        const int tid = omp_get_thread_num();
        if (tid == 0) team = omp_get_num_threads();
        float *mine = pack ? psg__sl_scratch(0, (size_t)n_in * (size_t)ldp) : NULL;
        /* also where feature blocks keep partial sums: Yt's own rows may alias in the cache */
        const int use_ob = y_rm || fb > 0;
        float *ob = use_ob ? psg__sl_scratch(1, (size_t)n_out * (size_t)ldp) : NULL;
        int64_t *cur = fb > 0 ? malloc((size_t)n_out * sizeof *cur) : NULL;
        if ((pack && !mine) || (use_ob && !ob) || (fb > 0 && !cur)) {
#pragma omp atomic write
            no_mem = 1;
        } else {
            int64_t have = -1; /* tile currently packed in `mine` */
            int64_t it;
            while ((it = psg__ws_next(&ws, tid)) >= 0) {
                const int64_t t = it / n_chunks, c = it % n_chunks;
                const int64_t c0 = t * tw, w = batch - c0 < tw ? batch - c0 : tw;
                const float *xc = xt ? xt + c0 : NULL;
                int64_t ldx = batch;
                if (pack) {
                    if (have != t) {
                        if (x_rm) /* Xt tile = X[c0 : c0 + w, :] transposed, 8 samples at a time */
                            for (int64_t b0 = 0; b0 < w; b0 += 8)
                                for (int64_t j = 0; j < n_in; j++)
                                    for (int64_t b = b0; b < b0 + 8 && b < w; b++)
                                        mine[j * ldp + b] = xt[(c0 + b) * n_in + j];
                        else
                            for (int64_t j = 0; j < n_in; j++)
                                memcpy(mine + j * ldp, xt + j * batch + c0, (size_t)w * sizeof(float));
                        if (w < ldp)
                            for (int64_t j = 0; j < n_in; j++)
                                memset(mine + j * ldp + w, 0, (size_t)(ldp - w) * sizeof(float));
                        have = t;
                    }
                    xc = mine;
                    ldx = ldp;
                }
                const int64_t r0 = bounds[c], r1 = bounds[c + 1];
                float *yo = y_rm ? ob : yt + r0 * batch + c0; /* row r0's outputs */
                const int64_t ldy = y_rm ? ldp : batch;
                if (fb > 0 && w == tw)
                    bfn(r0, r1, indptr, indices, values, bias, xc, ldx, yo, ldy, ob, ldp, act, clamp_max, do_clamp,
                        n_in, fb, cur);
                else
                    fn(r0, r1, indptr, indices, values, bias, xc, ldx, w, yo, ldy, act, clamp_max, do_clamp);
                if (y_rm) /* Y[c0 + b, r] = block (r - r0, b), 16 rows at a time: 4 KiB of the
                                  block in L1, one 64-byte line of Y per (sample, 16 rows) */
                    for (int64_t rb = r0; rb < r1; rb += 16) {
                        const int64_t re = rb + 16 < r1 ? rb + 16 : r1;
                        for (int64_t b = 0; b < w; b++) {
                            float *restrict yrow = yt + (c0 + b) * n_out;
                            for (int64_t r = rb; r < re; r++) yrow[r] = ob[(r - r0) * ldp + b];
                        }
                    }
            }
        }
        free(cur);
    }
    psg__ws_free(&ws);
    if (bounds != bounds_local) free(bounds);
    if (no_mem)
        return psg__fail(PSG_ERR_NO_MEMORY, "cannot allocate the %lld x %lld packed input tile, its output block or %lld row "
                         "cursors", (long long)n_in, (long long)ldp, (long long)n_out);
    psg__set_team_size(team);
    psg__mark_product_end();
    return PSG_OK;
}

psg_status psg_sparse_linear_u16_f32(int64_t n_out, int64_t n_in, const int64_t *indptr,
                                     const uint16_t *indices, const float *values, const float *bias,
                                     const float *xt, int64_t batch, float *yt, int act, float clamp_max,
                                     int isa, int n_threads)
{
    return psg__sparse_linear(n_out, n_in, indptr, indices, 1, values, bias, xt, batch, yt, act, clamp_max, isa,
                              n_threads, 0);
}

psg_status psg_sparse_linear_i32_f32(int64_t n_out, int64_t n_in, const int64_t *indptr,
                                     const int32_t *indices, const float *values, const float *bias,
                                     const float *xt, int64_t batch, float *yt, int act, float clamp_max,
                                     int isa, int n_threads)
{
    return psg__sparse_linear(n_out, n_in, indptr, indices, 0, values, bias, xt, batch, yt, act, clamp_max, isa,
                              n_threads, 0);
}

psg_status psg_sparse_linear_layout_f32(int64_t n_out, int64_t n_in, const int64_t *indptr, const void *indices,
                                        int index_bytes, const float *values, const float *bias, const float *x,
                                        int64_t batch, float *y, int act, float clamp_max, int isa, int n_threads,
                                        int layout)
{
    if (index_bytes != 2 && index_bytes != 4) {
        psg__clear_error();
        return psg__fail(PSG_ERR_INVALID_ARG, "index_bytes must be 2 (uint16) or 4 (int32), got %d", index_bytes);
    }
    return psg__sparse_linear(n_out, n_in, indptr, indices, index_bytes == 2, values, bias, x, batch, y, act,
                              clamp_max, isa, n_threads, layout);
}

psg_status psg_nonzero_columns_f32(int64_t n_rows, int64_t batch, const float *a, int64_t *keep,
                                   int64_t *n_keep, int n_threads)
{
    psg__clear_error();
    if (n_rows < 0 || batch < 0)
        return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension: n_rows=%lld batch=%lld",
                         (long long)n_rows, (long long)batch);
    if (!n_keep || (batch > 0 && !keep) || (n_rows > 0 && batch > 0 && !a))
        return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    if (psg__sl_size_overflows(n_rows, batch))
        return psg__fail(PSG_ERR_OVERFLOW, "n_rows=%lld times batch=%lld overflows", (long long)n_rows,
                         (long long)batch);
    unsigned char *flag = calloc((size_t)(batch > 0 ? batch : 1), 1);
    if (!flag) return psg__fail(PSG_ERR_NO_MEMORY, "cannot allocate %lld flags", (long long)batch);
    const int threads = psg__resolve_threads(n_threads);
    (void)threads; /* unused without OpenMP */
    /* Threads own disjoint column ranges (no shared writes); each scans every row. */
#pragma omp parallel num_threads(threads) if (n_rows * batch > 262144)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t c0 = batch * t / nt, c1 = batch * (t + 1) / nt;
        for (int64_t r = 0; r < n_rows; r++) {
            const float *ar = a + r * batch;
            for (int64_t c = c0; c < c1; c++) flag[c] |= (ar[c] != 0.0f);
        }
    }
    int64_t m = 0;
    for (int64_t c = 0; c < batch; c++)
        if (flag[c]) keep[m++] = c;
    *n_keep = m;
    free(flag);
    return PSG_OK;
}

psg_status psg_gather_columns_f32(int64_t n_rows, int64_t batch, const float *a, const int64_t *keep,
                                  int64_t n_keep, float *out, int n_threads)
{
    psg__clear_error();
    if (n_rows < 0 || batch < 0 || n_keep < 0)
        return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension");
    if (n_rows == 0 || n_keep == 0) return PSG_OK;
    if (!a || !keep || !out) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    if (psg__sl_size_overflows(n_rows, batch) || psg__sl_size_overflows(n_rows, n_keep))
        return psg__fail(PSG_ERR_OVERFLOW, "n_rows=%lld times batch=%lld or n_keep=%lld overflows",
                         (long long)n_rows, (long long)batch, (long long)n_keep);
    for (int64_t i = 0; i < n_keep; i++)
        if (keep[i] < 0 || keep[i] >= batch)
            return psg__fail(PSG_ERR_INDEX_RANGE, "keep[%lld] = %lld is outside [0, %lld)", (long long)i,
                             (long long)keep[i], (long long)batch);
    const int threads = psg__resolve_threads(n_threads);
    (void)threads; /* unused without OpenMP */
#pragma omp parallel for num_threads(threads) schedule(static) if (n_rows * n_keep > 262144)
    for (int64_t r = 0; r < n_rows; r++) {
        const float *ar = a + r * batch;
        float *o = out + r * n_keep;
        for (int64_t i = 0; i < n_keep; i++) o[i] = ar[keep[i]];
    }
    return PSG_OK;
}

psg_status psg_transpose_f32(int64_t n_rows, int64_t n_cols, const float *a, float *out, int n_threads)
{
    psg__clear_error();
    if (n_rows < 0 || n_cols < 0)
        return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension: n_rows=%lld n_cols=%lld", (long long)n_rows,
                         (long long)n_cols);
    if (n_rows == 0 || n_cols == 0) return PSG_OK;
    if (!a || !out) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    if (psg__sl_size_overflows(n_rows, n_cols))
        return psg__fail(PSG_ERR_OVERFLOW, "n_rows=%lld times n_cols=%lld overflows", (long long)n_rows,
                         (long long)n_cols);
    /* 32 × 32 float blocks: a block's source rows and destination rows are
     * 32 cache lines each, so both sides stay in L1 while it is copied. */
    enum { BS = 32 };
    const int64_t n_rb = (n_rows + BS - 1) / BS;
    const int threads = psg__resolve_threads(n_threads);
    (void)threads; /* unused without OpenMP */
#pragma omp parallel for num_threads(threads) schedule(static) if (n_rows * n_cols > 65536)
    for (int64_t rb = 0; rb < n_rb; rb++) {
        const int64_t r0 = rb * BS, r1 = r0 + BS < n_rows ? r0 + BS : n_rows;
        for (int64_t c0 = 0; c0 < n_cols; c0 += BS) {
            const int64_t c1 = c0 + BS < n_cols ? c0 + BS : n_cols;
            for (int64_t c = c0; c < c1; c++)
                for (int64_t r = r0; r < r1; r++) out[c * n_rows + r] = a[r * n_cols + c];
        }
    }
    return PSG_OK;
}
