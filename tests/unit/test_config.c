/* test_config.c — FDLEAK_* parsing: defaults, valid values, and one clear line per bad value. */
#include "config.h"
#include "unit.h"

#include <signal.h>
#include <unistd.h>

static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
    size_t n = strlen(name);
    for (const char *const *e = fake_env; *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* Parses env into cfg; returns what was written to the error descriptor. */
static int parse(const char *const *env, struct fdl_config *cfg, char *msg, size_t cap)
{
    int p[2];
    if (pipe(p))
        return -1;
    fake_env = env;
    int bad = fdl_config_parse(cfg, fake_getenv, p[1]);
    close(p[1]);
    ssize_t n = read(p[0], msg, cap - 1);
    msg[n > 0 ? n : 0] = 0;
    close(p[0]);
    return bad;
}

static void test_defaults(void)
{
    const char *env[] = {NULL};
    struct fdl_config c;
    char msg[1024];
    CHECK_EQ(parse(env, &c, msg, sizeof msg), 0);
    CHECK_EQ(c.format, FDL_FORMAT_TEXT);
    CHECK_STR(c.output, "");
    CHECK_EQ(c.depth, 32);
    CHECK_EQ(c.exitcode, -1);
    CHECK_EQ(c.quiet, 0);
    CHECK_EQ(c.exec_report, 1);
    CHECK_EQ(c.misuse, FDL_MISUSE_REPORT);
    CHECK_EQ(c.report_signal, SIGUSR1);
    CHECK_EQ(c.interval * 1000, 0);
    CHECK_EQ(c.threshold, -80);
    CHECK_STR(c.metrics, "");
    CHECK_EQ(c.growth_k, 3);
    CHECK_EQ(c.pydepth, 32);
    CHECK_EQ(c.pyorigin, 1);
    CHECK_STR(msg, "");
}

static void test_live(void)
{
    struct fdl_config c;
    char msg[1024];
    const char *a[] = {"FDLEAK_SIGNAL=SIGUSR2", "FDLEAK_INTERVAL=0.25", "FDLEAK_THRESHOLD=50%",
                       "FDLEAK_GROWTH=5", NULL};
    CHECK_EQ(parse(a, &c, msg, sizeof msg), 0);
    CHECK_EQ(c.report_signal, SIGUSR2);
    CHECK_EQ(c.interval * 1000, 250);
    CHECK_EQ(c.threshold, -50);
    CHECK_EQ(c.growth_k, 5);
    const char *fi[] = {"FDLEAK_SNAPSHOT=0.5", "FDLEAK_CHURN_MIN=5", "FDLEAK_CHURN_LIFE=0.01", NULL};
    CHECK_EQ(parse(fi, &c, msg, sizeof msg), 0);
    CHECK_EQ(c.snapshot * 10, 5);
    CHECK_EQ(c.churn_min, 5);
    CHECK_EQ(c.churn_life * 1000, 10);
    const char *off[] = {"FDLEAK_SNAPSHOT=off", NULL};
    CHECK_EQ(parse(off, &c, msg, sizeof msg), 0);
    CHECK_EQ(c.snapshot, 0);
    const char *none[] = {NULL};
    CHECK_EQ(parse(none, &c, msg, sizeof msg), 0);
    CHECK_EQ(c.snapshot, 10);
    CHECK_EQ(c.churn_min, 20);
    CHECK_EQ(c.churn_life, 1);
    const char *py[] = {"FDLEAK_PYDEPTH=0", "FDLEAK_PYORIGIN=0", "FDLEAK_SUPPRESS=/a:/b", "FDLEAK_DEFAULT_SUPPRESS=0", NULL};
    CHECK_EQ(parse(py, &c, msg, sizeof msg), 0);
    CHECK_EQ(c.pydepth, 0);
    CHECK_EQ(c.pyorigin, 0);
    CHECK_STR(c.suppress, "/a:/b");
    CHECK_EQ(c.default_suppress, 0);
    const char *b[] = {"FDLEAK_SIGNAL=10", "FDLEAK_THRESHOLD=700", "FDLEAK_METRICS=/tmp/m.prom", NULL};
    CHECK_EQ(parse(b, &c, msg, sizeof msg), 0);
    CHECK_EQ(c.report_signal, 10);
    CHECK_EQ(c.threshold, 700);
    CHECK_STR(c.metrics, "/tmp/m.prom");
    CHECK_EQ(c.interval, 60); /* metrics without an interval: once a minute */
    const char *n[] = {"FDLEAK_SIGNAL=none", "FDLEAK_THRESHOLD=none", "FDLEAK_SIGNAL=HUP", NULL};
    CHECK_EQ(parse(n, &c, msg, sizeof msg), 0);
    CHECK_EQ(c.report_signal, 0);
    CHECK_EQ(c.threshold, 0);
}

static void test_valid(void)
{
    const char *env[] = {"FDLEAK_FORMAT=json", "FDLEAK_OUTPUT=/tmp/r.%p.json", "FDLEAK_DEPTH=256",
                         "FDLEAK_EXITCODE=0", "FDLEAK_QUIET=1", "FDLEAK_EXEC=ignore",
                         "FDLEAK_MISUSE=abort", NULL};
    struct fdl_config c;
    char msg[1024];
    CHECK_EQ(parse(env, &c, msg, sizeof msg), 0);
    CHECK_EQ(c.format, FDL_FORMAT_JSON);
    CHECK_STR(c.output, "/tmp/r.%p.json");
    CHECK_EQ(c.depth, 256);
    CHECK_EQ(c.exitcode, 0);
    CHECK_EQ(c.quiet, 1);
    CHECK_EQ(c.exec_report, 0);
    CHECK_EQ(c.misuse, FDL_MISUSE_ABORT);
    CHECK_STR(msg, "");

    const char *dash[] = {"FDLEAK_OUTPUT=-", "FDLEAK_DEPTH=1", "FDLEAK_EXITCODE=255", NULL};
    CHECK_EQ(parse(dash, &c, msg, sizeof msg), 0);
    CHECK_STR(c.output, "");
    CHECK_EQ(c.depth, 1);
    CHECK_EQ(c.exitcode, 255);
}

static void test_invalid(void)
{
    static const struct {
        const char *var;
        const char *name;
    } cases[] = {
        {"FDLEAK_FORMAT=xml", "FDLEAK_FORMAT"},   {"FDLEAK_DEPTH=0", "FDLEAK_DEPTH"},
        {"FDLEAK_DEPTH=257", "FDLEAK_DEPTH"},     {"FDLEAK_DEPTH=12abc", "FDLEAK_DEPTH"},
        {"FDLEAK_DEPTH=-3", "FDLEAK_DEPTH"},      {"FDLEAK_DEPTH=99999999999999999999", "FDLEAK_DEPTH"},
        {"FDLEAK_EXITCODE=256", "FDLEAK_EXITCODE"}, {"FDLEAK_EXITCODE=x", "FDLEAK_EXITCODE"},
        {"FDLEAK_QUIET=yes", "FDLEAK_QUIET"},     {"FDLEAK_EXEC=always", "FDLEAK_EXEC"},
        {"FDLEAK_MISUSE=warn", "FDLEAK_MISUSE"},   {"FDLEAK_SIGNAL=KILL", "FDLEAK_SIGNAL"},   {"FDLEAK_SIGNAL=SEGV", "FDLEAK_SIGNAL"},
        {"FDLEAK_SIGNAL=SIGFOO", "FDLEAK_SIGNAL"}, {"FDLEAK_SIGNAL=65", "FDLEAK_SIGNAL"},
        {"FDLEAK_INTERVAL=0", "FDLEAK_INTERVAL"}, {"FDLEAK_INTERVAL=-1", "FDLEAK_INTERVAL"},
        {"FDLEAK_INTERVAL=1s", "FDLEAK_INTERVAL"}, {"FDLEAK_THRESHOLD=0", "FDLEAK_THRESHOLD"},
        {"FDLEAK_THRESHOLD=101%", "FDLEAK_THRESHOLD"}, {"FDLEAK_THRESHOLD=%", "FDLEAK_THRESHOLD"},
        {"FDLEAK_GROWTH=1", "FDLEAK_GROWTH"},     {"FDLEAK_GROWTH=17", "FDLEAK_GROWTH"},
        {"FDLEAK_PYDEPTH=65", "FDLEAK_PYDEPTH"},  {"FDLEAK_PYDEPTH=-1", "FDLEAK_PYDEPTH"},
        {"FDLEAK_PYDEPTH=all", "FDLEAK_PYDEPTH"}, {"FDLEAK_PYORIGIN=yes", "FDLEAK_PYORIGIN"},
        {"FDLEAK_DEFAULT_SUPPRESS=no", "FDLEAK_DEFAULT_SUPPRESS"},
        {"FDLEAK_SNAPSHOT=0", "FDLEAK_SNAPSHOT"}, {"FDLEAK_SNAPSHOT=nan", "FDLEAK_SNAPSHOT"},
        {"FDLEAK_SNAPSHOT=10s", "FDLEAK_SNAPSHOT"}, {"FDLEAK_CHURN_MIN=1", "FDLEAK_CHURN_MIN"},
        {"FDLEAK_CHURN_MIN=many", "FDLEAK_CHURN_MIN"}, {"FDLEAK_CHURN_LIFE=0", "FDLEAK_CHURN_LIFE"},
        {"FDLEAK_CHURN_LIFE=inf", "FDLEAK_CHURN_LIFE"}, {"FDLEAK_CHURN_LIFE=1e9", "FDLEAK_CHURN_LIFE"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *env[] = {cases[i].var, NULL};
        struct fdl_config c;
        char msg[1024];
        CHECK_EQ(parse(env, &c, msg, sizeof msg), 1);
        CHECK_EQ(unit_lines(msg), 1);
        CHECK(strstr(msg, cases[i].name) != NULL);
        CHECK(strstr(msg, "accepted") != NULL);
        /* The default stays in force. */
        CHECK_EQ(c.format, FDL_FORMAT_TEXT);
        CHECK_EQ(c.depth, 32);
        CHECK_EQ(c.exitcode, -1);
        CHECK_EQ(c.quiet, 0);
        CHECK_EQ(c.exec_report, 1);
        CHECK_EQ(c.misuse, FDL_MISUSE_REPORT);
        CHECK_EQ(c.report_signal, SIGUSR1);
        CHECK_EQ(c.threshold, -80);
        CHECK_EQ(c.interval * 1000, 0);
        CHECK_EQ(c.growth_k, 3);
        CHECK_EQ(c.pydepth, 32);
        CHECK_EQ(c.pyorigin, 1);
    }
    const char *many[] = {"FDLEAK_FORMAT=", "FDLEAK_DEPTH=", "FDLEAK_FORMAT=bad", NULL};
    struct fdl_config c;
    char msg[1024];
    /* Empty means unset; the first definition of a name wins, as with getenv. */
    CHECK_EQ(parse(many, &c, msg, sizeof msg), 0);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_valid);
    RUN(test_invalid);
    RUN(test_live);
    UNIT_END();
}
