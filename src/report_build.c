/* report_build.c — builds a report (report.h) from the table, /proc and the misuse log, in
 * named stages that fdl_report_build runs in order; report_deliver.c writes it out. */
#include "report.h"
#include "findings.h"
#include "suppress.h"
#include "config.h"
#include "core.h"
#include "lineage.h"
#include "reserve.h"
#include "sites.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define FDL_HASH_REGION (&r->region) /* the report `r` is in scope at every HASH_ADD */
#include "region_hash.h"
#include "sys.h"

/* The report's sites by address: a report lists up to 48k sites, and leaks, flows and writers
 * look theirs up. */
struct fdl_site_ix {
    const struct fdl_site *site;
    size_t index;
    UT_hash_handle hh;
};

static void index_add(struct fdl_report *r, size_t k)
{
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

/* ---- stage 1, snapshot: what is open (the table, then /proc) ---- */

bool fdl_is_leak(int fd, const struct fdl_slot *rec, const char *kind)
{
    if (rec->flags & (FDL_F_INHERITED | FDL_F_FORKED))
        return false;
    if (fd > 2)
        return true;
    return !fdl_is_redirect(rec->via) && !(kind && (!strcmp(kind, "char") || !strcmp(kind, "tty")));
}

/* Descriptors as the snapshot collects them (leaks, inherited, unattributed). */
struct fd_list {
    struct fdl_rep_fd *v;
    size_t n, cap;
};

static struct fdl_rep_fd *fd_list_push(struct fdl_region *r, struct fd_list *a)
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

static int cmp_fd(const void *a, const void *b)
{
    const struct fdl_rep_fd *x = a, *y = b;
    return x->fd < y->fd ? -1 : x->fd > y->fd;
}

/* Every open descriptor the table has a record of, in fd order, as a leak or inherited; the
 * ones this report leaves out are skipped (see each). */
/* Numbers whose record is stale (see scan_table), in fd order: the unattributed pass lists
 * what they hold now. */
struct stale_fds {
    int *v;
    size_t n, cap;
};

static void stale_push(struct fdl_report *r, struct stale_fds *a, int fd)
{
    if (a->n == a->cap) {
        int *nv = fdl_region_grow(&r->region, a->v, a->n, &a->cap, sizeof *nv);
        if (!nv)
            return;
        a->v = nv;
    }
    a->v[a->n++] = fd;
}

static bool stale_has(const struct stale_fds *a, int fd)
{
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->v[mid] == fd)
            return true;
        if (a->v[mid] < fd)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static void scan_table(struct fdl_report *r, int procfd, uint64_t now, struct fd_list *leaks, struct fd_list *inh,
                       struct stale_fds *stale)
{
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
        if (fdl_own_is(fd) || info.stale) {
            /* The number holds something else now (this report's own directory, say): the
             * record's descriptor was closed unseen, and what is there was made unseen. */
            stale_push(r, stale, fd);
            continue;
        }
        /* In a vfork child about to exec, everything is the parent's. */
        bool inherited = fdl_in_vfork_child() || !fdl_is_leak(fd, &rec, info.kind);
        struct fdl_rep_fd *e = fd_list_push(&r->region, inherited ? inh : leaks);
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
}

struct unat_ctx {
    struct fdl_region *rg;
    struct fd_list *out;
    const struct stale_fds *stale;
    int procfd;
};

/* An open descriptor the table has no record of: created where no wrapper could see. */
static void unattributed(int fd, void *arg)
{
    struct unat_ctx *c = arg;
    struct fdl_slot *s = fdl_table_slot(fd, false);
    if ((s && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_FREE && !stale_has(c->stale, fd)) ||
        fdl_own_is(fd))
        return;
    struct fdl_rep_fd *e = fd_list_push(c->rg, c->out);
    if (!e)
        return;
    e->fd = fd;
    fdl_describe(c->procfd, fd, 0, &e->info);
    if (!e->info.alive)
        c->out->n--;
}

static void snapshot(struct fdl_report *r)
{
    struct fd_list leaks = {0}, inh = {0}, unat = {0};
    struct stale_fds stale = {0};
    uint64_t now = fdl_now_mono_ns();
    /* Descriptions read /proc/self/fd/N: relative to the directory opened once (fdleak's own:
     * hidden from the report) the kernel walks the path once, not once per descriptor. */
    int procfd = fdl_own_open("/proc/self/fd", O_RDONLY | O_DIRECTORY, 0);
    scan_table(r, procfd, now, &leaks, &inh, &stale);
    r->nstale = stale.n;
    struct unat_ctx uc = {&r->region, &unat, &stale, procfd};
    if (!r->o.since) /* right after the table scan: a descriptor churned in between shows twice */
        fdl_proc_fds(unattributed, &uc);
    if (procfd >= 0)
        fdl_own_close(procfd);
    fdl_sort(unat.v, unat.n, sizeof *unat.v, cmp_fd);
    r->leaks = leaks.v, r->nleaks = leaks.n;
    r->inherited = inh.v, r->ninherited = inh.n;
    r->unattributed = unat.v, r->nunattributed = unat.n;
}

/* ---- stage 2, suppress ---- */

/* Suppressed leaks are counted and dropped before anything is ranked. Their sites' names are
 * queued now (function names come at once; file:line only at the final resolve). */
static void drop_suppressed(struct fdl_report *r)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->nleaks; i++) {
        struct fdl_site *site = r->leaks[i].rec.site;
        for (unsigned f = 0; site && f < site->n_native; f++)
            fdl_sym_add(r->sym, site->frames[f]);
        if (fdl_suppressed(r->leaks[i].info.kind, r->leaks[i].info.desc, r->o.signal, site, r->sym))
            r->nsuppressed++;
        else
            r->leaks[kept++] = r->leaks[i];
    }
    r->nleaks = kept;
}

/* ---- stage 3, errors: the misuse log, and for exec the descriptors about to cross it ---- */

static void collect_errors(struct fdl_report *r)
{
    unsigned nlog;
    const struct fdl_error *log = fdl_errors(&nlog, &r->errors_dropped);
    if (r->o.since)
        nlog = 0, r->errors_dropped = 0; /* misuse is the whole run's, not a window's */
    size_t ecap = nlog + (r->o.crossing ? r->nleaks + r->ninherited : 0);
    r->errors = fdl_region_alloc(&r->region, (ecap + 1) * sizeof *r->errors);
    for (size_t i = 0; r->o.crossing && r->errors && i < r->nleaks + r->ninherited; i++) {
        struct fdl_rep_fd *e = i < r->nleaks ? &r->leaks[i] : &r->inherited[i - r->nleaks];
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
}

/* ---- stage 4, group: sites with leaks, most leaks first; then the rest, so that two reports
 * can be compared site by site ---- */

static int cmp_site(const void *a, const void *b)
{
    const struct fdl_rep_site *x = a, *y = b;
    if (x->nleaks != y->nleaks)
        return x->nleaks > y->nleaks ? -1 : 1;
    unsigned xi = x->site ? x->site->id : ~0u, yi = y->site ? y->site->id : ~0u;
    return xi < yi ? -1 : xi > yi;
}

/* The leaks' sites with their leak counts, sorted (most leaks first), and each leak's rank:
 * the index of its site. */
static void rank_leak_sites(struct fdl_report *r)
{
    for (size_t i = 0; i < r->nleaks; i++) {
        struct fdl_site *site = r->leaks[i].rec.site;
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
    for (size_t i = 0; i < r->nleaks; i++) { /* every leak's site was added above */
        const struct fdl_rep_site *rs = fdl_report_site(r, r->leaks[i].rec.site);
        r->leaks[i].rank = rs ? (size_t)(rs - r->sites) : 0;
    }
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

/* After the leak sites: those of inherited descriptors and errors, then (not for a checkpoint
 * report) every site that created something. */
static void add_other_sites(struct fdl_report *r, size_t cap)
{
    for (size_t i = 0; i < r->ninherited; i++)
        want_site(r, cap, r->inherited[i].rec.site);
    for (size_t i = 0; i < r->nerrors; i++)
        want_site(r, cap, r->errors[i].site);
    struct every_ctx ec = {r, cap};
    if (!r->o.since)
        fdl_sites_foreach(want_created, &ec);
}

/* Whether the text report names site in an error or an inherited descriptor's line. */
static bool shown_elsewhere(const struct fdl_report *r, const struct fdl_site *site)
{
    for (size_t i = 0; i < r->nerrors; i++)
        if (r->errors[i].site == site)
            return true;
    for (size_t i = 0; i < r->ninherited; i++)
        if (r->inherited[i].rec.site == site)
            return true;
    return false;
}

/* Each site's counts and growth, and whether it gets names (rs->named). */
static void read_site_counts(struct fdl_report *r)
{
    for (size_t i = 0; i < r->nsites; i++) {
        struct fdl_rep_site *rs = &r->sites[i];
        if (!rs->site)
            continue;
        rs->closed = __atomic_load_n(&rs->site->closed, __ATOMIC_ACQUIRE);
        rs->created = __atomic_load_n(&rs->site->created, __ATOMIC_ACQUIRE);
        if (rs->closed > rs->created) /* a close racing the creation's count (misuse) */
            rs->closed = rs->created;
        rs->named = !r->o.shown_only || i < r->nleak_sites || shown_elsewhere(r, rs->site); /* growing: findings.c */
    }
    /* A leak site's counts as the table scan saw them, so that they agree with its listed
     * descriptors in a program that keeps creating meanwhile. */
    for (size_t i = 0; i < r->nleaks; i++) {
        struct fdl_rep_site *rs = &r->sites[r->leaks[i].rank];
        if (rs->site && r->leaks[i].site_created) {
            rs->created = r->leaks[i].site_created;
            rs->closed = r->leaks[i].site_closed < rs->created ? r->leaks[i].site_closed : rs->created;
        }
    }
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
static void group_by_rank(struct fdl_report *r, size_t nranks)
{
    size_t *start = fdl_region_alloc(&r->region, (nranks + 1) * sizeof *start);
    struct fdl_rep_fd *out = fdl_region_alloc(&r->region, (r->nleaks + 1) * sizeof *out);
    if (!start || !out) {
        fdl_sort(r->leaks, r->nleaks, sizeof *r->leaks, cmp_rank);
        return;
    }
    memset(start, 0, (nranks + 1) * sizeof *start);
    for (size_t i = 0; i < r->nleaks; i++)
        start[r->leaks[i].rank + 1]++;
    for (size_t k = 1; k <= nranks; k++)
        start[k] += start[k - 1];
    for (size_t i = 0; i < r->nleaks; i++)
        out[start[r->leaks[i].rank]++] = r->leaks[i];
    r->leaks = out;
}

static void group_sites(struct fdl_report *r)
{
    /* Every leak's site fits even when sites were published after the count was read. */
    size_t cap = fdl_sites_count() + r->nleaks + 2;
    r->sites = fdl_region_alloc(&r->region, cap * sizeof *r->sites);
    r->ix_mem = fdl_region_alloc(&r->region, cap * sizeof *r->ix_mem);
    r->ix_ok = r->ix_mem != 0;
    if (r->sites) {
        rank_leak_sites(r);
        add_other_sites(r, cap);
        read_site_counts(r);
    }
    group_by_rank(r, r->nsites ? r->nsites : 1);
}

/* ---- stage 6, name: symbolize what the writers show ---- */

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

/* Names only for what the writer shows: symbolizing costs (addr2line over a big library's
 * debug information), and a fork child's exit report with nothing to say should not pay. */
static void name_sites(struct fdl_report *r)
{
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
}

/* ---- stage 7, the process: who, when, limits ---- */

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

static int kept_argc;
static char **kept_argv;

void fdl_report_keep_argv(int argc, char **argv)
{
    kept_argc = argc;
    kept_argv = argv;
}

/* argv joined by NULs, as /proc/self/cmdline has it, from the constructor's argv (the same
 * memory the kernel shows: a program that rewrote it shows it rewritten either way). */
static char *argv_cmdline(struct fdl_region *rg, size_t *len)
{
    *len = 0;
    size_t need = 0;
    for (int i = 0; kept_argv && i < kept_argc && kept_argv[i]; i++)
        need += strlen(kept_argv[i]) + 1;
    char *b = need ? fdl_region_alloc(rg, need + 1) : 0;
    for (int i = 0; b && i < kept_argc && kept_argv[i]; i++) {
        size_t n = strlen(kept_argv[i]) + 1;
        memcpy(b + *len, kept_argv[i], n);
        *len += n;
    }
    return b;
}

static void read_process(struct fdl_report *r)
{
    r->open = r->nleaks + r->ninherited + r->nunattributed;
    r->cmdline = slurp(&r->region, "/proc/self/cmdline", &r->cmdline_len);
    if (!r->cmdline || !r->cmdline_len) /* no descriptor free (EMFILE), or no /proc */
        r->cmdline = argv_cmdline(&r->region, &r->cmdline_len);
    /* A program that rewrote its argv (setproctitle) leaves trailing NULs: not arguments. */
    while (r->cmdline && r->cmdline_len > 1 && !r->cmdline[r->cmdline_len - 1] && !r->cmdline[r->cmdline_len - 2])
        r->cmdline_len--;
    ssize_t n = readlink("/proc/self/exe", r->exe, sizeof r->exe - 1);
    r->exe[n > 0 ? n : 0] = 0;
    n = readlink("/proc/self/cwd", r->cwd, sizeof r->cwd - 1);
    r->cwd[n > 0 ? n : 0] = 0;
    r->pid = (int)fdl_sys(SYS_getpid);
    r->ppid = (int)fdl_sys(SYS_getppid);
    r->time = fdl_now_real();
    r->mono = fdl_now_mono_ns();
    r->limit = fdl_reserve_soft_limit();
    fdl_raise_peak(r->open);
    struct fdl_counts c;
    fdl_counts(&c);
    r->peak = c.peak;
}

/* ---- the stages in order ---- */

void fdl_report_build(struct fdl_report *r, const struct fdl_report_opts *o)
{
    memset(r, 0, sizeof *r);
    r->o = *o;
    snapshot(r);             /* 1. r->leaks and r->inherited (the table), r->unattributed (/proc) */
    r->sym = fdl_sym_new(&r->region);
    drop_suppressed(r);      /* 2. counted in r->nsuppressed, before anything is ranked */
    collect_errors(r);       /* 3. r->errors */
    group_sites(r);          /* 4. r->sites: leak sites ranked, then the others; leaks by site */
    fdl_findings_prepare(r); /* 5. growth history, flows; which sites a finding may name */
    name_sites(r);           /* 6. frames of the sites and errors the writers show */
    read_process(r);         /* 7. pid, argv, exe, cwd, time, limit, peak */
    fdl_findings_build(r);   /* 8. places and findings; last: its labels need the cwd */
}

void fdl_report_free(struct fdl_report *r)
{
    fdl_sym_free(r->sym);
    fdl_region_free(&r->region);
}
