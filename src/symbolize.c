/* symbolize.c — report-time symbolization (see symbolize.h). */
#include "symbolize.h"
#include "util.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdbool.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FDL_HASH_REGION s->region /* the symbolizer `s` is in scope at every HASH_ADD */
#include "region_hash.h"
#include "sys.h"

struct sym {
    uintptr_t value, size;
    const char *name;
};

struct module {
    char *path;
    uintptr_t bias, lo, hi;
    int loaded;    /* symbols read (or tried) */
    void *map;
    size_t map_len;
    struct sym *syms;
    size_t nsyms;
    int has_debug; /* .debug_line present: addr2line can give file:line */
    int exec, base_known, bias_ok;
    uintptr_t base;      /* where the file's offset 0 is mapped */
};

struct entry {
    uintptr_t pc; /* key */
    struct fdl_frame f;
    struct module *mod;
    UT_hash_handle hh;
};

struct fdl_symbolizer {
    struct fdl_region *region;
    struct module *mods;
    size_t nmods, capmods;
    struct entry *entries; /* uthash by pc */
    size_t nentries;
};

static uintptr_t hex(const char **p)
{
    uintptr_t v = 0;
    for (;; (*p)++) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return v;
        v = v * 16 + (uintptr_t)d;
    }
}

/* One line of /proc/self/maps: "start-end perms offset dev inode path". */
static void map_line(struct fdl_symbolizer *s, char *line)
{
    const char *p = line;
    uintptr_t start = hex(&p);
    if (*p++ != '-')
        return;
    uintptr_t end = hex(&p);
    if (*p++ != ' ')
        return;
    bool exec = p[2] == 'x';
    p += 5;
    uintptr_t offset = hex(&p);
    char *path = strchr(p, '/');
    if (!path)
        return; /* anonymous, [heap], [vdso]… */
    char *del = strstr(path, " (deleted)");
    if (del)
        *del = 0;
    struct module *m = s->nmods ? &s->mods[s->nmods - 1] : 0;
    if (!m || strcmp(m->path, path)) {
        if (s->nmods == s->capmods) {
            struct module *nm = fdl_region_grow(s->region, s->mods, s->nmods, &s->capmods, sizeof *nm);
            if (!nm)
                return;
            s->mods = nm;
        }
        m = &s->mods[s->nmods++];
        memset(m, 0, sizeof *m);
        m->path = fdl_region_strdup(s->region, path);
        m->lo = start;
    }
    if (offset == 0 && !m->base_known) { /* where the file's first page is: the bias follows */
        m->base = start;
        m->base_known = 1;
    }
    if (start < m->lo)
        m->lo = start;
    if (end > m->hi)
        m->hi = end;
    m->exec |= exec;
}

struct fdl_symbolizer *fdl_sym_new(struct fdl_region *r)
{
    struct fdl_symbolizer *s = fdl_region_alloc(r, sizeof *s);
    if (!s)
        return 0;
    s->region = r;
    /* /proc/self/maps rather than dl_iterate_phdr: no loader lock, so a report may be made in
     * a signal handler that interrupted dlopen. */
    int fd = fdl_own_open("/proc/self/maps", O_RDONLY, 0);
    if (fd < 0)
        return s;
    size_t cap = 1 << 20, len = 0;
    char *buf = fdl_region_alloc(r, cap);
    for (;;) {
        if (!buf)
            break;
        if (len + 4096 > cap) { /* a very large map: grow */
            char *nb = fdl_region_alloc(r, cap * 2);
            if (!nb)
                break;
            memcpy(nb, buf, len);
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    fdl_own_close(fd);
    if (!buf)
        return s;
    buf[len] = 0;
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        map_line(s, line);
        if (!nl)
            break;
        line = nl + 1;
    }
    /* Keep only objects with code (not, say, another report's view of an ELF file). */
    size_t k = 0;
    for (size_t i = 0; i < s->nmods; i++)
        if (s->mods[i].exec && s->mods[i].base_known)
            s->mods[k++] = s->mods[i];
    s->nmods = k;
    return s;
}

static int sym_cmp(const void *a, const void *b)
{
    const struct sym *x = a, *y = b;
    return x->value < y->value ? -1 : x->value > y->value;
}

/* Reads the function symbols of m's file (both .symtab and .dynsym) into a sorted array. */
static void load_module(struct fdl_symbolizer *s, struct module *m)
{
    m->loaded = 1;
    if (!m->path || m->path[0] != '/')
        return; /* the vDSO has no file */
    int fd = fdl_own_open(m->path, O_RDONLY, 0);
    if (fd < 0)
        return;
    struct stat st;
    void *map = MAP_FAILED;
    if (!fstat(fd, &st) && st.st_size > (off_t)sizeof(ElfW(Ehdr)))
        map = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    fdl_own_close(fd);
    if (map == MAP_FAILED)
        return;
    m->map = map;
    m->map_len = (size_t)st.st_size;
    const unsigned char *base = map;
    const ElfW(Ehdr) *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 || !eh->e_shoff ||
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > m->map_len)
        return;
    /* The bias: where the first PT_LOAD landed minus where it asked to be. Read from the file,
     * not from memory, which a concurrent dlclose could unmap under us. */
    if (eh->e_phoff + (size_t)eh->e_phnum * sizeof(ElfW(Phdr)) <= m->map_len) {
        const ElfW(Phdr) *ph = (const void *)(base + eh->e_phoff);
        for (int i = 0; i < eh->e_phnum; i++)
            if (ph[i].p_type == PT_LOAD) {
                m->bias = m->base - (ph[i].p_vaddr & ~(uintptr_t)0xfff);
                m->bias_ok = 1;
                break;
            }
    }
    const ElfW(Shdr) *sh = (const void *)(base + eh->e_shoff);
    const ElfW(Shdr) *shs = eh->e_shstrndx < eh->e_shnum ? &sh[eh->e_shstrndx] : 0;
    const char *shstr = shs && shs->sh_offset + shs->sh_size <= m->map_len ? (const char *)base + shs->sh_offset : 0;
    size_t cap = 0;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (shstr && sh[i].sh_name < shs->sh_size && !strncmp(shstr + sh[i].sh_name, ".debug_line", shs->sh_size - sh[i].sh_name))
            m->has_debug = 1;
        if (sh[i].sh_type != SHT_SYMTAB && sh[i].sh_type != SHT_DYNSYM)
            continue;
        if (sh[i].sh_link >= eh->e_shnum || sh[i].sh_offset + sh[i].sh_size > m->map_len)
            continue;
        const ElfW(Shdr) *strsh = &sh[sh[i].sh_link];
        if (strsh->sh_offset + strsh->sh_size > m->map_len || !strsh->sh_size)
            continue;
        const ElfW(Sym) *sy = (const void *)(base + sh[i].sh_offset);
        size_t n = sh[i].sh_size / sizeof *sy;
        const char *str = (const char *)base + strsh->sh_offset;
        for (size_t k = 0; k < n; k++) {
            int t = ELF64_ST_TYPE(sy[k].st_info);
            if ((t != STT_FUNC && t != STT_GNU_IFUNC) || !sy[k].st_value || sy[k].st_shndx == SHN_UNDEF ||
                sy[k].st_name >= strsh->sh_size || str[strsh->sh_size - 1])
                continue;
            if (m->nsyms == cap) {
                struct sym *ns = fdl_region_grow(s->region, m->syms, m->nsyms, &cap, sizeof *ns);
                if (!ns)
                    return;
                m->syms = ns;
            }
            m->syms[m->nsyms++] = (struct sym){sy[k].st_value, sy[k].st_size, str + sy[k].st_name};
        }
    }
    fdl_sort(m->syms, m->nsyms, sizeof *m->syms, sym_cmp);
}

static const char *find_function(struct fdl_symbolizer *s, struct module *m, uintptr_t vaddr)
{
    if (!m->loaded)
        load_module(s, m);
    size_t lo = 0, hi = m->nsyms;
    while (lo < hi) { /* first symbol with value > vaddr */
        size_t mid = (lo + hi) / 2;
        if (m->syms[mid].value <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* Several symbols may start at or before vaddr; take the nearest one that covers it. */
    for (size_t i = lo; i-- > 0;) {
        const struct sym *y = &m->syms[i];
        if (vaddr < y->value + (y->size ? y->size : 1))
            return y->name;
        if (y->size && lo - i > 8)
            break;
    }
    return 0;
}

void fdl_sym_add(struct fdl_symbolizer *s, uintptr_t pc)
{
    struct entry *e;
    if (!s)
        return;
    HASH_FIND(hh, s->entries, &pc, sizeof pc, e);
    if (e)
        return;
    e = fdl_region_alloc(s->region, sizeof *e);
    if (!e)
        return;
    e->pc = pc;
    e->f.pc = pc;
    uintptr_t look = pc ? pc - 1 : pc; /* a return address: the call is the byte before */
    for (size_t i = 0; i < s->nmods; i++) {
        struct module *m = &s->mods[i];
        if (look >= m->lo && look < m->hi) {
            if (!m->loaded)
                load_module(s, m);
            e->mod = m;
            e->f.module = m->path;
            e->f.offset = pc - (m->bias_ok ? m->bias : m->base);
            if (m->bias_ok)
                e->f.function = find_function(s, m, look - m->bias);
            break;
        }
    }
    HASH_ADD(hh, s->entries, pc, sizeof pc, e);
    s->nentries++;
}

/* Finds prog on PATH. */
static int on_path(const char *prog, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (n && n + strlen(prog) + 2 <= cap) {
            memcpy(out, path, n);
            out[n] = '/';
            strcpy(out + n + 1, prog);
            if (!access(out, X_OK))
                return 1;
        }
        path += n + (end ? 1 : 0);
    }
    return 0;
}

struct child_args {
    const char *tool;
    char **argv, **envp;
    int out;
};

/* The addr2line child: shares our memory until execve (CLONE_VFORK), so raw syscalls only. */
static int child_main(void *p)
{
    struct child_args *a = p;
    fdl_sys(SYS_dup3, a->out, 1, 0);
    /* Its own copy of the table (no CLONE_FILES) may be full, as the program's is when a report
     * runs out of descriptors: addr2line must open the module, and holds nothing of ours. */
    fdl_sys(SYS_close_range, 3, ~0U, 0);
    int dn = (int)fdl_sys(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY);
    if (dn >= 0)
        fdl_sys(SYS_dup3, dn, 2, 0);
    fdl_sys(SYS_execve, a->tool, a->argv, a->envp);
    fdl_sys(SYS_exit, 127);
    return 127;
}

/* Runs addr2line on n entries of one module and stores file:line. The child gets an empty
 * environment (so it is not itself traced), and it is a clone child with no exit signal: the
 * program's SIGCHLD handling and waitpid(-1) never see it. */
static void addr2line_batch(struct fdl_symbolizer *s, const char *tool, struct module *m,
                            struct entry **es, size_t n)
{
    char **argv = fdl_region_alloc(s->region, (n + 4) * sizeof *argv);
    static char *envp[] = {0}; /* addr2line needs none; and so no LD_PRELOAD, no locale */
    char *addrs = fdl_region_alloc(s->region, n * 24);
    size_t stack_size = 64 * 1024;
    void *stack = mmap(0, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (!argv || !addrs || stack == MAP_FAILED)
        goto out;
    argv[0] = (char *)"addr2line";
    argv[1] = (char *)"-e";
    argv[2] = m->path;
    for (size_t i = 0; i < n; i++) {
        struct fdl_buf b;
        fdl_buf_init_mem(&b, addrs + i * 24, 24);
        fdl_buf_hex(&b, es[i]->f.offset - 1);
        argv[3 + i] = (char *)fdl_buf_cstr(&b);
    }
    int p[2];
    if (fdl_own_pipe(p))
        goto out;
    struct child_args ca = {tool, argv, envp, p[1]};
    int pid = clone(child_main, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK, &ca);
    fdl_own_close(p[1]);
    if (pid < 0) {
        fdl_own_close(p[0]);
        goto out;
    }
    size_t cap = 64 * 1024, len = 0;
    char *txt = fdl_region_alloc(s->region, cap);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (txt && len + 1 < cap) {
        struct pollfd pfd = {p[0], POLLIN, 0};
        int pr = poll(&pfd, 1, 1000);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (t1.tv_sec - t0.tv_sec > 10)
            break; /* a wedged addr2line must not hang the program */
        if (pr <= 0)
            continue;
        ssize_t r = read(p[0], txt + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    fdl_own_close(p[0]);
    kill(pid, SIGKILL);
    while (waitpid(pid, 0, __WALL) < 0 && errno == EINTR)
        ;
    if (!txt)
        goto out;
    txt[len] = 0;
    char *line = txt;
    for (size_t i = 0; i < n && *line; i++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        char *disc = strstr(line, " (discriminator");
        if (disc)
            *disc = 0;
        char *colon = strrchr(line, ':');
        if (colon && strncmp(line, "??", 2)) {
            *colon = 0;
            int ln = 0;
            for (const char *d = colon + 1; *d >= '0' && *d <= '9'; d++)
                ln = ln * 10 + (*d - '0');
            if (ln > 0) {
                es[i]->f.file = line;
                es[i]->f.line = ln;
            }
        }
        if (!nl)
            break;
        line = nl + 1;
    }
out:
    if (stack != MAP_FAILED)
        munmap(stack, stack_size);
}

/* addr2line's path, looked up once at start-up: PATH is read from the environment, which a
 * report in a signal handler must not touch while the program may be changing it. */
static char tool[4096];

void fdl_sym_init(void)
{
    if (!on_path("addr2line", tool, sizeof tool))
        tool[0] = 0;
}

void fdl_sym_resolve(struct fdl_symbolizer *s)
{
    if (!s || !s->nentries || !tool[0])
        return;
    /* Under a seccomp filter, clone or execve may kill the process: no helper processes. */
    if (fdl_sys(SYS_prctl, PR_GET_SECCOMP, 0, 0, 0, 0) == 2)
        return;
    struct entry **batch = fdl_region_alloc(s->region, s->nentries * sizeof *batch);
    if (!batch)
        return;
    for (size_t i = 0; i < s->nmods; i++) {
        struct module *m = &s->mods[i];
        if (!m->loaded || !m->has_debug)
            continue;
        size_t n = 0;
        for (struct entry *e = s->entries; e; e = e->hh.next)
            if (e->mod == m)
                batch[n++] = e;
        for (size_t off = 0; off < n; off += 256)
            addr2line_batch(s, tool, m, batch + off, n - off < 256 ? n - off : 256);
    }
}

void fdl_sym_lookup(struct fdl_symbolizer *s, uintptr_t pc, struct fdl_frame *out)
{
    struct entry *e = 0;
    if (s)
        HASH_FIND(hh, s->entries, &pc, sizeof pc, e);
    if (e) {
        *out = e->f;
    } else {
        memset(out, 0, sizeof *out);
        out->pc = pc;
    }
}

void fdl_sym_free(struct fdl_symbolizer *s)
{
    for (size_t i = 0; s && i < s->nmods; i++)
        if (s->mods[i].map)
            munmap(s->mods[i].map, s->mods[i].map_len);
}
