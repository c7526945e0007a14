/* report_json.c — the report for machines: schema version 1, documented in docs/formats.md and
 * docs/report.schema.json. The field names are a contract; add fields, never rename them. */
#include "report.h"
#include "capture_python.h"
#include "config.h"
#include "flows.h"
#include "names.h"
#include "sites.h"

#include <string.h>

static void key(struct fdl_buf *b, const char *k)
{
    fdl_buf_json_str(b, k);
    fdl_buf_putc(b, ':');
}

static void fd_entry(struct fdl_buf *b, const struct fdl_rep_fd *e, bool leak)
{
    fdl_buf_putc(b, '{');
    key(b, "fd");
    fdl_buf_u64(b, (uint64_t)e->fd);
    fdl_buf_putc(b, ',');
    key(b, "kind");
    fdl_buf_json_str(b, e->info.kind);
    fdl_buf_putc(b, ',');
    key(b, "desc");
    fdl_buf_json_str(b, e->info.desc);
    fdl_buf_putc(b, ',');
    key(b, "cloexec");
    fdl_buf_puts(b, e->info.cloexec ? "true" : "false");
    if (e->rec.via) {
        fdl_buf_putc(b, ',');
        key(b, "via");
        fdl_buf_json_str(b, e->rec.via);
    }
    if (leak || e->rec.site) {
        fdl_buf_putc(b, ',');
        key(b, "site");
        if (e->rec.site)
            fdl_buf_u64(b, e->rec.site->id);
        else
            fdl_buf_puts(b, "null");
    }
    if (e->parent) {
        const struct fdl_parent_site *p = e->parent;
        fdl_buf_putc(b, ',');
        key(b, "parent");
        fdl_buf_putc(b, '{');
        key(b, "pid");
        fdl_buf_i64(b, p->pid);
        fdl_buf_putc(b, ',');
        key(b, "via");
        fdl_buf_json_str(b, p->via);
        fdl_buf_putc(b, ',');
        key(b, "function");
        fdl_buf_json_str(b, p->function);
        fdl_buf_putc(b, ',');
        key(b, "module");
        fdl_buf_json_str(b, p->module);
        fdl_buf_putc(b, ',');
        key(b, "file");
        fdl_buf_json_str(b, p->file);
        fdl_buf_putc(b, ',');
        key(b, "line");
        if (p->line)
            fdl_buf_i64(b, p->line);
        else
            fdl_buf_puts(b, "null");
        fdl_buf_putc(b, '}');
    }
    if (leak) {
        fdl_buf_putc(b, ',');
        key(b, "age");
        fdl_buf_fixed(b, e->age, 3);
        fdl_buf_putc(b, ',');
        key(b, "tid");
        fdl_buf_i64(b, e->rec.tid);
    }
    fdl_buf_putc(b, '}');
}

static void fd_list(struct fdl_buf *b, const char *name, const struct fdl_rep_fd *v, size_t n, bool leak)
{
    fdl_buf_putc(b, ',');
    key(b, name);
    fdl_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            fdl_buf_putc(b, ',');
        fdl_buf_puts(b, "\n  ");
        fd_entry(b, &v[i], leak);
    }
    fdl_buf_putc(b, ']');
}

/* "function", "file", "line" of a native or Python frame (null where unknown). */
static void where(struct fdl_buf *b, const char *function, const char *file, int line)
{
    key(b, "function");
    fdl_buf_json_str(b, function);
    fdl_buf_putc(b, ',');
    key(b, "file");
    fdl_buf_json_str(b, file);
    fdl_buf_putc(b, ',');
    key(b, "line");
    if (line)
        fdl_buf_u64(b, (uint64_t)line);
    else
        fdl_buf_puts(b, "null");
}

static void frame(struct fdl_buf *b, const struct fdl_frame *f)
{
    fdl_buf_putc(b, '{');
    key(b, "pc");
    fdl_buf_putc(b, '"');
    fdl_buf_hex(b, f->pc);
    fdl_buf_puts(b, "\",");
    key(b, "module");
    fdl_buf_json_str(b, f->module);
    fdl_buf_putc(b, ',');
    key(b, "offset");
    if (f->module) {
        fdl_buf_putc(b, '"');
        fdl_buf_hex(b, f->offset);
        fdl_buf_putc(b, '"');
    } else {
        fdl_buf_puts(b, "null");
    }
    fdl_buf_putc(b, ',');
    where(b, f->function, f->file, f->line);
    fdl_buf_putc(b, '}');
}

static void frames(struct fdl_buf *b, const struct fdl_frame *f, unsigned n)
{
    fdl_buf_putc(b, '[');
    for (unsigned i = 0; f && i < n; i++) {
        if (i)
            fdl_buf_putc(b, ',');
        fdl_buf_puts(b, "\n    ");
        frame(b, &f[i]);
    }
    fdl_buf_putc(b, ']');
}

static void pyframe(struct fdl_buf *b, const struct fdl_pyframe *f)
{
    fdl_buf_putc(b, '{');
    where(b, f->function, f->file, f->line);
    if (f->level) { /* a frame of an origin: how the work was handed off, and how many links back */
        fdl_buf_putc(b, ',');
        key(b, "origin");
        fdl_buf_json_str(b, fdl_py_origin_name(f->kind));
        fdl_buf_putc(b, ',');
        key(b, "level");
        fdl_buf_u64(b, f->level);
        if (f->kind == FDL_ORIGIN_TASK) {
            fdl_buf_putc(b, ',');
            key(b, "task_origin");
            fdl_buf_puts(b, "true,");
            key(b, "task_level");
            fdl_buf_u64(b, f->level);
        }
    }
    fdl_buf_putc(b, '}');
}

/* "python": [...] and "app": {...} (null without Python frames). */
static void python(struct fdl_buf *b, const struct fdl_pystack *py)
{
    key(b, "python");
    fdl_buf_putc(b, '[');
    for (unsigned i = 0; py && i < py->n; i++) {
        if (i)
            fdl_buf_putc(b, ',');
        fdl_buf_puts(b, "\n    ");
        pyframe(b, &py->f[i]);
    }
    fdl_buf_puts(b, "],");
    key(b, "app");
    if (py && py->n && py->own)
        pyframe(b, &py->f[py->app]);
    else
        fdl_buf_puts(b, "null");
}

static void seconds(struct fdl_buf *b, double s)
{
    if (s < 0)
        fdl_buf_puts(b, "null");
    else
        fdl_buf_fixed(b, s, s < 0.01 ? 6 : 3);
}

/* {"count","sum_s","median_s","p90_s","hist"}: hist[i] counts lifetimes in [2^i, 2^(i+1)) µs,
 * trailing empty buckets left out. */
static void lifetime(struct fdl_buf *b, const struct fdl_life *l)
{
    fdl_buf_putc(b, '{');
    key(b, "count");
    fdl_buf_u64(b, __atomic_load_n(&l->count, __ATOMIC_RELAXED));
    fdl_buf_putc(b, ',');
    key(b, "sum_s");
    seconds(b, (double)__atomic_load_n(&l->sum_ns, __ATOMIC_RELAXED) / 1e9);
    fdl_buf_putc(b, ',');
    key(b, "median_s");
    seconds(b, fdl_life_quantile(l, 0.5));
    fdl_buf_putc(b, ',');
    key(b, "p90_s");
    seconds(b, fdl_life_quantile(l, 0.9));
    fdl_buf_putc(b, ',');
    key(b, "hist");
    fdl_buf_putc(b, '[');
    unsigned n = FDL_LIFE_BUCKETS;
    while (n && !__atomic_load_n(&l->hist[n - 1], __ATOMIC_RELAXED))
        n--;
    for (unsigned i = 0; i < n; i++) {
        if (i)
            fdl_buf_putc(b, ',');
        fdl_buf_u64(b, __atomic_load_n(&l->hist[i], __ATOMIC_RELAXED));
    }
    fdl_buf_puts(b, "]}");
}

/* The site's connections per endpoint. */
static void peers(const struct fdl_report *r, struct fdl_buf *b, const struct fdl_rep_site *s)
{
    key(b, "peers");
    fdl_buf_putc(b, '[');
    for (size_t i = 0; i < s->nflows; i++) {
        const struct fdl_rep_flow *rf = &r->flows[s->first_flow + i];
        if (i)
            fdl_buf_putc(b, ',');
        fdl_buf_putc(b, '{');
        key(b, "peer");
        char mem[160];
        struct fdl_buf p;
        fdl_buf_init_mem(&p, mem, sizeof mem);
        fdl_describe_addr(&p, (const void *)rf->flow->endpoint, rf->flow->len);
        fdl_buf_json_str(b, fdl_buf_cstr(&p));
        fdl_buf_putc(b, ',');
        key(b, "role");
        fdl_buf_json_str(b, rf->flow->kind & FDL_FLOW_SERVER ? "server" : "client");
        fdl_buf_putc(b, ',');
        key(b, "type");
        fdl_buf_json_str(b, rf->flow->kind & FDL_FLOW_DGRAM ? "dgram" : "stream");
        fdl_buf_putc(b, ',');
        key(b, "created");
        fdl_buf_u64(b, rf->created);
        fdl_buf_putc(b, ',');
        key(b, "closed");
        fdl_buf_u64(b, rf->closed);
        fdl_buf_putc(b, ',');
        key(b, "open");
        fdl_buf_u64(b, rf->created - rf->closed);
        fdl_buf_putc(b, ',');
        key(b, "peak");
        fdl_buf_u64(b, __atomic_load_n(&rf->flow->peak, __ATOMIC_RELAXED));
        fdl_buf_putc(b, ',');
        key(b, "lifetime");
        lifetime(b, &rf->flow->life);
        fdl_buf_putc(b, '}');
    }
    fdl_buf_putc(b, ']');
}

static void keep_site(const struct fdl_report *r, bool *keep, const struct fdl_site *site)
{
    const struct fdl_rep_site *rs = site ? fdl_report_site(r, site) : 0;
    if (rs)
        keep[rs - r->sites] = true;
}

/* Which sites a live report lists (NULL: every one — an exit report, FDLEAK_SITES=all, or no
 * memory to choose): those that hold descriptors, the sites of every place a finding names,
 * and those a listed descriptor or error refers to. The rest — every site a long-running
 * service ever opened and closed through — are counted as sites_omitted. */
static const bool *listed_sites(const struct fdl_report *r, struct fdl_region *mem)
{
    if (!strcmp(r->o.trigger, "exit") || fdl_config()->all_sites || !r->nsites)
        return 0;
    bool *keep = fdl_region_alloc(mem, r->nsites * sizeof *keep);
    if (!keep)
        return 0;
    memset(keep, 0, r->nsites * sizeof *keep);
    for (size_t k = 0; k < r->nsites; k++)
        keep[k] = r->sites[k].nleaks || r->sites[k].created > r->sites[k].closed;
    for (size_t i = 0; i < r->nfindings; i++)
        for (unsigned s = 0; s < r->findings[i].nsites; s++)
            for (size_t k = r->places[r->findings[i].sites[s].place].first_site; k != FDL_NO_PLACE;
                 k = r->sites[k].next_in_place)
                keep[k] = true;
    const struct {
        const struct fdl_rep_fd *v;
        size_t n;
    } lists[] = {{r->leaks, r->nleaks}, {r->inherited, r->ninherited}, {r->unattributed, r->nunattributed}};
    for (size_t l = 0; l < sizeof lists / sizeof *lists; l++)
        for (size_t i = 0; i < lists[l].n; i++)
            keep_site(r, keep, lists[l].v[i].rec.site);
    for (size_t i = 0; i < r->nerrors; i++)
        keep_site(r, keep, r->errors[i].site);
    return keep;
}

static void findings(const struct fdl_report *r, struct fdl_buf *b)
{
    key(b, "findings");
    fdl_buf_putc(b, '[');
    for (size_t i = 0; i < r->nfindings; i++) {
        const struct fdl_finding *f = &r->findings[i];
        fdl_buf_puts(b, i ? ",\n  {" : "\n  {");
        key(b, "pattern");
        fdl_buf_json_str(b, f->pattern);
        fdl_buf_putc(b, ',');
        key(b, "title");
        fdl_buf_json_str(b, f->title);
        fdl_buf_putc(b, ',');
        key(b, "sites");
        fdl_buf_putc(b, '[');
        for (unsigned s = 0; s < f->nsites; s++) {
            const struct fdl_finding_site *fs = &f->sites[s];
            if (s)
                fdl_buf_putc(b, ',');
            fdl_buf_putc(b, '{');
            key(b, "at");
            fdl_buf_json_str(b, r->places[fs->place].at);
            fdl_buf_putc(b, ',');
            key(b, "ids");
            fdl_buf_putc(b, '[');
            for (size_t k = r->places[fs->place].first_site; k != FDL_NO_PLACE; k = r->sites[k].next_in_place) {
                fdl_buf_u64(b, r->sites[k].site->id);
                if (r->sites[k].next_in_place != FDL_NO_PLACE)
                    fdl_buf_putc(b, ',');
            }
            fdl_buf_puts(b, "],");
            key(b, "holders"); /* the ids that hold what the finding reports */
            fdl_buf_putc(b, '[');
            bool first = true;
            for (size_t k = r->places[fs->place].first_site; k != FDL_NO_PLACE; k = r->sites[k].next_in_place)
                if (r->sites[k].holds) {
                    if (!first)
                        fdl_buf_putc(b, ',');
                    first = false;
                    fdl_buf_u64(b, r->sites[k].site->id);
                }
            fdl_buf_puts(b, "],");
            key(b, "open");
            fdl_buf_u64(b, fs->open);
            fdl_buf_putc(b, ',');
            key(b, "created");
            fdl_buf_u64(b, fs->created);
            fdl_buf_putc(b, ',');
            key(b, "closed");
            fdl_buf_u64(b, fs->closed);
            fdl_buf_putc(b, '}');
        }
        fdl_buf_puts(b, "],");
        if (f->nplaces_total > f->nsites) {
            key(b, "sites_total");
            fdl_buf_u64(b, f->nplaces_total);
            fdl_buf_putc(b, ',');
        }
        key(b, "peer");
        fdl_buf_json_str(b, f->peer[0] ? f->peer : 0);
        fdl_buf_putc(b, ',');
        key(b, "evidence");
        fdl_buf_putc(b, '{');
        key(b, "open");
        fdl_buf_u64(b, f->open);
        fdl_buf_putc(b, ',');
        key(b, "created");
        fdl_buf_u64(b, f->created);
        fdl_buf_putc(b, ',');
        key(b, "closed");
        fdl_buf_u64(b, f->closed);
        const struct {
            const char *name;
            double v;
        } opt[] = {{"oldest_age_s", f->oldest}, {"median_life_s", f->median}, {"p90_life_s", f->p90}};
        for (size_t k = 0; k < sizeof opt / sizeof *opt; k++)
            if (opt[k].v >= 0) {
                fdl_buf_putc(b, ',');
                key(b, opt[k].name);
                seconds(b, opt[k].v);
            }
        if (f->per_hour >= 0) {
            fdl_buf_putc(b, ',');
            key(b, "growth_per_hour");
            fdl_buf_fixed(b, f->per_hour, 1);
            fdl_buf_putc(b, ',');
            key(b, "snapshots");
            fdl_buf_u64(b, f->snapshots);
        }
        if (f->exhaustion_s >= 0) {
            fdl_buf_putc(b, ',');
            key(b, "exhaustion_s");
            fdl_buf_fixed(b, f->exhaustion_s, 0);
        }
        fdl_buf_puts(b, "},");
        key(b, "advice");
        fdl_buf_json_str(b, f->advice);
        fdl_buf_putc(b, '}');
    }
    fdl_buf_puts(b, "],\n");
    key(b, "snapshot_times");
    fdl_buf_putc(b, '[');
    for (unsigned i = 0; i < r->snap.n; i++) {
        if (i)
            fdl_buf_putc(b, ',');
        fdl_buf_fixed(b, r->time - (double)(r->mono - r->snap.t[i]) / 1e9, 3);
    }
    fdl_buf_putc(b, ']');
}

void fdl_report_write_json(const struct fdl_report *r, struct fdl_buf *b)
{
    fdl_buf_putc(b, '{');
    key(b, "fdleak");
    fdl_buf_puts(b, "1,");
    key(b, "trigger");
    fdl_buf_json_str(b, r->o.trigger);
    if (r->o.label) {
        fdl_buf_putc(b, ',');
        key(b, "label");
        fdl_buf_json_str(b, r->o.label);
    }
    if (r->o.signal) {
        fdl_buf_putc(b, ',');
        key(b, "signal");
        fdl_buf_json_str(b, r->o.signal);
    }
    fdl_buf_putc(b, ',');
    key(b, "pid");
    fdl_buf_i64(b, r->pid);
    fdl_buf_putc(b, ',');
    key(b, "ppid");
    fdl_buf_i64(b, r->ppid);
    if (fdl_py_runtime()) {
        fdl_buf_putc(b, ',');
        key(b, "runtime");
        fdl_buf_json_str(b, fdl_py_runtime());
    }
    fdl_buf_putc(b, ',');
    key(b, "exe");
    fdl_buf_json_str(b, r->exe);
    fdl_buf_putc(b, ',');
    key(b, "cwd");
    fdl_buf_json_str(b, r->cwd);
    fdl_buf_putc(b, ',');
    key(b, "argv");
    fdl_buf_putc(b, '[');
    bool first_arg = true;
    for (size_t i = 0, start = 0; r->cmdline && i < r->cmdline_len; i++) {
        if (r->cmdline[i])
            continue;
        if (!first_arg)
            fdl_buf_putc(b, ',');
        first_arg = false;
        fdl_buf_json_str(b, r->cmdline + start);
        start = i + 1;
    }
    fdl_buf_puts(b, "],");
    key(b, "seq");
    fdl_buf_u64(b, r->seq);
    fdl_buf_putc(b, ',');
    key(b, "time");
    fdl_buf_fixed(b, r->time, 3);
    fdl_buf_putc(b, ',');
    key(b, "open");
    fdl_buf_u64(b, r->open);
    fdl_buf_putc(b, ',');
    key(b, "limit");
    fdl_buf_u64(b, r->limit);
    fdl_buf_putc(b, ',');
    key(b, "peak");
    fdl_buf_u64(b, r->peak);
    if (r->exhaustion_s >= 0) { /* the growing places together: the process's forecast */
        fdl_buf_putc(b, ',');
        key(b, "forecast");
        fdl_buf_puts(b, "{");
        key(b, "growth_per_hour");
        fdl_buf_fixed(b, r->growth_per_hour, 1);
        fdl_buf_putc(b, ',');
        key(b, "exhaustion_s");
        fdl_buf_fixed(b, r->exhaustion_s, 0);
        fdl_buf_putc(b, '}');
    }
    if (r->nsuppressed) {
        fdl_buf_putc(b, ',');
        key(b, "suppressed");
        fdl_buf_u64(b, r->nsuppressed);
    }
    fdl_buf_puts(b, ",\n");
    findings(r, b);
    fd_list(b, "leaks", r->leaks, r->nleaks, true);
    fd_list(b, "inherited", r->inherited, r->ninherited, false);
    fd_list(b, "unattributed", r->unattributed, r->nunattributed, false);
    fdl_buf_puts(b, ",\n");
    struct fdl_region keep_mem = {0};
    const bool *keep = listed_sites(r, &keep_mem);
    key(b, "sites");
    fdl_buf_putc(b, '[');
    bool first = true;
    size_t omitted = 0;
    for (size_t k = 0; k < r->nsites; k++) {
        const struct fdl_rep_site *s = &r->sites[k];
        if (!s->site)
            continue;
        if (keep && !keep[k]) {
            omitted++;
            continue;
        }
        if (!first)
            fdl_buf_putc(b, ',');
        first = false;
        fdl_buf_puts(b, "\n  {");
        key(b, "id");
        fdl_buf_u64(b, s->site->id);
        fdl_buf_putc(b, ',');
        key(b, "key");
        char hex[17];
        fdl_site_key(s, hex);
        fdl_buf_json_str(b, hex);
        fdl_buf_putc(b, ',');
        key(b, "created");
        fdl_buf_u64(b, s->created);
        fdl_buf_putc(b, ',');
        key(b, "closed");
        fdl_buf_u64(b, s->closed);
        fdl_buf_putc(b, ',');
        key(b, "open");
        fdl_buf_u64(b, s->created - s->closed);
        fdl_buf_putc(b, ',');
        key(b, "leaks");
        fdl_buf_u64(b, s->nleaks);
        fdl_buf_putc(b, ',');
        key(b, "growing");
        fdl_buf_puts(b, s->growing ? "true," : "false,");
        if (s->growing) {
            key(b, "growth_per_hour");
            fdl_buf_fixed(b, s->per_hour, 1);
            fdl_buf_putc(b, ',');
        }
        key(b, "at");
        fdl_buf_json_str(b, s->at);
        fdl_buf_putc(b, ',');
        if (__atomic_load_n(&s->site->life.count, __ATOMIC_RELAXED)) {
            key(b, "lifetime");
            lifetime(b, &s->site->life);
            fdl_buf_putc(b, ',');
        }
        if (s->nflows) {
            peers(r, b, s);
            fdl_buf_putc(b, ',');
        }
        unsigned nz = 0;
        for (unsigned i = 0; s->hist && i < r->snap.n; i++)
            nz += s->hist[i] != 0;
        if (nz) {
            key(b, "history");
            fdl_buf_putc(b, '[');
            for (unsigned i = 0; i < r->snap.n; i++) {
                if (i)
                    fdl_buf_putc(b, ',');
                fdl_buf_u64(b, s->hist[i]);
            }
            fdl_buf_puts(b, "],");
        }
        key(b, "native");
        frames(b, s->frames, s->frames ? s->site->n_native : 0);
        fdl_buf_putc(b, ',');
        python(b, fdl_site_pystack(s->site));
        fdl_buf_putc(b, '}');
    }
    fdl_buf_puts(b, "],\n");
    fdl_region_free(&keep_mem);
    if (omitted) {
        key(b, "sites_omitted");
        fdl_buf_u64(b, omitted);
        fdl_buf_puts(b, ",\n");
    }
    key(b, "errors");
    fdl_buf_putc(b, '[');
    for (size_t i = 0; i < r->nerrors; i++) {
        const struct fdl_rep_error *e = &r->errors[i];
        if (i)
            fdl_buf_putc(b, ',');
        fdl_buf_puts(b, "\n  {");
        key(b, "what");
        fdl_buf_json_str(b, fdl_misuse_name(e->what));
        fdl_buf_putc(b, ',');
        key(b, "fd");
        fdl_buf_i64(b, e->fd);
        fdl_buf_putc(b, ',');
        key(b, "site");
        if (e->site)
            fdl_buf_u64(b, e->site->id);
        else
            fdl_buf_puts(b, "null");
        fdl_buf_putc(b, ',');
        key(b, "count");
        fdl_buf_u64(b, e->count);
        fdl_buf_putc(b, ',');
        key(b, "stack");
        frames(b, e->stack, e->nstack);
        if (e->what == FDL_E_DOUBLE_CLOSE) {
            fdl_buf_putc(b, ',');
            key(b, "first_close");
            frames(b, e->first_close, e->nfirst);
        }
        fdl_buf_putc(b, '}');
    }
    fdl_buf_puts(b, "]");
    if (r->errors_dropped) {
        fdl_buf_putc(b, ',');
        key(b, "errors_dropped");
        fdl_buf_u64(b, r->errors_dropped);
    }
    fdl_buf_puts(b, "}\n");
}
