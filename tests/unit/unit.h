/* unit.h — a minimal harness for the core's unit tests: checks print both values. */
#ifndef FDL_UNIT_H
#define FDL_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures, unit_checks;

#define CHECK_EQ(a, b)                                                                        \
    do {                                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                                   \
        unit_checks++;                                                                        \
        if (a_ != b_) {                                                                       \
            fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s): %lld != %lld\n", __FILE__, __LINE__, #a, \
                    #b, a_, b_);                                                              \
            unit_failures++;                                                                  \
        }                                                                                     \
    } while (0)

#define CHECK_STR(a, b)                                                                          \
    do {                                                                                         \
        const char *a_ = (a), *b_ = (b);                                                         \
        unit_checks++;                                                                           \
        if (!a_ || !b_ || strcmp(a_, b_)) {                                                      \
            fprintf(stderr, "%s:%d: CHECK_STR(%s, %s): \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
                    #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                            \
            unit_failures++;                                                                     \
        }                                                                                        \
    } while (0)

#define CHECK(c) CHECK_EQ(!!(c), 1)

/* How many lines (newlines) a message has. */
static inline int unit_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

#define RUN(t)                                                         \
    do {                                                               \
        int before_ = unit_failures;                                   \
        t();                                                           \
        printf("%s %s\n", unit_failures == before_ ? "ok  " : "FAIL", #t); \
    } while (0)

#define UNIT_END()                                                               \
    do {                                                                         \
        printf("%d checks, %d failed\n", unit_checks, unit_failures);            \
        return unit_failures ? 1 : 0;                                            \
    } while (0)

#endif
