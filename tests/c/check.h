/* The one assertion macro of the C-only tests. CHECK counts passes and
 * failures (printing each failure with its location); CHECK_REPORT prints the
 * closing line CI reads ("N passed, M failed") and gives main's exit code. */
#ifndef PSG_TEST_CHECK_H
#define PSG_TEST_CHECK_H
#include <stdio.h>

static int check_passed = 0, check_failed = 0;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (cond) {                                              \
            check_passed++;                                      \
        } else {                                                 \
            check_failed++;                                      \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                        \
            fprintf(stderr, "\n");                               \
        }                                                        \
    } while (0)

#define CHECK_REPORT(name) \
    (printf("%s: %d passed, %d failed\n", (name), check_passed, check_failed), check_failed != 0)

#endif
