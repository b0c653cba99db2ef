/* Text graph input (edge lists, Matrix Market bodies) into CSR, and text output.
 *
 * See include/pysparsegraph/io.h for the builder's contract. Design notes:
 * - A block is cut into one piece per thread at newline boundaries; each thread
 *   first counts its newlines (an upper bound on its entries), then parses its
 *   piece into its own slice of a per-block temporary. Nothing is allocated
 *   per line and no locale-dependent libc call runs on the common path.
 * - Appending the parsed block to the store is serial and in file order, so the
 *   result (including duplicate handling) does not depend on the thread count.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "pysparsegraph/io.h"

#define PSG_ID_LIMIT ((int64_t)INT32_MAX - 1) /* ids are stored as int32 */

#if defined(__linux__)
#include <sys/mman.h>
#endif

/* Large output arrays: 2 MiB aligned and marked for transparent huge pages,
 * because first-touch page faults of a fresh 10 MB array cost about 1 ms per
 * MB on a VM (512 times fewer faults with huge pages). Freed with free(). */
static void *alloc_big(size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= ((size_t)4 << 20)) {
        const size_t huge = (size_t)2 << 20;
        size_t rounded = (bytes + huge - 1) / huge * huge;
        void *p = aligned_alloc(huge, rounded);
        if (p) {
            madvise(p, rounded, MADV_HUGEPAGE);
            return p;
        }
    }
#endif
    return malloc(bytes ? bytes : 1);
}

enum { MODE_RUN_A = 0, MODE_RUN_B = 1, MODE_PAIRS = 2, MODE_VALUES = 3 };

struct psg_text_builder {
    psg_text_options opt;
    int threads;
    int nfields;           /* fields per data line, fixed by the first data line; -1 unknown */
    int64_t line;          /* line number of the next byte fed */
    int64_t n;             /* entries stored */
    int64_t max_a, max_b;
    int64_t weighted_lines;
    int mode;
    int mono_a, mono_b;    /* column non-decreasing over everything stored so far */
    int64_t last_a, last_b;
    int32_t *sa, *sb;      /* PAIRS: a, b; RUN_A: sb = b; RUN_B: sb = a */
    double *sv;
    int64_t cap;
    int64_t *cnt;          /* run modes: entries per key */
    int64_t cnt_len, cnt_cap;
    int32_t *ta, *tb;      /* per-block temporaries (ids are < 2^31 once checked) */
    double *tv;
    int64_t tcap;
};

typedef struct {
    const char *beg, *end;
    int64_t newlines;
    int64_t off;           /* start of this piece's slice of the temporaries */
    int64_t count;
    int64_t weighted;
    int err;
    int64_t err_line;      /* 0-based line inside the piece */
    char msg[192];
} piece;

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline int is_sp(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
static inline int is_digit(char c) { return (unsigned)(c - '0') < 10u; }

/* Skips blanks. A '\r' among them that text follows on the same line is a
 * bare carriage return: a line end of a file with CR line ends, which would
 * otherwise read as a blank and join its lines (losing the ones that land in
 * ignored columns). Only "\n" and "\r\n" ends are read. */
static inline const char *skip_sp(const char *p, const char *e, int *bare_cr)
{
    const char *s = p;
    while (p < e && is_sp(*p)) p++;
    *bare_cr = p < e && *p != '\n' && memchr(s, '\r', (size_t)(p - s)) != NULL;
    return p;
}

/* Length of the text to quote in an error message: up to 20 bytes of the line. */
static int snip(const char *p, const char *e)
{
    int n = 0;
    while (p + n < e && n < 20 && p[n] != '\n' && p[n] != '\r') n++;
    return n;
}

/* Real number. The common case (<= 19 significant digits, |exponent| <= 22,
 * mantissa < 2^53) is computed exactly as one multiply or divide of two exact
 * doubles, which is correctly rounded (Clinger's fast path); everything else
 * (long mantissas, big exponents, inf/nan) goes to strtod on a copy. */
static const char *parse_real(const char *p, const char *e, double *out)
{
    const char *start = p;
    int neg = 0;
    if (p < e && (*p == '+' || *p == '-')) neg = (*p++ == '-');
    uint64_t m = 0;
    int digits = 0, exp10 = 0, any = 0;
    while (p < e && is_digit(*p)) {
        any = 1;
        if (digits < 19) { m = m * 10 + (uint64_t)(*p - '0'); if (m) digits++; }
        else exp10++, digits++;
        p++;
    }
    if (p < e && *p == '.') {
        p++;
        while (p < e && is_digit(*p)) {
            any = 1;
            if (digits < 19) { m = m * 10 + (uint64_t)(*p - '0'); if (m) digits++; exp10--; }
            else digits++;
            p++;
        }
    }
    if (!any) goto slow;
    if (p < e && (*p == 'e' || *p == 'E' || *p == 'd' || *p == 'D')) {
        const char *q = p + 1;
        int eneg = 0, ev = 0, eany = 0;
        if (q < e && (*q == '+' || *q == '-')) eneg = (*q++ == '-');
        while (q < e && is_digit(*q)) { if (ev < 100000) ev = ev * 10 + (*q - '0'); q++; eany = 1; }
        if (!eany) return NULL;
        exp10 += eneg ? -ev : ev;
        p = q;
    }
    if (p < e && !is_sp(*p) && *p != '\n') return NULL;
    if (digits <= 19 && m <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)m;
        v = exp10 < 0 ? v / POW10[-exp10] : v * POW10[exp10];
        *out = neg ? -v : v;
        return p;
    }
slow: {
        char tmp[128];
        const char *q = start;
        while (q < e && !is_sp(*q) && *q != '\n') q++;
        size_t len = (size_t)(q - start);
        if (len == 0 || len >= sizeof tmp) return NULL;
        memcpy(tmp, start, len);
        tmp[len] = 0;
        char *endp;
        double v = strtod(tmp, &endp);
        if (endp != tmp + len) return NULL;
        *out = v;
        return q;
    }
}

/* Parses one piece. Returns 0 or sets pc->err. The line being parsed when an
 * error occurs is pc->err_line (0-based inside the piece). */
static void parse_piece(const psg_text_builder *b, piece *pc, int32_t *ta, int32_t *tb, double *tv,
                        int64_t id_limit)
{
    const char *p = pc->beg, *e = pc->end;
    const int n_ids = b->opt.n_ids;
    const int nf = b->nfields;
    const int one = b->opt.one_based;
    const int strict = b->opt.strict_fields;
    const int want_val = (b->opt.value_mode == 1) || (b->opt.value_mode == 2 && nf == 3);
    const int64_t bounds[2] = {b->opt.bound_a, b->opt.bound_b};
    int64_t line = 0, k = 0, weighted = 0;
    const int fast = n_ids == 2 && !want_val && !tv;
    int64_t lim_a = bounds[0] >= 0 ? bounds[0] - 1 : id_limit;
    int64_t lim_b = bounds[1] >= 0 ? bounds[1] - 1 : id_limit;
    if (lim_a > PSG_ID_LIMIT) lim_a = PSG_ID_LIMIT;
    if (lim_b > PSG_ID_LIMIT) lim_b = PSG_ID_LIMIT;
#define FAIL(code, ...)                                                    \
    do {                                                                   \
        pc->err = (code);                                                  \
        pc->err_line = line;                                               \
        snprintf(pc->msg, sizeof pc->msg, __VA_ARGS__);                    \
        pc->count = k;                                                     \
        return;                                                            \
    } while (0)
    int cr;
#define BARE_CR_ "a bare carriage return (\\r) ends a line: only \\n and \\r\\n line ends are supported"
    while (p < e) {
        p = skip_sp(p, e, &cr);
        if (cr) FAIL(PSG_ERR_FORMAT, BARE_CR_);
        if (p == e) break;
        char c = *p;
        if (c == '\n') { p++; line++; continue; }
        if (c == '#' || c == '%') {
            const char *nl = memchr(p, '\n', (size_t)(e - p));
            if (!nl) { p = e; break; }
            p = nl + 1; line++;
            continue;
        }
        /* Fast path for the common line "id<space>id[<space>]\n" (no value, in
         * range): two tight digit loops. Anything unusual falls through to
         * the general parser below, starting again at the same line. */
        if (fast) {
            const char *q = p;
            uint64_t x = 0, y = 0;
            const char *s0 = q;
            while (q < e && is_digit(*q)) x = x * 10 + (uint64_t)(*q++ - '0');
            if (q - s0 > 0 && q - s0 <= 18 && q < e && (*q == ' ' || *q == '\t')) {
                while (q < e && (*q == ' ' || *q == '\t')) q++;
                const char *s1 = q;
                while (q < e && is_digit(*q)) y = y * 10 + (uint64_t)(*q++ - '0');
                if (q - s1 > 0 && q - s1 <= 18) {
                    while (q < e && is_sp(*q)) q++;
                    if ((q == e || *q == '\n') && x >= (uint64_t)one && y >= (uint64_t)one &&
                        (int64_t)x - one <= lim_a && (int64_t)y - one <= lim_b) {
                        ta[k] = (int32_t)((int64_t)x - one);
                        tb[k] = (int32_t)((int64_t)y - one);
                        k++;
                        if (q < e) { q++; line++; }
                        p = q;
                        continue;
                    }
                }
            }
        }
        int64_t ids[2] = {0, 0};
        for (int f = 0; f < n_ids; f++) {
            if (f > 0) {
                if (p < e && !is_sp(*p)) FAIL(PSG_ERR_FORMAT, "expected whitespace between fields");
                p = skip_sp(p, e, &cr);
                if (cr) FAIL(PSG_ERR_FORMAT, BARE_CR_);
                if (p == e || *p == '\n') FAIL(PSG_ERR_FORMAT, "expected %d fields, found %d", nf, f);
            }
            if (*p == '-') FAIL(PSG_ERR_INDEX_RANGE, "negative id");
            if (*p == '+') p++;
            if (p == e || !is_digit(*p)) FAIL(PSG_ERR_FORMAT, "expected an integer id, found '%.*s'", snip(p, e), p);
            uint64_t v = 0;
            while (p < e && is_digit(*p)) {
                if (v > (uint64_t)INT64_MAX / 10 - 1) FAIL(PSG_ERR_OVERFLOW, "id too large (more than 18 digits)");
                v = v * 10 + (uint64_t)(*p++ - '0');
            }
            if (p < e && !is_sp(*p) && *p != '\n')
                FAIL(PSG_ERR_FORMAT, "expected an integer id, found '%.*s'", snip(p, e), p);
            int64_t id = (int64_t)v;
            if (one) {
                if (id == 0) FAIL(PSG_ERR_INDEX_RANGE, "index 0 in a 1-based file");
                id -= 1;
            }
            if (bounds[f] >= 0) {
                if (id >= bounds[f])
                    FAIL(PSG_ERR_INDEX_RANGE, "%s %lld is out of range (the %s is %lld)", f ? "column" : "row",
                         (long long)(id + one), f ? "column count" : "row count", (long long)bounds[f]);
            }
            if (id > PSG_ID_LIMIT) {
                FAIL(PSG_ERR_OVERFLOW, "node id %lld does not fit the int32 index type (limit %lld)",
                     (long long)id, (long long)PSG_ID_LIMIT);
            } else if (bounds[f] < 0 && id > id_limit) {
                FAIL(PSG_ERR_INDEX_RANGE,
                     "node id %lld is far larger than the number of lines read, so the CSR would need that many "
                     "rows; pass n_nodes explicitly to accept it", (long long)id);
            }
            ids[f] = id;
        }
        double val = 1.0;
        int have_val = 0;
        if (n_ids == 0 || want_val || b->opt.value_mode == 2) {
            if (n_ids > 0) {
                if (p < e && !is_sp(*p) && *p != '\n') FAIL(PSG_ERR_FORMAT, "expected whitespace between fields");
                p = skip_sp(p, e, &cr);
                if (cr) FAIL(PSG_ERR_FORMAT, BARE_CR_);
            }
            if (p < e && *p != '\n') {
                const char *q = parse_real(p, e, &val);
                if (!q) FAIL(PSG_ERR_FORMAT, "expected a real number, found '%.*s'", snip(p, e), p);
                p = q;
                have_val = 1;
            } else if (want_val || n_ids == 0) {
                FAIL(PSG_ERR_FORMAT, "expected %d fields, found %d", nf, n_ids);
            }
            if (have_val && !want_val)
                FAIL(PSG_ERR_FORMAT, "has a weight column but the first data line has none");
        }
        /* rest of the line */
        p = skip_sp(p, e, &cr);
        if (cr) FAIL(PSG_ERR_FORMAT, BARE_CR_);
        if (p < e && *p != '\n') {
            if (strict || b->opt.value_mode != 2 || nf != 3)
                FAIL(PSG_ERR_FORMAT, "unexpected extra text '%.*s'", snip(p, e), p);
            const char *nl = memchr(p, '\n', (size_t)(e - p));
            const char *stop = nl ? nl : e;
            const char *r = memchr(p, '\r', (size_t)(stop - p)); /* ignored columns: only a CRLF's \r */
            if (r && r + 1 != stop) FAIL(PSG_ERR_FORMAT, BARE_CR_);
            p = stop;
        }
        if (p < e) { p++; line++; }
        if (n_ids == 2) { ta[k] = (int32_t)ids[0]; tb[k] = (int32_t)ids[1]; }
        if (tv) tv[k] = val;
        weighted += have_val;
        k++;
    }
#undef FAIL
#undef BARE_CR_
    pc->count = k;
    pc->weighted = weighted;
    pc->newlines = line;
}

psg_status psg_tb_new(const psg_text_options *opt, psg_text_builder **out)
{
    psg__clear_error();
    if (!opt || !out) return psg__fail(PSG_ERR_INVALID_ARG, "opt and out must not be NULL");
    if (!(opt->n_ids == 2 || (opt->n_ids == 0 && opt->value_mode == 1)) || opt->value_mode < 0 || opt->value_mode > 2)
        return psg__fail(PSG_ERR_INVALID_ARG, "unsupported line layout (n_ids=%d, value_mode=%d)", opt->n_ids,
                         opt->value_mode);
    psg_text_builder *b = calloc(1, sizeof *b);
    if (!b) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory creating a text builder");
    b->opt = *opt;
    b->threads = psg__resolve_threads(opt->n_threads);
    b->nfields = -1;
    if (opt->n_ids == 0) b->nfields = 1;
    else if (opt->value_mode == 0) b->nfields = 2;
    else if (opt->value_mode == 1) b->nfields = 3;
    b->line = opt->first_line > 0 ? opt->first_line : 1;
    b->max_a = b->max_b = -1;
    b->mode = opt->n_ids == 0 ? MODE_VALUES : MODE_RUN_A;
    b->mono_a = b->mono_b = 1;
    b->last_a = b->last_b = 0;
    *out = b;
    return PSG_OK;
}

void psg_tb_free(psg_text_builder *b)
{
    if (!b) return;
    free(b->sa); free(b->sb); free(b->sv); free(b->cnt);
    free(b->ta); free(b->tb); free(b->tv);
    free(b);
}

static int grow_store(psg_text_builder *b, int64_t need)
{
    if (need <= b->cap) return 1;
    /* entries cost up to 16 bytes (two ids and a double): larger counts would wrap the sizes */
    const int64_t most = (int64_t)(SIZE_MAX / 16 < INT64_MAX / 2 ? SIZE_MAX / 16 : INT64_MAX / 2);
    if (need > most) return 0;
    int64_t nc = b->cap ? b->cap : 4096;
    while (nc < need) nc += nc / 2 + 4096;
    if (nc > most) nc = most;
    int has_v = b->sv != NULL || (b->opt.value_mode == 1 || (b->opt.value_mode == 2 && b->nfields == 3));
    if (b->cap == 0 && b->opt.capacity_hint >= need && b->opt.capacity_hint <= most) {
        /* The count is known (Matrix Market size line): allocate once, no
         * growth copies, on huge pages. */
        nc = b->opt.capacity_hint;
        if (b->mode == MODE_PAIRS && !(b->sa = alloc_big((size_t)nc * sizeof(int32_t)))) return 0;
        if (b->mode != MODE_VALUES && !(b->sb = alloc_big((size_t)nc * sizeof(int32_t)))) return 0;
        if (has_v && !(b->sv = alloc_big((size_t)nc * sizeof(double)))) return 0;
        b->cap = nc;
        return 1;
    }
    if (b->mode == MODE_PAIRS) {
        int32_t *na = realloc(b->sa, (size_t)nc * sizeof(int32_t));
        if (!na) return 0;
        b->sa = na;
    }
    if (b->mode != MODE_VALUES) {
        int32_t *nb = realloc(b->sb, (size_t)nc * sizeof(int32_t));
        if (!nb) return 0;
        b->sb = nb;
    }
    if (has_v) {
        double *nv = realloc(b->sv, (size_t)nc * sizeof(double));
        if (!nv) return 0;
        b->sv = nv;
    }
    b->cap = nc;
    return 1;
}

static int grow_cnt(psg_text_builder *b, int64_t len)
{
    if (len <= b->cnt_len) return 1;
    if (len > b->cnt_cap) {
        int64_t nc = b->cnt_cap ? b->cnt_cap : 1024;
        while (nc < len) nc *= 2;
        /* a declared dimension bounds every key: take it at once */
        const int64_t bound = b->mode == MODE_RUN_A ? b->opt.bound_a : b->opt.bound_b;
        if (bound >= len && bound <= 2 * len + (1 << 20) && (nc > bound || b->cnt_cap == 0)) nc = bound;
        int64_t *n2 = realloc(b->cnt, (size_t)nc * sizeof(int64_t));
        if (!n2) return 0;
        b->cnt = n2;
        b->cnt_cap = nc;
    }
    memset(b->cnt + b->cnt_len, 0, (size_t)(len - b->cnt_len) * sizeof(int64_t));
    b->cnt_len = len;
    return 1;
}

/* Run store -> explicit pairs (keeps file order). */
static int run_to_pairs(psg_text_builder *b)
{
    int32_t *keys = malloc((size_t)(b->cap ? b->cap : 1) * sizeof(int32_t));
    if (!keys) return 0;
    int64_t pos = 0;
    for (int64_t k = 0; k < b->cnt_len; k++)
        for (int64_t j = 0; j < b->cnt[k]; j++) keys[pos++] = (int32_t)k;
    if (b->mode == MODE_RUN_A) {
        b->sa = keys;
    } else {
        b->sa = b->sb;
        b->sb = keys;
    }
    free(b->cnt);
    b->cnt = NULL;
    b->cnt_len = b->cnt_cap = 0;
    b->mode = MODE_PAIRS;
    return 1;
}

/* Pairs whose column 2 is non-decreasing -> run store keyed on column 2. */
static int pairs_to_run_b(psg_text_builder *b)
{
    if (!grow_cnt(b, b->max_b + 1)) return 0;
    for (int64_t i = 0; i < b->n; i++) b->cnt[b->sb[i]]++;
    free(b->sb);
    b->sb = b->sa;
    b->sa = NULL;
    b->mode = MODE_RUN_B;
    return 1;
}

psg_status psg_tb_feed(psg_text_builder *b, const char *buf, int64_t len)
{
    psg__clear_error();
    if (!b) return psg__fail(PSG_ERR_INVALID_ARG, "builder is NULL");
    if (len <= 0) return PSG_OK;
    if (!buf) return psg__fail(PSG_ERR_INVALID_ARG, "buf is NULL with len = %lld > 0", (long long)len);
    /* The first data line fixes the number of fields of an edge list. */
    if (b->nfields < 0) {
        const char *p = buf, *e = buf + len;
        while (p < e) {
            while (p < e && is_sp(*p)) p++;
            if (p == e) break;
            if (*p == '\n') { p++; continue; }
            if (*p == '#' || *p == '%') {
                const char *nl = memchr(p, '\n', (size_t)(e - p));
                p = nl ? nl + 1 : e;
                continue;
            }
            int f = 0;
            while (p < e && *p != '\n') {
                f++;
                while (p < e && !is_sp(*p) && *p != '\n') p++;
                while (p < e && is_sp(*p)) p++;
            }
            b->nfields = f >= 3 ? 3 : 2;
            break;
        }
        if (b->nfields < 0) { /* only comments so far: count the lines and wait */
            int64_t nl = 0;
            for (const char *q = buf; (q = memchr(q, '\n', (size_t)(buf + len - q))) != NULL; q++) nl++;
            b->line += nl;
            return PSG_OK;
        }
    }
    const int T = b->threads;
    piece pcs[64];
    /* More pieces than threads (about 128 KiB each), handed out dynamically:
     * on a shared machine one thread may be descheduled, and small pieces
     * let the others take over its share instead of waiting for it. */
    int np = (int)(len / (128 << 10));
    if (np < 1) np = 1;
    if (np > 64) np = 64;
    if (T == 1) np = 1;
    const int team = T < np ? T : np;
    (void)team; /* unused without OpenMP */
    /* cut at newlines */
    const char *cut = buf;
    for (int i = 0; i < np; i++) {
        pcs[i].beg = cut;
        const char *target = (i == np - 1) ? buf + len : buf + (len * (i + 1)) / np;
        if (target < cut) target = cut;
        if (i < np - 1 && target < buf + len) {
            const char *nl = memchr(target, '\n', (size_t)(buf + len - target));
            target = nl ? nl + 1 : buf + len;
        }
        pcs[i].end = target;
        pcs[i].err = 0;
        pcs[i].count = pcs[i].weighted = pcs[i].newlines = 0;
        cut = target;
    }
    /* upper bound on entries: lines per piece */
    int64_t total = 0;
    for (int i = 0; i < np; i++) {
        int64_t nl = 0;
        const char *q = pcs[i].beg, *e = pcs[i].end;
        while (q < e && (q = memchr(q, '\n', (size_t)(e - q))) != NULL) { nl++; q++; }
        pcs[i].off = total;
        total += nl + 1;
    }
    const int want_v = b->opt.n_ids == 0 || b->opt.value_mode == 1 || (b->opt.value_mode == 2 && b->nfields == 3);
    if (total > b->tcap) {
        free(b->ta); free(b->tb); free(b->tv);
        b->ta = b->tb = NULL; b->tv = NULL;
        b->ta = malloc((size_t)total * sizeof(int32_t));
        b->tb = malloc((size_t)total * sizeof(int32_t));
        b->tv = want_v ? malloc((size_t)total * sizeof(double)) : NULL;
        if (!b->ta || !b->tb || (want_v && !b->tv)) { b->tcap = 0; return psg__fail(PSG_ERR_NO_MEMORY, "out of memory parsing a block"); }
        b->tcap = total;
    }
    /* Ids far above what the file could describe are almost always a mistake
     * (the CSR would need that many rows): bound them unless declared. */
    int64_t id_limit = 64 * (b->n + len / 2) + (1 << 24);
    if (id_limit > PSG_ID_LIMIT) id_limit = PSG_ID_LIMIT;
    #pragma omp parallel for num_threads(team) schedule(dynamic, 1) if (team > 1)
    for (int i = 0; i < np; i++)
        parse_piece(b, &pcs[i], b->ta + pcs[i].off, b->tb + pcs[i].off, want_v ? b->tv + pcs[i].off : NULL,
                    id_limit);
    int64_t line0 = b->line;
    for (int i = 0; i < np; i++) {
        if (pcs[i].err) {
            return psg__fail(pcs[i].err, "line %lld: %s", (long long)(line0 + pcs[i].err_line), pcs[i].msg);
        }
        line0 += pcs[i].newlines;
    }
    b->line = line0;
    /* Append in file order. */
    int64_t m = 0;
    for (int i = 0; i < np; i++) m += pcs[i].count;
    if (b->opt.n_ids == 2) {
        /* monotonicity of this block, continuing from what is stored */
        int ma = b->mono_a, mb = b->mono_b;
        int64_t la = b->last_a, lb = b->last_b, mxa = b->max_a, mxb = b->max_b;
        for (int i = 0; i < np; i++) {
            const int32_t *A = b->ta + pcs[i].off, *B = b->tb + pcs[i].off;
            for (int64_t j = 0; j < pcs[i].count; j++) {
                ma &= A[j] >= la; mb &= B[j] >= lb;
                la = A[j]; lb = B[j];
                if (A[j] > mxa) mxa = A[j];
                if (B[j] > mxb) mxb = B[j];
            }
        }
        b->max_a = mxa; b->max_b = mxb;
        if (b->mode == MODE_RUN_A && !ma) {
            if (!run_to_pairs(b)) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
            if (mb && !pairs_to_run_b(b)) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
        } else if (b->mode == MODE_RUN_B && !mb) {
            if (!run_to_pairs(b)) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
        }
        b->mono_a = ma; b->mono_b = mb; b->last_a = la; b->last_b = lb;
        if (b->mode == MODE_RUN_A && !grow_cnt(b, mxa + 1)) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
        if (b->mode == MODE_RUN_B && !grow_cnt(b, mxb + 1)) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
    }
    if (!grow_store(b, b->n + m)) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory storing %lld entries",
                                                   (long long)(b->n + m));
    int64_t w = b->n;
    for (int i = 0; i < np; i++) {
        const int32_t *A = b->ta + pcs[i].off, *B = b->tb + pcs[i].off;
        const int64_t c = pcs[i].count;
        switch (b->mode) {
        case MODE_RUN_A:
            for (int64_t j = 0; j < c; j++) { b->cnt[A[j]]++; b->sb[w + j] = (int32_t)B[j]; }
            break;
        case MODE_RUN_B:
            for (int64_t j = 0; j < c; j++) { b->cnt[B[j]]++; b->sb[w + j] = (int32_t)A[j]; }
            break;
        case MODE_PAIRS:
            for (int64_t j = 0; j < c; j++) { b->sa[w + j] = (int32_t)A[j]; b->sb[w + j] = (int32_t)B[j]; }
            break;
        default:
            break;
        }
        if (want_v && c > 0) memcpy(b->sv + w, b->tv + pcs[i].off, (size_t)c * sizeof(double));
        b->weighted_lines += pcs[i].weighted;
        w += c;
    }
    b->n = w;
    return PSG_OK;
}

psg_status psg_tb_stats(const psg_text_builder *b, int64_t *stats)
{
    psg__clear_error();
    if (!b || !stats) return psg__fail(PSG_ERR_INVALID_ARG, "NULL argument");
    stats[0] = b->n;
    stats[1] = b->max_a;
    stats[2] = b->max_b;
    stats[3] = b->line - (b->opt.first_line > 0 ? b->opt.first_line : 1);
    stats[4] = b->nfields;
    stats[5] = b->weighted_lines;
    stats[6] = b->mode;
    stats[7] = b->cap * (int64_t)((b->sa ? 4 : 0) + (b->sb ? 4 : 0) + (b->sv ? 8 : 0)) + b->cnt_cap * 8;
    return PSG_OK;
}

psg_status psg_tb_take_values(psg_text_builder *b, double **values, int64_t *n)
{
    psg__clear_error();
    if (!b || !values || !n) return psg__fail(PSG_ERR_INVALID_ARG, "NULL argument");
    if (b->opt.n_ids != 0)
        return psg__fail(PSG_ERR_INVALID_ARG, "take_values needs a values-only builder (n_ids == 0), got n_ids = %d",
                         b->opt.n_ids);
    *n = b->n;
    *values = b->sv ? b->sv : malloc(sizeof(double));
    if (!*values) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
    b->sv = NULL;
    b->n = 0;
    b->cap = 0; /* the store is gone: a further feed allocates a new one */
    return PSG_OK;
}

/* Stable sort of one row's (col, value) pairs: insertion sort for short rows
 * (most rows of sparse graphs), bottom-up merge sort through scratch otherwise. */
static void sort_row(int32_t *c, double *v, int64_t len, int32_t *sc, double *sv)
{
    int64_t i;
    for (i = 1; i < len; i++)
        if (c[i] < c[i - 1]) break;
    if (i >= len) return;
    if (len <= 32) {
        for (i = 1; i < len; i++) {
            int32_t x = c[i];
            double y = v ? v[i] : 0;
            int64_t j = i - 1;
            while (j >= 0 && c[j] > x) { c[j + 1] = c[j]; if (v) v[j + 1] = v[j]; j--; }
            c[j + 1] = x;
            if (v) v[j + 1] = y;
        }
        return;
    }
    int32_t *src = c, *dst = sc;
    double *vs = v, *vd = sv;
    for (int64_t width = 1; width < len; width *= 2) {
        for (int64_t lo = 0; lo < len; lo += 2 * width) {
            int64_t mid = lo + width < len ? lo + width : len;
            int64_t hi = lo + 2 * width < len ? lo + 2 * width : len;
            int64_t a = lo, bb = mid, o = lo;
            while (a < mid && bb < hi) {
                if (src[bb] < src[a]) { dst[o] = src[bb]; if (v) vd[o] = vs[bb]; bb++; }
                else { dst[o] = src[a]; if (v) vd[o] = vs[a]; a++; }
                o++;
            }
            while (a < mid) { dst[o] = src[a]; if (v) vd[o] = vs[a]; a++; o++; }
            while (bb < hi) { dst[o] = src[bb]; if (v) vd[o] = vs[bb]; bb++; o++; }
        }
        int32_t *t = src; src = dst; dst = t;
        double *tv = vs; vs = vd; vd = tv;
    }
    if (src != c) {
        memcpy(c, src, (size_t)len * sizeof(int32_t));
        if (v) memcpy(v, vs, (size_t)len * sizeof(double));
    }
}

psg_status psg_tb_finish(psg_text_builder *b, int64_t n_rows, int64_t n_cols, int transpose, int mirror,
                         psg_dup_policy duplicates, psg_loop_policy self_loops, int keep_values,
                         psg_csr_arrays *out)
{
    psg__clear_error();
    if (!b || !out) return psg__fail(PSG_ERR_INVALID_ARG, "NULL argument");
    if (b->opt.n_ids != 2) return psg__fail(PSG_ERR_INVALID_ARG, "a values-only builder has no CSR");
    if (self_loops == PSG_LOOPS_ADD) return psg__fail(PSG_ERR_INVALID_ARG, "self_loops='add' is not supported here");
    if ((unsigned)duplicates > PSG_DUP_KEEP || (unsigned)self_loops > PSG_LOOPS_ADD ||
        (unsigned)mirror > PSG_MIRROR_SKEW)
        return psg__fail(PSG_ERR_INVALID_ARG, "unknown duplicate, self-loop or mirror code (%d, %d, %d)",
                         (int)duplicates, (int)self_loops, mirror);
    if (n_rows < 0 || n_cols < 0 || n_rows > PSG_ID_LIMIT + 1 || n_cols > PSG_ID_LIMIT + 1)
        return psg__fail(PSG_ERR_INVALID_ARG, "n_rows/n_cols out of range");
    if (mirror && n_rows != n_cols) return psg__fail(PSG_ERR_SHAPE, "a symmetric matrix must be square");
    int64_t mr = transpose ? b->max_b : b->max_a, mc = transpose ? b->max_a : b->max_b;
    if (mr >= n_rows) return psg__fail(PSG_ERR_INDEX_RANGE, "row id %lld is not below n_rows = %lld", (long long)mr, (long long)n_rows);
    if (mc >= n_cols) return psg__fail(PSG_ERR_INDEX_RANGE, "column id %lld is not below n_cols = %lld", (long long)mc, (long long)n_cols);
    if (mirror && (b->max_a >= n_rows || b->max_b >= n_rows))
        return psg__fail(PSG_ERR_INDEX_RANGE, "id out of range for a %lld x %lld matrix", (long long)n_rows, (long long)n_cols);
    /* a header may declare 2**31 rows for a file of a few bytes: the row pointers alone could pass the RAM */
    psg_status fits = psg__check_fits_memory(((double)n_rows + 2) * sizeof(int64_t), "the row pointers");
    if (fits != PSG_OK) return fits;
    const int has_v = keep_values && b->sv != NULL;
    if (!has_v) { free(b->sv); b->sv = NULL; }
    const int threads = b->threads;
    (void)threads; /* unused without OpenMP */
    int64_t *indptr = NULL;
    int32_t *ind = NULL;
    double *val = NULL;
    int64_t nnz;
    free(b->ta); free(b->tb); free(b->tv);
    b->ta = b->tb = NULL; b->tv = NULL; b->tcap = 0;

    const int direct = !mirror && ((b->mode == MODE_RUN_A && !transpose) || (b->mode == MODE_RUN_B && transpose));
    if (direct) {
        /* The run store already is the CSR: counts become indptr, no scatter. */
        indptr = malloc((size_t)(n_rows + 1) * sizeof(int64_t));
        if (!indptr) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
        indptr[0] = 0;
        for (int64_t r = 0; r < n_rows; r++) indptr[r + 1] = indptr[r] + (r < b->cnt_len ? b->cnt[r] : 0);
        nnz = b->n;
        ind = b->sb; b->sb = NULL;
        val = has_v ? b->sv : NULL; if (has_v) b->sv = NULL;
        if (!ind) { ind = malloc(4); if (!ind) { free(indptr); return psg__fail(PSG_ERR_NO_MEMORY, "out of memory"); } }
    } else if (mirror && !transpose && (b->mode == MODE_RUN_A || b->mode == MODE_RUN_B)) {
        /* Symmetric expansion of a run store (a SuiteSparse triangle sorted by
         * column, a symmetrized list sorted by source). Each entry (a, b) of
         * the run of key k with other id o gives "row k gets o" and, off the
         * diagonal, "row o gets k". Keys are visited in increasing order,
         * which is file order: each key's run is copied into its row as a
         * block, then its o-side entries are scattered. So every row holds its
         * entries in file order, as the general path below lays them out, and
         * duplicates="first"/"keep" see the file's order (a row's o-side
         * entries all put first made a pair given both ways keep different
         * values in its two directions). For a triangle this order is sorted. */
        const int run_a = b->mode == MODE_RUN_A;
        indptr = calloc((size_t)(n_rows + 2), sizeof(int64_t));
        if (!indptr) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
        const int32_t *so = b->sb;
        int64_t pos = 0;
        for (int64_t key = 0; key < b->cnt_len; key++) {
            const int64_t end = pos + b->cnt[key];
            indptr[key + 2] += b->cnt[key];
            for (; pos < end; pos++)
                if (so[pos] != key) indptr[(int64_t)so[pos] + 2]++;
        }
        for (int64_t i = 2; i < n_rows + 2; i++) indptr[i] += indptr[i - 1];
        nnz = indptr[n_rows + 1];
        ind = alloc_big((size_t)nnz * sizeof(int32_t));
        val = has_v ? alloc_big((size_t)nnz * sizeof(double)) : NULL;
        if (!ind || (has_v && !val)) { free(indptr); free(ind); free(val); return psg__fail(PSG_ERR_NO_MEMORY, "out of memory building CSR"); }
        const double *sv = b->sv;
        /* value of the o-side copy ("row o gets k"): the entry itself when the
         * key is b (RUN_B: (a=o, b=k)), its mirror when the key is a */
        const double o_sign = run_a ? (mirror == PSG_MIRROR_SKEW ? -1.0 : 1.0) : 1.0;
        const double k_sign = run_a ? 1.0 : (mirror == PSG_MIRROR_SKEW ? -1.0 : 1.0);
        pos = 0;
        for (int64_t key = 0; key < b->cnt_len; key++) {
            const int64_t c = b->cnt[key], q0 = indptr[key + 1];
            memcpy(ind + q0, so + pos, (size_t)c * sizeof(int32_t));
            if (has_v)
                for (int64_t j = 0; j < c; j++)
                    val[q0 + j] = (so[pos + j] == key ? 1.0 : k_sign) * sv[pos + j];
            indptr[key + 1] += c;
            for (int64_t j = pos; j < pos + c; j++) {
                const int64_t o = so[j];
                if (o == key) continue;
                const int64_t q = indptr[o + 1]++;
                ind[q] = (int32_t)key;
                if (has_v) val[q] = o_sign * sv[j];
            }
            pos += c;
        }
        free(b->sb); free(b->sv); free(b->cnt);
        b->sb = NULL; b->sv = NULL; b->cnt = NULL; b->cnt_len = b->cnt_cap = 0;
        int64_t *shr = realloc(indptr, (size_t)(n_rows + 1) * sizeof(int64_t));
        if (shr) indptr = shr;
    } else {
        indptr = calloc((size_t)(n_rows + 2), sizeof(int64_t));
        if (!indptr) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
        /* Iterate the store in file order as (a, b, position). */
#define FOR_STORE(...)                                                                               \
        do {                                                                                         \
            if (b->mode == MODE_PAIRS) {                                                             \
                for (int64_t pos = 0; pos < b->n; pos++) {                                           \
                    const int64_t A = b->sa[pos], B = b->sb[pos];                                    \
                    __VA_ARGS__                                                                      \
                }                                                                                    \
            } else if (b->mode == MODE_RUN_A) {                                                      \
                int64_t pos = 0;                                                                     \
                for (int64_t key = 0; key < b->cnt_len; key++) {                                     \
                    const int64_t A = key, end = pos + b->cnt[key];                                  \
                    for (; pos < end; pos++) {                                                       \
                        const int64_t B = b->sb[pos];                                                \
                        __VA_ARGS__                                                                  \
                    }                                                                                \
                }                                                                                    \
            } else {                                                                                 \
                int64_t pos = 0;                                                                     \
                for (int64_t key = 0; key < b->cnt_len; key++) {                                     \
                    const int64_t B = key, end = pos + b->cnt[key];                                  \
                    for (; pos < end; pos++) {                                                       \
                        const int64_t A = b->sb[pos];                                                \
                        __VA_ARGS__                                                                  \
                    }                                                                                \
                }                                                                                    \
            }                                                                                        \
        } while (0)
        FOR_STORE({
            int64_t r = transpose ? B : A, c = transpose ? A : B;
            indptr[r + 2]++;
            if (mirror && r != c) indptr[c + 2]++;
        });
        for (int64_t i = 2; i < n_rows + 2; i++) indptr[i] += indptr[i - 1];
        nnz = indptr[n_rows + 1];
        ind = alloc_big((size_t)nnz * sizeof(int32_t));
        val = has_v ? alloc_big((size_t)nnz * sizeof(double)) : NULL;
        if (!ind || (has_v && !val)) { free(indptr); free(ind); free(val); return psg__fail(PSG_ERR_NO_MEMORY, "out of memory building CSR"); }
        const double *sv = b->sv;
        const double sign = mirror == PSG_MIRROR_SKEW ? -1.0 : 1.0;
        FOR_STORE({
            int64_t r = transpose ? B : A, c = transpose ? A : B;
            int64_t q = indptr[r + 1]++;
            ind[q] = (int32_t)c;
            if (has_v) val[q] = sv[pos];
            if (mirror && r != c) {
                q = indptr[c + 1]++;
                ind[q] = (int32_t)r;
                if (has_v) val[q] = sign * sv[pos];
            }
        });
#undef FOR_STORE
        free(b->sa); free(b->sb); free(b->sv); free(b->cnt);
        b->sa = b->sb = NULL; b->sv = NULL; b->cnt = NULL; b->cnt_len = b->cnt_cap = 0;
        int64_t *shr = realloc(indptr, (size_t)(n_rows + 1) * sizeof(int64_t));
        if (shr) indptr = shr;
    }
    free(b->sa); free(b->sb); free(b->sv); free(b->cnt);
    b->sa = b->sb = NULL; b->sv = NULL; b->cnt = NULL; b->cnt_len = b->cnt_cap = 0; b->n = 0; b->cap = 0;

    /* One pass first: are all rows strictly increasing (sorted, no
     * duplicates) and is there no loop to drop? Files sorted by row (SNAP) or
     * by column (SuiteSparse) usually are, and then the sort and compaction
     * passes below are skipped. */
    int64_t maxlen = 0, n_bad = 0;
    for (int64_t r = 0; r < n_rows; r++) {
        const int64_t s0 = indptr[r], e0 = indptr[r + 1];
        if (e0 - s0 > maxlen) maxlen = e0 - s0;
        int bad = 0;
        for (int64_t j = s0 + 1; j < e0; j++) bad |= ind[j] <= ind[j - 1];
        if (self_loops == PSG_LOOPS_DROP)
            for (int64_t j = s0; j < e0; j++) bad |= ind[j] == r;
        n_bad += bad;
    }
    if (n_bad == 0) goto done;
    int oom = 0;
    /* Sort every row (parallel; rows are independent). */
    #pragma omp parallel num_threads(threads) if (nnz > 100000)
    {
        int32_t *sc = maxlen > 32 ? malloc((size_t)maxlen * sizeof(int32_t)) : NULL;
        double *svv = (maxlen > 32 && val) ? malloc((size_t)maxlen * sizeof(double)) : NULL;
        if ((maxlen > 32 && !sc) || (maxlen > 32 && val && !svv)) {
            #pragma omp atomic write
            oom = 1;
        } else {
            #pragma omp for schedule(dynamic, 512)
            for (int64_t r = 0; r < n_rows; r++)
                sort_row(ind + indptr[r], val ? val + indptr[r] : NULL, indptr[r + 1] - indptr[r], sc, svv);
        }
        free(sc); free(svv);
    }
    if (oom) { free(indptr); free(ind); free(val); return psg__fail(PSG_ERR_NO_MEMORY, "out of memory sorting rows"); }
    /* Duplicates and loops: count first (parallel), compact only when needed. */
    int64_t removed = 0;
    #pragma omp parallel for num_threads(threads) reduction(+ : removed) schedule(static) if (n_rows > 10000)
    for (int64_t r = 0; r < n_rows; r++) {
        for (int64_t j = indptr[r]; j < indptr[r + 1]; j++) {
            if (self_loops == PSG_LOOPS_DROP && ind[j] == r) removed++;
            else if (duplicates != PSG_DUP_KEEP && j > indptr[r] && ind[j] == ind[j - 1]) removed++;
        }
    }
    if (removed) {
        int64_t w = 0, start = 0;
        for (int64_t r = 0; r < n_rows; r++) {
            int64_t end = indptr[r + 1];
            int64_t row_w = w;
            for (int64_t j = start; j < end; j++) {
                if (self_loops == PSG_LOOPS_DROP && ind[j] == r) continue;
                if (duplicates != PSG_DUP_KEEP && w > row_w && ind[w - 1] == ind[j]) {
                    if (val && duplicates == PSG_DUP_SUM) val[w - 1] += val[j];
                    continue;
                }
                ind[w] = ind[j];
                if (val) val[w] = val[j];
                w++;
            }
            start = end;
            indptr[r + 1] = w;
        }
        nnz = w;
        int32_t *i2 = realloc(ind, (size_t)(nnz ? nnz : 1) * sizeof(int32_t));
        if (i2) ind = i2;
        if (val) { double *v2 = realloc(val, (size_t)(nnz ? nnz : 1) * sizeof(double)); if (v2) val = v2; }
    }
done:
    out->indptr = indptr;
    out->indices = ind;
    out->values = val;
    out->nnz = nnz;
    return PSG_OK;
}

/* Decimal digits of a non-negative id into out; returns the length. */
static int put_int(char *out, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    int k = 0;
    if (v < 0) out[k++] = '-';
    while (n) out[k++] = tmp[--n];
    return k;
}

psg_status psg_format_entries(int64_t n, const int64_t *a, const int64_t *b, const double *values,
                              int64_t offset, char *buf, int64_t cap, int64_t *written, int64_t *consumed)
{
    psg__clear_error();
    if (!written || !consumed || (n > 0 && (!a || !b || !buf)))
        return psg__fail(PSG_ERR_INVALID_ARG, "NULL argument");
    int64_t w = 0, i;
    for (i = 0; i < n; i++) {
        /* ids by hand (snprintf dominates otherwise); values with %.17g,
         * which round-trips every double */
        char line[96];
        int64_t ia, ib;
        if (__builtin_add_overflow(a[i], offset, &ia) || __builtin_add_overflow(b[i], offset, &ib))
            return psg__fail(PSG_ERR_OVERFLOW, "entry %lld: id + offset (%lld) overflows int64", (long long)i,
                             (long long)offset);
        int len = put_int(line, ia);
        line[len++] = ' ';
        len += put_int(line + len, ib);
        if (values) {
            line[len++] = ' ';
            int k = snprintf(line + len, sizeof line - (size_t)len, "%.17g", values[i]);
            if (k < 0) return psg__fail(PSG_ERR_INVALID_ARG, "cannot format value %lld", (long long)i);
            len += k;
        }
        line[len++] = '\n';
        if (w + len > cap) break;
        memcpy(buf + w, line, (size_t)len);
        w += len;
    }
    *written = w;
    *consumed = i;
    return PSG_OK;
}
