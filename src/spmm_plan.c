/* SpMM planning: chunking with hub-row splitting, ISA selection, plan
 * bookkeeping, bfloat16 conversion. The typed parts (blocked layout build,
 * execution) are in templates/spmm.inc. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "internal.h"
#include "partition.h"
#include "spmm_plan.h"
#include "pysparsegraph/threads.h"

double psg__now(void)
{
    /* C11 timespec_get: wall clock, fine for reporting plan-build time */
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

psg_status psg_spmm_options_default(psg_spmm_options *opts)
{
    if (!opts) return psg__fail(PSG_ERR_INVALID_ARG, "opts is NULL");
    memset(opts, 0, sizeof *opts);
    return PSG_OK;
}

/* ---- ISA selection ---------------------------------------------------- */

static int isa_supported(int isa)
{
    if (isa == PSG_ISA_GENERIC) return 1;
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    __builtin_cpu_init();
    if (isa == PSG_ISA_AVX2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == PSG_ISA_AVX512) return __builtin_cpu_supports("avx512f");
#endif
    return 0;
}

static int detect_isa(void)
{
    if (isa_supported(PSG_ISA_AVX512)) return PSG_ISA_AVX512;
    if (isa_supported(PSG_ISA_AVX2)) return PSG_ISA_AVX2;
    return PSG_ISA_GENERIC;
}

/* -1: not yet initialised from the environment. Plain int with atomics:
 * forcing is rare and only needs to be seen by later calls. */
static int forced_isa = -1;

static int current_forced(void)
{
    int f = __atomic_load_n(&forced_isa, __ATOMIC_ACQUIRE);
    if (f >= 0) return f;
    f = PSG_ISA_AUTO;
    const char *e = getenv("PYSPARSEGRAPH_ISA");
    if (e) {
        if (!strcmp(e, "generic")) f = PSG_ISA_GENERIC;
        else if (!strcmp(e, "avx2")) f = PSG_ISA_AVX2;
        else if (!strcmp(e, "avx512")) f = PSG_ISA_AVX512;
        if (f != PSG_ISA_AUTO && !isa_supported(f)) f = PSG_ISA_AUTO;
    }
    __atomic_store_n(&forced_isa, f, __ATOMIC_RELEASE);
    return f;
}

psg_status psg_spmm_force_isa(int isa)
{
    psg__clear_error();
    if (isa < PSG_ISA_AUTO || isa > PSG_ISA_AVX512)
        return psg__fail(PSG_ERR_INVALID_ARG, "isa must be one of PSG_ISA_* (0..3), got %d", isa);
    if (isa != PSG_ISA_AUTO && !isa_supported(isa))
        return psg__fail(PSG_ERR_UNSUPPORTED, "this CPU does not support the requested ISA (%d)", isa);
    __atomic_store_n(&forced_isa, isa, __ATOMIC_RELEASE);
    return PSG_OK;
}

int psg__spmm_select_isa(int requested, psg_status *st)
{
    *st = PSG_OK;
    if (requested == PSG_ISA_AUTO) requested = current_forced();
    if (requested == PSG_ISA_AUTO) return detect_isa();
    if (!isa_supported(requested)) {
        *st = psg__fail(PSG_ERR_UNSUPPORTED, "this CPU does not support the ISA the plan asks for (%d)", requested);
        return PSG_ISA_GENERIC;
    }
    return requested;
}

int psg_spmm_forced_isa(void) { return current_forced(); }

int psg_spmm_active_isa(void)
{
    psg_status st;
    return psg__spmm_select_isa(PSG_ISA_AUTO, &st);
}

/* ---- chunking ----------------------------------------------------------- */

/* Default hub threshold. It depends on nnz only, NOT on the thread count:
 * the split points fix the summation order of a hub row, and they must be
 * the same whatever team runs the plan. nnz/128 keeps a hub holding half of
 * all entries in >= 64 pieces (enough to balance dozens of threads); the
 * 2048 floor keeps pieces long enough that the extra partial row (k values
 * written and re-read) is noise. */
int64_t psg__default_split_len(int64_t nnz)
{
    int64_t s = (nnz + 127) / 128;
    return s < 2048 ? 2048 : s;
}

/* Appends chunks covering non-hub rows [a, b) with about `target` cost each. */
static void add_row_chunks(const int64_t *indptr, int64_t a, int64_t b, int64_t target, psg__chunk *out,
                           int64_t *n)
{
    if (a >= b) return;
    int64_t cost = (indptr[b] + b) - (indptr[a] + a);
    int64_t m = target > 0 ? (cost + target - 1) / target : 1;
    if (m < 1) m = 1;
    if (m > b - a) m = b - a;
    int64_t base = indptr[a] + a, prev = a;
    for (int64_t i = 1; i <= m; i++) {
        int64_t r = i == m ? b : psg__first_row_with_cost(indptr, prev, b, base + (cost / m) * i + ((cost % m) * i) / m);
        if (r > prev) {
            out[*n] = (psg__chunk){prev, r, 0, 0, -1};
            (*n)++;
            prev = r;
        }
    }
}

int psg__build_chunks(psg_spmm_plan *p, const int64_t *indptr, int64_t want_chunks)
{
    const int64_t n = p->n_rows, nnz = p->nnz;
    /* a chunk holds a row at least (a hub's pieces are counted apart): more are never made,
     * and the capacity below must not overflow for a huge request */
    if (want_chunks > n) want_chunks = n > 0 ? n : 1;
    if (p->partition == PSG_PART_ROWS) {
        /* ablation baseline: equal row counts, whole rows */
        int64_t m = want_chunks < 1 ? 1 : want_chunks;
        if (m > n) m = n > 0 ? n : 1;
        p->chunks = malloc((size_t)m * sizeof *p->chunks);
        if (!p->chunks) return -1;
        p->n_chunks = 0;
        for (int64_t i = 0; i < m; i++) {
            int64_t r0 = n * i / m, r1 = n * (i + 1) / m;
            if (r1 > r0) p->chunks[p->n_chunks++] = (psg__chunk){r0, r1, 0, 0, -1};
        }
        p->split_len = -1;
        return 0;
    }
    const int64_t split = p->split_len;
    /* 1. hubs: rows with more than `split` entries */
    int64_t n_hubs = 0, n_slots = 0;
    if (split > 0) {
        for (int64_t r = 0; r < n; r++) {
            int64_t d = indptr[r + 1] - indptr[r];
            if (d > split) { n_hubs++; n_slots += (d + split - 1) / split; }
        }
    }
    p->n_hubs = n_hubs;
    p->n_slots = n_slots;
    p->hub_row = malloc((size_t)(n_hubs + 1) * sizeof *p->hub_row);
    p->hub_slot0 = malloc((size_t)(n_hubs + 1) * sizeof *p->hub_slot0);
    int64_t total = nnz + n;
    int64_t target = total / (want_chunks < 1 ? 1 : want_chunks) + 1;
    /* upper bound: each stretch between hubs gives <= cost/target + 1 chunks */
    int64_t cap = want_chunks + 2 * n_hubs + 2 + n_slots;
    p->chunks = malloc((size_t)cap * sizeof *p->chunks);
    if (!p->hub_row || !p->hub_slot0 || !p->chunks) return -1;
    int64_t nc = 0, h = 0, slot = 0, a = 0;
    p->hub_slot0[0] = 0;
    if (n_hubs > 0) {
        for (int64_t r = 0; r < n; r++) {
            int64_t d = indptr[r + 1] - indptr[r];
            if (d <= split) continue;
            add_row_chunks(indptr, a, r, target, p->chunks, &nc);
            p->hub_row[h] = r;
            /* fixed split points: every `split` entries from the row start */
            for (int64_t s0 = indptr[r]; s0 < indptr[r + 1]; s0 += split) {
                int64_t s1 = s0 + split < indptr[r + 1] ? s0 + split : indptr[r + 1];
                p->chunks[nc++] = (psg__chunk){r, r + 1, s0, s1, slot++};
            }
            p->hub_slot0[++h] = slot;
            a = r + 1;
        }
    }
    add_row_chunks(indptr, a, n, target, p->chunks, &nc);
    p->n_chunks = nc;
    return 0;
}

psg_status psg_spmm_plan_free(psg_spmm_plan *p)
{
    if (!p) return PSG_OK;
    free(p->chunks);
    free(p->hub_row);
    free(p->hub_slot0);
    free(p->blocked.seg_row_off);
    free(p->blocked.seg_rows);
    free(p->blocked.seg_ptr);
    free(p->blocked.cols);
    free(p->blocked.vals);
    free(p->x_copy);
    free(p);
    return PSG_OK;
}

/* One-vector rows: the core keeps enough gathers in flight itself while they
 * hit the L2; past it, a prefetch's index load and address pay for
 * themselves. AMD Zen 4 VM, K = 16, prefetch on against off, 1 and 2 threads
 * (python -m bench suite --prefetch-graphs ...; bench/RESULTS.md): 1.08-1.35x
 * on the graphs whose X outgrows the 32 MiB L3 (usa-road-FLA, R-MAT and
 * Erdos-Renyi at scale 20) and on coAuthorsDBLP (X 18 MiB, 52% of gathers
 * missing the L2 by the estimate, templates/spmm.inc); 0.78-1.11x (at most
 * 0.97x at 2 threads) on the suite's other graphs, whose gathers miss it 6-40%
 * of the time or whose X fits the L2. */
#define PSG_PREFETCH_MISS 0.5

int psg__narrow_prefetch(const psg_spmm_plan *p, int x_elem_bytes)
{
    if (p->layout != PSG_LAYOUT_CSR) return 0; /* a blocked plan's X slices are sized to fit */
    if (p->narrow_prefetch != PSG_PREFETCH_AUTO) return p->narrow_prefetch == PSG_PREFETCH_ON;
    const int64_t row = x_elem_bytes * (p->k > 0 ? p->k : 1);
    /* n_cols * row > cache, without overflow */
    return p->n_cols > psg_cache_bytes(0) / row ||
           (p->gather_miss > PSG_PREFETCH_MISS && p->n_cols > psg_cache_bytes(2) / row);
}

/* Streaming stores against plain ones: once Y outgrows the L3 its lines are
 * evicted before anyone reads them, so reading each line in before
 * overwriting it (what a plain store does) is wasted traffic. Streaming stores
 * skip it: measured 1.1-1.5x on the suite's graphs whose Y is 80 MB - 1.1 GB
 * (bench/RESULTS.md). The same holds once Y and X together outgrow it (the
 * gathers evict Y): 1.04-1.26x on Intel for Y of 18-32 MiB. Under the cache
 * a streamed Y must come back from memory for the next step: with an in-place
 * ReLU after each product, this rule picked the faster store in all 56 cases
 * of the suite's store table (Intel Xeon VM). X counts in its own element
 * size: a bfloat16 X half a float32 one. */
int psg__stream_y(const psg_spmm_plan *p, int x_elem_bytes)
{
    if (p->layout != PSG_LAYOUT_CSR) return 0;
    if (p->store != PSG_STORE_AUTO) return p->store == PSG_STORE_STREAM;
    const double bytes = (double)p->k * ((double)p->n_rows * p->value_bytes + (double)p->n_cols * x_elem_bytes);
    return bytes > (double)psg_cache_bytes(0);
}

/* Feature tiles (tileft in templates/spmm_isa.inc) against whole-row tiles,
 * K = 256 float32 (rows of X of 1 KiB), Intel Xeon VM: Erdos-Renyi at scale
 * 20 (gather_miss_llc 0.95 for a 32 MiB L3) 1.09-1.13x on 1 and 2 threads
 * (python -m bench suite --tiles-graphs ...); R-MAT at scale 20 (0.47) 0.82-0.87x and the suite's real graphs (at most
 * 0.43) 0.87-0.95x: where rows come back while still cached, reading each of
 * them several times a row loses. In a throw-away C probe of the row loop,
 * tiles of 128 bytes gained 2-3% more than tiles of 256 on Erdos-Renyi, 64
 * bytes 8% less; K = 128 (512-byte rows) gained 1.02-1.03x, K = 512 1.17x
 * (bench/RESULTS.md). */
#define PSG_FTILE_MISS 0.75

int psg__feature_tiles(const psg_spmm_plan *p, int x_elem_bytes)
{
    if (p->layout != PSG_LAYOUT_CSR || p->k <= 0 || (p->k * p->value_bytes) % PSG_FTILE_BYTES != 0) return 0;
    if (p->feature_tiles != PSG_FTILE_AUTO) return p->feature_tiles == PSG_FTILE_ON;
    const int64_t row = x_elem_bytes * p->k;
    return row >= PSG_FTILE_ROW_BYTES && p->n_cols > psg_cache_bytes(0) / row && p->gather_miss_llc > PSG_FTILE_MISS;
}

/* X 16 bytes past a line (NumPy's usual start for a large array) makes every
 * gathered row straddle one line more than it needs to (a 64-byte row two
 * lines instead of one) and every vector load of it split across two. A
 * copy that starts on a line costs one read and one write of X; the gathers
 * then read each row nnz/n_cols times on average with no split. AMD Zen 4 VM,
 * the suite's eight graphs, K = 16/64/256, 1 and 2 threads, X 16 bytes off a
 * line, the copy against none (bench/RESULTS.md): 1.09-1.30x on one thread and
 * 1.00-1.23x on two where rows are gathered 30-44 times on average
 * (ego-Facebook, uk-2007-05@100000 at K = 16); 0.8-1.04x at 6.5-11.5 times
 * (soc-Slashdot0902, coAuthorsDBLP, cnr-2000) and a loss below. X and its copy
 * must both fit the L3: uk-2007-05@100000 at K = 64 (X 24 MiB) gained 1.01-1.06x
 * on one thread and lost 0.86-0.91x on two, and an X beyond the L3 lost 2-5x.
 * Two threads gained as much on wider rows once the plan kept its buffer
 * from call to call (psg__x_copy_take): a buffer allocated per call came
 * from fresh pages as often as not, and faulting them in lost up to 2x on
 * two threads. Kept, ego-Facebook at K = 64 and 256 gained 1.12-1.22x on two
 * threads in four runs and 0.82-0.85x in a fifth (a slow spell of the
 * machine), but rows of one line did not: ego-Facebook at K = 16 0.62-0.99x,
 * uk-2007-05@100000 at K = 16 0.85-1.29x. So a team copies rows of more than
 * one line only. On an Intel Xeon VM (2 MiB L2, slower streams: triad 11 GB/s
 * on one core against 23) uk-2007-05@100000, gathered 30 times a row, lost
 * on one thread with the copy (K = 16/64/256: 0.74-0.92x, suite and an A/B)
 * while ego-Facebook, 44 times, gained 1.19-1.31x at K = 64/256: the copy
 * waits for 32. */
#define PSG_ALIGN_USES 32

int psg__align_x(const psg_spmm_plan *p, int x_elem_bytes, int x_off, int threads)
{
    if (x_off == 0 || p->nnz == 0 || p->n_cols == 0 || p->align_x == PSG_ALIGN_OFF) return 0;
    if (p->align_x == PSG_ALIGN_ON) return 1;
    const int64_t row = x_elem_bytes * (p->k > 0 ? p->k : 1);
    /* CSR (what was measured), rows of whole lines (else an aligned start
       leaves most rows straddling anyway), more than one on a team, X and
       its copy within the last-level cache (2 * n_cols * row <= cache,
       without overflow) */
    return p->layout == PSG_LAYOUT_CSR && row % 64 == 0 && (threads == 1 || row > 64) &&
           p->nnz / p->n_cols >= PSG_ALIGN_USES && p->n_cols <= psg_cache_bytes(0) / 2 / row;
}

void *psg__x_copy_take(psg_spmm_plan *p, size_t bytes, int *held)
{
    *held = 0;
    if ((int64_t)bytes <= psg_cache_bytes(0) && !__atomic_exchange_n(&p->x_copy_busy, 1, __ATOMIC_ACQUIRE)) {
        if (p->x_copy_bytes < bytes) {
            free(p->x_copy);
            p->x_copy = aligned_alloc(64, bytes);
            __atomic_store_n(&p->x_copy_bytes, p->x_copy ? bytes : 0, __ATOMIC_RELAXED);
        }
        if (p->x_copy) {
            *held = 1;
            return p->x_copy;
        }
        __atomic_store_n(&p->x_copy_busy, 0, __ATOMIC_RELEASE);
    }
    return aligned_alloc(64, bytes);
}

void psg__x_copy_give(psg_spmm_plan *p, void *buf, int held)
{
    if (held) __atomic_store_n(&p->x_copy_busy, 0, __ATOMIC_RELEASE);
    else free(buf);
}

psg_status psg_spmm_plan_describe(const psg_spmm_plan *p, psg_spmm_plan_info *info)
{
    psg__clear_error();
    if (!p || !info) return psg__fail(PSG_ERR_INVALID_ARG, "plan and info must not be NULL");
    memset(info, 0, sizeof *info);
    info->layout = p->layout;
    info->partition = p->partition;
    info->schedule = p->schedule;
    info->isa = p->isa;
    info->n_threads = p->n_threads;
    info->serial = p->serial;
    info->stream = psg__stream_y(p, p->value_bytes);
    info->narrow_prefetch = psg__narrow_prefetch(p, p->value_bytes);
    info->align_x = psg__align_x(p, p->value_bytes, 1, p->serial ? 1 : p->n_threads);
    info->gather_miss = p->gather_miss;
    info->feature_tiles = psg__feature_tiles(p, p->value_bytes);
    info->gather_miss_llc = p->gather_miss_llc;
    info->value_bytes = p->value_bytes;
    info->index_bytes = p->index_bytes;
    info->k = p->k;
    info->n_chunks = p->n_chunks;
    info->split_len = p->split_len;
    info->n_hubs = p->n_hubs;
    info->n_slots = p->n_slots;
    info->seg_width = p->blocked.seg_width;
    info->n_segs = p->blocked.n_segs;
    info->n_nonempty = p->blocked.n_nonempty;
    info->bytes = p->bytes + (int64_t)__atomic_load_n(&p->x_copy_bytes, __ATOMIC_RELAXED);
    info->build_seconds = p->build_seconds;
    return PSG_OK;
}

/* ---- bfloat16 ------------------------------------------------------------ */

psg_status psg_f32_to_bf16(int64_t n, const float *src, uint16_t *dst, int n_threads)
{
    psg__clear_error();
    if (n < 0) return psg__fail(PSG_ERR_INVALID_ARG, "n is negative (%lld)", (long long)n);
    if (n > 0 && (!src || !dst)) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    const int threads = psg__resolve_threads(n_threads);
    (void)threads; /* unused without OpenMP */
#pragma omp parallel for num_threads(threads) schedule(static) if (n > (1 << 18))
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, src + i, 4);
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            dst[i] = (uint16_t)((u >> 16) | 0x40u); /* NaN: keep it a (quiet) NaN */
        } else {
            /* round to nearest, ties to even; overflow rounds to inf as it should */
            u += 0x7fffu + ((u >> 16) & 1u);
            dst[i] = (uint16_t)(u >> 16);
        }
    }
    return PSG_OK;
}
