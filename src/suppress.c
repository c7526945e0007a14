/* suppress.c — suppression rules: parsing (FDLEAK_SUPPRESS files and the defaults) and
 * matching a leak against them. Rule syntax (docs/suppressions.md): one rule per line, terms
 * `field=glob` separated by spaces, every term must match; `#` starts a comment. */
#include "suppress.h"
#include "capture_python.h"
#include "config.h"
#include "core.h"
#include "names.h"
#include "sites.h"
#include "symbolize.h"
#include "util.h"
#include "sys.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Holders that are not the program's fault, found by running real programs; each with why. */
static const char default_rules[] =
    /* NSS modules keep descriptors for the life of the process by design: libnss_sss maps
     * its cache files, libnss_systemd and nscd clients keep sockets (not seen on this Debian
     * machine, whose NSS is files-only: a rule from their documented behaviour). */
    "native-module=libnss_*\n"
    /* OpenSSL/libcrypto opens the random device once and keeps it where getrandom() is
     * missing (not seen here: OpenSSL 3 on Linux uses getrandom). */
    "native-module=libcrypto.so* desc=/dev/*random\n"
    /* multiprocessing's resource tracker: one pipe to its helper process, kept for the life of
     * the program on purpose (seen with shared_memory under the spawn start method). */
    "python-file=*/multiprocessing/resource_tracker.py python-function=ResourceTracker.ensure_running\n"
    /* multiprocessing's worker processes replace stdin with /dev/null and keep it (seen with
     * multiprocessing.Pool). */
    "python-file=*/multiprocessing/util.py python-function=_close_stdin\n"
    /* A server's listening socket when a signal ends the server (SIGTERM from a service
     * manager, seen with python3 -m http.server): holding it to the end is what a server does,
     * and it had no chance to close it. Still reported at a normal exit, and at a report
     * while the server runs. */
    "kind=socket desc=\"* listen *\" killed-by=*\n"
    /* redis-server, seen exiting on SHUTDOWN: its event loop (redis's ae library, also in
     * redis-benchmark and redis-cli) and its module system's pipe live as long as the process
     * by design; and it exits with its clients still connected (at least the one that sent
     * SHUTDOWN): closing those is the clients' business. */
    "native-function=aeCreateEventLoop\n"
    "native-function=moduleInitModulesSystem\n"
    "native-function=anetTcpAccept\n"
    /* A shell's descriptor for the script it reads, held until it exits: bash's fd 255 (dup2 in
     * move_to_high_fd), dash's copy at 10 or above (fcntl F_DUPFD; dash is stripped, so the
     * rule is the module and the kind: a dash script's own `exec 3<file` is not told apart).
     * Seen with pyenv's shims, whose helper scripts each showed one. */
    "native-module=bash native-function=move_to_high_fd kind=file\n"
    "native-module=dash kind=file\n"
    /* libuv's one-time process-wide state (uv_once): the signal pipe every loop shares, closed
     * by libuv's destructor after CPython has finalized. Seen under uvloop and Node.js. */
    "native-function=uv_once\n"
    /* libuv's default loop (Node.js runs on it) lives as long as the process; so does the
     * /dev/null that libuv keeps open to shed connections when accept() hits EMFILE. */
    "native-function=uv_default_loop\n"
    "native-function=uv__stream_init desc=/dev/null\n"
    "native-module=libuv.so* kind=char desc=/dev/null\n" /* Debian's libuv1: internal names stripped */
    /* An event loop's own descriptors (epoll, the self-pipe; uvloop's libuv loop) when a signal
     * ends the process (SIGTERM from systemd or docker stop): it had no chance to close them.
     * A loop the program never closes is still reported at a normal exit. */
    "python-file=*/asyncio/events.py python-function=*new_event_loop killed-by=*\n"
    "python-file=*/uvloop/__init__.py python-function=new_event_loop killed-by=*\n"
    /* uvloop's signal wake-up socketpair, made by its loop (Cython, no Python frame) each time
     * asyncio.run starts it: socket.socketpair called straight from Runner.run. Seen under
     * SIGTERM with uvloop 0.17. */
    "python-stack=\"*/socket.py:socketpair */asyncio/runners.py:Runner.run\" killed-by=*\n";

enum field { F_NATIVE_FUNCTION, F_NATIVE_MODULE, F_PYTHON_FILE, F_PYTHON_FUNCTION, F_PYTHON_STACK, F_KIND,
             F_DESC, F_KILLED_BY, F_COUNT };
static const char *const field_names[F_COUNT] = {"native-function", "native-module", "python-file", "python-function",
                                                 "python-stack", "kind", "desc", "killed-by"};

#define MAX_RULES 512
static struct rule {
    const char *glob[F_COUNT]; /* NULL: no condition on this field */
} rules[MAX_RULES];
static unsigned nrules;
static int warned_full;

bool fdl_glob(const char *p, const char *s)
{
    const char *star = 0, *resume = 0;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p == '?' || *p == *s) {
            p++, s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return !*p;
}

static void complain(int errfd, const char *origin, unsigned line, const char *what, const char *text, size_t n)
{
    char mem[512];
    struct fdl_buf b;
    fdl_buf_init_mem(&b, mem, sizeof mem);
    fdl_buf_puts(&b, "fdleak: ");
    fdl_buf_puts(&b, origin);
    fdl_buf_putc(&b, ':');
    fdl_buf_u64(&b, line);
    fdl_buf_puts(&b, ": ");
    fdl_buf_puts(&b, what);
    fdl_buf_puts(&b, " '");
    for (size_t i = 0; i < n && i < 120; i++)
        fdl_buf_putc(&b, text[i]);
    fdl_buf_puts(&b, "'; the rule is ignored (fields:");
    for (int k = 0; k < F_COUNT; k++) {
        fdl_buf_puts(&b, k ? ", " : " ");
        fdl_buf_puts(&b, field_names[k]);
    }
    fdl_buf_puts(&b, ")\n");
    if (errfd >= 0)
        fdl_write_all(errfd, b.data, b.len);
}

static char *copy(const char *s, size_t n)
{
    char *c = fdl_arena_alloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = 0;
    }
    return c;
}

/* python-stack: FILE:FUNCTION globs separated by spaces, the innermost Python frames in order. */
#define STACK_TERM_MAX 256

static bool stack_pattern_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        while (i < n && p[i] == ' ')
            i++;
        size_t t = i;
        while (t < n && p[t] != ' ')
            t++;
        if (t > i && (t - i >= STACK_TERM_MAX || !memchr(p + i, ':', t - i)))
            return false;
        i = t;
    }
    return true;
}

static bool stack_matches(const char *pattern, const struct fdl_pystack *py)
{
    unsigned k = 0;
    for (const char *p = pattern;;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (!n)
            return k > 0;
        char term[STACK_TERM_MAX];
        memcpy(term, p, n); /* stack_pattern_ok: n < STACK_TERM_MAX, a ':' in it */
        term[n] = 0;
        p += n;
        char *colon = strrchr(term, ':'); /* a function name has none; a file name may */
        *colon = 0;
        if (!py || k >= py->n || !fdl_glob(term, py->f[k].file) || !fdl_glob(colon + 1, py->f[k].function))
            return false;
        k++;
    }
}

int fdl_suppress_parse(const char *text, size_t len, const char *origin, int errfd)
{
    int bad = 0;
    unsigned lineno = 0;
    for (size_t pos = 0; pos < len;) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        lineno++;
        const char *line = text + pos;
        size_t n = end - pos;
        pos = end + 1;
        bool quoted = false;
        for (size_t i = 0; i < n; i++) {
            quoted ^= line[i] == '"';
            if (line[i] == '#' && !quoted)
                n = i;
        }
        struct rule r = {{0}};
        bool any = false, ok = true;
        for (size_t i = 0; i < n && ok;) {
            while (i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
                i++;
            if (i == n)
                break;
            size_t t = i;
            while (t < n && line[t] != ' ' && line[t] != '\t' && line[t] != '\r' && line[t] != '=')
                t++;
            /* field="pattern with spaces" or field=pattern */
            if (t < n && line[t] == '=' && t + 1 < n && line[t + 1] == '"') {
                const char *close = memchr(line + t + 2, '"', n - t - 2);
                t = close ? (size_t)(close - line) + 1 : n;
            } else {
                while (t < n && line[t] != ' ' && line[t] != '\t' && line[t] != '\r')
                    t++;
            }
            const char *eq = memchr(line + i, '=', t - i);
            int f = -1;
            for (int k = 0; eq && k < F_COUNT; k++)
                if ((size_t)(eq - (line + i)) == strlen(field_names[k]) && !memcmp(line + i, field_names[k], strlen(field_names[k])))
                    f = k;
            const char *pat = eq ? eq + 1 : 0;
            size_t plen = eq ? (size_t)(line + t - pat) : 0;
            if (pat && plen && *pat == '"') { /* quoted: without the quotes */
                bool closed = plen >= 2 && pat[plen - 1] == '"';
                if (!closed) {
                    complain(errfd, origin, lineno, "an unclosed quote in", line + i, t - i);
                    ok = false;
                    break;
                }
                pat++, plen -= 2;
            }
            if (f < 0 || !plen) {
                complain(errfd, origin, lineno, f < 0 ? "unknown term" : "empty pattern in", line + i, t - i);
                ok = false;
            } else if (f == F_PYTHON_STACK && !stack_pattern_ok(pat, plen)) {
                complain(errfd, origin, lineno, "python-stack wants FILE:FUNCTION patterns in", line + i, t - i);
                ok = false;
            } else if (r.glob[f]) {
                complain(errfd, origin, lineno, "a field given twice in", line, n);
                ok = false;
            } else if (!(r.glob[f] = copy(pat, plen))) {
                ok = false; /* out of memory: said by the arena's users elsewhere */
            }
            any = true;
            i = t;
        }
        if (!ok) {
            bad++;
        } else if (any) {
            if (nrules == MAX_RULES)
                fdl_warn_once(&warned_full, "more than 512 suppression rules; the rest are ignored");
            else
                rules[nrules++] = r;
        }
    }
    return bad;
}

void fdl_suppress_clear(void) { nrules = 0; }

#define FILE_MAX (256u << 10)

static void load_file(const char *path)
{
    int fd = fdl_own_open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) {
        fdl_say("FDLEAK_SUPPRESS: cannot read ", path, "; its rules are not used");
        return;
    }
    size_t len = 0;
    char *buf = fdl_arena_alloc(FILE_MAX);
    for (long n = 1; buf && n > 0 && len < FILE_MAX;) {
        n = fdl_sys(SYS_read, fd, buf + len, FILE_MAX - len);
        if (n > 0)
            len += (size_t)n;
    }
    char extra;
    bool more = buf && len == FILE_MAX && fdl_sys(SYS_read, fd, &extra, 1) == 1;
    fdl_own_close(fd);
    if (more) { /* a rule cut in half would match more than it says: up to the last whole line */
        fdl_say("FDLEAK_SUPPRESS: ", path, " is larger than 256 KiB; the rules after that are not used");
        while (len && buf[len - 1] != '\n')
            len--;
    }
    if (buf)
        fdl_suppress_parse(buf, len, path, 2);
}

void fdl_suppress_load(void)
{
    const struct fdl_config *cfg = fdl_config();
    if (cfg->default_suppress)
        fdl_suppress_parse(default_rules, sizeof default_rules - 1, "(default suppressions)", 2);
    char path[FDL_PATH_MAX];
    for (const char *p = cfg->suppress; *p;) {
        size_t n = strcspn(p, ":");
        if (n && n < sizeof path) {
            memcpy(path, p, n);
            path[n] = 0;
            load_file(path);
        }
        p += n + (p[n] == ':');
    }
}

/* A native-module pattern with a '/' matches the path, else the file name. */
static bool module_matches(const char *glob, const char *module)
{
    return module && fdl_glob(glob, strchr(glob, '/') ? module : fdl_base_name(module));
}

static bool matches(const struct rule *r, const char *kind, const char *desc, const char *killed_by,
                    const struct fdl_site *site, struct fdl_symbolizer *sym)
{
    if ((r->glob[F_KIND] && !fdl_glob(r->glob[F_KIND], kind)) || (r->glob[F_DESC] && !fdl_glob(r->glob[F_DESC], desc)))
        return false;
    if (r->glob[F_KILLED_BY] && (!killed_by || !fdl_glob(r->glob[F_KILLED_BY], killed_by)))
        return false; /* only in the exit report of a process a signal ended */
    if (r->glob[F_NATIVE_FUNCTION] || r->glob[F_NATIVE_MODULE]) {
        bool hit = false; /* one frame must satisfy both native terms */
        for (unsigned i = 0; site && i < site->n_native && !hit; i++) {
            struct fdl_frame f;
            fdl_sym_lookup(sym, site->frames[i], &f);
            hit = (!r->glob[F_NATIVE_FUNCTION] || (f.function && fdl_glob(r->glob[F_NATIVE_FUNCTION], f.function))) &&
                  (!r->glob[F_NATIVE_MODULE] || module_matches(r->glob[F_NATIVE_MODULE], f.module));
        }
        if (!hit)
            return false;
    }
    const struct fdl_pystack *py = site ? __atomic_load_n(&site->py, __ATOMIC_ACQUIRE) : 0;
    if (r->glob[F_PYTHON_STACK] && !stack_matches(r->glob[F_PYTHON_STACK], py))
        return false;
    if (r->glob[F_PYTHON_FILE] || r->glob[F_PYTHON_FUNCTION]) {
        bool hit = false; /* one frame must satisfy both Python terms */
        for (unsigned i = 0; py && i < py->n && !hit; i++)
            hit = (!r->glob[F_PYTHON_FILE] || fdl_glob(r->glob[F_PYTHON_FILE], py->f[i].file)) &&
                  (!r->glob[F_PYTHON_FUNCTION] || fdl_glob(r->glob[F_PYTHON_FUNCTION], py->f[i].function));
        if (!hit)
            return false;
    }
    return true;
}

bool fdl_suppressed(const char *kind, const char *desc, const char *killed_by, const struct fdl_site *site,
                    struct fdl_symbolizer *sym)
{
    for (unsigned i = 0; i < nrules; i++)
        if (matches(&rules[i], kind, desc, killed_by, site, sym))
            return true;
    return false;
}
