/* Thread-local error messages and team-size reporting. */
#include <stdarg.h>
#include <stdio.h>
#include "internal.h"
#include "pysparsegraph/threads.h"

#if defined(_MSC_VER)
#define PSG_TLS __declspec(thread)
#else
#define PSG_TLS _Thread_local
#endif

static PSG_TLS char last_error[512];
static PSG_TLS int last_team_size;

psg_status psg__fail(psg_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void psg__clear_error(void) { last_error[0] = '\0'; }

const char *psg_last_error(void) { return last_error; }

const char *psg_status_name(psg_status status)
{
    switch (status) {
    case PSG_OK: return "PSG_OK";
    case PSG_ERR_INVALID_ARG: return "PSG_ERR_INVALID_ARG";
    case PSG_ERR_NO_MEMORY: return "PSG_ERR_NO_MEMORY";
    case PSG_ERR_INDPTR: return "PSG_ERR_INDPTR";
    case PSG_ERR_INDEX_RANGE: return "PSG_ERR_INDEX_RANGE";
    case PSG_ERR_OVERFLOW: return "PSG_ERR_OVERFLOW";
    case PSG_ERR_SHAPE: return "PSG_ERR_SHAPE";
    case PSG_ERR_UNSUPPORTED: return "PSG_ERR_UNSUPPORTED";
    case PSG_ERR_FORMAT: return "PSG_ERR_FORMAT";
    case PSG_ERR_IO: return "PSG_ERR_IO";
    default: return "PSG_ERR_UNKNOWN";
    }
}

void psg__set_team_size(int n) { last_team_size = n; }

int psg_last_team_size(void) { return last_team_size; }

/* The team a parallel region gets: omp_get_max_threads() does not count
 * OMP_THREAD_LIMIT, which caps every team as well. */
int psg_max_threads(void)
{
    const int n = omp_get_max_threads(), cap = omp_get_thread_limit();
    return cap > 0 && cap < n ? cap : n;
}

int psg_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int psg__resolve_threads(int n_threads)
{
    if (n_threads <= 0) n_threads = psg_max_threads();
    return n_threads < 1 ? 1 : n_threads > PSG_MAX_THREADS ? PSG_MAX_THREADS : n_threads;
}
