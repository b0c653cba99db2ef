/* C-only test of the public API's guards: sizes whose byte counts would wrap,
 * huge thread and chunk counts, unknown enum codes, NULL arrays and invalid
 * permutations give an error code (or a clamped, correct result), never a
 * crash or a write outside the outputs. Run under ASan to see the writes. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pysparsegraph/pysparsegraph.h"

#include "check.h"

static void *layer_in_a_thread(void *arg)
{
    (void)arg;
    int64_t indptr[3] = {0, 1, 2};
    uint16_t ind[2] = {0, 1};
    float v[2] = {1, 2}, xt[2 * 40], yt[2 * 40];
    for (int i = 0; i < 80; i++) xt[i] = 1.0f;
    psg_status st = psg_sparse_linear_u16_f32(2, 2, indptr, ind, v, NULL, xt, 40, yt, 0, 1e30f, 0, 1);
    return (void *)(intptr_t)(st == PSG_OK && yt[0] == 1.0f && yt[40] == 2.0f);
}

int main(void)
{
    psg_csr_arrays out;
    { /* row counts whose work arrays' sizes wrap */
        psg_edge_options o = {0};
        o.n_threads = 4;
        CHECK(psg_edges_to_csr(((int64_t)1 << 62) - 1, 1, 0, NULL, NULL, NULL, 4, 4, &o, &out) == PSG_ERR_OVERFLOW,
              "edges_to_csr huge n_rows: %s", psg_last_error());
    }
    { /* a huge thread count is clamped (it used to overflow libgomp's stack) */
        psg_edge_options o = {0};
        o.n_threads = 1 << 20;
        int64_t s[2] = {0, 1}, d[2] = {1, 0};
        CHECK(psg_edges_to_csr(2, 2, 2, s, d, NULL, 4, 4, &o, &out) == PSG_OK && out.nnz == 2 &&
                  out.indptr[1] == 1 && ((int32_t *)out.indices)[0] == 1,
              "edges_to_csr with 2^20 threads: %s", psg_last_error());
        free(out.indptr);
        free(out.indices);
        free(out.values);
    }
    { /* a huge chunk count is clamped to the rows, and the plan still computes A @ X */
        int64_t indptr[5] = {0, 2, 3, 3, 5};
        int32_t ind[5] = {0, 3, 1, 2, 3};
        float x[4 * 8], y[4 * 8];
        for (int i = 0; i < 32; i++) x[i] = (float)(i % 7);
        psg_spmm_options o;
        psg_spmm_options_default(&o);
        o.n_chunks = INT64_MAX;
        psg_spmm_plan *p = NULL;
        CHECK(psg_spmm_plan_build_i32_f32(4, 4, indptr, ind, NULL, 8, 1, &o, &p) == PSG_OK, "plan: %s",
              psg_last_error());
        CHECK(p && psg_spmm_plan_exec_i32_f32(p, indptr, ind, NULL, x, 8, y, 1) == PSG_OK, "exec: %s",
              psg_last_error());
        int ok = 1;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 8; c++) {
                float want = 0;
                for (int64_t j = indptr[r]; j < indptr[r + 1]; j++) want += x[ind[j] * 8 + c];
                ok &= y[r * 8 + c] == want;
            }
        CHECK(ok, "plan with n_chunks = INT64_MAX computes a wrong product");
        psg_spmm_plan_free(p);
    }
    {
        double g;
        CHECK(psg_probe_triad(((int64_t)1 << 61) + 1, 1, 1, &g) == PSG_ERR_OVERFLOW, "triad: %s", psg_last_error());
    }
    { /* a capacity hint too large to allocate falls back to growing the store */
        psg_text_options o = {0};
        o.n_ids = 2;
        o.bound_a = o.bound_b = -1;
        o.n_threads = 1;
        o.capacity_hint = (int64_t)1 << 62;
        psg_text_builder *b = NULL;
        CHECK(psg_tb_new(&o, &b) == PSG_OK, "tb_new: %s", psg_last_error());
        const char *s = "0 1\n1 2\n2 3\n";
        CHECK(psg_tb_feed(b, s, (int64_t)strlen(s)) == PSG_OK, "tb_feed with a huge hint: %s", psg_last_error());
        CHECK(psg_tb_finish(b, 4, 4, 0, 7, PSG_DUP_SUM, PSG_LOOPS_KEEP, 0, &out) == PSG_ERR_INVALID_ARG,
              "tb_finish accepted mirror code 7");
        CHECK(psg_tb_finish(b, 4, 4, 0, 0, (psg_dup_policy)9, PSG_LOOPS_KEEP, 0, &out) == PSG_ERR_INVALID_ARG,
              "tb_finish accepted duplicate code 9");
        CHECK(psg_tb_finish(b, 4, 4, 0, 0, PSG_DUP_SUM, (psg_loop_policy)-3, 0, &out) == PSG_ERR_INVALID_ARG,
              "tb_finish accepted loop code -3");
        CHECK(psg_tb_finish(b, 4, 4, 0, 0, PSG_DUP_SUM, PSG_LOOPS_KEEP, 0, &out) == PSG_OK && out.nnz == 3,
              "tb_finish: %s", psg_last_error());
        free(out.indptr);
        free(out.indices);
        free(out.values);
        psg_tb_free(b);
    }
    { /* NULL arrays */
        int64_t ip[5];
        psg_gspmm_opts go = {0};
        go.reduce = 2;
        int64_t arg[2];
        go.argidx = arg;
        CHECK(psg_sddmm(4, 4, 0, 2, 2, NULL, NULL, NULL, 1, NULL, 1, 1, NULL, 1) == PSG_ERR_INVALID_ARG, "sddmm");
        CHECK(psg_edge_softmax(4, 2, NULL, NULL, 1, NULL, 1) == PSG_ERR_INVALID_ARG, "edge_softmax");
        CHECK(psg_gspmm_arg_backward_e(4, 4, 2, 2, NULL, NULL, &go, NULL, NULL, 1, 1, NULL, 1) == PSG_ERR_INVALID_ARG,
              "gspmm_arg_backward_e");
        CHECK(psg_check_indptr(2, NULL, 0) == PSG_ERR_INVALID_ARG, "check_indptr");
        CHECK(psg_generate_grid2d(2, 2, ip, NULL, 1) == PSG_ERR_INVALID_ARG, "grid2d");
        int64_t ip3[3] = {0, 1, 2};
        CHECK(psg_expand_rows_i32(2, ip3, NULL, 1) == PSG_ERR_INVALID_ARG, "expand_rows");
    }
    { /* permutations are checked; a decreasing indptr is refused by the degree order */
        int64_t ip[3] = {0, 1, 2}, perm[2] = {0, 5}, inv[2] = {0, 1}, oi[3];
        int32_t ind[2] = {0, 1}, oind[2];
        CHECK(psg_permute_csr(2, ip, ind, NULL, 0, perm, inv, oi, oind, NULL, 1) == PSG_ERR_INVALID_ARG,
              "permute_csr with perm {0, 5}");
        int64_t twice[2] = {1, 1};
        CHECK(psg_permute_csr(2, ip, ind, NULL, 0, twice, inv, oi, oind, NULL, 1) == PSG_ERR_INVALID_ARG,
              "permute_csr with perm {1, 1}");
        int64_t bad[3] = {0, 1, -5};
        CHECK(psg_order_degree(2, bad, perm, 1) == PSG_ERR_INDPTR, "order_degree with a decreasing indptr");
    }
    { /* sparse layers from short-lived threads (their scratch is freed at thread exit: run under LSan) */
        for (int i = 0; i < 4; i++) {
            pthread_t t;
            void *ok = NULL;
            CHECK(pthread_create(&t, NULL, layer_in_a_thread, NULL) == 0 && pthread_join(t, &ok) == 0 && ok,
                  "sparse layer in a thread");
        }
    }
    return CHECK_REPORT("api_guards");
}
