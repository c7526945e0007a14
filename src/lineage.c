/* lineage.c — the FDLEAK_LINEAGE environment variable (see lineage.h). Format:
 *   1;<pid>;<next report number>[;<fd>|<via>|<function>|<module>|<file>|<line>]...
 * with '%', ';', '|' escaped as %XX inside fields. */
#include "lineage.h"
#include "sites.h"
#include "symbolize.h"
#include "table.h"
#include "util.h"
#include "sys.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VAR "FDLEAK_LINEAGE"
#define MAX_PARENT 256

static struct fdl_parent_site parents[MAX_PARENT];
static size_t nparents;
static struct fdl_region keep; /* the parsed strings */

/* Decodes one field in place, up to the next '|' or ';'. Returns where the next field starts
 * (NULL at the end of the string) and the separator that ended this one in *sep. */
static char *field(char *p, char *sep, char **out)
{
    *out = p;
    char *w = p;
    for (; *p && *p != '|' && *p != ';'; p++) {
        if (*p == '%' && p[1] && p[2]) {
            char h[3] = {p[1], p[2], 0};
            *w++ = (char)strtol(h, 0, 16);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *sep = *p;
    *w = 0;
    return *sep ? p + 1 : 0;
}

static int to_int(const char *s)
{
    int v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (*s - '0');
    return v;
}

unsigned fdl_lineage_load(void)
{
    const char *v = getenv(VAR);
    if (!v)
        return 0;
    char *copy = fdl_region_strdup(&keep, v);
    unsetenv(VAR); /* the program should not see, or pass on, what is fdleak's */
    if (!copy || strncmp(copy, "1;", 2))
        return 0;
    char *p = copy + 2, *f, sep;
    p = field(p, &sep, &f);
    int pid = to_int(f);
    if (pid != (int)fdl_sys(SYS_getpid) || !p)
        return 0; /* left behind by a program that copied its environment to another process */
    p = field(p, &sep, &f);
    int next_seq = to_int(f);
    while (p && nparents < MAX_PARENT) {
        char *fs[6] = {0};
        int i = 0;
        do
            p = field(p, &sep, &fs[i++]);
        while (p && sep == '|' && i < 6);
        while (p && sep == '|') /* fields a later version added */
            p = field(p, &sep, &f);
        if (i < 6 || !*fs[0])
            continue;
        struct fdl_parent_site *e = &parents[nparents++];
        e->fd = to_int(fs[0]);
        e->pid = pid;
        e->via = *fs[1] ? fs[1] : 0;
        e->function = *fs[2] ? fs[2] : 0;
        e->module = *fs[3] ? fs[3] : 0;
        e->file = *fs[4] ? fs[4] : 0;
        e->line = to_int(fs[5]);
    }
    return next_seq > 0 ? (unsigned)next_seq : 0;
}

const struct fdl_parent_site *fdl_lineage_find(int fd)
{
    for (size_t i = 0; i < nparents; i++)
        if (parents[i].fd == fd)
            return &parents[i];
    return 0;
}

static void put_field(struct fdl_buf *b, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '%' || *s == ';' || *s == '|' || (unsigned char)*s < 0x20) {
            fdl_buf_putc(b, '%');
            fdl_buf_putc(b, "0123456789ABCDEF"[(unsigned char)*s >> 4]);
            fdl_buf_putc(b, "0123456789ABCDEF"[*s & 15]);
        } else {
            fdl_buf_putc(b, *s);
        }
    }
}

/* Whether envp's LD_PRELOAD names this library. */
static bool preloads_us(char *const envp[])
{
    for (char *const *e = envp; e && *e; e++)
        if (!strncmp(*e, "LD_PRELOAD=", 11))
            return strstr(*e, "libfdleak") != 0;
    return false;
}

char **fdl_lineage_env(struct fdl_region *r, char *const envp[], unsigned next_seq)
{
    size_t cap = 64 * 1024;
    char *mem = fdl_region_alloc(r, cap);
    size_t n = 0;
    for (char *const *e = envp; e && *e; e++)
        n++;
    char **out = fdl_region_alloc(r, (n + 2) * sizeof *out);
    struct fdl_symbolizer *sym = fdl_sym_new(r);
    if (!mem || !out)
        return (char **)envp;
    struct fdl_buf b;
    fdl_buf_init_mem(&b, mem, cap);
    fdl_buf_puts(&b, VAR "=1;");
    fdl_buf_u64(&b, (uint64_t)fdl_sys(SYS_getpid));
    fdl_buf_putc(&b, ';');
    fdl_buf_u64(&b, next_seq);
    struct fdl_slot *s, rec;
    int crossing = 0;
    for (int fd = 3; (s = fdl_table_next(&fd, INT32_MAX)); fd++) {
        if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != FDL_SLOT_OPEN || !fdl_slot_read(s, &rec))
            continue;
        long fl = fdl_sys(SYS_fcntl, fd, F_GETFD);
        if (fl < 0 || (fl & FD_CLOEXEC))
            continue;
        const struct fdl_parent_site *up = (rec.flags & FDL_F_INHERITED) ? fdl_lineage_find(fd) : 0;
        struct fdl_frame f = {0};
        if (!up && rec.site && rec.site->n_native) {
            /* Names from the symbol tables only: no addr2line on the way to exec (a vfork
             * child's parent waits for all of it). */
            fdl_sym_add(sym, rec.site->frames[0]);
            fdl_sym_lookup(sym, rec.site->frames[0], &f);
        } else if (!up) {
            continue; /* nothing to say about it */
        }
        crossing++;
        fdl_buf_putc(&b, ';');
        fdl_buf_u64(&b, (uint64_t)fd);
        fdl_buf_putc(&b, '|');
        put_field(&b, up ? up->via : rec.via);
        fdl_buf_putc(&b, '|');
        put_field(&b, up ? up->function : f.function);
        fdl_buf_putc(&b, '|');
        put_field(&b, up ? up->module : f.module);
        fdl_buf_putc(&b, '|');
        put_field(&b, up ? up->file : f.file);
        fdl_buf_putc(&b, '|');
        fdl_buf_u64(&b, (uint64_t)(up ? up->line : f.line));
    }
    fdl_sym_free(sym);
    /* Only what the new program needs: nothing when no descriptor crosses and its reports
     * would be numbered from 1 anyway, nor when it will not run fdleak. */
    if (b.failed || (!crossing && next_seq <= 1) || !preloads_us(envp))
        return (char **)envp;
    size_t k = 0;
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, VAR "=", sizeof VAR))
            out[k++] = *e;
    out[k++] = (char *)fdl_buf_cstr(&b);
    out[k] = 0;
    return out;
}
