/* Internal helpers shared by the C sources (not part of the public API). */
#ifndef PSG_INTERNAL_H
#define PSG_INTERNAL_H

#include <stdint.h>
#include <stddef.h>
#include "pysparsegraph/status.h"

#ifdef _OPENMP
#include <omp.h>
#else
/* Single-threaded shims so the core builds and runs without OpenMP. */
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_limit(void) { return 1; }
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PSG_PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))
#define PSG_LIKELY(x) __builtin_expect(!!(x), 1)
#define PSG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define PSG_PRINTF_LIKE(a, b)
#define PSG_LIKELY(x) (x)
#define PSG_UNLIKELY(x) (x)
#endif

/* Records a detail message for psg_last_error() and returns `status`, so a
 * failure reads `return psg__fail(PSG_ERR_INDPTR, "indptr[%lld] ...", ...)`. */
psg_status psg__fail(psg_status status, const char *fmt, ...) PSG_PRINTF_LIKE(2, 3);

/* Clears the thread's error message (called at the start of public entry points). */
void psg__clear_error(void);

/* Records the OpenMP team size a kernel ran with (read by psg_last_team_size). */
void psg__set_team_size(int n);

/* Most threads a kernel starts: libgomp sets up a team on the caller's stack, and
 * 65536 threads overflowed it (a segfault); results do not depend on the count. */
#define PSG_MAX_THREADS 1024

/* A requested thread count clamped to [1, PSG_MAX_THREADS]; n <= 0 means "the
 * OpenMP runtime's current limit". */
int psg__resolve_threads(int n_threads);

/* PSG_ERR_NO_MEMORY naming `what` when `bytes` exceed the machine's physical
 * memory (an allocation the kernel would grant, then kill the process for). */
psg_status psg__check_fits_memory(double bytes, const char *what);

/* Bytes of L1 data cache per core, as Linux (/sys) or the C library reports
 * it (read once); `fallback` where neither reports anything usable. */
int64_t psg__l1d_bytes(int64_t fallback);

#endif
