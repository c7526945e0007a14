/* vfork: children that share the parent's memory (vfork, as CPython >= 3.10 uses to start
 * subprocesses) call close/dup2/close_range through libc before _exit or exec. They work on
 * their own descriptor table but on the parent's memory, so fdleak must not let them rewrite
 * the parent's records. A fork()ed child and a posix_spawn with file actions do the same
 * harmlessly. The parent's report must list exactly its own leaks, with the parent's sites. */
#include "victim.h"

#include <linux/close_range.h>
#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

static char *path;

VICTIM_FN int leak_file(void)
{
    int fd = open(path, O_RDONLY);
    V_CHECK(fd >= 0);
    V_LEAK(fd, "file", "vfork.dat", "open", 0);
    return fd;
}

VICTIM_FN void leak_pipe(int p[2])
{
    V_CHECK(pipe(p) == 0);
    V_LEAK(p[0], "pipe", "pipe:", "pipe", 0);
    V_LEAK(p[1], "pipe", "pipe:", "pipe", 0);
}

static void wait_ok(pid_t pid)
{
    int st;
    V_CHECK(pid > 0);
    V_CHECK(waitpid(pid, &st, 0) == pid);
    V_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The child closes and re-creates numbers that are live leaks in the parent, then _exits. */
VICTIM_FN void vfork_child_rewires(int a, int p[2])
{
    pid_t pid = vfork();
    if (pid == 0) {
        if (close(a) != 0 || dup2(p[0], a) != a || close(p[1]) != 0 ||
            close_range((unsigned)p[0], (unsigned)p[0], 0) != 0)
            _exit(1);
        int n = open("/dev/null", O_RDONLY); /* gets p[1]'s number, in the child only */
        if (n < 0)
            _exit(1);
        _exit(0);
    }
    wait_ok(pid);
}

/* The child redirects like a shell would and execs (fdleak is preloaded into the new image
 * too; its report is the child's own). */
VICTIM_FN void vfork_child_execs(int a, int p[2])
{
    pid_t pid = vfork();
    if (pid == 0) {
        if (dup2(a, 0) != 0 || close(a) != 0 || close(p[0]) != 0 || close(p[1]) != 0)
            _exit(1);
        execl("/bin/true", "true", (char *)NULL);
        _exit(1);
    }
    wait_ok(pid);
}

VICTIM_FN void fork_child_closes(int a, int p[2])
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (close(a) != 0 || close(p[0]) != 0 || dup2(p[1], a) != a)
            _exit(1);
        _exit(0);
    }
    wait_ok(pid);
}

VICTIM_FN void spawn_with_file_actions(int a, int p[2])
{
    posix_spawn_file_actions_t fa;
    V_CHECK(posix_spawn_file_actions_init(&fa) == 0);
    V_CHECK(posix_spawn_file_actions_addclose(&fa, a) == 0);
    V_CHECK(posix_spawn_file_actions_adddup2(&fa, p[0], 0) == 0);
    V_CHECK(posix_spawn_file_actions_addclose(&fa, p[1]) == 0);
    pid_t pid;
    char *argv[] = {"true", NULL};
    V_CHECK(posix_spawn(&pid, "/bin/true", &fa, NULL, argv, environ) == 0);
    V_CHECK(posix_spawn_file_actions_destroy(&fa) == 0);
    wait_ok(pid);
}

int main(void)
{
    v_begin();
    path = v_make_file("vfork.dat");
    int a = leak_file();
    int p[2];
    leak_pipe(p);
    vfork_child_rewires(a, p);
    vfork_child_execs(a, p);
    fork_child_closes(a, p);
    spawn_with_file_actions(a, p);
    /* the parent still creates and releases normally afterwards */
    int x = open(path, O_RDONLY);
    V_CHECK(x >= 0 && close(x) == 0);
    return v_finish();
}
