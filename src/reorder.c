/* Locality reorderings of a graph and the symmetric permutation P A P^T.
 *
 * Every order is returned as perm[new] = old. They are deterministic (ties are
 * broken by node id) and do not depend on the thread count.
 *  - degree:      decreasing degree (hubs first), stable.
 *  - rcm:         reverse Cuthill-McKee (Cuthill & McKee 1969; George & Liu's
 *                 pseudo-peripheral start), per connected component; shrinks
 *                 the bandwidth, which keeps the gathered rows of X close.
 *  - hubcluster:  nodes of above-average degree first (sorted by degree), the
 *                 rest after them in their original order (hub sorting, Balaji
 *                 & Lucia, IISWC 2018): the hot rows of X share cache lines and
 *                 pages while the original locality of the others is kept.
 *  - community:   label propagation (Raghavan et al. 2007; the idea behind
 *                 LAW's layered label propagation) then nodes grouped by
 *                 community, communities in order of their smallest member.
 */
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "pysparsegraph/io.h"

psg_status psg_order_degree(int64_t n, const int64_t *indptr, int64_t *perm, int n_threads)
{
    psg__clear_error();
    (void)n_threads;
    if (n < 0 || (n > 0 && (!indptr || !perm))) return psg__fail(PSG_ERR_INVALID_ARG, "NULL argument");
    int64_t maxd = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t d;
        if (__builtin_sub_overflow(indptr[i + 1], indptr[i], &d))
            return psg__fail(PSG_ERR_OVERFLOW, "indptr[%lld] - indptr[%lld] overflows", (long long)(i + 1),
                             (long long)i);
        if (d < 0) return psg__fail(PSG_ERR_INDPTR, "indptr decreases at row %lld", (long long)i);
        if (d > maxd) maxd = d;
    }
    if ((uint64_t)maxd > SIZE_MAX / sizeof(int64_t) - 2)
        return psg__fail(PSG_ERR_OVERFLOW, "largest degree %lld is too large to count", (long long)maxd);
    /* counting sort on (maxd - degree): linear and stable */
    int64_t *cnt = calloc((size_t)maxd + 2, sizeof(int64_t));
    if (!cnt) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < n; i++) cnt[maxd - (indptr[i + 1] - indptr[i]) + 1]++;
    for (int64_t d = 1; d <= maxd + 1; d++) cnt[d] += cnt[d - 1];
    for (int64_t i = 0; i < n; i++) perm[cnt[maxd - (indptr[i + 1] - indptr[i])]++] = i;
    free(cnt);
    return PSG_OK;
}

psg_status psg_order_hubcluster(int64_t n, const int64_t *indptr, int64_t *perm)
{
    psg__clear_error();
    if (n < 0 || (n > 0 && (!indptr || !perm))) return psg__fail(PSG_ERR_INVALID_ARG, "NULL argument");
    if (n == 0) return PSG_OK;
    psg_status st = psg_order_degree(n, indptr, perm, 1);
    if (st) return st;
    /* hubs: degree strictly above the mean; perm starts with them, by degree */
    const double mean = (double)indptr[n] / (double)n;
    int64_t nh = 0;
    while (nh < n && (double)(indptr[perm[nh] + 1] - indptr[perm[nh]]) > mean) nh++;
    char *hub = calloc((size_t)n, 1);
    if (!hub) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
    for (int64_t i = 0; i < nh; i++) hub[perm[i]] = 1;
    int64_t w = nh;
    for (int64_t i = 0; i < n; i++) if (!hub[i]) perm[w++] = i;
    free(hub);
    return PSG_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void sort_u64(uint64_t *k, int64_t len)
{
    if (len <= 24) {
        for (int64_t i = 1; i < len; i++) {
            uint64_t x = k[i];
            int64_t j = i - 1;
            while (j >= 0 && k[j] > x) { k[j + 1] = k[j]; j--; }
            k[j + 1] = x;
        }
    } else {
        qsort(k, (size_t)len, sizeof(uint64_t), cmp_u64);
    }
}

psg_status psg_order_rcm(int64_t n, const int64_t *indptr, const int32_t *indices, int64_t *perm)
{
    psg__clear_error();
    if (n < 0 || (n > 0 && (!indptr || !indices || !perm))) return psg__fail(PSG_ERR_INVALID_ARG, "NULL argument");
    if (n == 0) return PSG_OK;
    if (n > INT32_MAX) return psg__fail(PSG_ERR_OVERFLOW, "rcm supports up to 2^31-1 nodes");
    int64_t maxd = 0;
    for (int64_t i = 0; i < n; i++) if (indptr[i + 1] - indptr[i] > maxd) maxd = indptr[i + 1] - indptr[i];
    int32_t *mark = calloc((size_t)n, sizeof(int32_t));   /* 0: unvisited; -1: placed */
    int64_t *tmp = malloc((size_t)n * sizeof(int64_t));
    uint64_t *keys = malloc((size_t)(maxd + 1) * sizeof(uint64_t));
    uint64_t *roots = malloc((size_t)n * sizeof(uint64_t));
    if (!mark || !tmp || !keys || !roots) {
        free(mark); free(tmp); free(keys); free(roots);
        return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
    }
    /* candidate roots in increasing (degree, id) */
    for (int64_t i = 0; i < n; i++) roots[i] = ((uint64_t)(indptr[i + 1] - indptr[i]) << 32) | (uint64_t)i;
    qsort(roots, (size_t)n, sizeof(uint64_t), cmp_u64);
    int64_t placed = 0;
    int32_t stamp = 1;
    for (int64_t ri = 0; ri < n; ri++) {
        int64_t root = (int64_t)(roots[ri] & 0xffffffffu);
        if (mark[root] == -1) continue;
        /* George-Liu: move to a node of the last BFS level with minimum degree
         * while the eccentricity grows (a few sweeps at most). Sweeps use fresh
         * stamps and only see unplaced nodes. */
        int64_t depth = -1;
        for (int sweep = 0; sweep < 4; sweep++) {
            int64_t len = 0, ls, d;
            if (stamp == INT32_MAX) { /* recycle stamps (billions of sweeps): unplaced nodes back to 0 */
                for (int64_t i = 0; i < n; i++) if (mark[i] != -1) mark[i] = 0;
                stamp = 0;
            }
            stamp++;
            /* BFS over unplaced nodes (placed ones carry mark -1) */
            tmp[len++] = root;
            mark[root] = stamp;
            int64_t h = 0, level_end = 1, lvl = 0;
            ls = 0;
            while (h < len) {
                if (h == level_end) { lvl++; ls = h; level_end = len; }
                int64_t u = tmp[h++];
                for (int64_t j = indptr[u]; j < indptr[u + 1]; j++) {
                    int64_t v = indices[j];
                    if (mark[v] != stamp && mark[v] != -1) { mark[v] = stamp; tmp[len++] = v; }
                }
            }
            d = lvl;
            if (d <= depth) break;
            depth = d;
            int64_t best = tmp[ls];
            for (int64_t i = ls; i < len; i++) {
                int64_t v = tmp[i];
                int64_t dv = indptr[v + 1] - indptr[v], db = indptr[best + 1] - indptr[best];
                if (dv < db || (dv == db && v < best)) best = v;
            }
            if (best == root) break;
            root = best;
        }
        /* Cuthill-McKee BFS from root over unplaced nodes */
        int64_t len = placed;
        int64_t h = placed;
        perm[len++] = root;
        mark[root] = -1;
        while (h < len) {
            int64_t u = perm[h++];
            int64_t nk = 0;
            for (int64_t j = indptr[u]; j < indptr[u + 1]; j++) {
                int64_t v = indices[j];
                if (mark[v] != -1) {
                    mark[v] = -1;
                    keys[nk++] = ((uint64_t)(indptr[v + 1] - indptr[v]) << 32) | (uint64_t)v;
                }
            }
            sort_u64(keys, nk);
            for (int64_t i = 0; i < nk; i++) perm[len++] = (int64_t)(keys[i] & 0xffffffffu);
        }
        placed = len;
        /* On a directed graph the candidate may not be reachable from the root the sweeps
         * moved to: take it again, so that every node is placed (each pass places one at least). */
        if (mark[(int64_t)(roots[ri] & 0xffffffffu)] != -1) ri--;
    }
    /* reverse */
    for (int64_t i = 0, j = n - 1; i < j; i++, j--) { int64_t t = perm[i]; perm[i] = perm[j]; perm[j] = t; }
    free(mark); free(tmp); free(keys); free(roots);
    return PSG_OK;
}

psg_status psg_order_bfs_community(int64_t n, const int64_t *indptr, const int32_t *indices, int64_t *perm)
{
    psg__clear_error();
    if (n < 0 || (n > 0 && (!indptr || !indices || !perm))) return psg__fail(PSG_ERR_INVALID_ARG, "NULL argument");
    if (n == 0) return PSG_OK;
    int64_t *label = malloc((size_t)n * sizeof(int64_t));
    int64_t *count = calloc((size_t)n, sizeof(int64_t));
    int64_t *touched = malloc((size_t)n * sizeof(int64_t));
    if (!label || !count || !touched) {
        free(label); free(count); free(touched);
        return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
    }
    for (int64_t i = 0; i < n; i++) label[i] = i;
    /* Asynchronous label propagation in node order: each node takes the most
     * frequent label among its neighbours (ties: the smallest label, keeping
     * its own when tied with the best). A few rounds suffice for locality. */
    for (int round = 0; round < 5; round++) {
        int64_t changed = 0;
        for (int64_t u = 0; u < n; u++) {
            int64_t nt = 0;
            for (int64_t j = indptr[u]; j < indptr[u + 1]; j++) {
                int64_t l = label[indices[j]];
                if (count[l]++ == 0) touched[nt++] = l;
            }
            if (nt == 0) continue;
            int64_t mc = 0, best = -1;
            for (int64_t i = 0; i < nt; i++) {
                int64_t l = touched[i];
                if (count[l] > mc || (count[l] == mc && l < best)) { mc = count[l]; best = l; }
            }
            if (count[label[u]] == mc) best = label[u]; /* keep the own label on a tie */
            for (int64_t i = 0; i < nt; i++) count[touched[i]] = 0;
            if (best != label[u]) { label[u] = best; changed++; }
        }
        if (changed * 1000 < n) break;
    }
    /* group by label; communities ordered by their smallest member, members by id */
    int64_t *first = touched; /* reuse: first[label] = rank of community */
    for (int64_t i = 0; i < n; i++) first[i] = -1;
    int64_t nc = 0;
    for (int64_t i = 0; i < n; i++) if (first[label[i]] < 0) first[label[i]] = nc++;
    int64_t *start = count; /* reuse as counts per rank */
    memset(start, 0, (size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) start[first[label[i]]]++;
    int64_t acc = 0;
    for (int64_t c = 0; c < nc; c++) { int64_t t = start[c]; start[c] = acc; acc += t; }
    for (int64_t i = 0; i < n; i++) perm[start[first[label[i]]]++] = i;
    free(label); free(count); free(touched);
    return PSG_OK;
}

psg_status psg_permute_csr(int64_t n_rows, const int64_t *indptr, const int32_t *indices, const void *values,
                           int value_size, const int64_t *perm, const int64_t *inv, int64_t *out_indptr,
                           int32_t *out_indices, void *out_values, int n_threads)
{
    psg__clear_error();
    if (n_rows < 0 || !out_indptr || (n_rows > 0 && (!indptr || !perm || !inv)))
        return psg__fail(PSG_ERR_INVALID_ARG, "NULL argument");
    if (n_rows > 0 && indptr[n_rows] > 0 && (!indices || !out_indices || (values && !out_values)))
        return psg__fail(PSG_ERR_INVALID_ARG, "indices, out_indices or out_values (values given) is NULL");
    if (values && value_size != 4 && value_size != 8) return psg__fail(PSG_ERR_INVALID_ARG, "value_size must be 4 or 8");
    for (int64_t i = 0; i < n_rows; i++)
        if (perm[i] < 0 || perm[i] >= n_rows || inv[perm[i]] != i)
            return psg__fail(PSG_ERR_INVALID_ARG, "perm is not a permutation of 0..%lld with inverse inv (at %lld)",
                             (long long)(n_rows - 1), (long long)i);
    out_indptr[0] = 0;
    int64_t maxd = 0;
    for (int64_t i = 0; i < n_rows; i++) {
        int64_t d = indptr[perm[i] + 1] - indptr[perm[i]];
        out_indptr[i + 1] = out_indptr[i] + d;
        if (d > maxd) maxd = d;
    }
    const int threads = psg__resolve_threads(n_threads);
    (void)threads; /* unused without OpenMP */
    int oom = 0;
    #pragma omp parallel num_threads(threads) if (out_indptr[n_rows] > 100000)
    {
        uint64_t *keys = malloc((size_t)(maxd + 1) * sizeof(uint64_t));
        if (!keys) {
            #pragma omp atomic write
            oom = 1;
        } else {
            #pragma omp for schedule(dynamic, 256)
            for (int64_t i = 0; i < n_rows; i++) {
                const int64_t s = indptr[perm[i]], d = indptr[perm[i] + 1] - s, o = out_indptr[i];
                for (int64_t j = 0; j < d; j++) keys[j] = ((uint64_t)inv[indices[s + j]] << 32) | (uint64_t)j;
                sort_u64(keys, d);
                for (int64_t j = 0; j < d; j++) {
                    const int64_t src = s + (int64_t)(keys[j] & 0xffffffffu);
                    out_indices[o + j] = (int32_t)(keys[j] >> 32);
                    if (values) {
                        if (value_size == 4) ((float *)out_values)[o + j] = ((const float *)values)[src];
                        else ((double *)out_values)[o + j] = ((const double *)values)[src];
                    }
                }
            }
            free(keys);
        }
    }
    if (oom) return psg__fail(PSG_ERR_NO_MEMORY, "out of memory");
    return PSG_OK;
}
