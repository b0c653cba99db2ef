#include <time.h>
#include "partition.h"

/* First row r in [lo, hi] with indptr[r] + r >= target (cost is monotone in r). */
int64_t psg__first_row_with_cost(const int64_t *indptr, int64_t lo, int64_t hi, int64_t target)
{
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (indptr[mid] + mid < target) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

void psg__partition_rows(int64_t n_rows, const int64_t *indptr, int64_t n_chunks, int64_t *bounds)
{
    int64_t total = indptr[n_rows] + n_rows;
    bounds[0] = 0;
    for (int64_t c = 1; c < n_chunks; c++) {
        /* total * c may exceed int64 only for absurd sizes; divide first. */
        int64_t target = (total / n_chunks) * c + ((total % n_chunks) * c) / n_chunks;
        int64_t r = psg__first_row_with_cost(indptr, bounds[c - 1], n_rows, target);
        bounds[c] = r;
    }
    bounds[n_chunks] = n_rows;
}

int64_t psg__default_chunks(int64_t n_rows, int64_t nnz, int64_t width, int n_threads)
{
    if (n_threads <= 1 || n_rows <= 1) return 1;
    int64_t chunks = (int64_t)n_threads * 8;
    /* Below ~16k multiply-adds per chunk, waking a thread costs more than it saves. */
    int64_t by_work = (nnz + n_rows) * (width > 0 ? width : 1) / 16384;
    if (by_work <= 1) return 1;
    if (by_work < n_threads) by_work = n_threads;
    if (chunks > by_work) chunks = by_work;
    if (chunks > n_rows) chunks = n_rows;
    return chunks;
}

/* Nanoseconds on the wall clock (C11 timespec_get: portable, a vDSO read on
 * Linux). A clock step can only cost one misjudged call. */
static int64_t now_ns(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* End of the last product; 0 = none yet. Relaxed atomics: a stale read only
 * changes the team size of one call, never its bits. */
static int64_t last_product_end_ns;

int psg__team_is_warm_for(int64_t work, int64_t min_work)
{
    if (work < min_work) return 0;
    const int64_t last = __atomic_load_n(&last_product_end_ns, __ATOMIC_RELAXED);
    if (last == 0) return 0;
    const int64_t gap = now_ns() - last;
    return gap >= 0 && gap < PSG_HOT_GAP_NS;
}

void psg__mark_product_end(void) { __atomic_store_n(&last_product_end_ns, now_ns(), __ATOMIC_RELAXED); }
