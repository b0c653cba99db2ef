/* Generalized SpMM (reducers, edge values, fused normalization, implicit self
 * loops), run on SpMM plans (psg__spmm_run: the plan's chunks, scheduler and
 * SIMD tiles), and its max/min backward, for every index × value type. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gnn_common.h"
#include "partition.h"
#include "spmm_plan.h"

#define PSG_TEMPLATE "templates/gspmm.inc"
#include "templates/instantiate.h"
#undef PSG_TEMPLATE

static psg_status check_opts(const psg_gspmm_opts *o, int64_t k, int need_arg)
{
    if (!o) return psg__fail(PSG_ERR_INVALID_ARG, "opts is NULL");
    if (o->reduce < PSG_REDUCE_SUM || o->reduce > PSG_REDUCE_MIN)
        return psg__fail(PSG_ERR_INVALID_ARG, "reduce must be 0..3 (sum, mean, max, min), got %d", o->reduce);
    if (o->edge_values && (o->edge_width < 1 || (k > 0 && k % o->edge_width != 0)))
        return psg__fail(PSG_ERR_SHAPE, "edge_width must be >= 1 and divide k=%lld, got %lld", (long long)k,
                         (long long)o->edge_width);
    if (need_arg && !o->argidx) return psg__fail(PSG_ERR_INVALID_ARG, "argidx is NULL");
    return PSG_OK;
}

/* Checks shared by the two max/min backward entry points; *slot gets the type slot. */
static psg_status check_backward(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                                 const psg_gspmm_opts *opts, int64_t k, int *slot)
{
    psg__clear_error();
    *slot = psg__type_slot(index_size, value_size);
    if (*slot < 0) return PSG_ERR_INVALID_ARG;
    if (n_rows < 0 || n_cols < 0 || k < 0) return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension");
    psg_status st = check_opts(opts, k, 1);
    if (st != PSG_OK) return st;
    if (opts->eid) return psg__fail(PSG_ERR_INVALID_ARG, "opts->eid must be NULL (edge ids are storage positions)");
    return PSG_OK;
}

/* Checks shared by psg_gspmm and psg_gspmm_plan. Sets *done when there is
 * nothing to compute (n_rows == 0 or k == 0). */
static psg_status check_gspmm(int64_t n_rows, int64_t n_cols, const int64_t *indptr, const psg_gspmm_opts *opts,
                              const void *x, int64_t k, void *y, int *done)
{
    *done = 0;
    if (n_rows < 0 || n_cols < 0 || k < 0)
        return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension: n_rows=%lld n_cols=%lld k=%lld",
                         (long long)n_rows, (long long)n_cols, (long long)k);
    psg_status st = check_opts(opts, k, 0);
    if (st != PSG_OK) return st;
    if (n_rows == 0 || k == 0) {
        psg__set_team_size(1);
        *done = 1;
        return PSG_OK;
    }
    if (!indptr || !y || !x) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    if (opts->self_loops && opts->nnz_edges < indptr[n_rows])
        return psg__fail(PSG_ERR_INVALID_ARG, "nnz_edges (%lld) is below nnz (%lld)",
                         (long long)opts->nnz_edges, (long long)indptr[n_rows]);
    return PSG_OK;
}

static psg_status run_planned(int slot, const psg_spmm_plan *plan, int64_t n_cols, const int64_t *indptr,
                              const void *indices, const psg_gspmm_opts *o, const void *x, int64_t k,
                              void *y, int n_threads)
{
    const psg__fused fz = {.reduce = o->reduce, .row_scale = o->row_scale, .col_scale = o->col_scale,
                           .eid = o->eid, .edge_width = o->edge_values ? o->edge_width : 1,
                           .self_loops = o->self_loops, .n_cols = n_cols, .nnz_edges = o->nnz_edges,
                           .argidx = o->argidx};
    psg_status st;
    PSG_DISPATCH(st, slot, psg__spmm_run, plan, indptr, indices, o->edge_values, x, k, y, n_threads, &fz);
    return st;
}

psg_status psg_gspmm(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                     const int64_t *indptr, const void *indices, const psg_gspmm_opts *opts,
                     const void *x, int64_t k, void *y, int n_threads)
{
    psg__clear_error();
    const int slot = psg__type_slot(index_size, value_size);
    if (slot < 0) return PSG_ERR_INVALID_ARG;
    int done;
    psg_status st = check_gspmm(n_rows, n_cols, indptr, opts, x, k, y, &done);
    if (st != PSG_OK || done) return st;
    /* a CSR plan for this call only (callers that repeat the product keep one) */
    psg_spmm_options o;
    psg_spmm_options_default(&o);
    o.layout = PSG_LAYOUT_CSR;
    psg_spmm_plan *plan = NULL;
    PSG_DISPATCH(st, slot, psg_spmm_plan_build, n_rows, n_cols, indptr, indices, NULL, k, n_threads, &o, &plan);
    if (st != PSG_OK) return st;
    st = run_planned(slot, plan, n_cols, indptr, indices, opts, x, k, y, n_threads);
    psg_spmm_plan_free(plan);
    return st;
}

psg_status psg_gspmm_plan(int index_size, int value_size, const psg_spmm_plan *plan, int64_t n_rows,
                          int64_t n_cols, const int64_t *indptr, const void *indices,
                          const psg_gspmm_opts *opts, const void *x, int64_t k, void *y, int n_threads)
{
    psg__clear_error();
    const int slot = psg__type_slot(index_size, value_size);
    if (slot < 0) return PSG_ERR_INVALID_ARG;
    if (!plan) return psg__fail(PSG_ERR_INVALID_ARG, "plan is NULL");
    if (plan->n_rows != n_rows || plan->n_cols != n_cols)
        return psg__fail(PSG_ERR_SHAPE, "the plan was built for a %lldx%lld matrix, not %lldx%lld",
                         (long long)plan->n_rows, (long long)plan->n_cols, (long long)n_rows, (long long)n_cols);
    int done;
    psg_status st = check_gspmm(n_rows, n_cols, indptr, opts, x, k, y, &done);
    if (st != PSG_OK || done) return st;
    return run_planned(slot, plan, n_cols, indptr, indices, opts, x, k, y, n_threads);
}

psg_status psg_gspmm_arg_backward_x(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                                    const int64_t *t_indptr, const void *t_indices, const int64_t *t_eid,
                                    const psg_gspmm_opts *opts, const void *grad_y, int64_t k,
                                    void *grad_x, int n_threads)
{
    int slot;
    psg_status st = check_backward(index_size, value_size, n_rows, n_cols, opts, k, &slot);
    if (st != PSG_OK) return st;
    if (n_cols == 0 || k == 0) {
        psg__set_team_size(1);
        return PSG_OK;
    }
    if (!t_indptr || !grad_y || !grad_x || (t_indptr[n_cols] > 0 && (!t_indices || !t_eid)))
        return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    PSG_DISPATCH(st, slot, psg__arg_backward, 0, n_rows, n_cols, t_indptr, t_indices, t_eid, opts, NULL,
                 grad_y, k, 0, grad_x, n_threads);
    return st;
}

psg_status psg_gspmm_arg_backward_e(int index_size, int value_size, int64_t n_rows, int64_t n_cols,
                                    const int64_t *indptr, const void *indices, const psg_gspmm_opts *opts,
                                    const void *x, const void *grad_y, int64_t k, int64_t edge_width,
                                    void *grad_e, int n_threads)
{
    int slot;
    psg_status st = check_backward(index_size, value_size, n_rows, n_cols, opts, k, &slot);
    if (st != PSG_OK) return st;
    if (edge_width < 1 || (k > 0 && k % edge_width != 0))
        return psg__fail(PSG_ERR_SHAPE, "edge_width must be >= 1 and divide k=%lld, got %lld", (long long)k,
                         (long long)edge_width);
    if (!indptr) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    if (n_rows == 0 || indptr[n_rows] == 0) {
        psg__set_team_size(1);
        return PSG_OK;
    }
    if (k == 0) {
        /* No feature won anything: every gradient is 0. */
        if (!grad_e) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
        if (indptr[n_rows] < 0) return psg__fail(PSG_ERR_INDPTR, "indptr[n_rows] is negative");
        int64_t count;
        if (__builtin_mul_overflow(indptr[n_rows], edge_width, &count) || (uint64_t)count > SIZE_MAX / 8)
            return psg__fail(PSG_ERR_OVERFLOW, "nnz (%lld) * edge_width (%lld) overflows",
                             (long long)indptr[n_rows], (long long)edge_width);
        memset(grad_e, 0, (size_t)count * (size_t)value_size);
        psg__set_team_size(1);
        return PSG_OK;
    }
    if (!grad_y || !grad_e || !x || !indices) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    PSG_DISPATCH(st, slot, psg__arg_backward, 1, n_rows, n_cols, indptr, indices, NULL, opts, x, grad_y, k,
                 edge_width, grad_e, n_threads);
    return st;
}

psg_status psg_gspmm_check_argidx(int64_t n_rows, int64_t n_cols, const int64_t *indptr, int self_loops,
                                  int64_t nnz_edges, const int64_t *argidx, int64_t k, int n_threads)
{
    psg__clear_error();
    if (n_rows < 0 || n_cols < 0 || k < 0) return psg__fail(PSG_ERR_INVALID_ARG, "negative dimension");
    if (n_rows == 0 || k == 0) return PSG_OK;
    if (!indptr || !argidx) return psg__fail(PSG_ERR_INVALID_ARG, "NULL array argument");
    int64_t count;
    if (__builtin_mul_overflow(n_rows, k, &count) || count > INT64_MAX / 8)
        return psg__fail(PSG_ERR_OVERFLOW, "n_rows (%lld) * k (%lld) overflows", (long long)n_rows, (long long)k);
    /* the first bad element in row-major order, whatever the team size */
    int64_t first = INT64_MAX;
    const int threads = psg__resolve_threads(n_threads);
    (void)threads; /* unused without OpenMP */
#pragma omp parallel for schedule(static) reduction(min : first) num_threads(threads) if (n_rows * k > (1 << 16))
    for (int64_t r = 0; r < n_rows; r++) {
        const int64_t lo = indptr[r], hi = indptr[r + 1];
        const int64_t loop = self_loops && r < n_cols ? nnz_edges + r : INT64_MIN;
        const int64_t none = hi == lo && loop == INT64_MIN ? -1 : INT64_MIN; /* -1 only for a row without messages */
        const int64_t *a = argidx + r * k;
        for (int64_t f = 0; f < k; f++)
            if (!((a[f] >= lo && a[f] < hi) || a[f] == loop || a[f] == none)) {
                if (r * k + f < first) first = r * k + f;
                break;
            }
    }
    if (first == INT64_MAX) return PSG_OK;
    const int64_t r = first / k, f = first % k, lo = indptr[r], hi = indptr[r + 1];
    char also[96] = "";
    if (self_loops && r < n_cols)
        snprintf(also, sizeof also, " and the self loop's id %lld (nnz + row)", (long long)(nnz_edges + r));
    else if (hi == lo)
        snprintf(also, sizeof also, " (none: its arg index is -1)");
    return psg__fail(PSG_ERR_INDEX_RANGE, "argidx[%lld, %lld] = %lld is not an edge id of row %lld, which holds "
                     "edge ids [%lld, %lld)%s; pass the argidx of the forward call that gave grad_out",
                     (long long)r, (long long)f, (long long)argidx[first], (long long)r, (long long)lo,
                     (long long)hi, also);
}
