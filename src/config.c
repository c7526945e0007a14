/* config.c — parsing and validation of the FDLEAK_* environment variables. */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void complain(int errfd, const char *var, const char *val, const char *accepted,
                     const char *dflt)
{
    struct fdl_buf b;
    char mem[512];
    fdl_buf_init_mem(&b, mem, sizeof mem);
    fdl_buf_puts(&b, "fdleak: ");
    fdl_buf_puts(&b, var);
    fdl_buf_puts(&b, "='");
    fdl_buf_puts(&b, val);
    fdl_buf_puts(&b, "' is invalid (accepted: ");
    fdl_buf_puts(&b, accepted);
    fdl_buf_puts(&b, "); using ");
    fdl_buf_puts(&b, dflt);
    fdl_buf_puts(&b, "\n");
    fdl_write_all(errfd, b.data, b.len);
}

/* Strict integer parse: the whole string, base 10, within [lo, hi]. */
static bool parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !(*s == '-' || (*s >= '0' && *s <= '9')))
        return false; /* strtol would skip blanks and take a '+' */
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* "80%": 1..100. */
static bool parse_percent(const char *s, long *out)
{
    char num[16];
    size_t n = strlen(s);
    if (n < 2 || n >= sizeof num || s[n - 1] != '%')
        return false;
    memcpy(num, s, n - 1);
    num[n - 1] = 0;
    return parse_int(num, 1, 100, out);
}

/* Signals that cannot be caught, or that report a fault in the thread that gets them (a
 * handler that returns would run again forever). */
static bool unusable(long sig)
{
    return sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
           sig == SIGILL || sig == SIGTRAP || sig == SIGSYS || sig == SIGABRT;
}

/* A decimal number of seconds in [lo, hi]. */
static bool parse_seconds(const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !(*v == '.' || (*v >= '0' && *v <= '9')) || !(d >= lo && d <= hi))
        return false;
    *out = d;
    return true;
}

/* USR1, SIGUSR1, 10 or none (0); -1 when invalid. */
static int parse_signal(const char *v)
{
    long n;
    if (!strcmp(v, "none"))
        return 0;
    if (parse_int(v, 1, 64, &n))
        return unusable(n) ? -1 : (int)n;
    if (!strncmp(v, "SIG", 3))
        v += 3;
    for (int sig = 1; sig < 32; sig++) {
        const char *name = sigabbrev_np(sig);
        if (name && !strcmp(name, v))
            return unusable(sig) ? -1 : sig;
    }
    return -1;
}

int fdl_config_parse(struct fdl_config *cfg, const char *(*getenv_fn)(const char *), int errfd)
{
    int bad = 0;
    int saved = errno;
    memset(cfg, 0, sizeof *cfg);
    cfg->format = FDL_FORMAT_TEXT;
    cfg->depth = 32;
    cfg->exitcode = -1;
    cfg->exec_report = true;
    cfg->misuse = FDL_MISUSE_REPORT;
    cfg->report_signal = SIGUSR1;
    cfg->threshold = -80;
    cfg->growth_k = 3;
    cfg->snapshot = 10;
    cfg->churn_min = 20;
    cfg->churn_life = 1;
    cfg->pydepth = 32;
    cfg->pyorigin = true;
    cfg->default_suppress = true;

    const char *v;
    long n, n_;
    if ((v = getenv_fn("FDLEAK_FORMAT")) && *v) {
        if (!strcmp(v, "text"))
            cfg->format = FDL_FORMAT_TEXT;
        else if (!strcmp(v, "json"))
            cfg->format = FDL_FORMAT_JSON;
        else
            bad++, complain(errfd, "FDLEAK_FORMAT", v, "text, json", "text");
    }
    if ((v = getenv_fn("FDLEAK_OUTPUT")) && *v && strcmp(v, "-")) {
        if (strlen(v) >= sizeof cfg->output)
            bad++, complain(errfd, "FDLEAK_OUTPUT", "(too long)", "a path shorter than 1024 bytes, or -", "stderr");
        else
            strcpy(cfg->output, v);
    }
    if ((v = getenv_fn("FDLEAK_DEPTH")) && *v) {
        if (parse_int(v, 1, FDL_DEPTH_MAX, &n))
            cfg->depth = (int)n;
        else
            bad++, complain(errfd, "FDLEAK_DEPTH", v, "an integer from 1 to 256", "32");
    }
    if ((v = getenv_fn("FDLEAK_EXITCODE")) && *v) {
        if (parse_int(v, 0, 255, &n))
            cfg->exitcode = (int)n;
        else
            bad++, complain(errfd, "FDLEAK_EXITCODE", v, "an integer from 0 to 255", "the program's own status");
    }
    if ((v = getenv_fn("FDLEAK_QUIET")) && *v) {
        if (!strcmp(v, "1") || !strcmp(v, "0"))
            cfg->quiet = v[0] == '1';
        else
            bad++, complain(errfd, "FDLEAK_QUIET", v, "0, 1", "0");
    }
    if ((v = getenv_fn("FDLEAK_EXEC")) && *v) {
        if (!strcmp(v, "report") || !strcmp(v, "ignore"))
            cfg->exec_report = v[0] == 'r';
        else
            bad++, complain(errfd, "FDLEAK_EXEC", v, "report, ignore", "report");
    }
    if ((v = getenv_fn("FDLEAK_MISUSE")) && *v) {
        if (!strcmp(v, "report"))
            cfg->misuse = FDL_MISUSE_REPORT;
        else if (!strcmp(v, "abort"))
            cfg->misuse = FDL_MISUSE_ABORT;
        else if (!strcmp(v, "ignore"))
            cfg->misuse = FDL_MISUSE_IGNORE;
        else
            bad++, complain(errfd, "FDLEAK_MISUSE", v, "report, abort, ignore", "report");
    }
    if ((v = getenv_fn("FDLEAK_SIGNAL")) && *v) {
        int sig = parse_signal(v);
        if (sig >= 0)
            cfg->report_signal = sig;
        else
            bad++, complain(errfd, "FDLEAK_SIGNAL", v, "a signal name such as USR1 or SIGUSR2, a number from 1 to 64 (not KILL, STOP or a fault signal such as SEGV), or none", "USR1");
    }
    if ((v = getenv_fn("FDLEAK_INTERVAL")) && *v) {
        double d;
        if (parse_seconds(v, 0.01, 31536000, &d))
            cfg->interval = d, cfg->interval_reports = true;
        else
            bad++, complain(errfd, "FDLEAK_INTERVAL", v, "seconds, from 0.01 to 31536000", "no interval reports");
    }
    if ((v = getenv_fn("FDLEAK_THRESHOLD")) && *v) {
        if (!strcmp(v, "none"))
            cfg->threshold = 0;
        else if (parse_percent(v, &n_))
            cfg->threshold = -n_;
        else if (parse_int(v, 1, 1L << 30, &n_))
            cfg->threshold = n_;
        else
            bad++, complain(errfd, "FDLEAK_THRESHOLD", v, "a descriptor count, a percentage of the soft limit such as 80%, or none", "80%");
    }
    if ((v = getenv_fn("FDLEAK_METRICS")) && *v) {
        if (strlen(v) >= sizeof cfg->metrics)
            bad++, complain(errfd, "FDLEAK_METRICS", "(too long)", "a path shorter than 1024 bytes", "no metrics");
        else
            strcpy(cfg->metrics, v);
    }
    if ((v = getenv_fn("FDLEAK_GROWTH")) && *v) {
        if (parse_int(v, 2, FDL_GROWTH_MAX, &n_))
            cfg->growth_k = (int)n_;
        else
            bad++, complain(errfd, "FDLEAK_GROWTH", v, "an integer from 2 to 16", "3");
    }
    if ((v = getenv_fn("FDLEAK_SNAPSHOT")) && *v) {
        double d;
        if (!strcmp(v, "off"))
            cfg->snapshot = 0;
        else if (parse_seconds(v, 0.01, 31536000, &d))
            cfg->snapshot = d;
        else
            bad++, complain(errfd, "FDLEAK_SNAPSHOT", v, "seconds, from 0.01 to 31536000, or off", "10");
    }
    if ((v = getenv_fn("FDLEAK_CHURN_MIN")) && *v) {
        if (parse_int(v, 2, 1L << 30, &n_))
            cfg->churn_min = n_;
        else
            bad++, complain(errfd, "FDLEAK_CHURN_MIN", v, "an integer from 2 to 1073741824", "20");
    }
    if ((v = getenv_fn("FDLEAK_CHURN_LIFE")) && *v) {
        double d;
        if (parse_seconds(v, 0.000001, 3600, &d)) /* lifetimes are told apart up to 36 min */
            cfg->churn_life = d;
        else
            bad++, complain(errfd, "FDLEAK_CHURN_LIFE", v, "seconds, from 0.000001 to 3600", "1");
    }
    if ((v = getenv_fn("FDLEAK_PYDEPTH")) && *v) {
        if (parse_int(v, 0, FDL_PYDEPTH_MAX, &n_))
            cfg->pydepth = (int)n_;
        else
            bad++, complain(errfd, "FDLEAK_PYDEPTH", v, "an integer from 0 (no Python frames) to 64", "32");
    }
    if ((v = getenv_fn("FDLEAK_PYORIGIN")) && *v) {
        if (!strcmp(v, "1") || !strcmp(v, "0"))
            cfg->pyorigin = v[0] == '1';
        else
            bad++, complain(errfd, "FDLEAK_PYORIGIN", v, "1 (record asyncio task origins), 0", "1");
    }
    if ((v = getenv_fn("FDLEAK_SUPPRESS")) && *v) {
        if (strlen(v) >= sizeof cfg->suppress)
            bad++, complain(errfd, "FDLEAK_SUPPRESS", "(too long)", "files, colon-separated, shorter than 1024 bytes in all", "no suppression files");
        else
            strcpy(cfg->suppress, v);
    }
    if ((v = getenv_fn("FDLEAK_DEFAULT_SUPPRESS")) && *v) {
        if (!strcmp(v, "1") || !strcmp(v, "0"))
            cfg->default_suppress = v[0] == '1';
        else
            bad++, complain(errfd, "FDLEAK_DEFAULT_SUPPRESS", v, "1 (use the built-in suppressions), 0", "1");
    }
    if (cfg->metrics[0] && !cfg->interval)
        cfg->interval = 60;
    errno = saved;
    return bad;
}

static const char *env_get(const char *name) { return getenv(name); }

static struct fdl_config the_config;
static int config_state; /* 0 none, 1 parsing, 2 ready */

const struct fdl_config *fdl_config(void)
{
    if (__atomic_load_n(&config_state, __ATOMIC_ACQUIRE) == 2)
        return &the_config;
    int expect = 0;
    if (__atomic_compare_exchange_n(&config_state, &expect, 1, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        fdl_config_parse(&the_config, env_get, 2);
        __atomic_store_n(&config_state, 2, __ATOMIC_RELEASE);
        return &the_config;
    }
    /* Another thread (or an interrupted frame of this one) is parsing: use a private copy
     * rather than wait, so a signal handler can never spin on its own thread. */
    static __thread struct fdl_config mine __attribute__((tls_model("initial-exec")));
    if (__atomic_load_n(&config_state, __ATOMIC_ACQUIRE) == 2)
        return &the_config;
    fdl_config_parse(&mine, env_get, -1);
    return &mine;
}
