/* pysparsegraph — memory-system probes used by the benchmark suite to put
 * kernel figures next to this machine's ceilings, measured in the same run. */
#ifndef PYSPARSEGRAPH_PROBE_H
#define PYSPARSEGRAPH_PROBE_H
#include <stdint.h>
#include "pysparsegraph/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* STREAM-like triad a = b + s*c over n doubles, repeated `reps` times;
 * *gbps out = best 24*n bytes / time. n_threads <= 0: OpenMP limit. */
psg_status psg_probe_triad(int64_t n, int reps, int n_threads, double *gbps);

/* Row gather: loads the m rows of x (n_rows × k float32, in) named by idx[m]
 * (in, values in [0, n_rows), else PSG_ERR_INDEX_RANGE) and nothing else, on
 * n_threads threads with equal shares of idx, `reps` times with the SpMM
 * kernels' prefetch distance and `reps` times without; *gbps out = best
 * m*k*4 bytes / time (the bytes an SpMM gathers); *or_bits out (if not
 * NULL) = the OR of every 32-bit word loaded, for tests. Random ids measure the
 * machine's gather ceiling; a CSR's column ids, the time below which no SpMM
 * over that CSR in storage order can go. */
psg_status psg_probe_gather(int64_t n_rows, int64_t k, const float *x, int64_t m, const int32_t *idx,
                            int reps, int n_threads, double *gbps, uint32_t *or_bits);

#ifdef __cplusplus
}
#endif
#endif
