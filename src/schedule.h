/* Lock-free work-stealing scheduler over a list of chunks (internal).
 *
 * Chunks 0..n_chunks-1 are handed out in contiguous ranges: thread t starts
 * on [t*n/T, (t+1)*n/T) and takes chunks from the FRONT of its own range (so
 * neighbouring chunks, which touch neighbouring rows, run on one core). When
 * its range is empty it steals the back HALF of the fullest-looking other
 * range. Each range is one 64-bit word (begin:32 | end:32) changed only by
 * compare-and-swap, so owner and thieves never block each other, and every
 * chunk is handed out exactly once.
 *
 * Why ABA cannot bite: a range word only ever holds chunks nobody has taken
 * yet, and a chunk is taken once, so a word never returns to a value a thief
 * read earlier (except the empty range, which thieves do not CAS on).
 *
 * Typical use, inside `#pragma omp parallel`:
 *     int64_t c;
 *     while ((c = psg__ws_next(&ws, omp_get_thread_num())) >= 0) run(c);
 * Kernels that adopt it must make each chunk's output independent of which
 * thread runs it (disjoint outputs or per-chunk partial slots). */
#ifndef PSG_SCHEDULE_H
#define PSG_SCHEDULE_H
#include <stdint.h>

typedef struct {
    /* one padded slot per thread: keeps each range word on its own cache line */
    struct psg__ws_slot { uint64_t word; char pad[56]; } *slots;
    int n_threads;
    int64_t n_chunks;
    int64_t steals;      /* statistics: successful steals of the last run */
} psg__ws;

/* Prepares ranges for n_chunks (< 2^31) chunks and n_threads (>= 1) threads.
 * Returns 0, or -1 when out of memory. Call outside the parallel region. */
int psg__ws_init(psg__ws *ws, int64_t n_chunks, int n_threads);

/* Next chunk for thread `tid` (own range first, then stealing); -1 when all
 * chunks have been handed out. Safe to call concurrently from every thread. */
int64_t psg__ws_next(psg__ws *ws, int tid);

void psg__ws_free(psg__ws *ws);
#endif
