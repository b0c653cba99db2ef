/* pysparsegraph — status codes and error reporting.
 *
 * Every public function returns a psg_status: PSG_OK (0) on success, a negative
 * code on failure. Functions never print, exit or abort; the detail of the last
 * failure on the calling thread is available from psg_last_error().
 */
#ifndef PYSPARSEGRAPH_STATUS_H
#define PYSPARSEGRAPH_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef int psg_status;

enum {
    PSG_OK = 0,
    PSG_ERR_INVALID_ARG = -1,   /* a scalar argument is out of its domain */
    PSG_ERR_NO_MEMORY = -2,     /* an allocation failed */
    PSG_ERR_INDPTR = -3,        /* indptr is not monotone / does not start at 0 / wrong end */
    PSG_ERR_INDEX_RANGE = -4,   /* an index is negative or >= its dimension */
    PSG_ERR_OVERFLOW = -5,      /* a count does not fit the index type asked for */
    PSG_ERR_SHAPE = -6,         /* dimensions of two operands disagree */
    PSG_ERR_UNSUPPORTED = -7,   /* valid input that this build/format does not handle */
    PSG_ERR_FORMAT = -8,        /* malformed file or stream contents */
    PSG_ERR_IO = -9             /* the operating system refused a read or write */
};

/* Detail message of the last failure on this thread ("" if none). The pointer
 * stays valid until the next failing call on the same thread. */
const char *psg_last_error(void);

/* Short constant name of a status code, e.g. "PSG_ERR_INDPTR". */
const char *psg_status_name(psg_status status);

#ifdef __cplusplus
}
#endif
#endif
