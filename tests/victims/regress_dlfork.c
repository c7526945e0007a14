/* regress: libraries dlopen()ed before fork; the child dlclose()s one and then opens a
 * descriptor through the other. The child must exit 0 (not crash). argv: plug.so opener.so */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    void *z = dlopen(argv[1], RTLD_NOW), *o = dlopen(argv[2], RTLD_NOW);
    if (!z || !o)
        return printf("dlopen failed: %s\n", dlerror()), 2;
    int (*opener)(void);
    *(void **)&opener = dlsym(o, "regress_opener");
    if (!opener)
        return 2;
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        alarm(10);
        if (dlclose(z))
            _exit(5);
        int fd = opener();
        _exit(fd >= 0 ? 0 : 6);
    }
    if (p < 0)
        return 2;
    int st = 0;
    if (waitpid(p, &st, 0) != p)
        return 2;
    if (WIFSIGNALED(st))
        return printf("child killed by signal %d, expected exit 0\n", WTERMSIG(st)), 1;
    printf("child exit %d (expected 0)\n", WEXITSTATUS(st));
    return WEXITSTATUS(st) ? 1 : 0;
}
