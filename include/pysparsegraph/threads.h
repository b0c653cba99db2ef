/* pysparsegraph — thread-count queries and what the CPU offers.
 *
 * Kernels take an explicit n_threads (<= 0 means the OpenMP runtime's limit at
 * call time, psg_max_threads()). The library never calls
 * omp_set_num_threads, so a limit set by the caller (threadpoolctl) holds.
 */
#ifndef PYSPARSEGRAPH_THREADS_H
#define PYSPARSEGRAPH_THREADS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of threads in the team of the last kernel run on this thread. */
int psg_last_team_size(void);

/* The team size the runtime the core was built with gives now: omp_get_max_threads(),
 * capped by omp_get_thread_limit() (OMP_THREAD_LIMIT); 1 without OpenMP. */
int psg_max_threads(void);

/* 1 if the core was compiled with OpenMP, 0 if it runs single-threaded. */
int psg_has_openmp(void);

/* Writes the SIMD features of the running CPU ("avx2 fma avx512f ...") into
 * buf[size] out, NUL-terminated; returns the length written. */
int psg_cpu_features(char *buf, int size);

/* Bytes of CPU 0's cache at `level` (1: L1 data, 2, 3; 0: the last level)
 * as the planner assumes them (read once): what Linux lists in /sys, else
 * the C library's sysconf, else 32 KiB, 1 MiB and 32 MiB; 0 for another
 * level. (glibc's sysconf said 320 MiB for the 32 MiB L3 of an AMD EPYC VM;
 * /sys had it right.) Levels past the L2 count at most 16 MiB per CPU the
 * process may use (online, in its affinity mask, within its cgroup v2 CPU
 * quota): a VM's guest or a container may be shown its host's whole L3. */
int64_t psg_cache_bytes(int level);

#ifdef __cplusplus
}
#endif
#endif
