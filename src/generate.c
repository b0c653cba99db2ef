/* Synthetic graph generators (R-MAT, Erdős–Rényi, 2-D grid). */
#include "internal.h"
#include "pysparsegraph/generate.h"

/* splitmix64 finaliser: a strong 64-bit mix, used as a counter-based RNG
 * (hash of seed and counters), so draws need no shared state. */
static inline uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t draw(uint64_t seed, uint64_t e, uint64_t i)
{
    return mix64(mix64(seed ^ mix64(e)) + i * 0xd1b54a32d192ed03ull);
}

/* A seeded bijection of [0, 2^bits): odd multiplications and xor-shifts are
 * invertible modulo 2^bits. */
static inline uint64_t scramble_id(uint64_t v, int bits, uint64_t k1, uint64_t k2)
{
    if (bits == 0) return 0;
    const uint64_t mask = bits >= 64 ? ~0ull : ((1ull << bits) - 1);
    const int sh = bits / 2 > 0 ? bits / 2 : 1;
    v = (v * (k1 | 1)) & mask;
    v ^= v >> sh;
    v = (v * (k2 | 1)) & mask;
    v ^= v >> sh;
    v = (v * (k1 | 1)) & mask;
    return v;
}

psg_status psg_generate_rmat(int scale, int64_t n_edges, double a, double b, double c, uint64_t seed,
                             int scramble, int64_t *src, int64_t *dst, int n_threads)
{
    psg__clear_error();
    if (scale < 0 || scale > 40) return psg__fail(PSG_ERR_INVALID_ARG, "scale must be in [0, 40], got %d", scale);
    if (n_edges < 0) return psg__fail(PSG_ERR_INVALID_ARG, "n_edges is negative (%lld)", (long long)n_edges);
    if (!(a >= 0 && b >= 0 && c >= 0 && a + b + c <= 1.0 + 1e-12))
        return psg__fail(PSG_ERR_INVALID_ARG, "a, b, c must be >= 0 with a + b + c <= 1 (got %g, %g, %g)", a, b, c);
    if (n_edges > 0 && (!src || !dst)) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    /* thresholds on 32-bit uniforms: quadrant 0 (a), 1 (b: src 0, dst 1), 2 (c), 3 (d) */
    const double two32 = 4294967296.0;
    const uint64_t ta = (uint64_t)(a * two32), tb = (uint64_t)((a + b) * two32),
                   tc = (uint64_t)((a + b + c) * two32);
    const uint64_t k1 = mix64(seed ^ 0x5ca1ab1eull), k2 = mix64(seed ^ 0xfeedfaceull);
    const int threads = psg__resolve_threads(n_threads);
    (void)threads; /* unused without OpenMP */
#pragma omp parallel for num_threads(threads) schedule(static) if (n_edges > 65536)
    for (int64_t e = 0; e < n_edges; e++) {
        uint64_t u = 0, v = 0, r = 0;
        for (int l = 0; l < scale; l++) {
            /* two levels per 64-bit draw */
            if ((l & 1) == 0) r = draw(seed, (uint64_t)e, (uint64_t)l);
            const uint64_t x = (l & 1) ? (r >> 32) : (r & 0xffffffffull);
            const int q = x < ta ? 0 : x < tb ? 1 : x < tc ? 2 : 3;
            u = (u << 1) | (uint64_t)(q >> 1);
            v = (v << 1) | (uint64_t)(q & 1);
        }
        if (scramble) {
            u = scramble_id(u, scale, k1, k2);
            v = scramble_id(v, scale, k1, k2);
        }
        src[e] = (int64_t)u;
        dst[e] = (int64_t)v;
    }
    return PSG_OK;
}

psg_status psg_generate_er(int64_t n, int64_t n_edges, uint64_t seed, int64_t *src, int64_t *dst, int n_threads)
{
    psg__clear_error();
    if (n < 0 || n_edges < 0)
        return psg__fail(PSG_ERR_INVALID_ARG, "n and n_edges must be >= 0 (got %lld, %lld)", (long long)n,
                         (long long)n_edges);
    if (n == 0 && n_edges > 0) return psg__fail(PSG_ERR_INVALID_ARG, "n_edges > 0 needs n > 0");
    if (n_edges > 0 && (!src || !dst)) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    const int threads = psg__resolve_threads(n_threads);
    (void)threads; /* unused without OpenMP */
#pragma omp parallel for num_threads(threads) schedule(static) if (n_edges > 65536)
    for (int64_t e = 0; e < n_edges; e++) {
        /* 128-bit multiply-shift maps a 64-bit draw to [0, n) without modulo bias worth noting */
        const uint64_t r1 = draw(seed, (uint64_t)e, 0), r2 = draw(seed, (uint64_t)e, 1);
        src[e] = (int64_t)(((unsigned __int128)r1 * (uint64_t)n) >> 64);
        dst[e] = (int64_t)(((unsigned __int128)r2 * (uint64_t)n) >> 64);
    }
    return PSG_OK;
}

psg_status psg_generate_grid2d(int64_t rows, int64_t cols, int64_t *indptr, int32_t *indices, int n_threads)
{
    psg__clear_error();
    if (rows < 0 || cols < 0) return psg__fail(PSG_ERR_INVALID_ARG, "rows and cols must be >= 0");
    if (rows > 0 && cols > 0 && rows > (int64_t)2147483647 / cols)
        return psg__fail(PSG_ERR_OVERFLOW, "rows*cols must be < 2^31 (int32 node ids)");
    const int64_t n = rows * cols;
    if (!indptr || (!indices && n > 1)) return psg__fail(PSG_ERR_INVALID_ARG, "indptr or indices is NULL");
    const int threads = psg__resolve_threads(n_threads);
    (void)threads; /* unused without OpenMP */
    /* Degree of node (i, j) is known in closed form, so the offsets of row i
     * are computable without a scan: row i holds cols nodes, each of degree
     * (i>0)+(i<rows-1)+(j>0)+(j<cols-1). */
    const int64_t inner_row = 2 * (cols - 1) + cols * 0; /* horizontal links per grid row, both ways */
    indptr[0] = 0;
#pragma omp parallel for num_threads(threads) schedule(static) if (n > 65536)
    for (int64_t i = 0; i < rows; i++) {
        /* entries before grid row i: horizontal links of i rows + vertical links */
        int64_t before = i * (cols > 0 ? inner_row : 0) + (i > 0 ? cols * (2 * i - 1) : 0);
        for (int64_t j = 0; j < cols; j++) {
            const int64_t id = i * cols + j;
            int64_t p = before;
            if (i > 0) indices[p++] = (int32_t)(id - cols);
            if (j > 0) indices[p++] = (int32_t)(id - 1);
            if (j < cols - 1) indices[p++] = (int32_t)(id + 1);
            if (i < rows - 1) indices[p++] = (int32_t)(id + cols);
            indptr[id + 1] = p;
            before = p;
        }
    }
    return PSG_OK;
}
