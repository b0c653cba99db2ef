/* C-only test of the GNN kernels on a small hand-made CSR (no Python):
 * gspmm max with argidx and self loops, transpose + transposed sum, sddmm,
 * edge softmax, and the error path for a bad reducer. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "pysparsegraph/pysparsegraph.h"

#include "check.h"

int main(void)
{
    /* 4x4: row 0 -> {1, 2}, row 1 -> {0}, row 2 empty, row 3 -> {0, 1, 2} */
    const int64_t indptr[5] = {0, 2, 3, 3, 6};
    const int32_t indices[6] = {1, 2, 0, 0, 1, 2};
    const double x[4 * 2] = {1, -1, 4, 0, -2, 5, 3, 3};
    double y[4 * 2];
    int64_t arg[4 * 2];

    psg_gspmm_opts o;
    memset(&o, 0, sizeof o);
    o.reduce = PSG_REDUCE_MAX;
    o.self_loops = 1;
    o.nnz_edges = 6;
    o.argidx = arg;
    CHECK(psg_gspmm(4, 8, 4, 4, indptr, indices, &o, x, 2, y, 2) == PSG_OK, "gspmm: %s", psg_last_error());
    /* row 0: messages x1=(4,0), x2=(-2,5), self x0=(1,-1) -> (4, 5), edges (0, 1) */
    CHECK(y[0] == 4 && y[1] == 5 && arg[0] == 0 && arg[1] == 1, "row 0 max: %g %g %lld %lld", y[0], y[1],
          (long long)arg[0], (long long)arg[1]);
    /* row 2: only its self loop x2=(-2,5), edge id nnz + 2 = 8 */
    CHECK(y[4] == -2 && y[5] == 5 && arg[4] == 8 && arg[5] == 8, "row 2 self loop only");

    /* transpose, then Aᵀ·x as a sum over the transposed rows */
    int64_t tp[5], teid[6];
    int32_t ti[6];
    CHECK(psg_csr_transpose(4, 4, 4, indptr, indices, tp, ti, teid, 1) == PSG_OK, "transpose");
    CHECK(tp[4] == 6 && tp[1] == 2 && ti[0] == 1 && ti[1] == 3 && teid[0] == 2 && teid[1] == 3,
          "transpose structure");
    memset(&o, 0, sizeof o);
    o.reduce = PSG_REDUCE_SUM;
    o.eid = teid;
    o.nnz_edges = 6;
    CHECK(psg_gspmm(4, 8, 4, 4, tp, ti, &o, x, 2, y, 1) == PSG_OK, "transposed gspmm");
    /* (Aᵀx)[0] = x[1] + x[3] = (7, 3); (Aᵀx)[3] = 0 (no entry in column 3) */
    CHECK(y[0] == 7 && y[1] == 3 && y[6] == 0 && y[7] == 0, "Aᵀx: %g %g %g %g", y[0], y[1], y[6], y[7]);

    /* sddmm dot: out_j = <x_r, x_c> */
    double out[6];
    CHECK(psg_sddmm(4, 8, PSG_SDDMM_DOT, 4, 4, indptr, indices, x, 2, x, 2, 1, out, 2) == PSG_OK, "sddmm");
    CHECK(out[0] == 4 && out[1] == -7 && out[5] == -6 + 15, "sddmm values %g %g %g", out[0], out[1], out[5]);

    /* edge softmax: row 3 has three equal scores -> 1/3 each; huge scores stay finite */
    const double s[6] = {1000, 0, 5, 2, 2, 2};
    double a[6];
    CHECK(psg_edge_softmax(8, 4, indptr, s, 1, a, 2) == PSG_OK, "edge_softmax");
    CHECK(fabs(a[3] - 1.0 / 3) < 1e-15 && a[2] == 1 && a[0] == 1 && a[1] == 0, "softmax values");

    memset(&o, 0, sizeof o);
    o.reduce = 7;
    CHECK(psg_gspmm(4, 8, 4, 4, indptr, indices, &o, x, 2, y, 1) == PSG_ERR_INVALID_ARG &&
              strstr(psg_last_error(), "reduce") != NULL, "bad reducer is an error");
    return CHECK_REPORT("gnn");
}
