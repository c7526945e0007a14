/* config.c — parsing and validation of the FDLEAK_* environment variables, driven by the one
 * table in settings.def: each kind of value has one parser and one way to say what it accepts. */
#include "config.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_INT, K_SECONDS, K_CHOICE, K_PATH, K_PATHS, K_SIGNAL, K_THRESHOLD, K_PATTERN };

struct setting {
    const char *var;
    enum kind kind;
    double lo, hi;
    const char *words;    /* CHOICE: the choices, '|'-separated; else the word meaning off */
    const char *dflt;     /* as a user would write it; "" is off */
    double off;           /* the field's value when off */
    const char *off_said; /* how "off" is named */
};

static const struct setting settings[] = {
#define FDL_SETTING(NAME, TYPE, field, KIND, LO, HI, WORDS, DEFAULT, OFF, OFF_SAID, ...) \
    {"FDLEAK_" #NAME, K_##KIND, LO, HI, WORDS, DEFAULT, OFF, OFF_SAID},
#define FDL_UNUSABLE_SIGNALS(names)
#include "settings.def"
#undef FDL_SETTING
#undef FDL_UNUSABLE_SIGNALS
};

enum {
#define FDL_SETTING(NAME, ...) SET_##NAME,
#define FDL_UNUSABLE_SIGNALS(names)
#include "settings.def"
#undef FDL_SETTING
#undef FDL_UNUSABLE_SIGNALS
    N_SETTINGS
};

#define FDL_SETTING(...)
#define FDL_UNUSABLE_SIGNALS(names) static const char unusable_signals[] = names;
#include "settings.def"
#undef FDL_SETTING
#undef FDL_UNUSABLE_SIGNALS

/* A parsed value: the member its kind uses. */
struct value {
    long i;
    double d;
    const char *s;
};

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

/* The index of v among words ("a|b|c"), or -1. */
static long choice(const char *words, const char *v)
{
    size_t n = strlen(v);
    long i = 0;
    for (const char *w = words; *w; i++) {
        size_t len = strcspn(w, "|");
        if (len == n && !strncmp(w, v, n))
            return i;
        w += len + (w[len] == '|');
    }
    return -1;
}

/* Whether name (without SIG) is in the table's list of signals a report cannot use. */
static bool unusable(const char *name)
{
    size_t n = strlen(name);
    for (const char *w = unusable_signals; *w;) {
        size_t len = strcspn(w, " ");
        if (len == n && !strncmp(w, name, n))
            return true;
        w += len + (w[len] == ' ');
    }
    return false;
}

/* USR1, SIGUSR1 or a number in [lo, hi]; -1 when invalid or unusable. */
static int parse_signal(const char *v, long lo, long hi)
{
    long n;
    if (parse_int(v, lo, hi, &n)) {
        const char *name = n < 32 ? sigabbrev_np((int)n) : 0;
        return name && unusable(name) ? -1 : (int)n;
    }
    if (!strncmp(v, "SIG", 3))
        v += 3;
    for (int sig = 1; sig < 32; sig++) {
        const char *name = sigabbrev_np(sig);
        if (name && !strcmp(name, v))
            return unusable(name) ? -1 : sig;
    }
    return -1;
}

static bool parse(const struct setting *s, const char *v, struct value *out)
{
    *out = (struct value){0, 0, ""};
    if (s->kind != K_CHOICE && s->kind != K_PATTERN && *s->words && !strcmp(v, s->words)) {
        *out = (struct value){(long)s->off, s->off, ""};
        return true;
    }
    switch (s->kind) {
    case K_INT:
        return parse_int(v, (long)s->lo, (long)s->hi, &out->i);
    case K_SECONDS:
        return parse_seconds(v, s->lo, s->hi, &out->d);
    case K_CHOICE:
        return (out->i = choice(s->words, v)) >= 0;
    case K_PATH:
    case K_PATHS:
    case K_PATTERN: /* one of WORDS, or a glob: what it means is its user's business */
        out->s = v;
        return *v && strlen(v) < FDL_PATH_MAX;
    case K_SIGNAL: {
        int sig = parse_signal(v, (long)s->lo, (long)s->hi);
        out->i = sig;
        return sig > 0;
    }
    case K_THRESHOLD: {
        char num[16];
        size_t n = strlen(v);
        if (n >= 2 && n < sizeof num && v[n - 1] == '%') { /* "80%": 1..100, stored as -80 */
            memcpy(num, v, n - 1);
            num[n - 1] = 0;
            bool ok = parse_int(num, 1, 100, &out->i);
            out->i = -out->i;
            return ok;
        }
        return parse_int(v, (long)s->lo, (long)s->hi, &out->i);
    }
    }
    return false;
}

/* A table number as the table writes it: 256, 0.01, 0.000001 (the fewest decimals that say it). */
static void put_number(struct fdl_buf *b, double v)
{
    int decimals = 0;
    for (double scaled = v; decimals < 6; scaled *= 10, decimals++) {
        double off = scaled - (double)(long)(scaled + 0.5);
        if (off < 1e-6 && off > -1e-6)
            break;
    }
    if (decimals)
        fdl_buf_fixed(b, v, decimals);
    else
        fdl_buf_i64(b, (long)v);
}

/* What the variable accepts, in the words python/fdleak/settings.py's accepted() uses (a test
 * compares the two). */
static void put_accepted(struct fdl_buf *b, const struct setting *s)
{
    switch (s->kind) {
    case K_INT:
    case K_SECONDS:
        fdl_buf_puts(b, s->kind == K_INT ? "an integer from " : "seconds, from ");
        put_number(b, s->lo);
        fdl_buf_puts(b, " to ");
        put_number(b, s->hi);
        break;
    case K_CHOICE:
        for (const char *w = s->words; *w; w++)
            fdl_buf_puts(b, *w == '|' ? ", " : (char[]){*w, 0});
        return;
    case K_PATH:
        fdl_buf_puts(b, "a path shorter than ");
        fdl_buf_u64(b, FDL_PATH_MAX);
        fdl_buf_puts(b, " bytes");
        break;
    case K_PATHS:
        fdl_buf_puts(b, "files, colon-separated, shorter than ");
        fdl_buf_u64(b, FDL_PATH_MAX);
        fdl_buf_puts(b, " bytes in all");
        return;
    case K_SIGNAL:
        fdl_buf_puts(b, "a signal name such as USR1 or SIGUSR2, a number from ");
        put_number(b, s->lo);
        fdl_buf_puts(b, " to ");
        put_number(b, s->hi);
        fdl_buf_puts(b, " (not ");
        for (const char *w = unusable_signals; *w; w++)
            fdl_buf_puts(b, *w == ' ' ? ", " : (char[]){*w, 0});
        fdl_buf_puts(b, ")");
        break;
    case K_THRESHOLD:
        fdl_buf_puts(b, "a descriptor count, a percentage of the soft limit such as 80%");
        break;
    case K_PATTERN:
        for (const char *w = s->words; *w; w++)
            fdl_buf_puts(b, *w == '|' ? ", " : (char[]){*w, 0});
        fdl_buf_puts(b, ", or a glob of the executable's path or name shorter than ");
        fdl_buf_u64(b, FDL_PATH_MAX);
        fdl_buf_puts(b, " bytes");
        return;
    }
    if (*s->words) {
        fdl_buf_puts(b, ", or ");
        fdl_buf_puts(b, s->words);
    }
}

static void complain(int errfd, const struct setting *s, const char *val)
{
    struct fdl_buf b;
    char mem[512];
    fdl_buf_init_mem(&b, mem, sizeof mem);
    fdl_buf_puts(&b, "fdleak: ");
    fdl_buf_puts(&b, s->var);
    fdl_buf_puts(&b, "='");
    fdl_buf_puts(&b, s->kind == K_PATH || s->kind == K_PATHS || s->kind == K_PATTERN ? "(too long)" : val);
    fdl_buf_puts(&b, "' is invalid (accepted: ");
    put_accepted(&b, s);
    fdl_buf_puts(&b, "); using ");
    fdl_buf_puts(&b, *s->dflt ? s->dflt : s->off_said);
    fdl_buf_puts(&b, "\n");
    fdl_write_all(errfd, b.data, b.len);
}

#define STORE_INT(field, TYPE, x) field = (TYPE)(x)->i
#define STORE_CHOICE STORE_INT
#define STORE_SIGNAL STORE_INT
#define STORE_THRESHOLD STORE_INT
#define STORE_SECONDS(field, TYPE, x) field = (x)->d
#define STORE_PATH(field, TYPE, x) memcpy(field, (x)->s, strlen((x)->s) + 1) /* checked < FDL_PATH_MAX */
#define STORE_PATHS STORE_PATH
#define STORE_PATTERN STORE_PATH

static void store(struct fdl_config *cfg, unsigned i, const struct value *x)
{
    switch (i) {
#define FDL_SETTING(NAME, TYPE, field, KIND, ...) \
    case SET_##NAME:                             \
        STORE_##KIND(cfg->field, TYPE, x);       \
        break;
#define FDL_UNUSABLE_SIGNALS(names)
#include "settings.def"
#undef FDL_SETTING
#undef FDL_UNUSABLE_SIGNALS
    }
}

int fdl_config_parse(struct fdl_config *cfg, const char *(*getenv_fn)(const char *), int errfd)
{
    int bad = 0;
    int saved = errno;
    memset(cfg, 0, sizeof *cfg);
    for (unsigned i = 0; i < N_SETTINGS; i++) {
        const struct setting *s = &settings[i];
        struct value x = {(long)s->off, s->off, ""};
        if (*s->dflt && !parse(s, s->dflt, &x)) /* a wrong table: the unit tests see this line */
            bad++, complain(errfd, s, "(default)");
        store(cfg, i, &x);
        const char *v = getenv_fn(s->var);
        if (!v || !*v)
            continue; /* empty is unset, for every variable */
        if (parse(s, v, &x))
            store(cfg, i, &x);
        else
            bad++, complain(errfd, s, v);
    }
    cfg->interval_reports = cfg->interval > 0;
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
