/* report.c — builds a report from the table and delivers it (file written whole via a
 * temporary name and rename, or stderr). */
#include "report.h"
#include "config.h"
#include "core.h"
#include "sites.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic unsigned report_seq;

struct vec {
    struct fdl_rep_fd *v;
    size_t n, cap;
};

static struct fdl_rep_fd *vec_push(struct vec *a)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        struct fdl_rep_fd *nv = realloc(a->v, cap * sizeof *nv);
        if (!nv)
            return 0;
        a->v = nv;
        a->cap = cap;
    }
    struct fdl_rep_fd *e = &a->v[a->n++];
    memset(e, 0, sizeof *e);
    return e;
}

/* Reads a small /proc file whole with raw syscalls. */
static char *slurp(const char *path, size_t *len)
{
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    while (b) {
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == cap) {
            char *nb = realloc(b, (cap *= 2) + 1);
            if (!nb)
                break;
            b = nb;
        }
    }
    syscall(SYS_close, fd);
    if (b)
        b[n] = 0;
    *len = n;
    return b;
}

static int cmp_site(const void *a, const void *b)
{
    const struct fdl_rep_site *x = a, *y = b;
    if (x->nleaks != y->nleaks)
        return x->nleaks > y->nleaks ? -1 : 1;
    unsigned xi = x->site ? x->site->id : ~0u, yi = y->site ? y->site->id : ~0u;
    return xi < yi ? -1 : xi > yi;
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

const struct fdl_rep_site *fdl_report_site(const struct fdl_report *r, const struct fdl_site *s)
{
    for (size_t i = 0; i < r->nsites; i++)
        if (r->sites[i].site == s)
            return &r->sites[i];
    return 0;
}

/* Open descriptors the table has no record of: created where no wrapper could see. */
static void scan_unattributed(struct vec *out)
{
    int dfd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return;
    char buf[4096];
    long n;
    while ((n = syscall(SYS_getdents64, dfd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *d = (void *)(buf + off);
            off += d->reclen;
            if (d->name[0] < '0' || d->name[0] > '9')
                continue;
            int fd = atoi(d->name);
            if (fd == dfd)
                continue;
            struct fdl_slot *s = fdl_table_slot(fd, false);
            if (s && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_FREE)
                continue;
            struct fdl_rep_fd *e = vec_push(out);
            if (!e)
                continue;
            e->fd = fd;
            fdl_describe(fd, 0, &e->info);
            if (!e->info.alive)
                out->n--;
        }
    }
    syscall(SYS_close, dfd);
    qsort(out->v, out->n, sizeof *out->v, cmp_fd);
}

static void build(struct fdl_report *r)
{
    struct vec leaks = {0}, inh = {0}, unat = {0};
    uint64_t now = fdl_now_mono_ns();
    int bound = fdl_table_bound();
    for (int fd = 0; fd < bound; fd++) {
        struct fdl_slot *s = fdl_table_slot(fd, false);
        if (!s) {
            fd |= FDL_CHUNK_SLOTS - 1;
            continue;
        }
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_OPEN)
            continue;
        struct fdl_slot rec;
        if (!fdl_slot_read(s, &rec) || rec.state != FDL_SLOT_OPEN)
            continue;
        struct fdl_fdinfo info;
        fdl_describe(fd, &rec, &info);
        if (!info.alive)
            continue; /* closed behind our back (raw syscall): not a leak we can vouch for */
        /* The standard streams are the program's by contract, whoever (re)opened them. */
        bool inherited = (rec.flags & (FDL_F_INHERITED | FDL_F_FORKED)) || fd <= 2;
        struct fdl_rep_fd *e = vec_push(inherited ? &inh : &leaks);
        if (!e)
            continue;
        e->fd = fd;
        e->rec = rec;
        e->info = info;
        e->age = rec.created_ns && now > rec.created_ns ? (double)(now - rec.created_ns) / 1e9 : 0;
    }
    scan_unattributed(&unat);

    /* Group leaks by site. */
    struct fdl_rep_site *sites = calloc(leaks.n ? leaks.n : 1, sizeof *sites);
    size_t nsites = 0;
    for (size_t i = 0; sites && i < leaks.n; i++) {
        struct fdl_site *site = leaks.v[i].rec.site;
        size_t k = 0;
        while (k < nsites && sites[k].site != site)
            k++;
        if (k == nsites)
            sites[nsites++].site = site;
        sites[k].nleaks++;
    }
    if (sites)
        qsort(sites, nsites, sizeof *sites, cmp_site);
    /* Leaks in site order, then by fd. */
    for (size_t i = 0; sites && i < leaks.n; i++)
        for (size_t k = 0; k < nsites; k++)
            if (sites[k].site == leaks.v[i].rec.site)
                leaks.v[i].rank = k;
    qsort(leaks.v, leaks.n, sizeof *leaks.v, cmp_rank);

    struct fdl_symbolizer *sym = fdl_sym_new();
    for (size_t k = 0; sym && k < nsites; k++)
        for (unsigned f = 0; sites[k].site && f < sites[k].site->n_native; f++)
            fdl_sym_add(sym, sites[k].site->frames[f]);
    fdl_sym_resolve(sym);
    for (size_t k = 0; sites && k < nsites; k++) {
        struct fdl_site *site = sites[k].site;
        if (!site)
            continue;
        sites[k].frames = calloc(site->n_native ? site->n_native : 1, sizeof *sites[k].frames);
        for (unsigned f = 0; sites[k].frames && f < site->n_native; f++)
            fdl_sym_lookup(sym, site->frames[f], &sites[k].frames[f]);
    }
    /* Frames point into the symbolizer: it lives as long as the report (freed in destroy). */
    r->leaks = leaks.v, r->nleaks = leaks.n;
    r->inherited = inh.v, r->ninherited = inh.n;
    r->unattributed = unat.v, r->nunattributed = unat.n;
    r->sites = sites, r->nsites = sites ? nsites : 0;
    r->open = leaks.n + inh.n + unat.n;
    r->cmdline = slurp("/proc/self/cmdline", &r->cmdline_len);
    ssize_t n = readlink("/proc/self/exe", r->exe, sizeof r->exe - 1);
    r->exe[n > 0 ? n : 0] = 0;
    r->pid = (int)syscall(SYS_getpid);
    r->ppid = getppid();
    r->time = fdl_now_real();
    struct rlimit rl;
    r->limit = getrlimit(RLIMIT_NOFILE, &rl) ? 0 : (uint64_t)rl.rlim_cur;
    struct fdl_counts c;
    fdl_counts(&c);
    r->peak = c.peak > r->open ? c.peak : r->open;
    r->sym = sym;
}

static void destroy(struct fdl_report *r)
{
    for (size_t k = 0; k < r->nsites; k++)
        free(r->sites[k].frames);
    free(r->sites);
    free(r->leaks);
    free(r->inherited);
    free(r->unattributed);
    free(r->cmdline);
    fdl_sym_free(r->sym);
}

/* FDLEAK_OUTPUT with %p (pid), %n (report number) and %% expanded. */
static void expand_path(const char *pat, int pid, unsigned seq, char *out, size_t cap)
{
    struct fdl_buf b;
    fdl_buf_init_mem(&b, out, cap);
    for (const char *p = pat; *p; p++) {
        if (*p != '%' || !p[1]) {
            fdl_buf_putc(&b, *p);
            continue;
        }
        p++;
        if (*p == 'p')
            fdl_buf_u64(&b, (uint64_t)pid);
        else if (*p == 'n')
            fdl_buf_u64(&b, seq);
        else if (*p == '%')
            fdl_buf_putc(&b, '%');
        else {
            fdl_buf_putc(&b, '%');
            fdl_buf_putc(&b, *p);
        }
    }
    fdl_buf_cstr(&b);
}

static void write_to(int fd, const struct fdl_report *r, enum fdl_format fmt, bool *ok)
{
    char mem[16384];
    struct fdl_buf b;
    fdl_buf_init_fd(&b, fd, mem, sizeof mem);
    if (fmt == FDL_FORMAT_JSON)
        fdl_report_write_json(r, &b);
    else
        fdl_report_write_text(r, &b);
    *ok = fdl_buf_flush(&b);
}

static void say(const char *a, const char *b, const char *c)
{
    char mem[2048];
    struct fdl_buf m;
    fdl_buf_init_mem(&m, mem, sizeof mem);
    fdl_buf_puts(&m, "fdleak: ");
    fdl_buf_puts(&m, a);
    fdl_buf_puts(&m, b);
    fdl_buf_puts(&m, c);
    fdl_buf_putc(&m, '\n');
    fdl_write_all(fdl_stderr_fd(), m.data, m.len);
}

/* Writes to the configured path through a temporary name (a reader never sees half a report),
 * or to stderr. */
static void deliver(const struct fdl_report *r)
{
    const struct fdl_config *cfg = fdl_config();
    bool ok;
    if (cfg->output[0]) {
        char path[FDL_PATH_MAX + 64], tmp[FDL_PATH_MAX + 96];
        expand_path(cfg->output, r->pid, __atomic_add_fetch(&report_seq, 1, __ATOMIC_RELAXED), path, sizeof path);
        struct fdl_buf tb;
        fdl_buf_init_mem(&tb, tmp, sizeof tmp);
        fdl_buf_puts(&tb, path);
        fdl_buf_puts(&tb, ".tmp");
        fdl_buf_u64(&tb, (uint64_t)r->pid);
        fdl_buf_cstr(&tb);
        int fd = (int)syscall(SYS_openat, AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            write_to(fd, r, cfg->format, &ok);
            syscall(SYS_close, fd);
            if (ok && !rename(tmp, path))
                return;
            unlink(tmp);
            say("could not write the report to ", path, "; writing it to stderr");
        } else {
            say("cannot create the report in ", path, errno == ENOENT ? " (no such directory); writing it to stderr"
                                                                      : " (not writable); writing it to stderr");
        }
    } else if (cfg->quiet && !r->nleaks) {
        return;
    }
    write_to(fdl_stderr_fd(), r, cfg->format, &ok);
}

long fdl_report_now(const char *trigger, const char *label)
{
    int saved = errno;
    fdl_tls.busy++;
    struct fdl_report r;
    memset(&r, 0, sizeof r);
    r.trigger = trigger;
    r.label = label;
    build(&r);
    deliver(&r);
    long n = (long)r.nleaks;
    destroy(&r);
    fdl_tls.busy--;
    errno = saved;
    return n;
}
