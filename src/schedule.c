#include <stdlib.h>
#include <string.h>
#include "schedule.h"

#define WS_PACK(b, e) (((uint64_t)(uint32_t)(b) << 32) | (uint64_t)(uint32_t)(e))
#define WS_BEGIN(w) ((int64_t)((w) >> 32))
#define WS_END(w) ((int64_t)((w) & 0xffffffffu))

int psg__ws_init(psg__ws *ws, int64_t n_chunks, int n_threads)
{
    if (n_threads < 1) n_threads = 1;
    ws->n_threads = n_threads;
    ws->n_chunks = n_chunks;
    ws->steals = 0;
    /* C11 aligned_alloc: the size (n * 64) is a multiple of the alignment */
    ws->slots = aligned_alloc(64, (size_t)n_threads * sizeof *ws->slots);
    if (!ws->slots) return -1;
    for (int t = 0; t < n_threads; t++) {
        int64_t b = n_chunks * t / n_threads, e = n_chunks * (t + 1) / n_threads;
        ws->slots[t].word = WS_PACK(b, e);
    }
    return 0;
}

void psg__ws_free(psg__ws *ws)
{
    free(ws->slots);
    ws->slots = NULL;
}

int64_t psg__ws_next(psg__ws *ws, int tid)
{
    uint64_t *mine = &ws->slots[tid].word;
    for (;;) {
        /* 1. own range, from the front */
        uint64_t w = __atomic_load_n(mine, __ATOMIC_ACQUIRE);
        while (WS_BEGIN(w) < WS_END(w)) {
            uint64_t nw = WS_PACK(WS_BEGIN(w) + 1, WS_END(w));
            if (__atomic_compare_exchange_n(mine, &w, nw, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return WS_BEGIN(w);
        }
        /* 2. steal the back half of the largest other range */
        int victim = -1;
        int64_t best = 0;
        for (int i = 1; i < ws->n_threads; i++) {
            int t = (tid + i) % ws->n_threads;
            uint64_t v = __atomic_load_n(&ws->slots[t].word, __ATOMIC_ACQUIRE);
            int64_t len = WS_END(v) - WS_BEGIN(v);
            if (len > best) { best = len; victim = t; }
        }
        if (victim < 0) return -1; /* every range looked empty: all chunks handed out */
        uint64_t *vw = &ws->slots[victim].word;
        uint64_t v = __atomic_load_n(vw, __ATOMIC_ACQUIRE);
        int64_t b = WS_BEGIN(v), e = WS_END(v);
        if (b >= e) continue;
        int64_t mid = e - (e - b + 1) / 2; /* thief takes [mid, e), at least one chunk */
        if (!__atomic_compare_exchange_n(vw, &v, WS_PACK(b, mid), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue; /* lost a race with the owner or another thief: look again */
        __atomic_fetch_add(&ws->steals, 1, __ATOMIC_RELAXED);
        /* Our own range is empty, so no one CASes on it: publish the rest of the
         * loot there (others may steal from it) and run its first chunk now. */
        __atomic_store_n(mine, WS_PACK(mid + 1, e), __ATOMIC_RELEASE);
        return mid;
    }
}
