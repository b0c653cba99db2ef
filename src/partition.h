/* Row partitioning balanced by work (internal). */
#ifndef PSG_PARTITION_H
#define PSG_PARTITION_H
#include <stdint.h>

/* Cuts rows [0, n_rows) into n_chunks contiguous ranges of about equal cost,
 * where a row costs (its nnz + 1): the +1 keeps long runs of empty rows from
 * piling up on one chunk. bounds[n_chunks+1] out, bounds[0] = 0,
 * bounds[n_chunks] = n_rows, non-decreasing. O(n_chunks log n_rows). */
/* First row r in [lo, hi] with indptr[r] + r >= target (binary search; the
 * cost indptr[r] + r is non-decreasing in r). */
int64_t psg__first_row_with_cost(const int64_t *indptr, int64_t lo, int64_t hi, int64_t target);

void psg__partition_rows(int64_t n_rows, const int64_t *indptr, int64_t n_chunks, int64_t *bounds);

/* Below this many multiply-adds a product runs on the calling thread alone:
 * what a second OpenMP thread saves is small, and what it can cost is not.
 * Measured on the SpMM planner (bench/RESULTS.md) at Cora K = 64 (0.85M
 * multiply-adds): back to back, a team saves 0.01-0.05 ms (0.038 -> 0.024 ms on
 * the Intel VM, 0.13 -> 0.08 ms on the AMD Zen 3 VM); but the first 2-thread
 * call after the process was idle for 0.3 s takes 9.6 ms on the Zen 3 VM (the
 * idle vCPU wakes), against 0.36 ms on one thread. At 2^21 (~0.3 ms of work on
 * one core) the team's saving starts to outweigh that risk: Cora K = 256 (3.4M,
 * 0.58 -> 0.39 ms) and ego-Facebook K = 16 (2.9M) keep their team. Shared by
 * every kernel that makes the same choice. */
#define PSG_SERIAL_WORK ((int64_t)1 << 21)

/* ... except in a hot loop. When the previous product (an SpMM or a sparse
 * linear layer) ended less than PSG_HOT_GAP_NS ago, the caller is making
 * products back to back (a training loop, a chain of layers): the team's
 * threads are still spinning from the last call, so the wake-up risk above
 * is gone and a team pays from about 2^17 multiply-adds
 * (measured back to back on the Zen 3 VM: 2^17 15.3 -> 11.9 us, 2^18 26.5 ->
 * 19 us; Cora K=16 19.5 -> 15 us, K=64 48 -> 33-41 us). After 1 ms of idle
 * sleep a team still won (0.109 -> 0.081 ms at Cora K=64); after 5 ms it lost.
 * The first product of a loop runs serially; the next ones get the team. */
#define PSG_HOT_GAP_NS ((int64_t)1000000)
#define PSG_HOT_MIN_WORK ((int64_t)1 << 17)

/* 1 when a product of `work` multiply-adds, below its kernel's serial
 * cut-off, should still take the team: it has at least `min_work` and the
 * previous product (any thread's) ended less than PSG_HOT_GAP_NS ago. */
int psg__team_is_warm_for(int64_t work, int64_t min_work);
/* Stamps the end of a product, for psg__team_is_warm_for. */
void psg__mark_product_end(void);

/* How many chunks to cut for a team of n_threads when each stored entry
 * costs `width` units (the feature width K for SpMM): a few per thread so
 * dynamic scheduling can even out rows whose cost the nnz count misjudges,
 * and a single chunk (no thread team at all) for work too small to share. */
int64_t psg__default_chunks(int64_t n_rows, int64_t nnz, int64_t width, int n_threads);
#endif
