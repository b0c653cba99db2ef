/* Internal layout of an SpMM plan (the public header keeps it opaque). */
#ifndef PSG_SPMM_PLAN_H
#define PSG_SPMM_PLAN_H
#include <stdint.h>
#include "pysparsegraph/spmm.h"

/* One unit of work. slot < 0: whole rows [r0, r1) written straight into Y.
 * slot >= 0: entries [nz0, nz1) of hub row r0, summed into partial slot
 * `slot`; the pieces of a hub are combined in slot order after all chunks. */
typedef struct {
    int64_t r0, r1, nz0, nz1, slot;
} psg__chunk;

/* Cache-blocked copy of the matrix: column segments of seg_width columns. */
typedef struct {
    int64_t seg_width, n_segs, nnz;
    int64_t *seg_row_off; /* [n_segs+1]: segment s's non-empty rows are seg_rows[off[s]..off[s+1]) */
    int64_t *seg_rows;    /* [n_nonempty] row ids, increasing within a segment */
    int64_t *seg_ptr;     /* [n_nonempty + n_segs]: segment s uses seg_ptr[off[s]+s .. off[s+1]+s] */
    uint16_t *cols;       /* [nnz] column id minus s*seg_width */
    void *vals;           /* [nnz] values in the plan's value type, or NULL */
    int64_t n_nonempty;
} psg__blocked;

struct psg_spmm_plan {
    int64_t n_rows, n_cols, nnz, k;
    int value_bytes, index_bytes, has_values, n_threads;
    int layout, partition, schedule, isa;
    int64_t split_len;
    int64_t n_chunks;
    psg__chunk *chunks;
    int64_t n_hubs, n_slots;
    int64_t *hub_row;    /* [n_hubs] */
    int64_t *hub_slot0;  /* [n_hubs+1]: hub h owns slots [hub_slot0[h], hub_slot0[h+1]) */
    psg__blocked blocked;
    int serial;          /* work too small to be worth waking a second thread */
    double build_seconds;
    int64_t bytes;       /* memory held by the plan (chunks, hubs, blocked copy) */
};

/* ISA ids shared by the dispatch code. */
int psg__spmm_select_isa(int requested, psg_status *st);
double psg__now(void);
#endif
