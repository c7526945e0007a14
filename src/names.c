/* names.c — how reports name things (see names.h): one definition of each label, frame, file,
 * peer and count format that the writers, the findings and the suppression rules share. */
#include "names.h"
#include "capture_python.h"
#include "report.h"
#include "sites.h"
#include "symbolize.h"

#include <string.h>

const char *fdl_base_name(const char *path)
{
    const char *b = path ? strrchr(path, '/') : 0;
    return b ? b + 1 : path;
}

void fdl_put_where(struct fdl_buf *b, const char *function, const char *file, int line)
{
    fdl_buf_puts(b, function ? function : "???");
    if (file) {
        fdl_buf_puts(b, " (");
        fdl_buf_puts(b, fdl_base_name(file));
        fdl_buf_putc(b, ':');
        fdl_buf_u64(b, (uint64_t)line);
        fdl_buf_putc(b, ')');
    }
}

bool fdl_system_module(const char *module)
{
    static const char *const dirs[] = {"/lib/", "/lib64/", "/usr/lib/", "/usr/lib64/", "/usr/local/lib/"};
    if (!module || strstr(module, "libfdleak"))
        return true;
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        if (!strncmp(module, dirs[i], strlen(dirs[i])))
            return true;
    return false;
}

bool fdl_interpreter_module(const char *module)
{
    const char *base = fdl_base_name(module);
    return base && (!strncmp(base, "python", 6) || !strncmp(base, "libpython", 9));
}

/* "function (file:line)", else "module+0xoffset". */
static void frame_label(struct fdl_buf *b, const struct fdl_frame *f)
{
    if (f->function) {
        fdl_put_where(b, f->function, f->file, f->line);
    } else {
        fdl_buf_puts(b, f->module ? fdl_base_name(f->module) : "?");
        fdl_buf_putc(b, '+');
        fdl_buf_hex(b, f->offset);
    }
}

void fdl_site_label_n(const struct fdl_rep_site *s, unsigned own, char *out, size_t cap)
{
    struct fdl_buf b;
    fdl_buf_init_mem(&b, out, cap);
    unsigned n = s && s->site && s->frames ? s->site->n_native : 0, shown = 0;
    for (unsigned i = 0; i < n && shown < own; i++)
        if (!fdl_system_module(s->frames[i].module)) {
            fdl_buf_puts(&b, shown++ ? " from " : "");
            frame_label(&b, &s->frames[i]);
        }
    if (!shown && n)
        frame_label(&b, &s->frames[0]);
    else if (!n)
        fdl_buf_puts(&b, s && s->site ? "unknown" : "inherited");
    fdl_buf_cstr(&b);
}

void fdl_site_label(const struct fdl_rep_site *s, char *out, size_t cap) { fdl_site_label_n(s, 1, out, cap); }

static uint64_t key_mix(uint64_t h, const char *str)
{
    for (const char *p = str ? str : "?"; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return (h ^ 0xff) * 0x100000001b3ull; /* a separator no string contains */
}

/* A native frame by what it is: module file name and function (the offset without one). */
static uint64_t key_frame(uint64_t h, const struct fdl_frame *f)
{
    h = key_mix(h, fdl_base_name(f->module));
    if (f->function)
        return key_mix(h, f->function);
    char off[24];
    struct fdl_buf b;
    fdl_buf_init_mem(&b, off, sizeof off);
    fdl_buf_hex(&b, f->offset);
    return key_mix(h, fdl_buf_cstr(&b));
}

static void key_hex(uint64_t h, char out[17])
{
    for (int i = 15; i >= 0; i--, h >>= 4)
        out[i] = "0123456789abcdef"[h & 15];
    out[16] = 0;
}

void fdl_site_key(const struct fdl_rep_site *s, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ull;
    const struct fdl_pystack *py = s->site ? fdl_site_pystack(s->site) : 0;
    for (unsigned i = 0; s->frames && s->site && i < s->site->n_native; i++)
        h = key_mix(key_mix(h, fdl_base_name(s->frames[i].module)), s->frames[i].function);
    for (unsigned i = 0; py && i < py->n; i++)
        h = key_mix(key_mix(h, fdl_base_name(py->f[i].file)), py->f[i].function);
    key_hex(h, out);
}

void fdl_place_key(const struct fdl_rep_site *s, char out[17])
{
    uint64_t h = 0xcbf29ce484222325ull;
    const struct fdl_pystack *py = s->site ? fdl_site_pystack(s->site) : 0;
    unsigned n = s->site && s->frames ? s->site->n_native : 0, shown = 0;
    if (py) {
        h = key_mix(key_mix(h, fdl_base_name(py->f[py->app].file)), py->f[py->app].function);
    } else { /* the frames fdl_site_at names */
        for (unsigned i = 0; i < n && shown < 2; i++)
            if (!fdl_system_module(s->frames[i].module)) {
                h = key_frame(h, &s->frames[i]);
                shown++;
            }
        if (!shown)
            h = n ? key_frame(h, &s->frames[0]) : key_mix(h, s->site ? "unknown" : "inherited");
    }
    key_hex(h, out);
}

void fdl_site_at(const struct fdl_report *r, const struct fdl_rep_site *s, char *out, size_t cap)
{
    const struct fdl_pystack *py = s ? fdl_site_pystack(s->site) : 0;
    if (!py) {
        fdl_site_label_n(s, 2, out, cap);
        return;
    }
    struct fdl_buf b;
    fdl_buf_init_mem(&b, out, cap);
    if (!py->own) /* a library's own work (a thread it started at import): named by its call */
        fdl_buf_puts(&b, "no frame of the program's code: ");
    fdl_put_pyframe(r, &b, &py->f[py->app]);
    fdl_buf_cstr(&b);
}

const struct fdl_pystack *fdl_site_pystack(const struct fdl_site *site)
{
    const struct fdl_pystack *py = site ? __atomic_load_n(&site->py, __ATOMIC_ACQUIRE) : 0;
    return py && py->n ? py : 0;
}

const char *fdl_report_pyfile(const struct fdl_report *r, const char *file)
{
    size_t n = strlen(r->cwd);
    return n > 1 && !strncmp(file, r->cwd, n) && file[n] == '/' ? file + n + 1 : file;
}

void fdl_put_pyframe(const struct fdl_report *r, struct fdl_buf *b, const struct fdl_pyframe *f)
{
    fdl_buf_puts(b, fdl_report_pyfile(r, f->file));
    if (f->line) {
        fdl_buf_putc(b, ':');
        fdl_buf_u64(b, (uint64_t)f->line);
    }
    fdl_buf_puts(b, " in ");
    fdl_buf_puts(b, f->function);
}

void fdl_put_desc_peer(struct fdl_buf *b, const char *desc)
{
    const char *p = strstr(desc, " -> ");
    if (p) {
        p += 4;
        fdl_buf_putn(b, p, strcspn(p, " "));
    }
}

void fdl_put_plural(struct fdl_buf *b, uint64_t n, const char *one, const char *many)
{
    fdl_buf_u64(b, n);
    fdl_buf_putc(b, ' ');
    fdl_buf_puts(b, n == 1 ? one : many);
}

void fdl_put_count(struct fdl_buf *b, uint64_t n)
{
    char digits[24]; /* least significant first */
    int k = 0;
    do
        digits[k++] = (char)('0' + n % 10);
    while ((n /= 10) && k < 24);
    for (int i = k - 1; i >= 0; i--) {
        fdl_buf_putc(b, digits[i]);
        if (i > 0 && i % 3 == 0)
            fdl_buf_putc(b, ',');
    }
}

void fdl_put_eta(struct fdl_buf *b, double s)
{
    if (s < 120) {
        fdl_put_plural(b, (uint64_t)(s + 0.5), "second", "seconds");
    } else if (s < 7200) {
        fdl_put_plural(b, (uint64_t)(s / 60 + 0.5), "minute", "minutes");
    } else if (s < 2 * 86400) {
        fdl_buf_fixed(b, s / 3600, 1);
        fdl_buf_puts(b, " hours");
    } else {
        fdl_buf_fixed(b, s / 86400, 1);
        fdl_buf_puts(b, " days");
    }
}

void fdl_kind_count_add(struct fdl_kind_count *c, const char *kind)
{
    kind = kind ? kind : "other";
    for (unsigned i = 0; i < c->nkinds; i++)
        if (!strcmp(c->kind[i], kind)) {
            c->n[i]++;
            return;
        }
    if (c->nkinds == FDL_KINDS_MAX) {
        c->more++;
        return;
    }
    c->kind[c->nkinds] = kind;
    c->n[c->nkinds++] = 1;
}

/* A kind as a noun: the common ones by name, the rest as "<kind> descriptor" (a pipe is two
 * descriptors: "2 pipes" would count pipes). */
static void put_kind_noun(struct fdl_buf *b, uint64_t n, const char *kind)
{
    static const struct {
        const char *kind, *one, *many;
    } nouns[] = {{"file", "file", "files"}, {"socket", "socket", "sockets"}, {"dir", "directory", "directories"}};
    for (size_t i = 0; i < sizeof nouns / sizeof *nouns; i++)
        if (!strcmp(kind, nouns[i].kind)) {
            fdl_put_plural(b, n, nouns[i].one, nouns[i].many);
            return;
        }
    fdl_buf_u64(b, n);
    fdl_buf_putc(b, ' ');
    fdl_buf_puts(b, kind);
    fdl_buf_puts(b, n == 1 ? " descriptor" : " descriptors");
}

void fdl_put_kind_counts(struct fdl_buf *b, const struct fdl_kind_count *c)
{
    unsigned parts = c->nkinds + (c->more > 0);
    for (unsigned i = 0; i < c->nkinds; i++) {
        if (i)
            fdl_buf_puts(b, i + 1 == parts ? " and " : ", ");
        put_kind_noun(b, c->n[i], c->kind[i]);
    }
    if (c->more) {
        fdl_buf_puts(b, " and ");
        fdl_buf_u64(b, c->more);
        fdl_buf_puts(b, " more");
    }
}

void fdl_buf_duration(struct fdl_buf *b, double s)
{
    static const struct {
        double below, unit;
        const char *name;
        int decimals;
    } scale[] = {{1e-3, 1e-6, " µs", 0}, {1, 1e-3, " ms", 0}, {120, 1, " s", 1}, {7200, 60, " min", 1}};
    for (size_t i = 0; i < sizeof scale / sizeof *scale; i++)
        if (s < scale[i].below) {
            fdl_buf_fixed(b, s / scale[i].unit, scale[i].decimals);
            fdl_buf_puts(b, scale[i].name);
            return;
        }
    fdl_buf_fixed(b, s / 3600, 1);
    fdl_buf_puts(b, " h");
}
