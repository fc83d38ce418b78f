/* check.h - the assertions every unit test uses.
 *
 * A failed CHECK prints file:line and the expression, and the test goes on;
 * CHECK_REPORT() prints "N passed, M failed" and gives the exit status. */
#ifndef HOOKD_TEST_CHECK_H
#define HOOKD_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_STR(got, want)                                                                       \
    do {                                                                                           \
        const char *got_ = (got), *want_ = (want);                                                 \
        if (got_ && want_ && strcmp(got_, want_) == 0) {                                           \
            passed++;                                                                              \
        } else {                                                                                   \
            failed++;                                                                              \
            fprintf(stderr, "%s:%d: '%s' != '%s'\n", __FILE__, __LINE__, got_ ? got_ : "(null)",   \
                    want_ ? want_ : "(null)");                                                     \
        }                                                                                          \
    } while (0)

#define CHECK_REPORT() (printf("%d passed, %d failed\n", passed, failed), failed ? 1 : 0)

#endif
