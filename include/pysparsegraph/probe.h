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

/* Random row gather: sums m rows of x (n_rows × k float32, in), picked by
 * idx[m] (in, values in [0, n_rows)), into per-thread accumulators, `reps`
 * times; *gbps out = best m*k*4 bytes / time (the bytes an SpMM gathers). */
psg_status psg_probe_gather(int64_t n_rows, int64_t k, const float *x, int64_t m, const int32_t *idx,
                            int reps, int n_threads, double *gbps);

#ifdef __cplusplus
}
#endif
#endif
