/* C-only test of the public API's guards: sizes whose byte counts would wrap,
 * huge thread and chunk counts, unknown enum codes, NULL arrays and invalid
 * permutations give an error code (or a clamped, correct result), never a
 * crash or a write outside the outputs. Run under ASan to see the writes. */
#include <math.h>
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
    { /* a bad indptr is refused by expand_rows before any write */
        int64_t neg[2] = {-5, 1}, dec[3] = {0, 3, 1};
        int32_t r32[4] = {7, 7, 7, 7};
        int64_t r64[4] = {7, 7, 7, 7};
        CHECK(psg_expand_rows_i32(1, neg, r32, 1) == PSG_ERR_INDPTR, "expand_rows_i32 with indptr[0] = -5");
        CHECK(psg_expand_rows_i64(2, dec, r64, 1) == PSG_ERR_INDPTR, "expand_rows_i64 with a decreasing indptr");
        CHECK(r32[0] == 7 && r64[0] == 7 && r64[1] == 7 && r64[2] == 7, "expand_rows wrote before refusing");
    }
    { /* NULL indices / outputs of permute_csr, edges_to_csr, check_indices */
        int64_t ip[3] = {0, 1, 2}, perm[2] = {1, 0}, inv[2] = {1, 0}, oi[3] = {9, 9, 9};
        int32_t ind[2] = {0, 1}, oind[2] = {9, 9};
        double v[2] = {1, 2}, ov[2] = {9, 9};
        CHECK(psg_permute_csr(2, ip, NULL, v, 8, perm, inv, oi, oind, ov, 1) == PSG_ERR_INVALID_ARG,
              "permute_csr with NULL indices");
        CHECK(psg_permute_csr(2, ip, ind, v, 8, perm, inv, oi, NULL, ov, 1) == PSG_ERR_INVALID_ARG,
              "permute_csr with NULL out_indices");
        CHECK(psg_permute_csr(2, ip, ind, v, 8, perm, inv, oi, oind, NULL, 1) == PSG_ERR_INVALID_ARG,
              "permute_csr with values and NULL out_values");
        CHECK(oi[0] == 9 && oind[0] == 9 && ov[0] == 9, "permute_csr wrote before refusing");
        int64_t s[2] = {0, 1}, d[2] = {1, 0};
        psg_csr_arrays o2 = {0};
        CHECK(psg_edges_to_csr(2, 2, 2, NULL, d, NULL, 4, 4, NULL, &o2) == PSG_ERR_INVALID_ARG && !o2.indptr,
              "edges_to_csr with NULL src");
        CHECK(psg_edges_to_csr(2, 2, 2, s, NULL, NULL, 4, 4, NULL, &o2) == PSG_ERR_INVALID_ARG && !o2.indptr,
              "edges_to_csr with NULL dst");
        CHECK(psg_edges_to_csr(2, 2, 2, s, d, NULL, 4, 4, NULL, NULL) == PSG_ERR_INVALID_ARG,
              "edges_to_csr with NULL out");
        CHECK(psg_check_indices_i32(3, NULL, 4, 1) == PSG_ERR_INVALID_ARG, "check_indices_i32 with NULL indices");
        CHECK(psg_check_indices_i64(3, NULL, 4, 1) == PSG_ERR_INVALID_ARG, "check_indices_i64 with NULL indices");
        CHECK(psg_check_indices_i32(0, NULL, 4, 1) == PSG_OK, "check_indices_i32 with nnz 0 and NULL");
    }
    { /* text builders: NULL buffers, take_values on an edge list, feeding after a take */
        psg_text_options o = {0};
        o.n_ids = 2;
        o.value_mode = 1;
        o.bound_a = o.bound_b = -1;
        o.n_threads = 1;
        psg_text_builder *b = NULL;
        CHECK(psg_tb_new(&o, &b) == PSG_OK, "tb_new: %s", psg_last_error());
        CHECK(psg_tb_feed(b, NULL, 10) == PSG_ERR_INVALID_ARG, "tb_feed with a NULL buffer");
        const char *s = "0 1 1.0\n1 0 2.0\n";
        CHECK(psg_tb_feed(b, s, (int64_t)strlen(s)) == PSG_OK, "tb_feed: %s", psg_last_error());
        double *v = NULL;
        int64_t n = -1;
        CHECK(psg_tb_take_values(b, &v, &n) == PSG_ERR_INVALID_ARG && !v && n == -1,
              "tb_take_values accepted an edge-list builder");
        psg_tb_free(b);
        o.n_ids = 0;
        b = NULL;
        CHECK(psg_tb_new(&o, &b) == PSG_OK, "tb_new values: %s", psg_last_error());
        CHECK(psg_tb_feed(b, "1.0\n2.0\n", 8) == PSG_OK, "tb_feed values: %s", psg_last_error());
        CHECK(psg_tb_take_values(b, &v, &n) == PSG_OK && n == 2 && v[0] == 1.0 && v[1] == 2.0, "take_values: %s",
              psg_last_error());
        psg_free(v);
        CHECK(psg_tb_feed(b, "3.0\n", 4) == PSG_OK, "tb_feed after take_values: %s", psg_last_error());
        CHECK(psg_tb_take_values(b, &v, &n) == PSG_OK && n == 1 && v[0] == 3.0, "second take_values: %s",
              psg_last_error());
        psg_free(v);
        psg_tb_free(b);
    }
    CHECK(psg_cpu_features(NULL, 16) == 0, "cpu_features with a NULL buffer");
    { /* gspmm: k == 0 backward with a huge edge_width; edge ids outside [0, nnz_edges) */
        int64_t indptr[3] = {0, 1, 2}, argidx[2] = {0, 1};
        int32_t indices[2] = {0, 1};
        float ge[2] = {9, 9};
        psg_gspmm_opts go = {0};
        go.reduce = PSG_REDUCE_MAX;
        go.argidx = argidx;
        CHECK(psg_gspmm_arg_backward_e(4, 4, 2, 2, indptr, indices, &go, NULL, NULL, 0, INT64_MAX, ge, 1) ==
                  PSG_ERR_OVERFLOW && ge[0] == 9,
              "gspmm_arg_backward_e with k 0 and edge_width INT64_MAX: %s", psg_last_error());
        int64_t eid[2] = {0, 2};
        float ev[2] = {1, 1}, x[2] = {1, 1}, y[2] = {9, 9};
        psg_gspmm_opts so = {0};
        so.reduce = PSG_REDUCE_SUM;
        so.edge_values = ev;
        so.edge_width = 1;
        so.eid = eid;
        so.nnz_edges = 2;
        /* edge ids are a precondition (one pass per call cost the transpose path up to 16%);
           the documented check catches both ends of the range */
        CHECK(psg_check_indices_i64(2, eid, so.nnz_edges, 1) == PSG_ERR_INDEX_RANGE &&
                  strstr(psg_last_error(), "[1] = 2"),
              "check of eid = nnz_edges: %s", psg_last_error());
        eid[1] = -7;
        CHECK(psg_check_indices_i64(2, eid, so.nnz_edges, 1) == PSG_ERR_INDEX_RANGE &&
                  strstr(psg_last_error(), "[1] = -7"),
              "check of eid = -7: %s", psg_last_error());
        eid[1] = 1;
        CHECK(psg_check_indices_i64(2, eid, so.nnz_edges, 1) == PSG_OK, "check of valid eid: %s", psg_last_error());
        CHECK(psg_gspmm(4, 4, 2, 2, indptr, indices, &so, x, 1, y, 1) == PSG_OK && y[0] == 1 && y[1] == 1,
              "gspmm with valid eid: %s", psg_last_error());
    }
    { /* size products that overflow int64 are refused before any access */
        const int64_t H = (int64_t)1 << 62;
        int64_t ip[3] = {0, 1, 2}, keep[4] = {7, 7, 7, 7}, nk = -1, arg[4] = {5, 5, 5, 5}, perm[1] = {7};
        int32_t ind[2] = {0, 1};
        float v[2] = {1, 1}, a[8] = {0}, o[8] = {9, 9, 9, 9, 9, 9, 9, 9};
        CHECK(psg_sparse_linear_i32_f32(2, 2, ip, ind, v, NULL, a, H, o, 0, INFINITY, PSG_ISA_GENERIC, 1) ==
                  PSG_ERR_OVERFLOW && o[0] == 9, "sparse_linear with batch 2^62: %s", psg_last_error());
        CHECK(psg_nonzero_columns_f32(H, 4, a, keep, &nk, 1) == PSG_ERR_OVERFLOW && nk == -1 && keep[0] == 7,
              "nonzero_columns with n_rows 2^62");
        CHECK(psg_gather_columns_f32(H, 4, a, keep + 0, 0, o, 1) == PSG_OK, "gather_columns with n_keep 0");
        int64_t k0[1] = {0};
        CHECK(psg_gather_columns_f32(H, 4, a, k0, 1, o, 1) == PSG_ERR_OVERFLOW && o[0] == 9,
              "gather_columns with n_rows 2^62");
        CHECK(psg_transpose_f32(H, 4, a, o, 1) == PSG_ERR_OVERFLOW && o[0] == 9, "transpose with n_rows 2^62");
        CHECK(psg_edge_softmax(4, 2, ip, a, H, o, 1) == PSG_ERR_OVERFLOW && o[0] == 9, "edge_softmax heads 2^62");
        CHECK(psg_gspmm_check_argidx(2, 2, ip, 0, 2, arg, H, 1) == PSG_ERR_OVERFLOW, "check_argidx with k 2^62");
        CHECK(psg_sddmm(4, 4, PSG_SDDMM_DOT, 2, 2, ip, ind, a, H, a, H, 1, o, 1) == PSG_ERR_OVERFLOW && o[0] == 9,
              "sddmm with kx = ky = 2^62: %s", psg_last_error());
        CHECK(psg_sddmm(4, 4, PSG_SDDMM_U_ADD_V, 2, 2, ip, ind, a, H, a, 1, 1, o, 1) == PSG_ERR_OVERFLOW && o[0] == 9,
              "sddmm u_add_v with kx = 2^62");
        int64_t ia[1] = {INT64_MAX}, ib[1] = {0}, w = -1, c = -1;
        char buf[64] = {0};
        CHECK(psg_format_entries(1, ia, ib, NULL, 1, buf, 64, &w, &c) == PSG_ERR_OVERFLOW && buf[0] == 0,
              "format_entries with id INT64_MAX + 1");
        int64_t bad[2] = {INT64_MIN, INT64_MAX};
        CHECK(psg_order_degree(1, bad, perm, 1) == PSG_ERR_OVERFLOW && perm[0] == 7, "order_degree with a huge row");
        uint8_t d[4] = {0xff, 0xff, 0xff, 0xff};
        psg_bvgraph_params bp = {0};
        bp.n_nodes = 2;
        bp.zeta_k = 3;
        psg_csr_arrays bo = {0};
        CHECK(psg_bvgraph_decode(d, INT64_MAX, &bp, &bo, NULL) == PSG_ERR_OVERFLOW && !bo.indptr,
              "bvgraph_decode with len INT64_MAX");
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
