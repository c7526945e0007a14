/* exec: descriptors without close-on-exec cross exec into a program that does not know them.
 * Before each exec call the process writes a report with trigger "exec" whose errors[] has one
 * `crosses-exec` per such descriptor > 2 (the site is the creating site, the parent's for what
 * a fork child inherited; the stack is the exec call's), and the exec'd program (fdleak comes
 * along in LD_PRELOAD) lists them as inherited, naming the creating function in the parent.
 *
 * The parent leaks a non-cloexec pipe and a listening socket (they cross), a cloexec file and a
 * file marked cloexec later with fcntl (they do not), and a cloexec file whose flag is cleared
 * later (it crosses). Children exec victim-exec_target (next to this program) through each exec
 * function; each child also crosses an eventfd of its own. One child marks everything cloexec
 * with close_range(CLOSE_RANGE_CLOEXEC) first: nothing crosses (no error; the exec report
 * itself is optional then), and the target inherits nothing but 0, 1, 2. Failed execs (ENOENT:
 * in the main process with execv, in a child with execvp's PATH search) write the exec report
 * and change nothing else: same return value and errno, every descriptor still open, and the
 * exit report of that process is normal (no error carried over).
 *
 * With FDLEAK_EXEC=ignore nothing is declared as crossing (exec reports are optional, and must
 * then be empty of errors); the descriptors still reach the target. */
#include "victim.h"

#include <arpa/inet.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

extern char **environ;

static char *path;
static char target[PATH_MAX + 32], target_dir[PATH_MAX];
static int reported; /* FDLEAK_EXEC is not "ignore" */
static long main_pid;
static int p[2], lsn, cx, marked, unmarked;
static char open_list[256], closed_list[256];

VICTIM_FN void leak_pipe(int q[2])
{
    V_CHECK(pipe(q) == 0);
    V_LEAK(q[0], "pipe", "pipe:", "pipe", 0);
    V_LEAK(q[1], "pipe", "pipe:", "pipe", 0);
}

VICTIM_FN int leak_listener(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    V_CHECK(fd >= 0);
    v_listen_loopback(fd);
    V_LEAK(fd, "socket", "tcp&listen", "socket", 0);
    return fd;
}

VICTIM_FN int leak_cloexec_file(void)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "exec.dat", "open", 1);
    return fd;
}

VICTIM_FN int leak_marked_later(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_CHECK(fcntl(fd, F_SETFD, FD_CLOEXEC) == 0);
    V_LEAK(fd, "file", "exec.dat", "open", 1);
    return fd;
}

VICTIM_FN int leak_unmarked_later(void)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    V_CHECK(fcntl(fd, F_SETFD, 0) == 0);
    V_LEAK(fd, "file", "exec.dat", "open", 0);
    return fd;
}

/* A child's own descriptor that crosses (not declared as a leak: the child's exit report is
 * the exec'd program's, where it is inherited). */
VICTIM_FN int child_open_eventfd(void)
{
    int fd = eventfd(0, 0);
    V_CHECK(fd >= 0);
    return fd;
}

/* Declarations for an exec about to be made by function fn in this process: the exec report
 * with its crossing errors, and the exec'd program's exit report (ev: the child's own eventfd,
 * or -1). */
static void declare_exec(const char *fn, int ev)
{
    long me = (long)getpid();
    if (reported) {
        v_decl("exec", "report leaks=any");
        v_decl("exec", "error crosses-exec %d %s site=leak_pipe", p[0], fn);
        v_decl("exec", "error crosses-exec %d %s site=leak_pipe", p[1], fn);
        v_decl("exec", "error crosses-exec %d %s site=leak_listener", lsn, fn);
        v_decl("exec", "error crosses-exec %d %s site=leak_unmarked_later", unmarked, fn);
        if (ev >= 0)
            v_decl("exec", "error crosses-exec %d %s site=child_open_eventfd", ev, fn);
    } else {
        v_decl("exec", "report leaks=any optional");
    }
    if (ev < 0) /* a failing exec: no exec'd program */
        return;
    char par[160];
    v_decl(NULL, "report exe=victim-exec_target inherited=exact");
#define PARENT(fn_, via_)                                                                    \
    (reported ? (snprintf(par, sizeof par, "parent.function=%s parent.via=%s parent.pid=%ld|%ld", \
                          fn_, via_, main_pid, me),                                          \
                 par)                                                                        \
              : "")
    v_decl(NULL, "inherited %d pipe pipe: %s", p[0], PARENT("leak_pipe", "pipe"));
    v_decl(NULL, "inherited %d pipe pipe: %s", p[1], PARENT("leak_pipe", "pipe"));
    v_decl(NULL, "inherited %d socket tcp&listen %s", lsn, PARENT("leak_listener", "socket"));
    v_decl(NULL, "inherited %d file exec.dat %s", unmarked, PARENT("leak_unmarked_later", "open"));
    snprintf(par, sizeof par, "parent.function=child_open_eventfd parent.via=eventfd "
                              "parent.pid=%ld", me);
    v_decl(NULL, "inherited %d eventfd - %s", ev, reported ? par : "");
#undef PARENT
}

static char **target_args(const char *argv0)
{
    static char *args[6];
    args[0] = (char *)argv0;
    args[1] = "--open";
    args[2] = open_list;
    args[3] = "--closed";
    args[4] = closed_list;
    args[5] = NULL;
    return args;
}

VICTIM_FN void exec_with_execve(int ev)
{
    declare_exec(__func__, ev);
    execve(target, target_args(target), environ);
}

VICTIM_FN void exec_with_execv(int ev)
{
    declare_exec(__func__, ev);
    execv(target, target_args(target));
}

VICTIM_FN void exec_with_execvp(int ev)
{
    declare_exec(__func__, ev);
    execvp("victim-exec_target", target_args("victim-exec_target"));
}

VICTIM_FN void exec_with_execvpe(int ev)
{
    declare_exec(__func__, ev);
    execvpe("victim-exec_target", target_args("victim-exec_target"), environ);
}

VICTIM_FN void exec_with_execl(int ev)
{
    declare_exec(__func__, ev);
    execl(target, "victim-exec_target", "--open", open_list, "--closed", closed_list,
          (char *)NULL);
}

VICTIM_FN void exec_with_execlp(int ev)
{
    declare_exec(__func__, ev);
    execlp("victim-exec_target", "victim-exec_target", "--open", open_list, "--closed",
           closed_list, (char *)NULL);
}

VICTIM_FN void exec_with_execle(int ev)
{
    declare_exec(__func__, ev);
    execle(target, "victim-exec_target", "--open", open_list, "--closed", closed_list,
           (char *)NULL, environ);
}

VICTIM_FN void exec_with_fexecve(int ev)
{
    int fd = open(target, O_RDONLY | O_CLOEXEC);
    V_CHECK(fd >= 0);
    declare_exec(__func__, ev);
    fexecve(fd, target_args("victim-exec_target"), environ);
}

typedef void (*exec_fn)(int);
static const exec_fn variants[] = {
    exec_with_execve, exec_with_execv, exec_with_execvp, exec_with_execvpe,
    exec_with_execl, exec_with_execlp, exec_with_execle, exec_with_fexecve,
};

static void child_execs(exec_fn fn)
{
    v_child_begin();
    int ev = child_open_eventfd();
    snprintf(open_list, sizeof open_list, "%d,%d,%d,%d,%d", p[0], p[1], lsn, unmarked, ev);
    snprintf(closed_list, sizeof closed_list, "%d,%d", cx, marked);
    fn(ev);
    fprintf(stderr, "victim: exec failed: %s\n", strerror(errno));
    _exit(127);
}

/* Everything marked close-on-exec by a range call: no crossing, nothing inherited. Whether an
 * exec report without errors is written at all is not specified: optional, but if there is
 * one it must list no error. */
VICTIM_FN void exec_after_cloexec_range(void)
{
    V_CHECK(close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0);
    snprintf(open_list, sizeof open_list, "0,1,2");
    snprintf(closed_list, sizeof closed_list, "%d,%d,%d,%d,%d,%d", p[0], p[1], lsn, unmarked,
             cx, marked);
    v_decl("exec", "report leaks=any optional");
    v_decl(NULL, "report exe=victim-exec_target inherited=exact");
    execv(target, target_args(target));
}

static void child_cloexec_range(void)
{
    v_child_begin();
    exec_after_cloexec_range();
    fprintf(stderr, "victim: exec failed: %s\n", strerror(errno));
    _exit(127);
}

static void still_open(void)
{
    int fds[] = {p[0], p[1], lsn, unmarked, cx, marked};
    for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
        V_CHECK(fcntl(fds[i], F_GETFD) >= 0);
}

/* A failing PATH search: execvp tries every directory and returns ENOENT. */
VICTIM_FN void execvp_fails(void)
{
    declare_exec(__func__, -1);
    char *args[] = {"fdleak-no-such-program", NULL};
    int r = execvp("fdleak-no-such-program", args);
    V_CHECK(r == -1 && errno == ENOENT);
}

static void child_exec_fails(void)
{
    v_child_begin();
    v_decl(NULL, "report");
    v_decl(NULL, "inherited %d pipe pipe: site=leak_pipe via=pipe", p[0]);
    v_decl(NULL, "inherited %d socket tcp&listen site=leak_listener via=socket", lsn);
    v_decl(NULL, "inherited %d file exec.dat site=leak_unmarked_later via=open cloexec=0",
           unmarked);
    execvp_fails();
    still_open();
    exit(v_finish());
}

VICTIM_FN void exec_fails_in_main(void)
{
    declare_exec(__func__, -1);
    char *args[] = {"victim-exec_target", NULL};
    int r = execv("/nonexistent-fdleak-dir/victim-exec_target", args);
    V_CHECK(r == -1 && errno == ENOENT);
}

int main(void)
{
    v_begin();
    const char *mode = getenv("FDLEAK_EXEC");
    reported = !(mode && !strcmp(mode, "ignore"));
    main_pid = (long)getpid();
    ssize_t n = readlink("/proc/self/exe", target_dir, sizeof target_dir - 64);
    V_CHECK(n > 0);
    target_dir[n] = '\0';
    *strrchr(target_dir, '/') = '\0';
    snprintf(target, sizeof target, "%s/victim-exec_target", target_dir);
    V_CHECK(access(target, X_OK) == 0);
    char newpath[PATH_MAX + 32];
    snprintf(newpath, sizeof newpath, "%s:/usr/bin:/bin", target_dir);
    V_CHECK(setenv("PATH", newpath, 1) == 0);
    path = v_make_file("exec.dat");

    leak_pipe(p);
    lsn = leak_listener();
    cx = leak_cloexec_file();
    marked = leak_marked_later();
    unmarked = leak_unmarked_later();

    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        pid_t c = v_fork();
        if (c == 0)
            child_execs(variants[i]);
        v_wait_ok(c, 30);
    }
    pid_t c = v_fork();
    if (c == 0)
        child_cloexec_range();
    v_wait_ok(c, 30);
    c = v_fork();
    if (c == 0)
        child_exec_fails();
    v_wait_ok(c, 30);

    exec_fails_in_main();
    still_open();
    return v_finish();
}
