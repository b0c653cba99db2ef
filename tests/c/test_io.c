/* C-only test of the text builder (edge list and Matrix Market bodies),
 * text formatting and reordering. Links only against libpysparsegraph. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pysparsegraph/pysparsegraph.h"
#include "pysparsegraph/io.h"

#include "check.h"

static psg_text_builder *builder(int n_ids, int value_mode, int one_based, int64_t bound, int threads)
{
    psg_text_options o = {n_ids, value_mode, one_based, one_based, bound, bound, 1, threads, 0};
    psg_text_builder *b = NULL;
    CHECK(psg_tb_new(&o, &b) == PSG_OK, "tb_new: %s", psg_last_error());
    return b;
}

int main(void)
{
    /* edge list with comments, CRLF, weights, a duplicate and a loop, fed in two blocks */
    for (int threads = 1; threads <= 2; threads++) {
        psg_text_builder *b = builder(2, 2, 0, -1, threads);
        const char *blk1 = "# c\r\n2 0 1.5\r\n0 1 2\r\n";
        const char *blk2 = "0 1 0.25\n1 1 4e0\n";
        CHECK(psg_tb_feed(b, blk1, (int64_t)strlen(blk1)) == PSG_OK, "feed: %s", psg_last_error());
        CHECK(psg_tb_feed(b, blk2, (int64_t)strlen(blk2)) == PSG_OK, "feed: %s", psg_last_error());
        psg_csr_arrays a;
        CHECK(psg_tb_finish(b, 3, 3, 0, PSG_MIRROR_NONE, PSG_DUP_SUM, PSG_LOOPS_KEEP, 1, &a) == PSG_OK, "finish: %s",
              psg_last_error());
        const int64_t ip[4] = {0, 1, 2, 3};
        const int32_t ix[3] = {1, 1, 0};
        const double v[3] = {2.25, 4.0, 1.5};
        CHECK(a.nnz == 3 && memcmp(a.indptr, ip, sizeof ip) == 0 && memcmp(a.indices, ix, sizeof ix) == 0 &&
                  memcmp(a.values, v, sizeof v) == 0, "edge list CSR wrong (threads %d)", threads);
        psg_free(a.indptr); psg_free(a.indices); psg_free(a.values);
        psg_tb_free(b);
    }
    /* errors name the line */
    {
        psg_text_builder *b = builder(2, 0, 0, -1, 1);
        const char *bad = "0 1\n1 2\n3 x\n";
        CHECK(psg_tb_feed(b, bad, (int64_t)strlen(bad)) == PSG_ERR_FORMAT, "garbage accepted");
        CHECK(strstr(psg_last_error(), "line 3") != NULL, "message: %s", psg_last_error());
        psg_tb_free(b);
    }
    /* Matrix Market symmetric body, 1-based, out-of-range row */
    {
        psg_text_builder *b = builder(2, 1, 1, 3, 1);
        const char *body = "1 1 1\n3 1 -2\n3 2 5\n";
        CHECK(psg_tb_feed(b, body, (int64_t)strlen(body)) == PSG_OK, "feed: %s", psg_last_error());
        psg_csr_arrays a;
        CHECK(psg_tb_finish(b, 3, 3, 0, PSG_MIRROR_SKEW, PSG_DUP_SUM, PSG_LOOPS_KEEP, 1, &a) == PSG_OK, "finish");
        const int64_t ip[4] = {0, 2, 3, 5};
        const int32_t ix[5] = {0, 2, 2, 0, 1};
        const double v[5] = {1, 2, -5, -2, 5};
        CHECK(a.nnz == 5 && memcmp(a.indptr, ip, sizeof ip) == 0 && memcmp(a.indices, ix, sizeof ix) == 0 &&
                  memcmp(a.values, v, sizeof v) == 0, "skew CSR wrong");
        psg_free(a.indptr); psg_free(a.indices); psg_free(a.values);
        psg_tb_free(b);
        b = builder(2, 1, 1, 3, 1);
        const char *oob = "4 1 1\n";
        CHECK(psg_tb_feed(b, oob, (int64_t)strlen(oob)) == PSG_ERR_INDEX_RANGE, "row 4 of 3 accepted");
        psg_tb_free(b);
    }
    /* formatting round trip */
    {
        int64_t s[2] = {0, 5}, d[2] = {7, 1};
        double v[2] = {0.1, -3};
        char buf[64];
        int64_t w, c;
        CHECK(psg_format_entries(2, s, d, v, 1, buf, sizeof buf, &w, &c) == PSG_OK && c == 2, "format");
        CHECK(strncmp(buf, "1 8 0.10000000000000001\n6 2 -3\n", (size_t)w) == 0, "format text: %.*s", (int)w, buf);
    }
    /* reordering: degree order and P A P^T on a path 0-1-2 plus hub 3 */
    {
        const int64_t ip[5] = {0, 1, 3, 4, 7};
        const int32_t ix[7] = {1, 0, 2, 1, 0, 1, 2};
        int64_t perm[4], inv[4], oip[5];
        int32_t oix[7];
        CHECK(psg_order_degree(4, ip, perm, 1) == PSG_OK && perm[0] == 3 && perm[1] == 1, "degree order");
        CHECK(psg_order_rcm(4, ip, ix, perm) == PSG_OK, "rcm");
        int seen[4] = {0};
        for (int i = 0; i < 4; i++) seen[perm[i]]++;
        CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[3] == 1, "rcm is not a permutation");
        for (int i = 0; i < 4; i++) inv[perm[i]] = i;
        CHECK(psg_permute_csr(4, ip, ix, NULL, 0, perm, inv, oip, oix, NULL, 1) == PSG_OK && oip[4] == 7, "permute");
    }
    return CHECK_REPORT("io");
}
