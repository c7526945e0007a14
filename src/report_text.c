/* report_text.c — the report for a person: a summary line, then one block per site (most
 * leaks first: its descriptors, its stack "at … by …"); and FDLEAK_MISUSE=abort's lines. */
#include "report.h"
#include "names.h"
#include "capture_python.h"
#include "core.h"
#include "sites.h"
#include "tls.h"

#include <string.h>

#define FDS_SHOWN 8 /* per site; the JSON report lists them all */

static void cmdline(const struct fdl_report *r, struct fdl_buf *b)
{
    size_t n = r->cmdline_len && r->cmdline && !r->cmdline[r->cmdline_len - 1] ? r->cmdline_len - 1 : r->cmdline_len;
    for (size_t i = 0; r->cmdline && i < n; i++) {
        if (i > 200) {
            fdl_buf_puts(b, "…");
            return;
        }
        fdl_buf_putc(b, r->cmdline[i] ? r->cmdline[i] : ' ');
    }
}

/* "fdleak:    fd 5  socket  tcp …": the start of every descriptor's line. */
static void fd_head(struct fdl_buf *b, const struct fdl_rep_fd *e)
{
    fdl_buf_puts(b, "fdleak:    fd ");
    fdl_buf_u64(b, (uint64_t)e->fd);
    fdl_buf_puts(b, "  ");
    fdl_buf_puts(b, e->info.kind);
    fdl_buf_puts(b, "  ");
    fdl_buf_puts(b, e->info.desc);
}

static void fd_line(struct fdl_buf *b, const struct fdl_rep_fd *e, bool with_age)
{
    fd_head(b, e);
    if (with_age) {
        fdl_buf_puts(b, "  (via ");
        fdl_buf_puts(b, e->rec.via ? e->rec.via : "?");
        fdl_buf_puts(b, ", age ");
        fdl_buf_fixed(b, e->age, 1);
        fdl_buf_puts(b, "s)");
    }
    fdl_buf_putc(b, '\n');
}

static void frame_line(struct fdl_buf *b, const struct fdl_frame *f, bool first)
{
    fdl_buf_puts(b, first ? "fdleak:    at " : "fdleak:    by ");
    fdl_buf_hex(b, f->pc);
    fdl_buf_puts(b, ": ");
    fdl_put_where(b, f->function, f->file, f->line);
    if (f->module) {
        fdl_buf_puts(b, " in ");
        fdl_buf_puts(b, f->module);
    }
    fdl_buf_putc(b, '\n');
}

/* What a site is called: its Python app frame, else its innermost native frame. */
static void site_headline(const struct fdl_report *r, struct fdl_buf *b, const struct fdl_site *site)
{
    const struct fdl_rep_site *rs = site ? fdl_report_site(r, site) : 0;
    const struct fdl_pystack *py = fdl_site_pystack(site);
    if (!py && (!rs || !rs->frames || !site->n_native)) {
        fdl_buf_puts(b, "an unknown site");
        return;
    }
    fdl_buf_puts(b, "site ");
    fdl_buf_u64(b, site->id);
    fdl_buf_puts(b, ", ");
    if (py)
        fdl_put_pyframe(r, b, &py->f[py->app]);
    else
        fdl_put_where(b, rs->frames[0].function, rs->frames[0].file, rs->frames[0].line);
}

/* The package a library file belongs to: "asyncio", "httpx", "importlib" (frozen). */
static void put_package(struct fdl_buf *b, const char *file)
{
    const char *p = strstr(file, "-packages/"), *end;
    if (!strncmp(file, "<frozen ", 8)) {
        p = file + 8;
    } else if (p) {
        p += 10;
    } else if ((p = strstr(file, "/python")) && (p = strchr(p + 1, '/'))) {
        p++; /* …/lib/python3.11/asyncio/… */
    } else {
        p = file;
    }
    for (end = p; *end && *end != '/' && *end != '.' && *end != '>'; end++)
        fdl_buf_putc(b, *end);
}

/* Whether frame i is library code that may be folded into "… N more in …". */
static bool foldable(const struct fdl_pystack *py, unsigned i, unsigned level)
{
    return i < py->n && i != py->app && py->f[i].level == level && fdl_py_library_file(py->f[i].file);
}

/* Python frames innermost first; runs of three or more library frames show their ends and
 * the packages in between (the JSON report has every frame). */
static void python_frames(const struct fdl_report *r, struct fdl_buf *b, const struct fdl_rep_site *s)
{
    const struct fdl_pystack *py = fdl_site_pystack(s->site);
    unsigned level = 0;
    for (unsigned i = 0; py && i < py->n; i++) {
        const struct fdl_pyframe *f = &py->f[i];
        if (f->level != level) {
            fdl_buf_puts(b, "fdleak:    ");
            fdl_buf_puts(b, fdl_py_origin_text(f->kind));
            fdl_buf_putc(b, '\n');
            level = f->level;
        }
        fdl_buf_puts(b, i == 0 ? "fdleak:    at " : "fdleak:    by ");
        fdl_put_pyframe(r, b, f);
        if (i == py->app && py->own)
            fdl_buf_puts(b, "   <- app");
        fdl_buf_putc(b, '\n');
        unsigned end = i;
        while (foldable(py, end + 1, level) && foldable(py, i, level))
            end++;
        if (end >= i + 2) { /* frames i+1 .. end-1 folded, end shown next */
            fdl_buf_puts(b, "fdleak:       … ");
            fdl_buf_u64(b, end - i - 1);
            fdl_buf_puts(b, end - i - 1 == 1 ? " frame in " : " frames in ");
            char names[4][64];
            unsigned nnames = 0;
            for (unsigned k = i + 1; k < end; k++) {
                char name[64];
                struct fdl_buf nb;
                fdl_buf_init_mem(&nb, name, sizeof name);
                put_package(&nb, py->f[k].file);
                fdl_buf_cstr(&nb);
                bool seen = false;
                for (unsigned j = 0; j < nnames; j++)
                    seen |= !strcmp(name, names[j]);
                if (seen)
                    continue;
                if (nnames == 4) {
                    fdl_buf_puts(b, ", …");
                    break;
                }
                fdl_buf_puts(b, nnames ? ", " : "");
                fdl_buf_puts(b, name);
                memcpy(names[nnames++], name, sizeof name);
            }
            fdl_buf_putc(b, '\n');
            i = end - 1;
        }
    }
    unsigned n = s->site && s->frames ? s->site->n_native : 0;
    /* A Python site's native frames are shown down to the interpreter: what a C extension did
     * on the way (its own frames), not the eval loop. */
    unsigned shown = n;
    for (unsigned f = 0; py && f < n && shown == n; f++)
        if (fdl_interpreter_module(s->frames[f].module))
            shown = f;
    if (py && shown) {
        fdl_buf_puts(b, "fdleak:    native (before the interpreter):\n");
    }
    for (unsigned f = 0; f < shown; f++)
        frame_line(b, &s->frames[f], f == 0);
    if (shown < n) {
        fdl_buf_puts(b, "fdleak:    ");
        fdl_buf_u64(b, n - shown);
        fdl_buf_puts(b, shown ? " more" : "");
        fdl_buf_puts(b, " native frames in the interpreter (FDLEAK_FORMAT=json lists them)\n");
    }
}

/* The findings come first: they name the pattern to fix; the listing below is the evidence.
 * A growing site is what runs a service out of descriptors: first among them. */
#define FINDINGS_SHOWN 20 /* a program leaking from thousands of places: the JSON has them all */

static void findings(const struct fdl_report *r, struct fdl_buf *b)
{
    for (size_t i = 0; i < r->nfindings && i < FINDINGS_SHOWN; i++) {
        const struct fdl_finding *f = &r->findings[i];
        fdl_buf_puts(b, "fdleak: finding: ");
        fdl_buf_puts(b, f->pattern);
        fdl_buf_puts(b, ": ");
        fdl_buf_puts(b, f->title);
        /* The sites that hold what it reports; the places' other sites only counted (the
         * JSON lists them). */
        unsigned shown = 0, more = 0;
        for (unsigned s = 0; s < f->nsites; s++)
            for (size_t k = r->places[f->sites[s].place].first_site; k != FDL_NO_PLACE; k = r->sites[k].next_in_place)
                *(r->sites[k].holds ? &shown : &more) += 1;
        fdl_buf_puts(b, "\nfdleak:    site");
        fdl_buf_puts(b, shown > 1 ? "s" : "");
        for (unsigned s = 0; s < f->nsites; s++)
            for (size_t k = r->places[f->sites[s].place].first_site; k != FDL_NO_PLACE; k = r->sites[k].next_in_place)
                if (r->sites[k].holds) {
                    fdl_buf_putc(b, ' ');
                    fdl_buf_u64(b, r->sites[k].site->id);
                }
        if (more) {
            fdl_buf_puts(b, " and ");
            fdl_put_plural(b, more, "more site", "more sites");
        }
        fdl_buf_puts(b, "; advice: ");
        fdl_buf_puts(b, f->advice);
        fdl_buf_putc(b, '\n');
    }
    if (r->nfindings > FINDINGS_SHOWN) {
        fdl_buf_puts(b, "fdleak: … and ");
        fdl_buf_u64(b, r->nfindings - FINDINGS_SHOWN);
        fdl_buf_puts(b, " more findings (FDLEAK_FORMAT=json lists them)\n");
    }
}

/* Misuse first: a double close or a descriptor crossing exec is a bug now, a leak may be one. */
static void errors(const struct fdl_report *r, struct fdl_buf *b)
{
    for (size_t i = 0; i < r->nerrors; i++) {
        const struct fdl_rep_error *e = &r->errors[i];
        fdl_buf_puts(b, "fdleak:\nfdleak: error: ");
        fdl_buf_puts(b, fdl_misuse_name(e->what));
        fdl_buf_puts(b, " of fd ");
        fdl_buf_i64(b, e->fd);
        if (e->count > 1) {
            fdl_buf_puts(b, " (");
            fdl_buf_u64(b, e->count);
            fdl_buf_puts(b, " times at this stack)");
        }
        if (e->site) {
            fdl_buf_puts(b, ", created at ");
            site_headline(r, b, e->site);
        }
        fdl_buf_putc(b, '\n');
        for (unsigned f = 0; f < e->nstack; f++)
            frame_line(b, &e->stack[f], f == 0);
        if (e->nfirst)
            fdl_buf_puts(b, "fdleak:  first closed:\n");
        for (unsigned f = 0; f < e->nfirst; f++)
            frame_line(b, &e->first_close[f], f == 0);
    }
    if (r->errors_dropped) {
        fdl_buf_puts(b, "fdleak: … and ");
        fdl_buf_u64(b, r->errors_dropped);
        fdl_buf_puts(b, " more errors (the log holds 256)\n");
    }
}

void fdl_report_write_text(const struct fdl_report *r, struct fdl_buf *b)
{
    fdl_buf_puts(b, "fdleak: ");
    size_t crossing = 0;
    for (size_t i = 0; i < r->nerrors; i++)
        crossing += r->errors[i].what == FDL_E_CROSSES_EXEC;
    if (crossing) {
        fdl_put_plural(b, crossing, "descriptor crosses", "descriptors cross");
        fdl_buf_puts(b, " exec without close-on-exec");
    } else if (r->nleaks) {
        fdl_put_plural(b, r->nleaks, "descriptor", "descriptors");
        fdl_buf_puts(b, " leaked from ");
        fdl_put_plural(b, r->nleak_sites, "site", "sites");
    } else {
        fdl_buf_puts(b, "no leaks");
    }
    if (r->nsuppressed) {
        fdl_buf_puts(b, " (");
        fdl_buf_u64(b, r->nsuppressed);
        fdl_buf_puts(b, " suppressed)");
    }
    fdl_buf_puts(b, " (pid ");
    fdl_buf_u64(b, (uint64_t)r->pid);
    fdl_buf_puts(b, ", ");
    cmdline(r, b);
    fdl_buf_puts(b, ")");
    if (strcmp(r->o.trigger, "exit")) {
        fdl_buf_puts(b, " [");
        fdl_buf_puts(b, r->o.trigger);
        if (r->o.label) {
            fdl_buf_puts(b, ": ");
            fdl_buf_puts(b, r->o.label);
        }
        fdl_buf_putc(b, ']');
    }
    if (r->o.signal) {
        fdl_buf_puts(b, " [killed by ");
        fdl_buf_puts(b, r->o.signal);
        fdl_buf_putc(b, ']');
    }
    fdl_buf_putc(b, '\n');

    findings(r, b);
    errors(r, b);
    size_t i = 0;
    for (size_t k = 0; k < r->nleak_sites; k++) {
        const struct fdl_rep_site *s = &r->sites[k];
        fdl_buf_puts(b, "fdleak:\nfdleak: ");
        fdl_put_plural(b, s->nleaks, "descriptor", "descriptors");
        if (s->site) {
            fdl_buf_puts(b, " leaked at site ");
            fdl_buf_u64(b, s->site->id);
            fdl_buf_puts(b, " (created ");
            fdl_buf_u64(b, s->created);
            fdl_buf_puts(b, ", closed ");
            fdl_buf_u64(b, s->closed);
            fdl_buf_puts(b, ")");
            const struct fdl_pystack *py = fdl_site_pystack(s->site);
            if (py) {
                fdl_buf_puts(b, ": ");
                fdl_put_pyframe(r, b, &py->f[py->app]);
            }
            fdl_buf_puts(b, ":\n");
        } else {
            fdl_buf_puts(b, " leaked where no stack could be taken (created inside a signal handler"
                            " that interrupted fdleak, or the stack could not be unwound):\n");
        }
        size_t shown = 0;
        for (; i < r->nleaks && r->leaks[i].rank == k; i++)
            if (shown++ < FDS_SHOWN)
                fd_line(b, &r->leaks[i], true);
        if (shown > FDS_SHOWN) {
            fdl_buf_puts(b, "fdleak:    … and ");
            fdl_buf_u64(b, shown - FDS_SHOWN);
            fdl_buf_puts(b, " more\n");
        }
        python_frames(r, b, s);
    }
    if (r->nunattributed) {
        fdl_buf_puts(b, "fdleak:\nfdleak: ");
        fdl_put_plural(b, r->nunattributed, "descriptor is", "descriptors are");
        fdl_buf_puts(b, " open that fdleak did not see created (libc internals, raw syscalls):\n");
        for (size_t u = 0; u < r->nunattributed && u < FDS_SHOWN; u++)
            fd_line(b, &r->unattributed[u], false);
    }
    if (r->ninherited) {
        fdl_buf_puts(b, "fdleak:\nfdleak: inherited (not leaks):");
        for (size_t h = 0; h < r->ninherited && h < 64; h++) {
            fdl_buf_putc(b, ' ');
            fdl_buf_u64(b, (uint64_t)r->inherited[h].fd);
        }
        if (r->ninherited > 64)
            fdl_buf_puts(b, " …");
        fdl_buf_putc(b, '\n');
        /* Where a parent said (fork, or exec with FDLEAK_LINEAGE), name the creator. */
        for (size_t h = 0, shown = 0; h < r->ninherited && shown < FDS_SHOWN; h++) {
            const struct fdl_rep_fd *e = &r->inherited[h];
            if (!e->parent && !(e->rec.flags & FDL_F_FORKED && e->rec.site))
                continue;
            shown++;
            fd_head(b, e);
            fdl_buf_puts(b, "  (from the parent: ");
            fdl_buf_puts(b, e->parent ? (e->parent->via ? e->parent->via : "?") : e->rec.via ? e->rec.via : "?");
            fdl_buf_puts(b, " at ");
            if (e->parent) {
                fdl_put_where(b, e->parent->function, e->parent->file, e->parent->line);
            } else {
                site_headline(r, b, e->rec.site);
            }
            fdl_buf_puts(b, ")\n");
        }
    }
}

/* ---- FDLEAK_MISUSE=abort: one misuse, before the abort ---- */

static void misuse_stack(struct fdl_buf *b, struct fdl_symbolizer *sym, struct fdl_site *s, const char *first)
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

/* Not a report: the misuse's stacks, symbolized on their own (own region, own symbolizer),
 * straight to stderr. Thread-safe and async-signal-safe like a report; marks the thread busy. */
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
    misuse_stack(&b, sym, stack, "fdleak:    at ");
    misuse_stack(&b, sym, first_close, "fdleak:  first closed at ");
    misuse_stack(&b, sym, site, "fdleak:  created at ");
    fdl_buf_flush(&b);
    fdl_sym_free(sym);
    fdl_region_free(&rg);
    fdl_tls.busy--;
}
