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
    int store;           /* psg_spmm_options.store, as asked (PSG_STORE_*) */
    int narrow_prefetch; /* psg_spmm_options.narrow_prefetch, as asked (PSG_PREFETCH_*) */
    int align_x;         /* psg_spmm_options.align_x, as asked (PSG_ALIGN_*) */
    double gather_miss;  /* estimated share of gathers missing the L2 (psg_spmm_plan_info), -1: none */
    int feature_tiles;      /* psg_spmm_options.feature_tiles, as asked (PSG_FTILE_*) */
    double gather_miss_llc; /* estimated share of gathers missing the last-level cache, -1: none */
    double build_seconds;
    int64_t bytes;       /* memory held by the plan (chunks, hubs, blocked copy) */
    /* align_x's aligned copy of X, kept from call to call (psg__x_copy_take):
     * a buffer allocated afresh each call came from new pages as often as
     * not, and faulting them in cost more than the copy saved. */
    void *x_copy;
    size_t x_copy_bytes; /* its size; 0: none */
    int x_copy_busy;     /* 1 while a call holds it */
};

/* The GNN options a planned product can fuse (psg_gspmm_plan): reducer,
 * per-entry weight w_j = row_w * values[eid ? eid[j] : j] * col_scale[c_j]
 * (row_w = row_scale[r] for max/min, 1 for sum/mean, whose row scale and mean
 * division are applied once per row at the end), and an implicit self loop
 * (r, r) visited after the stored entries. With edge_width H > 1 the
 * value of entry j for feature f is values[e*H + f/(k/H)] (e = eid ? eid[j] : j)
 * and the weight is (row_w * col_scale[c_j]) * value. Scales are arrays of the plan's
 * value type. NULL for the plain sum. */
typedef struct {
    int reduce;              /* PSG_REDUCE_* */
    const void *row_scale;   /* [n_rows] or NULL */
    const void *col_scale;   /* [n_cols] or NULL */
    const int64_t *eid;      /* [nnz] or NULL: index of entry j's value and its edge id */
    int64_t edge_width;      /* values per edge: 1, k (one per feature) or H heads dividing k */
    const void *head_id;     /* [k] lanes as wide as a value: feature f's head f / (k/H)
                                (set by the executor for 1 < H < k) */
    int self_loops;          /* rows r < n_cols get the implicit (r, r) entry */
    int64_t n_cols;
    int64_t nnz_edges;       /* edge id of row r's self loop: nnz_edges + r */
    int64_t *argidx;         /* [n_rows*k] out or NULL (max/min) */
} psg__fused;

/* Plain (fz NULL) or fused execution of a plan, per type (templates/spmm.inc). */
#define PSG_RUN_DECL_(T, I, V)                                                                          \
    psg_status psg__spmm_run_##T(const psg_spmm_plan *p, const int64_t *indptr, const I *indices,       \
                                 const V *values, const V *x, int64_t k, V *y, int n_threads,           \
                                 const psg__fused *fz);
PSG_RUN_DECL_(i32_f32, int32_t, float)
PSG_RUN_DECL_(i32_f64, int32_t, double)
PSG_RUN_DECL_(i64_f32, int64_t, float)
PSG_RUN_DECL_(i64_f64, int64_t, double)
#undef PSG_RUN_DECL_

/* Sample stretches of the gather-miss estimate (templates/spmm.inc): at
 * most 8, fewer for long windows so that at most 2^18 entries are looked at
 * (under 1 ms; a 2 MiB L2 at K = 16 gets 4 stretches), at least 2. */
#define PSG_MISS_SAMPLES 8
#define PSG_MISS_ENTRIES ((int64_t)1 << 18)
/* feature tiles are considered for rows of X of this many bytes or more (psg__feature_tiles), and
 * are this many bytes of a row of Y wide */
#define PSG_FTILE_ROW_BYTES 1024
#define PSG_FTILE_BYTES 128

/* 1 when a plain CSR product of this plan prefetches X rows in one-vector
 * tiles, for an X of x_elem_bytes-byte elements: as asked, or (auto) when X
 * is larger than the last-level cache or larger than the L2 with most
 * gathers estimated to miss it. */
int psg__narrow_prefetch(const psg_spmm_plan *p, int x_elem_bytes);
/* 1 when a plain CSR product of this plan writes Y with streaming stores, for
 * an X of x_elem_bytes-byte elements (a call still needs an aligned Y with rows
 * of whole lines): as asked, or (auto) when Y and X together outgrow the
 * last-level cache. Blocked plans add each segment onto Y: never. */
int psg__stream_y(const psg_spmm_plan *p, int x_elem_bytes);
/* 1 when a plain CSR product of this plan computes rows of Y in feature tiles
 * of PSG_FTILE_BYTES, for an X of x_elem_bytes-byte elements: as asked (when
 * a row of Y is a whole number of tiles), or (auto) when rows of X are at
 * least PSG_FTILE_ROW_BYTES, X is larger than the last-level cache and most
 * gathers are estimated to miss it. */
int psg__feature_tiles(const psg_spmm_plan *p, int x_elem_bytes);

/* 1 when a product of this plan on `threads` threads first copies its X to
 * a 64-byte aligned buffer, for an X of x_elem_bytes-byte elements whose
 * start is x_off bytes past a line (0..63; pass 1 to ask whether a
 * misaligned X would be): as asked, or (auto) CSR with rows of whole lines
 * (more than one on several threads), X gathered at least PSG_ALIGN_USES
 * times a row on average and X with its copy within the last-level cache. */
int psg__align_x(const psg_spmm_plan *p, int x_elem_bytes, int x_off, int threads);
/* The 64-byte aligned buffer of `bytes` a call copies X to (align_x): the
 * plan's own, kept for the next call, when no other call holds it and it is
 * at most the last-level cache; else one of the call's own. *held: 1 when it
 * is the plan's. NULL when out of memory. Return it with psg__x_copy_give. */
void *psg__x_copy_take(psg_spmm_plan *p, size_t bytes, int *held);
void psg__x_copy_give(psg_spmm_plan *p, void *buf, int held);
/* Bytes of X a thread copies at a time for align_x. */
#define PSG_COPY_PIECE ((size_t)65536)

/* ISA ids shared by the dispatch code. */
int psg__spmm_select_isa(int requested, psg_status *st);
double psg__now(void);
#endif
