/* report.c — builds a report from the table and the misuse log and delivers it (a file
 * written whole via a temporary name and rename, or stderr). */
#include "report.h"
#include "findings.h"
#include "suppress.h"
#include "config.h"
#include "core.h"
#include "lineage.h"
#include "sites.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FDL_HASH_REGION region /* a variable of that name is in scope at every HASH_ADD */
#include "region_hash.h"

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

struct vec {
    struct fdl_rep_fd *v;
    size_t n, cap;
};

static struct fdl_rep_fd *vec_push(struct fdl_region *r, struct vec *a)
{
    if (a->n == a->cap) {
        struct fdl_rep_fd *nv = fdl_region_grow(r, a->v, a->n, &a->cap, sizeof *nv);
        if (!nv)
            return 0;
        a->v = nv;
    }
    struct fdl_rep_fd *e = &a->v[a->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/* Reads a small /proc file whole with raw syscalls. */
static char *slurp(struct fdl_region *r, const char *path, size_t *len)
{
    *len = 0;
    int fd = fdl_own_open(path, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    size_t cap = 64 * 1024;
    char *b = fdl_region_alloc(r, cap + 1);
    while (b && *len < cap) {
        ssize_t n = read(fd, b + *len, cap - *len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        *len += (size_t)n;
    }
    fdl_own_close(fd);
    return b;
}

static int cmp_fd(const void *a, const void *b)
{
    const struct fdl_rep_fd *x = a, *y = b;
    return x->fd < y->fd ? -1 : x->fd > y->fd;
}

static int cmp_rank(const void *a, const void *b)
{
    const struct fdl_rep_fd *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    return cmp_fd(a, b);
}

/* The leaks grouped by site rank, each group in fd order (the writers read a site's leaks as
 * one run): a stable counting sort of entries that came in fd order (the table scan). An
 * entry is ~800 bytes: a comparison sort moving them was most of the time a report of 20,000
 * descriptors took; it stays the way when the copy cannot be had (out of memory). */
static void group_by_rank(struct fdl_region *rg, struct vec *leaks, size_t nranks)
{
    size_t *start = fdl_region_alloc(rg, (nranks + 1) * sizeof *start);
    struct fdl_rep_fd *out = fdl_region_alloc(rg, (leaks->n + 1) * sizeof *out);
    if (!start || !out) {
        fdl_sort(leaks->v, leaks->n, sizeof *leaks->v, cmp_rank);
        return;
    }
    memset(start, 0, (nranks + 1) * sizeof *start);
    for (size_t i = 0; i < leaks->n; i++)
        start[leaks->v[i].rank + 1]++;
    for (size_t k = 1; k <= nranks; k++)
        start[k] += start[k - 1];
    for (size_t i = 0; i < leaks->n; i++)
        out[start[leaks->v[i].rank]++] = leaks->v[i];
    leaks->v = out;
    leaks->cap = leaks->n + 1;
}

static int cmp_site(const void *a, const void *b)
{
    const struct fdl_rep_site *x = a, *y = b;
    if (x->nleaks != y->nleaks)
        return x->nleaks > y->nleaks ? -1 : 1;
    unsigned xi = x->site ? x->site->id : ~0u, yi = y->site ? y->site->id : ~0u;
    return xi < yi ? -1 : xi > yi;
}

/* The report's sites by address: a report lists up to 48k sites, and leaks, flows and writers
 * look theirs up. */
struct fdl_site_ix {
    const struct fdl_site *site;
    size_t index;
    UT_hash_handle hh;
};

static void index_add(struct fdl_report *r, size_t k)
{
    struct fdl_region *region = &r->region; /* for uthash */
    struct fdl_site_ix *e = &r->ix_mem[k];
    e->site = r->sites[k].site;
    e->index = k;
    HASH_ADD_PTR(r->site_ix, site, e);
    if (!e->hh.tbl)
        r->ix_ok = false; /* uthash out of memory */
}

/* After the sites moved (sorting). */
static void index_rebuild(struct fdl_report *r)
{
    HASH_CLEAR(hh, r->site_ix);
    r->ix_ok = r->ix_mem != 0;
    for (size_t k = 0; r->ix_ok && k < r->nsites; k++)
        index_add(r, k);
}

const struct fdl_rep_site *fdl_report_site(const struct fdl_report *r, const struct fdl_site *s)
{
    if (r->ix_ok) {
        struct fdl_site_ix *e;
        HASH_FIND_PTR(r->site_ix, &s, e);
        return e ? &r->sites[e->index] : 0;
    }
    for (size_t i = 0; i < r->nsites; i++)
        if (r->sites[i].site == s)
            return &r->sites[i];
    return 0;
}

struct unat_ctx {
    struct fdl_region *rg;
    struct vec *out;
    int procfd;
};

/* An open descriptor the table has no record of: created where no wrapper could see. */
static void unattributed(int fd, void *arg)
{
    struct unat_ctx *c = arg;
    struct fdl_slot *s = fdl_table_slot(fd, false);
    if ((s && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_FREE) || fdl_own_is(fd))
        return;
    struct fdl_rep_fd *e = vec_push(c->rg, c->out);
    if (!e)
        return;
    e->fd = fd;
    fdl_describe(c->procfd, fd, 0, &e->info);
    if (!e->info.alive)
        c->out->n--;
}

/* Adds site to the report's list (without leaks) unless it is there already. */
static void want_site(struct fdl_report *r, size_t cap, struct fdl_site *site)
{
    if (!site || fdl_report_site(r, site) || r->nsites >= cap)
        return;
    r->sites[r->nsites++].site = site;
    if (r->ix_ok)
        index_add(r, r->nsites - 1);
}

struct every_ctx {
    struct fdl_report *r;
    size_t cap;
};

/* Every site that created something (stacks of bad calls are interned too, creating nothing). */
static void want_created(struct fdl_site *s, void *arg)
{
    struct every_ctx *c = arg;
    if (__atomic_load_n(&s->created, __ATOMIC_RELAXED))
        want_site(c->r, c->cap, s);
}

static struct fdl_frame *frames_of(struct fdl_report *r, struct fdl_site *s, unsigned *n)
{
    *n = 0;
    if (!s)
        return 0;
    struct fdl_frame *f = fdl_region_alloc(&r->region, (s->n_native + 1) * sizeof *f);
    for (unsigned i = 0; f && i < s->n_native; i++)
        fdl_sym_lookup(r->sym, s->frames[i], &f[i]);
    *n = f ? s->n_native : 0;
    return f;
}

/* Whether the text report names site in an error or an inherited descriptor's line. */
static bool shown_elsewhere(const struct fdl_report *r, const struct fdl_site *site, const struct vec *inh)
{
    for (size_t i = 0; i < r->nerrors; i++)
        if (r->errors[i].site == site)
            return true;
    for (size_t i = 0; i < inh->n; i++)
        if (inh->v[i].rec.site == site)
            return true;
    return false;
}

void fdl_report_build(struct fdl_report *r, const struct fdl_report_opts *o)
{
    memset(r, 0, sizeof *r);
    r->o = *o;
    struct fdl_region *rg = &r->region;
    struct vec leaks = {0}, inh = {0}, unat = {0};
    uint64_t now = fdl_now_mono_ns();
    /* Descriptions read /proc/self/fd/N: relative to the directory opened once (fdleak's own:
     * hidden from the report) the kernel walks the path once, not once per descriptor. */
    int procfd = fdl_own_open("/proc/self/fd", O_RDONLY | O_DIRECTORY, 0);
    struct fdl_slot *s;
    for (int fd = 0; (s = fdl_table_next(&fd, INT32_MAX)); fd++) {
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_OPEN)
            continue;
        struct fdl_slot rec;
        if (!fdl_slot_read(s, &rec) || rec.state != FDL_SLOT_OPEN)
            continue;
        if ((rec.flags & FDL_F_LATE) && !r->o.crossing)
            continue; /* the exit report of a Python process is about the moment it began */
        if (r->o.since && (rec.created_ns <= r->o.since || (r->o.until && rec.created_ns > r->o.until) ||
                           (rec.flags & (FDL_F_INHERITED | FDL_F_FORKED))))
            continue; /* a checkpoint report: only what was created in its window */
        struct fdl_fdinfo info;
        fdl_describe(procfd, fd, &rec, &info);
        if (!info.alive)
            continue; /* closed behind our back (raw syscall): not a leak we can vouch for */
        if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != rec.seq)
            continue; /* closed and reused while we looked: the kernel's answer is another fd's */
        /* Inherited: open before fdleak started or in the parent before fork; in a vfork child
         * about to exec, everything (the parent's). And the standard streams when the program
         * redirected them (dup2(log, 2), freopen(…, stdout), /dev/null or a tty at 0–2, as
         * daemons do): a socket that landed on fd 0 after close(0) is still a leak. */
        bool inherited = (rec.flags & (FDL_F_INHERITED | FDL_F_FORKED)) || fdl_in_vfork_child() ||
                         (fd <= 2 && (fdl_is_redirect(rec.via) || !strcmp(info.kind, "char") ||
                                      !strcmp(info.kind, "tty")));
        struct fdl_rep_fd *e = vec_push(rg, inherited ? &inh : &leaks);
        if (!e)
            continue;
        e->fd = fd;
        e->rec = rec;
        e->info = info;
        e->age = rec.created_ns && now > rec.created_ns ? (double)(now - rec.created_ns) / 1e9 : 0;
        if (rec.site) { /* the counts as of this scan (closed first: never above created) */
            e->site_closed = __atomic_load_n(&rec.site->closed, __ATOMIC_ACQUIRE);
            e->site_created = __atomic_load_n(&rec.site->created, __ATOMIC_ACQUIRE);
        }
        if (rec.flags & FDL_F_INHERITED)
            e->parent = fdl_lineage_find(fd);
    }
    struct unat_ctx uc = {rg, &unat, procfd};
    if (!r->o.since) /* right after the table scan: a descriptor churned in between shows twice */
        fdl_proc_fds(unattributed, &uc);
    if (procfd >= 0)
        fdl_own_close(procfd);
    /* Suppressed leaks are counted and dropped before anything is ranked. Their sites' names
     * are queued now (function names come at once; file:line only at the final resolve). */
    r->sym = fdl_sym_new(rg);
    size_t kept = 0;
    for (size_t i = 0; i < leaks.n; i++) {
        struct fdl_site *site = leaks.v[i].rec.site;
        for (unsigned f = 0; site && f < site->n_native; f++)
            fdl_sym_add(r->sym, site->frames[f]);
        if (fdl_suppressed(leaks.v[i].info.kind, leaks.v[i].info.desc, r->o.signal, site, r->sym))
            r->nsuppressed++;
        else
            leaks.v[kept++] = leaks.v[i];
    }
    leaks.n = kept;

    fdl_sort(unat.v, unat.n, sizeof *unat.v, cmp_fd);

    /* Errors: the misuse log, and for exec the descriptors about to cross it. */
    unsigned nlog;
    const struct fdl_error *log = fdl_errors(&nlog, &r->errors_dropped);
    if (r->o.since)
        nlog = 0, r->errors_dropped = 0; /* misuse is the whole run's, not a window's */
    size_t ecap = nlog + (r->o.crossing ? leaks.n + inh.n : 0);
    r->errors = fdl_region_alloc(rg, (ecap + 1) * sizeof *r->errors);
    for (size_t i = 0; r->o.crossing && r->errors && i < leaks.n + inh.n; i++) {
        struct fdl_rep_fd *e = i < leaks.n ? &leaks.v[i] : &inh.v[i - leaks.n];
        /* What fdleak saw created here or in a forked parent, not what it was handed. */
        if (e->fd <= 2 || e->info.cloexec || (e->rec.flags & FDL_F_INHERITED))
            continue;
        r->errors[r->nerrors++] = (struct fdl_rep_error){.what = FDL_E_CROSSES_EXEC, .fd = e->fd,
                                                         .site = e->rec.site, .count = 1,
                                                         .stack_site = r->o.exec_stack};
    }
    for (unsigned i = 0; r->errors && i < nlog; i++)
        if (__atomic_load_n(&log[i].ready, __ATOMIC_ACQUIRE))
            r->errors[r->nerrors++] = (struct fdl_rep_error){
                .what = log[i].what, .fd = log[i].fd, .site = log[i].site,
                .count = __atomic_load_n(&log[i].count, __ATOMIC_RELAXED),
                .stack_site = log[i].stack, .first_site = log[i].first_close};

    /* Sites: those with leaks, most leaks first; then the rest, so that two reports can be
     * compared site by site. */
    /* Every leak's site fits even when sites were published after the count was read. */
    size_t scap = fdl_sites_count() + leaks.n + 2;
    r->sites = fdl_region_alloc(rg, scap * sizeof *r->sites);
    r->ix_mem = fdl_region_alloc(rg, scap * sizeof *r->ix_mem);
    r->ix_ok = r->ix_mem != 0;
    if (r->sites) {
        for (size_t i = 0; i < leaks.n; i++) {
            struct fdl_site *site = leaks.v[i].rec.site;
            const struct fdl_rep_site *known = fdl_report_site(r, site);
            size_t k = known ? (size_t)(known - r->sites) : r->nsites;
            if (k == r->nsites) {
                r->sites[r->nsites++].site = site;
                if (r->ix_ok)
                    index_add(r, k);
            }
            r->sites[k].nleaks++;
        }
        fdl_sort(r->sites, r->nsites, sizeof *r->sites, cmp_site);
        index_rebuild(r);
        r->nleak_sites = r->nsites;
        for (size_t i = 0; i < leaks.n; i++) { /* every leak's site was added above */
            const struct fdl_rep_site *rs = fdl_report_site(r, leaks.v[i].rec.site);
            leaks.v[i].rank = rs ? (size_t)(rs - r->sites) : 0;
        }
        for (size_t i = 0; i < inh.n; i++)
            want_site(r, scap, inh.v[i].rec.site);
        for (size_t i = 0; i < r->nerrors; i++)
            want_site(r, scap, r->errors[i].site);
        struct every_ctx ec = {r, scap};
        if (!r->o.since)
            fdl_sites_foreach(want_created, &ec);
        int k = fdl_config()->growth_k;
        for (size_t i = 0; i < r->nsites; i++) {
            struct fdl_rep_site *rs = &r->sites[i];
            if (!rs->site)
                continue;
            rs->closed = __atomic_load_n(&rs->site->closed, __ATOMIC_ACQUIRE);
            rs->created = __atomic_load_n(&rs->site->created, __ATOMIC_ACQUIRE);
            if (rs->closed > rs->created) /* a close racing the creation's count (misuse) */
                rs->closed = rs->created;
            rs->growing = fdl_site_growing(rs->site, k, &rs->per_hour);
            rs->named = !r->o.shown_only || i < r->nleak_sites || rs->growing || shown_elsewhere(r, rs->site, &inh);
        }
        /* A leak site's counts as the table scan saw them, so that they agree with its listed
         * descriptors in a program that keeps creating meanwhile. */
        for (size_t i = 0; i < leaks.n; i++) {
            struct fdl_rep_site *rs = &r->sites[leaks.v[i].rank];
            if (rs->site && leaks.v[i].site_created) {
                rs->created = leaks.v[i].site_created;
                rs->closed = leaks.v[i].site_closed < rs->created ? leaks.v[i].site_closed : rs->created;
            }
        }
    }
    group_by_rank(rg, &leaks, r->nsites ? r->nsites : 1);
    fdl_findings_prepare(r);

    /* Names only for what the writer shows: symbolizing costs (addr2line over a big library's
     * debug information), and a fork child's exit report with nothing to say should not pay. */
    for (size_t k = 0; k < r->nsites; k++) {
        struct fdl_site *site = r->sites[k].site;
        if (!r->sites[k].named)
            continue;
        for (unsigned f = 0; site && f < site->n_native; f++)
            fdl_sym_add(r->sym, site->frames[f]);
    }
    for (size_t i = 0; i < r->nerrors; i++) {
        struct fdl_site *st[2] = {r->errors[i].stack_site, r->errors[i].first_site};
        for (int j = 0; j < 2; j++)
            for (unsigned f = 0; st[j] && f < st[j]->n_native; f++)
                fdl_sym_add(r->sym, st[j]->frames[f]);
    }
    fdl_sym_resolve(r->sym);
    for (size_t k = 0; k < r->nsites; k++) {
        unsigned n;
        struct fdl_site *site = r->sites[k].site;
        if (r->sites[k].named)
            r->sites[k].frames = frames_of(r, site, &n);
    }
    for (size_t i = 0; i < r->nerrors; i++) {
        struct fdl_rep_error *e = &r->errors[i];
        e->stack = frames_of(r, e->stack_site, &e->nstack);
        e->first_close = frames_of(r, e->first_site, &e->nfirst);
    }

    r->leaks = leaks.v, r->nleaks = leaks.n;
    r->inherited = inh.v, r->ninherited = inh.n;
    r->unattributed = unat.v, r->nunattributed = unat.n;
    r->open = leaks.n + inh.n + unat.n;
    r->cmdline = slurp(rg, "/proc/self/cmdline", &r->cmdline_len);
    /* A program that rewrote its argv (setproctitle) leaves trailing NULs: not arguments. */
    while (r->cmdline && r->cmdline_len > 1 && !r->cmdline[r->cmdline_len - 1] && !r->cmdline[r->cmdline_len - 2])
        r->cmdline_len--;
    ssize_t n = readlink("/proc/self/exe", r->exe, sizeof r->exe - 1);
    r->exe[n > 0 ? n : 0] = 0;
    n = readlink("/proc/self/cwd", r->cwd, sizeof r->cwd - 1);
    r->cwd[n > 0 ? n : 0] = 0;
    r->pid = (int)syscall(SYS_getpid);
    r->ppid = (int)syscall(SYS_getppid);
    r->time = fdl_now_real();
    r->mono = fdl_now_mono_ns();
    struct rlimit rl;
    r->limit = r->o.limit ? r->o.limit : getrlimit(RLIMIT_NOFILE, &rl) ? 0 : (uint64_t)rl.rlim_cur;
    fdl_raise_peak(r->open);
    struct fdl_counts c;
    fdl_counts(&c);
    r->peak = c.peak;
    fdl_findings_build(r); /* last: its labels need the working directory */
}

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

static bool write_to(int fd, void (*write)(const struct fdl_report *, struct fdl_buf *),
                     const struct fdl_report *r)
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

bool fdl_write_file_atomic(const char *path, int pid, void (*write)(const struct fdl_report *, struct fdl_buf *),
                           const struct fdl_report *r)
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
    char tmp[FDL_PATH_MAX + 96];
    struct fdl_buf tb;
    fdl_buf_init_mem(&tb, tmp, sizeof tmp);
    fdl_buf_puts(&tb, path);
    fdl_buf_puts(&tb, ".tmp");
    fdl_buf_u64(&tb, (uint64_t)pid);
    fdl_buf_cstr(&tb);
    int fd = fdl_own_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return false;
    bool ok = write_to(fd, write, r);
    int e = errno;
    fdl_own_close(fd);
    if (ok && !syscall(SYS_rename, tmp, path))
        return true;
    e = ok ? errno : e;
    syscall(SYS_unlink, tmp);
    errno = e ? e : EIO;
    return false;
}

/* Writes to the configured path (whole or not at all), or to stderr. */
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

static void deliver(const struct fdl_report *r)
{
    const struct fdl_config *cfg = fdl_config();
    if (r->o.path) { /* the caller's own file, always JSON */
        if (!fdl_write_file_atomic(r->o.path, r->pid, fdl_report_write_json, r))
            fdl_say("cannot write the report to ", r->o.path, " (the caller's path)");
        return;
    }
    void (*write)(const struct fdl_report *, struct fdl_buf *) =
        cfg->format == FDL_FORMAT_JSON ? fdl_report_write_json : fdl_report_write_text;
    if (cfg->output[0]) {
        char path[FDL_PATH_MAX + 64];
        expand_path(cfg->output, r->pid, r->seq, path, sizeof path);
        if (fdl_write_file_atomic(path, r->pid, write, r))
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

void fdl_report_free(struct fdl_report *r)
{
    fdl_sym_free(r->sym);
    fdl_region_free(&r->region);
}

/* One report at a time, so that their numbers follow the order of what they saw (a later
 * report never shows fewer creations). A report nested on the same thread (a signal handler
 * that interrupted one) goes ahead: waiting would wait for itself. Waiting is bounded. */
static _Atomic int report_owner;

static bool report_lock(void)
{
    /* A vfork child must not take it: the lock is its parent's memory, and a child dying in
     * the middle would leave it held for the parent. */
    if (fdl_in_vfork_child())
        return false;
    int me = (int)syscall(SYS_gettid);
    int pid = (int)syscall(SYS_getpid);
    if (__atomic_load_n(&report_owner, __ATOMIC_ACQUIRE) == me)
        return false;
    for (int spins = 0; spins < 30000; spins++) { /* 30 s at most */
        int owner = 0;
        if (__atomic_compare_exchange_n(&report_owner, &owner, me, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return true;
        /* An owner that no longer exists (a thread killed mid-report) holds nothing. */
        if (syscall(SYS_tgkill, pid, owner, 0) && errno == ESRCH &&
            __atomic_compare_exchange_n(&report_owner, &owner, me, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return true;
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, 0);
    }
    return false;
}

void fdl_metrics_write(const char *pattern)
{
    int saved = errno, cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
    fdl_tls.busy++;
    bool locked = report_lock();
    struct fdl_region hold = {0};
    struct fdl_report *r = fdl_region_alloc(&hold, sizeof *r);
    if (r) {
        struct fdl_report_opts o = {.trigger = "interval"};
        fdl_report_build(r, &o);
        char path[FDL_PATH_MAX + 64];
        expand_path(pattern, r->pid, 1, path, sizeof path);
        static int warned;
        if (!fdl_write_file_atomic(path, r->pid, fdl_report_write_metrics, r))
            fdl_warn_once(&warned, "cannot write the FDLEAK_METRICS file (missing directory or not writable)");
        fdl_report_free(r);
        fdl_region_free(&hold);
    }
    if (locked)
        __atomic_store_n(&report_owner, 0, __ATOMIC_RELEASE);
    fdl_tls.busy--;
    pthread_setcancelstate(cancel, 0);
    errno = saved;
}

void fdl_report_forked(void) { __atomic_store_n(&report_owner, 0, __ATOMIC_RELEASE); }

long fdl_report_now(const struct fdl_report_opts *o)
{
    int saved = errno, cancel;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel); /* poll, read… are cancellation points */
    fdl_tls.busy++;
    bool locked = report_lock();
    /* The report itself lives off the stack too: reports run on the program's threads, whose
     * stacks may be small. */
    struct fdl_region hold = {0};
    struct fdl_report *r = fdl_region_alloc(&hold, sizeof *r);
    long n = -1;
    if (r) {
        struct fdl_report_opts opts = *o;
        opts.shown_only = !o->path && fdl_config()->format == FDL_FORMAT_TEXT;
        fdl_report_build(r, &opts);
        r->seq = o->path ? 0 : take_seq(); /* a caller's own file takes no report number */
        deliver(r);
        n = (long)r->nleaks;
        fdl_report_free(r);
        fdl_region_free(&hold);
    }
    if (locked)
        __atomic_store_n(&report_owner, 0, __ATOMIC_RELEASE);
    fdl_tls.busy--;
    pthread_setcancelstate(cancel, 0);
    errno = saved;
    return n;
}

static void stack_lines(struct fdl_buf *b, struct fdl_symbolizer *sym, struct fdl_site *s, const char *first)
{
    for (unsigned i = 0; s && i < s->n_native; i++) {
        struct fdl_frame f;
        fdl_sym_lookup(sym, s->frames[i], &f);
        fdl_buf_puts(b, i ? "fdleak:    by " : first);
        fdl_buf_hex(b, f.pc);
        fdl_buf_puts(b, ": ");
        fdl_buf_puts(b, f.function ? f.function : "???");
        if (f.module) {
            fdl_buf_puts(b, " in ");
            fdl_buf_puts(b, f.module);
        }
        fdl_buf_putc(b, '\n');
    }
}

void fdl_report_misuse_now(enum fdl_misuse_kind what, int fd, struct fdl_site *site,
                           struct fdl_site *stack, struct fdl_site *first_close)
{
    fdl_tls.busy++;
    struct fdl_region rg = {0};
    struct fdl_symbolizer *sym = fdl_sym_new(&rg);
    struct fdl_site *all[3] = {stack, first_close, site};
    for (int j = 0; j < 3; j++)
        for (unsigned i = 0; all[j] && i < all[j]->n_native; i++)
            fdl_sym_add(sym, all[j]->frames[i]);
    fdl_sym_resolve(sym);
    char mem[8192];
    struct fdl_buf b;
    fdl_buf_init_fd(&b, fdl_stderr_fd(), mem, sizeof mem);
    fdl_buf_puts(&b, "fdleak: ");
    fdl_buf_puts(&b, fdl_misuse_name(what));
    fdl_buf_puts(&b, " of fd ");
    fdl_buf_i64(&b, fd);
    fdl_buf_puts(&b, " (FDLEAK_MISUSE=abort)\n");
    stack_lines(&b, sym, stack, "fdleak:    at ");
    stack_lines(&b, sym, first_close, "fdleak:  first closed at ");
    stack_lines(&b, sym, site, "fdleak:  created at ");
    fdl_buf_flush(&b);
    fdl_sym_free(sym);
    fdl_region_free(&rg);
    fdl_tls.busy--;
}
