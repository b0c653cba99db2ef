/* WebGraph BVGraph decoder (Boldi & Vigna, "The WebGraph Framework I:
 * Compression Techniques", WWW 2004; format as documented for
 * it.unimi.dsi.webgraph.BVGraph).
 *
 * For each node x, in order, the bit stream (most significant bit of each byte
 * first) holds:
 *   outdegree d                                   (outdegree code, gamma by default)
 *   if d > 0 and window > 0: reference r          (reference code, unary by default)
 *   if r > 0: block count b, then b block lengths (gamma; all but the first are
 *             stored minus one). Blocks alternate copy / skip over the successor
 *             list of node x - r, starting with copy; when b is even the rest of
 *             that list is copied too.
 *   if successors remain and intervals are on: interval count, then intervals
 *             (first left end as x + nat2int(gamma), later ones as gaps from the
 *             previous end, lengths minus min_interval_length)
 *   remaining successors as residuals: the first as x + nat2int(zeta_k), then
 *             gaps minus one (zeta_k by default).
 * The successor list is the sorted merge of copied, interval and residual arcs.
 *
 * The decoder bounds every read by the stream length, and checks every decoded
 * id, degree and reference, so a corrupted file fails with PSG_ERR_FORMAT.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "pysparsegraph/io.h"

typedef struct {
    const uint8_t *d;
    int64_t nbytes;
    uint64_t pos;  /* bit position */
    uint64_t nbits;
    int bad;
} bitreader;

/* The next 64 bits starting at pos (zero padded past the end). */
static inline uint64_t peek64(const bitreader *br)
{
    uint64_t byte = br->pos >> 3;
    uint64_t w = 0;
    if (byte + 8 <= (uint64_t)br->nbytes) {
        for (int i = 0; i < 8; i++) w = (w << 8) | br->d[byte + i];
    } else {
        for (int i = 0; i < 8; i++) w = (w << 8) | (byte + i < (uint64_t)br->nbytes ? br->d[byte + i] : 0);
    }
    return w << (br->pos & 7);  /* at least 57 valid bits */
}

static inline uint64_t read_bits(bitreader *br, int k)
{
    if (k == 0) return 0;
    uint64_t v = 0;
    while (k > 56) {
        v = (v << 28) | (peek64(br) >> 36);
        br->pos += 28;
        k -= 28;
    }
    v = (v << k) | (peek64(br) >> (64 - k));
    br->pos += (uint64_t)k;
    if (br->pos > br->nbits) br->bad = 1;
    return v;
}

static inline uint64_t read_unary(bitreader *br)
{
    uint64_t n = 0;
    for (;;) {
        if (br->pos >= br->nbits) { br->bad = 1; return 0; }
        uint64_t w = peek64(br);
        if (w) {
            int z = __builtin_clzll(w);
            if (z < 57) {
                br->pos += (uint64_t)z + 1;
                if (br->pos > br->nbits) br->bad = 1;
                return n + (uint64_t)z;
            }
        }
        n += 57;
        br->pos += 57;
    }
}

static inline uint64_t read_gamma(bitreader *br)
{
    uint64_t k = read_unary(br);
    if (k > 62) { br->bad = 1; return 0; }
    return ((1ull << k) | read_bits(br, (int)k)) - 1;
}

static inline uint64_t read_delta(bitreader *br)
{
    uint64_t k = read_gamma(br);
    if (k > 62) { br->bad = 1; return 0; }
    return ((1ull << k) | read_bits(br, (int)k)) - 1;
}

static inline uint64_t read_zeta(bitreader *br, int k)
{
    uint64_t h = read_unary(br);
    if (h * (uint64_t)k + (uint64_t)k > 62) { br->bad = 1; return 0; }
    uint64_t left = 1ull << (h * (uint64_t)k);
    uint64_t m = read_bits(br, (int)(h * (uint64_t)k + (uint64_t)k - 1));
    if (m < left) return m + left - 1;
    return (m << 1) + read_bits(br, 1) - 1;
}

static inline uint64_t read_code(bitreader *br, int code, int zk)
{
    switch (code) {
    case 0: return read_gamma(br);
    case 1: return read_delta(br);
    case 2: return read_zeta(br, zk);
    case 3: return read_unary(br);
    default: br->bad = 1; return 0;
    }
}

static inline int64_t nat2int(uint64_t n) { return (n & 1) ? -(int64_t)((n + 1) >> 1) : (int64_t)(n >> 1); }

psg_status psg_bvgraph_decode(const uint8_t *data, int64_t len, const psg_bvgraph_params *p,
                              psg_csr_arrays *out, int64_t *counters)
{
    psg__clear_error();
    if (!data || !p || !out || len < 0) return psg__fail(PSG_ERR_INVALID_ARG, "NULL argument");
    if (len > INT64_MAX / 8)
        return psg__fail(PSG_ERR_OVERFLOW, "len = %lld bytes: its bit count overflows int64", (long long)len);
    const int64_t n = p->n_nodes, m = p->n_arcs;
    if (n < 0 || m < 0 || n > (int64_t)INT32_MAX || p->window_size < 0 || p->min_interval_length < 0 ||
        p->zeta_k < 1 || p->zeta_k > 20)
        return psg__fail(PSG_ERR_FORMAT, "invalid BVGraph parameters (nodes=%lld arcs=%lld window=%d zetak=%d)",
                         (long long)n, (long long)m, p->window_size, p->zeta_k);
    /* every node costs at least one bit (its outdegree), so a larger count is
     * a corrupt .properties file, not a reason to allocate that much */
    if (n > len * 8 || (n > 0 && m / n > n))
        return psg__fail(PSG_ERR_FORMAT, "nodes=%lld / arcs=%lld cannot fit a %lld-byte stream", (long long)n,
                         (long long)m, (long long)len);
    int codes[5] = {p->code_outdegrees, p->code_references, p->code_blocks, p->code_residuals, p->code_block_count};
    for (int i = 0; i < 5; i++)
        if (codes[i] < 0 || codes[i] > 3) return psg__fail(PSG_ERR_UNSUPPORTED, "unsupported instantaneous code %d", codes[i]);
    int64_t *indptr = malloc((size_t)(n + 1) * sizeof(int64_t));
    int32_t *ind = malloc((size_t)(m ? m : 1) * sizeof(int32_t));
    /* scratch for one list: copied, interval and residual parts */
    int32_t *cp = NULL, *iv = NULL, *rs = NULL;
    int64_t scratch = 0;
    if (!indptr || !ind) { free(indptr); free(ind); return psg__fail(PSG_ERR_NO_MEMORY, "out of memory"); }
    bitreader br = {data, len, 0, (uint64_t)len * 8, 0};
    int64_t cnt[8] = {0};
    int64_t w = 0;
    const char *err = NULL;
    int64_t err_node = -1;
    indptr[0] = 0;
#define BAD(msg) do { err = (msg); err_node = x; goto fail; } while (0)
    for (int64_t x = 0; x < n; x++) {
        uint64_t b0 = br.pos;
        uint64_t d = read_code(&br, p->code_outdegrees, p->zeta_k);
        cnt[3] += (int64_t)(br.pos - b0);
        if (br.bad) BAD("stream ends inside an outdegree");
        if (d > (uint64_t)(m - w) || d > (uint64_t)n) BAD("outdegree larger than the arcs left");
        if ((int64_t)d > scratch) {
            int64_t ns = (int64_t)d * 2 + 16;
            int32_t *a = realloc(cp, (size_t)ns * 4), *b = a ? realloc(iv, (size_t)ns * 4) : NULL;
            if (a) cp = a;
            if (b) iv = b;
            int32_t *c = (a && b) ? realloc(rs, (size_t)ns * 4) : NULL;
            if (c) rs = c;
            if (!a || !b || !c) { free(indptr); free(ind); free(cp); free(iv); free(rs); return psg__fail(PSG_ERR_NO_MEMORY, "out of memory"); }
            scratch = ns;
        }
        int64_t ncp = 0, niv = 0, nrs = 0;
        int64_t extra = (int64_t)d;
        if (d > 0) {
            uint64_t ref = 0;
            if (p->window_size > 0) {
                b0 = br.pos;
                ref = read_code(&br, p->code_references, p->zeta_k);
                cnt[4] += (int64_t)(br.pos - b0);
                if (br.bad) BAD("stream ends inside a reference");
                if (ref > (uint64_t)p->window_size || (int64_t)ref > x) BAD("reference outside the window");
            }
            if (ref > 0) {
                const int64_t rn = x - (int64_t)ref;
                const int32_t *rl = ind + indptr[rn];
                const int64_t rd = indptr[rn + 1] - indptr[rn];
                b0 = br.pos;
                uint64_t nb = read_code(&br, p->code_block_count, p->zeta_k);
                if (br.bad || nb > (uint64_t)rd + 1) BAD("bad block count");
                int64_t pos = 0, total = 0;
                for (uint64_t i = 0; i < nb; i++) {
                    uint64_t bl = read_code(&br, p->code_blocks, p->zeta_k) + (i ? 1 : 0);
                    if (br.bad || bl > (uint64_t)(rd - total)) BAD("copy block beyond the reference list");
                    if ((i & 1) == 0)
                        for (uint64_t j = 0; j < bl; j++) cp[ncp++] = rl[pos + (int64_t)j];
                    pos += (int64_t)bl;
                    total += (int64_t)bl;
                }
                if ((nb & 1) == 0)
                    for (; pos < rd; pos++) cp[ncp++] = rl[pos];
                cnt[5] += (int64_t)(br.pos - b0);
                if (ncp > (int64_t)d) BAD("more copied arcs than the outdegree");
                extra = (int64_t)d - ncp;
            }
            if (extra > 0 && p->min_interval_length > 0) {
                b0 = br.pos;
                uint64_t ni = read_gamma(&br);
                if (br.bad || ni > (uint64_t)extra) BAD("bad interval count");
                int64_t prev = 0;
                for (uint64_t i = 0; i < ni; i++) {
                    /* a gap beyond 2n is corrupt: refused before the signed sum could overflow */
                    const uint64_t gap = read_gamma(&br);
                    if (br.bad || gap > (uint64_t)n * 2) BAD("bad interval");
                    const int64_t left = i == 0 ? x + nat2int(gap) : prev + (int64_t)gap + 1;
                    uint64_t l = read_gamma(&br) + (uint64_t)p->min_interval_length;
                    if (br.bad || left < 0 || l > (uint64_t)(extra - niv) || left + (int64_t)l > n) BAD("bad interval");
                    for (uint64_t j = 0; j < l; j++) iv[niv++] = (int32_t)(left + (int64_t)j);
                    prev = left + (int64_t)l;
                }
                cnt[6] += (int64_t)(br.pos - b0);
                extra -= niv;
            }
            if (extra > 0) {
                b0 = br.pos;
                int64_t prev = 0;
                for (int64_t i = 0; i < extra; i++) {
                    uint64_t v = read_code(&br, p->code_residuals, p->zeta_k);
                    if (br.bad || v > (uint64_t)n * 2) BAD("residual outside [0, nodes)"); /* before the sum */
                    int64_t s = i == 0 ? x + nat2int(v) : prev + (int64_t)v + 1;
                    if (s < 0 || s >= n) BAD("residual outside [0, nodes)");
                    rs[nrs++] = (int32_t)s;
                    prev = s;
                }
                cnt[7] += (int64_t)(br.pos - b0);
            }
        }
        /* three-way merge of sorted, disjoint parts */
        int64_t a = 0, b = 0, c = 0;
        const int32_t BIG = INT32_MAX;
        while (a < ncp || b < niv || c < nrs) {
            int32_t va = a < ncp ? cp[a] : BIG, vb = b < niv ? iv[b] : BIG, vc = c < nrs ? rs[c] : BIG;
            int32_t v;
            if (va <= vb && va <= vc) { v = va; a++; }
            else if (vb <= vc) { v = vb; b++; }
            else { v = vc; c++; }
            if (w > indptr[x] && ind[w - 1] >= v) BAD("successors not strictly increasing");
            ind[w++] = v;
        }
        cnt[0] += ncp;
        cnt[1] += niv;
        cnt[2] += nrs;
        indptr[x + 1] = w;
    }
#undef BAD
    if (w != m) {
        free(indptr); free(ind); free(cp); free(iv); free(rs);
        return psg__fail(PSG_ERR_FORMAT, "decoded %lld arcs but the properties say %lld", (long long)w, (long long)m);
    }
    free(cp); free(iv); free(rs);
    out->indptr = indptr;
    out->indices = ind;
    out->values = NULL;
    out->nnz = w;
    if (counters) memcpy(counters, cnt, sizeof cnt);
    return PSG_OK;
fail:
    free(indptr); free(ind); free(cp); free(iv); free(rs);
    return psg__fail(PSG_ERR_FORMAT, "BVGraph node %lld (bit %llu of %llu): %s", (long long)err_node,
                     (unsigned long long)br.pos, (unsigned long long)br.nbits, err);
}
