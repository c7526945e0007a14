/* symbolize.c — report-time symbolization (see symbolize.h). */
#include "symbolize.h"
#include "util.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

extern char **environ;

struct sym {
    uintptr_t value, size;
    const char *name;
};

struct module {
    char *path;
    uintptr_t bias, lo, hi;
    int loaded;          /* symbols read (or tried) */
    void *map;
    size_t map_len;
    struct sym *syms;
    size_t nsyms;
    int has_debug;       /* .debug_line present: addr2line can give file:line */
};

struct entry {
    uintptr_t pc; /* key */
    struct fdl_frame f;
    struct module *mod;
    char *file_owned;
    UT_hash_handle hh;
};

struct fdl_symbolizer {
    struct module *mods;
    size_t nmods;
    struct entry *entries; /* uthash by pc */
};

static int mod_cb(struct dl_phdr_info *info, size_t size, void *p)
{
    (void)size;
    struct fdl_symbolizer *s = p;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    if (!hi)
        return 0;
    struct module *m = realloc(s->mods, (s->nmods + 1) * sizeof *m);
    if (!m)
        return 1;
    s->mods = m;
    m = &s->mods[s->nmods];
    memset(m, 0, sizeof *m);
    const char *name = info->dlpi_name;
    char exe[4096];
    if (!name || !*name) { /* the main program */
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = 0;
        name = exe;
    }
    m->path = strdup(name);
    m->bias = info->dlpi_addr;
    m->lo = lo;
    m->hi = hi;
    s->nmods++;
    return 0;
}

struct fdl_symbolizer *fdl_sym_new(void)
{
    struct fdl_symbolizer *s = calloc(1, sizeof *s);
    if (s)
        dl_iterate_phdr(mod_cb, s);
    return s;
}

static int sym_cmp(const void *a, const void *b)
{
    const struct sym *x = a, *y = b;
    return x->value < y->value ? -1 : x->value > y->value;
}

/* Reads the function symbols of m's file (both .symtab and .dynsym) into a sorted array. */
static void load_module(struct module *m)
{
    m->loaded = 1;
    if (!m->path || m->path[0] != '/')
        return; /* the vDSO and friends have no file */
    int fd = (int)syscall(SYS_openat, AT_FDCWD, m->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    void *map = MAP_FAILED;
    if (!fstat(fd, &st) && st.st_size > (off_t)sizeof(ElfW(Ehdr)))
        map = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    syscall(SYS_close, fd);
    if (map == MAP_FAILED)
        return;
    m->map = map;
    m->map_len = (size_t)st.st_size;
    const unsigned char *base = map;
    const ElfW(Ehdr) *eh = map;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 || !eh->e_shoff ||
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > m->map_len)
        return;
    const ElfW(Shdr) *sh = (const void *)(base + eh->e_shoff);
    const char *shstr = eh->e_shstrndx < eh->e_shnum && sh[eh->e_shstrndx].sh_offset < m->map_len
                            ? (const char *)base + sh[eh->e_shstrndx].sh_offset : 0;
    size_t cap = 0;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (shstr && sh[i].sh_name < sh[eh->e_shstrndx].sh_size && !strcmp(shstr + sh[i].sh_name, ".debug_line"))
            m->has_debug = 1;
        if (sh[i].sh_type != SHT_SYMTAB && sh[i].sh_type != SHT_DYNSYM)
            continue;
        if (sh[i].sh_link >= eh->e_shnum || sh[i].sh_offset + sh[i].sh_size > m->map_len)
            continue;
        const ElfW(Shdr) *strsh = &sh[sh[i].sh_link];
        if (strsh->sh_offset + strsh->sh_size > m->map_len)
            continue;
        const ElfW(Sym) *sy = (const void *)(base + sh[i].sh_offset);
        size_t n = sh[i].sh_size / sizeof *sy;
        const char *str = (const char *)base + strsh->sh_offset;
        for (size_t k = 0; k < n; k++) {
            int t = ELF64_ST_TYPE(sy[k].st_info);
            if ((t != STT_FUNC && t != STT_GNU_IFUNC) || !sy[k].st_value || sy[k].st_shndx == SHN_UNDEF ||
                sy[k].st_name >= strsh->sh_size)
                continue;
            if (m->nsyms == cap) {
                cap = cap ? cap * 2 : 256;
                struct sym *ns = realloc(m->syms, cap * sizeof *ns);
                if (!ns)
                    return;
                m->syms = ns;
            }
            m->syms[m->nsyms++] = (struct sym){sy[k].st_value, sy[k].st_size, str + sy[k].st_name};
        }
    }
    if (m->nsyms)
        qsort(m->syms, m->nsyms, sizeof *m->syms, sym_cmp);
}

static const char *find_function(struct module *m, uintptr_t vaddr)
{
    if (!m->loaded)
        load_module(m);
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
    HASH_FIND(hh, s->entries, &pc, sizeof pc, e);
    if (e)
        return;
    e = calloc(1, sizeof *e);
    if (!e)
        return;
    e->pc = pc;
    e->f.pc = pc;
    uintptr_t look = pc ? pc - 1 : pc; /* a return address: the call is the byte before */
    for (size_t i = 0; i < s->nmods; i++) {
        struct module *m = &s->mods[i];
        if (look >= m->lo && look < m->hi) {
            e->mod = m;
            e->f.module = m->path;
            e->f.offset = pc - m->bias;
            e->f.function = find_function(m, look - m->bias);
            break;
        }
    }
    HASH_ADD(hh, s->entries, pc, sizeof pc, e);
}

/* Finds prog on PATH (no allocation of the caller's strings). */
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

/* Runs addr2line on up to n entries of one module and stores file:line. The child gets the
 * environment without LD_PRELOAD and FDLEAK_*, so it is not itself traced. */
static void addr2line_batch(const char *tool, struct module *m, struct entry **es, size_t n)
{
    char **argv = calloc(n + 4, sizeof *argv);
    char (*addrs)[24] = calloc(n, sizeof *addrs);
    size_t envn = 0;
    for (char **e = environ; e && *e; e++)
        envn++;
    char **envp = calloc(envn + 1, sizeof *envp);
    if (!argv || !addrs || !envp)
        goto out;
    size_t k = 0;
    for (char **e = environ; e && *e; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "FDLEAK_", 7))
            envp[k++] = *e;
    argv[0] = (char *)"addr2line";
    argv[1] = (char *)"-e";
    argv[2] = m->path;
    for (size_t i = 0; i < n; i++) {
        struct fdl_buf b;
        fdl_buf_init_mem(&b, addrs[i], sizeof addrs[i]);
        fdl_buf_hex(&b, es[i]->f.offset - 1);
        argv[3 + i] = (char *)fdl_buf_cstr(&b);
    }
    int p[2];
    if (syscall(SYS_pipe2, p, O_CLOEXEC))
        goto out;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, tool, &fa, 0, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    syscall(SYS_close, p[1]);
    if (rc) {
        syscall(SYS_close, p[0]);
        goto out;
    }
    size_t cap = 4096, len = 0;
    char *txt = malloc(cap);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (txt) {
        struct pollfd pfd = {p[0], POLLIN, 0};
        if (poll(&pfd, 1, 1000) <= 0) {
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (t1.tv_sec - t0.tv_sec > 10)
                break; /* a wedged addr2line must not hang the program's exit */
            continue;
        }
        if (len + 1024 > cap) {
            char *nt = realloc(txt, cap *= 2);
            if (!nt)
                break;
            txt = nt;
        }
        ssize_t r = read(p[0], txt + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    syscall(SYS_close, p[0]);
    kill(pid, SIGKILL);
    while (waitpid(pid, 0, 0) < 0 && errno == EINTR)
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
            int ln = atoi(colon + 1);
            if (ln > 0) {
                es[i]->file_owned = strdup(line);
                es[i]->f.file = es[i]->file_owned;
                es[i]->f.line = ln;
            }
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    free(txt);
out:
    free(argv);
    free(addrs);
    free(envp);
}

void fdl_sym_resolve(struct fdl_symbolizer *s)
{
    char tool[4096];
    if (!s || !on_path("addr2line", tool, sizeof tool))
        return;
    size_t total = HASH_COUNT(s->entries);
    struct entry **batch = calloc(total ? total : 1, sizeof *batch);
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
            addr2line_batch(tool, m, batch + off, n - off < 256 ? n - off : 256);
    }
    free(batch);
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
    if (!s)
        return;
    struct entry *e, *t;
    HASH_ITER(hh, s->entries, e, t) {
        HASH_DEL(s->entries, e);
        free(e->file_owned);
        free(e);
    }
    for (size_t i = 0; i < s->nmods; i++) {
        free(s->mods[i].path);
        free(s->mods[i].syms);
        if (s->mods[i].map)
            munmap(s->mods[i].map, s->mods[i].map_len);
    }
    free(s->mods);
    free(s);
}
