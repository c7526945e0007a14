/* report_deliver.c — the one skeleton every report runs (lock, build, deliver) and delivery:
 * report numbers, the output path (%p, %n), the file written whole, else stderr. */
#include "report.h"
#include "children.h"
#include "config.h"
#include "core.h"
#include "reserve.h"
#include "tls.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- report numbers ---- */

static unsigned seq_base = 1;     /* number of this image's first report */
static _Atomic unsigned seq_done; /* reports this image delivered */
static unsigned vfork_done;       /* reports the current vfork child delivered */

unsigned fdl_report_next_seq(void)
{
    return fdl_in_vfork_child() ? 1 + vfork_done : seq_base + __atomic_load_n(&seq_done, __ATOMIC_RELAXED);
}

static unsigned take_seq(void)
{
    return fdl_in_vfork_child() ? 1 + vfork_done++ : seq_base + __atomic_fetch_add(&seq_done, 1, __ATOMIC_RELAXED);
}

void fdl_report_reset_seq(unsigned base)
{
    seq_base = base;
    __atomic_store_n(&seq_done, 0, __ATOMIC_RELAXED);
}

void fdl_report_vfork_child(void) { vfork_done = 0; }

/* ---- one report at a time ---- */

/* One report at a time, so that their numbers follow the order of what they saw (a later
 * report never shows fewer creations). A report nested on the same thread (a signal handler
 * that interrupted one) goes ahead: waiting would wait for itself. Waiting is bounded.
 * Async-signal-safe (an atomic and system calls). */
static _Atomic int report_owner;

static bool report_lock(void)
{
    /* A vfork child must not take it: the lock is its parent's memory, and a child dying in
     * the middle would leave it held for the parent. */
    if (fdl_in_vfork_child())
        return false;
    int me = (int)fdl_sys(SYS_gettid);
    int pid = (int)fdl_sys(SYS_getpid);
    if (__atomic_load_n(&report_owner, __ATOMIC_ACQUIRE) == me)
        return false;
    for (int spins = 0; spins < 30000; spins++) { /* 30 s at most */
        int owner = 0;
        if (__atomic_compare_exchange_n(&report_owner, &owner, me, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return true;
        /* An owner that no longer exists (a thread killed mid-report) holds nothing. */
        if (fdl_sys(SYS_tgkill, pid, owner, 0) && errno == ESRCH &&
            __atomic_compare_exchange_n(&report_owner, &owner, me, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return true;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, 0);
    }
    return false;
}

static void report_unlock(void) { __atomic_store_n(&report_owner, 0, __ATOMIC_RELEASE); }

void fdl_report_forked(void) { report_unlock(); }

/* ---- the skeleton ---- */

/* One report from start to end: builds it with o, hands it to deliver (with arg), frees it;
 * returns its number of leaks, or -1 when there was no memory for it. The calling thread is
 * marked busy meanwhile (whatever the report opens is fdleak's own) and cannot be cancelled
 * (poll, read… are cancellation points), and its own opens may use the reserve (reserve.h);
 * errno is preserved. Thread-safe (one report at a
 * time, each in its own region) and async-signal-safe as report.h describes; in a vfork child
 * it takes no lock. */
static long run_report(const struct fdl_report_opts *o, void (*deliver)(struct fdl_report *, const void *),
                       const void *arg)
{
    int saved = errno, cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    fdl_tls.busy++;
    bool locked = report_lock();
    fdl_reserve_begin(); /* a full table: what the report opens comes from the reserve */
    /* The report itself lives off the stack too: reports run on the program's threads, whose
     * stacks may be small. */
    struct fdl_region hold = {0};
    struct fdl_report *r = fdl_region_alloc(&hold, sizeof *r);
    long n = -1;
    if (r) {
        fdl_report_build(r, o);
        deliver(r, arg);
        n = (long)r->nleaks;
        fdl_report_free(r);
        fdl_region_free(&hold);
    }
    fdl_reserve_end();
    if (locked)
        report_unlock();
    fdl_tls.busy--;
    pthread_setcancelstate(cancel, 0);
    errno = saved;
    return n;
}

/* ---- writing a file ---- */

/* FDLEAK_OUTPUT with %p (pid), %n (report number) and %% expanded. Without %n, the second and
 * later reports of one pid get ".N" before the extension, so none overwrites another. */
static void expand_path(const char *pat, int pid, unsigned seq, char *out, size_t cap)
{
    struct fdl_buf b;
    fdl_buf_init_mem(&b, out, cap);
    bool has_n = false;
    for (const char *p = pat; *p; p++) {
        if (*p != '%' || !p[1]) {
            fdl_buf_putc(&b, *p);
            continue;
        }
        p++;
        if (*p == 'p') {
            fdl_buf_u64(&b, (uint64_t)pid);
        } else if (*p == 'n') {
            fdl_buf_u64(&b, seq);
            has_n = true;
        } else if (*p == '%') {
            fdl_buf_putc(&b, '%');
        } else {
            fdl_buf_putc(&b, '%');
            fdl_buf_putc(&b, *p);
        }
    }
    fdl_buf_cstr(&b);
    if (has_n || seq <= 1)
        return;
    char *slash = strrchr(out, '/'), *dot = strrchr(out, '.');
    if (!dot || (slash && dot < slash) || dot == (slash ? slash + 1 : out))
        dot = out + strlen(out);
    char tail[FDL_PATH_MAX];
    size_t tl = strlen(dot);
    if (tl >= sizeof tail)
        return;
    memcpy(tail, dot, tl + 1);
    b.len = (size_t)(dot - out);
    fdl_buf_putc(&b, '.');
    fdl_buf_u64(&b, seq);
    fdl_buf_puts(&b, tail);
    fdl_buf_cstr(&b);
}

typedef void fdl_writer(const struct fdl_report *, struct fdl_buf *);

static bool write_to(int fd, fdl_writer *write, const struct fdl_report *r)
{
    /* The buffer comes from the region: a report may run on a thread with a small stack. */
    size_t cap = 16384;
    char small[512], *mem = fdl_region_alloc((struct fdl_region *)&r->region, cap);
    if (!mem)
        mem = small, cap = sizeof small;
    struct fdl_buf b;
    fdl_buf_init_fd(&b, fd, mem, cap);
    write(r, &b);
    return fdl_buf_flush(&b);
}

/* Writes path whole: a temporary name, then rename. False (errno set) on failure. */
static bool write_file_atomic(const char *path, int pid, fdl_writer *write, const struct fdl_report *r)
{
    /* /dev/null, /dev/stderr, a fifo: written in place. A rename over them would replace a
     * device node with a regular file. */
    struct stat st;
    if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
        int fd = fdl_own_open(path, O_WRONLY | O_NONBLOCK, 0);
        if (fd < 0)
            return false;
        bool ok = write_to(fd, write, r);
        fdl_own_close(fd);
        return ok;
    }
    /* The temporary file is hidden (".name.tmpPID" beside it): a process killed while it writes
     * (a test runner's SIGKILL of a worker still writing its exit report) leaves no file that
     * a reader of the directory's reports (*.json, *) takes for one. */
    char tmp[FDL_PATH_MAX + 96];
    struct fdl_buf tb;
    fdl_buf_init_mem(&tb, tmp, sizeof tmp);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    fdl_buf_putn(&tb, path, (size_t)(base - path));
    fdl_buf_putc(&tb, '.');
    fdl_buf_puts(&tb, base);
    fdl_buf_puts(&tb, ".tmp");
    fdl_buf_u64(&tb, (uint64_t)pid);
    fdl_buf_cstr(&tb);
    int fd = fdl_own_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return false;
    bool ok = write_to(fd, write, r);
    int e = errno;
    fdl_own_close(fd);
    if (ok && !fdl_sys(SYS_rename, tmp, path))
        return true;
    e = ok ? errno : e;
    fdl_sys(SYS_unlink, tmp);
    errno = e ? e : EIO;
    return false;
}

/* Whether the directory part of path exists (a file cannot be created in /proc, say, which
 * exists). Async-signal-safe. */
static bool dir_exists(const char *path)
{
    char dir[FDL_PATH_MAX + 64];
    const char *slash = strrchr(path, '/');
    if (!slash)
        return true; /* the working directory */
    size_t n = slash > path ? (size_t)(slash - path) : 1; /* "/x": "/" */
    if (n >= sizeof dir)
        return false;
    memcpy(dir, path, n);
    dir[n] = 0;
    struct stat st;
    return !stat(dir, &st) && S_ISDIR(st.st_mode);
}

/* ---- the deliveries ---- */

/* A report: numbered, then written to the caller's path (JSON), else to FDLEAK_OUTPUT in
 * FDLEAK_FORMAT (whole or not at all), else — or when that fails — to stderr. */
static void deliver_report(struct fdl_report *r, const void *unused)
{
    (void)unused;
    if (fdl_children_silent() && !r->o.path)
        return; /* FDLEAK_CHILDREN leaves this process out (a caller's own path still gets its file) */
    r->seq = r->o.path ? 0 : take_seq(); /* a caller's own file takes no report number */
    const struct fdl_config *cfg = fdl_config();
    if (r->o.path) {
        if (!write_file_atomic(r->o.path, r->pid, fdl_report_write_json, r))
            fdl_say("cannot write the report to ", r->o.path, " (the caller's path)");
        return;
    }
    fdl_writer *write = cfg->format == FDL_FORMAT_JSON ? fdl_report_write_json : fdl_report_write_text;
    if (cfg->output[0]) {
        char path[FDL_PATH_MAX + 64];
        expand_path(cfg->output, r->pid, r->seq, path, sizeof path);
        if (write_file_atomic(path, r->pid, write, r))
            return;
        int e = errno;
        fdl_say("cannot write the report to ", path,
            e == ENOENT && !dir_exists(path) ? " (no such directory); writing it to stderr"
            : e == EMFILE || e == ENFILE     ? " (no descriptor free); writing it to stderr"
                                             : " (not writable there); writing it to stderr");
    }
    if (cfg->quiet && !r->nleaks && !r->nerrors)
        return; /* FDLEAK_QUIET: a clean report says nothing, wherever it would have gone */
    write_to(fdl_stderr_fd(), write, r);
}

long fdl_report_now(const struct fdl_report_opts *o)
{
    struct fdl_report_opts opts = *o;
    opts.shown_only = !o->path && fdl_config()->format == FDL_FORMAT_TEXT;
    return run_report(&opts, deliver_report, 0);
}

/* The metrics file (pattern: %p expanded; no report number), rewritten whole. */
static void deliver_metrics(struct fdl_report *r, const void *pattern)
{
    if (fdl_children_silent())
        return;
    char path[FDL_PATH_MAX + 64];
    expand_path(pattern, r->pid, 1, path, sizeof path);
    static int warned;
    if (!write_file_atomic(path, r->pid, fdl_report_write_metrics, r))
        fdl_warn_once(&warned, "cannot write the FDLEAK_METRICS file (missing directory or not writable)");
}

void fdl_metrics_write(const char *pattern)
{
    struct fdl_report_opts o = {.trigger = "interval"};
    run_report(&o, deliver_metrics, pattern);
}
