/* children.c — which processes of the tree write reports (FDLEAK_CHILDREN): all of them; the
 * programs, not shells (the default); the first program of the launched command; or those
 * whose executable matches a glob. Decided once per process image at start-up; a forked child
 * keeps its parent's decision (it is in memory), an exec decides again. A silent process
 * records as any other (its descriptors cross exec with their sites) and writes nothing. */
#include "children.h"
#include "config.h"
#include "names.h"
#include "suppress.h"
#include "util.h"
#include "sys.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Executables that are not the program: shells (a script's commands are its children) and the
 * wrappers that exec the program in their place. busybox is every applet of a busybox system. */
static const char *const not_programs[] = {
    "sh",  "bash", "dash",   "zsh",    "ksh",    "ksh93", "mksh",  "ash",    "busybox", "fish", "csh", "tcsh",
    "env", "nice", "nohup", "stdbuf", "setsid", "chrt",  "taskset", "ionice", 0,
};
static const char *const shells[] = {"sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "ash", "busybox",
                                     "fish", "csh", "tcsh", 0};

static int silent = -1; /* -1: not decided yet */

static bool listed(const char *const *names, const char *exe)
{
    const char *base = fdl_base_name(exe);
    for (unsigned i = 0; names[i]; i++)
        if (!strcmp(base, names[i]))
            return true;
    return false;
}

/* readlink of /proc/<pid>/<what> ("self" for pid 0), NUL-terminated; false when unreadable. */
static bool proc_link(int pid, const char *what, char *out, size_t cap)
{
    char path[64];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/%s", pid, what);
    else
        snprintf(path, sizeof path, "/proc/self/%s", what);
    long n = fdl_sys(SYS_readlinkat, AT_FDCWD, path, out, cap - 1);
    if (n <= 0)
        return false;
    out[n] = 0;
    return true;
}

/* Whether process pid has fdleak loaded (its maps name the library): then it is part of the
 * launched command's tree, not what started it. */
static bool runs_fdleak(int pid)
{
    char path[64], buf[4096 + 16];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    int fd = fdl_own_open(path, O_RDONLY, 0);
    if (fd < 0)
        return false;
    bool found = false;
    size_t keep = 0; /* the tail of the last chunk: a name split across two reads */
    long n;
    while (!found && (n = fdl_sys(SYS_read, fd, buf + keep, sizeof buf - 1 - keep)) > 0) {
        size_t len = keep + (size_t)n;
        buf[len] = 0;
        found = strstr(buf, "/libfdleak") != 0;
        keep = len < 16 ? len : 16;
        memmove(buf, buf + len - keep, keep);
    }
    fdl_own_close(fd);
    return found;
}

/* The parent of pid (0: this process), from /proc/PID/stat; 0 when unknown. */
static int parent_of(int pid)
{
    if (!pid)
        return (int)fdl_sys(SYS_getppid);
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = fdl_own_open(path, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    long n = fdl_sys(SYS_read, fd, buf, sizeof buf - 1);
    fdl_own_close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command may hold spaces and parentheses */
    int ppid = 0;
    if (p && p[1] == ' ' && p[2] && p[3] == ' ')
        for (p += 4; *p >= '0' && *p <= '9'; p++)
            ppid = ppid * 10 + (*p - '0');
    return ppid;
}

static bool is_shell(int pid)
{
    char exe[FDL_PATH_MAX];
    return proc_link(pid, "exe", exe, sizeof exe) && listed(shells, exe);
}

/* The access mode (O_RDONLY, O_WRONLY…) of pid's descriptor fd, from its fdinfo; -1 if unknown. */
static int access_mode(int pid, int fd)
{
    char path[64], info[256];
    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
    int f = fdl_own_open(path, O_RDONLY, 0);
    long n = f < 0 ? -1 : fdl_sys(SYS_read, f, info, sizeof info - 1);
    if (f >= 0)
        fdl_own_close(f);
    if (n <= 0)
        return -1;
    info[n] = 0;
    const char *fl = strstr(info, "flags:");
    if (!fl)
        return -1;
    unsigned long flags = 0;
    for (fl += 6; *fl == '\t' || *fl == ' '; fl++)
        ;
    for (; *fl >= '0' && *fl <= '7'; fl++)
        flags = flags * 8 + (unsigned long)(*fl - '0');
    return (int)(flags & O_ACCMODE);
}

#define PIPES_MAX 8

/* Pipe ends of one process: the pipes ("pipe:[N]") it holds open in one access mode. */
struct ends {
    int pid, mode;
    const char *want; /* NULL: collect every such pipe; else: is this one among them? */
    char pipe[PIPES_MAX][32];
    unsigned n;
    bool found;
};

static void pipe_end(int fd, void *arg)
{
    struct ends *e = arg;
    char what[32], link[64];
    snprintf(what, sizeof what, "fd/%d", fd);
    if (e->found || (!e->want && e->n == PIPES_MAX) || !proc_link(e->pid, what, link, sizeof link) ||
        strncmp(link, "pipe:", 5) || strlen(link) >= sizeof e->pipe[0] || (e->want && strcmp(link, e->want)) ||
        access_mode(e->pid, fd) != e->mode)
        return;
    if (e->want)
        e->found = true;
    else
        strcpy(e->pipe[e->n++], link);
}

static bool holds_end(int pid, const char *pipe, int mode)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", pid);
    struct ends e = {.pid = pid, .mode = mode, .want = pipe};
    return fdl_proc_fds_in(dir, pipe_end, &e) && e.found;
}

/* Inside a shell's command substitution ($(…), `…`): a shell ancestor holds the read end of a
 * pipe it reads what the substitution prints from — this process's standard output, or a pipe
 * a shell between the two holds the write end of (dash moves its standard output to fd 10 or
 * above while a redirected command runs). A pipeline's pipe is not held by the shell that
 * started it, nor is the terminal or log the shells themselves write to read by one. Walks up
 * at most four shells. */
static bool in_substitution(void)
{
    /* Only shells of the launched command's own tree: a shell above it (the user's, a CI
     * runner's) may hold pipes of its own that everything below inherited. */
    int chain[5], n = 0;
    for (int pid = (int)fdl_sys(SYS_getppid); pid > 1 && n < 4 && is_shell(pid) && runs_fdleak(pid);
         pid = parent_of(pid))
        chain[n++] = pid;
    char out[64];
    if (proc_link(0, "fd/1", out, sizeof out) && !strncmp(out, "pipe:", 5))
        for (int k = 0; k < n; k++)
            if (holds_end(chain[k], out, O_RDONLY))
                return true;
    for (int j = 0; j + 1 < n; j++) { /* a shell between holds the write end */
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%d/fd", chain[j]);
        struct ends w = {.pid = chain[j], .mode = O_WRONLY};
        if (!fdl_proc_fds_in(dir, pipe_end, &w))
            continue;
        for (unsigned i = 0; i < w.n; i++)
            for (int k = j + 1; k < n; k++)
                if (holds_end(chain[k], w.pipe[i], O_RDONLY))
                    return true;
    }
    return false;
}

void fdl_children_decide(void)
{
    const char *mode = fdl_config()->children;
    char exe[FDL_PATH_MAX];
    if (!strcmp(mode, "all") || !proc_link(0, "exe", exe, sizeof exe)) {
        silent = 0;
        return;
    }
    if (!strcmp(mode, "programs"))
        silent = listed(not_programs, exe) || in_substitution();
    else if (!strcmp(mode, "first"))
        silent = listed(not_programs, exe) || runs_fdleak((int)fdl_sys(SYS_getppid));
    else
        silent = !fdl_glob(mode, exe) && !fdl_glob(mode, fdl_base_name(exe));
}

bool fdl_children_silent(void) { return __atomic_load_n(&silent, __ATOMIC_RELAXED) == 1; }
