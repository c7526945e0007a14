/* victim.h — shared helpers for the fdleak test victims (header-only, one copy per program).
 *
 * A victim is a small program that leaks a few descriptors on purpose and declares each one on
 * stdout, one line per leak, for tests/check_leaks.py:
 *
 *     pid <pid>
 *     leak <fd> <kind> <function> <desc> [<module-basename>] [via=<call>] [cloexec=0|1] [tid=<tid>]
 *
 * <kind> may list alternatives separated by '|' ("tty|char"); <desc> is '-' (not checked) or
 * one or more substrings joined by '&' that must all occur in the report's desc. <function> is
 * the function that made the wrapped call: the first native frame of the site that lies in the
 * victim executable (or in <module-basename>, when given) must carry that name.
 *
 * Leak sites are plain global functions marked VICTIM_FN (no inlining, cloning, identical-code
 * folding or other interprocedural tricks), and they call the wrapped libc function directly,
 * never through a helper, so the caller's frame is exactly that function.
 *
 * v_finish() checks the victim's own claims against the kernel (/proc/self/fd): every declared
 * descriptor is open and of the declared kind/cloexec state, and (when not preloaded) nothing
 * else the victim opened is still open. So a bare run of a victim validates its leak lines
 * without fdleak; the meson suite `victims` does exactly that.
 *
 * Other reports (check_leaks.py documents the full syntax): a line tagged `@<pid>` is about the
 * exit report of another process, `@<pid>/exec` about the report written before an exec.
 * Declarations made in a fork child (after v_child_begin()) are tagged with its pid
 * automatically; v_decl()/v_decl_pid() print `report`, `inherited` and `error` lines, and
 * V_ERROR/V_EXEC_ERROR name the calling function as the one making the bad call, like V_LEAK.
 * Every line goes out with one write(2) (no stdio buffer that a fork would duplicate).
 *
 * Live reports (signal, interval, threshold, emfile; tests/check_live.py): v_unleak(fd) says a
 * declared leak was closed again (`unleak <fd>`), v_mark(name, open) that the declarations so
 * far are exactly what is open now (`mark <name> [open=<n>]`); the checker pairs marks with
 * reports written while the program runs.
 */
#ifndef FDLEAK_TEST_VICTIM_H
#define FDLEAK_TEST_VICTIM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__GNUC__) && !defined(__clang__)
#define VICTIM_FN __attribute__((noipa, used))
#else
#define VICTIM_FN __attribute__((noinline, used))
#endif

/* The helpers below are static (one private copy per program); not every victim uses all. */
#define V_API static __attribute__((unused))

/* Fails the victim (exit 2) with a message naming the source line. */
#define V_CHECK(cond)                                                                       \
    do {                                                                                    \
        if (!(cond))                                                                        \
            v_die(__FILE__, __LINE__, #cond);                                               \
    } while (0)

/* Binds fd to 127.0.0.1 (ephemeral port) and listens. The socket() call stays in the victim
 * function: its name is what the report must show. */
#define v_listen_loopback(fd)                                                               \
    do {                                                                                    \
        struct sockaddr_in a_;                                                              \
        memset(&a_, 0, sizeof a_);                                                          \
        a_.sin_family = AF_INET;                                                            \
        a_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);                                        \
        V_CHECK(bind((fd), (struct sockaddr *)&a_, sizeof a_) == 0);                        \
        V_CHECK(listen((fd), 4) == 0);                                                      \
    } while (0)

/* V_LEAK(fd, kind, desc, via, cloexec): declare a deliberate leak made by the calling
 * function. via may be NULL (not checked), cloexec -1 (not checked). */
#define V_LEAK(fd, kind, desc, via, cloexec)                                                \
    v_leak((fd), (kind), __func__, (desc), NULL, (via), (cloexec), 0)

/* V_ERROR(what, fd, extra): declare that the calling function just made a bad call (a misuse
 * fdleak must list in errors[] of this process's exit report); extra is more attributes
 * ("site=open_it first_close=close_it", "site=null", "count=3", "optional") or "". */
#define V_ERROR(what, fd, extra) v_decl(NULL, "error %s %d %s %s", (what), (fd), __func__, (extra))

/* V_EXEC_ERROR(fd, site_fn): the calling function is about to exec with fd open and not
 * close-on-exec; site_fn created it. For this process's exec report. */
#define V_EXEC_ERROR(fd, site_fn)                                                           \
    v_decl("exec", "error crosses-exec %d %s site=%s", (fd), __func__, (site_fn))

struct v_leak_rec {
    char kind[32];
    char desc[256];
    int cloexec;
    int declared;
};

static struct {
    pthread_mutex_t lock;
    struct v_leak_rec *leaks; /* indexed by fd */
    int nleaks_cap;
    unsigned char *before; /* fds open at v_begin, indexed by fd */
    int nbefore_cap;
    char dir[PATH_MAX];
    int own_dir; /* 1: we made dir and remove it at the end */
    int failed;
    pid_t main_pid; /* the victim's own process (set by v_begin) */
} v_state = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, NULL, 0, "", 0, 0, 0};

__attribute__((noreturn)) V_API void v_die(const char *file, int line, const char *what)
{
    int e = errno;
    fprintf(stderr, "victim: %s:%d: check failed: %s (errno %d %s)\n", file, line, what, e,
            strerror(e));
    fflush(stdout);
    _exit(2);
}

__attribute__((format(printf, 1, 2))) V_API void v_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("victim self-check: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    v_state.failed = 1;
}

/* One command line from stdin into buf ("" at end of file). read(2) failing with EINTR means a
 * signal reached the program as an interruption it did not ask for: the victims' handlers use
 * SA_RESTART, so only fdleak could cause it. */
V_API void v_read_line(char *buf, size_t size)
{
    size_t n = 0;
    while (n + 1 < size) {
        char c;
        ssize_t r = read(0, &c, 1);
        if (r < 0 && errno == EINTR) {
            v_fail("read(2) on stdin failed with EINTR: the program saw a signal");
            continue;
        }
        V_CHECK(r >= 0);
        if (r == 0 || c == '\n')
            break;
        buf[n++] = c;
    }
    buf[n] = '\0';
}

V_API int v_preloaded(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && *p;
}

/* Writes one line to stdout with a single write(2): atomic in a pipe, never duplicated by fork,
 * never lost by _exit or a signal. */
__attribute__((format(printf, 1, 2))) V_API void v_say(const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    int saved = errno;
    for (int off = 0; off < n;) {
        ssize_t w = write(1, line + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (int)w;
    }
    errno = saved;
}

/* The tag naming a report: "" for the victim's own exit report, "@<pid> " or
 * "@<pid>/<trigger> " otherwise. */
V_API const char *v_tag(char *buf, size_t size, long pid, const char *trigger)
{
    if (trigger && !strcmp(trigger, "exit"))
        trigger = NULL;
    if (pid == (long)v_state.main_pid && !trigger)
        buf[0] = '\0';
    else if (trigger)
        snprintf(buf, size, "@%ld/%s ", pid, trigger);
    else
        snprintf(buf, size, "@%ld ", pid);
    return buf;
}

/* Prints a declaration about the report (pid, trigger); trigger NULL means "exit". */
__attribute__((format(printf, 3, 4))) V_API void v_decl_pid(long pid, const char *trigger,
                                                             const char *fmt, ...)
{
    char body[900], tag[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    v_say("%s%s", v_tag(tag, sizeof tag, pid, trigger), body);
}

/* The same about a report of this process. */
#define v_decl(trigger, ...) v_decl_pid((long)getpid(), (trigger), __VA_ARGS__)

/* The working directory for the victim's files: $FDLEAK_TEST_DIR (made by the checker, which
 * removes it) or a fresh /tmp directory removed by v_finish. */
V_API const char *v_dir(void)
{
    if (!v_state.dir[0]) {
        const char *d = getenv("FDLEAK_TEST_DIR");
        if (d && *d) {
            V_CHECK(strlen(d) < sizeof v_state.dir - 64);
            strcpy(v_state.dir, d);
        } else {
            strcpy(v_state.dir, "/tmp/fdleak-victim-XXXXXX");
            V_CHECK(mkdtemp(v_state.dir) != NULL);
            v_state.own_dir = 1;
        }
    }
    return v_state.dir;
}

/* dir/name in a fresh heap string (never freed: victims are short-lived). */
V_API char *v_path(const char *name)
{
    const char *d = v_dir();
    size_t n = strlen(d) + strlen(name) + 2;
    char *p = malloc(n);
    V_CHECK(p != NULL);
    snprintf(p, n, "%s/%s", d, name);
    return p;
}

/* Creates dir/name with some content (open/write/close done correctly). */
V_API char *v_make_file(const char *name)
{
    char *p = v_path(name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    V_CHECK(fd >= 0);
    V_CHECK(write(fd, "fdleak\n", 7) == 7);
    V_CHECK(close(fd) == 0);
    return p;
}

V_API void v_grow(void **arr, int *cap, int need, size_t elem)
{
    if (need < *cap)
        return;
    int ncap = *cap ? *cap : 64;
    while (ncap <= need)
        ncap *= 2;
    void *n = realloc(*arr, (size_t)ncap * elem);
    V_CHECK(n != NULL);
    memset((char *)n + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
    *arr = n;
    *cap = ncap;
}

/* Calls fn(fd, arg) for each open descriptor except the listing's own. */
V_API void v_each_open_fd(void (*fn)(int, void *), void *arg)
{
    DIR *d = opendir("/proc/self/fd");
    V_CHECK(d != NULL);
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int fd = atoi(e->d_name);
        if (fd != self)
            fn(fd, arg);
    }
    V_CHECK(closedir(d) == 0);
}

V_API void v_note_before(int fd, void *arg)
{
    (void)arg;
    v_grow((void **)&v_state.before, &v_state.nbefore_cap, fd, 1);
    v_state.before[fd] = 1;
}

/* Call first in main: prints the pid line and remembers the descriptors already open. */
V_API void v_begin(void)
{
    v_state.main_pid = getpid();
    v_say("pid %ld", (long)getpid());
    v_each_open_fd(v_note_before, NULL);
    v_dir();
}

/* Call first in a fork child that declares anything: from now on its declarations are tagged
 * with its pid, and what it holds now (the parent's declared leaks included) counts as there
 * at the start for its own v_finish(). The child never removes the scratch directory. */
V_API void v_child_begin(void)
{
    for (int fd = 0; fd < v_state.nleaks_cap; fd++)
        v_state.leaks[fd].declared = 0;
    v_each_open_fd(v_note_before, NULL);
    v_state.own_dir = 0;
    v_state.failed = 0;
}

/* Waits for a child at most timeout_s seconds; returns its wait status, or -1 after killing a
 * child that did not finish (a deadlock, probably) and failing the self-check. */
V_API int v_wait_child(pid_t pid, int timeout_s)
{
    int st;
    V_CHECK(pid > 0);
    for (long i = 0; i < (long)timeout_s * 200; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        V_CHECK(r == 0 || (r < 0 && errno == EINTR));
        usleep(5000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    v_fail("child %ld did not finish within %d s (deadlock?); killed", (long)pid, timeout_s);
    return -1;
}

/* The same, and the child must have exited with status 0 (its own self-check passed). */
V_API void v_wait_ok(pid_t pid, int timeout_s)
{
    int st = v_wait_child(pid, timeout_s);
    if (st == -1)
        return;
    if (WIFSIGNALED(st))
        v_fail("child %ld killed by signal %d", (long)pid, WTERMSIG(st));
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        v_fail("child %ld exited with status %d", (long)pid, WEXITSTATUS(st));
}

/* fork() with stdio flushed first, so the child does not write the parent's buffered output. */
V_API pid_t v_fork(void)
{
    fflush(NULL);
    pid_t pid = fork();
    V_CHECK(pid >= 0);
    return pid;
}

/* Records a leak for the self-check; print != 0 also writes the `leak` line. */
V_API void v_leak(int fd, const char *kind, const char *fn, const char *desc, const char *module,
                   const char *via, int cloexec, long tid)
{
    V_CHECK(fd >= 0);
    pthread_mutex_lock(&v_state.lock);
    v_grow((void **)&v_state.leaks, &v_state.nleaks_cap, fd, sizeof *v_state.leaks);
    struct v_leak_rec *r = &v_state.leaks[fd];
    if (r->declared) {
        pthread_mutex_unlock(&v_state.lock);
        fprintf(stderr, "victim: fd %d declared as a leak twice\n", fd);
        _exit(2);
    }
    r->declared = 1;
    r->cloexec = cloexec;
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->desc, sizeof r->desc, "%s", desc);
    char line[1024], tag[64];
    int n = snprintf(line, sizeof line, "%sleak %d %s %s %s",
                     v_tag(tag, sizeof tag, (long)getpid(), NULL), fd, kind, fn, desc);
    if (module)
        n += snprintf(line + n, sizeof line - (size_t)n, " %s", module);
    if (via)
        n += snprintf(line + n, sizeof line - (size_t)n, " via=%s", via);
    if (cloexec >= 0)
        n += snprintf(line + n, sizeof line - (size_t)n, " cloexec=%d", cloexec);
    if (tid > 0)
        snprintf(line + n, sizeof line - (size_t)n, " tid=%ld", tid);
    v_say("%s", line);
    pthread_mutex_unlock(&v_state.lock);
}

/* Live reports (tests/check_live.py): the program closes a declared leak again. Prints
 * `unleak <fd>`; reports written from now on must not list it. Call right after the close. */
V_API void v_unleak(int fd)
{
    pthread_mutex_lock(&v_state.lock);
    if (fd < 0 || fd >= v_state.nleaks_cap || !v_state.leaks[fd].declared) {
        pthread_mutex_unlock(&v_state.lock);
        fprintf(stderr, "victim: v_unleak(%d): not a declared leak\n", fd);
        _exit(2);
    }
    v_state.leaks[fd].declared = 0;
    v_say("unleak %d", fd);
    pthread_mutex_unlock(&v_state.lock);
}

/* Live reports: `mark <name> [open=<n>]` says that the leaks declared so far (minus the unleaked
 * ones) are exactly what the program holds now; a report the checker pairs with this mark must
 * list exactly those. open >= 0 also states the tracked open count (0, 1, 2 included). */
V_API void v_mark(const char *name, int open)
{
    pthread_mutex_lock(&v_state.lock);
    if (open >= 0)
        v_say("mark %s open=%d", name, open);
    else
        v_say("mark %s", name);
    pthread_mutex_unlock(&v_state.lock);
}

/* Records a leak whose `leak` line someone else printed (e.g. a shared library's constructor). */
V_API void v_note_leak(int fd, const char *kind, const char *desc, int cloexec)
{
    pthread_mutex_lock(&v_state.lock);
    v_grow((void **)&v_state.leaks, &v_state.nleaks_cap, fd, sizeof *v_state.leaks);
    struct v_leak_rec *r = &v_state.leaks[fd];
    r->declared = 1;
    r->cloexec = cloexec;
    snprintf(r->kind, sizeof r->kind, "%s", kind);
    snprintf(r->desc, sizeof r->desc, "%s", desc);
    pthread_mutex_unlock(&v_state.lock);
}

/* What the kernel says a descriptor is, in the report's vocabulary. */
V_API const char *v_classify(int fd, char *target, size_t tsize)
{
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, tsize - 1);
    target[n > 0 ? n : 0] = '\0';
    struct stat st;
    if (fstat(fd, &st) != 0)
        return "closed";
    if (!strncmp(target, "anon_inode:", 11)) {
        const char *t = target + 11;
        if (strstr(t, "eventpoll"))
            return "epoll";
        if (strstr(t, "eventfd"))
            return "eventfd";
        if (strstr(t, "timerfd"))
            return "timerfd";
        if (strstr(t, "signalfd"))
            return "signalfd";
        if (strstr(t, "inotify"))
            return "inotify";
        if (strstr(t, "fanotify"))
            return "fanotify";
        if (strstr(t, "pidfd"))
            return "pidfd";
        return "other";
    }
    switch (st.st_mode & S_IFMT) {
    case S_IFREG:
        return strncmp(target, "/memfd:", 7) ? "file" : "memfd";
    case S_IFDIR:
        return "dir";
    case S_IFIFO:
        return strncmp(target, "pipe:", 5) ? "fifo" : "pipe";
    case S_IFSOCK:
        return "socket";
    case S_IFCHR:
        return isatty(fd) ? "tty" : "char";
    default:
        return "other";
    }
}

V_API int v_kind_matches(const char *want, const char *got)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", want);
    for (char *save = NULL, *k = strtok_r(buf, "|", &save); k; k = strtok_r(NULL, "|", &save))
        if (!strcmp(k, got))
            return 1;
    return 0;
}

V_API void v_check_fd(int fd, void *arg)
{
    int *seen = arg;
    char target[PATH_MAX];
    const char *kind = v_classify(fd, target, sizeof target);
    if (fd < v_state.nleaks_cap && v_state.leaks[fd].declared) {
        struct v_leak_rec *r = &v_state.leaks[fd];
        seen[fd] = 1;
        if (!v_kind_matches(r->kind, kind))
            v_fail("fd %d is a %s (%s), declared %s", fd, kind, target, r->kind);
        int fl = fcntl(fd, F_GETFD);
        if (r->cloexec >= 0 && fl >= 0 && !!(fl & FD_CLOEXEC) != r->cloexec)
            v_fail("fd %d has cloexec=%d, declared %d", fd, !!(fl & FD_CLOEXEC), r->cloexec);
        /* The kernel's link text names files, directories, fifos, ttys and memfds; check the
         * declared desc substrings against it for those. */
        if (strcmp(r->desc, "-") && target[0] == '/') {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", r->desc);
            for (char *save = NULL, *s = strtok_r(buf, "&", &save); s;
                 s = strtok_r(NULL, "&", &save))
                if (!strstr(target, s))
                    v_fail("fd %d -> %s does not contain declared desc part '%s'", fd, target, s);
        }
        return;
    }
    if (fd <= 2 || (fd < v_state.nbefore_cap && v_state.before[fd]))
        return;
    /* Not declared and not there at the start. Without fdleak that is always the victim's bug.
     * Under LD_PRELOAD the library may hold descriptors of its own (e.g. libunwind's pipe): only
     * things that are clearly the victim's (its files, sockets) count then. */
    if (!v_preloaded() || strstr(target, v_dir()) || !strncmp(target, "socket:", 7))
        v_fail("fd %d -> %s (%s) is open but not declared as a leak", fd, target, kind);
    else
        fprintf(stderr, "victim self-check: note: fd %d -> %s open (preloaded library's?)\n", fd,
                target);
}

V_API void v_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR)
            v_rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* Call at the end of main: returns the exit status (0, or 1 when the self-check failed). */
V_API int v_finish(void)
{
    int *seen = calloc((size_t)v_state.nleaks_cap + 1, sizeof *seen);
    V_CHECK(seen != NULL);
    v_each_open_fd(v_check_fd, seen);
    for (int fd = 0; fd < v_state.nleaks_cap; fd++)
        if (v_state.leaks[fd].declared && !seen[fd])
            v_fail("fd %d declared as a leak but not open", fd);
    free(seen);
    if (v_state.own_dir)
        v_rm_tree(v_state.dir);
    fflush(stdout);
    return v_state.failed ? 1 : 0;
}

#endif
