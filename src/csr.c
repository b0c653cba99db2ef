/* CSR validation and construction from edge arrays. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "pysparsegraph/csr.h"

void psg_free(void *ptr) { free(ptr); }

psg_status psg_check_indptr(int64_t n_rows, const int64_t *indptr, int64_t nnz)
{
    psg__clear_error();
    if (n_rows < 0) return psg__fail(PSG_ERR_INVALID_ARG, "n_rows is negative (%lld)", (long long)n_rows);
    if (!indptr) return psg__fail(PSG_ERR_INVALID_ARG, "indptr is NULL");
    if (indptr[0] != 0)
        return psg__fail(PSG_ERR_INDPTR, "indptr[0] must be 0, got %lld", (long long)indptr[0]);
    /* Sequential on purpose: the first offending position is what the user needs,
     * and this pass over n_rows+1 words is cheap next to any kernel. */
    for (int64_t r = 0; r < n_rows; r++) {
        if (indptr[r + 1] < indptr[r])
            return psg__fail(PSG_ERR_INDPTR,
                             "indptr must be non-decreasing, but indptr[%lld] = %lld > indptr[%lld] = %lld",
                             (long long)r, (long long)indptr[r], (long long)(r + 1), (long long)indptr[r + 1]);
    }
    if (indptr[n_rows] != nnz)
        return psg__fail(PSG_ERR_INDPTR, "indptr[-1] = %lld but there are %lld stored entries (indices length)",
                         (long long)indptr[n_rows], (long long)nnz);
    return PSG_OK;
}

/* Parallel range check; reports the smallest offending position so the
 * message is the same for every thread count. */
#define PSG_CHECK_INDICES(NAME, I)                                                                   \
    psg_status NAME(int64_t nnz, const I *indices, int64_t n_cols, int n_threads)                   \
    {                                                                                                \
        psg__clear_error();                                                                          \
        if (nnz < 0) return psg__fail(PSG_ERR_INVALID_ARG, "nnz is negative (%lld)", (long long)nnz);  \
        if (!indices && nnz > 0) return psg__fail(PSG_ERR_INVALID_ARG, "indices is NULL with nnz > 0"); \
        int64_t first_bad = nnz;                                                                     \
        const int threads = psg__resolve_threads(n_threads);                                         \
        (void)threads; /* unused without OpenMP */                                                   \
        _Pragma("omp parallel for num_threads(threads) reduction(min : first_bad) schedule(static) if (nnz > 65536)") \
        for (int64_t j = 0; j < nnz; j++) {                                                          \
            if ((int64_t)indices[j] < 0 || (int64_t)indices[j] >= n_cols) {                          \
                if (j < first_bad) first_bad = j;                                                    \
            }                                                                                        \
        }                                                                                            \
        if (first_bad < nnz)                                                                         \
            return psg__fail(PSG_ERR_INDEX_RANGE, "indices[%lld] = %lld is outside [0, %lld)",     \
                             (long long)first_bad, (long long)indices[first_bad], (long long)n_cols); \
        return PSG_OK;                                                                               \
    }
PSG_CHECK_INDICES(psg_check_indices_i32, int32_t)
PSG_CHECK_INDICES(psg_check_indices_i64, int64_t)

#define PSG_EXPAND_ROWS(NAME, I)                                                                     \
    psg_status NAME(int64_t n_rows, const int64_t *indptr, I *rows, int n_threads)                  \
    {                                                                                                \
        psg__clear_error();                                                                          \
        if (n_rows < 0 || !indptr || (!rows && n_rows > 0 && indptr[n_rows] > 0))                    \
            return psg__fail(PSG_ERR_INVALID_ARG, "negative n_rows or NULL array argument");          \
        if (indptr[0] != 0)                                                                          \
            return psg__fail(PSG_ERR_INDPTR, "indptr[0] must be 0, got %lld", (long long)indptr[0]);   \
        for (int64_t r = 0; r < n_rows; r++)                                                         \
            if (indptr[r + 1] < indptr[r])                                                           \
                return psg__fail(PSG_ERR_INDPTR, "indptr must be non-decreasing (indptr[%lld] > indptr[%lld])", \
                                 (long long)r, (long long)(r + 1));                                  \
        const int threads = psg__resolve_threads(n_threads);                                         \
        (void)threads; /* unused without OpenMP */                                                   \
        _Pragma("omp parallel for num_threads(threads) schedule(dynamic, 1024) if (n_rows > 4096)") \
        for (int64_t r = 0; r < n_rows; r++)                                                         \
            for (int64_t j = indptr[r]; j < indptr[r + 1]; j++) rows[j] = (I)r;                      \
        return PSG_OK;                                                                               \
    }
PSG_EXPAND_ROWS(psg_expand_rows_i32, int32_t)
PSG_EXPAND_ROWS(psg_expand_rows_i64, int64_t)

/* ---- edges -> CSR ------------------------------------------------------ */

/* One scattered entry: its column and its position in the (possibly
 * symmetrized) input order, which keeps sorting and summing deterministic.
 * Symmetrized, edge i's mirror follows it (positions 2i and 2i + 1): a pair given
 * both ways merges in input order in both directions (the same sums; "first" is
 * the pair's first occurrence, either way round), so the result is symmetric. */
typedef struct {
    int64_t col;
    int64_t pos;
} entry;

static int entry_cmp(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->col != y->col) return x->col < y->col ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static void sort_entries(entry *e, int64_t n)
{
    if (n <= 32) { /* insertion sort: most rows of real graphs are short */
        for (int64_t i = 1; i < n; i++) {
            entry t = e[i];
            int64_t j = i - 1;
            while (j >= 0 && entry_cmp(&e[j], &t) > 0) { e[j + 1] = e[j]; j--; }
            e[j + 1] = t;
        }
    } else {
        qsort(e, (size_t)n, sizeof *e, entry_cmp);
    }
}

static inline double read_value(const void *values, int value_size, int64_t i)
{
    return value_size == 4 ? (double)((const float *)values)[i] : ((const double *)values)[i];
}

static inline void write_value(void *values, int value_size, int64_t i, double v)
{
    if (value_size == 4) ((float *)values)[i] = (float)v;
    else ((double *)values)[i] = v;
}

static inline void write_index(void *indices, int index_size, int64_t i, int64_t c)
{
    if (index_size == 4) ((int32_t *)indices)[i] = (int32_t)c;
    else ((int64_t *)indices)[i] = c;
}

/* Edge number e of the effective input: with sym, 2i is edge i and 2i + 1 its mirror,
 * absent (0 returned) for a self loop, which would land on itself and count twice. */
static inline int edge_at(int64_t e, int sym, const int64_t *src, const int64_t *dst, int64_t *u, int64_t *v)
{
    const int64_t i = e >> sym;
    if (sym && (e & 1)) {
        if (src[i] == dst[i]) return 0;
        *u = dst[i]; *v = src[i];
    } else {
        *u = src[i]; *v = dst[i];
    }
    return 1;
}

/* Entries of one sorted row after applying the duplicate and loop policies;
 * writes them when out_indices is non-NULL. Returns the count. */
static int64_t emit_row(int64_t r, const entry *e, int64_t n, int sym, const void *values, int value_size,
                        const psg_edge_options *o, int add_loop_here, void *out_indices, int index_size,
                        void *out_values, int64_t out0)
{
    int64_t k = 0;
    int loop_done = !add_loop_here;
    for (int64_t i = 0; i < n;) {
        int64_t c = e[i].col;
        int64_t i_end = i + 1;
        if (o->duplicates != PSG_DUP_KEEP)
            while (i_end < n && e[i_end].col == c) i_end++;
        if (!loop_done && r < c) { /* the added loop keeps the row sorted */
            if (out_indices) {
                write_index(out_indices, index_size, out0 + k, r);
                if (out_values) write_value(out_values, value_size, out0 + k, o->loop_value);
            }
            k++;
            loop_done = 1;
        }
        if (c == r) loop_done = 1;
        if (out_indices) {
            write_index(out_indices, index_size, out0 + k, c);
            if (out_values) {
                double v = read_value(values, value_size, e[i].pos >> sym); /* a mirror has its edge's value */
                if (o->duplicates == PSG_DUP_SUM) /* input order: entries sorted by (col, pos) */
                    for (int64_t t = i + 1; t < i_end; t++) v += read_value(values, value_size, e[t].pos >> sym);
                write_value(out_values, value_size, out0 + k, v);
            }
        }
        k++;
        i = i_end;
    }
    if (!loop_done) {
        if (out_indices) {
            write_index(out_indices, index_size, out0 + k, r);
            if (out_values) write_value(out_values, value_size, out0 + k, o->loop_value);
        }
        k++;
    }
    return k;
}

psg_status psg_edges_to_csr(int64_t n_rows, int64_t n_cols, int64_t m, const int64_t *src, const int64_t *dst,
                            const void *values, int value_size, int index_size, const psg_edge_options *opts,
                            psg_csr_arrays *out)
{
    psg__clear_error();
    psg_edge_options o = opts ? *opts : (psg_edge_options){PSG_DUP_SUM, PSG_LOOPS_KEEP, 0, 1.0, 0};
    if (n_rows < 0 || n_cols < 0 || m < 0)
        return psg__fail(PSG_ERR_INVALID_ARG, "negative size: n_rows=%lld n_cols=%lld m=%lld", (long long)n_rows,
                         (long long)n_cols, (long long)m);
    if (!out) return psg__fail(PSG_ERR_INVALID_ARG, "out is NULL");
    if (m > 0 && (!src || !dst)) return psg__fail(PSG_ERR_INVALID_ARG, "src or dst is NULL with m > 0");
    if (index_size != 4 && index_size != 8)
        return psg__fail(PSG_ERR_INVALID_ARG, "index_size must be 4 or 8, got %d", index_size);
    if (values && value_size != 4 && value_size != 8)
        return psg__fail(PSG_ERR_INVALID_ARG, "value_size must be 4 or 8, got %d", value_size);
    if (index_size == 4 && n_cols > INT32_MAX)
        return psg__fail(PSG_ERR_OVERFLOW, "n_cols = %lld does not fit int32 column indices; use int64",
                         (long long)n_cols);
    if (o.symmetrize && n_rows != n_cols)
        return psg__fail(PSG_ERR_SHAPE, "symmetrize needs a square shape, got %lld x %lld", (long long)n_rows,
                         (long long)n_cols);
    if ((unsigned)o.duplicates > PSG_DUP_KEEP || (unsigned)o.self_loops > PSG_LOOPS_ADD)
        return psg__fail(PSG_ERR_INVALID_ARG, "unknown duplicate or self-loop policy");

    const int threads = psg__resolve_threads(o.n_threads);
    /* Range check first, reporting the smallest bad position. */
    int64_t first_bad = m;
#pragma omp parallel for num_threads(threads) reduction(min : first_bad) schedule(static) if (m > 65536)
    for (int64_t e = 0; e < m; e++)
        if (src[e] < 0 || src[e] >= n_rows || dst[e] < 0 || dst[e] >= n_cols)
            if (e < first_bad) first_bad = e;
    if (first_bad < m)
        return psg__fail(PSG_ERR_INDEX_RANGE, "edge %lld = (%lld, %lld) is outside the %lld x %lld shape",
                         (long long)first_bad, (long long)src[first_bad], (long long)dst[first_bad],
                         (long long)n_rows, (long long)n_cols);

    const int sym = o.symmetrize != 0;
    /* Every thread of the counting and scatter pass keeps a histogram of
     * n_rows + 1 counts: cap that team so they hold no more counts than there
     * are entries (a 64-thread host would otherwise spend 512 bytes per node
     * on a sparse graph); the sort below uses every thread. The result is the
     * same for every team size. */
    int team = threads;
    {
        const uint64_t per_row = ((uint64_t)m << sym) / ((uint64_t)n_rows + 1);
        if (per_row < (uint64_t)team) team = per_row > 1 ? (int)per_row : 1;
    }
    /* the work arrays' sizes below must not wrap around */
    if ((uint64_t)n_rows + 1 > SIZE_MAX / sizeof(int64_t) / (uint64_t)team ||
        (uint64_t)m > SIZE_MAX / 2 / sizeof(entry))
        return psg__fail(PSG_ERR_OVERFLOW, "%lld rows x %d threads or %lld edges overflow the work arrays' sizes",
                         (long long)n_rows, team, (long long)m);
    const int64_t M = m << sym;
    const int drop_loops = o.self_loops == PSG_LOOPS_DROP;
    {
        /* in double: the sum of the sizes may pass 2**64 */
        const size_t per_entry = sizeof(entry) + (size_t)index_size + (values ? (size_t)value_size : 0);
        const double work = ((double)team + 2) * ((double)n_rows + 1) * sizeof(int64_t) + (double)M * per_entry;
        const psg_status st = psg__check_fits_memory(work, "the CSR arrays and work arrays");
        if (st != PSG_OK) return st;
    }
    /* Each thread owns a contiguous slice of the input and one row histogram;
     * offsets are laid out row-major over (row, thread) so the scatter is
     * stable: within a row, entries keep input order whatever the team size. */
    int64_t *count = calloc((size_t)team * (size_t)(n_rows + 1), sizeof *count);
    int64_t *row_start = malloc((size_t)(n_rows + 1) * sizeof *row_start);
    entry *ent = malloc((size_t)(M > 0 ? M : 1) * sizeof *ent);
    int64_t *indptr = malloc((size_t)(n_rows + 1) * sizeof *indptr);
    if (!count || !row_start || !ent || !indptr) {
        free(count); free(row_start); free(ent); free(indptr);
        return psg__fail(PSG_ERR_NO_MEMORY, "cannot allocate the work arrays for %lld edges", (long long)M);
    }

#pragma omp parallel num_threads(team)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        const int64_t e0 = M * t / nt, e1 = M * (t + 1) / nt;
        int64_t *cnt = count + (int64_t)t * (n_rows + 1);
        for (int64_t e = e0; e < e1; e++) {
            int64_t u, v;
            if (edge_at(e, sym, src, dst, &u, &v) && !(drop_loops && u == v)) cnt[u]++;
        }
#pragma omp barrier
#pragma omp single
        {
            int64_t run = 0;
            for (int64_t r = 0; r < n_rows; r++) {
                row_start[r] = run;
                for (int tt = 0; tt < nt; tt++) {
                    int64_t c = count[(int64_t)tt * (n_rows + 1) + r];
                    count[(int64_t)tt * (n_rows + 1) + r] = run;
                    run += c;
                }
            }
            row_start[n_rows] = run;
        }
        for (int64_t e = e0; e < e1; e++) {
            int64_t u, v;
            if (!edge_at(e, sym, src, dst, &u, &v) || (drop_loops && u == v)) continue;
            ent[cnt[u]++] = (entry){v, e};
        }
    }
    free(count);
    /* Sort each row, then count what it keeps: the whole team again (no histograms here). */
#pragma omp parallel for num_threads(threads) schedule(dynamic, 256)
    for (int64_t r = 0; r < n_rows; r++) {
        int64_t n = row_start[r + 1] - row_start[r];
        sort_entries(ent + row_start[r], n);
        int add_loop = o.self_loops == PSG_LOOPS_ADD && r < n_cols;
        indptr[r + 1] = emit_row(r, ent + row_start[r], n, sym, values, value_size, &o, add_loop, NULL, 0, NULL, 0);
    }
    indptr[0] = 0;
    for (int64_t r = 0; r < n_rows; r++) indptr[r + 1] += indptr[r];
    const int64_t nnz = indptr[n_rows];
    void *out_idx = malloc((size_t)(nnz > 0 ? nnz : 1) * (size_t)index_size);
    void *out_val = values ? malloc((size_t)(nnz > 0 ? nnz : 1) * (size_t)value_size) : NULL;
    if (!out_idx || (values && !out_val)) {
        free(out_idx); free(out_val); free(ent); free(row_start); free(indptr);
        return psg__fail(PSG_ERR_NO_MEMORY, "cannot allocate a CSR of %lld entries", (long long)nnz);
    }
#pragma omp parallel for num_threads(threads) schedule(dynamic, 256)
    for (int64_t r = 0; r < n_rows; r++) {
        int64_t n = row_start[r + 1] - row_start[r];
        int add_loop = o.self_loops == PSG_LOOPS_ADD && r < n_cols;
        emit_row(r, ent + row_start[r], n, sym, values, value_size, &o, add_loop, out_idx, index_size, out_val,
                 indptr[r]);
    }
    free(ent);
    free(row_start);
    out->indptr = indptr;
    out->indices = out_idx;
    out->values = out_val;
    out->nnz = nnz;
    return PSG_OK;
}
